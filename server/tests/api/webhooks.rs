//! Outbound webhooks against a real receiver on loopback. Delivery is driven by calling the
//! worker's `tick` and moving the server's clock, never by sleeping.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{Account, Backend, TestApp, spawn_app};

/// A webhook receiver: records every request and answers with the scripted statuses, then 200.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    inner: Arc<Mutex<Recorded>>,
}

#[derive(Default)]
struct Recorded {
    requests: Vec<Received>,
    script: VecDeque<u16>,
}

#[derive(Clone, Debug)]
pub(crate) struct Received {
    headers: HeaderMap,
    body: String,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

impl Receiver {
    /// Starts one on 127.0.0.1; returns it and its URL.
    pub(crate) async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });
        (receiver, format!("http://{addr}/hook"))
    }

    fn answer_next(&self, statuses: &[u16]) {
        let mut r = self.inner.lock().expect("lock");
        r.script.extend(statuses);
    }

    pub(crate) fn requests(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").requests.clone()
    }
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, &'static str) {
    let mut r = r.inner.lock().expect("lock");
    r.requests.push(Received { headers, body });
    let status = r.script.pop_front().unwrap_or(200);
    (StatusCode::from_u16(status).expect("status"), "thanks")
}

/// The receiver's side of Standard Webhooks, written here from the spec: HMAC-SHA256 keyed with
/// the base64-decoded secret over `id.timestamp.body`, one of the space-separated `v1,`
/// signatures must match. Returns the parsed body.
#[track_caller]
pub(crate) fn verify(secret: &str, r: &Received) -> Value {
    let id = r.header("webhook-id");
    let timestamp = r.header("webhook-timestamp");
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{timestamp}.{}", r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let signatures = r.header("webhook-signature");
    assert!(
        signatures.split(' ').any(|s| s == expected),
        "no signature matches: {signatures}"
    );
    r.json()
}

pub(crate) async fn deliver(app: &TestApp) -> usize {
    let state = &app.server.as_ref().expect("running").state;
    neoforge_server::webhooks::delivery::tick(state)
        .await
        .expect("delivery tick")
}

async fn account_with_key(app: &TestApp, email: &str) -> (Account, String) {
    let account = app.signup(email).await;
    let (_, key) = app
        .create_key(&account.session, json!({"name": "k"}), false)
        .await;
    (account, key)
}

/// Creates an endpoint; returns (id, secret).
async fn endpoint(app: &TestApp, key: &str, url: &str, events: Value) -> (String, String) {
    let r = app
        .post(
            "/v1/webhook_endpoints",
            key,
            json!({"url": url, "enabled_events": events}),
        )
        .await;
    let b = r.expect(201);
    assert_eq!(b["status"], "enabled");
    (
        b["id"].as_str().expect("id").to_owned(),
        b["secret"].as_str().expect("secret").to_owned(),
    )
}

async fn customer(app: &TestApp, key: &str, name: &str) -> String {
    let r = app.post("/v1/customers", key, json!({"name": name})).await;
    r.expect(201)["id"].as_str().expect("id").to_owned()
}

fn str_of(v: &Value) -> &str {
    v.as_str().expect("string")
}

async fn signed_deliveries_verify_and_respect_filters(b: Backend) {
    let app = spawn_app(b).await;
    let (_, key) = account_with_key(&app, "a@example.com").await;
    let (customers, customers_url) = Receiver::start().await;
    let (invoices, invoices_url) = Receiver::start().await;
    let (ep, secret) = endpoint(&app, &key, &customers_url, json!(["customer.created"])).await;
    endpoint(&app, &key, &invoices_url, json!(["invoice.*"])).await;

    let cus = customer(&app, &key, "Globex").await;
    assert_eq!(deliver(&app).await, 1);
    assert_eq!(deliver(&app).await, 0, "delivered once");
    let got = customers.requests();
    assert_eq!(got.len(), 1);
    let body = verify(&secret, &got[0]);
    assert_eq!(body["type"], "customer.created");
    assert_eq!(body["livemode"], false);
    assert_eq!(body["data"]["id"], cus.as_str());
    assert_eq!(body["data"]["name"], "Globex");
    assert_eq!(got[0].header("webhook-id"), str_of(&body["id"]));
    assert!(str_of(&body["id"]).starts_with("evt_"));
    assert!(str_of(&body["created_at"]).ends_with('Z'));
    assert_eq!(got[0].header("content-type"), "application/json");
    let ts: i64 = got[0]
        .header("webhook-timestamp")
        .parse()
        .expect("unix seconds");
    assert!((ts - app.clock().now_ms() / 1000).abs() < 300);
    assert!(invoices.requests().is_empty(), "filtered out");

    // An update is an event too, but this endpoint only wants creations.
    app.post(
        &format!("/v1/customers/{cus}"),
        &key,
        json!({"name": "Globex AG"}),
    )
    .await
    .expect(200);
    assert_eq!(deliver(&app).await, 0);
    assert_eq!(customers.requests().len(), 1);

    // The events API shows both, filterable by type, and each one alone.
    let all = app.get("/v1/webhook_events", &key).await;
    let all = all.expect(200)["data"].as_array().expect("data").clone();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["type"], "customer.updated");
    assert_eq!(all[0]["data"]["name"], "Globex AG");
    let updated = app
        .get("/v1/webhook_events?type=customer.updated", &key)
        .await;
    assert_eq!(
        updated.expect(200)["data"].as_array().expect("data").len(),
        1
    );
    let one = app
        .get(&format!("/v1/webhook_events/{}", str_of(&body["id"])), &key)
        .await;
    assert_eq!(one.expect(200)["data"]["id"], cus.as_str());

    // The secret is shown once; reads mask it.
    let shown = app.get(&format!("/v1/webhook_endpoints/{ep}"), &key).await;
    let shown = str_of(&shown.expect(200)["secret"]).to_owned();
    assert_ne!(shown, secret);
    assert!(shown.starts_with("whsec_…") && secret.ends_with(&shown["whsec_…".len()..]));
    let list = app.get("/v1/webhook_endpoints", &key).await;
    assert_eq!(list.expect(200)["data"].as_array().expect("data").len(), 2);

    // After a rotation, deliveries carry signatures by the new and, for a day, the old secret.
    let rotated = app
        .post(
            &format!("/v1/webhook_endpoints/{ep}/rotate_secret"),
            &key,
            json!({}),
        )
        .await;
    let new_secret = str_of(&rotated.expect(200)["secret"]).to_owned();
    assert_ne!(new_secret, secret);
    customer(&app, &key, "Initech").await;
    assert_eq!(deliver(&app).await, 1);
    let last = customers.requests().pop().expect("delivered");
    verify(&new_secret, &last);
    verify(&secret, &last);
    assert_eq!(last.header("webhook-signature").split(' ').count(), 2);

    // Deleting the endpoint removes it.
    let del = app
        .call(
            Method::DELETE,
            &format!("/v1/webhook_endpoints/{ep}"),
            Some(&key),
            None,
        )
        .await;
    del.expect(204);
    app.get(&format!("/v1/webhook_endpoints/{ep}"), &key)
        .await
        .expect_problem(404, "resource_not_found");
    app.stop().await;
}

async fn failures_are_retried_on_the_backoff_schedule(b: Backend) {
    let app = spawn_app(b).await;
    let (_, key) = account_with_key(&app, "a@example.com").await;
    let (receiver, url) = Receiver::start().await;
    receiver.answer_next(&[500, 500, 503]);
    let (ep, secret) = endpoint(&app, &key, &url, json!(["*"])).await;
    customer(&app, &key, "Globex").await;

    assert_eq!(deliver(&app).await, 1, "first attempt fails");
    assert_eq!(deliver(&app).await, 0, "not due before 5 s");
    app.clock().advance(Duration::from_secs(5));
    assert_eq!(deliver(&app).await, 1, "second attempt after 5 s fails");
    app.clock().advance(Duration::from_secs(120));
    assert_eq!(deliver(&app).await, 0, "third attempt waits 5 min");
    app.clock().advance(Duration::from_secs(180));
    assert_eq!(deliver(&app).await, 1, "third attempt fails");
    app.clock().advance(Duration::from_secs(30 * 60));
    assert_eq!(
        deliver(&app).await,
        1,
        "fourth attempt after 30 min succeeds"
    );
    app.clock().advance(Duration::from_secs(3 * 3600));
    assert_eq!(deliver(&app).await, 0, "no attempts after success");

    let got = receiver.requests();
    assert_eq!(got.len(), 4);
    let id = got[0].header("webhook-id").to_owned();
    for r in &got {
        assert_eq!(r.header("webhook-id"), id, "the same id on every retry");
        verify(&secret, r);
    }
    let timestamps: Vec<i64> = got
        .iter()
        .map(|r| r.header("webhook-timestamp").parse().expect("seconds"))
        .collect();
    assert!(
        timestamps.windows(2).all(|w| w[0] < w[1]),
        "fresh timestamps"
    );

    let attempts = app
        .get(&format!("/v1/webhook_endpoints/{ep}/attempts"), &key)
        .await;
    let attempts = attempts.expect(200)["data"]
        .as_array()
        .expect("data")
        .clone();
    assert_eq!(attempts.len(), 4);
    assert_eq!(attempts[0]["succeeded"], true);
    assert_eq!(attempts[0]["status_code"], 200);
    assert_eq!(attempts[0]["response_body"], "thanks");
    assert_eq!(attempts[0]["error"], Value::Null);
    assert_eq!(attempts[3]["succeeded"], false);
    assert_eq!(attempts[3]["status_code"], 500);
    assert_eq!(attempts[3]["error"], "HTTP 500");
    assert_eq!(attempts[1]["status_code"], 503);
    for a in &attempts {
        assert_eq!(a["event"], id.as_str());
        assert_eq!(a["endpoint"], ep.as_str());
        assert!(a["duration_ms"].as_i64().expect("ms") >= 0);
    }
    let page = app
        .get(
            &format!("/v1/webhook_endpoints/{ep}/attempts?limit=3"),
            &key,
        )
        .await;
    let page = page.expect(200);
    assert_eq!(page["has_more"], true);
    let rest = app
        .get(
            &format!(
                "/v1/webhook_endpoints/{ep}/attempts?starting_after={}",
                str_of(&page["next_cursor"])
            ),
            &key,
        )
        .await;
    assert_eq!(rest.expect(200)["data"].as_array().expect("data").len(), 1);
    let other_event = app
        .get(
            &format!(
                "/v1/webhook_endpoints/{ep}/attempts?event=evt_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e"
            ),
            &key,
        )
        .await;
    assert_eq!(other_event.expect(200)["data"], json!([]));
    app.stop().await;
}

async fn replay_sends_again_with_the_same_id(b: Backend) {
    let app = spawn_app(b).await;
    let (_, key) = account_with_key(&app, "a@example.com").await;
    let (receiver, url) = Receiver::start().await;
    let (ep, secret) = endpoint(&app, &key, &url, json!(["customer.*"])).await;
    customer(&app, &key, "Globex").await;
    assert_eq!(deliver(&app).await, 1);
    let event = receiver.requests()[0].header("webhook-id").to_owned();

    let r = app
        .post(
            &format!("/v1/webhook_events/{event}/replay"),
            &key,
            json!({}),
        )
        .await;
    let b = r.expect(202);
    assert_eq!(b["event"], event.as_str());
    assert_eq!(b["endpoints"], json!([ep]));
    let r = app
        .post(
            &format!("/v1/webhook_events/{event}/replay"),
            &key,
            json!({"endpoint": ep}),
        )
        .await;
    r.expect(202);
    assert_eq!(deliver(&app).await, 2);
    let got = receiver.requests();
    assert_eq!(got.len(), 3);
    for r in &got {
        assert_eq!(r.header("webhook-id"), event);
        verify(&secret, r);
    }
    app.post(
        &format!("/v1/webhook_events/{event}/replay"),
        &key,
        json!({"endpoint": "we_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e"}),
    )
    .await
    .expect_problem(404, "resource_not_found");
    app.post(
        "/v1/webhook_events/evt_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e/replay",
        &key,
        json!({}),
    )
    .await
    .expect_problem(404, "resource_not_found");
    app.stop().await;
}

async fn sustained_failure_disables_the_endpoint(b: Backend) {
    let app = spawn_app(b).await;
    let (_, key) = account_with_key(&app, "a@example.com").await;
    let (failing, failing_url) = Receiver::start().await;
    failing.answer_next(&[500; 10]);
    let (watcher, watcher_url) = Receiver::start().await;
    let (ep, _) = endpoint(&app, &key, &failing_url, json!(["customer.created"])).await;
    let (_, watcher_secret) = endpoint(
        &app,
        &key,
        &watcher_url,
        json!(["webhook_endpoint.disabled"]),
    )
    .await;

    customer(&app, &key, "Globex").await;
    assert_eq!(deliver(&app).await, 1);
    let first_event = failing.requests()[0].header("webhook-id").to_owned();
    let schedule = [5, 300, 1800, 7200, 18_000, 36_000, 36_000, 86_400];
    for secs in schedule {
        app.clock().advance(Duration::from_secs(secs));
        assert_eq!(deliver(&app).await, 1, "retry after {secs} s");
    }
    app.clock().advance(Duration::from_secs(7 * 86_400));
    assert_eq!(deliver(&app).await, 0, "given up after nine attempts");
    let attempts = app
        .get(
            &format!("/v1/webhook_endpoints/{ep}/attempts?limit=100"),
            &key,
        )
        .await;
    assert_eq!(
        attempts.expect(200)["data"].as_array().expect("data").len(),
        9
    );
    // About 2.2 days of failures, then nothing: still enabled, until the next failure lands
    // more than five days after the first.
    let shown = app.get(&format!("/v1/webhook_endpoints/{ep}"), &key).await;
    assert_eq!(shown.expect(200)["status"], "enabled");

    customer(&app, &key, "Initech").await;
    assert_eq!(deliver(&app).await, 1);
    let shown = app.get(&format!("/v1/webhook_endpoints/{ep}"), &key).await;
    let shown = shown.expect(200);
    assert_eq!(shown["status"], "disabled");
    assert!(shown["disabled_reason"].as_str().is_some());

    // The other endpoint hears about it; the disabled one gets nothing more.
    assert_eq!(deliver(&app).await, 1);
    let told = watcher.requests();
    assert_eq!(told.len(), 1);
    let body = verify(&watcher_secret, &told[0]);
    assert_eq!(body["type"], "webhook_endpoint.disabled");
    assert_eq!(body["data"]["id"], ep.as_str());
    assert_eq!(body["data"]["status"], "disabled");
    assert!(
        str_of(&body["data"]["secret"]).starts_with("whsec_…"),
        "masked"
    );
    customer(&app, &key, "Umbrella").await;
    assert_eq!(deliver(&app).await, 0);
    app.post(
        &format!("/v1/webhook_events/{first_event}/replay"),
        &key,
        json!({"endpoint": ep}),
    )
    .await
    .expect_problem(409, "endpoint_disabled");

    // Re-enabled, a failed event can be replayed to it, and now it gets through.
    let r = app
        .post(
            &format!("/v1/webhook_endpoints/{ep}"),
            &key,
            json!({"status": "enabled"}),
        )
        .await;
    let r = r.expect(200);
    assert_eq!(r["status"], "enabled");
    assert_eq!(r["disabled_reason"], Value::Null);
    app.post(
        &format!("/v1/webhook_events/{first_event}/replay"),
        &key,
        json!({"endpoint": ep}),
    )
    .await
    .expect(202);
    assert_eq!(deliver(&app).await, 1);
    let last = failing.requests().pop().expect("request");
    assert_eq!(last.header("webhook-id"), first_event);
    let attempts = app
        .get(
            &format!("/v1/webhook_endpoints/{ep}/attempts?limit=1"),
            &key,
        )
        .await;
    assert_eq!(attempts.expect(200)["data"][0]["succeeded"], true);
    app.stop().await;
}

async fn bad_input_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    let (account, key) = account_with_key(&app, "a@example.com").await;
    let (_, live_key) = app
        .create_key(&account.session, json!({"name": "live"}), true)
        .await;
    for (body, field) in [
        (json!({"url": "not a url", "enabled_events": ["*"]}), "url"),
        (
            json!({"url": "ftp://example.com/x", "enabled_events": ["*"]}),
            "url",
        ),
        (json!({"url": "/relative", "enabled_events": ["*"]}), "url"),
        (
            json!({"url": "https://example.com/x", "enabled_events": []}),
            "enabled_events",
        ),
        (
            json!({"url": "https://example.com/x", "enabled_events": ["invoice.pai"]}),
            "enabled_events[0]",
        ),
        (
            json!({"url": "https://example.com/x", "enabled_events": ["*", "nothing.*"]}),
            "enabled_events[1]",
        ),
    ] {
        let r = app.post("/v1/webhook_endpoints", &key, body.clone()).await;
        r.expect_problem(400, "validation_error");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}");
    }
    app.post(
        "/v1/webhook_endpoints",
        &key,
        json!({"url": "https://example.com/x", "enabled_events": ["*"], "secret": "mine"}),
    )
    .await
    .expect_problem(400, "unknown_parameter");
    // Live mode wants https, and no private addresses.
    for url in ["http://example.com/x", "https://127.0.0.1/x"] {
        app.post(
            "/v1/webhook_endpoints",
            &live_key,
            json!({"url": url, "enabled_events": ["*"]}),
        )
        .await
        .expect_problem(400, "validation_error");
    }
    let (ep, _) = endpoint(&app, &key, "http://127.0.0.1:9/x", json!(["*"])).await;
    let path = format!("/v1/webhook_endpoints/{ep}");
    let r = app
        .post(
            &path,
            &key,
            json!({"description": " Ledger ", "url": "http://127.0.0.1:10/y"}),
        )
        .await;
    let r = r.expect(200);
    assert_eq!(r["description"], "Ledger");
    assert_eq!(r["url"], "http://127.0.0.1:10/y");
    let r = app.post(&path, &key, json!({"description": ""})).await;
    assert_eq!(r.expect(200)["description"], Value::Null);
    app.post(
        &format!("/v1/webhook_endpoints/{ep}"),
        &key,
        json!({"enabled_events": ["bogus"]}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.post(
        &format!("/v1/webhook_endpoints/{ep}"),
        &key,
        json!({"status": "paused"}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.get("/v1/webhook_events?type=bogus", &key)
        .await
        .expect_problem(400, "validation_error");
    app.get("/v1/webhook_endpoints/nope", &key)
        .await
        .expect_problem(400, "invalid_path_parameter");
    app.stop().await;
}

/// Another organization, and the other environment, get 404 for every id.
async fn endpoints_and_events_are_isolated(b: Backend) {
    let app = spawn_app(b).await;
    let (a, a_key) = account_with_key(&app, "a@example.com").await;
    let (_, a_live) = app
        .create_key(&a.session, json!({"name": "live"}), true)
        .await;
    let (_, b_key) = account_with_key(&app, "b@example.com").await;
    let (receiver, url) = Receiver::start().await;
    let (ep, _) = endpoint(&app, &a_key, &url, json!(["*"])).await;
    let (live_ep, _) = endpoint(&app, &a_live, "https://example.com/hook", json!(["*"])).await;
    customer(&app, &a_key, "Globex").await;
    assert_eq!(deliver(&app).await, 1);
    let event = receiver.requests()[0].header("webhook-id").to_owned();

    let reads = [
        format!("/v1/webhook_endpoints/{ep}"),
        format!("/v1/webhook_endpoints/{ep}/attempts"),
        format!("/v1/webhook_events/{event}"),
    ];
    let writes = [
        (
            Method::POST,
            format!("/v1/webhook_endpoints/{ep}"),
            json!({"description": "x"}),
        ),
        (
            Method::POST,
            format!("/v1/webhook_endpoints/{ep}/rotate_secret"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/v1/webhook_events/{event}/replay"),
            json!({}),
        ),
        (
            Method::DELETE,
            format!("/v1/webhook_endpoints/{ep}"),
            json!(null),
        ),
    ];
    // Org B in the sandbox, and org A's own live key, see none of A's sandbox objects.
    for who in [&b_key, &a_live] {
        for path in &reads {
            app.get(path, who)
                .await
                .expect_problem(404, "resource_not_found");
        }
        for (method, path, body) in &writes {
            let body = (!body.is_null()).then(|| body.clone());
            app.call(method.clone(), path, Some(who), body)
                .await
                .expect_problem(404, "resource_not_found");
        }
    }
    // A's test key sees neither B's nor its own live objects.
    app.get(&format!("/v1/webhook_endpoints/{live_ep}"), &a_key)
        .await
        .expect_problem(404, "resource_not_found");
    app.get(&format!("/v1/webhook_endpoints/{live_ep}/attempts"), &a_key)
        .await
        .expect_problem(404, "resource_not_found");
    app.post(
        &format!("/v1/webhook_events/{event}/replay"),
        &a_key,
        json!({"endpoint": live_ep}),
    )
    .await
    .expect_problem(404, "resource_not_found");
    let mine = app.get("/v1/webhook_endpoints", &a_key).await;
    let mine = mine.expect(200)["data"].as_array().expect("data").clone();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], ep.as_str());
    assert_eq!(mine[0]["livemode"], false);
    let live = app.get("/v1/webhook_endpoints", &a_live).await;
    let live = live.expect(200)["data"].as_array().expect("data").clone();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["livemode"], true);
    for who in [&b_key, &a_live] {
        let events = app.get("/v1/webhook_events", who).await;
        assert_eq!(events.expect(200)["data"], json!([]));
        let endpoints = app.get("/v1/webhook_endpoints", who).await;
        assert!(
            endpoints.expect(200)["data"]
                .as_array()
                .expect("data")
                .iter()
                .all(|e| e["id"] != ep.as_str())
        );
    }
    // Still there, untouched.
    app.get(&format!("/v1/webhook_endpoints/{ep}"), &a_key)
        .await
        .expect(200);
    app.stop().await;
}

/// The outbox is written in the caller's transaction: rolled back, nothing is ever sent.
async fn rolled_back_events_are_never_delivered(b: Backend) {
    let app = spawn_app(b).await;
    let (account, key) = account_with_key(&app, "a@example.com").await;
    let (receiver, url) = Receiver::start().await;
    endpoint(&app, &key, &url, json!(["*"])).await;
    let state = &app.server.as_ref().expect("running").state;
    let scope = neoforge_server::tenancy::Scope {
        org_id: domain::ids::OrgId::parse(&account.org_id).expect("org id"),
        env: neoforge_server::tenancy::Env::Test,
    };
    let now = app.clock().now_ms();

    let mut tx = state.db.write_scoped(&scope).await.expect("tx");
    neoforge_server::webhooks::emit(&mut tx, &scope, "invoice.paid", &json!({"n": 1}), now)
        .await
        .expect("emit");
    tx.rollback().await.expect("rollback");
    assert_eq!(deliver(&app).await, 0);
    app.clock().advance(Duration::from_secs(3 * 86_400));
    assert_eq!(deliver(&app).await, 0);
    assert!(receiver.requests().is_empty());
    let events = app.get("/v1/webhook_events", &key).await;
    assert_eq!(events.expect(200)["data"], json!([]));

    let mut tx = state.db.write_scoped(&scope).await.expect("tx");
    let id =
        neoforge_server::webhooks::emit(&mut tx, &scope, "invoice.paid", &json!({"n": 2}), now)
            .await
            .expect("emit");
    tx.commit().await.expect("commit");
    assert_eq!(deliver(&app).await, 1);
    let got = receiver.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("webhook-id"), id);
    assert_eq!(got[0].json()["data"], json!({"n": 2}));
    app.stop().await;
}

crate::on_both_backends!(
    signed_deliveries_verify_and_respect_filters,
    failures_are_retried_on_the_backoff_schedule,
    replay_sends_again_with_the_same_id,
    sustained_failure_disables_the_endpoint,
    bad_input_is_refused,
    endpoints_and_events_are_isolated,
    rolled_back_events_are_never_delivered,
);

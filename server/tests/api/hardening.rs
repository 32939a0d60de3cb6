//! What an attacker or a fuzzer tried from outside, each refused at its root: outbound calls
//! to internal addresses (written in any form, or behind a name that resolves inward), times
//! that make billing loop, secrets resting in the idempotency table, values past the meters'
//! range, lenient JSON, and DNS that never answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, spawn_app, spawn_app_configured};
use crate::sso::dns;

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// A TCP listener on loopback that counts the connections it is offered.
async fn witness() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, seen)
}

/// Live mode refuses internal addresses however they are written; the sandbox accepts them.
async fn internal_addresses_are_refused_in_live(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let (live, test) = app.live_and_test_keys(&ada.session).await;
    for url in [
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:169.254.169.254]/latest/meta-data",
        "https://[::ffff:10.0.0.1]/hook",
        "https://[64:ff9b::7f00:1]/hook",
        "https://[::127.0.0.1]/hook",
        "https://[2002:7f00:1::1]/hook",
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",
        "https://[fd00::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::]/hook",
        "https://100.64.0.1/hook",
        "https://192.0.2.1/hook",
        "https://0x7f.1/hook",
        "https://2130706433/hook",
        "https://224.0.0.1/hook",
    ] {
        let body = json!({"url": url, "enabled_events": ["*"]});
        let r = app.post("/v1/webhook_endpoints", &live, body.clone()).await;
        r.expect_problem(400, "validation_error");
        assert_eq!(r.body["errors"][0]["field"], "url", "{url}");
        let sandbox = app.post("/v1/webhook_endpoints", &test, body).await;
        sandbox.expect(201);
    }
    app.post(
        "/v1/webhook_endpoints",
        &live,
        json!({"url": "https://[2606:4700:4700::1111]/hook", "enabled_events": ["*"]}),
    )
    .await
    .expect(201);
    app.stop().await;
}

/// A name that resolves to loopback passes the URL check but is refused where it resolves,
/// for identity providers and webhook deliveries alike; nothing connects.
async fn names_resolving_inward_are_refused_at_connect_time(b: Backend) {
    let dns = dns().await;
    let (port, seen) = witness().await;
    dns.publish("rebind.test", "127.0.0.1");
    dns.publish("rebind6.test", "::1");
    let app = crate::sso::spawn(b, Some(&dns)).await;
    let ada = app.signup("ada@example.com").await;
    let (_, live) = app
        .create_key(&ada.session, json!({"name": "l"}), true)
        .await;
    for host in ["rebind.test", "rebind6.test"] {
        let r = app
            .post(
                "/v1/sso/connections",
                &live,
                json!({"name": "IdP", "kind": "oidc", "oidc": {
                    "issuer": format!("https://{host}:{port}"),
                    "client_id": "x", "client_secret": "y"}}),
            )
            .await;
        r.expect_problem(422, "oidc_discovery_failed");
        let detail = r.body["detail"].as_str().expect("detail");
        assert!(detail.contains("not a public address"), "{detail}");
    }
    let endpoint = app
        .post(
            "/v1/webhook_endpoints",
            &live,
            json!({"url": format!("https://rebind.test:{port}/hook"), "enabled_events": ["*"]}),
        )
        .await;
    let endpoint = id(endpoint.expect(201));
    app.post(
        &format!("/v1/webhook_endpoints/{endpoint}"),
        &live,
        json!({"description": "changed"}),
    )
    .await
    .expect(200);
    app.post("/v1/customers", &live, json!({"email": "c@example.com"}))
        .await
        .expect(201);
    assert!(crate::webhooks::deliver(&app).await >= 1);
    let attempts = app
        .get(&format!("/v1/webhook_endpoints/{endpoint}/attempts"), &live)
        .await;
    let attempt = &attempts.expect(200)["data"][0];
    assert!(attempt["status_code"].is_null(), "{attempt}");
    let error = attempt["error"].as_str().expect("error");
    assert!(error.contains("not a public address"), "{error}");
    assert_eq!(seen.load(Ordering::SeqCst), 0, "something connected");
    app.stop().await;
}

/// Times outside the documented range are refused where they enter; a test clock that would
/// do more than one advance's worth of billing stops, with its clock where the work reached.
async fn billing_time_is_bounded(b: Backend) {
    let app = spawn_app(b).await;
    let s = app.signup("ada@example.com").await.session;
    for t in [
        "9999-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
    ] {
        let r = app
            .post(
                "/v1/test_clocks",
                &s,
                json!({"name": "c", "frozen_time": t}),
            )
            .await;
        r.expect_problem(400, "validation_error");
        assert!(r.body["detail"].as_str().expect("detail").contains("2200"));
    }
    let clock = app
        .post(
            "/v1/test_clocks",
            &s,
            json!({"name": "c", "frozen_time": "2199-12-31T23:59:00Z"}),
        )
        .await;
    let clock = id(clock.expect(201));
    app.post(
        &format!("/v1/test_clocks/{clock}/advance"),
        &s,
        json!({"frozen_time": "9999-12-31T23:59:59Z"}),
    )
    .await
    .expect_problem(400, "validation_error");

    // A daily plan from 2027, advanced ten years: 3,650 renewals, more than one advance does.
    let clock = app
        .post(
            "/v1/test_clocks",
            &s,
            json!({"name": "d", "frozen_time": "2027-01-01T00:00:00Z"}),
        )
        .await;
    let clock = id(clock.expect(201));
    let product = id(app
        .post("/v1/products", &s, json!({"name": "P"}))
        .await
        .expect(201));
    let price = app
        .post(
            "/v1/prices",
            &s,
            json!({"product": product, "currency": "usd", "model": "flat", "unit_amount": 100,
                "recurring": {"interval": "day"}}),
        )
        .await;
    let price = id(price.expect(201));
    let customer = app
        .post(
            "/v1/customers",
            &s,
            json!({"test_clock": clock, "default_payment_method": "pm_card_visa"}),
        )
        .await;
    let customer = id(customer.expect(201));
    app.post(
        "/v1/subscriptions",
        &s,
        json!({"customer": customer, "items": [{"price": price}]}),
    )
    .await
    .expect(201);
    let r = app
        .post(
            &format!("/v1/test_clocks/{clock}/advance"),
            &s,
            json!({"frozen_time": "2037-01-01T00:00:00Z"}),
        )
        .await;
    r.expect_problem(422, "test_clock_advance_too_long");
    let stopped = app.get(&format!("/v1/test_clocks/{clock}"), &s).await;
    let stopped = stopped.expect(200)["frozen_time"]
        .as_str()
        .expect("time")
        .to_owned();
    assert!(
        stopped.as_str() > "2027-01-02" && stopped.as_str() < "2037-01-01",
        "{stopped}"
    );
    // What it did is billed up to where it stopped: one invoice a day.
    let invoices = app
        .get(&format!("/v1/invoices?customer={customer}&limit=1"), &s)
        .await;
    let newest = invoices.expect(200)["data"][0]["period_start"]
        .as_str()
        .expect("period")
        .to_owned();
    assert!(
        newest.as_str() <= stopped.as_str(),
        "{newest} after {stopped}"
    );
    app.stop().await;
}

/// Responses that carry secrets are replayed, but never rest readable in the table.
async fn idempotent_replays_keep_no_secret(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let key_once = app
        .call_with(
            Method::POST,
            "/v1/api_keys",
            Some(&ada.session),
            Some(json!({"name": "ci"})),
            &[("Idempotency-Key", "key-1")],
        )
        .await;
    let secret = key_once.expect(201)["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let login = json!({"email": "ada@example.com", "password": "correct horse battery"});
    let session_once = app
        .call_with(
            Method::POST,
            "/v1/sessions",
            None,
            Some(login.clone()),
            &[("Idempotency-Key", "login-1")],
        )
        .await;
    let token = session_once.expect(201)["session"]["token"]
        .as_str()
        .expect("token")
        .to_owned();

    let db = &app.server.as_ref().expect("running").state.db;
    let bodies: Vec<Option<String>> = sqlx::query_scalar("SELECT body FROM idempotency_keys")
        .fetch_all(db.writer())
        .await
        .expect("rows");
    assert_eq!(bodies.len(), 2);
    for body in bodies.iter().flatten() {
        assert!(!body.contains(&secret) && !body.contains(&token), "{body}");
        assert!(
            !body.contains("nf_test_") && !body.contains("nf_sess_"),
            "{body}"
        );
    }

    let key_again = app
        .call_with(
            Method::POST,
            "/v1/api_keys",
            Some(&ada.session),
            Some(json!({"name": "ci"})),
            &[("Idempotency-Key", "key-1")],
        )
        .await;
    assert_eq!(key_again.header("idempotent-replayed"), Some("true"));
    assert_eq!(key_again.expect(201)["secret"], secret.as_str());
    let session_again = app
        .call_with(
            Method::POST,
            "/v1/sessions",
            None,
            Some(login),
            &[("Idempotency-Key", "login-1")],
        )
        .await;
    assert_eq!(
        session_again.expect(201)["session"]["token"],
        token.as_str()
    );
    // Another credential with the same key is another request, not a replay.
    let (_, other) = app
        .create_key(&ada.session, json!({"name": "o"}), false)
        .await;
    let fresh = app
        .call_with(
            Method::POST,
            "/v1/api_keys",
            Some(&other),
            Some(json!({"name": "ci"})),
            &[("Idempotency-Key", "key-1")],
        )
        .await;
    assert_ne!(fresh.expect(201)["secret"], secret.as_str());
    app.stop().await;
}

/// A value past a meter's range is that event's `invalid_value`, never a 5xx.
async fn usage_values_out_of_range_are_per_event_errors(b: Backend) {
    let app = spawn_app(b).await;
    let s = app.signup("ada@example.com").await.session;
    app.post(
        "/v1/meters",
        &s,
        json!({"name": "Bytes", "event_type": "upload", "aggregation": "sum", "value_property": "bytes"}),
    )
    .await
    .expect(201);
    let customer = id(app
        .post("/v1/customers", &s, json!({"email": "c@example.com"}))
        .await
        .expect(201));
    let event = |id: &str, bytes: Value| json!({"id": id, "type": "upload", "customer": customer, "properties": {"bytes": bytes}});
    let r = app
        .post(
            "/v1/events/batch",
            &s,
            json!({"events": [
                event("e1", json!(1e27)),
                event("e2", json!("-1000000000000001")),
                event("e3", json!(5)),
            ]}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let errors = r.body["errors"].as_array().expect("errors");
    let refused: Vec<(&Value, &Value)> = errors.iter().map(|e| (&e["index"], &e["code"])).collect();
    assert_eq!(
        refused,
        [
            (&json!(0), &json!("invalid_value")),
            (&json!(1), &json!("invalid_value"))
        ],
        "{}",
        r.body
    );
    let one = app.post("/v1/events", &s, event("e4", json!(1e27))).await;
    assert!(one.status.is_client_error(), "{}", one.body);
    app.stop().await;
}

/// A body is one JSON object, nothing after it; arrays are never objects, at any depth.
async fn json_bodies_are_parsed_strictly(b: Backend) {
    let app = spawn_app(b).await;
    let s = app.signup("ada@example.com").await.session;
    let meter = app
        .post(
            "/v1/meters",
            &s,
            json!({"name": "Calls", "event_type": "call", "aggregation": "count"}),
        )
        .await;
    let meter = id(meter.expect(201));
    let raw = |path: String, body: &'static str| {
        let req = app
            .client
            .post(app.url(&path))
            .bearer_auth(&s)
            .header("content-type", "application/json")
            .body(body);
        async move { crate::helpers::read(req.send().await.expect("sent")).await }
    };
    raw("/v1/products".into(), r#"{"name":"x"} x"#)
        .await
        .expect_problem(400, "malformed_json");
    raw("/v1/products".into(), r#"{"name":"x"}{"name":"y"}"#)
        .await
        .expect_problem(400, "malformed_json");
    raw(format!("/v1/meters/{meter}"), "[null, null]")
        .await
        .expect_problem(400, "validation_error");
    raw("/v1/products".into(), r#"["x"]"#)
        .await
        .expect_problem(400, "validation_error");
    raw(
        "/v1/meters".into(),
        r#"{"name":"m","event_type":"e","aggregation":"count","filters":[["p","eq","v"]]}"#,
    )
    .await
    .expect_problem(400, "validation_error");
    let products = app.get("/v1/products", &s).await;
    assert_eq!(products.expect(200)["data"], json!([]));
    // Trailing whitespace is still fine.
    raw("/v1/products".into(), "{\"name\":\"x\"}\n  ")
        .await
        .expect(201);
    app.stop().await;
}

/// A DNS server that never answers makes verification fail with a clear error, bounded in
/// time, instead of holding the request.
async fn silent_dns_fails_cleanly(b: Backend) {
    // Bound but never read: queries go unanswered.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let tcp = std::net::TcpListener::bind(silent.local_addr().expect("addr")).expect("tcp");
    let addr = silent.local_addr().expect("addr");
    let app = spawn_app_configured(b, move |args| args.dns_server = Some(addr)).await;
    let s = app.signup("ada@example.com").await.session;
    let domain = app
        .post("/v1/sso/domains", &s, json!({"domain": "slow.test"}))
        .await;
    let domain = id(domain.expect(201));
    let r = app
        .post(&format!("/v1/sso/domains/{domain}/verify"), &s, json!({}))
        .await;
    r.expect_problem(422, "domain_verification_failed");
    let detail = r.body["detail"].as_str().expect("detail");
    assert!(detail.contains("no answer within 5 s"), "{detail}");
    drop((silent, tcp));
    app.stop().await;
}

crate::on_both_backends!(
    billing_time_is_bounded,
    idempotent_replays_keep_no_secret,
    usage_values_out_of_range_are_per_event_errors,
);
crate::on_sqlite_only!(
    internal_addresses_are_refused_in_live,
    names_resolving_inward_are_refused_at_connect_time,
    json_bodies_are_parsed_strictly,
    silent_dns_fails_cleanly,
);

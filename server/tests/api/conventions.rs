//! API-wide conventions: idempotent POSTs (also under concurrency), cursor pagination,
//! request ids, and malformed input that never breaks a route.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, read, spawn_app, spawn_app_injecting_faults};

async fn idempotent_posts_replay(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let key = [("Idempotency-Key", "create-deploy-key")];
    let first = app
        .call_with(
            Method::POST,
            "/v1/api_keys",
            Some(&ada.session),
            Some(json!({"name": "deploy"})),
            &key,
        )
        .await;
    let again = app
        .call_with(
            Method::POST,
            "/v1/api_keys",
            Some(&ada.session),
            Some(json!({"name": "deploy"})),
            &key,
        )
        .await;
    assert_eq!(
        first.expect(201),
        again.expect(201),
        "a replay returns the first response"
    );
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
    let list = app.get("/v1/api_keys", &ada.session).await;
    assert_eq!(
        list.expect(200)["data"].as_array().map(Vec::len),
        Some(1),
        "the replay created nothing"
    );

    app.call_with(
        Method::POST,
        "/v1/api_keys",
        Some(&ada.session),
        Some(json!({"name": "other"})),
        &key,
    )
    .await
    .expect_problem(422, "idempotency_key_reused");
    // Keys belong to a credential: another caller may use the same key.
    let bob = app.signup("bob@example.com").await;
    app.call_with(
        Method::POST,
        "/v1/api_keys",
        Some(&bob.session),
        Some(json!({"name": "deploy"})),
        &key,
    )
    .await
    .expect(201);
    // Errors are replayed too, rather than re-run.
    let bad = [("Idempotency-Key", "bad-one")];
    let e1 = app
        .call_with(
            Method::POST,
            "/v1/api_keys",
            Some(&ada.session),
            Some(json!({"name": ""})),
            &bad,
        )
        .await;
    e1.expect_problem(400, "validation_error");
    let e2 = app
        .call_with(
            Method::POST,
            "/v1/api_keys",
            Some(&ada.session),
            Some(json!({"name": ""})),
            &bad,
        )
        .await;
    assert_eq!(e2.status, 400);
    assert_eq!(e2.header("idempotent-replayed"), Some("true"));
    let long = "k".repeat(256);
    app.call_with(
        Method::POST,
        "/v1/api_keys",
        Some(&ada.session),
        Some(json!({"name": "x"})),
        &[("Idempotency-Key", &long)],
    )
    .await
    .expect_problem(400, "validation_error");
    app.stop().await;
}

/// Concurrent requests with one key: one runs, the others are told it is in use (or, once
/// it finished, get its response). Sign-up is slow (argon2), so the requests overlap.
async fn idempotency_under_concurrency(b: Backend) {
    let app = spawn_app(b).await;
    let body = json!({"email": "race@example.com", "password": "correct horse battery"});
    let sends = (0..8).map(|_| {
        app.client
            .post(app.url("/v1/users"))
            .header("Idempotency-Key", "signup-race")
            .json(&body)
            .send()
    });
    let replies = futures_join_all(sends).await;
    let mut users = HashSet::new();
    let mut in_use = 0;
    for r in &replies {
        match r.status.as_u16() {
            201 => {
                users.insert(r.body["user"]["id"].as_str().unwrap_or_default().to_owned());
            }
            409 => {
                assert_eq!(r.body["code"], "idempotency_key_in_use");
                in_use += 1;
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(users.len(), 1, "exactly one user was created");
    assert!(
        in_use > 0,
        "overlapping requests were refused while the first ran"
    );
    app.stop().await;
}

async fn futures_join_all(
    sends: impl Iterator<
        Item = impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
    >,
) -> Vec<crate::helpers::Reply> {
    let handles: Vec<_> = sends
        .map(|f| tokio::spawn(async move { read(f.await.expect("sent")).await }))
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

async fn lists_paginate_with_cursors(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(
            app.create_key(&ada.session, json!({"name": format!("k{i}")}), false)
                .await
                .0,
        );
    }
    let mut seen = Vec::new();
    let mut path = "/v1/api_keys?limit=2".to_owned();
    loop {
        let page = app.get(&path, &ada.session).await;
        let body = page.expect(200).clone();
        seen.extend(
            body["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|k| k["id"].as_str().unwrap_or("").to_owned()),
        );
        match body["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(body["has_more"], true);
                path = format!("/v1/api_keys?limit=2&starting_after={c}");
            }
            None => {
                assert_eq!(body["has_more"], false);
                break;
            }
        }
    }
    made.reverse();
    assert_eq!(seen, made, "newest first, each once");
    for bad in ["limit=0", "limit=101", "limit=ten", "colour=red"] {
        let r = app.get(&format!("/v1/api_keys?{bad}"), &ada.session).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.body["code"].is_string());
    }
    app.stop().await;
}

async fn request_ids_flow_through(b: Backend) {
    let app = spawn_app(b).await;
    let r = app
        .call_with(
            Method::GET,
            "/v1/organization",
            None,
            None,
            &[("X-Request-Id", "trace-abc-123")],
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("trace-abc-123"));
    assert_eq!(r.body["request_id"], "trace-abc-123");
    let minted = app
        .call_with(
            Method::GET,
            "/healthz",
            None,
            None,
            &[("X-Request-Id", "has spaces")],
        )
        .await;
    assert!(
        minted
            .header("x-request-id")
            .is_some_and(|id| id.starts_with("req_"))
    );
    app.stop().await;
}

/// Every operation in the spec, fed garbage: never a 5xx, never a non-problem error.
async fn malformed_input_never_breaks_a_route(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let (_, key) = app
        .create_key(&ada.session, json!({"name": "fuzz"}), false)
        .await;
    let spec = app
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let paths = spec["paths"].as_object().expect("paths");
    assert!(paths.len() >= 15, "the spec lists the routes");

    let wrong_types = json!({
        "name": 5, "email": [], "password": false, "organization_name": {}, "role": 1,
        "permissions": "all", "scopes": 3, "expires_at": 12, "expires_in_days": "soon",
        "token": null, "user_id": 7, "description": []
    });
    let oversize = json!({"name": "x".repeat(70 * 1024)});
    let mut checked = 0;
    for (template, item) in paths {
        for method in ["get", "post", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            for id in [
                "key_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e",
                "nonsense",
                "%FF%00",
                &"9".repeat(600),
            ] {
                let path = fill(template, id);
                let mut attempts: Vec<Attempt> = vec![
                    (None, None, vec![]),
                    (Some(key.as_str()), None, vec![]),
                    (Some("nf_test_garbage"), None, vec![]),
                ];
                if method == "post" {
                    attempts.extend([
                        (Some(key.as_str()), Some(wrong_types.clone()), vec![]),
                        (
                            Some(key.as_str()),
                            Some(json!({"unexpected": true})),
                            vec![],
                        ),
                        (Some(key.as_str()), Some(json!([1, 2, 3])), vec![]),
                        (Some(key.as_str()), Some(oversize.clone()), vec![]),
                        (
                            Some(ada.session.as_str()),
                            Some(wrong_types.clone()),
                            vec![("NeoForge-Environment", "live")],
                        ),
                    ]);
                }
                for (token, body, headers) in attempts {
                    let r = app
                        .call_with(
                            m.clone(),
                            &format!("{path}?limit=abc&starting_after=%FF"),
                            token,
                            body,
                            &headers,
                        )
                        .await;
                    assert_problem_or_success(&r, &format!("{method} {path}"));
                    checked += 1;
                }
                if method == "post" {
                    for (ct, raw) in [
                        ("application/json", "{\"name\": "),
                        ("text/plain", "name=x"),
                        ("application/json", "\u{0}\u{1}"),
                    ] {
                        let resp = app
                            .client
                            .post(app.url(&path))
                            .bearer_auth(&key)
                            .header("content-type", ct)
                            .body(raw)
                            .send()
                            .await
                            .expect("sent");
                        let r = read(resp).await;
                        assert_problem_or_success(&r, &format!("raw {ct} {method} {path}"));
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 200);
    // A few exact answers.
    let resp = app
        .client
        .post(app.url("/v1/api_keys"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .expect("sent");
    read(resp).await.expect_problem(400, "malformed_json");
    let resp = app
        .client
        .post(app.url("/v1/api_keys"))
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .expect("sent");
    read(resp)
        .await
        .expect_problem(415, "unsupported_media_type");
    let big = app.post("/v1/api_keys", &key, oversize).await;
    big.expect_problem(413, "payload_too_large");
    let unknown = app
        .post("/v1/api_keys", &key, json!({"name": "x", "nmae": "typo"}))
        .await;
    unknown.expect_problem(400, "unknown_parameter");
    assert_eq!(unknown.body["errors"][0]["field"], "nmae");
    app.call(Method::GET, "/v1/nope", None, None)
        .await
        .expect_problem(404, "route_not_found");
    app.call(Method::PUT, "/v1/api_keys", Some(&key), None)
        .await
        .expect_problem(405, "method_not_allowed");
    app.stop().await;
}

/// A credential, a JSON body and extra headers.
type Attempt<'a> = (Option<&'a str>, Option<Value>, Vec<(&'a str, &'a str)>);

fn fill(template: &str, id: &str) -> String {
    template
        .split('/')
        .map(|seg| if seg.starts_with('{') { id } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[track_caller]
fn assert_problem_or_success(r: &crate::helpers::Reply, what: &str) {
    assert!(r.status.as_u16() < 500, "{what}: {} {}", r.status, r.body);
    // SCIM clients read SCIM's own error documents (RFC 7644 §3.12), not problems.
    if what.contains(" /scim/v2/") && r.status.is_client_error() {
        assert_eq!(
            r.header("content-type"),
            Some("application/scim+json"),
            "{what}: {}",
            r.body
        );
        assert_eq!(r.body["status"], r.status.as_str(), "{what}: {}", r.body);
        return;
    }
    if r.status.is_client_error() {
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{what}: {}",
            r.body
        );
        assert!(r.body["code"].is_string(), "{what}: {}", r.body);
    }
}

/// Injected faults fire the requested number of times, only when the server opts in, and
/// never become a stored idempotent response.
async fn faults_are_injected_only_on_request(b: Backend) {
    let fault = [
        ("NeoForge-Fault", "503"),
        ("NeoForge-Fault-Key", "k1"),
        ("NeoForge-Fault-Times", "2"),
    ];
    let plain = spawn_app(b).await;
    plain
        .call_with(Method::GET, "/healthz", None, None, &fault)
        .await
        .expect(200);
    plain.stop().await;

    let app = spawn_app_injecting_faults(b).await;
    for _ in 0..2 {
        let r = app
            .call_with(Method::GET, "/healthz", None, None, &fault)
            .await;
        r.expect_problem(503, "injected_fault");
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    app.call_with(Method::GET, "/healthz", None, None, &fault)
        .await
        .expect(200);

    let ada = app.signup("ada@example.com").await;
    let headers = [
        ("NeoForge-Fault", "429"),
        ("NeoForge-Fault-Key", "k2"),
        ("Idempotency-Key", "i1"),
    ];
    let body = json!({"name": "after a 429"});
    app.call_with(
        Method::POST,
        "/v1/api_keys",
        Some(&ada.session),
        Some(body.clone()),
        &headers,
    )
    .await
    .expect_problem(429, "injected_fault");
    let retried = app
        .call_with(
            Method::POST,
            "/v1/api_keys",
            Some(&ada.session),
            Some(body),
            &headers,
        )
        .await;
    retried.expect(201);
    assert_eq!(retried.header("idempotent-replayed"), None);
    app.stop().await;
}

crate::on_both_backends!(
    faults_are_injected_only_on_request,
    idempotent_posts_replay,
    idempotency_under_concurrency,
    lists_paginate_with_cursors,
    request_ids_flow_through,
);
crate::on_sqlite_only!(malformed_input_never_breaks_a_route,);

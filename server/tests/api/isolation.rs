//! The tenant and environment walls: another organization's ids are 404 everywhere, and
//! live and test data never meet.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, spawn_app};

/// Org A, holding B's ids, gets 404 for every one of them, reading or writing.
async fn tenants_cannot_reach_each_other(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.signup("a@example.com").await;
    let bob = app.signup("b@example.com").await;
    let (_, a_key) = app
        .create_key(&a.session, json!({"name": "a"}), false)
        .await;
    let (b_key_id, b_key) = app
        .create_key(&bob.session, json!({"name": "b"}), false)
        .await;
    let role = app
        .post(
            "/v1/roles",
            &bob.session,
            json!({"name": "r", "permissions": ["members:read"]}),
        )
        .await;
    let b_role = role.expect(201)["id"].as_str().expect("id").to_owned();
    let inv = app
        .post(
            "/v1/invitations",
            &bob.session,
            json!({"email": "c@example.com", "role": "viewer"}),
        )
        .await;
    let b_inv = inv.expect(201)["id"].as_str().expect("id").to_owned();

    let reads = [
        format!("/v1/api_keys/{b_key_id}"),
        format!("/v1/roles/{b_role}"),
        format!("/v1/invitations/{b_inv}"),
        format!("/v1/members/{}", bob.user_id),
    ];
    for path in &reads {
        for who in [&a_key, &a.session] {
            app.get(path, who)
                .await
                .expect_problem(404, "resource_not_found");
        }
    }
    let writes = [
        (
            Method::POST,
            format!("/v1/api_keys/{b_key_id}/revoke"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/v1/api_keys/{b_key_id}/roll"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/v1/roles/{b_role}"),
            json!({"name": "pwned"}),
        ),
        (Method::DELETE, format!("/v1/roles/{b_role}"), json!(null)),
        (
            Method::POST,
            format!("/v1/invitations/{b_inv}/revoke"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/v1/members/{}", bob.user_id),
            json!({"role": "viewer"}),
        ),
        (
            Method::DELETE,
            format!("/v1/members/{}", bob.user_id),
            json!(null),
        ),
        (
            Method::POST,
            "/v1/organization/transfer_ownership".to_owned(),
            json!({"user_id": bob.user_id}),
        ),
    ];
    for (method, path, body) in writes {
        let body = (!body.is_null()).then_some(body);
        app.call(method, &path, Some(&a_key), body)
            .await
            .expect_problem(404, "resource_not_found");
    }
    // A session naming B's organization is refused.
    app.call_with(
        Method::GET,
        "/v1/api_keys",
        Some(&a.session),
        None,
        &[("NeoForge-Organization", &bob.org_id)],
    )
    .await
    .expect_problem(403, "forbidden");
    // Lists show only the caller's own rows; B's key still works.
    let keys = app.get("/v1/api_keys", &a_key).await;
    assert!(!keys.expect(200).to_string().contains(&b_key_id));
    let audit = app.get("/v1/audit_events", &a_key).await;
    assert!(
        !audit.expect(200).to_string().contains(&bob.org_id)
            && !audit.body.to_string().contains(&b_key_id)
    );
    app.get("/v1/organization", &b_key).await.expect(200);
    let members = app.get("/v1/members", &b_key).await;
    assert_eq!(
        members.expect(200)["data"].as_array().map(Vec::len),
        Some(1)
    );
    app.stop().await;
}

/// A test key sees only the sandbox, a live key only live data.
async fn live_and_test_are_separate(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let (test_id, test_key) = app
        .create_key(&ada.session, json!({"name": "sandbox"}), false)
        .await;
    let (live_id, live_key) = app
        .create_key(&ada.session, json!({"name": "production"}), true)
        .await;
    assert!(live_key.starts_with("nf_live_") && test_key.starts_with("nf_test_"));

    app.get(&format!("/v1/api_keys/{live_id}"), &test_key)
        .await
        .expect_problem(404, "resource_not_found");
    app.post(
        &format!("/v1/api_keys/{live_id}/revoke"),
        &test_key,
        json!({}),
    )
    .await
    .expect_problem(404, "resource_not_found");
    app.get(&format!("/v1/api_keys/{test_id}"), &live_key)
        .await
        .expect_problem(404, "resource_not_found");
    let test_list = app.get("/v1/api_keys", &test_key).await;
    assert!(!test_list.expect(200).to_string().contains(&live_id));
    let live_list = app.get("/v1/api_keys", &live_key).await;
    assert!(!live_list.expect(200).to_string().contains(&test_id));

    // Keys a test key creates are test keys.
    let made = app
        .post("/v1/api_keys", &test_key, json!({"name": "child"}))
        .await;
    assert!(
        made.expect(201)["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("nf_test_"))
    );
    // The audit log is split the same way.
    let live_audit = app.get("/v1/audit_events", &live_key).await;
    assert!(!live_audit.expect(200).to_string().contains(&test_id));
    // A key with a swapped environment prefix does not authenticate.
    let swapped = test_key.replacen("nf_test_", "nf_live_", 1);
    app.get("/v1/organization", &swapped)
        .await
        .expect_problem(401, "invalid_api_key");
    app.call_with(
        Method::GET,
        "/v1/api_keys",
        Some(&ada.session),
        None,
        &[("NeoForge-Environment", "staging")],
    )
    .await
    .expect_problem(400, "validation_error");
    app.stop().await;
}

crate::on_both_backends!(tenants_cannot_reach_each_other, live_and_test_are_separate);

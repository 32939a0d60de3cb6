//! API keys: create, roll and revoke; scopes that narrow a key; expiry by the server's
//! clock; keys that die with their creator's membership.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, spawn_app};

async fn key_lifecycle_create_roll_revoke(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let created = app
        .post("/v1/api_keys", &ada.session, json!({"name": "deploys"}))
        .await;
    let body = created.expect(201).clone();
    let id = body["id"].as_str().expect("id").to_owned();
    let secret = body["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("nf_test_"));
    assert_eq!(body["env"], "test");
    assert_eq!(body["prefix"].as_str(), Some(&secret[..12]));

    // The secret is never shown again.
    let got = app.get(&format!("/v1/api_keys/{id}"), &secret).await;
    assert!(got.expect(200).get("secret").is_none());
    assert!(got.body["last_used_at"].is_string(), "last use is recorded");
    let listed = app.get("/v1/api_keys", &ada.session).await;
    assert!(!listed.expect(200).to_string().contains(&secret[12..]));

    // Roll: the old secret dies, the new one works.
    let rolled = app
        .post(&format!("/v1/api_keys/{id}/roll"), &secret, json!({}))
        .await;
    let new_secret = rolled.expect(200)["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_ne!(new_secret, secret);
    app.get("/v1/organization", &secret)
        .await
        .expect_problem(401, "invalid_api_key");
    app.get("/v1/organization", &new_secret).await.expect(200);

    // Revoke: 401 problem+json from then on.
    let revoked = app
        .post(
            &format!("/v1/api_keys/{id}/revoke"),
            &ada.session,
            json!({}),
        )
        .await;
    assert!(revoked.expect(200)["revoked_at"].is_string());
    let denied = app.get("/v1/organization", &new_secret).await;
    denied.expect_problem(401, "invalid_api_key");
    assert!(denied.header("www-authenticate").is_some());
    app.post(&format!("/v1/api_keys/{id}/roll"), &ada.session, json!({}))
        .await
        .expect_problem(409, "api_key_revoked");

    // Unknown, malformed and prefix-less keys are all the same 401.
    for bad in [
        "nf_test_00000000000000000000000000000000",
        "nf_live_x",
        "sk_test_abc",
        "",
    ] {
        app.get("/v1/organization", bad)
            .await
            .expect_problem(401, "invalid_api_key");
    }
    app.call(Method::GET, "/v1/organization", None, None)
        .await
        .expect_problem(401, "authentication_required");

    // Every change is in the audit log, with the request id that made it.
    let audit = app
        .get(&format!("/v1/audit_events?target_id={id}"), &ada.session)
        .await;
    let actions: Vec<_> = audit.expect(200)["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        actions,
        ["api_key.revoked", "api_key.rolled", "api_key.created"]
    );
    assert_eq!(
        audit.body["data"][0]["request_id"].as_str(),
        revoked.header("x-request-id")
    );
    app.stop().await;
}

async fn scopes_narrow_a_key(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let (_, reader) = app
        .create_key(
            &ada.session,
            json!({"name": "r", "scopes": ["api_keys:read"]}),
            false,
        )
        .await;
    app.get("/v1/api_keys", &reader).await.expect(200);
    let denied = app.get("/v1/audit_events", &reader).await;
    denied.expect_problem(403, "forbidden");
    app.post(
        "/v1/api_keys",
        &ada.session,
        json!({"name": "x", "scopes": ["api_keys:read", "bogus"]}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.stop().await;
}

async fn keys_expire(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let now = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(app.clock().now_ms()) * 1_000_000,
    )
    .expect("the server's time");
    let in_an_hour = (now + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("fmt");
    let past = (now - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("fmt");
    app.post(
        "/v1/api_keys",
        &ada.session,
        json!({"name": "old", "expires_at": past}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.post(
        "/v1/api_keys",
        &ada.session,
        json!({"name": "bad", "expires_at": "tomorrow"}),
    )
    .await
    .expect_problem(400, "validation_error");
    let (_, key) = app
        .create_key(
            &ada.session,
            json!({"name": "temp", "expires_at": in_an_hour}),
            false,
        )
        .await;
    app.get("/v1/organization", &key).await.expect(200);
    app.clock().advance(Duration::from_secs(2 * 3600));
    app.get("/v1/organization", &key)
        .await
        .expect_problem(401, "invalid_api_key");
    app.stop().await;
}

async fn keys_die_with_their_creators_membership(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let inv = app
        .post(
            "/v1/invitations",
            &owner.session,
            json!({"email": "dev@example.com", "role": "developer"}),
        )
        .await;
    let token = inv.expect(201)["token"].as_str().expect("token").to_owned();
    let dev = app.signup("dev@example.com").await;
    app.post(
        "/v1/invitations/accept",
        &dev.session,
        json!({"token": token}),
    )
    .await
    .expect(200);
    let r = app
        .call_with(
            Method::POST,
            "/v1/api_keys",
            Some(&dev.session),
            Some(json!({"name": "dev"})),
            &[("NeoForge-Organization", &owner.org_id)],
        )
        .await;
    let key = r.expect(201)["secret"].as_str().expect("secret").to_owned();
    app.get("/v1/api_keys", &key).await.expect(200);
    app.call(
        Method::DELETE,
        &format!("/v1/members/{}", dev.user_id),
        Some(&owner.session),
        None,
    )
    .await
    .expect(204);
    app.get("/v1/api_keys", &key)
        .await
        .expect_problem(401, "invalid_api_key");
    app.stop().await;
}

crate::on_both_backends!(
    key_lifecycle_create_roll_revoke,
    scopes_narrow_a_key,
    keys_expire,
    keys_die_with_their_creators_membership
);

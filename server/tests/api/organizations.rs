//! Organizations: roles decide what members may do, nobody grants more than they hold,
//! ownership transfer keeps an owner, invitations expire and revoke.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Account, Backend, TestApp, spawn_app};

/// Invites `email` into `owner`'s organization with `role`; the invitee signs up and accepts.
async fn join(app: &TestApp, owner: &Account, email: &str, role: &str) -> Account {
    let inv = app
        .post(
            "/v1/invitations",
            &owner.session,
            json!({"email": email, "role": role}),
        )
        .await;
    let token = inv.expect(201)["token"].as_str().expect("token").to_owned();
    assert_eq!(inv.body["status"], "pending");
    let mut member = app.signup(email).await;
    let joined = app
        .post(
            "/v1/invitations/accept",
            &member.session,
            json!({"token": token}),
        )
        .await;
    assert_eq!(
        joined.expect(200)["id"].as_str(),
        Some(owner.org_id.as_str())
    );
    assert_eq!(joined.body["role"], role);
    member.org_id = owner.org_id.clone();
    member
}

fn in_org(member: &Account) -> [(&'static str, &str); 1] {
    [("NeoForge-Organization", member.org_id.as_str())]
}

async fn roles_decide_what_members_may_do(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let dev = join(&app, &owner, "dev@example.com", "developer").await;
    let h = in_org(&dev);

    // A developer makes API keys but cannot invite or change roles.
    let key = app
        .call_with(
            Method::POST,
            "/v1/api_keys",
            Some(&dev.session),
            Some(json!({"name": "dev key"})),
            &h,
        )
        .await;
    key.expect(201);
    let invite = app
        .call_with(
            Method::POST,
            "/v1/invitations",
            Some(&dev.session),
            Some(json!({"email": "x@example.com", "role": "viewer"})),
            &h,
        )
        .await;
    invite.expect_problem(403, "forbidden");
    assert!(
        invite.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("members:write"))
    );

    // Members list shows both, with roles.
    let members = app.get("/v1/members", &owner.session).await;
    let data = members.expect(200)["data"]
        .as_array()
        .expect("array")
        .clone();
    assert_eq!(data.len(), 2);
    assert!(
        data.iter()
            .any(|m| m["email"] == "dev@example.com" && m["role"] == "developer")
    );

    // A custom role: read members and the audit log, nothing else.
    let role = app
        .post("/v1/roles", &owner.session, json!({"name": "auditor", "description": "Reads the log", "permissions": ["members:read", "audit:read"]}))
        .await;
    let role_id = role.expect(201)["id"].as_str().expect("id").to_owned();
    assert!(role_id.starts_with("role_"));
    app.post(
        "/v1/roles",
        &owner.session,
        json!({"name": "auditor", "permissions": []}),
    )
    .await
    .expect_problem(409, "role_name_taken");
    app.post(
        "/v1/roles",
        &owner.session,
        json!({"name": "x", "permissions": ["root:all"]}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.post(
        "/v1/roles",
        &owner.session,
        json!({"name": "admin", "permissions": []}),
    )
    .await
    .expect_problem(400, "validation_error");

    app.post(
        &format!("/v1/members/{}", dev.user_id),
        &owner.session,
        json!({"role": role_id}),
    )
    .await
    .expect(200);
    app.call_with(
        Method::GET,
        "/v1/audit_events",
        Some(&dev.session),
        None,
        &h,
    )
    .await
    .expect(200);
    app.call_with(Method::GET, "/v1/members", Some(&dev.session), None, &h)
        .await
        .expect(200);
    app.call_with(
        Method::POST,
        "/v1/api_keys",
        Some(&dev.session),
        Some(json!({"name": "nope"})),
        &h,
    )
    .await
    .expect_problem(403, "forbidden");
    // The developer key made earlier now has only what the custom role grants.
    let listed = app
        .call_with(Method::GET, "/v1/roles", Some(&owner.session), None, &[])
        .await;
    let roles = listed.expect(200).as_array().expect("roles").clone();
    assert_eq!(roles.iter().filter(|r| r["builtin"] == true).count(), 5);
    assert!(roles.iter().any(|r| r["id"] == role_id.as_str()));

    // Widening the role takes effect at once; a role in use cannot be deleted.
    app.post(
        &format!("/v1/roles/{role_id}"),
        &owner.session,
        json!({"permissions": ["members:read", "audit:read", "api_keys:write", "api_keys:read"]}),
    )
    .await
    .expect(200);
    app.call_with(
        Method::POST,
        "/v1/api_keys",
        Some(&dev.session),
        Some(json!({"name": "now ok"})),
        &h,
    )
    .await
    .expect(201);
    app.call(
        Method::DELETE,
        &format!("/v1/roles/{role_id}"),
        Some(&owner.session),
        None,
    )
    .await
    .expect_problem(409, "role_in_use");
    app.post("/v1/roles/admin", &owner.session, json!({"name": "x"}))
        .await
        .expect_problem(403, "forbidden");
    app.post(
        &format!("/v1/members/{}", dev.user_id),
        &owner.session,
        json!({"role": "viewer"}),
    )
    .await
    .expect(200);
    app.call(
        Method::DELETE,
        &format!("/v1/roles/{role_id}"),
        Some(&owner.session),
        None,
    )
    .await
    .expect(204);
    app.get(&format!("/v1/roles/{role_id}"), &owner.session)
        .await
        .expect_problem(404, "resource_not_found");
    app.post(
        &format!("/v1/members/{}", dev.user_id),
        &owner.session,
        json!({"role": "nonexistent"}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.stop().await;
}

async fn nobody_grants_more_than_they_hold(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let admin = join(&app, &owner, "admin@example.com", "admin").await;
    let h = in_org(&admin);
    // An admin cannot make owners, nor demote the owner.
    app.call_with(
        Method::POST,
        "/v1/invitations",
        Some(&admin.session),
        Some(json!({"email": "o2@example.com", "role": "owner"})),
        &h,
    )
    .await
    .expect_problem(403, "forbidden");
    app.call_with(
        Method::POST,
        &format!("/v1/members/{}", owner.user_id),
        Some(&admin.session),
        Some(json!({"role": "viewer"})),
        &h,
    )
    .await
    .expect_problem(403, "forbidden");
    app.call_with(
        Method::DELETE,
        &format!("/v1/members/{}", owner.user_id),
        Some(&admin.session),
        None,
        &h,
    )
    .await
    .expect_problem(403, "forbidden");
    // A key scoped to reading cannot mint a broader key.
    let (_, reader) = app
        .create_key(
            &owner.session,
            json!({"name": "reader", "scopes": ["api_keys:read"]}),
            false,
        )
        .await;
    app.post("/v1/api_keys", &reader, json!({"name": "wider"}))
        .await
        .expect_problem(403, "forbidden");
    // A viewer cannot create keys with scopes they lack.
    let viewer = join(&app, &owner, "viewer@example.com", "viewer").await;
    app.call_with(
        Method::POST,
        "/v1/api_keys",
        Some(&viewer.session),
        Some(json!({"name": "k"})),
        &in_org(&viewer),
    )
    .await
    .expect_problem(403, "forbidden");
    app.stop().await;
}

async fn ownership_transfers_and_the_last_owner_stays(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let dev = join(&app, &owner, "dev@example.com", "developer").await;
    let me = format!("/v1/members/{}", owner.user_id);
    app.call(Method::DELETE, &me, Some(&owner.session), None)
        .await
        .expect_problem(409, "last_owner");
    app.post(&me, &owner.session, json!({"role": "admin"}))
        .await
        .expect_problem(409, "last_owner");

    let t = app
        .post(
            "/v1/organization/transfer_ownership",
            &owner.session,
            json!({"user_id": dev.user_id}),
        )
        .await;
    assert_eq!(t.expect(200)["role"], "admin");
    let dev_view = app
        .call_with(
            Method::GET,
            &format!("/v1/members/{}", dev.user_id),
            Some(&dev.session),
            None,
            &in_org(&dev),
        )
        .await;
    assert_eq!(dev_view.expect(200)["role"], "owner");
    // Now an admin, the former owner can no longer transfer, but can leave.
    app.post(
        "/v1/organization/transfer_ownership",
        &owner.session,
        json!({"user_id": dev.user_id}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.call(Method::DELETE, &me, Some(&owner.session), None)
        .await
        .expect(204);
    app.get("/v1/organization", &owner.session)
        .await
        .expect_problem(403, "forbidden");
    let audit = app
        .call_with(
            Method::GET,
            "/v1/audit_events?action=member.left",
            Some(&dev.session),
            None,
            &in_org(&dev),
        )
        .await;
    assert_eq!(audit.expect(200)["data"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

async fn invitations_expire_and_revoke(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let inv = app
        .post(
            "/v1/invitations",
            &owner.session,
            json!({"email": "late@example.com", "role": "viewer", "expires_in_days": 1}),
        )
        .await;
    let late_token = inv.expect(201)["token"].as_str().expect("token").to_owned();
    let inv2 = app
        .post(
            "/v1/invitations",
            &owner.session,
            json!({"email": "revoked@example.com", "role": "viewer"}),
        )
        .await;
    let revoked_id = inv2.expect(201)["id"].as_str().expect("id").to_owned();
    let revoked_token = inv2.body["token"].as_str().expect("token").to_owned();
    let inv3 = app
        .post(
            "/v1/invitations",
            &owner.session,
            json!({"email": "someone@example.com", "role": "viewer"}),
        )
        .await;
    let other_token = inv3.expect(201)["token"]
        .as_str()
        .expect("token")
        .to_owned();

    let r = app
        .post(
            &format!("/v1/invitations/{revoked_id}/revoke"),
            &owner.session,
            json!({}),
        )
        .await;
    assert_eq!(r.expect(200)["status"], "revoked");
    app.post(
        &format!("/v1/invitations/{revoked_id}/revoke"),
        &owner.session,
        json!({}),
    )
    .await
    .expect_problem(409, "invitation_closed");
    let listed = app.get("/v1/invitations?limit=2", &owner.session).await;
    assert_eq!(listed.expect(200)["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(listed.body["has_more"], true);

    let revoked_user = app.signup("revoked@example.com").await;
    app.post(
        "/v1/invitations/accept",
        &revoked_user.session,
        json!({"token": revoked_token}),
    )
    .await
    .expect_problem(409, "invitation_closed");
    // Somebody else's invitation cannot be taken.
    app.post(
        "/v1/invitations/accept",
        &revoked_user.session,
        json!({"token": other_token}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.post(
        "/v1/invitations/accept",
        &revoked_user.session,
        json!({"token": "nf_inv_bogus"}),
    )
    .await
    .expect_problem(404, "resource_not_found");

    app.clock().advance(Duration::from_secs(2 * 24 * 3600));
    let late = app.signup("late@example.com").await;
    app.post(
        "/v1/invitations/accept",
        &late.session,
        json!({"token": late_token}),
    )
    .await
    .expect_problem(409, "invitation_expired");
    app.stop().await;
}

crate::on_both_backends!(
    roles_decide_what_members_may_do,
    nobody_grants_more_than_they_hold,
    ownership_transfers_and_the_last_owner_stays,
    invitations_expire_and_revoke,
);

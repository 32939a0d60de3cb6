//! Sign-up, login and logout; sessions that expire and stay where sessions belong.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, spawn_app};

async fn signup_login_logout(b: Backend) {
    let app = spawn_app(b).await;
    let signup = app
        .call(Method::POST, "/v1/users", None, Some(json!({"email": "  Ada@Example.COM ", "password": "correct horse battery", "organization_name": "Acme"})))
        .await;
    let body = signup.expect(201).clone();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["organization"]["name"], "Acme");
    assert_eq!(body["organization"]["role"], "owner");
    assert!(
        signup
            .header("set-cookie")
            .is_some_and(|c| c.starts_with("nf_session=nf_sess_") && c.contains("HttpOnly"))
    );

    // The same email, differently cased, is taken.
    app.call(
        Method::POST,
        "/v1/users",
        None,
        Some(json!({"email": "ADA@example.com", "password": "another long password"})),
    )
    .await
    .expect_problem(409, "email_taken");
    // Password rules.
    let weak = app
        .call(
            Method::POST,
            "/v1/users",
            None,
            Some(json!({"email": "bob@example.com", "password": "short"})),
        )
        .await;
    weak.expect_problem(400, "validation_error");
    assert_eq!(weak.body["errors"][0]["field"], "password");
    app.call(
        Method::POST,
        "/v1/users",
        None,
        Some(json!({"email": "not-an-email", "password": "correct horse battery"})),
    )
    .await
    .expect_problem(400, "validation_error");

    // Log in: a wrong password and an unknown email fail alike.
    app.call(
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({"email": "ada@example.com", "password": "wrong password!"})),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    app.call(
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({"email": "nobody@example.com", "password": "wrong password!"})),
    )
    .await
    .expect_problem(401, "invalid_credentials");
    let login = app
        .call(
            Method::POST,
            "/v1/sessions",
            None,
            Some(json!({"email": "ADA@example.com", "password": "correct horse battery"})),
        )
        .await;
    let token = login.expect(201)["session"]["token"]
        .as_str()
        .expect("token")
        .to_owned();

    let me = app.get("/v1/users/me", &token).await;
    assert_eq!(me.expect(200)["user"]["email"], "ada@example.com");
    assert_eq!(
        me.body["organizations"][0]["id"],
        body["organization"]["id"]
    );

    // The cookie works as well as the bearer header.
    let via_cookie = app
        .client
        .get(app.url("/v1/organization"))
        .header("cookie", format!("theme=dark; nf_session={token}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(via_cookie.status(), 200);

    app.call(Method::DELETE, "/v1/sessions/current", Some(&token), None)
        .await
        .expect(204);
    app.get("/v1/users/me", &token)
        .await
        .expect_problem(401, "invalid_session");
    // The other session is unaffected.
    let first = body["session"]["token"].as_str().expect("token");
    app.get("/v1/users/me", first).await.expect(200);
    app.stop().await;
}

async fn sessions_expire(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    app.get("/v1/users/me", &ada.session).await.expect(200);
    app.clock()
        .advance(std::time::Duration::from_secs(25 * 3600));
    app.get("/v1/users/me", &ada.session)
        .await
        .expect_problem(401, "invalid_session");
    app.stop().await;
}

async fn sessions_only_where_sessions_belong(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let (_, key) = app
        .create_key(&ada.session, json!({"name": "k"}), false)
        .await;
    // An API key cannot act as a dashboard user.
    app.get("/v1/users/me", &key)
        .await
        .expect_problem(403, "forbidden");
    app.post("/v1/organizations", &key, json!({"name": "Other"}))
        .await
        .expect_problem(403, "forbidden");
    // A session can create more organizations, and pick one by header.
    let other = app
        .post("/v1/organizations", &ada.session, json!({"name": "Other"}))
        .await;
    let other_id = other.expect(201)["id"].as_str().expect("id").to_owned();
    let org = app
        .call_with(
            Method::GET,
            "/v1/organization",
            Some(&ada.session),
            None,
            &[("NeoForge-Organization", &other_id)],
        )
        .await;
    assert_eq!(org.expect(200)["name"], "Other");
    app.stop().await;
}

crate::on_both_backends!(
    signup_login_logout,
    sessions_expire,
    sessions_only_where_sessions_belong
);

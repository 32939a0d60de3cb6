//! The developer portal is served from the binary, and it is sandbox-only: a live key sent
//! from it is refused by the server, whatever the page's script does.

use reqwest::Method;

use crate::helpers::{Backend, spawn_app};

async fn portal_is_served_from_the_binary(b: Backend) {
    let app = spawn_app(b).await;
    let home = app.client.get(app.url("/")).send().await.expect("GET /");
    assert_eq!(home.url().path(), "/portal/", "/ redirects to the portal");
    assert_eq!(home.status(), 200);
    let csp = home
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = home.text().await.expect("body");
    assert!(html.contains("@generated") && html.contains("signup-form"));
    let css = app
        .client
        .get(app.url("/portal/assets/portal.css"))
        .send()
        .await
        .expect("css");
    assert_eq!(
        css.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/css; charset=utf-8")
    );
    let page = app
        .client
        .get(app.url("/portal/reference/api_keys/list.html"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    app.call(Method::GET, "/portal/nope.html", None, None)
        .await
        .expect_problem(404, "route_not_found");
    app.stop().await;
}

async fn live_keys_are_refused_from_the_portal(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let (live, test) = app.live_and_test_keys(&ada.session).await;
    for marker in [
        ("NeoForge-Portal", "playground"),
        ("Sec-Fetch-Site", "same-origin"),
    ] {
        let refused = app
            .call_with(
                Method::GET,
                "/v1/organization",
                Some(&live),
                None,
                &[marker],
            )
            .await;
        refused.expect_problem(403, "live_key_in_portal");
        assert!(
            refused.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("nf_test_"))
        );
        app.call_with(
            Method::GET,
            "/v1/organization",
            Some(&test),
            None,
            &[marker],
        )
        .await
        .expect(200);
    }
    // From anywhere else a live key works, and so does another site's browser page.
    app.get("/v1/organization", &live).await.expect(200);
    app.call_with(
        Method::GET,
        "/v1/organization",
        Some(&live),
        None,
        &[("Sec-Fetch-Site", "cross-site")],
    )
    .await
    .expect(200);
    app.stop().await;
}

crate::on_both_backends!(live_keys_are_refused_from_the_portal,);
crate::on_sqlite_only!(portal_is_served_from_the_binary,);

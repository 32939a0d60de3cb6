//! The request log: every request made with an API key is recorded (off the request path,
//! flushed in batches) and listed and charted per tenant and environment.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, spawn_app};

async fn requests_with_keys_are_logged_and_charted(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let (key_id, key) = app
        .create_key(&ada.session, json!({"name": "ci"}), false)
        .await;
    let (other_id, other) = app
        .create_key(&ada.session, json!({"name": "other"}), false)
        .await;
    let ok = app.get("/v1/organization", &key).await;
    ok.expect(200);
    let request_id = ok.header("x-request-id").expect("request id").to_owned();
    app.get("/v1/api_keys/key_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e", &key)
        .await
        .expect_problem(404, "resource_not_found");
    app.get("/v1/organization", &other).await.expect(200);
    // Sessions and failed authentications are not API-key traffic.
    app.get("/v1/organization", &ada.session).await.expect(200);
    app.get("/v1/organization", "nf_test_unknown")
        .await
        .expect_problem(401, "invalid_api_key");
    app.flush_request_log().await;

    let all = app.get("/v1/request_log", &ada.session).await;
    let entries = all.expect(200)["data"].as_array().expect("data").clone();
    assert_eq!(entries.len(), 3, "{entries:?}");
    let newest_first: Vec<&str> = entries
        .iter()
        .map(|e| e["route"].as_str().expect("route"))
        .collect();
    assert_eq!(
        newest_first,
        ["/v1/organization", "/v1/api_keys/{id}", "/v1/organization"]
    );
    let first = &entries[2];
    assert_eq!(first["request_id"], request_id.as_str());
    assert_eq!(first["api_key"], key_id.as_str());
    assert_eq!(first["method"], "GET");
    assert_eq!(first["status"], 200);
    assert!(first["duration_us"].as_i64().is_some_and(|d| d > 0));

    let errors = app
        .get("/v1/request_log?status_class=client_error", &key)
        .await;
    let errors = errors.expect(200)["data"].as_array().expect("data").clone();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["status"], 404);
    let by_key = app
        .get(&format!("/v1/request_log?api_key={other_id}"), &key)
        .await;
    assert_eq!(by_key.expect(200)["data"].as_array().map(Vec::len), Some(1));
    let by_route = app
        .get("/v1/request_log?route=/v1/api_keys/%7Bid%7D", &key)
        .await;
    assert_eq!(
        by_route.expect(200)["data"].as_array().map(Vec::len),
        Some(1)
    );
    let page = app.get("/v1/request_log?limit=2", &key).await;
    let page = page.expect(200).clone();
    assert_eq!(page["has_more"], true);
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let rest = app
        .get(&format!("/v1/request_log?starting_after={cursor}"), &key)
        .await;
    assert_eq!(rest.expect(200)["data"].as_array().map(Vec::len), Some(1));
    app.get("/v1/request_log?status_class=teapot", &key)
        .await
        .expect_problem(400, "invalid_query_parameter");

    let series = app
        .get(
            &format!("/v1/request_log/analytics?api_key={key_id}&interval=minute&created_gte=2000-01-01T00:00:00Z"),
            &ada.session,
        )
        .await;
    series.expect_problem(400, "validation_error");
    let series = app
        .get(
            &format!("/v1/request_log/analytics?api_key={key_id}&interval=hour"),
            &ada.session,
        )
        .await;
    let series = series.expect(200).clone();
    let buckets = series["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 25, "24 hours, the first one partial");
    let requests: i64 = buckets
        .iter()
        .map(|b| b["requests"].as_i64().expect("count"))
        .sum();
    let errors: i64 = buckets
        .iter()
        .map(|b| b["errors"].as_i64().expect("n"))
        .sum();
    assert_eq!((requests, errors), (2, 1));
    let last = buckets.last().expect("bucket");
    assert!(
        last["p50_us"].as_i64().is_some() && last["p95_us"].as_i64() >= last["p50_us"].as_i64()
    );
    assert_eq!(series["truncated"], false);
    app.stop().await;
}

/// One tenant never sees another's traffic; the sandbox and live logs are apart.
async fn request_log_is_isolated(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let (_, ada_test) = app
        .create_key(&ada.session, json!({"name": "t"}), false)
        .await;
    let (_, ada_live) = app
        .create_key(&ada.session, json!({"name": "l"}), true)
        .await;
    let (bob_key_id, bob_key) = app
        .create_key(&bob.session, json!({"name": "b"}), false)
        .await;
    app.get("/v1/organization", &ada_test).await.expect(200);
    app.get("/v1/api_keys", &ada_live).await.expect(200);
    app.get("/v1/organization", &bob_key).await.expect(200);
    app.flush_request_log().await;

    let routes = |reply: &crate::helpers::Reply| -> Vec<String> {
        reply.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|e| e["route"].as_str().expect("route").to_owned())
            .collect()
    };
    let test_log = app.get("/v1/request_log", &ada.session).await;
    test_log.expect(200);
    assert_eq!(routes(&test_log), ["/v1/organization"]);
    assert!(!test_log.body.to_string().contains(&bob_key_id));
    let live_log = app
        .call_with(
            Method::GET,
            "/v1/request_log",
            Some(&ada.session),
            None,
            &[("NeoForge-Environment", "live")],
        )
        .await;
    live_log.expect(200);
    // The live key's own request, and the one listing it now is logged after it.
    assert_eq!(routes(&live_log), ["/v1/api_keys"]);
    let by_test_key = app.get("/v1/request_log", &ada_test).await;
    assert!(!routes(&by_test_key).contains(&"/v1/api_keys".to_owned()));
    let bob_log = app.get("/v1/request_log", &bob.session).await;
    assert_eq!(routes(&bob_log), ["/v1/organization"]);
    // Naming another tenant's key filters to nothing, and its analytics are empty.
    let foreign = app
        .get(
            &format!("/v1/request_log?api_key={bob_key_id}"),
            &ada.session,
        )
        .await;
    assert_eq!(
        foreign.expect(200)["data"].as_array().map(Vec::len),
        Some(0)
    );
    let chart = app
        .get(
            &format!("/v1/request_log/analytics?api_key={bob_key_id}"),
            &ada.session,
        )
        .await;
    let total: i64 = chart.expect(200)["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b["requests"].as_i64().expect("n"))
        .sum();
    assert_eq!(total, 0);
    app.stop().await;
}

crate::on_both_backends!(
    requests_with_keys_are_logged_and_charted,
    request_log_is_isolated
);

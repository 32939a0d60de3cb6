//! The server's life: health and readiness, graceful shutdown, concurrent migrations, the
//! SQLite file lock, PostgreSQL row-level security, the committed spec and README walkthrough.

use domain::ids::OrgId;
use neoforge_server::app;
use neoforge_server::tenancy::{Env, Scope};
use reqwest::Method;
use serde_json::json;
use store::Db;

use crate::helpers::{Backend, eventually, fresh_postgres_database, serve_args, spawn_app};
use crate::webhooks::{Receiver, deliver, verify};

async fn health_and_readiness(b: Backend) {
    let app = spawn_app(b).await;
    assert_eq!(
        app.call(Method::GET, "/healthz", None, None)
            .await
            .expect(200)["status"],
        "ok"
    );
    assert_eq!(
        app.call(Method::GET, "/readyz", None, None)
            .await
            .expect(200)["status"],
        "ready"
    );
    // With the database gone, readiness fails while liveness holds.
    app.server.as_ref().expect("running").state.db.close().await;
    app.call(Method::GET, "/readyz", None, None)
        .await
        .expect_problem(503, "service_unavailable");
    app.call(Method::GET, "/healthz", None, None)
        .await
        .expect(200);
}

/// A request in flight when shutdown starts still completes. The request asks to be told
/// when the server reads its body (`Expect: 100-continue`) and sends the body only once the
/// server has stopped taking connections.
async fn shutdown_lets_requests_finish(b: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(b).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let body =
        json!({"email": "late@example.com", "password": "correct horse battery"}).to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/users HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())
        .await
        .expect("send the head");
    // The handler is reading the body.
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        interim.push(conn.read_u8().await.expect("an interim answer"));
    }
    assert!(interim.starts_with(b"HTTP/1.1 100"), "{interim:?}");
    let stopping = tokio::spawn(app.stop());
    eventually("the server stops taking connections", || async {
        tokio::net::TcpStream::connect(&addr).await.is_err()
    })
    .await;
    conn.write_all(body.as_bytes())
        .await
        .expect("send the body");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.expect("the answer");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    stopping.await.expect("stopped");
}

crate::on_both_backends!(health_and_readiness, shutdown_lets_requests_finish);

/// Replicas starting together migrate once, under the advisory lock.
#[tokio::test]
async fn postgres_replicas_migrate_concurrently() {
    let (url, _) = fresh_postgres_database().await;
    let starts = (0..4).map(|_| {
        let args = serve_args(url.clone());
        tokio::spawn(async move { app::start(&args).await })
    });
    let mut servers = Vec::new();
    for s in starts {
        servers.push(s.await.expect("task").expect("replica starts"));
    }
    for s in servers {
        s.stop().await.expect("stops");
    }
}

/// One server per SQLite file: a second one on the same file refuses to start, and says why,
/// rather than write beside the first (whose ingestion keeps the rollups it wrote in memory).
#[tokio::test]
async fn a_second_server_on_a_sqlite_file_refuses_to_start() {
    let app = spawn_app(Backend::Sqlite).await;
    let file = app.sqlite_file.clone().expect("a SQLite file");
    let second = app::start(&serve_args(format!("sqlite:{file}"))).await;
    let Err(e) = second else {
        panic!("a second server started on {file}");
    };
    assert!(
        format!("{e:#}").contains("another NeoForge server is using"),
        "{e:#}"
    );
    // The first still serves.
    app.call(Method::GET, "/readyz", None, None)
        .await
        .expect(200);
}

/// Row-level security: inside a tenant-scoped transaction, even a query with no tenant filter
/// sees only that tenant's rows, in that environment.
#[tokio::test]
async fn postgres_row_level_security_is_a_second_wall() {
    let app = spawn_app(Backend::Postgres).await;
    let a = app.signup("a@example.com").await;
    let b = app.signup("b@example.com").await;
    app.create_key(&a.session, json!({"name": "a-test"}), false)
        .await;
    app.create_key(&a.session, json!({"name": "a-live"}), true)
        .await;
    app.create_key(&b.session, json!({"name": "b-test"}), false)
        .await;
    let db: &Db = &app.server.as_ref().expect("running").state.db;

    let scope = Scope {
        org_id: OrgId::parse(&a.org_id).expect("id"),
        env: Env::Test,
    };
    let mut tx = db.read_scoped(&scope).await.expect("tx");
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM api_keys")
        .fetch_all(&mut *tx)
        .await
        .expect("query");
    assert_eq!(names, ["a-test"]);
    let members: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships")
        .fetch_one(&mut *tx)
        .await
        .expect("query");
    assert_eq!(members, 1);
    drop(tx);

    // Writing a row for another tenant is refused by the policy.
    let mut tx = db.write_scoped(&scope).await.expect("tx");
    let err = sqlx::query("UPDATE api_keys SET name = 'x' WHERE name = 'b-test'")
        .execute(&mut *tx)
        .await
        .expect("runs");
    assert_eq!(err.rows_affected(), 0);
    let insert = sqlx::query("INSERT INTO roles (id, tenant_id, name, description, permissions, created_at) VALUES ('role_x', $1, 'x', '', '', 0)")
        .bind(&b.org_id)
        .execute(&mut *tx)
        .await;
    assert!(insert.is_err(), "insert into another tenant must fail");
    drop(tx);
    app.stop().await;
}

/// The committed spec matches the server. A stale file is rewritten and the test fails, so
/// the fix is to commit the regenerated file (or run `cargo xtask spec`).
#[test]
fn committed_spec_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/v1.json");
    let fresh = neoforge_server::openapi::render();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        std::fs::write(&path, &fresh).expect("rewrite openapi/v1.json");
        panic!(
            "openapi/v1.json was stale and has been regenerated; review and commit it (or run `cargo xtask spec`)."
        );
    }
    let spec: serde_json::Value = serde_json::from_str(&fresh).expect("json");
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
}

/// Runs the `sh` block of the README section headed `heading` as written, with its
/// `VAR=value` lines replaced as given (the server's address…); returns its stdout.
async fn run_readme_section(heading: &str, vars: &[(&str, &str)]) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    let section = readme
        .split(&format!("{heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("a {heading} section"));
    let mut script = section
        .split("```sh\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a sh block")
        .to_owned();
    for (var, value) in vars {
        let line = script
            .lines()
            .find(|l| l.starts_with(&format!("{var}=")))
            .unwrap_or_else(|| panic!("the script sets {var}"))
            .to_owned();
        script = script.replace(&format!("{line}\n"), &format!("{var}={value}\n"));
    }
    let out = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{heading} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The README's billing walkthrough, run as written against a real webhook receiver: the
/// proration lines, past_due, cancellation after the retries, and every event delivered once,
/// signed with the endpoint's secret.
#[tokio::test]
async fn billing_walkthrough_works_verbatim() {
    let app = spawn_app(Backend::Sqlite).await;
    let (receiver, hook) = Receiver::start().await;
    let stdout = run_readme_section(
        "## Billing walkthrough (sandbox)",
        &[("BASE", &app.base), ("HOOK", &hook)],
    )
    .await;
    for expected in [
        "\"amount\":-1935",
        "\"amount\":4839",
        "\"status\":\"past_due\"",
        "\"status\":\"canceled\"",
        "\"attempt_count\":4",
        "\"kind\":\"invoice_paid\"",
        "\"kind\":\"trial_will_end\"",
        "\"kind\":\"payment_failed\"",
        "\"kind\":\"subscription_canceled\"",
    ] {
        assert!(stdout.contains(expected), "{expected} in {stdout}");
    }
    let secret = stdout
        .split("\"secret\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the endpoint's secret");
    let events: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("the events")).expect("events JSON");
    assert_eq!(events["has_more"], false);
    let mut event_ids: Vec<String> = events["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();

    while deliver(&app).await > 0 {}
    let received = receiver.requests();
    let mut ids: Vec<String> = received
        .iter()
        .map(|r| verify(secret, r)["id"].as_str().expect("id").to_owned())
        .collect();
    let types: Vec<String> = received
        .iter()
        .map(|r| r.json()["type"].as_str().expect("type").to_owned())
        .collect();
    ids.sort();
    event_ids.sort();
    assert_eq!(ids, event_ids, "every event, each once");
    for t in [
        "customer.created",
        "subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "subscription.updated",
        "invoice.payment_failed",
        "subscription.canceled",
    ] {
        assert!(types.iter().any(|x| x == t), "{t} in {types:?}");
    }
    app.stop().await;
}

/// The README's usage walkthrough, run as written: the duplicate counted once, the late
/// event counted, the quota denied, one signed alert per threshold, and the usage line.
#[tokio::test]
async fn usage_walkthrough_works_verbatim() {
    let app = spawn_app(Backend::Sqlite).await;
    let (receiver, hook) = Receiver::start().await;
    let stdout = run_readme_section(
        "## Usage walkthrough (sandbox)",
        &[("BASE", &app.base), ("HOOK", &hook)],
    )
    .await;
    for expected in [
        "\"accepted\":6",
        "\"status\":\"duplicate\"",
        "\"data\":[{\"start\":\"2027-03-01T00:00:00Z\",\"end\":\"2027-04-01T00:00:00Z\",\"group\":{},\"value\":\"7\"}]",
        "\"start\":\"2027-03-05T00:00:00Z\",\"end\":\"2027-03-06T00:00:00Z\",\"group\":{},\"value\":\"1\"",
        "\"allowed\":false",
        "\"usage\":\"11\"",
        // Step 6 lists the alert of the last calls, before the invoice settles any.
        "\"threshold\":100",
        "\"quantity\":7,\"amount\":18",
        "\"total\":1018",
    ] {
        assert!(stdout.contains(expected), "{expected} in {stdout}");
    }
    let secret = stdout
        .split("\"secret\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the endpoint's secret");
    while deliver(&app).await > 0 {}
    let mut thresholds: Vec<i64> = receiver
        .requests()
        .iter()
        .map(|r| {
            verify(secret, r)["data"]["threshold"]
                .as_i64()
                .expect("threshold")
        })
        .collect();
    thresholds.sort_unstable();
    assert_eq!(thresholds, [50, 80, 100]);
    app.stop().await;
}

/// The README's curl walkthrough, run as written (only its BASE points at the test server).
#[tokio::test]
async fn readme_walkthrough_works_verbatim() {
    let app = spawn_app(Backend::Sqlite).await;
    let stdout = run_readme_section("## Walkthrough", &[("BASE", &app.base)]).await;
    assert!(stdout.contains("\"secret\":\"nf_test_"), "{stdout}");
    assert!(stdout.contains("\"revoked_at\":\"20"), "{stdout}");
    let last = stdout.rsplit("HTTP/1.1 ").next().unwrap_or_default();
    assert!(last.starts_with("401"), "{stdout}");
    assert!(
        last.contains("application/problem+json") && last.contains("\"code\":\"invalid_api_key\""),
        "{stdout}"
    );
    app.stop().await;
}

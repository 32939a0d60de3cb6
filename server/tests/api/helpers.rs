//! `spawn_app`: the real server on an ephemeral port with a fresh database, over real HTTP.
//! Each backend's fresh database is a copy of a template holding every migration: on SQLite
//! a file, on PostgreSQL a database (`CREATE DATABASE … TEMPLATE`) on the server named by
//! `NEOFORGE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! A template is named for its migrations' contents and shared by every test process
//! (nextest runs each test in its own) and every run until they change.
//! PostgreSQL tests never skip: when the server is missing they fail and say so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use neoforge_server::app::{self, Server};
use neoforge_server::config::{DbArgs, EmailArgs, LogFormat, ServeArgs};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::Db;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub server: Option<Server>,
    /// The SQLite file to delete afterwards. PostgreSQL databases are dropped by a later
    /// run's sweep (`sweep_old_databases`), since Drop cannot await.
    pub sqlite_file: Option<String>,
}

pub fn postgres_admin_url() -> String {
    std::env::var("NEOFORGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A URL for a new, empty PostgreSQL database, and its name.
pub async fn fresh_postgres_database() -> (String, String) {
    create_postgres_database(None).await
}

/// The first 16 hex digits of a SHA-256 over a backend's migration files, names and contents.
fn migrations_fingerprint(backend: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../store/migrations")
        .join(backend);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read the migrations")
        .map(|e| e.expect("a migration").path())
        .collect();
    files.sort();
    let mut hash = Sha256::new();
    for file in files {
        hash.update(file.file_name().expect("a file name").as_encoded_bytes());
        hash.update(std::fs::read(&file).expect("read a migration"));
    }
    hex::encode(&hash.finalize()[..8])
}

/// A path for a new SQLite file holding every migration: a copy of the template file, which
/// the first process to need it migrates and renames into place (a racing process's copy is
/// as good).
async fn migrated_sqlite_file() -> String {
    let dir = std::env::temp_dir();
    let template = dir.join(format!(
        "nf_template_{}.db",
        migrations_fingerprint("sqlite")
    ));
    if !template.exists() {
        let partial = dir.join(format!("nf_partial_{}.db", uuid::Uuid::now_v7().simple()));
        let db = Db::connect(&format!("sqlite:{}", partial.display()), 1)
            .await
            .expect("create the template file");
        db.migrate().await.expect("migrate the template file");
        // The last connection to close checkpoints the WAL into the file.
        db.close().await;
        std::fs::rename(&partial, &template).expect("move the template into place");
    }
    let path = dir.join(format!("nf_test_{}.db", uuid::Uuid::now_v7().simple()));
    std::fs::copy(&template, &path).expect("copy the template file");
    path.to_string_lossy().into_owned()
}

/// A URL for a new PostgreSQL database holding every migration: a copy of the template (a
/// copy takes a third of the time migrating does), made under an advisory lock by the first
/// process to need it.
async fn migrated_postgres_database() -> String {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let template = TEMPLATE
        .get_or_init(|| async {
            let name = format!("nf_template_{}", migrations_fingerprint("postgres"));
            let mut conn = postgres_admin().await;
            sqlx::query("SELECT pg_advisory_lock(70200)")
                .execute(&mut conn)
                .await
                .expect("lock the template");
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await
                    .expect("look for the template");
            if !exists {
                let (url, partial) = fresh_postgres_database().await;
                let db = Db::connect(&url, 1).await.expect("connect to the template");
                db.migrate().await.expect("migrate the template");
                // CREATE DATABASE … TEMPLATE and RENAME need it without connections.
                db.close().await;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "ALTER DATABASE {partial} RENAME TO {name}"
                )))
                .execute(&mut conn)
                .await
                .expect("name the template");
            }
            sqlx::query("SELECT pg_advisory_unlock(70200)")
                .execute(&mut conn)
                .await
                .expect("unlock the template");
            name
        })
        .await;
    create_postgres_database(Some(template)).await.0
}

async fn postgres_admin() -> sqlx::AnyConnection {
    let admin = postgres_admin_url();
    sqlx::any::install_default_drivers();
    <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL is required for these tests and is not reachable at {admin}: {e}. Start it or set NEOFORGE_TEST_POSTGRES_URL.")
        })
}

async fn create_postgres_database(template: Option<&str>) -> (String, String) {
    let admin = postgres_admin_url();
    let mut conn = postgres_admin().await;
    sweep_old_databases(&mut conn).await;
    let name = format!("nf_test_{}", uuid::Uuid::now_v7().simple());
    let from = template.map_or_else(String::new, |t| format!(" TEMPLATE {t}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}{from}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(b, _)| b)
        .to_owned();
    (format!("{base}/{name}"), name)
}

pub fn serve_args(database_url: String) -> ServeArgs {
    ServeArgs {
        listen: "127.0.0.1:0".parse().expect("address"),
        db: DbArgs {
            database_url,
            max_connections: 8,
        },
        log_format: LogFormat::Human,
        max_body_bytes: 64 * 1024,
        session_ttl_hours: 24,
        inject_faults: false,
        billing_interval_secs: 0,
        webhook_interval_ms: 0,
        dns_server: None,
        shutdown_grace_secs: 10,
        payments: Default::default(),
        email: EmailArgs {
            email_interval_ms: 0,
            ..Default::default()
        },
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, false).await
}

/// A server that honours `NeoForge-Fault` headers (`--inject-faults`).
pub async fn spawn_app_injecting_faults(backend: Backend) -> TestApp {
    spawn_with(backend, true).await
}

async fn spawn_with(backend: Backend, inject_faults: bool) -> TestApp {
    spawn_app_configured(backend, |args| args.inject_faults = inject_faults).await
}

/// A fresh migrated database: its URL, and on SQLite the file to delete afterwards.
pub async fn migrated_database(backend: Backend) -> (String, Option<String>) {
    match backend {
        Backend::Sqlite => {
            let path = migrated_sqlite_file().await;
            (format!("sqlite:{path}"), Some(path))
        }
        Backend::Postgres => (migrated_postgres_database().await, None),
    }
}

/// A server whose arguments `configure` adjusts (payment provider flags…).
pub async fn spawn_app_configured(
    backend: Backend,
    configure: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    let (url, sqlite_file) = migrated_database(backend).await;
    let mut args = serve_args(url);
    configure(&mut args);
    let server = app::start(&args).await.expect("server starts");
    TestApp {
        base: format!("http://{}", server.addr),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        server: Some(server),
        sqlite_file,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(path) = &self.sqlite_file {
            remove_sqlite_files(path);
        }
    }
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and, for errors, the problem code; returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        &self.body
    }

    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert_eq!(
            self.body["request_id"].as_str(),
            self.header("x-request-id")
        );
    }
}

pub async fn read(resp: Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// A signed-up user with their session token and organization.
#[derive(Clone)]
pub struct Account {
    pub user_id: String,
    pub org_id: String,
    pub session: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn clock(&self) -> &domain::clock::Clock {
        &self.server.as_ref().expect("running").state.clock
    }

    /// Writes the request log's buffered entries now instead of within the second.
    pub async fn flush_request_log(&self) {
        let server = self.server.as_ref().expect("running");
        server.state.request_log.flush().await;
    }

    /// Returns once the usage alerts of every event written so far are checked.
    pub async fn settle_alerts(&self) {
        let server = self.server.as_ref().expect("running");
        server.state.ingest.settle_alerts().await;
    }

    /// Sends `body` (if any) as JSON with `Authorization: Bearer token` (if any).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        read(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// Moves a sandbox test clock to `to` (RFC 3339), running what falls due.
    pub async fn advance_clock(&self, token: &str, clock: &str, to: &str) {
        let path = format!("/v1/test_clocks/{clock}/advance");
        self.post(&path, token, serde_json::json!({"frozen_time": to}))
            .await
            .expect(200);
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn signup(&self, email: &str) -> Account {
        let r = self
            .call(
                Method::POST,
                "/v1/users",
                None,
                Some(json!({"email": email, "password": "correct horse battery"})),
            )
            .await;
        let body = r.expect(201);
        Account {
            user_id: body["user"]["id"].as_str().expect("user id").to_owned(),
            org_id: body["organization"]["id"]
                .as_str()
                .expect("org id")
                .to_owned(),
            session: body["session"]["token"].as_str().expect("token").to_owned(),
        }
    }

    /// Creates a key with the session (test environment unless `live`), returns (id, secret).
    pub async fn create_key(&self, session: &str, body: Value, live: bool) -> (String, String) {
        let env = if live { "live" } else { "test" };
        let r = self
            .call_with(
                Method::POST,
                "/v1/api_keys",
                Some(session),
                Some(body),
                &[("NeoForge-Environment", env)],
            )
            .await;
        let b = r.expect(201);
        (
            b["id"].as_str().expect("id").to_owned(),
            b["secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// A live and a test key of the session's organization: (live secret, test secret).
    pub async fn live_and_test_keys(&self, session: &str) -> (String, String) {
        let (_, live) = self
            .create_key(session, json!({"name": "live"}), true)
            .await;
        let (_, test) = self
            .create_key(session, json!({"name": "test"}), false)
            .await;
        (live, test)
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("clean shutdown");
        }
    }
}

/// How long `eventually` waits: far beyond what a loaded machine needs, so that only a
/// broken server reaches it.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `done` until it holds; fails, naming `what`, after `PATIENCE`. The pause between
/// polls only spaces them out: the wait is for `done`.
pub async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + PATIENCE;
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An empty database the server binary migrates itself; on SQLite its files are deleted
/// when it is dropped.
pub struct ScratchDb {
    pub url: String,
    file: Option<String>,
}

pub async fn scratch_database(backend: Backend) -> ScratchDb {
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir()
                .join(format!("nf_bin_{}.db", uuid::Uuid::now_v7().simple()))
                .display()
                .to_string();
            ScratchDb {
                url: format!("sqlite:{path}"),
                file: Some(path),
            }
        }
        Backend::Postgres => ScratchDb {
            url: fresh_postgres_database().await.0,
            file: None,
        },
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Some(path) = &self.file {
            remove_sqlite_files(path);
        }
    }
}

/// A SQLite database's file with its `-wal` and `-shm`.
fn remove_sqlite_files(path: &str) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}

/// The server binary in a process of its own, for tests that kill it.
pub struct Binary {
    child: std::process::Child,
    pub base: String,
}

impl Binary {
    /// Starts the binary on a port of its own choosing, with `extra` arguments, and returns
    /// once it says, in its log, that it is listening (after migrating): no port picked here
    /// that another test could take first.
    pub async fn start(url: &str, extra: &[&str]) -> Binary {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_neoforge"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
            .args(extra)
            .env("NEOFORGE_LOG", "error,neoforge_server::app=info")
            .env("NEOFORGE_LOG_FORMAT", "json")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the server binary");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, listening) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Read to the end, so the server never blocks on a full pipe.
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                let Ok(line) = line else { return };
                let entry: Value = serde_json::from_str(&line).unwrap_or_default();
                if entry["message"] == "listening" {
                    let _ = tx.send(entry["addr"].as_str().unwrap_or_default().to_owned());
                }
            }
        });
        match listening.recv_timeout(PATIENCE) {
            Ok(addr) => Binary {
                child,
                base: format!("http://{addr}"),
            },
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not start listening within {PATIENCE:?}: {e}");
            }
        }
    }

    /// SIGKILL: no graceful shutdown, no flushing.
    pub fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs `body` with `key` as the bearer token; the answer's JSON if it was a success.
pub async fn post(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    path: &str,
    body: &Value,
) -> Option<Value> {
    let r = client
        .post(format!("{base}{path}"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

/// Drops test databases that earlier runs left behind (more than an hour old; the uuid v7
/// in the name carries its creation time). Runs once per test process.
async fn sweep_old_databases(conn: &mut sqlx::AnyConnection) {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SWEPT.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'nf_test_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    let hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        .saturating_sub(3_600_000);
    for name in names {
        let created = name
            .get(8..20)
            .and_then(|hex| u64::from_str_radix(hex, 16).ok());
        if created.is_some_and(|ms| ms < hour_ago) {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut *conn)
            .await;
        }
    }
}

/// Runs each listed test once per backend: `mod sqlite { fn name() }` and `mod postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $crate::on_backend!(sqlite, Sqlite, $($name),*);
        $crate::on_backend!(postgres, Postgres, $($name),*);
    };
}

/// Runs each listed test on SQLite only, in `mod sqlite_only`: for tests of a protocol or of
/// validation, whose every store call the tests on both backends also make.
#[macro_export]
macro_rules! on_sqlite_only {
    ($($name:ident),* $(,)?) => {
        $crate::on_backend!(sqlite_only, Sqlite, $($name),*);
    };
}

#[macro_export]
macro_rules! on_backend {
    ($module:ident, $backend:ident, $($name:ident),*) => {
        mod $module {
            $(#[tokio::test] async fn $name() { super::$name($crate::helpers::Backend::$backend).await })*
        }
    };
}

//! The TypeScript and Python SDK suites, the portal's (`portal_suite`), then schemathesis
//! (`tests/spec/fuzz.py`), against a live server this process starts (debug build, fresh
//! SQLite file, fault injection on). The Rust SDK's suite is a cargo test.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::run;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn npm(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    run(Command::new("npm").args(args).current_dir(root))
}

/// Runs `target/debug/neoforge` as the workspace test build left it (with its features), so
/// no second build of the server happens.
pub fn run_all(root: &Path, python: &Path) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("neoforge-sdk-suites-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base_url = format!("http://127.0.0.1:{port}");
    let _server = Server(
        Command::new(root.join("target/debug/neoforge"))
            .args([
                "serve",
                "--inject-faults",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            // A fixed test key, so tenants' secrets (SSO connections) can be kept.
            .args([
                "--encryption-key",
                "bmVvZm9yZ2Utc3VpdGVzLXRlc3Qta2V5LTMyYnl0ZXM=",
            ])
            .arg("--database-url")
            .arg(format!("sqlite:{}", dir.join("suites.db").display()))
            .env("NEOFORGE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("start the server")?,
    );
    wait_ready(port)?;

    let quiet = ["--no-audit", "--no-fund", "--loglevel=error"];
    npm(
        root,
        &[&["install", "--prefix", "sdks/typescript"][..], &quiet].concat(),
    )?;
    npm(root, &["run", "--prefix", "sdks/typescript", "build"])?;
    npm(
        root,
        &[&["install", "--prefix", "tests/sdk/typescript"][..], &quiet].concat(),
    )?;
    run(Command::new("node")
        .args(["--test", "tests/sdk/typescript/"])
        .env("NEOFORGE_BASE_URL", &base_url)
        .current_dir(root))?;

    run(Command::new(python)
        .args(["-m", "mypy", "--strict", "sdks/python/neoforge"])
        .current_dir(root))?;
    run(Command::new(python)
        .args(["-m", "pytest", "-q", "tests/sdk/python"])
        .env("PYTHONPATH", root.join("sdks/python"))
        .env("NEOFORGE_BASE_URL", &base_url)
        .current_dir(root))?;
    crate::portal_suite::run_suite(root, python, &base_url)?;
    // The spec must match the server: schemathesis, every check, with sandbox keys. Last, as
    // it signs up the spec's example users.
    run(Command::new(python)
        .arg("tests/spec/fuzz.py")
        .env("NEOFORGE_BASE_URL", &base_url)
        .current_dir(root))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Waits for the server to listen, for a minute: far beyond what a loaded machine needs.
/// (The port was picked by binding it and letting it go: nothing else runs beside the suites.)
fn wait_ready(port: u16) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50)); // spaces the polls out
    }
    bail!("the server did not start listening on port {port} within a minute")
}

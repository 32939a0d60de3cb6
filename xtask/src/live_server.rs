//! `target/debug/neoforge` as the workspace test build left it (with its features, so no
//! second build of the server happens), serving a fresh SQLite file with fault injection on:
//! the server the SDK, portal and schemathesis suites talk to. Stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

pub struct LiveServer {
    child: Child,
    dir: PathBuf,
    pub base_url: String,
}

impl LiveServer {
    /// `name` tells apart the servers one run starts beside each other.
    pub fn start(root: &Path, name: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("neoforge-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(root.join("target/debug/neoforge"))
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
            .arg(format!("sqlite:{}", dir.join("server.db").display()))
            .env("NEOFORGE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("start the server")?;
        let server = LiveServer {
            child,
            dir,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        wait_ready(port)?;
        Ok(server)
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits for the server to listen, for a minute: far beyond what a loaded machine needs.
/// (The port was picked by binding it and letting it go; a clash would show as a server that
/// exits, and this wait failing.)
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

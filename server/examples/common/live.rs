//! What the HTTP benchmarks share: the release server as a separate process on a free port
//! (stopped when dropped), a wait for its readiness, JSON POSTs, and a signed-up account's
//! sandbox API key.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Starts `binary` on `database_url` and waits until it is ready.
    pub async fn start(
        client: &reqwest::Client,
        binary: &str,
        database_url: &str,
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(binary)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database_url])
            .env("NEOFORGE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("start the release server")?;
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if client
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await; // spaces the polls out
        }
        bail!("the server did not become ready")
    }

    /// The server's peak resident memory (VmHWM), in KiB; 0 where /proc is not there.
    pub fn peak_rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// The id and secret of a new account's sandbox API key.
    pub async fn api_key(&self, client: &reqwest::Client) -> anyhow::Result<(String, String)> {
        let signup = post(
            client,
            None,
            format!("{}/v1/users", self.base),
            json!({"email": "bench@example.com", "password": "correct horse battery"}),
        )
        .await?;
        let session = signup["session"]["token"].as_str().context("session")?;
        let key = post(
            client,
            Some(session),
            format!("{}/v1/api_keys", self.base),
            json!({"name": "bench"}),
        )
        .await?;
        Ok((
            key["id"].as_str().context("key id")?.to_owned(),
            key["secret"].as_str().context("secret")?.to_owned(),
        ))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs `body` as JSON (with `token` as bearer); the answer, which must be a success.
pub async fn post(
    client: &reqwest::Client,
    token: Option<&str>,
    url: String,
    body: Value,
) -> anyhow::Result<Value> {
    let mut req = client.post(&url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    if !status.is_success() {
        bail!("{url}: {status} {body}");
    }
    Ok(body)
}

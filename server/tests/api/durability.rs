//! kill -9 of the server binary while clients stream event batches: after a restart, every
//! acknowledged event is counted exactly once, and retrying the unacknowledged batches (and
//! some acknowledged ones) creates no duplicates.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::helpers::{Backend, PATIENCE, eventually, fresh_postgres_database};

const STREAMS: usize = 4;
const BATCHES_PER_STREAM: usize = 60;
const BATCH: usize = 100;

struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// Starts the binary on a port of its own choosing and returns once it says, in its log,
    /// that it is listening (after migrating): no port picked here that another test could
    /// take first.
    async fn start(url: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_neoforge"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
            .env("NEOFORGE_LOG", "error,neoforge_server::app=info")
            .env("NEOFORGE_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
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
            Ok(addr) => Server {
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
    fn kill_9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn batch(stream: usize, n: usize) -> Value {
    let events: Vec<Value> = (0..BATCH)
        .map(|i| json!({"id": format!("s{stream}-b{n}-{i}"), "type": "api_call", "customer": "acme"}))
        .collect();
    json!({"events": events})
}

async fn post(
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

async fn acknowledged_events_survive_kill_9(b: Backend) {
    let (url, file) = match b {
        Backend::Sqlite => {
            let path =
                std::env::temp_dir().join(format!("nf_kill_{}.db", uuid::Uuid::now_v7().simple()));
            (format!("sqlite:{}", path.display()), Some(path))
        }
        Backend::Postgres => (fresh_postgres_database().await.0, None),
    };
    let client = reqwest::Client::new();
    let server = Server::start(&url).await;
    let base = server.base.clone();
    let signup = post(
        &client,
        &base,
        "",
        "/v1/users",
        &json!({"email": "k@example.com", "password": "correct horse battery"}),
    )
    .await
    .expect("sign up");
    let session = signup["session"]["token"]
        .as_str()
        .expect("session")
        .to_owned();
    let key = post(
        &client,
        &base,
        &session,
        "/v1/api_keys",
        &json!({"name": "k"}),
    )
    .await
    .expect("key");
    let key = key["secret"].as_str().expect("secret").to_owned();
    post(
        &client,
        &base,
        &key,
        "/v1/customers",
        &json!({"external_id": "acme"}),
    )
    .await
    .expect("customer");
    let meter = post(
        &client,
        &base,
        &key,
        "/v1/meters",
        &json!({"name": "Calls", "event_type": "api_call", "aggregation": "count"}),
    )
    .await
    .expect("meter");
    let meter = meter["id"].as_str().expect("meter id").to_owned();

    // Stream until the server dies under the clients.
    let acked: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let streams: Vec<_> = (0..STREAMS)
        .map(|s| {
            let (client, base, key, acked) =
                (client.clone(), base.clone(), key.clone(), acked.clone());
            tokio::spawn(async move {
                for n in 0..BATCHES_PER_STREAM {
                    match post(&client, &base, &key, "/v1/events/batch", &batch(s, n)).await {
                        Some(r) if r["accepted"] == BATCH => {
                            acked.lock().expect("lock").push((s, n))
                        }
                        Some(r) => panic!("a batch was partly refused: {r}"),
                        None => return,
                    }
                }
            })
        })
        .collect();
    eventually("20 acknowledged batches", || async {
        acked.lock().expect("lock").len() >= 20
    })
    .await;
    server.kill_9();
    for s in streams {
        s.await.expect("stream");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() < STREAMS * BATCHES_PER_STREAM,
        "the kill came too late to test anything"
    );

    // Restart on the same database; the clients retry what was not acknowledged, and replay
    // a few acknowledged batches too.
    let server = Server::start(&url).await;
    let base = server.base.clone();
    let mut accepted = acked.len() * BATCH;
    for s in 0..STREAMS {
        for n in 0..BATCHES_PER_STREAM {
            let r = post(&client, &base, &key, "/v1/events/batch", &batch(s, n))
                .await
                .expect("retry");
            let (new, dup) = (
                r["accepted"].as_u64().expect("accepted"),
                r["duplicates"].as_u64().expect("duplicates"),
            );
            assert_eq!(new + dup, BATCH as u64);
            if acked.contains(&(s, n)) {
                assert_eq!(dup, BATCH as u64, "an acknowledged batch is all duplicates");
            }
            accepted += new as usize;
        }
    }
    let usage = client
        .get(format!(
            "{base}/v1/meters/{meter}/usage?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
        ))
        .bearer_auth(&key)
        .send()
        .await
        .expect("usage")
        .json::<Value>()
        .await
        .expect("json");
    let total = STREAMS * BATCHES_PER_STREAM * BATCH;
    assert_eq!(
        usage["data"][0]["value"],
        total.to_string(),
        "every event counted once"
    );
    // Events committed before the kill whose answer was lost came back as duplicates, so
    // new acceptances after the restart can fall short of the total, never exceed it.
    assert!(accepted <= total);
    drop(server);
    if let Some(path) = file {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

crate::on_both_backends!(acknowledged_events_survive_kill_9);

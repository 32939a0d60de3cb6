//! `cargo xtask bench api`: the release server on a fresh SQLite database, loaded from this
//! process over loopback. Measures an authenticated GET (key lookup, permission check, a
//! database read) beside the unauthenticated `/healthz` of the same server, same load.
//! `cargo xtask bench billing`: the scheduler renewing 10,000 due subscriptions.
//! `cargo xtask bench ingest`: usage events through the release server's HTTP API.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::{cargo, run};

const CONCURRENCY: usize = 8;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);
const MAX_REQUESTS: usize = 500_000;

struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn api(root: &Path) -> anyhow::Result<()> {
    run(cargo().args(["build", "--release", "-p", "neoforge-server"]))?;
    let dir = std::env::temp_dir().join(format!("neoforge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let _server = ServerProcess(
        Command::new(root.join("target/release/neoforge"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--database-url")
            .arg(format!("sqlite:{}", dir.join("bench.db").display()))
            .env("NEOFORGE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("start the release server")?,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        let client = reqwest::Client::new();
        wait_ready(&client, &base).await?;
        let (key_id, secret) = setup(&client, &base).await?;
        let authed = format!("{base}/v1/api_keys/{key_id}");
        let trivial = format!("{base}/healthz");
        println!("neoforge bench api: {CONCURRENCY} connections, {}s per route after {}s warm-up, SQLite, release build", MEASURE.as_secs(), WARMUP.as_secs());
        let t = load(&client, &trivial, None).await?;
        let a = load(&client, &authed, Some(&secret)).await?;
        report("GET /healthz (trivial)", &t);
        report("GET /v1/api_keys/{id} (authenticated)", &a);
        println!("authenticated / trivial throughput: {:.2} (goal >= 0.50)", a.rps() / t.rps());
        anyhow::Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// `server/examples/billing_bench.rs` in release, on SQLite then PostgreSQL.
pub fn billing() -> anyhow::Result<()> {
    let postgres = std::env::var("NEOFORGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    for target in ["sqlite", postgres.as_str()] {
        run(cargo()
            .args(["run", "--release", "-q", "-p", "neoforge-server"])
            .args(["--example", "billing_bench", "--", target]))?;
    }
    Ok(())
}

/// `server/examples/ingest_bench.rs` in release against the release server binary, on
/// SQLite then PostgreSQL.
pub fn ingest(root: &Path) -> anyhow::Result<()> {
    run(cargo().args(["build", "--release", "-p", "neoforge-server"]))?;
    let server = root.join("target/release/neoforge");
    let postgres = std::env::var("NEOFORGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    for target in ["sqlite", postgres.as_str()] {
        run(cargo()
            .args(["run", "--release", "-q", "-p", "neoforge-server"])
            .args(["--example", "ingest_bench", "--", target])
            .arg(&server))?;
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_ready(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    for _ in 0..100 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await; // spaces the polls out
    }
    bail!("the server did not become ready")
}

async fn setup(client: &reqwest::Client, base: &str) -> anyhow::Result<(String, String)> {
    let signup: Value = client
        .post(format!("{base}/v1/users"))
        .json(&json!({"email": "bench@example.com", "password": "correct horse battery"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let session = signup["session"]["token"]
        .as_str()
        .context("session token")?;
    let key: Value = client
        .post(format!("{base}/v1/api_keys"))
        .bearer_auth(session)
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok((
        key["id"].as_str().context("id")?.to_owned(),
        key["secret"].as_str().context("secret")?.to_owned(),
    ))
}

struct Run {
    latencies_us: Vec<u64>,
    elapsed: Duration,
    errors: usize,
}

impl Run {
    fn rps(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
    }
}

/// `CONCURRENCY` closed-loop workers for WARMUP + MEASURE; only the MEASURE part counts.
async fn load(client: &reqwest::Client, url: &str, token: Option<&str>) -> anyhow::Result<Run> {
    let start = Instant::now();
    let measure_from = start + WARMUP;
    let end = measure_from + MEASURE;
    let workers = (0..CONCURRENCY).map(|_| {
        let client = client.clone();
        let url = url.to_owned();
        let token = token.map(str::to_owned);
        tokio::spawn(async move {
            let mut lat = Vec::with_capacity(MAX_REQUESTS / CONCURRENCY);
            let mut errors = 0;
            while Instant::now() < end && lat.len() < MAX_REQUESTS / CONCURRENCY {
                let t0 = Instant::now();
                let mut req = client.get(&url);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let ok = match req.send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if t0 >= measure_from {
                    if ok {
                        lat.push(t0.elapsed().as_micros() as u64);
                    } else {
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        })
    });
    let mut run = Run {
        latencies_us: Vec::new(),
        elapsed: Duration::ZERO,
        errors: 0,
    };
    for w in workers.collect::<Vec<_>>() {
        let (lat, errors) = w.await?;
        run.latencies_us.extend(lat);
        run.errors += errors;
    }
    run.elapsed = Instant::now()
        .saturating_duration_since(measure_from)
        .min(MEASURE)
        .max(Duration::from_millis(1));
    run.latencies_us.sort_unstable();
    if run.errors > 0 {
        bail!("{url}: {} failed requests", run.errors);
    }
    Ok(run)
}

fn report(name: &str, r: &Run) {
    println!(
        "{name:<40} {:>9.0} req/s   p50 {:>6.3} ms   p99 {:>6.3} ms   ({} requests)",
        r.rps(),
        r.percentile(0.50),
        r.percentile(0.99),
        r.latencies_us.len()
    );
}

/// `cargo xtask bench sdk-gen`: the release `sdk-gen` regenerating all three SDKs from our
/// spec, and diffing two versions of it (the spec against a copy with a path removed and a
/// property retyped), as whole processes, best and median of several runs.
pub fn sdk_gen(root: &Path) -> anyhow::Result<()> {
    run(cargo().args(["build", "--release", "-p", "sdk-gen"]))?;
    let bin = root.join("target/release/sdk-gen");
    let dir = std::env::temp_dir().join(format!("neoforge-bench-sdkgen-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let spec = root.join("openapi/v1.json");
    let mut changed: Value = serde_json::from_str(&std::fs::read_to_string(&spec)?)?;
    if let Some(paths) = changed["paths"].as_object_mut() {
        paths.remove("/v1/audit_events");
    }
    changed["components"]["schemas"]["ApiKey"]["properties"]["name"] = json!({"type": "integer"});
    let head = dir.join("head.json");
    std::fs::write(&head, serde_json::to_string(&changed)?)?;

    let generate = time_runs(|| {
        Command::new(&bin)
            .arg("generate")
            .arg("--spec")
            .arg(&spec)
            .arg("--out")
            .arg(dir.join("sdks"))
            .stderr(Stdio::null())
            .status()
    })?;
    let diff = time_runs(|| {
        Command::new(&bin)
            .arg("diff")
            .arg(&spec)
            .arg(&head)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    })?;
    println!("neoforge bench sdk-gen: release build, whole process, {RUNS} runs each");
    println!(
        "generate TypeScript + Python + Rust SDKs   best {:>7.1} ms   median {:>7.1} ms   (goal < 2000 ms)",
        generate.0, generate.1
    );
    println!(
        "diff two spec versions                     best {:>7.1} ms   median {:>7.1} ms",
        diff.0, diff.1
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

const RUNS: usize = 7;

/// (best, median) wall time in milliseconds. `diff` exits 1 on breaking changes: any exit
/// status that is not a crash (2 or a signal) counts as a run.
fn time_runs(
    mut once: impl FnMut() -> std::io::Result<std::process::ExitStatus>,
) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let status = once()?;
        if !matches!(status.code(), Some(0 | 1)) {
            bail!("sdk-gen failed: {status}");
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[0], times[RUNS / 2]))
}

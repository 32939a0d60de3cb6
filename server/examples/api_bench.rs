//! `cargo xtask bench api` runs this in release against the release server binary (first
//! argument), which it starts on a fresh SQLite database: an authenticated GET (key lookup,
//! permission check, a database read) beside the unauthenticated `/healthz` of the same
//! server, under the same closed-loop load from this process over loopback.

#[path = "common/live.rs"]
mod live;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const CONCURRENCY: usize = 8;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);
const MAX_REQUESTS: usize = 500_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> anyhow::Result<()> {
    let binary = std::env::args()
        .nth(1)
        .context("usage: api_bench SERVER_BINARY")?;
    let dir = std::env::temp_dir().join(format!("neoforge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(
        &binary,
        &format!("sqlite:{}", dir.join("bench.db").display()),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(binary: &str, database_url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let server = live::Server::start(&client, binary, database_url).await?;
    let (key_id, secret) = server.api_key(&client).await?;
    let authed = format!("{}/v1/api_keys/{key_id}", server.base);
    let trivial = format!("{}/healthz", server.base);
    println!(
        "neoforge bench api: {CONCURRENCY} connections, {}s per route after {}s warm-up, SQLite, release build",
        MEASURE.as_secs(),
        WARMUP.as_secs()
    );
    let t = load(&client, &trivial, None).await?;
    let a = load(&client, &authed, Some(&secret)).await?;
    report("GET /healthz (trivial)", &t);
    report("GET /v1/api_keys/{id} (authenticated)", &a);
    println!(
        "authenticated / trivial throughput: {:.2} (goal >= 0.50)",
        a.rps() / t.rps()
    );
    println!("server peak RSS: {} MiB", server.peak_rss_kib() / 1024);
    Ok(())
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

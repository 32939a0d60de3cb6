//! `cargo xtask bench ingest` runs this in release, once per database (first argument:
//! `sqlite` or a `postgres://` URL of a server where it may create databases), against the
//! release server binary (second argument), which it starts as a separate process:
//!
//! 1. HTTP ingestion: 16 clients send batches of 100, then of 1,000 events (each for
//!    `NEOFORGE_BENCH_SECS`, default 20 s), spread over 1,000 customers and the last five
//!    seconds; then batches of 1,000 late events, spread over the last hour.
//! 2. The raw ceiling: the same event rows written straight into a second database of the
//!    same kind, 1,000 per multi-row INSERT, one transaction per 10,000, for as long.
//! 3. Filling up to `NEOFORGE_BENCH_EVENTS` (default 10,000,000) late events through HTTP, then
//!    the latency of the usage query (a customer's total over a day, and its hourly series)
//!    and of the entitlement check, 1,000 sequential requests each: p50 and p99.
//! 4. The server's peak RSS.

#[path = "common/bench_db.rs"]
mod bench_db;
#[path = "common/live.rs"]
mod live;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use domain::ids::OrgId;
use neoforge_server::tenancy::{Env, Scope};
use serde_json::{Value, json};
use store::Db;
use store::metering::{EventRow, insert_events};

const CLIENTS: usize = 16;
const CUSTOMERS: usize = 1000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let target = args
        .next()
        .context("usage: ingest_bench sqlite|postgres://… SERVER_BINARY")?;
    let binary = args.next().context("the server binary")?;
    let label = if target == "sqlite" {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let (url, cleanup) = bench_db::fresh(&target).await?;
    let (raw_url, raw_cleanup) = bench_db::fresh(&target).await?;
    let result = run(label, &binary, &url, &raw_url).await;
    cleanup.await;
    raw_cleanup.await;
    result
}

async fn run(label: &str, binary: &str, url: &str, raw_url: &str) -> anyhow::Result<()> {
    let secs = Duration::from_secs(env_or("NEOFORGE_BENCH_SECS", 20));
    let target_events = env_or("NEOFORGE_BENCH_EVENTS", 10_000_000);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()?;
    let server = live::Server::start(&client, binary, url).await?;
    let base = server.base.clone();
    let key = setup(&client, &server).await?;
    println!(
        "neoforge bench ingest: {label}, release server, {CLIENTS} HTTP clients, {CUSTOMERS} customers"
    );
    let sent = Arc::new(AtomicU64::new(0));
    for (batch, spread) in [(100, RECENT), (1000, RECENT), (1000, LATE)] {
        let rate = ingest(
            &client,
            &base,
            &key,
            (batch, spread),
            Until::Elapsed(secs),
            &sent,
        )
        .await?;
        let late = if spread == LATE {
            ", late (times spread over the last hour)"
        } else {
            ""
        };
        println!("  HTTP, batches of {batch:>5}{late}: {rate:>9.0} events/s");
    }
    let ceiling = raw_ceiling(raw_url, secs).await?;
    println!(
        "  raw multi-row INSERT ceiling: {ceiling:>7.0} events/s (same database engine, no HTTP, no rollups)"
    );
    let have = sent.load(Ordering::Relaxed);
    if have < target_events {
        let started = Instant::now();
        ingest(
            &client,
            &base,
            &key,
            (1000, LATE),
            Until::Events(target_events),
            &sent,
        )
        .await?;
        println!(
            "  filled to {} events in {:.0} s",
            sent.load(Ordering::Relaxed),
            started.elapsed().as_secs_f64()
        );
    }
    let now = domain::clock::timestamp::to_rfc3339(domain::clock::Clock::default().now_ms());
    let from = domain::clock::timestamp::to_rfc3339(
        domain::clock::Clock::default().now_ms() - 24 * 3600 * 1000,
    );
    let meter = &key.meter;
    let total = latency(&client, &key.secret, |i| {
        format!(
            "{base}/v1/meters/{meter}/usage?customer=c{}&from={from}&to={now}",
            i % CUSTOMERS
        )
    })
    .await?;
    let series = latency(&client, &key.secret, |i| {
        format!(
            "{base}/v1/meters/{meter}/usage?customer=c{}&from={from}&to={now}&window=hour",
            i % CUSTOMERS
        )
    })
    .await?;
    let check = latency(&client, &key.secret, |_| {
        format!("{base}/v1/entitlements/check?customer=c0&feature=tokens")
    })
    .await?;
    let events = sent.load(Ordering::Relaxed);
    println!("  after {events} events:");
    println!(
        "    usage query, a day's total     p50 {:>7.2} ms  p99 {:>7.2} ms (goal p99 < 50)",
        total.0, total.1
    );
    println!(
        "    usage query, hourly series     p50 {:>7.2} ms  p99 {:>7.2} ms",
        series.0, series.1
    );
    println!(
        "    entitlement check              p50 {:>7.2} ms  p99 {:>7.2} ms (goal p99 < 2)",
        check.0, check.1
    );
    println!("  server peak RSS: {} MiB", server.peak_rss_kib() / 1024);
    drop(server);
    Ok(())
}

struct Key {
    secret: String,
    meter: String,
}

/// A user, a sandbox key, 1,000 customers, a meter, and customer c0 subscribed to a plan
/// whose `tokens` feature is limited by that meter.
async fn setup(client: &reqwest::Client, server: &live::Server) -> anyhow::Result<Key> {
    let base = &server.base;
    let (_, secret) = server.api_key(client).await?;
    let s = Some(secret.as_str());
    let meter = live::post(client, s, format!("{base}/v1/meters"), json!({"name": "Tokens", "event_type": "completion", "aggregation": "sum", "value_property": "tokens"})).await?;
    let meter = meter["id"].as_str().context("meter")?.to_owned();
    let mut first = String::new();
    for i in 0..CUSTOMERS {
        let c = live::post(
            client,
            s,
            format!("{base}/v1/customers"),
            json!({"external_id": format!("c{i}"), "default_payment_method": "pm_card_visa"}),
        )
        .await?;
        if i == 0 {
            first = c["id"].as_str().context("customer")?.to_owned();
        }
    }
    let product = live::post(client, s, format!("{base}/v1/products"), json!({"name": "Plan", "features": [{"key": "tokens", "limit": 1_000_000_000, "meter": meter}]})).await?;
    let price = live::post(client, s, format!("{base}/v1/prices"), json!({"product": product["id"], "currency": "usd", "model": "flat", "unit_amount": 1000, "recurring": {"interval": "month"}})).await?;
    live::post(
        client,
        s,
        format!("{base}/v1/subscriptions"),
        json!({"customer": first, "items": [{"price": price["id"]}]}),
    )
    .await?;
    Ok(Key { secret, meter })
}

/// How far back events' times go, in ms: the last few seconds, as events sent when they
/// happen; or the last hour, as late events, which touch many more rollup buckets.
const RECENT: i64 = 5_000;
const LATE: i64 = 3_600_000;

enum Until {
    Elapsed(Duration),
    Events(u64),
}

/// Events per second accepted by `CLIENTS` closed-loop clients sending batches of `batch`
/// events with times up to `spread` ms ago.
async fn ingest(
    client: &reqwest::Client,
    base: &str,
    key: &Key,
    (batch, spread): (usize, i64),
    until: Until,
    sent: &Arc<AtomicU64>,
) -> anyhow::Result<f64> {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let started = Instant::now();
    let before = sent.load(Ordering::Relaxed);
    let workers: Vec<_> = (0..CLIENTS)
        .map(|w| {
            let (client, url, secret, sent) = (client.clone(), format!("{base}/v1/events/batch"), key.secret.clone(), sent.clone());
            let done = match until {
                Until::Elapsed(d) => (Some(started + d), u64::MAX),
                Until::Events(n) => (None, n),
            };
            tokio::spawn(async move {
                let mut rng = w as u64 * 7919 + 1;
                loop {
                    if done.0.is_some_and(|end| Instant::now() >= end) || sent.load(Ordering::Relaxed) >= done.1 {
                        return anyhow::Ok(());
                    }
                    let now = domain::clock::Clock::default().now_ms();
                    let events: Vec<Value> = (0..batch)
                        .map(|_| {
                            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                            let seq = SEQ.fetch_add(1, Ordering::Relaxed);
                            json!({"id": format!("e{seq}"), "type": "completion",
                                   "customer": format!("c{}", (rng >> 33) as usize % CUSTOMERS),
                                   "timestamp": domain::clock::timestamp::to_rfc3339(now - (rng >> 40) as i64 % spread),
                                   "properties": {"tokens": (rng >> 50) % 2000, "model": "gpt"}})
                        })
                        .collect();
                    let r = live::post(&client, Some(&secret), url.clone(), json!({"events": events})).await?;
                    let accepted = r["accepted"].as_u64().context("accepted")?;
                    if accepted != batch as u64 {
                        bail!("{} of {batch} events accepted: {r}", accepted);
                    }
                    sent.fetch_add(accepted, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    Ok((sent.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64())
}

/// Event rows per second written straight into the database, as ingestion writes them.
async fn raw_ceiling(url: &str, secs: Duration) -> anyhow::Result<f64> {
    let db = Db::connect(url, 4).await?;
    db.migrate().await?;
    let scope = Scope {
        org_id: OrgId::from_db("org_bench".into()),
        env: Env::Test,
    };
    let started = Instant::now();
    let mut written = 0u64;
    while started.elapsed() < secs {
        let now = domain::clock::Clock::default().now_ms();
        let rows: Vec<EventRow> = (0..10_000u64)
            .map(|i| EventRow {
                id: format!("r{}", written + i),
                event_type: "completion".into(),
                customer_id: format!("cus_{}", i % CUSTOMERS as u64),
                ts: now,
                properties: r#"{"tokens":1200,"model":"gpt"}"#.into(),
                received_at: now,
            })
            .collect();
        let mut tx = db.write_scoped(&scope).await?;
        insert_events(&mut tx, &scope, &rows.iter().collect::<Vec<_>>()).await?;
        tx.commit().await?;
        written += rows.len() as u64;
    }
    let rate = written as f64 / started.elapsed().as_secs_f64();
    db.close().await;
    Ok(rate)
}

/// p50 and p99 in milliseconds of 1,000 sequential GETs.
async fn latency(
    client: &reqwest::Client,
    token: &str,
    url: impl Fn(usize) -> String,
) -> anyhow::Result<(f64, f64)> {
    let mut ms = Vec::with_capacity(1000);
    for i in 0..1000 {
        let t = Instant::now();
        let r = client.get(url(i)).bearer_auth(token).send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        if !status.is_success() {
            bail!("{}: {status} {}", url(i), String::from_utf8_lossy(&body));
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok((ms[499], ms[989]))
}

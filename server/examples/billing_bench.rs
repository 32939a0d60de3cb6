//! `cargo xtask bench billing` runs this in release: 10,000 subscriptions whose period has
//! ended are renewed, invoiced and charged by two schedulers running at once (as two replicas
//! would), on the database named by the first argument (`sqlite` or a `postgres://` URL of a
//! server where it may create a database). Prints renewals per second and checks that
//! every subscription was invoiced once and charged once.

#[path = "common/bench_db.rs"]
mod bench_db;

use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use domain::billing::status::SubscriptionStatus;
use domain::billing::subscriptions::Item;
use domain::ids::{CustomerId, OrgId, SubscriptionId};
use neoforge_server::app;
use neoforge_server::billing::schedule::period_end;
use neoforge_server::billing::{Interval, scheduler};
use neoforge_server::config::{Cli, Command};
use neoforge_server::tenancy::{Env, Scope};
use serde_json::{Value, json};
use store::Backend;
use store::billing::{self as db, CustomerRow, SubscriptionRow};

const SUBSCRIPTIONS: usize = 10_000;
const DAY_MS: i64 = 24 * 3600 * 1000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let target = std::env::args()
        .nth(1)
        .context("usage: billing_bench sqlite|postgres://…")?;
    let (url, cleanup) = bench_db::fresh(&target).await?;
    let label = if target == "sqlite" {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let result = run(&url, label).await;
    cleanup.await;
    result
}

async fn run(url: &str, label: &str) -> anyhow::Result<()> {
    let cli = Cli::parse_from([
        "neoforge",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        url,
        "--billing-interval-secs",
        "0",
        "--webhook-interval-ms",
        "0",
    ]);
    let Command::Serve(args) = cli.command else {
        bail!("expected serve arguments");
    };
    let server = app::start(&args).await?;
    let base = format!("http://{}", server.addr);
    let (scope, price) = seed_catalog(&base).await?;
    let state = server.state.clone();

    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&scope).await?;
    let row = db::get_price(&mut tx, &scope, &price)
        .await?
        .context("price")?;
    let items = vec![Item {
        price,
        quantity: 1,
        terms: row.terms.0,
    }];
    for _ in 0..SUBSCRIPTIONS {
        let customer = customer(now);
        db::insert_customer(&mut tx, &scope, &customer).await?;
        db::insert_subscription(&mut tx, &scope, &subscription(&customer.id, &items, now)).await?;
    }
    tx.commit().await?;
    analyze(&state).await?;

    // Renewals first: each period ended a minute ago, so the drafts they create are due
    // in 59 minutes; then an hour later the drafts are finalized and charged.
    let (renewing, steps) = race(&state).await?;
    state.clock.advance(std::time::Duration::from_secs(3600));
    analyze(&state).await?;
    let (collecting, collection_steps) = race(&state).await?;
    let per_sec = |secs: f64| SUBSCRIPTIONS as f64 / secs;
    let mut conn = state.db.read_scoped(&scope).await?;
    let (invoices, subscriptions, charged_once): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT subscription_id),
         SUM(CASE WHEN status = 'paid' AND attempt_count = 1 THEN 1 ELSE 0 END) FROM invoices",
    )
    .fetch_one(&mut *conn)
    .await?;
    conn.end();
    println!(
        "{label}: {SUBSCRIPTIONS} due subscriptions renewed (new period, draft invoice) in {renewing:.2}s by two racing schedulers ({steps}): {:.0} renewals/s (goal >= 2000)",
        per_sec(renewing)
    );
    println!(
        "{label}: their invoices finalized and charged an hour later in {collecting:.2}s ({collection_steps}): {:.0} collections/s; both together {:.0} subscriptions/s",
        per_sec(collecting),
        per_sec(renewing + collecting)
    );
    println!(
        "{label}: {invoices} invoices for {subscriptions} subscriptions, {charged_once} paid with exactly one charge"
    );
    server.stop().await?;
    let expected = SUBSCRIPTIONS as i64;
    if (invoices, subscriptions, charged_once) != (expected, expected, expected) {
        bail!("a subscription was renewed or charged other than once");
    }
    Ok(())
}

/// What PostgreSQL's autovacuum does within a minute of a table's growth (and so long
/// before a period ends, or an hour passes): table statistics. Without them the planner
/// takes a fresh 10,000-row table for a tiny one and may read a customer or an invoice
/// through a `(tenant_id, env, …)` index, scanning the tenant's every row.
async fn analyze(state: &app::AppState) -> anyhow::Result<()> {
    if state.db.backend() == Backend::Postgres {
        sqlx::query("ANALYZE").execute(state.db.writer()).await?;
    }
    Ok(())
}

/// Two schedulers ticking at once until neither finds work: the seconds it took, and how
/// many pieces of work each did.
async fn race(state: &app::AppState) -> anyhow::Result<(f64, String)> {
    let started = Instant::now();
    let racer = || {
        let state = state.clone();
        tokio::spawn(async move {
            let mut done = 0;
            loop {
                match scheduler::tick(&state).await? {
                    0 => return anyhow::Ok(done),
                    n => done += n,
                }
            }
        })
    };
    let (a, b) = tokio::join!(racer(), racer());
    let (a, b) = (a??, b??);
    Ok((started.elapsed().as_secs_f64(), format!("{a} + {b} steps")))
}

/// An organization (by signing up) with a monthly price in its live environment.
async fn seed_catalog(base: &str) -> anyhow::Result<(Scope, String)> {
    let client = reqwest::Client::new();
    let signup: Value = client
        .post(format!("{base}/v1/users"))
        .json(&json!({"email": "bench@example.com", "password": "correct horse battery"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let session = signup["session"]["token"].as_str().context("token")?;
    let org = signup["organization"]["id"].as_str().context("org")?;
    let live = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(session)
            .header("NeoForge-Environment", "live")
            .json(&body)
            .send()
    };
    let product: Value = live("/v1/products", json!({"name": "Team"}))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let price: Value = live(
        "/v1/prices",
        json!({"product": product["id"], "currency": "usd", "model": "flat",
               "unit_amount": 4900, "recurring": {"interval": "month"}}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let scope = Scope {
        org_id: OrgId::from_db(org.to_owned()),
        env: Env::Live,
    };
    Ok((scope, price["id"].as_str().context("price")?.to_owned()))
}

/// The anchor whose first monthly period ends at `end`.
fn period_start_for(end: i64) -> i64 {
    let mut anchor = end - 31 * DAY_MS;
    while period_end(anchor, Interval::Month, 1, 1) < end {
        anchor += 60_000;
    }
    anchor
}

fn customer(now: i64) -> CustomerRow {
    CustomerRow {
        id: CustomerId::generate().to_string(),
        name: None,
        email: None,
        address: None,
        tax_ids: Default::default(),
        metadata: Default::default(),
        default_payment_method: Some("pm_card_visa".into()),
        currency: Some("usd".into()),
        balance: 0,
        test_clock: None,
        created_at: now,
        updated_at: now,
        external_id: None,
    }
}

/// Active, its first month ended a minute ago: due now.
fn subscription(customer: &str, items: &[Item], now: i64) -> SubscriptionRow {
    let anchor = period_start_for(now - 60_000);
    SubscriptionRow {
        id: SubscriptionId::generate().to_string(),
        customer_id: customer.to_owned(),
        status: SubscriptionStatus::Active.into(),
        items: items.to_vec().into(),
        currency: "usd".into(),
        billing_cycle_anchor: anchor,
        periods: 1,
        current_period_start: anchor,
        current_period_end: period_end(anchor, Interval::Month, 1, 1),
        trial_end: None,
        cancel_at_period_end: 0,
        canceled_at: None,
        created_at: anchor,
        pending_lines: Default::default(),
        discount: None,
        tax_rates: Default::default(),
        missing_payment_method: Default::default(),
        trial_will_end_at: None,
        cancellation_reason: None,
    }
}

//! Billing time: does the work that falls due — renewing subscriptions whose period ended,
//! telling that a trial ends soon, finalizing and collecting invoices — on real time (`tick`, every few seconds) and, in the
//! sandbox, when a test clock moves (`run_clock`, which replays the due work in time order,
//! as Stripe's test clocks do). Safe with several replicas: each piece of work is claimed
//! (its row locked, or skipped while another replica holds it) and re-checked once claimed,
//! so a period is billed, and an attempt charged, once.

use std::collections::HashMap;
use std::time::Duration;

use super::Notices;
use super::collection::{self, Prepared};
use super::stripe::StripeProvider;
use super::subscriptions::renew_all;
use crate::app::AppState;
use crate::audit::ActorRef;
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::{Env, Scope};
use domain::billing::payments::Outcome;
use domain::billing::status::SubscriptionStatus;
use domain::ids::OrgId;
use store::Claim;
use store::billing::{self as db, CustomerRow, Due, SubscriptionRow};

const BATCH: i64 = 1000;
/// Pieces of work done in one transaction: fewer commits, each a disk sync.
const CHUNK: usize = 100;
/// Batches in flight at once (each holds a connection while it writes).
const CONCURRENCY: usize = 4;
/// The most billing steps (renewals, finalizations, payment attempts: each a transaction at
/// its time) one advance does, a few seconds' work; a longer advance stops there.
pub const MAX_CLOCK_STEPS: usize = 1_000;
pub const SYSTEM: ActorRef<'static> = ActorRef {
    kind: "system",
    id: "billing_scheduler",
    ip: None,
};

/// Does what is due on real time; returns how many pieces of work it did. Work is grouped by
/// tenant and environment into batches of `CHUNK`, `CONCURRENCY` batches at a time.
pub async fn tick(state: &AppState) -> ApiResult<usize> {
    // Usage alerts of the periods about to end first.
    state.ingest.settle_alerts().await;
    let now = state.clock.now_ms();
    let mut batches: Vec<(Scope, Vec<Due>)> = Vec::new();
    for (tenant, env, due) in db::due_on_real_time(state.db.reader(), now, BATCH).await? {
        let Some(env) = Env::parse(&env) else {
            tracing::error!(%env, "due work in an unknown environment");
            continue;
        };
        let scope = Scope {
            org_id: OrgId::from_db(tenant),
            env,
        };
        // Due work of many tenants comes interleaved in time order; each joins its tenant's
        // open batch, so batches stay full.
        match batches
            .iter_mut()
            .rev()
            .find(|(s, work)| *s == scope && work.len() < CHUNK)
        {
            Some((_, work)) => work.push(due),
            None => batches.push((scope, vec![due])),
        }
    }
    let mut running = tokio::task::JoinSet::new();
    let mut done = 0;
    for (scope, work) in batches {
        if running.len() >= CONCURRENCY {
            done += finished(running.join_next().await);
        }
        let state = state.clone();
        running.spawn(async move { perform(&state, &scope, work, now).await });
    }
    while let Some(result) = running.join_next().await {
        done += finished(Some(result));
    }
    Ok(done)
}

fn finished(result: Option<Result<ApiResult<usize>, tokio::task::JoinError>>) -> usize {
    match result {
        Some(Ok(Ok(n))) => n,
        Some(Ok(Err(e))) => {
            tracing::error!(error = %e, "billing batch failed");
            0
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "billing batch panicked");
            0
        }
        None => 0,
    }
}

/// Replays, in time order, everything due up to `until` on the customers that follow test
/// clock `clock`, each step at the time it fell due.
pub async fn run_clock(
    state: &AppState,
    scope: &Scope,
    clock: &str,
    until: i64,
) -> ApiResult<usize> {
    state.ingest.settle_alerts().await;
    let mut reached = None;
    for steps in 0..=MAX_CLOCK_STEPS {
        let next = {
            let mut conn = state.db.read_scoped(scope).await?;
            let next = db::next_due_on_clock(&mut conn, scope, clock, until).await?;
            conn.end();
            next
        };
        let Some((at, due)) = next else {
            let mut tx = state.db.write_scoped(scope).await?;
            db::set_frozen_time(&mut tx, scope, clock, until).await?;
            tx.commit().await?;
            return Ok(steps);
        };
        if steps == MAX_CLOCK_STEPS {
            break;
        }
        // The clock reads each step's time while it is done, so what reads the customer's
        // time (`now_for`) sees when the work fell due.
        let mut tx = state.db.write_scoped(scope).await?;
        db::set_frozen_time(&mut tx, scope, clock, at).await?;
        tx.commit().await?;
        if perform(state, scope, vec![due.clone()], at).await? == 0 {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "{due:?} was due at {at} and did not move"
            )));
        }
        reached = Some(at);
    }
    // The clock reads where the work reached, so what it shows is what was done.
    let reached = reached.unwrap_or(until);
    let mut tx = state.db.write_scoped(scope).await?;
    db::set_frozen_time(&mut tx, scope, clock, reached).await?;
    tx.commit().await?;
    Err(ApiError::Unprocessable {
        code: "test_clock_advance_too_long",
        detail: format!(
            "The advance needed more than {MAX_CLOCK_STEPS} billing steps; the clock stopped at {}, with the work up to then done. Advance it in smaller steps.",
            domain::clock::timestamp::to_rfc3339(reached)
        ),
    })
}

/// Does due work of one scope at `at`: all of it in one transaction, then the payment
/// attempts it claimed are charged outside any transaction and settled together. When a
/// piece fails, its batch is rolled back and redone piece by piece, so one failure holds
/// nothing else back. Returns how many pieces were still due.
async fn perform(state: &AppState, scope: &Scope, work: Vec<Due>, at: i64) -> ApiResult<usize> {
    match claim(state, scope, &work, at).await {
        Ok((done, attempts)) => {
            collect(state, scope, attempts, at).await;
            Ok(done)
        }
        Err(e) if work.len() > 1 => {
            tracing::warn!(error = %e, "a billing batch failed; doing its pieces one by one");
            let mut done = 0;
            for due in work {
                match claim(state, scope, std::slice::from_ref(&due), at).await {
                    Ok((n, attempts)) => {
                        collect(state, scope, attempts, at).await;
                        done += n;
                    }
                    Err(e) => tracing::error!(?due, error = %e, "billing work failed"),
                }
            }
            Ok(done)
        }
        Err(e) => Err(e),
    }
}

/// Renews, finalizes and claims payment attempts in one transaction: renewals first, as
/// when a test clock finds both due at once.
async fn claim(
    state: &AppState,
    scope: &Scope,
    work: &[Due],
    at: i64,
) -> ApiResult<(usize, Vec<collection::Attempt>)> {
    let mut tx = state.db.write_scoped(scope).await?;
    let renewals: Vec<&str> = work
        .iter()
        .filter_map(|due| match due {
            Due::Renewal(id) => Some(id.as_str()),
            _ => None,
        })
        .collect();
    let mut done = renew_due(&mut tx, state, scope, &renewals, at).await?;
    let mut attempts = Vec::new();
    let mut notices = Notices::default();
    for due in work {
        match due {
            Due::Renewal(_) => {}
            Due::TrialWillEnd(id) => {
                done += usize::from(trial_will_end(&mut tx, scope, &mut notices, id, at).await?)
            }
            Due::Invoice(id) => {
                match collection::prepare(&mut tx, scope, &mut notices, id, at, false).await? {
                    Prepared::NotDue => {}
                    Prepared::Settled => done += 1,
                    Prepared::Charge(attempt) => {
                        done += 1;
                        attempts.push(*attempt);
                    }
                }
            }
        }
    }
    notices.write(&mut tx, &state.clock, scope, &SYSTEM).await?;
    tx.commit().await?;
    Ok((done, attempts))
}

/// Sends `subscription.trial_will_end` for a subscription whose reminder is due at `at`,
/// if it is still trialing; false when it was no longer due (another replica sent it).
async fn trial_will_end(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    notices: &mut Notices,
    id: &str,
    at: i64,
) -> ApiResult<bool> {
    let mut claimed = db::claim_subscriptions(tx, scope, &[id], Claim::Skip).await?;
    let Some(mut sub) = claimed
        .pop()
        .filter(|s| s.trial_will_end_at.is_some_and(|t| t <= at))
    else {
        return Ok(false);
    };
    sub.trial_will_end_at = None;
    db::update_subscription(tx, scope, &sub).await?;
    if sub.status == SubscriptionStatus::Trialing {
        notices.add("subscription.trial_will_end", &sub)?;
    }
    Ok(true)
}

/// Renews the subscriptions among `ids` that are still due at `at` (another replica may
/// have got there first); returns how many.
async fn renew_due(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    ids: &[&str],
    at: i64,
) -> ApiResult<usize> {
    let subs: Vec<SubscriptionRow> = db::claim_subscriptions(tx, scope, ids, Claim::Skip)
        .await?
        .into_iter()
        .filter(|sub| sub.status.bills() && sub.current_period_end <= at)
        .collect();
    let customer_ids: Vec<&str> = subs.iter().map(|s| s.customer_id.as_str()).collect();
    let customers: HashMap<String, CustomerRow> = db::get_customers(tx, scope, &customer_ids)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let due = subs
        .into_iter()
        .map(|sub| match customers.get(&sub.customer_id) {
            Some(customer) => Ok((sub, customer.clone())),
            None => Err(ApiError::NotFound("customer")),
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let renewed = due.len();
    renew_all(tx, &state.clock, scope, &SYSTEM, due).await?;
    Ok(renewed)
}

/// Charges claimed attempts and records the outcomes, together or, if that fails, one by
/// one. A charge or record that fails leaves its lease: the attempt is retried after it, with
/// the same key.
async fn collect(state: &AppState, scope: &Scope, attempts: Vec<collection::Attempt>, at: i64) {
    if attempts.is_empty() {
        return;
    }
    let stripe = match StripeProvider::load(state, scope).await {
        Ok(stripe) => stripe,
        Err(e) => {
            tracing::error!(error = %e, "no payment provider; attempts retried after their lease");
            return;
        }
    };
    let mut outcomes = Vec::new();
    for attempt in attempts {
        match collection::charge_attempt(state, stripe.as_ref(), &attempt).await {
            Ok(outcome) => outcomes.push((attempt, outcome)),
            Err(e) => {
                tracing::error!(error = %e, "payment attempt failed; retried after its lease")
            }
        }
    }
    if outcomes.is_empty() || settle(state, scope, &outcomes, at).await.is_ok() {
        return;
    }
    for one in outcomes.chunks(1) {
        if let Err(e) = settle(state, scope, one, at).await {
            tracing::error!(error = %e, "settling a payment failed; retried after its lease");
        }
    }
}

async fn settle(
    state: &AppState,
    scope: &Scope,
    outcomes: &[(collection::Attempt, Outcome)],
    at: i64,
) -> ApiResult<()> {
    let mut tx = state.db.write_scoped(scope).await?;
    let mut notices = Notices::default();
    for (attempt, outcome) in outcomes {
        collection::settle(&mut tx, scope, &mut notices, attempt, outcome.clone(), at).await?;
    }
    notices.write(&mut tx, &state.clock, scope, &SYSTEM).await?;
    tx.commit().await?;
    Ok(())
}

/// Runs `tick` every `every` until the process ends; failures are logged and retried.
pub async fn run(state: AppState, every: Duration) {
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        match tick(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(done = n, "billing scheduler"),
            Err(e) => tracing::error!(error = %e, "billing scheduler failed; retrying next tick"),
        }
    }
}

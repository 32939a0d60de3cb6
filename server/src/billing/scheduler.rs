//! Billing time: does the work that falls due — renewing subscriptions whose period ended,
//! finalizing and collecting invoices — on real time (`tick`, every few seconds) and, in the
//! sandbox, when a test clock moves (`run_clock`, which replays the due work in time order,
//! as Stripe's test clocks do). Safe with several replicas: each piece of work is claimed in
//! its own transaction and re-checked once claimed, so a period is billed, and an attempt
//! charged, once.

use std::time::Duration;

use super::collection;
use super::store::{self as db, Due};
use super::subscriptions::{bills, renew};
use crate::app::AppState;
use crate::audit::ActorRef;
use crate::http::error::{ApiError, ApiResult};
use crate::ids::OrgId;
use crate::tenancy::{Env, Scope};

const BATCH: i64 = 500;
/// Pieces of work in flight at once (each holds a connection while it writes).
const CONCURRENCY: usize = 8;
/// More steps than this in one advance is a runaway, not billing.
const MAX_CLOCK_STEPS: usize = 100_000;
pub const SYSTEM: ActorRef<'static> = ActorRef {
    kind: "system",
    id: "billing_scheduler",
    ip: None,
};

/// Does what is due on real time, `CONCURRENCY` pieces at a time; returns how many it did.
/// One failing is logged and does not hold the others back.
pub async fn tick(state: &AppState) -> ApiResult<usize> {
    let now = state.clock.now_ms();
    let mut running = tokio::task::JoinSet::new();
    let mut done = 0;
    for (tenant, env, due) in db::due_on_real_time(state.db.reader(), now, BATCH).await? {
        let Some(env) = Env::parse(&env) else {
            tracing::error!(%env, "due work in an unknown environment");
            continue;
        };
        let scope = Scope {
            org_id: OrgId::from_db(tenant),
            env,
        };
        if running.len() >= CONCURRENCY {
            done += finished(running.join_next().await);
        }
        let state = state.clone();
        running.spawn(async move {
            let result = perform(&state, &scope, &due, now).await;
            if let Err(e) = &result {
                tracing::error!(?due, error = %e, "billing work failed");
            }
            result
        });
    }
    while let Some(result) = running.join_next().await {
        done += finished(Some(result));
    }
    Ok(done)
}

fn finished(result: Option<Result<ApiResult<bool>, tokio::task::JoinError>>) -> usize {
    match result {
        Some(Ok(Ok(true))) => 1,
        Some(Err(e)) => {
            tracing::error!(error = %e, "billing work panicked");
            0
        }
        _ => 0,
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
    for steps in 0..MAX_CLOCK_STEPS {
        let next = {
            let mut conn = state.db.read_scoped(scope).await?;
            let next = db::next_due_on_clock(&mut conn, scope, clock, until).await?;
            conn.commit().await?;
            next
        };
        let Some((at, due)) = next else {
            return Ok(steps);
        };
        if !perform(state, scope, &due, at).await? {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "{due:?} was due at {at} and did not move"
            )));
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "test clock {clock}: more than {MAX_CLOCK_STEPS} billing steps"
    )))
}

/// Does one piece of work at `at`; false when it was no longer due.
async fn perform(state: &AppState, scope: &Scope, due: &Due, at: i64) -> ApiResult<bool> {
    match due {
        Due::Renewal(id) => {
            let mut tx = state.db.write_scoped(scope).await?;
            let Some(mut sub) = db::claim_subscription(&mut tx, scope, id).await? else {
                return Ok(false);
            };
            if !(bills(&sub.status) && sub.current_period_end <= at) {
                return Ok(false); // another replica got there first
            }
            let customer = db::get_customer(&mut tx, scope, &sub.customer_id)
                .await?
                .ok_or(ApiError::NotFound("customer"))?;
            let period_end = sub.current_period_end;
            renew(
                &mut tx, state, scope, &SYSTEM, &mut sub, &customer, period_end,
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        }
        Due::Invoice(id) => Ok(collection::process(state, scope, &SYSTEM, id, at, false)
            .await?
            .is_some()),
    }
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

//! Real-time billing: renews subscriptions whose period has ended (those on a test clock move
//! only when their clock does). Safe with several replicas: each subscription is claimed in
//! its own transaction and re-checked once claimed, so a period is billed exactly once.

use std::time::Duration;

use super::store as db;
use super::subscriptions::{bills, catch_up};
use crate::app::AppState;
use crate::audit::ActorRef;
use crate::http::error::{ApiError, ApiResult};
use crate::ids::OrgId;
use crate::tenancy::{Env, Scope};

const BATCH: i64 = 100;
const SYSTEM: ActorRef<'static> = ActorRef {
    kind: "system",
    id: "billing_scheduler",
    ip: None,
};

/// Renews what is due now; returns how many subscriptions it brought up to date. One
/// subscription failing is logged and does not hold the others back.
pub async fn tick(state: &AppState) -> ApiResult<usize> {
    let now = state.clock.now_ms();
    let mut renewed = 0;
    for (tenant, env, id) in db::due_on_real_time(state.db.reader(), now, BATCH).await? {
        match renew(state, tenant, &env, &id, now).await {
            Ok(true) => renewed += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(subscription = %id, error = %e, "renewal failed"),
        }
    }
    Ok(renewed)
}

/// Claims one subscription and brings it up to `now`; false when it was no longer due.
async fn renew(state: &AppState, tenant: String, env: &str, id: &str, now: i64) -> ApiResult<bool> {
    let env =
        Env::parse(env).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("bad env {env:?}")))?;
    let scope = Scope {
        org_id: OrgId::from_db(tenant),
        env,
    };
    let mut tx = state.db.write_scoped(&scope).await?;
    let Some(mut sub) = db::claim_subscription(&mut tx, &scope, id).await? else {
        return Ok(false);
    };
    let still_due = bills(&sub.status) && sub.current_period_end <= now;
    if !still_due {
        return Ok(false); // another replica got there first
    }
    let customer = db::get_customer(&mut tx, &scope, &sub.customer_id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    catch_up(
        &mut tx,
        &scope,
        &SYSTEM,
        &mut sub,
        customer.default_payment_method.as_deref(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Runs `tick` every `every` until the process ends; failures are logged and retried.
pub async fn run(state: AppState, every: Duration) {
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        match tick(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(renewed = n, "billing scheduler"),
            Err(e) => tracing::error!(error = %e, "billing scheduler failed; retrying next tick"),
        }
    }
}

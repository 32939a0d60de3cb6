//! Customer health (`/v1/analytics/health`): each subscribed customer's score from
//! `domain::analytics::health`, worst first, with the rules that took points off: the
//! at-risk list. Signals are read at a time (`at`, default now): the subscriptions' states,
//! payments recovered after a failure and contractions in the 90 days before, and usage
//! events in the 30 days before against the 30 before those.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::report::text;
use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{self, Query};
use crate::tenancy::Permission;
use domain::analytics::{Band, Deduction, MovementKind, Signals, health};
use domain::billing::status::{InvoiceStatus, SubscriptionStatus};
use domain::clock::timestamp;
use domain::ids::CustomerId;
use store::analytics as db;
use store::billing as billing_db;
use store::metering as metering_db;

const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HealthQuery {
    /// When to score (RFC 3339); default now. In the sandbox, a test clock's time.
    pub at: Option<String>,
    /// Only customers in this band.
    #[param(inline)]
    pub band: Option<Band>,
    /// Only this customer.
    pub customer: Option<CustomerId>,
    /// At most this many, worst first: 1 to 1,000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerHealth {
    pub customer: CustomerId,
    /// 0 to 100.
    pub score: u8,
    pub band: Band,
    /// Its MRR as last recorded, minor units of `currency`.
    pub mrr: String,
    pub currency: Option<String>,
    /// The rules that took points off.
    pub deductions: Vec<Deduction>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthList {
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "timestamp::serialize")]
    pub at: i64,
    /// Worst first.
    pub data: Vec<CustomerHealth>,
}

/// Each subscribed customer's health score (0 to 100) with the signals that lowered it,
/// worst first: who is at risk of churning and why.
#[utoipa::path(
    get, path = "/v1/analytics/health", tag = "analytics", operation_id = "analytics_health",
    params(HealthQuery),
    responses(
        (status = 200, description = "Customers' health, worst first", body = HealthList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HealthQuery>,
) -> ApiResult<axum::Json<HealthList>> {
    caller.require(Permission::BillingRead)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::validation("limit", "must be 1 to 1000"));
    }
    let at = extract::timestamp("at", q.at.as_deref())?.unwrap_or_else(|| state.clock.now_ms());
    let scope = &caller.scope;
    let mut c = state.db.read_scoped(scope).await?;
    let subscriptions = billing_db::list_subscriptions(&mut c, scope, None, None, i64::MAX).await?;
    let paid = billing_db::list_invoices(
        &mut c,
        scope,
        None,
        None,
        Some(InvoiceStatus::Paid),
        None,
        i64::MAX,
    )
    .await?;
    let moves = db::movements(&mut c, scope, None, (at - 90 * DAY_MS, at)).await?;
    let recent = metering_db::event_counts(&mut c, scope, (at - 30 * DAY_MS, at)).await?;
    let before =
        metering_db::event_counts(&mut c, scope, (at - 60 * DAY_MS, at - 30 * DAY_MS)).await?;
    let mrr: HashMap<String, (String, String)> = db::all_customer_mrr(&mut c, scope)
        .await?
        .into_iter()
        .map(|m| (m.customer_id, (text(m.mrr.0), m.currency)))
        .collect();
    let mut signals: HashMap<String, Signals> = HashMap::new();
    let mut trialing = HashSet::new();
    for s in subscriptions.iter().filter(|s| s.created_at <= at) {
        use SubscriptionStatus::*;
        if matches!(s.status.0, Canceled | IncompleteExpired) {
            continue;
        }
        let e = signals.entry(s.customer_id.clone()).or_default();
        e.cancellation_scheduled |= s.cancel_at_period_end == 1;
        e.past_due |= s.status.0 == PastDue;
        e.unpaid |= s.status.0 == Unpaid;
        if s.status.0 == Trialing && s.trial_end.is_some_and(|end| end - at <= 7 * DAY_MS) {
            trialing.insert(s.customer_id.clone());
        }
    }
    for customer in &trialing {
        let found = billing_db::get_customer(&mut c, scope, customer).await?;
        if let (Some(found), Some(e)) = (found, signals.get_mut(customer)) {
            e.trial_without_payment_method = found.default_payment_method.is_none();
        }
    }
    c.end();
    let window = at - 90 * DAY_MS..at;
    for i in paid.iter().filter(|i| i.attempt_count > 1) {
        if let (Some(paid_at), Some(e)) = (i.paid_at, signals.get_mut(&i.customer_id))
            && window.contains(&paid_at)
        {
            e.recovered_payments += 1;
        }
    }
    for m in moves
        .iter()
        .filter(|m| m.kind.0 == MovementKind::Contraction)
    {
        if let Some(e) = signals.get_mut(&m.customer_id) {
            e.contractions += 1;
        }
    }
    for (counts, recent) in [(&recent, true), (&before, false)] {
        for (customer, n) in counts {
            if let Some(e) = signals.get_mut(customer) {
                *(if recent {
                    &mut e.usage_recent
                } else {
                    &mut e.usage_before
                }) = *n;
            }
        }
    }
    let mut data: Vec<CustomerHealth> = signals
        .into_iter()
        .filter(|(id, _)| q.customer.as_ref().is_none_or(|c| c.as_str() == id))
        .map(|(id, s)| {
            let (score, band, deductions) = health(&s);
            let (mrr, currency) = mrr
                .get(&id)
                .cloned()
                .map_or(("0".to_owned(), None), |(m, c)| (m, Some(c)));
            CustomerHealth {
                customer: CustomerId::from_db(id),
                score,
                band,
                mrr,
                currency,
                deductions,
            }
        })
        .filter(|h| q.band.is_none_or(|b| b == h.band))
        .collect();
    data.sort_by(|a, b| (a.score, &a.customer).cmp(&(b.score, &b.customer)));
    data.truncate(limit as usize);
    Ok(axum::Json(HealthList { at, data }))
}

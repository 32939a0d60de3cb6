//! Revenue analytics' API: MRR and its movements per window (`/v1/analytics/mrr`, as JSON,
//! or CSV for `Accept: text/csv`), cohorts by first paid month (`/v1/analytics/cohorts`),
//! and the movements themselves with their customer and cause (`/v1/analytics/movements`).
//! Amounts are exact decimal strings in minor units of the one currency asked for:
//! currencies are never mixed.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::report::{Cohort, MrrWindow, cohorts, mrr_windows, text, windows};
use crate::app::AppState;
use crate::billing::check_currency;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{self, Query};
use crate::tenancy::Permission;
use domain::analytics::MovementKind;
use domain::billing::Interval;
use domain::clock::timestamp;
use domain::ids::{CustomerId, MovementId, SubscriptionId};
use store::analytics as db;

/// Movements a list returns at most.
const MAX_MOVEMENTS: i64 = 1000;

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    Day,
    #[default]
    Month,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MrrQuery {
    /// The currency reported, in minor units (ISO 4217, lower case).
    #[param(example = "usd")]
    pub currency: String,
    /// The first window's start (RFC 3339).
    #[param(example = "2027-01-01T00:00:00Z")]
    pub from: String,
    /// Where the windows end (RFC 3339, exclusive); default now.
    pub to: Option<String>,
    /// Each window's length: `month` (default) or `day`, from `from`.
    #[param(inline)]
    pub interval: Option<Window>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MrrReport {
    pub currency: String,
    pub data: Vec<MrrWindow>,
}

fn csv(r: &MrrReport) -> String {
    let mut out = String::from(
        "start,end,currency,mrr_start,mrr,arr,customers_start,customers,new,expansion,\
         contraction,churn,reactivation,net,new_customers,churned_customers,\
         reactivated_customers,arpa,customer_churn_rate,gross_mrr_churn_rate,\
         net_mrr_churn_rate,net_revenue_retention,gross_revenue_retention,quick_ratio,ltv\n",
    );
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    for w in &r.data {
        let cells = [
            timestamp::to_rfc3339(w.start),
            timestamp::to_rfc3339(w.end),
            r.currency.clone(),
            w.mrr_start.clone(),
            w.mrr.clone(),
            w.arr.clone(),
            w.customers_start.to_string(),
            w.customers.to_string(),
            w.new.clone(),
            w.expansion.clone(),
            w.contraction.clone(),
            w.churn.clone(),
            w.reactivation.clone(),
            w.net.clone(),
            w.new_customers.to_string(),
            w.churned_customers.to_string(),
            w.reactivated_customers.to_string(),
            opt(&w.arpa),
            opt(&w.customer_churn_rate),
            opt(&w.gross_mrr_churn_rate),
            opt(&w.net_mrr_churn_rate),
            opt(&w.net_revenue_retention),
            opt(&w.gross_revenue_retention),
            opt(&w.quick_ratio),
            opt(&w.ltv),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// The range a query asks for: `[from, to)`, `to` by default now.
fn range(state: &AppState, from: &str, to: Option<&str>) -> ApiResult<(i64, i64)> {
    let from = extract::timestamp("from", Some(from))?.unwrap_or_default();
    let to = extract::timestamp("to", to)?.unwrap_or_else(|| state.clock.now_ms());
    if from >= to {
        return Err(ApiError::validation("from", "must be before to"));
    }
    Ok((from, to))
}

/// MRR per window with its movements (new, expansion, contraction, churn, reactivation),
/// ARR and customers, from the recorded history of subscription changes: a past window
/// reads the same every time. As JSON, or as CSV when the request accepts `text/csv`.
#[utoipa::path(
    get, path = "/v1/analytics/mrr", tag = "analytics", operation_id = "analytics_mrr",
    params(MrrQuery),
    responses(
        (status = 200, description = "The windows (as `text/csv` when asked for with `Accept`: a header row and a row per window)",
         content(
             (MrrReport = "application/json"),
             (String = "text/csv"),
         )),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn mrr(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<MrrQuery>,
) -> ApiResult<Response> {
    caller.require(Permission::BillingRead)?;
    let currency = check_currency(&q.currency)?;
    let (from, to) = range(&state, &q.from, q.to.as_deref())?;
    let interval = match q.interval.unwrap_or_default() {
        Window::Day => Interval::Day,
        Window::Month => Interval::Month,
    };
    let bounds = windows(from, to, interval)?;
    let mut c = state.db.read_scoped(&caller.scope).await?;
    let movements = db::movements(&mut c, &caller.scope, Some(&currency), (i64::MIN, to)).await?;
    c.end();
    let report = MrrReport {
        data: mrr_windows(&movements, &bounds),
        currency,
    };
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
    Ok(match wants_csv {
        false => axum::Json(report).into_response(),
        true => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&report),
        )
            .into_response(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MovementQuery {
    /// The currency of the movements (ISO 4217, lower case).
    #[param(example = "usd")]
    pub currency: String,
    /// Movements at or after (RFC 3339).
    pub from: String,
    /// Movements before (RFC 3339); default now.
    pub to: Option<String>,
    /// Only this customer's.
    pub customer: Option<CustomerId>,
}

/// A change of one customer's MRR, and the subscription event that caused it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Movement {
    pub id: MovementId,
    pub customer: CustomerId,
    pub subscription: SubscriptionId,
    /// The event that changed it (`subscription.updated`).
    pub cause: String,
    pub kind: MovementKind,
    pub currency: String,
    pub mrr_before: String,
    pub mrr_after: String,
    pub delta: String,
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "timestamp::serialize")]
    pub at: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MovementList {
    /// Oldest first, at most 1,000: narrow the range for more.
    pub data: Vec<Movement>,
    /// True when the range held more than were returned.
    pub has_more: bool,
}

/// The movements of MRR in a range, oldest first, each with its customer, subscription and
/// cause.
#[utoipa::path(
    get, path = "/v1/analytics/movements", tag = "analytics", operation_id = "analytics_movements",
    params(MovementQuery),
    responses(
        (status = 200, description = "The movements", body = MovementList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn movements(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<MovementQuery>,
) -> ApiResult<axum::Json<MovementList>> {
    caller.require(Permission::BillingRead)?;
    let currency = check_currency(&q.currency)?;
    let (from, to) = range(&state, &q.from, q.to.as_deref())?;
    let mut c = state.db.read_scoped(&caller.scope).await?;
    let rows = db::movements(&mut c, &caller.scope, Some(&currency), (from, to)).await?;
    c.end();
    let mut data: Vec<Movement> = rows
        .into_iter()
        .filter(|m| {
            q.customer
                .as_ref()
                .is_none_or(|c| c.as_str() == m.customer_id)
        })
        .map(|m| Movement {
            id: MovementId::from_db(m.id),
            customer: CustomerId::from_db(m.customer_id),
            subscription: SubscriptionId::from_db(m.subscription_id),
            cause: m.cause,
            kind: m.kind.0,
            currency: m.currency,
            mrr_before: text(m.mrr_before.0),
            mrr_after: text(m.mrr_after.0),
            delta: text(m.delta.0),
            at: m.at,
        })
        .collect();
    let has_more = data.len() as i64 > MAX_MOVEMENTS;
    data.truncate(MAX_MOVEMENTS as usize);
    Ok(axum::Json(MovementList { data, has_more }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CohortQuery {
    /// The currency reported (ISO 4217, lower case).
    #[param(example = "usd")]
    pub currency: String,
    /// The first cohort's month starts here (RFC 3339).
    #[param(example = "2027-01-01T00:00:00Z")]
    pub from: String,
    /// Where the last month ends (RFC 3339, exclusive); default now.
    pub to: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CohortReport {
    pub currency: String,
    /// A cohort per month that customers first paid in, oldest first.
    pub data: Vec<Cohort>,
}

/// Cohorts by the month customers first paid in: for each, how many of them and how much of
/// their MRR remain at the end of every month since (customer and revenue retention).
#[utoipa::path(
    get, path = "/v1/analytics/cohorts", tag = "analytics", operation_id = "analytics_cohorts",
    params(CohortQuery),
    responses(
        (status = 200, description = "The cohorts", body = CohortReport),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn cohort_table(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CohortQuery>,
) -> ApiResult<axum::Json<CohortReport>> {
    caller.require(Permission::BillingRead)?;
    let currency = check_currency(&q.currency)?;
    let (from, to) = range(&state, &q.from, q.to.as_deref())?;
    let bounds = windows(from, to, Interval::Month)?;
    let mut c = state.db.read_scoped(&caller.scope).await?;
    let movements = db::movements(&mut c, &caller.scope, Some(&currency), (i64::MIN, to)).await?;
    c.end();
    Ok(axum::Json(CohortReport {
        data: cohorts(&movements, &bounds),
        currency,
    }))
}

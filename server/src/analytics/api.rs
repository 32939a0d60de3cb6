//! Revenue analytics' API: MRR and its movements per window (`/v1/analytics/mrr`, as JSON,
//! or CSV for `Accept: text/csv`), and the movements themselves with their customer and cause
//! (`/v1/analytics/movements`). Amounts are exact decimal strings in minor units of the one
//! currency asked for: currencies are never mixed.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::billing::check_currency;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{self, Query};
use crate::tenancy::Permission;
use domain::analytics::MovementKind;
use domain::billing::Interval;
use domain::billing::schedule::period_end;
use domain::clock::timestamp;
use domain::ids::{CustomerId, MovementId, SubscriptionId};
use store::analytics::{self as db, MovementRow};

/// Windows a report may have.
const MAX_WINDOWS: usize = 400;
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

/// One window: MRR at its end and what moved it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MrrWindow {
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "timestamp::serialize")]
    pub start: i64,
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "timestamp::serialize")]
    pub end: i64,
    /// MRR at the window's start, minor units (exact decimal).
    #[schema(example = "120000")]
    pub mrr_start: String,
    /// MRR at its end.
    #[schema(example = "125000")]
    pub mrr: String,
    /// 12 × `mrr`.
    pub arr: String,
    /// Customers with MRR at the window's end.
    pub customers: i64,
    pub new: String,
    pub expansion: String,
    pub contraction: String,
    pub churn: String,
    pub reactivation: String,
    /// The sum of the movements: `mrr` − `mrr_start`.
    pub net: String,
    pub new_customers: i64,
    pub churned_customers: i64,
    pub reactivated_customers: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MrrReport {
    pub currency: String,
    pub data: Vec<MrrWindow>,
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

/// The windows' bounds from `from` to `to`.
fn windows(from: i64, to: i64, w: Window) -> ApiResult<Vec<(i64, i64)>> {
    let interval = match w {
        Window::Day => Interval::Day,
        Window::Month => Interval::Month,
    };
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        if out.len() == MAX_WINDOWS {
            return Err(ApiError::validation(
                "interval",
                "too many windows for the range (at most 400)",
            ));
        }
        let end = period_end(from, interval, 1, out.len() as i64 + 1).min(to);
        out.push((start, end));
        start = end;
    }
    Ok(out)
}

/// The report of `movements` (every one before the last window's end, oldest first).
fn report(movements: &[MovementRow], bounds: &[(i64, i64)]) -> Vec<MrrWindow> {
    let mut mrr = Decimal::ZERO;
    let mut customers = 0i64;
    let mut rows = movements.iter().peekable();
    let apply = |m: &MovementRow, mrr: &mut Decimal, customers: &mut i64| {
        *mrr += m.delta.0;
        match m.kind.0 {
            MovementKind::New | MovementKind::Reactivation => *customers += 1,
            MovementKind::Churn => *customers -= 1,
            MovementKind::Expansion | MovementKind::Contraction => {}
        }
    };
    let first = bounds.first().map_or(0, |b| b.0);
    while let Some(m) = rows.next_if(|m| m.at < first) {
        apply(m, &mut mrr, &mut customers);
    }
    bounds
        .iter()
        .map(|&(start, end)| {
            let mrr_start = mrr;
            let mut sums: HashMap<MovementKind, (Decimal, i64)> = HashMap::new();
            while let Some(m) = rows.next_if(|m| m.at < end) {
                apply(m, &mut mrr, &mut customers);
                let s = sums.entry(m.kind.0).or_default();
                *s = (s.0 + m.delta.0, s.1 + 1);
            }
            let sum = |k| sums.get(&k).copied().unwrap_or_default();
            MrrWindow {
                start,
                end,
                mrr_start: text(mrr_start),
                mrr: text(mrr),
                arr: text(mrr * Decimal::from(12)),
                customers,
                new: text(sum(MovementKind::New).0),
                expansion: text(sum(MovementKind::Expansion).0),
                contraction: text(sum(MovementKind::Contraction).0),
                churn: text(sum(MovementKind::Churn).0),
                reactivation: text(sum(MovementKind::Reactivation).0),
                net: text(mrr - mrr_start),
                new_customers: sum(MovementKind::New).1,
                churned_customers: sum(MovementKind::Churn).1,
                reactivated_customers: sum(MovementKind::Reactivation).1,
            }
        })
        .collect()
}

fn csv(r: &MrrReport) -> String {
    let mut out = String::from(
        "start,end,currency,mrr_start,mrr,arr,customers,new,expansion,contraction,churn,\
         reactivation,net,new_customers,churned_customers,reactivated_customers\n",
    );
    for w in &r.data {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            timestamp::to_rfc3339(w.start),
            timestamp::to_rfc3339(w.end),
            r.currency,
            w.mrr_start,
            w.mrr,
            w.arr,
            w.customers,
            w.new,
            w.expansion,
            w.contraction,
            w.churn,
            w.reactivation,
            w.net,
            w.new_customers,
            w.churned_customers,
            w.reactivated_customers,
        ));
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
    let bounds = windows(from, to, q.interval.unwrap_or_default())?;
    let mut c = state.db.read_scoped(&caller.scope).await?;
    let movements = db::movements(&mut c, &caller.scope, &currency, (i64::MIN, to)).await?;
    c.end();
    let report = MrrReport {
        data: report(&movements, &bounds),
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
    let rows = db::movements(&mut c, &caller.scope, &currency, (from, to)).await?;
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

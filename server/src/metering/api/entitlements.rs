//! `GET /v1/entitlements/check`: may this customer use this feature now? Answered from the
//! customer's subscriptions and, for a metered feature, its usage this period.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Query;
use crate::metering::quotas::standing;
use crate::tenancy::Permission;
use domain::billing::Enforcement;
use domain::clock::timestamp;
use store::metering::customers_named;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckQuery {
    /// The customer's id or external id.
    pub customer: String,
    /// A feature key of the customer's plans.
    pub feature: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntitlementCheck {
    /// The customer's id.
    pub customer: String,
    #[schema(example = "api_calls")]
    pub feature: String,
    /// Entitled, and (for a hard metered limit) not at the limit.
    pub allowed: bool,
    /// The limit, for a limited feature.
    #[schema(example = 10000)]
    pub limit: Option<i64>,
    /// Use this period, for a metered feature (exact decimal).
    #[schema(example = "9800")]
    pub usage: Option<String>,
    /// What is left this period, never below 0, for a metered feature.
    #[schema(example = "200")]
    pub remaining: Option<String>,
    /// For a metered feature.
    pub enforcement: Option<Enforcement>,
    /// The subscription that grants the feature.
    pub subscription: Option<String>,
    /// The period the usage counts over.
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub period_start: Option<i64>,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub period_end: Option<i64>,
}

/// Check a customer's entitlement to a feature.
#[utoipa::path(
    get, path = "/v1/entitlements/check", tag = "entitlements", operation_id = "entitlements_check",
    params(CheckQuery),
    responses(
        (status = 200, description = "The customer's standing on the feature", body = EntitlementCheck),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["usage:read"]), ("session" = ["usage:read"]))
)]
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CheckQuery>,
) -> ApiResult<axum::Json<EntitlementCheck>> {
    caller.require(Permission::UsageRead)?;
    let mut c = state.db.read_scoped(&caller.scope).await?;
    let customer = customers_named(&mut c, &caller.scope, &[q.customer.as_str()])
        .await?
        .into_iter()
        .next()
        .ok_or(ApiError::NotFound("customer"))?
        .id;
    let s = standing(&mut c, &caller.scope, &customer, &q.feature).await?;
    c.end();
    let text = |d: rust_decimal::Decimal| d.normalize().to_string();
    Ok(axum::Json(EntitlementCheck {
        allowed: s.allowed(),
        limit: s.grant.as_ref().and_then(|g| g.feature.limit),
        usage: s.usage.map(text),
        remaining: s.remaining().map(text),
        enforcement: s.enforcement(),
        subscription: s.grant.as_ref().map(|g| g.subscription.clone()),
        period_start: s.grant.as_ref().map(|g| g.period.0),
        period_end: s.grant.as_ref().map(|g| g.period.1),
        customer,
        feature: q.feature,
    }))
}

//! Billing settings (`/v1/billing_settings`) of an organization and environment: the
//! dunning schedule.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit;
use crate::billing::collection;
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::tenancy::Permission;
use domain::billing::dunning::Dunning;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingSettings {
    /// Retries after a failed payment, then what happens to the subscription.
    pub dunning: Dunning,
}

/// Get the billing settings.
#[utoipa::path(
    get, path = "/v1/billing_settings", tag = "billing_settings", operation_id = "billing_settings_get",
    responses(
        (status = 200, description = "The settings", body = BillingSettings),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<BillingSettings>> {
    caller.require(Permission::BillingRead)?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let dunning = collection::dunning(&mut conn, &caller.scope).await?;
    conn.end();
    Ok(axum::Json(BillingSettings { dunning }))
}

/// Replace the billing settings. New schedules apply to payments that fail from now on.
#[utoipa::path(
    post, path = "/v1/billing_settings", tag = "billing_settings", operation_id = "billing_settings_update",
    request_body = BillingSettings,
    responses(
        (status = 200, description = "Updated", body = BillingSettings),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<BillingSettings>,
) -> ApiResult<axum::Json<BillingSettings>> {
    caller.require(Permission::BillingWrite)?;
    req.dunning.check()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    collection::save_dunning(&mut tx, &caller.scope, &req.dunning, now).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "billing_settings.updated",
        ("billing_settings", caller.scope.env.as_str()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(req))
}

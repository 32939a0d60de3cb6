//! The customer portal's API: sessions for the tenant's server to send customers to
//! (`/v1/billing_portal/sessions`), and what the portal allows (`/v1/billing_portal/settings`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::tenancy::Permission;
use crate::webhooks;
use domain::billing::portal::{LINK_TTL_MS, PortalSettings};
use domain::clock::timestamp;
use domain::ids::{CustomerId, PortalSessionId};
use store::billing as db;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePortalSessionRequest {
    pub customer: CustomerId,
    /// Where the portal's "back" link goes: your app.
    #[schema(example = "https://app.example.com/account")]
    pub return_url: Option<String>,
}

/// A link into the customer portal for one customer. It opens once, within five minutes:
/// create one each time you send the customer there.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalSession {
    pub id: PortalSessionId,
    pub customer: CustomerId,
    /// Send the customer here.
    #[schema(example = "https://billing.example.com/billing/bpl_4Qx…")]
    pub url: String,
    pub return_url: Option<String>,
    /// When the link stops opening.
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// Create a customer portal session: a single-use, short-lived link where the customer sees
/// their plan, usage and invoices, switches plan with a preview, replaces their card and
/// cancels, as the portal settings allow. Sends `billing_portal.session.created`.
#[utoipa::path(
    post, path = "/v1/billing_portal/sessions", tag = "billing_portal", operation_id = "billing_portal_sessions_create",
    request_body = CreatePortalSessionRequest,
    responses(
        (status = 201, description = "Created", body = PortalSession),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create_session(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreatePortalSessionRequest>,
) -> ApiResult<(StatusCode, axum::Json<PortalSession>)> {
    caller.require(Permission::BillingWrite)?;
    if let Some(url) = &req.return_url {
        crate::billing::checkout::check_url("return_url", url)?;
    }
    let scope = &caller.scope;
    let mut tx = state.db.write_scoped(scope).await?;
    db::get_customer(&mut tx, scope, req.customer.as_str())
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let (row, url) = super::create_session(
        &mut tx,
        &state,
        scope,
        req.customer.as_str(),
        req.return_url.clone(),
        LINK_TTL_MS,
    )
    .await?;
    let session = PortalSession {
        id: PortalSessionId::from_db(row.id.clone()),
        customer: req.customer,
        url,
        return_url: row.return_url.clone(),
        expires_at: row.link_expires_at,
        created_at: row.created_at,
    };
    let event = serde_json::json!({
        "id": session.id, "customer": session.customer, "return_url": session.return_url,
        "expires_at": timestamp::to_rfc3339(session.expires_at),
    });
    let now = row.created_at;
    webhooks::emit(
        &mut tx,
        scope,
        "billing_portal.session.created",
        &event,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        scope,
        (&caller).into(),
        "billing_portal.session.created",
        ("portal_session", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(session)))
}

/// Get the customer portal settings (the defaults if never set: everything allowed).
#[utoipa::path(
    get, path = "/v1/billing_portal/settings", tag = "billing_portal", operation_id = "billing_portal_settings_get",
    responses(
        (status = 200, description = "The settings", body = PortalSettings),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<PortalSettings>> {
    caller.require(Permission::BillingRead)?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let settings = super::settings(&mut conn, &caller.scope).await?;
    conn.end();
    Ok(axum::Json(settings))
}

/// Replace the customer portal settings: plan changes (and to which prices), payment method
/// updates, cancellation (when, the reasons offered, a retention coupon). The portal's look
/// is the brand of `/v1/email_settings`.
#[utoipa::path(
    post, path = "/v1/billing_portal/settings", tag = "billing_portal", operation_id = "billing_portal_settings_update",
    request_body = PortalSettings,
    responses(
        (status = 200, description = "Updated", body = PortalSettings),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<PortalSettings>,
) -> ApiResult<axum::Json<PortalSettings>> {
    caller.require(Permission::BillingWrite)?;
    let settings = req.check()?;
    let scope = &caller.scope;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(scope).await?;
    for price in settings.plan_change.prices.iter().flatten() {
        let found = db::get_price(&mut tx, scope, price).await?;
        if found.is_none_or(|p| p.terms.0.recurring.is_none()) {
            return Err(ApiError::validation(
                "plan_change.prices",
                format!("{price} is not a recurring price of this environment"),
            ));
        }
    }
    if let Some(coupon) = &settings.cancellation.retention_coupon {
        db::get_coupon(&mut tx, scope, coupon)
            .await?
            .ok_or(ApiError::NotFound("coupon"))?;
    }
    db::put_portal_settings(&mut tx, scope, &settings, now).await?;
    audit::record(
        &mut tx,
        scope,
        (&caller).into(),
        "billing_portal.settings.updated",
        ("billing_portal_settings", scope.env.as_str()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(settings))
}

//! Checkout's API: sessions (`/v1/checkout/sessions`) and pricing tables
//! (`/v1/pricing_tables`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{NewCheckout, check_url};
use crate::app::AppState;
use crate::audit;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::tenancy::Permission;
use crate::webhooks;
use domain::billing::checkout::{
    CheckoutMode, CheckoutSession, CheckoutStatus, MAX_CHECKOUT_TTL_MS, PricingTableConfig,
};
use domain::billing::views::SubscriptionItem;
use domain::clock::timestamp;
use domain::ids::{CheckoutSessionId, CustomerId, PricingTableId, TaxRateId, TestClockId};
use store::billing::{self as db, PricingTableRow};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCheckoutRequest {
    pub mode: CheckoutMode,
    /// What is sold: recurring prices of one interval (subscription), one-time prices
    /// (payment), none (setup). 1 to 20.
    #[serde(default)]
    pub line_items: Vec<SubscriptionItem>,
    /// An existing customer; else one is made from the email entered on the page.
    pub customer: Option<CustomerId>,
    /// The email the page starts with, for a new customer.
    #[schema(example = "ada@example.com")]
    pub customer_email: Option<String>,
    /// Days of trial (subscription mode); default: the first price's.
    pub trial_days: Option<i64>,
    /// Show a promotion code field. Default false.
    #[serde(default)]
    pub allow_promotion_codes: bool,
    /// Where the customer goes after paying; `{CHECKOUT_SESSION_ID}` is replaced.
    #[schema(example = "https://app.example.com/welcome?session={CHECKOUT_SESSION_ID}")]
    pub success_url: String,
    /// Where the page's "back" link goes.
    pub cancel_url: String,
    /// When the session stops taking payment: 30 minutes to 24 hours from now (default 24
    /// hours).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<String>,
    /// Sandbox only: a customer made at checkout follows this test clock.
    pub test_clock: Option<TestClockId>,
    /// Up to 5 active exclusive tax rates on the subscription's or the payment's invoices,
    /// shown on the page (subscription and payment modes).
    #[serde(default)]
    pub tax_rates: Vec<TaxRateId>,
}

/// Create a checkout session: a page on this server, at `url`, that shows the order (items,
/// trial, discount, taxes, totals today and per period) and takes payment once, before it
/// expires. With Stripe configured for the environment the page sends the customer on to a
/// Stripe Checkout Session of the same order (subscription, payment or setup mode), whose
/// completion Stripe's webhook reports; otherwise, in the sandbox, it takes the simulated
/// provider's test cards by name. Completing it sends `checkout.session.completed`.
#[utoipa::path(
    post, path = "/v1/checkout/sessions", tag = "checkout", operation_id = "checkout_sessions_create",
    request_body = CreateCheckoutRequest,
    responses(
        (status = 201, description = "Created", body = CheckoutSession),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateCheckoutRequest>,
) -> ApiResult<(StatusCode, axum::Json<CheckoutSession>)> {
    caller.require(Permission::BillingWrite)?;
    let now = state.clock.now_ms();
    let ttl_ms = match &req.expires_at {
        Some(t) => {
            timestamp::parse_rfc3339(t)
                .ok_or_else(|| ApiError::validation("expires_at", "must be an RFC 3339 time"))?
                - now
        }
        None => MAX_CHECKOUT_TTL_MS,
    };
    let scope = &caller.scope;
    let mut tx = state.db.write_scoped(scope).await?;
    let new = NewCheckout {
        mode: req.mode,
        line_items: req.line_items,
        customer: req.customer.map(|c| c.to_string()),
        customer_email: req.customer_email,
        trial_days: req.trial_days,
        allow_promotion_codes: req.allow_promotion_codes,
        success_url: req.success_url,
        cancel_url: req.cancel_url,
        ttl_ms,
        test_clock: req.test_clock.map(|c| c.to_string()),
        pricing_table: None,
        tax_rates: req.tax_rates,
    };
    let (row, url) = super::create(&mut tx, &state, scope, new).await?;
    audit::record(
        &mut tx,
        scope,
        (&caller).into(),
        "checkout.session.created",
        ("checkout_session", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(row.shown(now, Some(url)))))
}

/// Get a checkout session.
#[utoipa::path(
    get, path = "/v1/checkout/sessions/{id}", tag = "checkout", operation_id = "checkout_sessions_get",
    params(("id" = CheckoutSessionId, Path)),
    responses(
        (status = 200, description = "The session", body = CheckoutSession),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CheckoutSessionId>,
) -> ApiResult<axum::Json<CheckoutSession>> {
    caller.require(Permission::BillingRead)?;
    let mut c = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_checkout(&mut c, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("checkout_session"))?;
    c.end();
    Ok(axum::Json(row.shown(state.clock.now_ms(), None)))
}

/// Expire an open checkout session now: its page takes no payment any more. Sends
/// `checkout.session.expired`.
#[utoipa::path(
    post, path = "/v1/checkout/sessions/{id}/expire", tag = "checkout", operation_id = "checkout_sessions_expire",
    params(("id" = CheckoutSessionId, Path)),
    responses(
        (status = 200, description = "Expired", body = CheckoutSession),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn expire(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CheckoutSessionId>,
) -> ApiResult<axum::Json<CheckoutSession>> {
    caller.require(Permission::BillingWrite)?;
    let scope = &caller.scope;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(scope).await?;
    let mut row = db::get_checkout(&mut tx, scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("checkout_session"))?;
    if row.status_at(now) != CheckoutStatus::Open {
        return Err(ApiError::conflict(
            "checkout_session_not_open",
            format!(
                "The session is {:?}; only open ones expire.",
                row.status_at(now)
            )
            .to_lowercase(),
        ));
    }
    row.status = CheckoutStatus::Expired.into();
    row.expires_at = now;
    db::settle_checkout(&mut tx, scope, &row).await?;
    let shown = row.shown(now, None);
    webhooks::emit(&mut tx, scope, "checkout.session.expired", &shown, now).await?;
    audit::record(
        &mut tx,
        scope,
        (&caller).into(),
        "checkout.session.expired",
        ("checkout_session", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(shown))
}

/// A pricing table: its public page, and the snippet that embeds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PricingTable {
    pub id: PricingTableId,
    #[serde(flatten)]
    pub config: PricingTableConfig,
    /// The public page.
    pub url: String,
    /// HTML to paste into a page of yours: a script from this server that shows the table.
    pub embed: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

fn shown(state: &AppState, row: PricingTableRow) -> PricingTable {
    let url = format!("{}/pricing/{}", state.public_base, row.id);
    PricingTable {
        embed: format!("<script src=\"{url}/embed.js\" async></script>"),
        url,
        id: PricingTableId::from_db(row.id),
        config: row.config.0,
        created_at: row.created_at,
    }
}

/// Create a pricing table: 1 to 4 plans with their monthly and yearly prices, served as a
/// public page and an embeddable snippet; each plan's button starts a checkout session.
#[utoipa::path(
    post, path = "/v1/pricing_tables", tag = "checkout", operation_id = "pricing_tables_create",
    request_body = PricingTableConfig,
    responses(
        (status = 201, description = "Created", body = PricingTable),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create_pricing_table(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<PricingTableConfig>,
) -> ApiResult<(StatusCode, axum::Json<PricingTable>)> {
    caller.require(Permission::BillingWrite)?;
    let config = req.check()?;
    check_url("success_url", &config.success_url)?;
    check_url("cancel_url", &config.cancel_url)?;
    let scope = &caller.scope;
    let mut tx = state.db.write_scoped(scope).await?;
    for (i, plan) in config.plans.iter().enumerate() {
        db::get_product(&mut tx, scope, &plan.product)
            .await?
            .ok_or(ApiError::NotFound("product"))?;
        for (field, price) in [
            ("monthly_price", &plan.monthly_price),
            ("yearly_price", &plan.yearly_price),
        ] {
            let Some(price) = price else { continue };
            let found = db::get_price(&mut tx, scope, price).await?;
            let fits = found.is_some_and(|p| {
                p.product_id == plan.product
                    && p.archived_at.is_none()
                    && p.terms.0.recurring.is_some()
            });
            if !fits {
                return Err(ApiError::validation(
                    &format!("plans[{i}].{field}"),
                    "must be an active recurring price of the plan's product",
                ));
            }
        }
    }
    if let Some(clock) = &config.test_clock {
        if scope.env != crate::tenancy::Env::Test {
            return Err(ApiError::validation(
                "test_clock",
                "exists in the sandbox only",
            ));
        }
        db::get_test_clock(&mut tx, scope, clock)
            .await?
            .ok_or(ApiError::NotFound("test_clock"))?;
    }
    let now = state.clock.now_ms();
    let row = PricingTableRow {
        id: PricingTableId::generate().to_string(),
        tenant_id: scope.org_id.to_string(),
        env: scope.env.as_str().to_owned(),
        config: config.into(),
        created_at: now,
        updated_at: now,
    };
    db::insert_pricing_table(&mut tx, scope, &row).await?;
    audit::record(
        &mut tx,
        scope,
        (&caller).into(),
        "pricing_table.created",
        ("pricing_table", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(shown(&state, row))))
}

/// Get a pricing table.
#[utoipa::path(
    get, path = "/v1/pricing_tables/{id}", tag = "checkout", operation_id = "pricing_tables_get",
    params(("id" = PricingTableId, Path)),
    responses(
        (status = 200, description = "The pricing table", body = PricingTable),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn get_pricing_table(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<PricingTableId>,
) -> ApiResult<axum::Json<PricingTable>> {
    caller.require(Permission::BillingRead)?;
    let mut c = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_pricing_table(&mut c, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("pricing_table"))?;
    c.end();
    Ok(axum::Json(shown(&state, row)))
}

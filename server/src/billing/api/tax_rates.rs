//! Tax rates (`/v1/tax_rates`): manual, exclusive tax percentages added to the invoices of
//! subscriptions that list them (`default_tax_rates`). Inclusive rates are refused (400).
//! The percentage never changes; the display name and `active` do. An inactive rate is
//! added to no more subscriptions but keeps applying where it is.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit;
use crate::billing::discounts::check_percentage;
use crate::billing::redemption;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::{Permission, check_name};
use domain::clock::timestamp;
use domain::ids::TaxRateId;
use store::billing::{self as db, TaxRateRow};

#[derive(Debug, Serialize, ToSchema)]
pub struct TaxRate {
    pub id: TaxRateId,
    #[schema(example = "Sales tax")]
    pub display_name: String,
    /// An exact decimal string, 0 to 100.
    #[schema(example = "8.25")]
    pub percentage: String,
    /// Always false: taxes are added on top of the (discounted) subtotal.
    pub inclusive: bool,
    #[schema(example = "US-TX")]
    pub jurisdiction: Option<String>,
    pub active: bool,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl From<TaxRateRow> for TaxRate {
    fn from(r: TaxRateRow) -> Self {
        TaxRate {
            id: TaxRateId::from_db(r.id),
            display_name: r.display_name,
            percentage: r.percentage,
            inclusive: false,
            jurisdiction: r.jurisdiction,
            active: r.active == 1,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaxRateRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Sales tax"
    )]
    pub display_name: String,
    /// A decimal string, 0 to 100, at most 4 decimal places.
    #[schema(example = "8.25")]
    pub percentage: String,
    /// Only false (exclusive) is supported; true is refused.
    #[serde(default)]
    #[schema(example = false)]
    pub inclusive: bool,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", example = "US-TX")]
    pub jurisdiction: Option<String>,
    /// Default true.
    pub active: Option<bool>,
}

/// Create a tax rate.
#[utoipa::path(
    post, path = "/v1/tax_rates", tag = "tax_rates", operation_id = "tax_rates_create",
    request_body = CreateTaxRateRequest,
    responses(
        (status = 201, description = "Created", body = TaxRate),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateTaxRateRequest>,
) -> ApiResult<(StatusCode, axum::Json<TaxRate>)> {
    caller.require(Permission::BillingWrite)?;
    if req.inclusive {
        return Err(ApiError::validation(
            "inclusive",
            "inclusive tax rates are not supported; taxes are added to the subtotal",
        ));
    }
    let now = state.clock.now_ms();
    let row = TaxRateRow {
        id: TaxRateId::generate().to_string(),
        display_name: check_name("display_name", &req.display_name)?,
        percentage: check_percentage("percentage", &req.percentage, true)?,
        jurisdiction: req
            .jurisdiction
            .as_deref()
            .map(|j| check_name("jurisdiction", j))
            .transpose()?,
        active: i64::from(req.active.unwrap_or(true)),
        created_at: now,
    };
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::insert_tax_rate(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "tax_rate.created",
        ("tax_rate", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaxRateQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only active (true) or inactive (false) rates.
    pub active: Option<bool>,
}

/// List tax rates, newest first.
#[utoipa::path(
    get, path = "/v1/tax_rates", tag = "tax_rates", operation_id = "tax_rates_list",
    params(TaxRateQuery),
    responses(
        (status = 200, description = "A page of tax rates", body = TaxRatePage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TaxRateQuery>,
) -> ApiResult<axum::Json<TaxRatePage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_tax_rates(
        &mut tx,
        &caller.scope,
        q.active,
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), TaxRate::from);
    Ok(axum::Json(page.into()))
}

/// Get a tax rate.
#[utoipa::path(
    get, path = "/v1/tax_rates/{id}", tag = "tax_rates", operation_id = "tax_rates_get",
    params(("id" = TaxRateId, Path)),
    responses(
        (status = 200, description = "The tax rate", body = TaxRate),
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
    Path(id): Path<TaxRateId>,
) -> ApiResult<axum::Json<TaxRate>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = redemption::load_tax_rate(&mut tx, &caller.scope, id.as_str()).await?;
    tx.end();
    Ok(axum::Json(row.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTaxRateRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Texas sales tax"
    )]
    pub display_name: Option<String>,
    /// False: added to no more subscriptions (existing ones keep it).
    pub active: Option<bool>,
}

/// Rename, activate or deactivate a tax rate (its percentage never changes).
#[utoipa::path(
    post, path = "/v1/tax_rates/{id}", tag = "tax_rates", operation_id = "tax_rates_update",
    params(("id" = TaxRateId, Path)),
    request_body = UpdateTaxRateRequest,
    responses(
        (status = 200, description = "Updated", body = TaxRate),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TaxRateId>,
    Json(req): Json<UpdateTaxRateRequest>,
) -> ApiResult<axum::Json<TaxRate>> {
    caller.require(Permission::BillingWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = redemption::load_tax_rate(&mut tx, &caller.scope, id.as_str()).await?;
    if let Some(name) = &req.display_name {
        row.display_name = check_name("display_name", name)?;
    }
    if let Some(active) = req.active {
        row.active = i64::from(active);
    }
    db::update_tax_rate(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "tax_rate.updated",
        ("tax_rate", &row.id),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(row.into()))
}

page_type!(TaxRatePage, TaxRate);

//! Prices (`/v1/prices`): how a product is charged. A price's terms never change once
//! created (invoices refer to them); archive it and create another instead.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit;
use crate::billing::amount::{AmountError, amount_for};
use crate::billing::{
    Metered, Package, Percentage, PriceModel, PriceTerms, Recurring, Tier, check_currency,
};
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::{Permission, check_name};
use domain::clock::timestamp;
use domain::ids::{MeterId, PriceId, ProductId};
use domain::metering::Aggregation;
use store::billing::{self as db, PriceRow};
use store::metering as meter_db;

#[derive(Debug, Serialize, ToSchema)]
pub struct Price {
    pub id: PriceId,
    pub product: ProductId,
    #[schema(example = "usd")]
    pub currency: String,
    pub nickname: Option<String>,
    /// False once archived: no new subscriptions, existing ones keep billing.
    pub active: bool,
    /// Absent for one-off prices.
    pub recurring: Option<Recurring>,
    pub model: PriceModel,
    /// Minor units: per period (`flat`) or per unit (`per_unit`).
    #[schema(example = 2500)]
    pub unit_amount: Option<i64>,
    /// Minor units per unit as a decimal string (`per_unit`).
    pub unit_amount_decimal: Option<String>,
    pub tiers: Option<Vec<Tier>>,
    pub package: Option<Package>,
    pub percentage: Option<Percentage>,
    pub trial_days: Option<i64>,
    /// A metered price's meter: each period's usage is billed at the period's end.
    pub meter: Option<MeterId>,
    /// Units of usage per period that are not billed (metered prices).
    pub included_quantity: Option<i64>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl Price {
    fn from_row(r: PriceRow) -> ApiResult<Self> {
        let t = r.terms.0;
        Ok(Price {
            id: PriceId::from_db(r.id),
            product: ProductId::from_db(r.product_id),
            currency: r.currency,
            nickname: r.nickname,
            active: r.archived_at.is_none(),
            recurring: t.recurring,
            model: t.model,
            unit_amount: t.unit_amount,
            unit_amount_decimal: t.unit_amount_decimal,
            tiers: t.tiers,
            package: t.package,
            percentage: t.percentage,
            trial_days: t.trial_days,
            meter: t
                .metered
                .as_ref()
                .map(|m| MeterId::from_db(m.meter.clone())),
            included_quantity: t.metered.map(|m| m.included_quantity),
            created_at: r.created_at,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"product": "prod_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e", "currency": "usd",
    "recurring": {"interval": "month"}, "model": "per_unit", "unit_amount": 1200, "trial_days": 14}))]
pub struct CreatePriceRequest {
    pub product: ProductId,
    #[schema(example = "usd")]
    pub currency: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub nickname: Option<String>,
    /// Omit for a one-off price.
    pub recurring: Option<Recurring>,
    pub model: PriceModel,
    pub unit_amount: Option<i64>,
    pub unit_amount_decimal: Option<String>,
    pub tiers: Option<Vec<Tier>>,
    pub package: Option<Package>,
    /// A percentage price's rate, fixed fee, free units and per-transaction bounds (Lago's
    /// model): metered by a `sum` meter of transaction amounts in minor units.
    pub percentage: Option<Percentage>,
    /// Days of free trial for new subscriptions (recurring prices), 1 to 730.
    pub trial_days: Option<i64>,
    /// Makes the price metered: each period's usage measured by this meter is billed at the
    /// period's end, priced by `model` (not flat). Recurring prices only.
    pub meter: Option<MeterId>,
    /// Units of usage per period not billed, for a metered price. Default 0.
    pub included_quantity: Option<i64>,
}

fn check_nickname(n: Option<&str>) -> ApiResult<Option<String>> {
    Ok(n.map(|n| check_name("nickname", n)).transpose()?)
}

/// Create a price for a product.
#[utoipa::path(
    post, path = "/v1/prices", tag = "prices", operation_id = "prices_create",
    request_body = CreatePriceRequest,
    responses(
        (status = 201, description = "Created", body = Price),
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
    Json(req): Json<CreatePriceRequest>,
) -> ApiResult<(StatusCode, axum::Json<Price>)> {
    caller.require(Permission::BillingWrite)?;
    let currency = check_currency(&req.currency)?;
    let nickname = check_nickname(req.nickname.as_deref())?;
    let terms = PriceTerms {
        recurring: req.recurring,
        model: req.model,
        unit_amount: req.unit_amount,
        unit_amount_decimal: req.unit_amount_decimal,
        tiers: req.tiers,
        package: req.package,
        percentage: req.percentage,
        trial_days: req.trial_days,
        metered: match (&req.meter, req.included_quantity) {
            (Some(m), included) => Some(Metered {
                meter: m.to_string(),
                included_quantity: included.unwrap_or(0),
            }),
            (None, Some(_)) => {
                return Err(ApiError::validation(
                    "included_quantity",
                    "applies to metered prices only",
                ));
            }
            (None, None) => None,
        },
    }
    .check()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let product = db::get_product(&mut tx, &caller.scope, req.product.as_str())
        .await?
        .ok_or(ApiError::NotFound("product"))?;
    if product.archived_at.is_some() {
        return Err(ApiError::conflict(
            "product_archived",
            "The product is archived and takes no new prices.",
        ));
    }
    if let Some(m) = &req.meter {
        let meter = meter_db::get_meter(&mut tx, &caller.scope, m.as_str())
            .await?
            .ok_or(ApiError::NotFound("meter"))?;
        if terms.model == PriceModel::Percentage && *meter.aggregation != Aggregation::Sum {
            return Err(ApiError::validation(
                "meter",
                "must be a sum meter (of transaction amounts) for a percentage price",
            ));
        }
    }
    let row = PriceRow {
        id: PriceId::generate().to_string(),
        product_id: product.id,
        currency,
        nickname,
        terms: terms.into(),
        created_at: now,
        archived_at: None,
    };
    db::insert_price(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "price.created",
        ("price", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(Price::from_row(row)?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PriceQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only prices of this product.
    pub product: Option<String>,
    /// Only active (true) or archived (false) prices.
    pub active: Option<bool>,
}

/// List prices, newest first.
#[utoipa::path(
    get, path = "/v1/prices", tag = "prices", operation_id = "prices_list",
    params(PriceQuery),
    responses(
        (status = 200, description = "A page of prices", body = PricePage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PriceQuery>,
) -> ApiResult<axum::Json<PricePage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_prices(
        &mut tx,
        &caller.scope,
        q.product.as_deref(),
        q.active,
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), |r| r).try_map(Price::from_row)?;
    Ok(axum::Json(page.into()))
}

async fn load(tx: &mut sqlx::AnyConnection, caller: &Caller, id: &PriceId) -> ApiResult<PriceRow> {
    db::get_price(tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("price"))
}

/// Get a price.
#[utoipa::path(
    get, path = "/v1/prices/{id}", tag = "prices", operation_id = "prices_get",
    params(("id" = PriceId, Path)),
    responses(
        (status = 200, description = "The price", body = Price),
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
    Path(id): Path<PriceId>,
) -> ApiResult<axum::Json<Price>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = load(&mut tx, &caller, &id).await?;
    tx.end();
    Ok(axum::Json(Price::from_row(row)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePriceRequest {
    /// The only thing about a price that changes.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub nickname: Option<String>,
}

/// Rename a price (its terms are fixed).
#[utoipa::path(
    post, path = "/v1/prices/{id}", tag = "prices", operation_id = "prices_update",
    params(("id" = PriceId, Path)),
    request_body = UpdatePriceRequest,
    responses(
        (status = 200, description = "Updated", body = Price),
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
    Path(id): Path<PriceId>,
    Json(req): Json<UpdatePriceRequest>,
) -> ApiResult<axum::Json<Price>> {
    caller.require(Permission::BillingWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = load(&mut tx, &caller, &id).await?;
    row.nickname = check_nickname(req.nickname.as_deref())?;
    save(&state, &caller, tx, row, "price.updated").await
}

/// Archive a price: existing subscriptions keep it, new ones cannot start on it.
#[utoipa::path(
    post, path = "/v1/prices/{id}/archive", tag = "prices", operation_id = "prices_archive",
    params(("id" = PriceId, Path)),
    responses(
        (status = 200, description = "Archived", body = Price),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<PriceId>,
) -> ApiResult<axum::Json<Price>> {
    caller.require(Permission::BillingWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = load(&mut tx, &caller, &id).await?;
    row.archived_at = row.archived_at.or(Some(state.clock.now_ms()));
    save(&state, &caller, tx, row, "price.archived").await
}

async fn save(
    state: &AppState,
    caller: &Caller,
    mut tx: store::Tx,
    row: PriceRow,
    action: &str,
) -> ApiResult<axum::Json<Price>> {
    db::update_price(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        caller.into(),
        action,
        ("price", &row.id),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(Price::from_row(row)?))
}

page_type!(PricePage, Price);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuoteQuery {
    /// Units to price (seats, API calls…); default 1. Refused (400, `validation_error` on
    /// `quantity`) when the amount it makes would not fit in 64 bits of minor units.
    #[param(minimum = 0)]
    pub quantity: Option<i64>,
}

/// What a price charges for a quantity, per period for recurring prices.
#[derive(Debug, Serialize, ToSchema)]
pub struct Quote {
    pub price: PriceId,
    pub quantity: i64,
    /// Minor units, rounded once, half away from zero.
    #[schema(example = 4600)]
    pub amount: i64,
    #[schema(example = "usd")]
    pub currency: String,
}

/// Price a quantity with this price's model (flat, per unit, graduated, volume, package; a
/// percentage price prices one event of that amount).
#[utoipa::path(
    get, path = "/v1/prices/{id}/quote", tag = "prices", operation_id = "prices_quote",
    params(("id" = PriceId, Path), QuoteQuery),
    responses(
        (status = 200, description = "The amount", body = Quote),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn quote(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<PriceId>,
    Query(q): Query<QuoteQuery>,
) -> ApiResult<axum::Json<Quote>> {
    caller.require(Permission::BillingRead)?;
    let quantity = q.quantity.unwrap_or(1);
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = load(&mut tx, &caller, &id).await?;
    tx.end();
    let amount = amount_for(&row.terms, quantity).map_err(|e| match e {
        AmountError::NegativeQuantity | AmountError::Overflow => {
            ApiError::validation("quantity", e.to_string())
        }
        AmountError::Incomplete => {
            ApiError::Internal(anyhow::anyhow!("price {} has incomplete terms", row.id))
        }
    })?;
    Ok(axum::Json(Quote {
        price: id,
        quantity,
        amount,
        currency: row.currency,
    }))
}

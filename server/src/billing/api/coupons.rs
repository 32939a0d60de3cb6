//! Coupons (`/v1/coupons`): a percentage or an amount off a subscription's invoices, once,
//! for some months, or forever. Immutable except their name; archived coupons are
//! redeemed no more but keep applying where they were. Redeeming is
//! `billing::redemption::redeem`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit;
use crate::billing::discounts::{CouponDuration, check_percentage};
use crate::billing::{check_currency, redemption};
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{self, Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::{Permission, check_name};
use domain::clock::timestamp;
use domain::ids::CouponId;
use store::billing::{self as db, CouponRow};

#[derive(Debug, Serialize, ToSchema)]
pub struct Coupon {
    pub id: CouponId,
    #[schema(example = "Launch week")]
    pub name: Option<String>,
    /// A percentage off, as an exact decimal string (over 0, up to 100); null for an amount.
    #[schema(example = "12.5")]
    pub percent_off: Option<String>,
    /// Minor units off, in `currency`; null for a percentage.
    #[schema(example = 500)]
    pub amount_off: Option<i64>,
    #[schema(example = "usd")]
    pub currency: Option<String>,
    pub duration: CouponDuration,
    /// Months a `repeating` coupon lasts.
    #[schema(example = 3)]
    pub duration_in_months: Option<i64>,
    pub max_redemptions: Option<i64>,
    /// Redeemable until then.
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub redeem_by: Option<i64>,
    pub times_redeemed: i64,
    /// False once archived.
    pub active: bool,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl Coupon {
    fn from_row(r: CouponRow) -> ApiResult<Self> {
        Ok(Coupon {
            duration: *r.duration,
            id: CouponId::from_db(r.id),
            name: r.name,
            percent_off: r.percent_off,
            amount_off: r.amount_off,
            currency: r.currency,
            duration_in_months: r.duration_in_months,
            max_redemptions: r.max_redemptions,
            redeem_by: r.redeem_by,
            times_redeemed: r.times_redeemed,
            active: r.archived_at.is_none(),
            created_at: r.created_at,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCouponRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Launch week"
    )]
    pub name: Option<String>,
    /// A percentage off: a decimal string over 0, up to 100 (at most 4 decimal places).
    /// Exactly one of `percent_off` and `amount_off`.
    #[schema(example = "12.5")]
    pub percent_off: Option<String>,
    /// Minor units off each invoice (capped at its subtotal); requires `currency`.
    #[schema(minimum = 1, example = 500)]
    pub amount_off: Option<i64>,
    #[schema(example = "usd")]
    pub currency: Option<String>,
    pub duration: CouponDuration,
    /// Required for `repeating` (1 to 120), refused otherwise.
    #[schema(minimum = 1, maximum = 120, example = 3)]
    pub duration_in_months: Option<i64>,
    /// How many subscriptions may redeem it.
    #[schema(minimum = 1)]
    pub max_redemptions: Option<i64>,
    /// RFC 3339; redeemable until then.
    #[schema(example = "2027-12-31T23:59:59Z", format = DateTime)]
    pub redeem_by: Option<String>,
}

/// Create a coupon.
#[utoipa::path(
    post, path = "/v1/coupons", tag = "coupons", operation_id = "coupons_create",
    request_body = CreateCouponRequest,
    responses(
        (status = 201, description = "Created", body = Coupon),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateCouponRequest>,
) -> ApiResult<(StatusCode, axum::Json<Coupon>)> {
    caller.require(Permission::BillingWrite)?;
    let now = state.clock.now_ms();
    let (percent_off, amount_off, currency) = match (&req.percent_off, req.amount_off) {
        (Some(p), None) => {
            if req.currency.is_some() {
                return Err(ApiError::validation(
                    "currency",
                    "only goes with amount_off",
                ));
            }
            (Some(check_percentage("percent_off", p, false)?), None, None)
        }
        (None, Some(a)) => {
            if a < 1 {
                return Err(ApiError::validation("amount_off", "must be at least 1"));
            }
            let Some(c) = &req.currency else {
                return Err(ApiError::validation(
                    "currency",
                    "is required with amount_off",
                ));
            };
            (None, Some(a), Some(check_currency(c)?))
        }
        _ => {
            return Err(ApiError::validation(
                "percent_off",
                "exactly one of percent_off and amount_off is required",
            ));
        }
    };
    let duration_in_months = match (req.duration, req.duration_in_months) {
        (CouponDuration::Repeating, Some(m)) if (1..=120).contains(&m) => Some(m),
        (CouponDuration::Repeating, _) => {
            return Err(ApiError::validation(
                "duration_in_months",
                "must be 1 to 120 for a repeating coupon",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiError::validation(
                "duration_in_months",
                "only goes with duration repeating",
            ));
        }
        (_, None) => None,
    };
    if req.max_redemptions.is_some_and(|m| m < 1) {
        return Err(ApiError::validation(
            "max_redemptions",
            "must be at least 1",
        ));
    }
    let redeem_by = extract::timestamp("redeem_by", req.redeem_by.as_deref())?;
    if redeem_by.is_some_and(|r| r <= now) {
        return Err(ApiError::validation("redeem_by", "must be in the future"));
    }
    let row = CouponRow {
        id: CouponId::generate().to_string(),
        name: req
            .name
            .as_deref()
            .map(|n| check_name("name", n))
            .transpose()?,
        percent_off,
        amount_off,
        currency,
        duration: req.duration.into(),
        duration_in_months,
        max_redemptions: req.max_redemptions,
        redeem_by,
        times_redeemed: 0,
        created_at: now,
        archived_at: None,
    };
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::insert_coupon(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "coupon.created",
        ("coupon", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(Coupon::from_row(row)?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CouponQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
}

/// List coupons, newest first.
#[utoipa::path(
    get, path = "/v1/coupons", tag = "coupons", operation_id = "coupons_list",
    params(CouponQuery),
    responses(
        (status = 200, description = "A page of coupons", body = CouponPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CouponQuery>,
) -> ApiResult<axum::Json<CouponPage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_coupons(&mut tx, &caller.scope, q.starting_after.as_deref(), fetch).await?;
    tx.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), |r| r).try_map(Coupon::from_row)?;
    Ok(axum::Json(page.into()))
}

/// Get a coupon.
#[utoipa::path(
    get, path = "/v1/coupons/{id}", tag = "coupons", operation_id = "coupons_get",
    params(("id" = CouponId, Path)),
    responses(
        (status = 200, description = "The coupon", body = Coupon),
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
    Path(id): Path<CouponId>,
) -> ApiResult<axum::Json<Coupon>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = redemption::load_coupon(&mut tx, &caller.scope, id.as_str()).await?;
    tx.end();
    Ok(axum::Json(Coupon::from_row(row)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCouponRequest {
    /// The only thing about a coupon that changes.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Launch week"
    )]
    pub name: Option<String>,
}

/// Rename a coupon (its terms never change).
#[utoipa::path(
    post, path = "/v1/coupons/{id}", tag = "coupons", operation_id = "coupons_update",
    params(("id" = CouponId, Path)),
    request_body = UpdateCouponRequest,
    responses(
        (status = 200, description = "Updated", body = Coupon),
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
    Path(id): Path<CouponId>,
    Json(req): Json<UpdateCouponRequest>,
) -> ApiResult<axum::Json<Coupon>> {
    caller.require(Permission::BillingWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = redemption::load_coupon(&mut tx, &caller.scope, id.as_str()).await?;
    if let Some(name) = &req.name {
        row.name = Some(check_name("name", name)?);
    }
    save(&state, &caller, tx, row, "coupon.updated").await
}

/// Archive a coupon: no new redemptions (nor through its promotion codes); subscriptions
/// that have it keep their discount.
#[utoipa::path(
    post, path = "/v1/coupons/{id}/archive", tag = "coupons", operation_id = "coupons_archive",
    params(("id" = CouponId, Path)),
    responses(
        (status = 200, description = "Archived", body = Coupon),
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
    Path(id): Path<CouponId>,
) -> ApiResult<axum::Json<Coupon>> {
    caller.require(Permission::BillingWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = redemption::load_coupon(&mut tx, &caller.scope, id.as_str()).await?;
    row.archived_at = row.archived_at.or(Some(state.clock.now_ms()));
    save(&state, &caller, tx, row, "coupon.archived").await
}

async fn save(
    state: &AppState,
    caller: &Caller,
    mut tx: store::Tx,
    row: CouponRow,
    action: &str,
) -> ApiResult<axum::Json<Coupon>> {
    db::update_coupon(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        caller.into(),
        action,
        ("coupon", &row.id),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(Coupon::from_row(row)?))
}

page_type!(CouponPage, Coupon);

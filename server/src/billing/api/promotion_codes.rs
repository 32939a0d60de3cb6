//! Promotion codes (`/v1/promotion_codes`): customer-facing codes (`LAUNCH25`) for a coupon,
//! unique per organization and environment regardless of case (stored upper-case), with
//! their own limits. Only `active` changes.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{self, Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::{Permission, Scope};
use domain::clock::timestamp;
use domain::ids::{CouponId, PromotionCodeId};
use store::billing::{self as db, PromotionCodeRow};
use store::is_unique_violation;

#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionCode {
    pub id: PromotionCodeId,
    pub coupon: CouponId,
    /// Upper-case; customers may type it in any case.
    #[schema(example = "LAUNCH25")]
    pub code: String,
    pub active: bool,
    pub max_redemptions: Option<i64>,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<i64>,
    pub times_redeemed: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl From<PromotionCodeRow> for PromotionCode {
    fn from(r: PromotionCodeRow) -> Self {
        PromotionCode {
            id: PromotionCodeId::from_db(r.id),
            coupon: CouponId::from_db(r.coupon_id),
            code: r.code,
            active: r.active == 1,
            max_redemptions: r.max_redemptions,
            expires_at: r.expires_at,
            times_redeemed: r.times_redeemed,
            created_at: r.created_at,
        }
    }
}

/// 1 to 64 letters, digits, `-` or `_`, upper-cased.
fn check_code(raw: &str) -> ApiResult<String> {
    let code = raw.trim();
    let ok = (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(ApiError::validation(
            "code",
            "must be 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    Ok(code.to_ascii_uppercase())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePromotionCodeRequest {
    pub coupon: CouponId,
    /// 1 to 64 letters, digits, `-` or `_`; case-insensitive.
    #[schema(example = "launch25")]
    pub code: String,
    /// Default true.
    pub active: Option<bool>,
    #[schema(minimum = 1)]
    pub max_redemptions: Option<i64>,
    /// RFC 3339.
    #[schema(example = "2027-12-31T23:59:59Z", format = DateTime)]
    pub expires_at: Option<String>,
}

/// Create a promotion code for a coupon.
#[utoipa::path(
    post, path = "/v1/promotion_codes", tag = "promotion_codes", operation_id = "promotion_codes_create",
    request_body = CreatePromotionCodeRequest,
    responses(
        (status = 201, description = "Created", body = PromotionCode),
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
    Json(req): Json<CreatePromotionCodeRequest>,
) -> ApiResult<(StatusCode, axum::Json<PromotionCode>)> {
    caller.require(Permission::BillingWrite)?;
    let now = state.clock.now_ms();
    let code = check_code(&req.code)?;
    if req.max_redemptions.is_some_and(|m| m < 1) {
        return Err(ApiError::validation(
            "max_redemptions",
            "must be at least 1",
        ));
    }
    let expires_at = extract::timestamp("expires_at", req.expires_at.as_deref())?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let coupon = db::get_coupon(&mut tx, &caller.scope, req.coupon.as_str())
        .await?
        .ok_or(ApiError::NotFound("coupon"))?;
    if coupon.archived_at.is_some() {
        return Err(ApiError::conflict(
            "coupon_archived",
            format!("{} is archived and redeems no more.", coupon.id),
        ));
    }
    let row = PromotionCodeRow {
        id: PromotionCodeId::generate().to_string(),
        coupon_id: coupon.id,
        code,
        active: i64::from(req.active.unwrap_or(true)),
        max_redemptions: req.max_redemptions,
        expires_at,
        times_redeemed: 0,
        created_at: now,
    };
    if let Err(e) = db::insert_promotion_code(&mut tx, &caller.scope, &row).await {
        return Err(if is_unique_violation(&e) {
            ApiError::conflict(
                "promotion_code_exists",
                format!("The code {} is already in use.", row.code),
            )
        } else {
            e.into()
        });
    }
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "promotion_code.created",
        ("promotion_code", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PromotionCodeQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only this code (any case).
    pub code: Option<String>,
    /// Only active (true) or inactive (false) codes.
    pub active: Option<bool>,
}

/// List promotion codes, newest first.
#[utoipa::path(
    get, path = "/v1/promotion_codes", tag = "promotion_codes", operation_id = "promotion_codes_list",
    params(PromotionCodeQuery),
    responses(
        (status = 200, description = "A page of promotion codes", body = PromotionCodePage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PromotionCodeQuery>,
) -> ApiResult<axum::Json<PromotionCodePage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let code = q.code.as_deref().map(|c| c.trim().to_ascii_uppercase());
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_promotion_codes(
        &mut tx,
        &caller.scope,
        code.as_deref(),
        q.active,
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), PromotionCode::from);
    Ok(axum::Json(page.into()))
}

async fn load(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    id: &PromotionCodeId,
) -> ApiResult<PromotionCodeRow> {
    db::get_promotion_code(tx, scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("promotion_code"))
}

/// Get a promotion code.
#[utoipa::path(
    get, path = "/v1/promotion_codes/{id}", tag = "promotion_codes", operation_id = "promotion_codes_get",
    params(("id" = PromotionCodeId, Path)),
    responses(
        (status = 200, description = "The promotion code", body = PromotionCode),
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
    Path(id): Path<PromotionCodeId>,
) -> ApiResult<axum::Json<PromotionCode>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = load(&mut tx, &caller.scope, &id).await?;
    tx.end();
    Ok(axum::Json(row.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePromotionCodeRequest {
    /// False stops new redemptions.
    #[schema(example = false)]
    pub active: Option<bool>,
}

/// Activate or deactivate a promotion code.
#[utoipa::path(
    post, path = "/v1/promotion_codes/{id}", tag = "promotion_codes", operation_id = "promotion_codes_update",
    params(("id" = PromotionCodeId, Path)),
    request_body = UpdatePromotionCodeRequest,
    responses(
        (status = 200, description = "Updated", body = PromotionCode),
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
    Path(id): Path<PromotionCodeId>,
    Json(req): Json<UpdatePromotionCodeRequest>,
) -> ApiResult<axum::Json<PromotionCode>> {
    caller.require(Permission::BillingWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = load(&mut tx, &caller.scope, &id).await?;
    if let Some(active) = req.active {
        row.active = i64::from(active);
    }
    db::update_promotion_code(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "promotion_code.updated",
        ("promotion_code", &row.id),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(row.into()))
}

page_type!(PromotionCodePage, PromotionCode);

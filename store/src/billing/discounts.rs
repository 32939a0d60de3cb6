//! Coupons, promotion codes and tax rates.

use crate::columns::Text;
use crate::scoped;
use domain::billing::discounts::CouponDuration;
use domain::tenancy::Scope;
use sqlx::{AnyConnection, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct CouponRow {
    pub id: String,
    pub name: Option<String>,
    /// Exact decimal string, or None for an amount coupon.
    pub percent_off: Option<String>,
    pub amount_off: Option<i64>,
    pub currency: Option<String>,
    pub duration: Text<CouponDuration>,
    pub duration_in_months: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub redeem_by: Option<i64>,
    pub times_redeemed: i64,
    pub created_at: i64,
    pub archived_at: Option<i64>,
}

macro_rules! coupon_columns {
    () => {
        "id, name, percent_off, amount_off, currency, duration, duration_in_months, max_redemptions, redeem_by, times_redeemed, created_at, archived_at"
    };
}

pub async fn insert_coupon(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CouponRow,
) -> sqlx::Result<()> {
    scoped::query(
        concat!(
            "INSERT INTO coupons (tenant_id, env, ",
            coupon_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ),
        scope,
    )
    .bind(&r.id)
    .bind(r.name.as_deref())
    .bind(r.percent_off.as_deref())
    .bind(r.amount_off)
    .bind(r.currency.as_deref())
    .bind(r.duration)
    .bind(r.duration_in_months)
    .bind(r.max_redemptions)
    .bind(r.redeem_by)
    .bind(r.times_redeemed)
    .bind(r.created_at)
    .bind(r.archived_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// Writes what may change: the name and archival.
pub async fn update_coupon(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CouponRow,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE coupons SET name = $4, archived_at = $5 WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(&r.id)
    .bind(r.name.as_deref())
    .bind(r.archived_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_coupon(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<CouponRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            coupon_columns!(),
            " FROM coupons WHERE tenant_id = $1 AND env = $2 AND id = $3"
        ),
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn list_coupons(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<CouponRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            coupon_columns!(),
            " FROM coupons WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        ),
        scope,
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Counts one redemption unless the coupon reached `max_redemptions`; false if it had.
/// One statement, so concurrent redemptions never exceed the limit.
pub async fn redeem_coupon(c: &mut AnyConnection, scope: &Scope, id: &str) -> sqlx::Result<bool> {
    scoped::query(
        "UPDATE coupons SET times_redeemed = times_redeemed + 1
         WHERE tenant_id = $1 AND env = $2 AND id = $3
         AND (max_redemptions IS NULL OR times_redeemed < max_redemptions)",
        scope,
    )
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct PromotionCodeRow {
    pub id: String,
    pub coupon_id: String,
    /// Upper-case.
    pub code: String,
    /// 0 or 1.
    pub active: i64,
    pub max_redemptions: Option<i64>,
    pub expires_at: Option<i64>,
    pub times_redeemed: i64,
    pub created_at: i64,
}

macro_rules! promotion_code_columns {
    () => {
        "id, coupon_id, code, active, max_redemptions, expires_at, times_redeemed, created_at"
    };
}

pub async fn insert_promotion_code(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &PromotionCodeRow,
) -> sqlx::Result<()> {
    scoped::query(
        concat!(
            "INSERT INTO promotion_codes (tenant_id, env, ",
            promotion_code_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ),
        scope,
    )
    .bind(&r.id)
    .bind(&r.coupon_id)
    .bind(&r.code)
    .bind(r.active)
    .bind(r.max_redemptions)
    .bind(r.expires_at)
    .bind(r.times_redeemed)
    .bind(r.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn update_promotion_code(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &PromotionCodeRow,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE promotion_codes SET active = $4 WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(&r.id)
    .bind(r.active)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_promotion_code(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<PromotionCodeRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            promotion_code_columns!(),
            " FROM promotion_codes WHERE tenant_id = $1 AND env = $2 AND id = $3"
        ),
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

/// `code` upper-case, as stored.
pub async fn find_promotion_code(
    c: &mut AnyConnection,
    scope: &Scope,
    code: &str,
) -> sqlx::Result<Option<PromotionCodeRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            promotion_code_columns!(),
            " FROM promotion_codes WHERE tenant_id = $1 AND env = $2 AND code = $3"
        ),
        scope,
    )
    .bind(code)
    .fetch_optional(c)
    .await
}

pub async fn list_promotion_codes(
    c: &mut AnyConnection,
    scope: &Scope,
    code: Option<&str>,
    active: Option<bool>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<PromotionCodeRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            promotion_code_columns!(),
            " FROM promotion_codes WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR code = $3) AND ($4 IS NULL OR active = $4)
         AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"
        ),
        scope,
    )
    .bind(code)
    .bind(active.map(i64::from))
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Like `redeem_coupon`, for a promotion code.
pub async fn redeem_promotion_code(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<bool> {
    scoped::query(
        "UPDATE promotion_codes SET times_redeemed = times_redeemed + 1
         WHERE tenant_id = $1 AND env = $2 AND id = $3
         AND (max_redemptions IS NULL OR times_redeemed < max_redemptions)",
        scope,
    )
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct TaxRateRow {
    pub id: String,
    pub display_name: String,
    /// Exact decimal string, 0 to 100.
    pub percentage: String,
    pub jurisdiction: Option<String>,
    /// 0 or 1.
    pub active: i64,
    pub created_at: i64,
}

macro_rules! tax_rate_columns {
    () => {
        "id, display_name, percentage, jurisdiction, active, created_at"
    };
}

pub async fn insert_tax_rate(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &TaxRateRow,
) -> sqlx::Result<()> {
    scoped::query(
        concat!(
            "INSERT INTO tax_rates (tenant_id, env, ",
            tax_rate_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ),
        scope,
    )
    .bind(&r.id)
    .bind(&r.display_name)
    .bind(&r.percentage)
    .bind(r.jurisdiction.as_deref())
    .bind(r.active)
    .bind(r.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn update_tax_rate(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &TaxRateRow,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE tax_rates SET display_name = $4, active = $5 WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(&r.id)
    .bind(&r.display_name)
    .bind(r.active)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_tax_rate(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<TaxRateRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            tax_rate_columns!(),
            " FROM tax_rates WHERE tenant_id = $1 AND env = $2 AND id = $3"
        ),
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn list_tax_rates(
    c: &mut AnyConnection,
    scope: &Scope,
    active: Option<bool>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<TaxRateRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            tax_rate_columns!(),
            " FROM tax_rates WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR active = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        ),
        scope,
    )
    .bind(active.map(i64::from))
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

//! What a subscription redeems when it starts or changes: a coupon, or a promotion code and
//! its coupon (checked, and counted in the caller's transaction), and its default tax rates
//! (checked, and copied for its invoices). The coupon and tax rate handlers read their rows
//! through here too.

use crate::billing::discounts::{AppliedTaxRate, CouponTerms, Discount};
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;
use domain::ids::{CouponId, TaxRateId};
use store::billing::{self as db, CouponRow, TaxRateRow};

/// A coupon's terms, as a discount copies them.
pub fn terms_of(r: &CouponRow) -> CouponTerms {
    CouponTerms {
        percent_off: r.percent_off.clone(),
        amount_off: r.amount_off,
        currency: r.currency.clone(),
        duration: *r.duration,
        duration_in_months: r.duration_in_months,
    }
}

pub async fn load_coupon(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    id: &str,
) -> ApiResult<CouponRow> {
    db::get_coupon(tx, scope, id)
        .await?
        .ok_or(ApiError::NotFound("coupon"))
}

/// Checks that `coupon` can be redeemed at `now` on a subscription billed in `currency`
/// (the errors are 409s with stable codes).
fn check_redeemable(coupon: &CouponRow, currency: &str, now: i64) -> ApiResult<()> {
    if coupon.archived_at.is_some() {
        return Err(ApiError::conflict(
            "coupon_archived",
            format!("{} is archived and redeems no more.", coupon.id),
        ));
    }
    if coupon.redeem_by.is_some_and(|r| now >= r) {
        return Err(ApiError::conflict(
            "coupon_expired",
            format!("{} could be redeemed until its redeem_by.", coupon.id),
        ));
    }
    if let Some(c) = coupon.currency.as_deref().filter(|c| *c != currency) {
        return Err(ApiError::conflict(
            "coupon_currency_mismatch",
            format!(
                "{} takes an amount off in {c}; the subscription is billed in {currency}.",
                coupon.id
            ),
        ));
    }
    Ok(())
}

fn max_reached(what: &str) -> ApiError {
    let code = if what == "coupon" {
        "coupon_max_redemptions"
    } else {
        "promotion_code_max_redemptions"
    };
    ApiError::conflict(code, format!("The {what} reached its max_redemptions."))
}

/// Redeems a coupon, or a promotion code by its customer-facing code (case-insensitive),
/// for a subscription billed in `currency`, at `now` (the customer's time): checks them,
/// counts the redemption (and the code's) in the caller's transaction, and returns the
/// discount starting at `now`. Giving both is an error; giving neither returns None.
pub async fn redeem(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    coupon: Option<&CouponId>,
    promotion_code: Option<&str>,
    currency: &str,
    now: i64,
) -> ApiResult<Option<Discount>> {
    let (coupon_id, promo) = match (coupon, promotion_code) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "promotion_code",
                "give a coupon or a promotion code, not both",
            ));
        }
        (None, None) => return Ok(None),
        (Some(c), None) => (c.as_str().to_owned(), None),
        (None, Some(code)) => {
            let p = db::find_promotion_code(tx, scope, &code.trim().to_uppercase())
                .await?
                .ok_or(ApiError::NotFound("promotion_code"))?;
            if p.active == 0 {
                return Err(ApiError::conflict(
                    "promotion_code_inactive",
                    "The promotion code is not active.",
                ));
            }
            if p.expires_at.is_some_and(|e| now >= e) {
                return Err(ApiError::conflict(
                    "promotion_code_expired",
                    "The promotion code has expired.",
                ));
            }
            (p.coupon_id.clone(), Some(p))
        }
    };
    let row = load_coupon(tx, scope, &coupon_id).await?;
    check_redeemable(&row, currency, now)?;
    if let Some(p) = &promo
        && !db::redeem_promotion_code(tx, scope, &p.id).await?
    {
        return Err(max_reached("promotion code"));
    }
    if !db::redeem_coupon(tx, scope, &row.id).await? {
        return Err(max_reached("coupon"));
    }
    Ok(Some(Discount::new(
        row.id.clone(),
        promo.map(|p| p.id),
        terms_of(&row),
        now,
    )))
}

pub async fn load_tax_rate(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    id: &str,
) -> ApiResult<TaxRateRow> {
    db::get_tax_rate(tx, scope, id)
        .await?
        .ok_or(ApiError::NotFound("tax_rate"))
}

/// Checks a subscription's `default_tax_rates`: at most 5 distinct, active rates of this
/// organization and environment, copied for its invoices.
pub async fn tax_rates(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    ids: &[TaxRateId],
) -> ApiResult<Vec<AppliedTaxRate>> {
    if ids.len() > 5 {
        return Err(ApiError::validation(
            "default_tax_rates",
            "must have at most 5 tax rates",
        ));
    }
    let mut rates = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(ApiError::validation(
                &format!("default_tax_rates[{i}]"),
                "is listed twice",
            ));
        }
        let row = load_tax_rate(tx, scope, id.as_str()).await?;
        if row.active == 0 {
            return Err(ApiError::conflict(
                "tax_rate_inactive",
                format!(
                    "{} is inactive and applies to no new subscriptions.",
                    row.id
                ),
            ));
        }
        rates.push(AppliedTaxRate {
            id: row.id,
            display_name: row.display_name,
            percentage: row.percentage,
        });
    }
    Ok(rates)
}

//! Discounts and taxes without IO: coupon terms, when a subscription's discount applies,
//! and what a discount and tax rates make of an invoice's subtotal.
//!
//! Like Stripe: the discount comes off the subtotal (a `percent_off` share of it, or
//! `amount_off` capped at it; nothing off a zero or negative subtotal), taxes are exclusive
//! and computed on what is left (`taxable = subtotal − discount`), one rounding per amount
//! (the discount, then each rate's tax), half away from zero, exactly like line amounts
//! (`amount.rs`). `total = subtotal − discount + Σ tax`. A negative taxable amount (a credit
//! invoice) gets a negative tax, so a credited period gives its tax back.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::schedule::period_end;
use super::{Interval, check_decimal};
use crate::error::{Error, Result};

/// How long a coupon's discount lasts on a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CouponDuration {
    /// The first invoice only.
    Once,
    /// Invoices whose period starts within `duration_in_months` of the discount's start.
    Repeating,
    /// Every invoice.
    Forever,
}

/// What a coupon takes off: a percentage or an amount in one currency (never both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponTerms {
    pub percent_off: Option<String>,
    pub amount_off: Option<i64>,
    pub currency: Option<String>,
    pub duration: CouponDuration,
    pub duration_in_months: Option<i64>,
}

impl CouponTerms {
    /// As a customer reads it: `10% off forever`, `5.00 USD off once`, `25% off for 3 months`.
    pub fn describe(&self) -> String {
        let off = match (&self.percent_off, self.amount_off, &self.currency) {
            (Some(p), _, _) => format!("{p}%"),
            (None, Some(a), Some(c)) => super::money::money(a, c),
            _ => String::new(),
        };
        let how_long = match (self.duration, self.duration_in_months) {
            (CouponDuration::Once, _) => "once".to_owned(),
            (CouponDuration::Forever, _) => "forever".to_owned(),
            (CouponDuration::Repeating, Some(1)) => "for 1 month".to_owned(),
            (CouponDuration::Repeating, m) => format!("for {} months", m.unwrap_or(0)),
        };
        format!("{off} off {how_long}")
    }
}

/// A coupon applied to a subscription, with a copy of its terms (coupons never change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discount {
    pub coupon: String,
    pub promotion_code: Option<String>,
    pub start: i64,
    /// When a `repeating` discount stops applying; None for `once` and `forever`.
    pub end: Option<i64>,
    pub terms: CouponTerms,
}

impl Discount {
    pub fn new(
        coupon: String,
        promotion_code: Option<String>,
        terms: CouponTerms,
        start: i64,
    ) -> Self {
        let end = match (terms.duration, terms.duration_in_months) {
            (CouponDuration::Repeating, Some(months)) => {
                Some(period_end(start, Interval::Month, months, 1))
            }
            _ => None,
        };
        Discount {
            coupon,
            promotion_code,
            start,
            end,
            terms,
        }
    }

    /// Whether the discount applies to an invoice whose period starts at `period_start`.
    /// (A `once` discount is removed from the subscription once it has applied.)
    pub fn applies(&self, period_start: i64) -> bool {
        self.end.is_none_or(|end| period_start < end)
    }
}

/// A tax rate applied to a subscription: a copy of its id, name and percentage (which
/// never change), so deactivating a rate keeps it on existing subscriptions, like Stripe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedTaxRate {
    pub id: String,
    pub display_name: String,
    pub percentage: String,
}

/// An invoice's discount, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceDiscount {
    pub coupon: String,
    pub promotion_code: Option<String>,
    pub amount: i64,
}

/// One tax of an invoice, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTax {
    pub tax_rate: String,
    pub display_name: String,
    pub percentage: String,
    pub taxable_amount: i64,
    pub amount: i64,
}

/// A percentage: an exact decimal string from `min` (excluded unless `zero_ok`) to 100,
/// at most 4 decimal places, normalised (`"12.50"` → `"12.5"`).
pub fn check_percentage(field: &str, raw: &str, zero_ok: bool) -> Result<String> {
    let normal = check_decimal(field, raw)?;
    let d = Decimal::from_str(&normal)
        .map_err(|_| Error::validation(field, "must be a decimal string"))?;
    let low_ok = if zero_ok {
        d >= Decimal::ZERO
    } else {
        d > Decimal::ZERO
    };
    if !low_ok || d > Decimal::ONE_HUNDRED || d.scale() > 4 {
        let range = if zero_ok {
            "0 to 100"
        } else {
            "over 0, up to 100"
        };
        return Err(Error::validation(
            field,
            format!("must be {range} with at most 4 decimal places"),
        ));
    }
    Ok(normal)
}

fn overflow() -> Error {
    Error::validation("items", "the invoice total does not fit in 64 bits")
}

fn percent_of(amount: i64, percentage: &str) -> Result<i64> {
    let p = Decimal::from_str(percentage)
        .map_err(|_| Error::Internal(anyhow::anyhow!("a stored percentage is unreadable")))?;
    let exact = Decimal::from(amount)
        .checked_mul(p)
        .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
        .ok_or_else(overflow)?;
    exact
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .try_into()
        .map_err(|_| overflow())
}

/// What `terms` take off `subtotal`: never more than it, nothing off a negative or zero one.
pub fn discount_amount(subtotal: i64, terms: &CouponTerms) -> Result<i64> {
    if subtotal <= 0 {
        return Ok(0);
    }
    match (&terms.percent_off, terms.amount_off) {
        (Some(p), _) => Ok(percent_of(subtotal, p)?.min(subtotal)),
        (None, Some(a)) => Ok(a.clamp(0, subtotal)),
        (None, None) => Ok(0),
    }
}

/// An invoice's amounts after its discount and taxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub discount: i64,
    /// One amount per tax rate, in order.
    pub taxes: Vec<i64>,
    pub tax: i64,
    pub total: i64,
}

/// `subtotal` with `discount` off and each of `percentages` (exclusive taxes) added.
pub fn totals(
    subtotal: i64,
    discount: Option<&CouponTerms>,
    percentages: &[&str],
) -> Result<Totals> {
    let discount = discount.map_or(Ok(0), |t| discount_amount(subtotal, t))?;
    let taxable = subtotal.checked_sub(discount).ok_or_else(overflow)?;
    let taxes = percentages
        .iter()
        .map(|p| percent_of(taxable, p))
        .collect::<Result<Vec<i64>>>()?;
    let tax = taxes
        .iter()
        .try_fold(0i64, |s, t| s.checked_add(*t))
        .ok_or_else(overflow)?;
    let total = taxable.checked_add(tax).ok_or_else(overflow)?;
    Ok(Totals {
        discount,
        taxes,
        tax,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent(p: &str) -> CouponTerms {
        CouponTerms {
            percent_off: Some(p.into()),
            amount_off: None,
            currency: None,
            duration: CouponDuration::Forever,
            duration_in_months: None,
        }
    }

    fn amount(a: i64) -> CouponTerms {
        CouponTerms {
            percent_off: None,
            amount_off: Some(a),
            currency: Some("usd".into()),
            duration: CouponDuration::Forever,
            duration_in_months: None,
        }
    }

    /// (subtotal, coupon, tax percentages) → (discount, taxes per rate, total)
    type Case = (
        i64,
        Option<CouponTerms>,
        Vec<&'static str>,
        i64,
        Vec<i64>,
        i64,
    );

    #[test]
    fn discounts_then_taxes_to_the_cent() {
        let table: Vec<Case> = vec![
            // Stripe's coupon documentation: an amount_off of 200 makes a subtotal of 100 a
            // total of 0 (capped at the subtotal) and a subtotal of 300 a total of 100.
            (100, Some(amount(200)), vec![], 100, vec![], 0),
            (300, Some(amount(200)), vec![], 200, vec![], 100),
            // 25% off 49.99 = 12.4975 → 12.50; 37.49 × 8.25% = 3.0929… → 3.09; 40.58.
            (
                4999,
                Some(percent("25")),
                vec!["8.25"],
                1250,
                vec![309],
                4058,
            ),
            // 12.5% off 10.00 = 1.25; 8.75 × 8.25% = 0.721875 → 0.72; 9.47.
            (
                1000,
                Some(percent("12.5")),
                vec!["8.25"],
                125,
                vec![72],
                947,
            ),
            // Half a cent rounds away from zero: 10% of 0.05 = 0.005 → 0.01.
            (5, Some(percent("10")), vec![], 1, vec![], 4),
            // Two rates, each rounded on its own: 20.00 × 8.25% = 1.65, × 1.375% = 0.275 → 0.28.
            (2000, None, vec!["8.25", "1.375"], 0, vec![165, 28], 2193),
            // 100% off leaves nothing to tax.
            (2000, Some(percent("100")), vec!["8.25"], 2000, vec![0], 0),
            // A credit invoice (a downgrade) is never discounted; its tax is credited too:
            // −5.00 × 8.25% = −0.4125 → −0.41.
            (-500, Some(percent("50")), vec!["8.25"], 0, vec![-41], -541),
            (-500, Some(amount(300)), vec![], 0, vec![], -500),
            (0, Some(amount(300)), vec!["10"], 0, vec![0], 0),
            // 0% tax is allowed and adds nothing.
            (1234, None, vec!["0"], 0, vec![0], 1234),
        ];
        for (subtotal, coupon, rates, discount, taxes, total) in table {
            let t = totals(subtotal, coupon.as_ref(), &rates).expect("totals");
            assert_eq!(
                (t.discount, t.taxes.clone(), t.total),
                (discount, taxes.clone(), total),
                "{subtotal} with {coupon:?} and {rates:?}"
            );
            assert_eq!(t.tax, taxes.iter().sum::<i64>());
        }
    }

    #[test]
    fn overflow_is_an_error() {
        assert!(totals(i64::MAX, None, &["100"]).is_err());
    }

    #[test]
    fn percentages_are_checked_and_normalised() {
        assert_eq!(
            check_percentage("p", "12.50", false).ok(),
            Some("12.5".into())
        );
        assert_eq!(check_percentage("p", "100", false).ok(), Some("100".into()));
        assert_eq!(check_percentage("p", "0", true).ok(), Some("0".into()));
        for bad in ["0", "100.01", "-1", "1e2", "", "abc", "8.12345"] {
            assert!(check_percentage("p", bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_decide_which_periods_are_discounted() {
        const DAY: i64 = 24 * 3600 * 1000;
        // 2027-01-01T00:00:00Z
        let start = 1_798_761_600_000;
        let mut terms = percent("10");
        terms.duration = CouponDuration::Repeating;
        terms.duration_in_months = Some(2);
        let d = Discount::new("coupon_1".into(), None, terms, start);
        // Two calendar months: up to 2027-03-01 (31 + 28 days), exclusive.
        assert_eq!(d.end, Some(start + 59 * DAY));
        assert!(d.applies(start));
        assert!(d.applies(start + 31 * DAY));
        assert!(!d.applies(start + 59 * DAY));
        let forever = Discount::new("coupon_2".into(), None, percent("10"), start);
        assert_eq!(forever.end, None);
        assert!(forever.applies(start + 3650 * DAY));
    }
}

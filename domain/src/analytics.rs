//! Revenue analytics from a recorded history: what a subscription adds to monthly recurring
//! revenue (MRR), and how a customer's change of MRR is named, following ChartMogul's
//! published definitions where they exist.
//!
//! - **MRR** of a subscription: each licensed item's amount per period, normalised to a
//!   month (a year is 12 months, a week 52/12 of one, a day 365/12), with its discount off
//!   while it applies (percent, or an amount per invoice normalised the same way, never
//!   below zero) and taxes left out. Only subscriptions that bill count: `active` and
//!   `past_due` (a failing payment is not churn until its retries end); trials,
//!   `incomplete`, `paused`, `unpaid` and `canceled` add nothing. Where we differ from
//!   ChartMogul: metered usage is not recurring revenue and adds nothing (it is revenue,
//!   billed in arrears); a `once` coupon takes one invoice, not MRR.
//! - A customer's MRR is the sum of its subscriptions' in its currency, kept exactly in
//!   minor units to 1/100 of a minor unit (two decimals of a cent), so sums of movements are
//!   exact and equal the change of MRR.
//! - **Movements**, per customer: 0 → more is `new` the first time and `reactivation` after
//!   a churn; more → 0 is `churn`; up is `expansion`, down `contraction`.
//! - **Health**: a score from documented rules over billing and usage signals (`health`).

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::billing::amount::amount_for;
use crate::billing::discounts::{CouponDuration, Discount};
use crate::billing::status::SubscriptionStatus;
use crate::billing::subscriptions::Item;
use crate::billing::{Interval, Recurring};

/// Decimal places of a minor unit that MRR is kept to.
pub const MRR_SCALE: u32 = 2;

/// A change of a customer's MRR, by its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    New,
    Expansion,
    Contraction,
    Churn,
    Reactivation,
}

impl MovementKind {
    pub const ALL: [MovementKind; 5] = [
        MovementKind::New,
        MovementKind::Expansion,
        MovementKind::Contraction,
        MovementKind::Churn,
        MovementKind::Reactivation,
    ];

    /// The kind of a change from `before` to `after`; None when nothing changed.
    /// `paid_before`: the customer had MRR at some earlier time.
    pub fn of(before: Decimal, after: Decimal, paid_before: bool) -> Option<MovementKind> {
        use std::cmp::Ordering::*;
        match (before.is_zero(), after.is_zero(), after.cmp(&before)) {
            (_, _, Equal) | (true, true, _) => None,
            (true, false, _) if paid_before => Some(MovementKind::Reactivation),
            (true, false, _) => Some(MovementKind::New),
            (false, true, _) => Some(MovementKind::Churn),
            (false, false, Greater) => Some(MovementKind::Expansion),
            (false, false, Less) => Some(MovementKind::Contraction),
        }
    }
}

/// Months in one period of `recurring`.
fn months(r: &Recurring) -> Decimal {
    let n = Decimal::from(r.interval_count);
    match r.interval {
        Interval::Day => n * Decimal::from(12) / Decimal::from(365),
        Interval::Week => n * Decimal::from(12) / Decimal::from(52),
        Interval::Month => n,
        Interval::Year => n * Decimal::from(12),
    }
}

/// What a subscription in `status`, with `items` and `discount`, adds to MRR at `at`, in
/// minor units, exact (see the module's doc).
pub fn subscription_mrr(
    status: SubscriptionStatus,
    items: &[Item],
    discount: Option<&Discount>,
    at: i64,
) -> Decimal {
    if !matches!(
        status,
        SubscriptionStatus::Active | SubscriptionStatus::PastDue
    ) {
        return Decimal::ZERO;
    }
    let mut per_month = Decimal::ZERO;
    let mut period_months = None;
    for item in items.iter().filter(|i| i.terms.metered.is_none()) {
        let Some(recurring) = &item.terms.recurring else {
            continue;
        };
        let m = months(recurring);
        period_months.get_or_insert(m);
        let amount = amount_for(&item.terms, item.quantity).unwrap_or(0);
        per_month += Decimal::from(amount) / m;
    }
    let off = match discount.filter(|d| d.terms.duration != CouponDuration::Once && d.applies(at)) {
        Some(d) => match (&d.terms.percent_off, d.terms.amount_off, period_months) {
            (Some(p), _, _) => {
                per_month * p.parse::<Decimal>().unwrap_or_default() / Decimal::ONE_HUNDRED
            }
            (None, Some(a), Some(m)) => Decimal::from(a) / m,
            _ => Decimal::ZERO,
        },
        None => Decimal::ZERO,
    };
    (per_month - off.min(per_month)).max(Decimal::ZERO)
}

/// MRR as kept: rounded half away from zero to `MRR_SCALE` places of a minor unit.
pub fn kept(mrr: Decimal) -> Decimal {
    mrr.round_dp_with_strategy(MRR_SCALE, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

/// What a customer's health score is made from, over the 90 days (usage: two 30-day
/// windows) before the time it is scored at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    /// A subscription is set to cancel at its period's end.
    pub cancellation_scheduled: bool,
    /// A subscription is `past_due` (retries under way).
    pub past_due: bool,
    /// A subscription is `unpaid` (every retry failed).
    pub unpaid: bool,
    /// Invoices paid only after a failed attempt.
    pub recovered_payments: u32,
    /// Contraction movements of the customer's MRR.
    pub contractions: u32,
    /// Usage events in the last 30 days, and in the 30 before.
    pub usage_recent: i64,
    pub usage_before: i64,
    /// A trial ends within 7 days and the customer has no payment method.
    pub trial_without_payment_method: bool,
}

/// How healthy a customer is: 70 and up healthy, 40 to 69 at risk, below 40 critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Critical,
    AtRisk,
    Healthy,
}

/// One rule that took points off, and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deduction {
    /// `cancellation_scheduled`, `unpaid`, `past_due`, `payment_recovered`, `contraction`,
    /// `usage_down`, `usage_down_by_half` or `trial_without_payment_method`.
    pub signal: &'static str,
    pub points: i32,
}

/// A customer's health score, 0 to 100, by documented rules: from 100, a scheduled
/// cancellation takes 40; an unpaid subscription 50, or a past-due one 30; each payment
/// recovered after a failure 10 (at most 20); each contraction 15 (at most 30); usage down
/// by half against the 30 days before 20, or by a quarter 10; a trial ending within a week
/// without a payment method 20.
pub fn health(s: &Signals) -> (u8, Band, Vec<Deduction>) {
    let mut off = Vec::new();
    let mut take = |signal: &'static str, points: i32| {
        if points > 0 {
            off.push(Deduction { signal, points });
        }
    };
    take(
        "cancellation_scheduled",
        if s.cancellation_scheduled { 40 } else { 0 },
    );
    match (s.unpaid, s.past_due) {
        (true, _) => take("unpaid", 50),
        (false, true) => take("past_due", 30),
        _ => {}
    }
    take(
        "payment_recovered",
        (10 * s.recovered_payments as i32).min(20),
    );
    take("contraction", (15 * s.contractions as i32).min(30));
    if s.usage_before > 0 {
        if s.usage_recent * 2 <= s.usage_before {
            take("usage_down_by_half", 20);
        } else if s.usage_recent * 4 <= s.usage_before * 3 {
            take("usage_down", 10);
        }
    }
    take(
        "trial_without_payment_method",
        if s.trial_without_payment_method {
            20
        } else {
            0
        },
    );
    let score = (100 - off.iter().map(|d| d.points).sum::<i32>()).clamp(0, 100) as u8;
    let band = match score {
        70.. => Band::Healthy,
        40..=69 => Band::AtRisk,
        _ => Band::Critical,
    };
    (score, band, off)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::discounts::CouponTerms;
    use crate::billing::{PriceModel, PriceTerms};

    fn item(amount: i64, quantity: i64, interval: Interval, count: i64) -> Item {
        Item {
            price: "price_1".into(),
            quantity,
            terms: PriceTerms {
                recurring: Some(Recurring {
                    interval,
                    interval_count: count,
                }),
                model: PriceModel::PerUnit,
                unit_amount: Some(amount),
                unit_amount_decimal: None,
                tiers: None,
                package: None,
                trial_days: None,
                metered: None,
                percentage: None,
            },
        }
    }

    fn discount(percent: Option<&str>, amount: Option<i64>, duration: CouponDuration) -> Discount {
        Discount {
            coupon: "coupon_1".into(),
            promotion_code: None,
            start: 0,
            end: Some(100),
            terms: CouponTerms {
                percent_off: percent.map(str::to_owned),
                amount_off: amount,
                currency: Some("usd".into()),
                duration,
                duration_in_months: None,
            },
        }
    }

    #[test]
    fn intervals_are_normalised_to_a_month() {
        let active = SubscriptionStatus::Active;
        let mrr = |items: &[Item]| kept(subscription_mrr(active, items, None, 0));
        assert_eq!(
            mrr(&[item(5000, 1, Interval::Month, 1)]),
            Decimal::from(5000)
        );
        assert_eq!(
            mrr(&[item(2500, 3, Interval::Month, 1)]),
            Decimal::from(7500)
        );
        assert_eq!(
            mrr(&[item(60000, 1, Interval::Year, 1)]),
            Decimal::from(5000)
        );
        assert_eq!(
            mrr(&[item(10000, 1, Interval::Year, 1)]).to_string(),
            "833.33"
        );
        assert_eq!(
            mrr(&[item(9000, 1, Interval::Month, 3)]),
            Decimal::from(3000)
        );
        assert_eq!(
            mrr(&[item(1200, 1, Interval::Week, 1)]),
            Decimal::from(5200)
        );
        assert_eq!(
            mrr(&[item(100, 1, Interval::Day, 1)]).to_string(),
            "3041.67"
        );
    }

    #[test]
    fn only_billing_states_count_and_discounts_apply_while_they_last() {
        let items = [item(5000, 1, Interval::Month, 1)];
        for status in [
            SubscriptionStatus::Trialing,
            SubscriptionStatus::Incomplete,
            SubscriptionStatus::Paused,
            SubscriptionStatus::Unpaid,
            SubscriptionStatus::Canceled,
        ] {
            assert_eq!(subscription_mrr(status, &items, None, 0), Decimal::ZERO);
        }
        let past_due = subscription_mrr(SubscriptionStatus::PastDue, &items, None, 0);
        assert_eq!(past_due, Decimal::from(5000));
        let active = SubscriptionStatus::Active;
        let twenty = discount(Some("20"), None, CouponDuration::Repeating);
        assert_eq!(
            subscription_mrr(active, &items, Some(&twenty), 50),
            Decimal::from(4000)
        );
        assert_eq!(
            subscription_mrr(active, &items, Some(&twenty), 100),
            Decimal::from(5000),
            "a repeating discount that has ended"
        );
        let once = discount(Some("20"), None, CouponDuration::Once);
        assert_eq!(
            subscription_mrr(active, &items, Some(&once), 0),
            Decimal::from(5000)
        );
        let yearly = [item(60000, 1, Interval::Year, 1)];
        let amount = discount(None, Some(12000), CouponDuration::Forever);
        assert_eq!(
            subscription_mrr(active, &yearly, Some(&amount), 0),
            Decimal::from(4000),
            "120.00 off a yearly invoice is 10.00 a month"
        );
        let huge = discount(None, Some(999_999), CouponDuration::Forever);
        assert_eq!(
            subscription_mrr(active, &items, Some(&huge), 0),
            Decimal::ZERO
        );
    }

    #[test]
    fn movements_are_named_like_chartmogul() {
        let d = Decimal::from;
        assert_eq!(MovementKind::of(d(0), d(5), false), Some(MovementKind::New));
        assert_eq!(
            MovementKind::of(d(0), d(5), true),
            Some(MovementKind::Reactivation)
        );
        assert_eq!(
            MovementKind::of(d(5), d(0), true),
            Some(MovementKind::Churn)
        );
        assert_eq!(
            MovementKind::of(d(5), d(7), true),
            Some(MovementKind::Expansion)
        );
        assert_eq!(
            MovementKind::of(d(7), d(5), true),
            Some(MovementKind::Contraction)
        );
        assert_eq!(MovementKind::of(d(5), d(5), true), None);
        assert_eq!(MovementKind::of(d(0), d(0), false), None);
    }

    #[test]
    fn health_follows_its_rules() {
        let (score, band, off) = health(&Signals::default());
        assert_eq!((score, band, off.len()), (100, Band::Healthy, 0));
        let worn = Signals {
            past_due: true,
            contractions: 3,
            usage_recent: 40,
            usage_before: 100,
            ..Signals::default()
        };
        let (score, band, off) = health(&worn);
        assert_eq!((score, band), (20, Band::Critical));
        let signals: Vec<_> = off.iter().map(|d| (d.signal, d.points)).collect();
        assert_eq!(
            signals,
            [
                ("past_due", 30),
                ("contraction", 30),
                ("usage_down_by_half", 20)
            ]
        );
        let slipping = Signals {
            usage_recent: 70,
            usage_before: 100,
            recovered_payments: 1,
            ..Signals::default()
        };
        assert_eq!(health(&slipping).0, 80);
        let leaving = Signals {
            cancellation_scheduled: true,
            unpaid: true,
            past_due: true,
            ..Signals::default()
        };
        assert_eq!(health(&leaving).0, 10, "unpaid, not also past due");
        let new_trial = Signals {
            trial_without_payment_method: true,
            usage_recent: 5,
            usage_before: 0,
            ..Signals::default()
        };
        assert_eq!(
            health(&new_trial).1,
            Band::Healthy,
            "80: no usage before is no decline"
        );
    }
}

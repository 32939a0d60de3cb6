//! Invoice lines: what a period of a subscription's licensed items charges, the prorations
//! of a change to them, and their sum; why a credit note corrects an invoice.

use serde::{Deserialize, Serialize};

use super::amount::amount_for;
use super::proration::remaining;
use super::subscriptions::Item;
use crate::error::{Error, Result};

/// One line of an invoice, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub price: String,
    pub quantity: i64,
    /// Minor units; negative for credits.
    pub amount: i64,
    /// The unused (credit) or remaining (charge) part of a period after a change.
    #[serde(default)]
    pub proration: bool,
    pub period_start: i64,
    pub period_end: i64,
    /// A usage line's measured usage in the period, an exact decimal; `quantity` is what
    /// was billed of it (less the included quantity), rounded up to a whole unit. On a late
    /// usage adjustment, the period's usage when it was made, with the quantity and amount
    /// it adds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
}

/// Why money was given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CreditNoteReason {
    Duplicate,
    Fraudulent,
    OrderChange,
    ProductUnsatisfactory,
}

/// One line per licensed item for a whole period (metered items bill in arrears).
pub fn period_lines(items: &[Item], start: i64, end: i64) -> Result<Vec<Line>> {
    licensed(items)
        .map(|i| {
            let amount = amount_for(&i.terms, i.quantity)
                .map_err(|e| Error::validation("items", e.to_string()))?;
            Ok(whole_period(i, amount, start, end))
        })
        .collect()
}

/// The lines of a trial's invoice: each licensed item for the trial, at 0 (Stripe's 0.00
/// invoice, which records what the trial gave).
pub fn trial_lines(items: &[Item], start: i64, end: i64) -> Vec<Line> {
    licensed(items)
        .map(|i| whole_period(i, 0, start, end))
        .collect()
}

fn licensed(items: &[Item]) -> impl Iterator<Item = &Item> {
    items.iter().filter(|i| i.terms.metered.is_none())
}

fn whole_period(i: &Item, amount: i64, start: i64, end: i64) -> Line {
    Line {
        price: i.price.clone(),
        quantity: i.quantity,
        amount,
        proration: false,
        period_start: start,
        period_end: end,
        usage: None,
    }
}

/// The proration lines for replacing `old` items by `new` at `at` in the period
/// `[start, end)`: a credit for the unused time of every item that goes or changes, a
/// charge for the remaining time of every item that comes or changes.
pub fn proration_lines(
    old: &[Item],
    new: &[Item],
    (start, end): (i64, i64),
    at: i64,
) -> Result<Vec<Line>> {
    let same = |a: &Item, b: &Item| a.price == b.price && a.quantity == b.quantity;
    let line = |i: &Item, sign: i64| -> Result<Line> {
        let whole = amount_for(&i.terms, i.quantity)
            .map_err(|e| Error::validation("items", e.to_string()))?;
        Ok(Line {
            price: i.price.clone(),
            quantity: i.quantity,
            amount: sign * remaining(whole, start, end, at),
            proration: true,
            period_start: at,
            period_end: end,
            usage: None,
        })
    };
    // Metered items bill what was used, whenever it was used: nothing to prorate.
    let licensed = |i: &&Item| i.terms.metered.is_none();
    let credits = old
        .iter()
        .filter(licensed)
        .filter(|o| !new.iter().any(|n| same(o, n)))
        .map(|o| line(o, -1));
    let charges = new
        .iter()
        .filter(licensed)
        .filter(|n| !old.iter().any(|o| same(o, n)))
        .map(|n| line(n, 1));
    credits.chain(charges).collect()
}

pub fn sum(lines: &[Line]) -> Result<i64> {
    lines
        .iter()
        .try_fold(0i64, |sum, l| sum.checked_add(l.amount))
        .ok_or_else(|| Error::validation("items", "the invoice total does not fit in 64 bits"))
}

/// Proration lines of a subscription change.
#[cfg(test)]
mod tests {
    use super::{Line, proration_lines, sum};
    use crate::billing::subscriptions::Item;
    use crate::billing::{Interval, PriceModel, PriceTerms, Recurring};

    const DAY: i64 = 24 * 3600 * 1000;

    fn item(price: &str, unit: i64, quantity: i64) -> Item {
        Item {
            price: price.into(),
            quantity,
            terms: PriceTerms {
                recurring: Some(Recurring {
                    interval: Interval::Month,
                    interval_count: 1,
                }),
                model: PriceModel::PerUnit,
                unit_amount: Some(unit),
                unit_amount_decimal: None,
                tiers: None,
                package: None,
                trial_days: None,
                metered: None,
                percentage: None,
            },
        }
    }

    fn amounts(lines: &[Line]) -> Vec<(String, i64)> {
        lines.iter().map(|l| (l.price.clone(), l.amount)).collect()
    }

    #[test]
    fn an_upgrade_credits_the_old_price_and_charges_the_new_one() {
        let lines = proration_lines(
            &[item("price_basic", 1000, 1)],
            &[item("price_pro", 2000, 1)],
            (0, 30 * DAY),
            15 * DAY,
        )
        .expect("prorate");
        assert_eq!(
            amounts(&lines),
            [("price_basic".into(), -500), ("price_pro".into(), 1000)]
        );
        assert!(
            lines
                .iter()
                .all(|l| l.proration && l.period_start == 15 * DAY)
        );
    }

    #[test]
    fn a_quantity_change_reprices_the_item_and_leaves_the_rest() {
        // 3 → 5 seats at 12.00 with 10 of 30 days gone, and an unchanged add-on.
        let lines = proration_lines(
            &[item("price_seat", 1200, 3), item("price_addon", 500, 1)],
            &[item("price_seat", 1200, 5), item("price_addon", 500, 1)],
            (0, 30 * DAY),
            10 * DAY,
        )
        .expect("prorate");
        assert_eq!(
            amounts(&lines),
            [("price_seat".into(), -2400), ("price_seat".into(), 4000)]
        );
    }

    #[test]
    fn a_downgrade_nets_a_credit() {
        let lines = proration_lines(
            &[item("price_pro", 2000, 1)],
            &[item("price_basic", 1000, 1)],
            (0, 31 * DAY),
            10 * DAY,
        )
        .expect("prorate");
        // 21/31 of 20.00 = 13.548… → 13.55 credited; 21/31 of 10.00 = 6.774… → 6.77 charged.
        assert_eq!(
            amounts(&lines),
            [("price_pro".into(), -1355), ("price_basic".into(), 677)]
        );
        assert_eq!(sum(&lines).expect("sum"), -678);
    }
}

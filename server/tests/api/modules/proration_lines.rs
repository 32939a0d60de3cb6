//! Proration lines of a subscription change.

use domain::billing::{Interval, PriceModel, PriceTerms, Recurring};
use neoforge_server::billing::invoicing::{self, Line};
use neoforge_server::billing::subscriptions::{Item, proration_lines};

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
    assert_eq!(invoicing::sum(&lines).expect("sum"), -678);
}

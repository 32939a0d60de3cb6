//! What a price charges for a quantity: exact decimal arithmetic in minor units, rounded once,
//! at the end, to a whole minor unit, half away from zero (0.5 cent → 1 cent). Amounts that
//! would not fit an i64 are errors, never wrapped.
//!
//! - `flat`: `unit_amount` per period, whatever the quantity.
//! - `per_unit`: quantity × (`unit_amount` or `unit_amount_decimal`).
//! - `graduated`: each tier prices the units that fall in it; a tier's `flat_amount` is added
//!   once at least one unit reaches that tier.
//! - `volume`: the tier that the whole quantity falls in prices every unit, plus its
//!   `flat_amount`.
//!
//! Like Stripe ("Stripe always bills the first flat rate tier when quantity=0"), a quantity
//! of 0 falls in the first tier of either tiered model and bills its `flat_amount`.
//! - `package`: `package.amount` per started `package.size` units.
//! - `percentage` (Lago's model, see `Percentage`): per event, in time order, the rate on
//!   its part of the amount past the free units, plus the fixed fee unless it is one of the
//!   free events, held between the per-transaction bounds; `amount_for` prices one event of
//!   `quantity`, `percentage_amount` a period's events. With both kinds of free units, the
//!   free events are those at the start that stay within both limits, and the free amount
//!   is the smaller of `free_units_per_total_aggregation` and what the first
//!   `free_units_per_events` events add up to. An event's amount below zero counts as zero.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

use super::{Percentage, PriceModel, PriceTerms, Tier};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("the quantity must not be negative")]
    NegativeQuantity,
    #[error("the amount does not fit in 64 bits")]
    Overflow,
    #[error("the price terms are incomplete for its model")]
    Incomplete,
}

fn decimal(s: &str) -> Result<Decimal, AmountError> {
    Decimal::from_str(s).map_err(|_| AmountError::Incomplete)
}

fn tier_unit(t: &Tier) -> Result<Decimal, AmountError> {
    t.unit_amount_decimal
        .as_deref()
        .map_or(Ok(Decimal::ZERO), decimal)
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, AmountError> {
    a.checked_add(b).ok_or(AmountError::Overflow)
}

fn mul(a: Decimal, b: Decimal) -> Result<Decimal, AmountError> {
    a.checked_mul(b).ok_or(AmountError::Overflow)
}

/// The amount in minor units that `terms` charge for `quantity` units (whole units, or an
/// exact decimal for usage: 2.5 GB).
pub fn amount_for(terms: &PriceTerms, quantity: impl Into<Decimal>) -> Result<i64, AmountError> {
    let q: Decimal = quantity.into();
    if q.is_sign_negative() && !q.is_zero() {
        return Err(AmountError::NegativeQuantity);
    }
    let exact = match terms.model {
        PriceModel::Flat => Decimal::from(terms.unit_amount.ok_or(AmountError::Incomplete)?),
        PriceModel::PerUnit => {
            let unit = match (&terms.unit_amount_decimal, terms.unit_amount) {
                (Some(d), _) => decimal(d)?,
                (None, Some(a)) => Decimal::from(a),
                (None, None) => return Err(AmountError::Incomplete),
            };
            mul(unit, q)?
        }
        PriceModel::Graduated => {
            let mut total = Decimal::ZERO;
            let mut below = Decimal::ZERO;
            let tiers = terms.tiers.as_deref().ok_or(AmountError::Incomplete)?;
            for (i, t) in tiers.iter().enumerate() {
                if q <= below && i > 0 {
                    break;
                }
                let top = t.up_to.map_or(q, |up| Decimal::from(up).min(q));
                total = add(total, mul(tier_unit(t)?, top - below)?)?;
                total = add(total, Decimal::from(t.flat_amount.unwrap_or(0)))?;
                below = top;
            }
            total
        }
        PriceModel::Volume => {
            let tiers = terms.tiers.as_deref().ok_or(AmountError::Incomplete)?;
            match tiers
                .iter()
                .find(|t| t.up_to.is_none_or(|up| q <= Decimal::from(up)))
            {
                Some(t) => add(
                    mul(tier_unit(t)?, q)?,
                    Decimal::from(t.flat_amount.unwrap_or(0)),
                )?,
                None => return Err(AmountError::Incomplete),
            }
        }
        PriceModel::Package => {
            let p = terms.package.as_ref().ok_or(AmountError::Incomplete)?;
            let packages = q
                .checked_div(Decimal::from(p.size))
                .ok_or(AmountError::Overflow)?
                .ceil();
            mul(Decimal::from(p.amount), packages)?
        }
        PriceModel::Percentage => {
            let p = terms.percentage.as_ref().ok_or(AmountError::Incomplete)?;
            percentage_exact(p, &[q])?
        }
    };
    round(exact)
}

fn round(exact: Decimal) -> Result<i64, AmountError> {
    let rounded = exact.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(rounded).map_err(|_| AmountError::Overflow)
}

/// What a percentage price charges for a period's events (each one's amount, in time
/// order), in minor units, rounded once.
pub fn percentage_amount(p: &Percentage, amounts: &[Decimal]) -> Result<i64, AmountError> {
    round(percentage_exact(p, amounts)?)
}

fn percentage_exact(p: &Percentage, amounts: &[Decimal]) -> Result<Decimal, AmountError> {
    let rate = decimal(&p.rate)? / Decimal::ONE_HUNDRED;
    let amounts: Vec<Decimal> = amounts.iter().map(|a| (*a).max(Decimal::ZERO)).collect();
    let free_total = p
        .free_units_per_total_aggregation
        .as_deref()
        .map(decimal)
        .transpose()?;
    let free_events = p
        .free_units_per_events
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    // Running totals after each event.
    let mut running = Vec::with_capacity(amounts.len());
    let mut sum = Decimal::ZERO;
    for a in &amounts {
        sum = add(sum, *a)?;
        running.push(sum);
    }
    let (free_amount, free_count) = match (free_events, free_total) {
        (None, None) => (Decimal::ZERO, 0),
        (None, Some(x)) => (x, 0),
        (Some(n), x) => {
            let first_n = n
                .min(running.len())
                .checked_sub(1)
                .map_or(Decimal::ZERO, |i| running[i]);
            let limit = x.unwrap_or(first_n);
            let within = running.iter().take(n).take_while(|r| **r <= limit).count();
            (first_n.min(limit), within)
        }
    };
    let fixed = Decimal::from(p.fixed_amount.unwrap_or(0));
    let mut total = Decimal::ZERO;
    let mut before = Decimal::ZERO;
    for (i, after) in running.iter().enumerate() {
        let paying =
            (*after - free_amount).max(Decimal::ZERO) - (before - free_amount).max(Decimal::ZERO);
        before = *after;
        if i < free_count && paying.is_zero() {
            continue;
        }
        let mut fee = mul(rate, paying)?;
        if i >= free_count {
            fee = add(fee, fixed)?;
        }
        if let Some(min) = p.per_transaction_min_amount {
            fee = fee.max(Decimal::from(min));
        }
        if let Some(max) = p.per_transaction_max_amount {
            fee = fee.min(Decimal::from(max));
        }
        total = add(total, fee)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::Package;

    fn terms(model: PriceModel) -> PriceTerms {
        PriceTerms {
            recurring: None,
            model,
            unit_amount: None,
            unit_amount_decimal: None,
            tiers: None,
            package: None,
            trial_days: None,
            metered: None,
            percentage: None,
        }
    }

    fn percentage(rate: &str) -> Percentage {
        Percentage {
            rate: rate.into(),
            fixed_amount: None,
            free_units_per_events: None,
            free_units_per_total_aggregation: None,
            per_transaction_min_amount: None,
            per_transaction_max_amount: None,
        }
    }

    fn cents(amounts: &[i64]) -> Vec<Decimal> {
        amounts.iter().copied().map(Decimal::from).collect()
    }

    /// Lago's documented examples (amounts in cents), then the edges of free units and
    /// per-transaction bounds.
    #[test]
    fn percentage_follows_lagos_examples() {
        let lago_doc = Percentage {
            fixed_amount: Some(10),
            free_units_per_events: Some(3),
            free_units_per_total_aggregation: Some("50000".into()),
            ..percentage("1.2")
        };
        let card = Percentage {
            fixed_amount: Some(30),
            ..percentage("2.9")
        };
        let cases: Vec<(&str, Percentage, Vec<i64>, i64)> = vec![
            // "the first 3 events or $500 are free": the fourth, $50, pays $0.10 + 1.2%.
            (
                "lago: free events then charge",
                lago_doc.clone(),
                vec![20000, 10000, 10000, 5000],
                70,
            ),
            (
                "lago: all within the free units",
                lago_doc.clone(),
                vec![20000, 10000, 10000],
                0,
            ),
            // "1,000 USD of transactions at 2% … 20 USD".
            (
                "lago v2: 2% of 1,000 USD",
                percentage("2"),
                vec![100000],
                2000,
            ),
            // Lago's Stripe template: 2.9% + $0.30 per card payment.
            ("card: one payment", card.clone(), vec![10000], 320),
            ("card: two payments", card.clone(), vec![10000, 5000], 495),
            ("card: no events", card, vec![], 0),
            (
                "the free amount is passed before the free events",
                Percentage {
                    free_units_per_total_aggregation: Some("25000".into()),
                    ..lago_doc.clone()
                },
                vec![20000, 10000, 10000],
                200,
            ),
            (
                "free amount only: every event pays the fixed fee",
                Percentage {
                    fixed_amount: Some(5),
                    free_units_per_total_aggregation: Some("1000".into()),
                    ..percentage("1")
                },
                vec![600, 600],
                12,
            ),
            (
                "free events only: their amounts pay no rate",
                Percentage {
                    free_units_per_events: Some(1),
                    ..percentage("10")
                },
                vec![1000, 500],
                50,
            ),
            (
                "per-transaction bounds",
                Percentage {
                    fixed_amount: Some(30),
                    per_transaction_min_amount: Some(50),
                    per_transaction_max_amount: Some(500),
                    ..percentage("1")
                },
                vec![1000, 100000, 2000000],
                50 + 500 + 500,
            ),
            (
                "rounded once, not per event",
                percentage("2.9"),
                vec![20, 20, 20],
                2,
            ),
            (
                "negative amounts count as zero",
                percentage("10"),
                vec![-500, 1000],
                100,
            ),
        ];
        for (name, p, amounts, want) in cases {
            assert_eq!(percentage_amount(&p, &cents(&amounts)), Ok(want), "{name}");
        }
        let one = PriceTerms {
            percentage: Some(percentage("2.9")),
            ..terms(PriceModel::Percentage)
        };
        assert_eq!(amount_for(&one, 10000), Ok(290), "a quote prices one event");
    }

    fn tier(up_to: Option<i64>, unit: &str, flat: Option<i64>) -> Tier {
        Tier {
            up_to,
            unit_amount_decimal: Some(unit.into()),
            flat_amount: flat,
        }
    }

    #[test]
    fn flat_ignores_quantity() {
        let t = PriceTerms {
            unit_amount: Some(4900),
            ..terms(PriceModel::Flat)
        };
        assert_eq!(amount_for(&t, 0), Ok(4900));
        assert_eq!(amount_for(&t, 7), Ok(4900));
    }

    #[test]
    fn per_unit_rounds_once_half_away_from_zero() {
        let t = PriceTerms {
            unit_amount_decimal: Some("0.125".into()),
            ..terms(PriceModel::PerUnit)
        };
        assert_eq!(amount_for(&t, 4), Ok(1)); // 0.5 → 1
        assert_eq!(amount_for(&t, 3), Ok(0)); // 0.375 → 0
        assert_eq!(amount_for(&t, 12), Ok(2)); // 1.5 → 2, not 12 × round(0.125)
        let seats = PriceTerms {
            unit_amount: Some(1200),
            ..terms(PriceModel::PerUnit)
        };
        assert_eq!(amount_for(&seats, 5), Ok(6000));
    }

    #[test]
    fn graduated_prices_each_tier_and_adds_flat_fees_once_reached() {
        let t = PriceTerms {
            tiers: Some(vec![
                tier(Some(1000), "0", Some(0)),
                tier(Some(10_000), "0.5", Some(100)),
                tier(None, "0.25", None),
            ]),
            ..terms(PriceModel::Graduated)
        };
        assert_eq!(amount_for(&t, 0), Ok(0));
        assert_eq!(amount_for(&t, 1000), Ok(0));
        assert_eq!(amount_for(&t, 1001), Ok(101)); // 0.5 + 100 flat → 100.5 → 101
        assert_eq!(amount_for(&t, 10_000), Ok(4600)); // 9000 × 0.5 + 100
        assert_eq!(amount_for(&t, 12_000), Ok(5100)); // + 2000 × 0.25
    }

    #[test]
    fn volume_prices_every_unit_at_the_reached_tier() {
        let t = PriceTerms {
            tiers: Some(vec![
                tier(Some(10), "100", None),
                tier(Some(100), "80", Some(50)),
                tier(None, "60", None),
            ]),
            ..terms(PriceModel::Volume)
        };
        assert_eq!(amount_for(&t, 0), Ok(0));
        assert_eq!(amount_for(&t, 10), Ok(1000));
        assert_eq!(amount_for(&t, 11), Ok(930)); // 11 × 80 + 50
        assert_eq!(amount_for(&t, 101), Ok(6060));
    }

    #[test]
    fn packages_are_started_not_prorated() {
        let t = PriceTerms {
            package: Some(Package {
                size: 1000,
                amount: 500,
            }),
            ..terms(PriceModel::Package)
        };
        assert_eq!(amount_for(&t, 0), Ok(0));
        assert_eq!(amount_for(&t, 1), Ok(500));
        assert_eq!(amount_for(&t, 1000), Ok(500));
        assert_eq!(amount_for(&t, 1001), Ok(1000));
    }

    #[test]
    fn refuses_overflow_and_negative_quantities() {
        let t = PriceTerms {
            unit_amount: Some(i64::MAX),
            ..terms(PriceModel::PerUnit)
        };
        assert_eq!(amount_for(&t, 2), Err(AmountError::Overflow));
        assert_eq!(amount_for(&t, -1), Err(AmountError::NegativeQuantity));
        let package = |amount| PriceTerms {
            package: Some(Package { size: 2, amount }),
            ..terms(PriceModel::Package)
        };
        // Packages are counted exactly: ⌈(2⁶³ − 1) / 2⌉ = 2⁶² fits, three times that does not.
        assert_eq!(amount_for(&package(1), i64::MAX), Ok(1 << 62));
        assert_eq!(
            amount_for(&package(3), i64::MAX),
            Err(AmountError::Overflow)
        );
    }
    /// Stripe bills the first tier's flat fee at a quantity of 0, in both tiered models, and
    /// only the first tier's.
    #[test]
    fn a_first_flat_tier_bills_at_quantity_zero() {
        let tiers = vec![tier(Some(10), "5", Some(2500)), tier(None, "4", Some(1000))];
        for model in [PriceModel::Graduated, PriceModel::Volume] {
            let t = PriceTerms {
                tiers: Some(tiers.clone()),
                ..terms(model)
            };
            assert_eq!(amount_for(&t, 0), Ok(2500), "{model:?}");
            assert_eq!(amount_for(&t, 1), Ok(2505), "{model:?}");
        }
    }

    /// Stripe's "Set up tiered pricing" example (Typographic fonts): 1–5 at 7 USD, 6–10 at
    /// 6.50 USD, 11+ at 6 USD, priced both ways, to the cent.
    #[test]
    fn stripes_tiered_pricing_examples() {
        let tiers = vec![
            tier(Some(5), "700", None),
            tier(Some(10), "650", None),
            tier(None, "600", None),
        ];
        let volume = PriceTerms {
            tiers: Some(tiers.clone()),
            ..terms(PriceModel::Volume)
        };
        let graduated = PriceTerms {
            tiers: Some(tiers),
            ..terms(PriceModel::Graduated)
        };
        for (quantity, by_volume, by_graduation) in [
            (1, 700, 700),
            (5, 3500, 3500),
            (6, 3900, 4150),
            (20, 12000, 12750),
            (25, 15000, 15750),
        ] {
            assert_eq!(
                amount_for(&volume, quantity),
                Ok(by_volume),
                "volume × {quantity}"
            );
            assert_eq!(
                amount_for(&graduated, quantity),
                Ok(by_graduation),
                "graduated × {quantity}"
            );
        }
    }
}

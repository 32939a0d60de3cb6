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

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

use super::{PriceModel, PriceTerms, Tier};

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
    };
    let rounded = exact.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(rounded).map_err(|_| AmountError::Overflow)
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
        }
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

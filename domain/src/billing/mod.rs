//! Catalog rules without IO: currencies, features, billing intervals and price terms.
//!
//! Money is integer minor units (`unit_amount`, `flat_amount`, `amount`); per-unit prices
//! that need fractions of a minor unit are decimal strings of minor units
//! (`unit_amount_decimal`, up to 12 decimal places), never floats.

pub mod amount;
pub mod checkout;
pub mod discounts;
pub mod dunning;
pub mod invoicing;
pub mod money;
pub mod payments;
pub mod portal;
pub mod proration;
pub mod schedule;
pub mod status;
pub mod stripe;
pub mod subscriptions;
pub mod views;

pub use money::check_currency;

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A non-negative decimal string with at most 12 decimal places, normalised (`"1.50"` → `"1.5"`).
pub fn check_decimal(field: &str, raw: &str) -> Result<String> {
    let invalid = || Error::validation(field, "must be a decimal string such as \"12.5\"");
    // Plain notation only: rust_decimal would also take exponents ("1e3").
    if raw.is_empty()
        || !raw
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(invalid());
    }
    let d = Decimal::from_str(raw).map_err(|_| invalid())?;
    if d.is_sign_negative() || d.scale() > 12 {
        return Err(Error::validation(
            field,
            "must be non-negative with at most 12 decimal places",
        ));
    }
    Ok(d.normalize().to_string())
}

fn check_amount(field: &str, amount: i64) -> Result<()> {
    if amount < 0 {
        return Err(Error::validation(field, "must not be negative"));
    }
    Ok(())
}

/// A plan feature: on/off (`limit` absent) or a numeric limit (`api_calls` → 10000).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Feature {
    /// Lower-case letters, digits and underscores.
    #[cfg_attr(feature = "openapi", schema(example = "api_calls"))]
    pub key: String,
    /// The limit, or absent for an on/off feature.
    #[cfg_attr(feature = "openapi", schema(example = 10000))]
    pub limit: Option<i64>,
    /// The meter (`mtr_…`) that measures use of a limited feature over each billing period;
    /// absent for a limit the caller counts itself (seats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter: Option<String>,
    /// What happens at the limit of a metered feature. Default `hard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<Enforcement>,
    /// Percentages of a metered limit that each send one `usage.threshold_reached` event per
    /// period. Default `[50, 80, 100]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = json!([50, 80, 100])))]
    pub alert_thresholds: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// Use past the limit is denied.
    Hard,
    /// Use past the limit is allowed (and billed as overage by a metered price).
    Soft,
}

pub const DEFAULT_ALERT_THRESHOLDS: [i64; 3] = [50, 80, 100];

pub fn check_features(features: &[Feature]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (i, f) in features.iter().enumerate() {
        let ok = !f.key.is_empty()
            && f.key.len() <= 64
            && f.key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(Error::validation(
                &format!("features[{i}].key"),
                "must be 1 to 64 lower-case letters, digits or underscores",
            ));
        }
        if !seen.insert(&f.key) {
            return Err(Error::validation(
                &format!("features[{i}].key"),
                "is listed twice",
            ));
        }
        if f.limit.is_some_and(|l| l < 0) {
            return Err(Error::validation(
                &format!("features[{i}].limit"),
                "must not be negative",
            ));
        }
        if f.limit.is_none()
            && (f.meter.is_some() || f.enforcement.is_some() || f.alert_thresholds.is_some())
        {
            return Err(Error::validation(
                &format!("features[{i}].limit"),
                "is required with meter, enforcement or alert_thresholds",
            ));
        }
        if f.meter.is_none() && (f.enforcement.is_some() || f.alert_thresholds.is_some()) {
            return Err(Error::validation(
                &format!("features[{i}].meter"),
                "is required with enforcement or alert_thresholds",
            ));
        }
        if let Some(t) = &f.alert_thresholds {
            let ok = t.len() <= 10
                && t.iter().all(|p| (1..=1000).contains(p))
                && t.windows(2).all(|w| w[0] < w[1]);
            if !ok {
                return Err(Error::validation(
                    &format!("features[{i}].alert_thresholds"),
                    "must be at most 10 ascending percentages, 1 to 1000",
                ));
            }
        }
    }
    Ok(())
}

/// Up to 50 keys of up to 40 characters, values up to 500.
pub fn check_metadata(metadata: &BTreeMap<String, String>) -> Result<()> {
    if metadata.len() > 50 {
        return Err(Error::validation("metadata", "has more than 50 keys"));
    }
    for (k, v) in metadata {
        if k.is_empty() || k.chars().count() > 40 || v.chars().count() > 500 {
            return Err(Error::validation(
                &format!("metadata.{k}"),
                "keys are 1 to 40 characters, values at most 500",
            ));
        }
    }
    Ok(())
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    #[cfg_attr(feature = "openapi", schema(example = "DE"))]
    pub country: String,
}

impl Address {
    pub fn check(mut self) -> Result<Address> {
        self.country = self.country.trim().to_ascii_uppercase();
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Error::validation(
                "address.country",
                "must be an ISO 3166-1 alpha-2 code",
            ));
        }
        let lines = [
            ("line1", &self.line1),
            ("line2", &self.line2),
            ("city", &self.city),
            ("state", &self.state),
            ("postal_code", &self.postal_code),
        ];
        for (name, value) in lines {
            if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
                return Err(Error::validation(
                    &format!("address.{name}"),
                    "must be at most 200 characters",
                ));
            }
        }
        Ok(self)
    }
}

/// A customer's tax registration, e.g. `{"type": "eu_vat", "value": "DE123456789"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaxId {
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(example = "eu_vat"))]
    pub kind: String,
    #[cfg_attr(feature = "openapi", schema(example = "DE123456789"))]
    pub value: String,
}

pub fn check_tax_ids(ids: &[TaxId]) -> Result<()> {
    if ids.len() > 10 {
        return Err(Error::validation("tax_ids", "at most 10"));
    }
    for (i, t) in ids.iter().enumerate() {
        let kind_ok = !t.kind.is_empty()
            && t.kind.len() <= 20
            && t.kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !kind_ok {
            return Err(Error::validation(
                &format!("tax_ids[{i}].type"),
                "must be a lower-case kind such as eu_vat",
            ));
        }
        if t.value.trim().is_empty() || t.value.chars().count() > 64 {
            return Err(Error::validation(
                &format!("tax_ids[{i}].value"),
                "must be 1 to 64 characters",
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

/// How often a recurring price bills: every `interval_count` `interval`s, at most a year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Recurring {
    pub interval: Interval,
    /// Default 1.
    #[serde(default = "one")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, example = 1))]
    pub interval_count: i64,
}

fn one() -> i64 {
    1
}

/// How a price turns a quantity into an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PriceModel {
    /// A fixed `unit_amount` per period, whatever the quantity.
    Flat,
    /// `unit_amount` (or `unit_amount_decimal`) per unit, e.g. per seat.
    PerUnit,
    /// Each tier prices the units that fall in it.
    Graduated,
    /// The tier the total quantity reaches prices every unit.
    Volume,
    /// `package.amount` per started `package.size` units.
    Package,
    /// A `percentage.rate` of each period's measured amount (a `sum` meter of transaction
    /// amounts), with an optional fixed fee per event, free units and per-transaction bounds:
    /// Lago's percentage model. Metered prices only.
    Percentage,
}

/// One tier of a graduated or volume price. The last tier has no `up_to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// The last unit this tier covers; absent on the last tier.
    pub up_to: Option<i64>,
    /// Per unit in this tier, in minor units (decimal string).
    #[cfg_attr(feature = "openapi", schema(example = "0.5"))]
    pub unit_amount_decimal: Option<String>,
    /// A fixed amount for reaching this tier, in minor units. The first tier's is billed
    /// even for a quantity of 0, as Stripe does.
    pub flat_amount: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Units per package.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, example = 1000))]
    pub size: i64,
    /// Minor units per started package.
    #[cfg_attr(feature = "openapi", schema(example = 500))]
    pub amount: i64,
}

/// A percentage price's terms, Lago's: a rate on the transactions' summed amount (the
/// meter's units, read as minor units of the price's currency), a fixed fee per event, and
/// free units: the first `free_units_per_events` events pay no fixed fee and no rate, the
/// first `free_units_per_total_aggregation` units pay no rate, and with both the free units
/// end at whichever is passed first. Each paying event's fee (rate on its paying part plus
/// the fixed fee) is held between the per-transaction bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Percentage {
    /// Percent of the amount, a decimal string from 0 to 100: "1.2" is 1.2%.
    #[cfg_attr(feature = "openapi", schema(example = "2.9"))]
    pub rate: String,
    /// Minor units charged per event past the free ones.
    #[cfg_attr(feature = "openapi", schema(example = 30))]
    pub fixed_amount: Option<i64>,
    /// Events at the start of each period that pay nothing.
    pub free_units_per_events: Option<i64>,
    /// Units of amount at the start of each period that pay no rate (decimal string).
    pub free_units_per_total_aggregation: Option<String>,
    /// Minor units: the least a paying event is charged.
    pub per_transaction_min_amount: Option<i64>,
    /// Minor units: the most a paying event is charged.
    pub per_transaction_max_amount: Option<i64>,
}

impl Percentage {
    fn check(mut self) -> Result<Percentage> {
        self.rate = check_decimal("percentage.rate", &self.rate)?;
        if Decimal::from_str(&self.rate).is_ok_and(|r| r > Decimal::ONE_HUNDRED) {
            return Err(Error::validation("percentage.rate", "must be 0 to 100"));
        }
        for (field, amount) in [
            ("percentage.fixed_amount", self.fixed_amount),
            (
                "percentage.free_units_per_events",
                self.free_units_per_events,
            ),
            (
                "percentage.per_transaction_min_amount",
                self.per_transaction_min_amount,
            ),
            (
                "percentage.per_transaction_max_amount",
                self.per_transaction_max_amount,
            ),
        ] {
            amount.map_or(Ok(()), |a| check_amount(field, a))?;
        }
        if let Some(free) = &self.free_units_per_total_aggregation {
            self.free_units_per_total_aggregation = Some(check_decimal(
                "percentage.free_units_per_total_aggregation",
                free,
            )?);
        }
        if let (Some(min), Some(max)) = (
            self.per_transaction_min_amount,
            self.per_transaction_max_amount,
        ) && min > max
        {
            return Err(Error::validation(
                "percentage.per_transaction_max_amount",
                "must not be below per_transaction_min_amount",
            ));
        }
        Ok(self)
    }
}

/// What a price charges, validated. Stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceTerms {
    pub recurring: Option<Recurring>,
    pub model: PriceModel,
    pub unit_amount: Option<i64>,
    pub unit_amount_decimal: Option<String>,
    pub tiers: Option<Vec<Tier>>,
    pub package: Option<Package>,
    pub trial_days: Option<i64>,
    /// A metered price bills, at each period's end, the usage its meter measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metered: Option<Metered>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percentage>,
}

/// What a metered price bills: a meter's total over the period, less what is included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metered {
    pub meter: String,
    pub included_quantity: i64,
}

impl PriceTerms {
    /// Checks that the fields fit the model; normalises decimal strings.
    pub fn check(mut self) -> Result<PriceTerms> {
        if let Some(r) = &self.recurring {
            let max = match r.interval {
                Interval::Day => 365,
                Interval::Week => 52,
                Interval::Month => 12,
                Interval::Year => 1,
            };
            if !(1..=max).contains(&r.interval_count) {
                return Err(Error::validation(
                    "recurring.interval_count",
                    format!("must be 1 to {max}: a price bills at least once a year"),
                ));
            }
        }
        match self.trial_days {
            Some(_) if self.recurring.is_none() => {
                return Err(Error::validation(
                    "trial_days",
                    "only recurring prices have trials",
                ));
            }
            Some(d) if !(1..=730).contains(&d) => {
                return Err(Error::validation("trial_days", "must be 1 to 730"));
            }
            _ => {}
        }
        let needs = |field: &str, present: bool, wanted: bool| -> Result<()> {
            match (present, wanted) {
                (false, true) => Err(Error::validation(
                    field,
                    format!("is required for {:?} prices", self.model).to_lowercase(),
                )),
                (true, false) => Err(Error::validation(
                    field,
                    format!("does not apply to {:?} prices", self.model).to_lowercase(),
                )),
                _ => Ok(()),
            }
        };
        let m = self.model;
        let per_unit_decimal = m == PriceModel::PerUnit && self.unit_amount_decimal.is_some();
        needs(
            "unit_amount",
            self.unit_amount.is_some(),
            m == PriceModel::Flat || (m == PriceModel::PerUnit && !per_unit_decimal),
        )?;
        needs(
            "unit_amount_decimal",
            self.unit_amount_decimal.is_some(),
            per_unit_decimal,
        )?;
        needs(
            "tiers",
            self.tiers.is_some(),
            matches!(m, PriceModel::Graduated | PriceModel::Volume),
        )?;
        needs("package", self.package.is_some(), m == PriceModel::Package)?;
        needs(
            "percentage",
            self.percentage.is_some(),
            m == PriceModel::Percentage,
        )?;
        if let Some(p) = self.percentage.take() {
            if self
                .metered
                .as_ref()
                .is_none_or(|m| m.included_quantity != 0)
            {
                return Err(Error::validation(
                    "meter",
                    "is required for percentage prices, without included_quantity (use \
                     percentage.free_units_per_total_aggregation)",
                ));
            }
            self.percentage = Some(p.check()?);
        }
        if let Some(a) = self.unit_amount {
            check_amount("unit_amount", a)?;
        }
        if let Some(d) = &self.unit_amount_decimal {
            self.unit_amount_decimal = Some(check_decimal("unit_amount_decimal", d)?);
        }
        if let Some(p) = &self.package {
            if p.size < 1 {
                return Err(Error::validation("package.size", "must be at least 1"));
            }
            check_amount("package.amount", p.amount)?;
        }
        if let Some(tiers) = &mut self.tiers {
            check_tiers(tiers)?;
        }
        if let Some(m) = &self.metered {
            if self.recurring.is_none() || self.model == PriceModel::Flat {
                return Err(Error::validation(
                    "meter",
                    "applies to recurring per_unit, graduated, volume, package or percentage prices",
                ));
            }
            if self.trial_days.is_some() {
                return Err(Error::validation(
                    "trial_days",
                    "does not apply to metered prices: put the trial on a licensed price",
                ));
            }
            check_amount("included_quantity", m.included_quantity)?;
        }
        Ok(self)
    }
}

fn check_tiers(tiers: &mut [Tier]) -> Result<()> {
    if tiers.is_empty() || tiers.len() > 50 {
        return Err(Error::validation("tiers", "must have 1 to 50 tiers"));
    }
    let last = tiers.len() - 1;
    let mut previous = 0;
    for (i, t) in tiers.iter_mut().enumerate() {
        let field = |f: &str| format!("tiers[{i}].{f}");
        match (t.up_to, i == last) {
            (Some(_), true) => {
                return Err(Error::validation(
                    &field("up_to"),
                    "must be absent on the last tier (no upper bound)",
                ));
            }
            (None, false) => {
                return Err(Error::validation(
                    &field("up_to"),
                    "is required on every tier but the last",
                ));
            }
            (Some(up), false) if up <= previous => {
                return Err(Error::validation(
                    &field("up_to"),
                    "must increase from tier to tier",
                ));
            }
            (Some(up), false) => previous = up,
            (None, true) => {}
        }
        if t.unit_amount_decimal.is_none() && t.flat_amount.is_none() {
            return Err(Error::validation(
                &format!("tiers[{i}]"),
                "needs unit_amount_decimal, flat_amount or both",
            ));
        }
        if let Some(d) = &t.unit_amount_decimal {
            t.unit_amount_decimal = Some(check_decimal(&field("unit_amount_decimal"), d)?);
        }
        if let Some(a) = t.flat_amount {
            check_amount(&field("flat_amount"), a)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn decimals_are_exact_and_bounded() {
        assert_eq!(check_decimal("x", "12.50").ok().as_deref(), Some("12.5"));
        assert_eq!(
            check_decimal("x", "0.000000000001").ok().as_deref(),
            Some("0.000000000001")
        );
        assert!(check_decimal("x", "0.0000000000001").is_err());
        assert!(check_decimal("x", "-1").is_err());
        assert!(check_decimal("x", "1e3").is_err());
        assert!(check_decimal("x", "abc").is_err());
    }

    #[test]
    fn each_model_needs_its_fields() {
        assert!(
            PriceTerms {
                unit_amount: Some(1000),
                ..terms(PriceModel::Flat)
            }
            .check()
            .is_ok()
        );
        assert!(terms(PriceModel::Flat).check().is_err());
        assert!(
            PriceTerms {
                unit_amount_decimal: Some("0.25".into()),
                ..terms(PriceModel::PerUnit)
            }
            .check()
            .is_ok()
        );
        assert!(
            PriceTerms {
                unit_amount: Some(1),
                unit_amount_decimal: Some("1".into()),
                ..terms(PriceModel::PerUnit)
            }
            .check()
            .is_err()
        );
        assert!(
            PriceTerms {
                unit_amount: Some(1),
                ..terms(PriceModel::Package)
            }
            .check()
            .is_err()
        );
        assert!(
            PriceTerms {
                package: Some(Package { size: 0, amount: 5 }),
                ..terms(PriceModel::Package)
            }
            .check()
            .is_err()
        );
        assert!(
            PriceTerms {
                package: Some(Package {
                    size: 1000,
                    amount: 5
                }),
                ..terms(PriceModel::Package)
            }
            .check()
            .is_ok()
        );
    }

    #[test]
    fn tiers_increase_and_end_open() {
        let tier = |up_to, d: &str| Tier {
            up_to,
            unit_amount_decimal: Some(d.into()),
            flat_amount: None,
        };
        let graduated = |tiers| PriceTerms {
            tiers: Some(tiers),
            ..terms(PriceModel::Graduated)
        };
        assert!(
            graduated(vec![tier(Some(100), "1"), tier(None, "0.5")])
                .check()
                .is_ok()
        );
        assert!(
            graduated(vec![tier(Some(100), "1"), tier(Some(200), "0.5")])
                .check()
                .is_err()
        );
        assert!(
            graduated(vec![
                tier(Some(100), "1"),
                tier(Some(50), "1"),
                tier(None, "0.5")
            ])
            .check()
            .is_err()
        );
        assert!(
            graduated(vec![Tier {
                up_to: None,
                unit_amount_decimal: None,
                flat_amount: None
            }])
            .check()
            .is_err()
        );
    }

    #[test]
    fn trials_and_intervals() {
        let monthly = |count| {
            Some(Recurring {
                interval: Interval::Month,
                interval_count: count,
            })
        };
        assert!(
            PriceTerms {
                recurring: monthly(12),
                trial_days: Some(14),
                unit_amount: Some(1),
                ..terms(PriceModel::Flat)
            }
            .check()
            .is_ok()
        );
        assert!(
            PriceTerms {
                recurring: monthly(13),
                unit_amount: Some(1),
                ..terms(PriceModel::Flat)
            }
            .check()
            .is_err()
        );
        assert!(
            PriceTerms {
                trial_days: Some(14),
                unit_amount: Some(1),
                ..terms(PriceModel::Flat)
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn metered_prices_are_recurring_and_not_flat() {
        let metered = Some(Metered {
            meter: "mtr_x".into(),
            included_quantity: 1000,
        });
        let monthly = Some(Recurring {
            interval: Interval::Month,
            interval_count: 1,
        });
        let per_unit = |recurring| PriceTerms {
            recurring,
            unit_amount: Some(2),
            metered: metered.clone(),
            ..terms(PriceModel::PerUnit)
        };
        assert!(per_unit(monthly.clone()).check().is_ok());
        assert!(per_unit(None).check().is_err());
        let flat = PriceTerms {
            model: PriceModel::Flat,
            ..per_unit(monthly)
        };
        assert!(flat.check().is_err());
    }
}

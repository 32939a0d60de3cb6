//! The customer portal's settings: what a tenant's customers may do there, per environment.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What the customer portal lets customers do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PortalSettings {
    #[serde(default)]
    pub plan_change: PlanChange,
    /// Replace the default payment method. Default true.
    #[serde(default = "yes")]
    pub payment_method_update: bool,
    #[serde(default)]
    pub cancellation: Cancellation,
}

/// Switching plan or quantity, with a preview of the charge before confirming.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanChange {
    /// Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The prices customers may switch to (`price_…`); absent: every active recurring price
    /// in the subscription's currency and interval.
    pub prices: Option<Vec<String>>,
}

/// How a customer cancels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Cancellation {
    /// Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Default `at_period_end`.
    #[serde(default)]
    pub mode: CancellationMode,
    /// The reasons offered, one of which the customer picks.
    #[serde(default = "default_reasons")]
    pub reasons: Vec<String>,
    /// A coupon (`coupon_…`) offered to stay, once, before the cancellation goes through.
    pub retention_coupon: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CancellationMode {
    /// The subscription runs to the end of the paid period; the customer may resume until
    /// then.
    #[default]
    AtPeriodEnd,
    Immediately,
}

fn yes() -> bool {
    true
}

/// Stripe's cancellation reasons.
fn default_reasons() -> Vec<String> {
    [
        "too_expensive",
        "missing_features",
        "switched_service",
        "unused",
        "customer_service",
        "too_complex",
        "low_quality",
        "other",
    ]
    .map(str::to_owned)
    .to_vec()
}

impl Default for PlanChange {
    fn default() -> Self {
        PlanChange {
            enabled: true,
            prices: None,
        }
    }
}

impl Default for Cancellation {
    fn default() -> Self {
        Cancellation {
            enabled: true,
            mode: CancellationMode::default(),
            reasons: default_reasons(),
            retention_coupon: None,
        }
    }
}

impl Default for PortalSettings {
    fn default() -> Self {
        PortalSettings {
            plan_change: PlanChange::default(),
            payment_method_update: true,
            cancellation: Cancellation::default(),
        }
    }
}

impl PortalSettings {
    pub fn check(self) -> Result<PortalSettings> {
        if let Some(prices) = &self.plan_change.prices
            && prices.len() > 50
        {
            return Err(Error::validation("plan_change.prices", "at most 50"));
        }
        let reasons = &self.cancellation.reasons;
        if reasons.is_empty() || reasons.len() > 20 {
            return Err(Error::validation("cancellation.reasons", "1 to 20 reasons"));
        }
        for (i, r) in reasons.iter().enumerate() {
            let ok = !r.is_empty()
                && r.len() <= 64
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(Error::validation(
                    &format!("cancellation.reasons[{i}]"),
                    "must be 1 to 64 lower-case letters, digits or underscores",
                ));
            }
            if reasons[..i].contains(r) {
                return Err(Error::validation(
                    &format!("cancellation.reasons[{i}]"),
                    "is listed twice",
                ));
            }
        }
        Ok(self)
    }

    /// Whether `reason` is one the customer may give.
    pub fn allows_reason(&self, reason: &str) -> bool {
        self.cancellation.reasons.iter().any(|r| r == reason)
    }
}

/// How long a portal link may wait to be opened: an API session's (as Stripe's five
/// minutes), and an email's.
pub const LINK_TTL_MS: i64 = 5 * 60 * 1000;
pub const EMAIL_LINK_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// How long the browser's portal session lasts once the link is opened.
pub const SESSION_TTL_MS: i64 = 3600 * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_allow_everything_and_reasons_are_checked() {
        let d: PortalSettings = serde_json::from_str("{}").expect("defaults");
        assert_eq!(d, PortalSettings::default());
        assert!(d.allows_reason("too_expensive") && !d.allows_reason("bored"));
        let mut bad = d.clone();
        bad.cancellation.reasons = vec!["Too Expensive".into()];
        assert!(bad.check().is_err());
        let mut twice = d.clone();
        twice.cancellation.reasons = vec!["a".into(), "a".into()];
        assert!(twice.check().is_err());
        let mut none = d;
        none.cancellation.reasons.clear();
        assert!(none.check().is_err());
    }
}

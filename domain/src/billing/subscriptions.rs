//! A subscription's items: the prices it subscribes to, with their terms as subscribed.

use serde::{Deserialize, Serialize};

use super::{Interval, PriceTerms};
use crate::error::{Error, Result};

/// A subscribed price, with its terms as they were when subscribed (prices never change).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub price: String,
    pub quantity: i64,
    pub terms: PriceTerms,
}

/// The billing interval and count the items share (the first item's).
pub fn interval_of(items: &[Item]) -> Result<(Interval, i64)> {
    items
        .first()
        .and_then(|i| i.terms.recurring.as_ref())
        .map(|r| (r.interval, r.interval_count))
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a subscription without a recurring item")))
}

/// How long before a trial ends `subscription.trial_will_end` is sent (as Stripe's three
/// days; at once for a shorter trial).
pub const TRIAL_WILL_END_MS: i64 = 3 * 24 * 3600 * 1000;

/// What a trial's end does when the customer has no payment method (Stripe's
/// `trial_settings.end_behavior.missing_payment_method`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MissingPaymentMethod {
    /// The subscription ends with the trial.
    #[default]
    Cancel,
    /// The subscription is `paused` until resumed (after a payment method is added).
    Pause,
    /// The subscription renews as usual: the invoice it makes fails to collect, and
    /// dunning follows.
    CreateInvoice,
}

/// Settings of a subscription's trial.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrialSettings {
    pub end_behavior: TrialEndBehavior,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrialEndBehavior {
    /// Default `cancel`.
    #[serde(default)]
    pub missing_payment_method: MissingPaymentMethod,
}

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

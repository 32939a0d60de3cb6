//! The states of a subscription and of an invoice, stored by their serde names.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// The first invoice is not paid yet.
    Incomplete,
    Trialing,
    Active,
    /// A renewal's payment failed and is being retried; renewals go on.
    PastDue,
    /// Every retry failed (final action `mark_unpaid`); no renewals until an invoice is paid.
    Unpaid,
    Canceled,
    /// Collection paused: no renewals until resumed.
    Paused,
}

impl SubscriptionStatus {
    /// A subscription that renews. (The SQL of `store::billing::due_on_real_time`,
    /// `next_due_on_clock` and the entitlement query lists the same statuses.)
    pub fn bills(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Still changing; finalized when `next_action_at` comes.
    Draft,
    /// Final and owed.
    Open,
    Paid,
    /// Canceled: no longer owed.
    Void,
    /// Written off.
    Uncollectible,
}

fn name(value: impl Serialize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str(&crate::serde_name(value).ok_or(fmt::Error)?)
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        name(self, f)
    }
}

impl fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        name(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_show_their_stored_names() {
        assert_eq!(SubscriptionStatus::PastDue.to_string(), "past_due");
        assert_eq!(InvoiceStatus::Uncollectible.to_string(), "uncollectible");
        assert!(SubscriptionStatus::Trialing.bills());
        assert!(!SubscriptionStatus::Unpaid.bills());
    }
}

//! The states of a subscription and of an invoice, stored by their serde names.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// The first invoice is not paid yet.
    Incomplete,
    /// The first invoice's payment failed and it was not paid within `INCOMPLETE_EXPIRY_MS`
    /// of the subscription's start (as Stripe's 23 hours): the invoice is voided, and the
    /// subscription ends without having started.
    IncompleteExpired,
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

/// How long an `incomplete` subscription whose first payment failed waits to be paid.
pub const INCOMPLETE_EXPIRY_MS: i64 = 23 * 3600 * 1000;

impl SubscriptionStatus {
    /// A subscription that renews. (The SQL of `store::billing::due_on_real_time`,
    /// `next_due_on_clock` and the entitlement query lists the same statuses.)
    pub fn bills(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue
        )
    }

    /// A subscription that has ended, to which no change applies any more.
    pub fn ended(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
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
        assert_eq!(
            SubscriptionStatus::IncompleteExpired.to_string(),
            "incomplete_expired"
        );
        assert_eq!(InvoiceStatus::Uncollectible.to_string(), "uncollectible");
        assert!(SubscriptionStatus::Trialing.bills());
        assert!(!SubscriptionStatus::Unpaid.bills());
        assert!(SubscriptionStatus::IncompleteExpired.ended());
        assert!(!SubscriptionStatus::Incomplete.ended());
    }
}

//! Prorations: what the rest of a period is worth when a subscription changes mid-period.
//! Like Stripe, time is counted to the millisecond: an item's period amount × (period end −
//! change time) ÷ (period end − period start), computed exactly and rounded once per line,
//! half away from zero. A change credits the unused time of what was subscribed and charges
//! the remaining time of what replaces it; the two never net into one line, so an invoice
//! shows both.

use rust_decimal::{Decimal, RoundingStrategy};

/// The part of `period_amount` that the time from `at` to the end of the period is worth.
/// `at` outside the period prorates to the whole (before) or nothing (after).
pub fn remaining(period_amount: i64, period_start: i64, period_end: i64, at: i64) -> i64 {
    let length = period_end - period_start;
    if length <= 0 {
        return 0;
    }
    let left = (period_end - at).clamp(0, length);
    let exact = Decimal::from(period_amount) * Decimal::from(left) / Decimal::from(length);
    // |exact| ≤ |period_amount|, so it always fits back into an i64.
    exact
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .try_into()
        .unwrap_or(period_amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3600 * 1000;

    /// (period amount, days in period, days elapsed at the change, expected remaining part)
    const TABLE: &[(i64, i64, i64, i64)] = &[
        // Stripe's worked example: 10 USD → 20 USD halfway through the month is −5 USD for
        // the unused time and +10 USD for the remaining time.
        (1000, 30, 15, 500),
        (2000, 30, 15, 1000),
        // A 31-day month, changed after 10 days: 21/31 of 100.00 = 67.7419… → 67.74.
        (10000, 31, 10, 6774),
        // Half a cent rounds away from zero: 1 × 1/2 = 0.5 → 1.
        (1, 2, 1, 1),
        // Credits round the same way: −0.5 → −1.
        (-1, 2, 1, -1),
        // At the start the whole period is left; at the end nothing is.
        (4999, 30, 0, 4999),
        (4999, 30, 30, 0),
        // A year of 365 days changed after 100: 265/365 of 1200.00 = 871.232… → 871.23.
        (120000, 365, 100, 87123),
    ];

    #[test]
    fn prorates_like_stripe_to_the_cent() {
        for &(amount, days, elapsed, expected) in TABLE {
            assert_eq!(
                remaining(amount, 0, days * DAY, elapsed * DAY),
                expected,
                "{amount} over {days} days after {elapsed}"
            );
        }
    }

    #[test]
    fn an_upgrade_halfway_nets_five_dollars() {
        let (start, end, at) = (0, 30 * DAY, 15 * DAY);
        let credit = -remaining(1000, start, end, at);
        let charge = remaining(2000, start, end, at);
        assert_eq!((credit, charge, credit + charge), (-500, 1000, 500));
    }

    #[test]
    fn times_outside_the_period_clamp() {
        assert_eq!(remaining(1000, 10, 20, 0), 1000);
        assert_eq!(remaining(1000, 10, 20, 25), 0);
        assert_eq!(
            remaining(1000, 10, 10, 10),
            0,
            "an empty period is worth nothing"
        );
    }
}

//! Dunning: when a failed invoice is tried again, and what happens after the last try.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// What happens to a subscription when the last payment retry fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FinalAction {
    Cancel,
    MarkUnpaid,
}

/// The dunning schedule of a tenant and environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Dunning {
    /// Days after finalization on which a failed payment is retried, increasing; at most 8.
    #[cfg_attr(feature = "openapi", schema(example = json!([3, 7, 14])))]
    pub retry_days: Vec<i64>,
    pub final_action: FinalAction,
}

impl Default for Dunning {
    fn default() -> Self {
        Dunning {
            retry_days: vec![3, 7, 14],
            final_action: FinalAction::Cancel,
        }
    }
}

impl Dunning {
    pub fn check(&self) -> Result<()> {
        let increasing = self.retry_days.windows(2).all(|w| w[0] < w[1]);
        let in_range = self.retry_days.iter().all(|d| (1..=60).contains(d));
        if self.retry_days.len() > 8 || !increasing || !in_range {
            return Err(Error::validation(
                "retry_days",
                "must be at most 8 increasing days, each 1 to 60",
            ));
        }
        Ok(())
    }

    /// When to try again after `attempts` tries, the last at `at`; None when none is left.
    pub fn next_retry(&self, finalized_at: i64, attempts: i64, at: i64) -> Option<i64> {
        let tries_left = (self.retry_days.len() as i64 + 1) - attempts;
        (tries_left > 0)
            .then(|| {
                self.retry_days
                    .iter()
                    .map(|d| finalized_at + d * DAY_MS)
                    .find(|t| *t > at)
            })
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_tries_over_two_weeks_by_default() {
        let d = Dunning::default();
        let f = 1_000;
        assert_eq!(d.next_retry(f, 1, f), Some(f + 3 * DAY_MS));
        assert_eq!(d.next_retry(f, 2, f + 3 * DAY_MS), Some(f + 7 * DAY_MS));
        assert_eq!(d.next_retry(f, 3, f + 7 * DAY_MS), Some(f + 14 * DAY_MS));
        assert_eq!(
            d.next_retry(f, 4, f + 14 * DAY_MS),
            None,
            "the fourth try was the last"
        );
    }

    #[test]
    fn a_late_or_manual_try_skips_retries_already_past() {
        let d = Dunning::default();
        // A manual attempt on day 8 (the second try): the next retry is day 14.
        assert_eq!(d.next_retry(0, 2, 8 * DAY_MS), Some(14 * DAY_MS));
        // Tried on day 15: no retry day is left.
        assert_eq!(d.next_retry(0, 2, 15 * DAY_MS), None);
    }

    #[test]
    fn schedules_are_checked() {
        let bad = |days: Vec<i64>| Dunning {
            retry_days: days,
            final_action: FinalAction::Cancel,
        };
        assert!(bad(vec![3, 7, 14]).check().is_ok());
        assert!(bad(vec![]).check().is_ok(), "no retries at all");
        assert!(bad(vec![7, 3]).check().is_err());
        assert!(bad(vec![0]).check().is_err());
        assert!(bad(vec![61]).check().is_err());
        assert!(bad((1..=9).collect()).check().is_err());
    }
}

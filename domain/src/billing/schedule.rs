//! Billing periods on the calendar. Periods are counted from the billing cycle anchor, so a
//! monthly subscription anchored on 31 January renews on 28 (or 29) February and again on
//! 31 March: the day is clamped to the month, never drifts.

use time::{Date, Duration, Month, OffsetDateTime};

use super::Interval;

fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn to_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn add_months(t: OffsetDateTime, months: i64) -> OffsetDateTime {
    let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + months;
    let year = i32::try_from(total.div_euclid(12)).unwrap_or(i32::MAX);
    let month = Month::try_from(u8::try_from(total.rem_euclid(12) + 1).unwrap_or(1))
        .unwrap_or(Month::January);
    let day = t.day().min(time::util::days_in_month(month, year));
    match Date::from_calendar_date(year, month, day) {
        Ok(date) => t.replace_date(date),
        Err(_) => t,
    }
}

/// The end of period number `n` (1-based) of a schedule anchored at `anchor_ms`.
pub fn period_end(anchor_ms: i64, interval: Interval, count: i64, n: i64) -> i64 {
    let anchor = from_ms(anchor_ms);
    let steps = count.saturating_mul(n);
    let end = match interval {
        Interval::Day => anchor + Duration::days(steps),
        Interval::Week => anchor + Duration::weeks(steps),
        Interval::Month => add_months(anchor, steps),
        Interval::Year => add_months(anchor, steps.saturating_mul(12)),
    };
    to_ms(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::timestamp::{parse_rfc3339, to_rfc3339};

    fn ms(s: &str) -> i64 {
        parse_rfc3339(s).expect("timestamp")
    }

    #[test]
    fn months_clamp_to_the_month_and_keep_the_anchor_day() {
        let anchor = ms("2027-01-31T10:00:00Z");
        let ends: Vec<String> = (1..=3)
            .map(|n| to_rfc3339(period_end(anchor, Interval::Month, 1, n)))
            .collect();
        assert_eq!(
            ends,
            [
                "2027-02-28T10:00:00Z",
                "2027-03-31T10:00:00Z",
                "2027-04-30T10:00:00Z"
            ]
        );
        assert_eq!(
            to_rfc3339(period_end(
                ms("2028-01-31T00:00:00Z"),
                Interval::Month,
                1,
                1
            )),
            "2028-02-29T00:00:00Z"
        );
    }

    #[test]
    fn other_intervals() {
        let anchor = ms("2027-12-30T00:00:00Z");
        assert_eq!(
            to_rfc3339(period_end(anchor, Interval::Day, 3, 1)),
            "2028-01-02T00:00:00Z"
        );
        assert_eq!(
            to_rfc3339(period_end(anchor, Interval::Week, 2, 1)),
            "2028-01-13T00:00:00Z"
        );
        assert_eq!(
            to_rfc3339(period_end(anchor, Interval::Month, 3, 2)),
            "2028-06-30T00:00:00Z"
        );
        assert_eq!(
            to_rfc3339(period_end(ms("2028-02-29T00:00:00Z"), Interval::Year, 1, 1)),
            "2029-02-28T00:00:00Z"
        );
    }
}

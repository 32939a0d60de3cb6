//! The one source of "now". Tests move it forward; later, sandbox test clocks will too.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// Wall-clock time plus an offset that only tests change. A test that compares times with
/// the server's own (a signature's tolerance, say) stops it, so that however slowly the test
/// runs, only `advance` moves it.
#[derive(Clone)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// Where it stands when stopped, else `RUNNING`.
    stopped_at_ms: Arc<AtomicI64>,
}

const RUNNING: i64 = i64::MIN;

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            offset_ms: Arc::default(),
            stopped_at_ms: Arc::new(AtomicI64::new(RUNNING)),
        }
    }
}

impl Clock {
    /// Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self.stopped_at_ms.load(Ordering::Relaxed) {
            RUNNING => {
                let wall = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
                wall + self.offset_ms.load(Ordering::Relaxed)
            }
            at => at,
        }
    }

    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let stopped = self
            .stopped_at_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |at| {
                (at != RUNNING).then(|| at.saturating_add(ms))
            });
        if stopped.is_err() {
            self.offset_ms.fetch_add(ms, Ordering::Relaxed);
        }
    }

    /// Stops the clock where it is; from then on only `advance` moves it.
    pub fn stop(&self) {
        self.stopped_at_ms.store(self.now_ms(), Ordering::Relaxed);
    }
}

/// RFC 3339 (UTC) timestamps in responses, unix milliseconds in storage.
pub mod timestamp {
    use serde::Serializer;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn to_rfc3339(ms: i64) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default()
    }

    /// The times the API accepts: from 1970-01-01T00:00:00Z up to, not including,
    /// 2200-01-01T00:00:00Z. Billing periods computed from them stay far inside what the
    /// calendar arithmetic can represent, so a period always moves forward.
    pub const RANGE: std::ops::Range<i64> = 0..7_258_118_400_000;
    pub const RANGE_TEXT: &str = "from 1970-01-01T00:00:00Z to before 2200-01-01T00:00:00Z";

    /// An RFC 3339 timestamp within `RANGE`, as unix milliseconds.
    pub fn parse_rfc3339(s: &str) -> Option<i64> {
        let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .ok()
            .filter(|ms| RANGE.contains(ms))
    }

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_rfc3339(*ms))
    }

    pub mod option {
        use serde::Serializer;

        pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match ms {
                Some(ms) => s.serialize_str(&super::to_rfc3339(*ms)),
                None => s.serialize_none(),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn round_trips() {
            let ms = 1_764_072_000_123;
            let s = super::to_rfc3339(ms);
            assert_eq!(s, "2025-11-25T12:00:00.123Z");
            assert_eq!(super::parse_rfc3339(&s), Some(ms));
            assert_eq!(super::parse_rfc3339("yesterday"), None);
            assert_eq!(super::parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
            assert_eq!(
                super::parse_rfc3339("2199-12-31T23:59:59.999Z"),
                Some(super::RANGE.end - 1)
            );
            for outside in [
                "1969-12-31T23:59:59Z",
                "2200-01-01T00:00:00Z",
                "9999-12-31T23:59:59Z",
            ] {
                assert_eq!(super::parse_rfc3339(outside), None, "{outside}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_now() {
        let c = Clock::default();
        let before = c.now_ms();
        c.advance(std::time::Duration::from_secs(3600));
        assert!(c.now_ms() - before >= 3_600_000);
    }

    #[test]
    fn a_stopped_clock_moves_only_when_advanced() {
        let c = Clock::default();
        c.stop();
        let at = c.now_ms();
        std::thread::sleep(std::time::Duration::from_millis(5)); // wall time passes: not a wait
        assert_eq!(c.now_ms(), at);
        c.advance(std::time::Duration::from_secs(1));
        assert_eq!(c.now_ms(), at + 1000);
    }
}

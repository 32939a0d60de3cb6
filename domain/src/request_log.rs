//! Time series over logged requests: per bucket, the count, the errors (status ≥ 400) and the
//! p50/p95 durations (nearest rank). No IO.

/// One logged request, as written.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub tenant_id: String,
    pub env: &'static str,
    pub api_key_id: String,
    pub request_id: String,
    pub method: String,
    pub route: String,
    pub status: u16,
    pub duration_us: i64,
    pub created_at: i64,
}

/// One bucket of the series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub start: i64,
    pub requests: i64,
    pub errors: i64,
    pub p50_us: Option<i64>,
    pub p95_us: Option<i64>,
}

/// Buckets of `width_ms` covering `[from, to)`, the first starting at `from` rounded down to
/// the width, empty ones included. `samples` are `(created_at, status, duration_us)`.
pub fn buckets(from: i64, to: i64, width_ms: i64, samples: &[(i64, i64, i64)]) -> Vec<Bucket> {
    let first = from - from.rem_euclid(width_ms);
    let count = usize::try_from((to - first + width_ms - 1) / width_ms).unwrap_or(0);
    let mut durations: Vec<Vec<i64>> = vec![Vec::new(); count];
    let mut errors = vec![0i64; count];
    for &(at, status, duration) in samples {
        let Ok(i) = usize::try_from((at - first) / width_ms) else {
            continue;
        };
        if let Some(d) = durations.get_mut(i) {
            d.push(duration);
            errors[i] += i64::from(status >= 400);
        }
    }
    durations
        .into_iter()
        .zip(errors)
        .zip((0..).map(|i: i64| first + i * width_ms))
        .map(|((mut d, errors), start)| {
            d.sort_unstable();
            Bucket {
                start,
                requests: i64::try_from(d.len()).unwrap_or(i64::MAX),
                errors,
                p50_us: percentile(&d, 50),
                p95_us: percentile(&d, 95),
            }
        })
        .collect()
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&values, 50), Some(10));
        assert_eq!(percentile(&values, 95), Some(19));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn buckets_cover_the_range_with_empty_ones() {
        let samples = [(1_000, 200, 10), (1_500, 500, 30), (3_100, 200, 20)];
        let series = buckets(900, 4_000, 1_000, &samples);
        let starts: Vec<i64> = series.iter().map(|b| b.start).collect();
        assert_eq!(starts, vec![0, 1_000, 2_000, 3_000]);
        assert_eq!(series[0].requests, 0);
        assert_eq!(series[0].p50_us, None);
        assert_eq!((series[1].requests, series[1].errors), (2, 1));
        assert_eq!((series[1].p50_us, series[1].p95_us), (Some(10), Some(30)));
        assert_eq!(series[2].requests, 0);
        assert_eq!(series[3].p95_us, Some(20));
    }
}

//! Meters without IO: what a meter counts, how an event's properties become its value and
//! group, how values fold into aggregates, and how a time range splits into rollup buckets.
//!
//! Values are exact decimals. An aggregate (`Agg`) keeps every statistic the aggregations
//! need (count, sum, min, max, latest, and the time-weighted `area`), so one rollup row per
//! bucket serves any meter. `weighted_sum` treats each event's value as a change of a level
//! (seats added, gigabytes stored) and reports the level's time-weighted average over a
//! range: `area` is Σ value × (bucket end − event time), in value·milliseconds.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
/// Rollup widths, finest first.
pub const WIDTHS: [i64; 3] = [MINUTE, HOUR, DAY];
/// How far back an event's timestamp may be, and how long event ids are remembered at least.
pub const MAX_AGE_MS: i64 = 35 * DAY;
/// How far ahead of "now" an event's timestamp may be.
pub const MAX_AHEAD_MS: i64 = 5 * MINUTE;
/// The largest magnitude of one event's value: a day's rollup of a customer's events, each
/// weighted by up to a day of milliseconds, stays inside the exact decimals for about a
/// million such events.
pub const MAX_VALUE: Decimal = Decimal::from_parts(0xa4c6_8000, 0x38d7e, 0, false, 0);
/// Decimal places of a time-weighted average.
const WEIGHTED_DP: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// The number of events.
    Count,
    Sum,
    Max,
    Min,
    /// The number of distinct values.
    UniqueCount,
    /// The value of the event with the latest timestamp.
    Latest,
    /// The time-weighted average of a level that each event's value changes.
    WeightedSum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Eq,
    Neq,
    /// `value` is an array; the property equals one of its items.
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    /// The property is present (`value` is ignored).
    Exists,
}

/// A condition on an event property. Numbers compare as exact decimals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A property path, dot-separated: `model` or `usage.region`.
    #[cfg_attr(feature = "openapi", schema(example = "model"))]
    pub property: String,
    pub operator: Operator,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "gpt-4"))]
    pub value: Value,
}

/// What a meter counts. Immutable once created: changing it would rewrite history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterDef {
    pub event_type: String,
    pub aggregation: Aggregation,
    pub value_property: Option<String>,
    pub filters: Vec<Condition>,
    pub group_by: Vec<String>,
}

/// What one event contributes to one meter.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// The group-by values, as a JSON array of strings (null where absent).
    pub group_key: String,
    /// The numeric value; `None` for `count` and `unique_count`.
    pub value: Option<Decimal>,
    /// The value whose distinct occurrences `unique_count` counts.
    pub distinct: Option<String>,
}

fn check_path(field: &str, path: &str) -> Result<()> {
    let ok = !path.is_empty()
        && path.len() <= 200
        && path.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            field,
            "must be a dot-separated path of letters, digits, '_' or '-'",
        ))
    }
}

/// An event type: 1 to 100 characters, letters, digits, `_`, `-`, `.` or `:`.
pub fn check_event_type(field: &str, t: &str) -> Result<()> {
    let ok = !t.is_empty()
        && t.len() <= 100
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            field,
            "must be 1 to 100 letters, digits, '_', '-', '.' or ':'",
        ))
    }
}

impl MeterDef {
    pub fn check(&self) -> Result<()> {
        check_event_type("event_type", &self.event_type)?;
        match (&self.value_property, self.aggregation) {
            (Some(_), Aggregation::Count) => {
                return Err(Error::validation(
                    "value_property",
                    "does not apply to count meters",
                ));
            }
            (None, a) if a != Aggregation::Count => {
                return Err(Error::validation(
                    "value_property",
                    "is required for every aggregation but count",
                ));
            }
            (Some(p), _) => check_path("value_property", p)?,
            _ => {}
        }
        if self.filters.len() > 20 {
            return Err(Error::validation("filters", "at most 20 conditions"));
        }
        for (i, c) in self.filters.iter().enumerate() {
            check_path(&format!("filters[{i}].property"), &c.property)?;
            let fits = match c.operator {
                Operator::Eq | Operator::Neq => scalar(&c.value).is_some(),
                Operator::In => c
                    .value
                    .as_array()
                    .is_some_and(|a| !a.is_empty() && a.iter().all(|v| scalar(v).is_some())),
                Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte => {
                    number(&c.value).is_some()
                }
                Operator::Exists => true,
            };
            if !fits {
                return Err(Error::validation(
                    &format!("filters[{i}].value"),
                    "must be a string, number or boolean (an array of them for in; a number for gt, gte, lt, lte)",
                ));
            }
        }
        if self.group_by.len() > 5 {
            return Err(Error::validation("group_by", "at most 5 properties"));
        }
        for (i, g) in self.group_by.iter().enumerate() {
            check_path(&format!("group_by[{i}]"), g)?;
            if self.group_by[..i].contains(g) {
                return Err(Error::validation(
                    &format!("group_by[{i}]"),
                    "is listed twice",
                ));
            }
        }
        Ok(())
    }

    /// `None` when the event is not for this meter; an error when it is but its value is
    /// missing or not a number.
    pub fn measure(
        &self,
        event_type: &str,
        properties: &Map<String, Value>,
    ) -> Option<Result<Measure, String>> {
        if event_type != self.event_type || !self.filters.iter().all(|c| c.holds(properties)) {
            return None;
        }
        let group: Vec<Option<String>> = self
            .group_by
            .iter()
            .map(|g| lookup(properties, g).and_then(scalar))
            .collect();
        let group_key = serde_json::to_string(&group).unwrap_or_default();
        let Some(path) = &self.value_property else {
            return Some(Ok(Measure {
                group_key,
                value: None,
                distinct: None,
            }));
        };
        let raw = lookup(properties, path);
        Some(if self.aggregation == Aggregation::UniqueCount {
            match raw.and_then(scalar) {
                Some(s) => Ok(Measure {
                    group_key,
                    value: None,
                    distinct: Some(s),
                }),
                None => Err(format!(
                    "properties.{path} must be a string, number or boolean"
                )),
            }
        } else {
            match raw.and_then(number) {
                Some(n) if n.abs() <= MAX_VALUE => Ok(Measure {
                    group_key,
                    value: Some(n),
                    distinct: None,
                }),
                Some(_) => Err(format!(
                    "properties.{path} must be between -{MAX_VALUE} and {MAX_VALUE}"
                )),
                None => Err(format!(
                    "properties.{path} must be a number or a decimal string"
                )),
            }
        })
    }
}

impl Condition {
    fn holds(&self, properties: &Map<String, Value>) -> bool {
        let Some(v) = lookup(properties, &self.property) else {
            return self.operator == Operator::Neq;
        };
        let same = |want: &Value| match (number(v), number(want)) {
            (Some(a), Some(b)) => a == b,
            _ => scalar(v).is_some() && scalar(v) == scalar(want),
        };
        let cmp = || number(v).zip(number(&self.value)).map(|(a, b)| a.cmp(&b));
        use std::cmp::Ordering::*;
        match self.operator {
            Operator::Exists => true,
            Operator::Eq => same(&self.value),
            Operator::Neq => !same(&self.value),
            Operator::In => self.value.as_array().is_some_and(|a| a.iter().any(same)),
            Operator::Gt => cmp() == Some(Greater),
            Operator::Gte => matches!(cmp(), Some(Greater | Equal)),
            Operator::Lt => cmp() == Some(Less),
            Operator::Lte => matches!(cmp(), Some(Less | Equal)),
        }
    }
}

fn lookup<'a>(properties: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut v = properties.get(parts.next()?)?;
    for p in parts {
        v = v.as_object()?.get(p)?;
    }
    Some(v)
}

/// A string, number or boolean as text; nothing for null, arrays and objects.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A JSON number or a decimal string, exactly (`1e3` too).
pub fn number(v: &Value) -> Option<Decimal> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
        .map(|d| d.normalize())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("usage does not fit in the aggregate's range")]
pub struct Overflow;

/// The statistics of a set of events. `end` is where `area` is measured to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Agg {
    pub count: i64,
    pub sum: Decimal,
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    /// (event time, value) of the latest event.
    pub latest: Option<(i64, Decimal)>,
    pub area: Decimal,
}

impl Agg {
    /// Adds an event at `ts` to an aggregate whose area is measured to `end`.
    pub fn add(&mut self, ts: i64, value: Option<Decimal>, end: i64) -> Result<(), Overflow> {
        self.count = self.count.checked_add(1).ok_or(Overflow)?;
        if let Some(v) = value {
            self.merge(&Agg {
                count: 0,
                sum: v,
                min: Some(v),
                max: Some(v),
                latest: Some((ts, v)),
                area: v.checked_mul(Decimal::from(end - ts)).ok_or(Overflow)?,
            })?;
        }
        Ok(())
    }

    /// Folds in another aggregate with the same `end`.
    pub fn merge(&mut self, o: &Agg) -> Result<(), Overflow> {
        self.count = self.count.checked_add(o.count).ok_or(Overflow)?;
        self.sum = self.sum.checked_add(o.sum).ok_or(Overflow)?;
        self.area = self.area.checked_add(o.area).ok_or(Overflow)?;
        self.min = pick(self.min, o.min, |a, b| a.min(b));
        self.max = pick(self.max, o.max, |a, b| a.max(b));
        // The later event wins; at the same millisecond, the larger value, so the result
        // does not depend on the order of merging.
        self.latest = pick(self.latest, o.latest, |a, b| a.max(b));
        Ok(())
    }

    /// This aggregate's area measured to `to` instead of `end`.
    pub fn area_to(&self, end: i64, to: i64) -> Result<Decimal, Overflow> {
        self.sum
            .checked_mul(Decimal::from(to - end))
            .and_then(|extra| self.area.checked_add(extra))
            .ok_or(Overflow)
    }
}

fn pick<T: Copy>(a: Option<T>, b: Option<T>, f: impl Fn(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The time-weighted average over `[from, to)` of a level that starts at `level` and has
/// `area` (measured to `to`) added by the changes inside the range; 6 decimal places.
pub fn weighted_average(
    level: Decimal,
    area: Decimal,
    from: i64,
    to: i64,
) -> Result<Decimal, Overflow> {
    let span = Decimal::from((to - from).max(1));
    level
        .checked_mul(span)
        .and_then(|base| base.checked_add(area))
        .and_then(|total| total.checked_div(span))
        .map(|avg| avg.round_dp_with_strategy(WEIGHTED_DP, RoundingStrategy::MidpointAwayFromZero))
        .ok_or(Overflow)
}

/// The meter's result from an aggregate (`distinct`: the unique count, counted apart).
pub fn result(aggregation: Aggregation, agg: &Agg, distinct: usize) -> Option<Decimal> {
    match aggregation {
        Aggregation::Count => Some(Decimal::from(agg.count)),
        Aggregation::Sum => Some(agg.sum),
        Aggregation::Max => agg.max,
        Aggregation::Min => agg.min,
        Aggregation::Latest => agg.latest.map(|(_, v)| v),
        Aggregation::UniqueCount => Some(Decimal::from(distinct)),
        Aggregation::WeightedSum => None,
    }
}

pub fn floor_to(t: i64, width: i64) -> i64 {
    t.div_euclid(width) * width
}

fn ceil_to(t: i64, width: i64) -> i64 {
    -floor_to(-t, width)
}

/// A part of a time range read from rollups of one width, or from raw events (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub width: Option<i64>,
    pub from: i64,
    pub to: i64,
}

/// Splits `[from, to)` into the fewest rollup buckets, coarsest first, with raw events only
/// at sub-minute edges: a month is about 30 day rows, 46 hour rows, 118 minute rows at most.
pub fn cover(from: i64, to: i64) -> Vec<Piece> {
    cover_with(from, to, &[DAY, HOUR, MINUTE])
}

/// `cover` with the given widths only, coarsest first.
pub fn cover_with(from: i64, to: i64, widths: &[i64]) -> Vec<Piece> {
    let mut out = Vec::new();
    cover_into(from, to, widths, &mut out);
    out
}

fn cover_into(from: i64, to: i64, widths: &[i64], out: &mut Vec<Piece>) {
    if from >= to {
        return;
    }
    let Some((&w, finer)) = widths.split_first() else {
        out.push(Piece {
            width: None,
            from,
            to,
        });
        return;
    };
    let (a, b) = (ceil_to(from, w), floor_to(to, w));
    if a < b {
        cover_into(from, a, finer, out);
        out.push(Piece {
            width: Some(w),
            from: a,
            to: b,
        });
        cover_into(b, to, finer, out);
    } else {
        cover_into(from, to, finer, out);
    }
}

/// Group keys projected onto some of the meter's dimensions, as `{dimension: value}`.
pub fn project(
    group_by: &[String],
    wanted: &[String],
    group_key: &str,
) -> BTreeMap<String, Option<String>> {
    let values: Vec<Option<String>> = serde_json::from_str(group_key).unwrap_or_default();
    group_by
        .iter()
        .zip(values)
        .filter(|(dim, _)| wanted.contains(dim))
        .map(|(dim, v)| (dim.clone(), v))
        .collect()
}

/// `usage.threshold_reached`: a metered feature's use crossed one of its alert thresholds.
#[derive(Debug, Serialize)]
pub struct ThresholdReached {
    pub customer: String,
    pub subscription: String,
    pub feature: String,
    pub meter: String,
    pub threshold: i64,
    pub limit: i64,
    pub usage: String,
    #[serde(serialize_with = "crate::clock::timestamp::serialize")]
    pub period_start: i64,
    #[serde(serialize_with = "crate::clock::timestamp::serialize")]
    pub period_end: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).expect("a decimal")
    }

    fn meter(aggregation: Aggregation, value: Option<&str>) -> MeterDef {
        MeterDef {
            event_type: "api_call".into(),
            aggregation,
            value_property: value.map(str::to_owned),
            filters: vec![],
            group_by: vec!["region".into()],
        }
    }

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().expect("an object").clone()
    }

    #[test]
    fn measures_values_groups_and_filters() {
        let mut m = meter(Aggregation::Sum, Some("usage.tokens"));
        m.filters = vec![Condition {
            property: "model".into(),
            operator: Operator::In,
            value: json!(["gpt-4", "gpt-5"]),
        }];
        let p = props(json!({"model": "gpt-4", "region": "eu", "usage": {"tokens": "12.50"}}));
        let got = m.measure("api_call", &p).expect("measured").expect("valid");
        assert_eq!(got.value, Some(dec("12.5")));
        assert_eq!(got.group_key, r#"["eu"]"#);
        assert!(m.measure("other", &p).is_none());
        let p = props(json!({"model": "gpt-3", "usage": {"tokens": 1}}));
        assert!(m.measure("api_call", &p).is_none(), "filtered out");
        let p = props(json!({"model": "gpt-5", "usage": {"tokens": "many"}}));
        assert!(m.measure("api_call", &p).expect("measured").is_err());
        let p = props(json!({"model": "gpt-5", "usage": {"tokens": 1e3}}));
        assert_eq!(
            m.measure("api_call", &p)
                .expect("measured")
                .expect("valid")
                .value,
            Some(dec("1000"))
        );
    }

    #[test]
    fn numeric_conditions_compare_exactly() {
        let c = |operator, value| Condition {
            property: "n".into(),
            operator,
            value,
        };
        let p = props(json!({"n": "0.30"}));
        assert!(c(Operator::Eq, json!(0.3)).holds(&p));
        assert!(c(Operator::Gt, json!(0.29)).holds(&p));
        assert!(!c(Operator::Lt, json!("0.3")).holds(&p));
        assert!(c(Operator::Lte, json!("0.3")).holds(&p));
        assert!(
            c(Operator::Neq, json!(1)).holds(&props(json!({}))),
            "absent is not equal"
        );
        assert!(!c(Operator::Exists, Value::Null).holds(&props(json!({}))));
    }

    #[test]
    fn checks_definitions() {
        assert!(meter(Aggregation::Count, None).check().is_ok());
        assert!(meter(Aggregation::Count, Some("x")).check().is_err());
        assert!(meter(Aggregation::Sum, None).check().is_err());
        assert!(meter(Aggregation::Sum, Some("a..b")).check().is_err());
        let mut m = meter(Aggregation::Max, Some("v"));
        m.filters = vec![Condition {
            property: "v".into(),
            operator: Operator::Gt,
            value: json!("big"),
        }];
        assert!(m.check().is_err());
    }

    #[test]
    fn aggregates_merge_in_any_order() {
        let events = [(5, "2"), (9, "-1.5"), (7, "4"), (9, "3")];
        let fold = |order: &[usize]| {
            let mut a = Agg::default();
            for &i in order {
                let (ts, v) = events[i];
                let mut one = Agg::default();
                one.add(ts, Some(dec(v)), 10).expect("fits");
                a.merge(&one).expect("fits");
            }
            a
        };
        let a = fold(&[0, 1, 2, 3]);
        assert_eq!(a, fold(&[3, 2, 1, 0]));
        assert_eq!((a.count, a.sum), (4, dec("7.5")));
        assert_eq!((a.min, a.max), (Some(dec("-1.5")), Some(dec("4"))));
        assert_eq!(a.latest, Some((9, dec("3"))));
        // 2×5 + (−1.5)×1 + 4×3 + 3×1
        assert_eq!(a.area, dec("23.5"));
    }

    #[test]
    fn weighted_average_of_a_level() {
        // 10 seats for the whole hour, 20 more from minute 30: 20 seats on average.
        let mut a = Agg::default();
        a.add(30 * MINUTE, Some(dec("20")), HOUR).expect("fits");
        let avg = weighted_average(dec("10"), a.area, 0, HOUR).expect("fits");
        assert_eq!(avg, dec("20"));
        // A third of the range at 1: 0.333333.
        let avg = weighted_average(Decimal::ZERO, dec("1"), 0, 3).expect("fits");
        assert_eq!(avg, dec("0.333333"));
    }

    #[test]
    fn cover_uses_the_coarsest_buckets() {
        let t0 = 1_700_000_000_000 - 1_700_000_000_000 % DAY;
        let from = t0 + 23 * HOUR + 59 * MINUTE + 30_000;
        let to = t0 + 3 * DAY + HOUR + MINUTE + 5;
        let pieces = cover(from, to);
        let piece = |width, from, to| Piece { width, from, to };
        assert_eq!(
            pieces,
            vec![
                piece(None, from, t0 + 23 * HOUR + 60 * MINUTE),
                piece(Some(DAY), t0 + DAY, t0 + 3 * DAY),
                piece(Some(HOUR), t0 + 3 * DAY, t0 + 3 * DAY + HOUR),
                piece(
                    Some(MINUTE),
                    t0 + 3 * DAY + HOUR,
                    t0 + 3 * DAY + HOUR + MINUTE
                ),
                piece(None, t0 + 3 * DAY + HOUR + MINUTE, to),
            ]
        );
        // Contiguous and complete.
        for w in pieces.windows(2) {
            assert_eq!(w[0].to, w[1].from);
        }
        assert_eq!(cover(5, 5), vec![]);
        assert_eq!(cover(0, DAY), vec![piece(Some(DAY), 0, DAY)]);
    }

    #[test]
    fn projects_group_keys() {
        let dims = vec!["region".to_owned(), "model".to_owned()];
        let got = project(&dims, &["model".to_owned()], r#"["eu","gpt-4"]"#);
        assert_eq!(got.get("model"), Some(&Some("gpt-4".to_owned())));
        assert_eq!(got.len(), 1);
    }
}

//! Reading usage: a meter's value over a range or a series of windows, per group, from the
//! rollups (raw events only for sub-minute edges of an unaligned range, which a customer's
//! repeated reads take from `EDGES` while their minute is unchanged, and for the minute
//! windows of a `unique_count` meter, whose distinct values are kept per hour).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{LazyLock, Mutex};

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use sqlx::AnyConnection;

use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;
use domain::metering::{
    Agg, Aggregation, HOUR, MAX_AGE_MS, MINUTE, Measure, MeterDef, Overflow, Piece, cover,
    cover_with, floor_to, project, result, weighted_average,
};
use store::metering::{self as db, Found, MeterRow, Reading};

/// A meter as stored, its definition read.
#[derive(Debug, Clone)]
pub struct Meter {
    pub row: MeterRow,
    pub def: MeterDef,
}

impl Meter {
    pub fn from_row(row: MeterRow) -> Meter {
        let def = MeterDef {
            event_type: row.event_type.clone(),
            aggregation: *row.aggregation,
            value_property: row.value_property.clone(),
            filters: row.filters.0.clone(),
            group_by: row.group_by.0.clone(),
        };
        Meter { row, def }
    }

    /// What a usage read of this meter reads. Events received while the meter was active
    /// count (a meter counts from its creation to its archiving).
    fn reading<'a>(&'a self, customer: Option<&'a str>) -> Reading<'a> {
        Reading {
            meter: &self.row.id,
            event_type: &self.def.event_type,
            active: (self.row.created_at, self.row.archived_at),
            customer,
        }
    }

    /// A stored event's measure (stored events passed this meter's checks when ingested).
    fn measure(&self, properties: &str) -> ApiResult<Option<Measure>> {
        let props: Map<String, Value> =
            serde_json::from_str(properties).map_err(|e| store::Error::corrupt("properties", e))?;
        Ok(self
            .def
            .measure(&self.def.event_type, &props)
            .and_then(Result::ok))
    }
}

/// Part of a meter's data: `agg` covers `[start, end)` of one group (a raw event: start = end
/// = its time).
struct Part {
    start: i64,
    end: i64,
    group_key: String,
    agg: Agg,
}

fn overflow(e: Overflow) -> ApiError {
    ApiError::validation("usage", e.to_string())
}

/// Sub-minute edges of ranges already read, each aggregated per group and stamped with how
/// many events its minute's rollups held then. Events are only ever added, each adding one
/// to its minute's count, so an edge whose minute still holds that count is unchanged: a
/// repeated read (an entitlement check over its period) reads that count beside the rollups
/// instead of the edge's raw events, of which a busy minute has thousands. Every use checks
/// an entry against the database, so sharing them process-wide (keyed by scope) is safe.
static EDGES: LazyLock<Mutex<HashMap<EdgeKey, Edge>>> = LazyLock::new(Default::default);

/// Edges `EDGES` keeps at most; past it, it starts again empty.
const MAX_EDGES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EdgeKey {
    scope: Scope,
    meter: String,
    active: (i64, Option<i64>),
    customer: Option<String>,
    from: i64,
    to: i64,
}

#[derive(Debug, Clone)]
struct Edge {
    /// The events of the edge's minute, all groups, when it was read.
    count: i64,
    groups: BTreeMap<String, Agg>,
}

impl Edge {
    fn parts(&self, p: &Piece) -> impl Iterator<Item = Part> {
        self.groups.iter().map(|(g, agg)| Part {
            start: p.from,
            end: p.to,
            group_key: g.clone(),
            agg: agg.clone(),
        })
    }
}

/// A raw piece within one minute: an edge of a range that rollups cover otherwise.
fn is_edge(p: &Piece) -> bool {
    p.width.is_none() && floor_to(p.from, MINUTE) == floor_to(p.to - 1, MINUTE)
}

/// The rollups and raw events of `pieces`; edges from `EDGES` when their minute is unchanged
/// (one statement), else read and remembered (a second statement for changed ones).
async fn parts(
    c: &mut AnyConnection,
    scope: &Scope,
    meter: &Meter,
    customer: Option<&str>,
    pieces: &[Piece],
) -> ApiResult<Vec<Part>> {
    let reading = meter.reading(customer);
    let key = |p: &Piece| EdgeKey {
        scope: scope.clone(),
        meter: meter.row.id.clone(),
        active: reading.active,
        customer: customer.map(str::to_owned),
        from: p.from,
        to: p.to,
    };
    // One customer's edges only: a count of all customers' would scan every customer's rows.
    let cacheable = |p: &Piece| customer.is_some() && is_edge(p);
    let mut known = Vec::new();
    let mut read = Vec::new();
    {
        let edges = EDGES.lock().unwrap_or_else(|e| e.into_inner());
        for p in pieces {
            let cached = cacheable(p).then(|| edges.get(&key(p)));
            match cached.flatten() {
                Some(edge) => known.push((*p, edge.clone())),
                None => read.push(*p),
            }
        }
    }
    let minutes = |ps: &[Piece]| -> Vec<i64> {
        ps.iter()
            .filter(|p| cacheable(p))
            .map(|p| floor_to(p.from, MINUTE))
            .collect()
    };
    let mut found = db::usage_rows(c, scope, &reading, &read, &minutes(pieces)).await?;
    let mut counts = minute_counts(&found);
    let mut out = Vec::new();
    let mut stale = Vec::new();
    for (p, edge) in known {
        if counts.get(&floor_to(p.from, MINUTE)) == Some(&edge.count) {
            out.extend(edge.parts(&p));
        } else {
            stale.push(p);
        }
    }
    if !stale.is_empty() {
        let again = db::usage_rows(c, scope, &reading, &stale, &minutes(&stale)).await?;
        counts.extend(minute_counts(&again));
        found.extend(again);
        read.extend(stale);
    }
    let mut events = Vec::new();
    for f in found {
        match f {
            Found::Rollup(r) => out.push(Part {
                start: r.bucket,
                end: r.bucket + r.width,
                group_key: r.group_key,
                agg: r.agg,
            }),
            Found::Event(ts, properties) => {
                if let Some(m) = meter.measure(&properties)? {
                    events.push((ts, m));
                }
            }
            Found::Minute(..) => {}
        }
    }
    let mut remembered = Vec::new();
    for p in read.iter().filter(|p| p.width.is_none()) {
        let inside = events.iter().filter(|(ts, _)| (p.from..p.to).contains(ts));
        if cacheable(p) {
            let mut edge = Edge {
                count: counts.get(&floor_to(p.from, MINUTE)).copied().unwrap_or(0),
                groups: BTreeMap::new(),
            };
            for (ts, m) in inside {
                let agg = edge.groups.entry(m.group_key.clone()).or_default();
                agg.add(*ts, m.value, p.to).map_err(overflow)?;
            }
            out.extend(edge.parts(p));
            remembered.push((key(p), edge));
        } else {
            for (ts, m) in inside {
                let mut agg = Agg::default();
                agg.add(*ts, m.value, *ts).map_err(overflow)?;
                out.push(Part {
                    start: *ts,
                    end: *ts,
                    group_key: m.group_key.clone(),
                    agg,
                });
            }
        }
    }
    if !remembered.is_empty() {
        let mut edges = EDGES.lock().unwrap_or_else(|e| e.into_inner());
        if edges.len() + remembered.len() > MAX_EDGES {
            edges.clear();
        }
        edges.extend(remembered);
    }
    Ok(out)
}

fn minute_counts(found: &[Found]) -> HashMap<i64, i64> {
    found
        .iter()
        .filter_map(|f| match f {
            Found::Minute(m, n) => Some((*m, *n)),
            _ => None,
        })
        .collect()
}

/// `(start, group_key, value)` of the distinct values in `pieces` (hour rollups or raw).
async fn distinct(
    c: &mut AnyConnection,
    scope: &Scope,
    meter: &Meter,
    customer: Option<&str>,
    pieces: &[Piece],
) -> ApiResult<Vec<(i64, String, String)>> {
    let mut out = Vec::new();
    for p in pieces.iter().filter(|p| p.width == Some(HOUR)) {
        out.extend(db::distinct_values(c, scope, &meter.row.id, customer, (p.from, p.to)).await?);
    }
    let raw: Vec<Piece> = pieces
        .iter()
        .filter(|p| p.width.is_none())
        .copied()
        .collect();
    for found in db::usage_rows(c, scope, &meter.reading(customer), &raw, &[]).await? {
        if let Found::Event(ts, properties) = found
            && let Some(m) = meter.measure(&properties)?
            && let Some(v) = m.distinct
        {
            out.push((ts, m.group_key, v));
        }
    }
    Ok(out)
}

/// What a usage query asks for.
pub struct Query<'a> {
    pub customer: Option<&'a str>,
    /// Window boundaries, ascending: windows are `[bounds[i], bounds[i + 1])`.
    pub bounds: &'a [i64],
    /// The rollup width that tiles every window, or `None` to cover an unaligned range.
    pub width: Option<i64>,
    /// Dimensions to group by, a subset of the meter's `group_by`.
    pub group_by: &'a [String],
}

/// One value of a usage series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub window: usize,
    pub group: Group,
    pub value: Option<Decimal>,
}

/// The meter's value in each window, per group. Windows without events have 0 (or no
/// value for min, max and latest). Without `group_by` there is always one group.
pub async fn series(
    c: &mut AnyConnection,
    scope: &Scope,
    meter: &Meter,
    q: &Query<'_>,
) -> ApiResult<Vec<Point>> {
    let (Some(&from), Some(&to)) = (q.bounds.first(), q.bounds.last()) else {
        return Ok(Vec::new());
    };
    if from >= to {
        return Ok(Vec::new());
    }
    let pieces_of = |finest: Option<i64>| match (q.width, finest) {
        (Some(w), Some(f)) if w < f => vec![Piece {
            width: None,
            from,
            to,
        }],
        (Some(_), Some(f)) => vec![Piece {
            width: Some(f),
            from,
            to,
        }],
        (Some(w), None) => vec![Piece {
            width: Some(w),
            from,
            to,
        }],
        (None, Some(f)) => cover_with(from, to, &[f]),
        (None, None) => cover(from, to),
    };
    let window_of = |t: i64| q.bounds.partition_point(|&b| b <= t).saturating_sub(1);
    let group_of = |key: &str| project(&meter.def.group_by, q.group_by, key);
    let mut groups: BTreeMap<Group, Vec<Acc>> = BTreeMap::new();
    let windows = q.bounds.len() - 1;
    let aggregation = meter.def.aggregation;
    if aggregation == Aggregation::UniqueCount {
        for (t, key, value) in distinct(c, scope, meter, q.customer, &pieces_of(Some(HOUR))).await?
        {
            slot(&mut groups, group_of(&key), windows, window_of(t))
                .values
                .insert(value);
        }
    } else {
        for p in parts(c, scope, meter, q.customer, &pieces_of(None)).await? {
            let acc = slot(
                &mut groups,
                group_of(&p.group_key),
                windows,
                window_of(p.start),
            );
            let window_end = q.bounds[window_of(p.start) + 1];
            acc.area = acc
                .area
                .checked_add(p.agg.area_to(p.end, window_end).map_err(overflow)?)
                .ok_or_else(|| overflow(Overflow))?;
            acc.agg.merge(&p.agg).map_err(overflow)?;
        }
    }
    let mut levels: BTreeMap<Group, Decimal> = BTreeMap::new();
    if aggregation == Aggregation::WeightedSum {
        let history = cover(meter.row.created_at - MAX_AGE_MS, from);
        for p in parts(c, scope, meter, q.customer, &history).await? {
            let level = levels.entry(group_of(&p.group_key)).or_default();
            *level = level
                .checked_add(p.agg.sum)
                .ok_or_else(|| overflow(Overflow))?;
        }
        for g in levels.keys() {
            groups
                .entry(g.clone())
                .or_insert_with(|| vec![Acc::default(); windows]);
        }
    }
    if groups.is_empty() && q.group_by.is_empty() {
        groups.insert(BTreeMap::new(), vec![Acc::default(); windows]);
    }
    let mut out = Vec::with_capacity(groups.len() * windows);
    for (group, accs) in groups {
        let mut level = levels.get(&group).copied().unwrap_or_default();
        for (w, acc) in accs.iter().enumerate() {
            let value = if aggregation == Aggregation::WeightedSum {
                let avg = weighted_average(level, acc.area, q.bounds[w], q.bounds[w + 1])
                    .map_err(overflow)?;
                level = level
                    .checked_add(acc.agg.sum)
                    .ok_or_else(|| overflow(Overflow))?;
                Some(avg)
            } else {
                result(aggregation, &acc.agg, acc.values.len())
            };
            out.push(Point {
                window: w,
                group: group.clone(),
                value,
            });
        }
    }
    Ok(out)
}

/// A group's values of the requested dimensions.
type Group = BTreeMap<String, Option<String>>;

/// The accumulator of `group` in window `w`, made on first use.
fn slot(
    groups: &mut BTreeMap<Group, Vec<Acc>>,
    group: Group,
    windows: usize,
    w: usize,
) -> &mut Acc {
    let accs = groups
        .entry(group)
        .or_insert_with(|| vec![Acc::default(); windows]);
    // Every part lies in [from, to), so `w` is a window; the last one is a safe fallback.
    let last = accs.len().saturating_sub(1);
    &mut accs[w.min(last)]
}

/// A window's accumulated data: the aggregate, its area measured to the window's end, and
/// (unique_count) the distinct values.
#[derive(Debug, Clone, Default)]
struct Acc {
    agg: Agg,
    area: Decimal,
    values: HashSet<String>,
}

/// A customer's events' values over `[from, to)`, in time order: what a percentage price
/// charges per transaction. Read from the raw events (not the rollups), all groups together.
pub async fn values(
    c: &mut AnyConnection,
    scope: &Scope,
    meter: &Meter,
    customer: &str,
    (from, to): (i64, i64),
) -> ApiResult<Vec<Decimal>> {
    let piece = Piece {
        width: None,
        from,
        to,
    };
    let found = db::usage_rows(c, scope, &meter.reading(Some(customer)), &[piece], &[]).await?;
    let mut events = Vec::new();
    for f in found {
        if let Found::Event(ts, properties) = f
            && let Some(m) = meter.measure(&properties)?
        {
            events.push((ts, m.value.unwrap_or_default()));
        }
    }
    events.sort_by_key(|(ts, _)| *ts);
    Ok(events.into_iter().map(|(_, v)| v).collect())
}

/// A customer's usage of a meter over `[from, to)`, exactly, all groups together (a meter
/// whose value is undefined there, such as the max of no events, counts 0).
pub async fn total(
    c: &mut AnyConnection,
    scope: &Scope,
    meter: &Meter,
    customer: &str,
    (from, to): (i64, i64),
) -> ApiResult<Decimal> {
    let points = series(
        c,
        scope,
        meter,
        &Query {
            customer: Some(customer),
            bounds: &[from, to],
            width: None,
            group_by: &[],
        },
    )
    .await?;
    Ok(points.first().and_then(|p| p.value).unwrap_or_default())
}

//! Rollups: each meter's aggregates per customer, bucket width, bucket and group, added to
//! as events arrive; and the usage reads over them and the raw events.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::customer_is;
use crate::{Error, Result};
use crate::{json_rows, scoped};
use domain::metering::{Agg, MINUTE, Piece};
use domain::tenancy::Scope;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollupKey {
    pub meter_id: String,
    pub customer_id: String,
    pub width: i64,
    pub bucket: i64,
    pub group_key: String,
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

fn decimal(column: &str, s: &str) -> Result<Decimal> {
    Decimal::from_str(s).map_err(|e| Error::corrupt(column, e))
}

fn agg_of(r: &sqlx::any::AnyRow, at: usize) -> Result<Agg> {
    let opt = |i: usize, name: &str| -> Result<Option<Decimal>> {
        r.try_get::<Option<String>, _>(at + i)?
            .map(|s| decimal(name, &s))
            .transpose()
    };
    let latest_at: Option<i64> = r.try_get(at + 6)?;
    Ok(Agg {
        count: r.try_get(at)?,
        sum: decimal("sum", &r.try_get::<String, _>(at + 1)?)?,
        min: opt(2, "min")?,
        max: opt(3, "max")?,
        latest: latest_at.zip(opt(4, "latest")?),
        area: decimal("area", &r.try_get::<String, _>(at + 5)?)?,
    })
}

const AGG_COLUMNS: &str = "count, sum, min, max, latest, area, latest_at";
const KEY_COLUMNS: &str = "meter_id, customer_id, width, bucket, group_key";

/// Adds `deltas` to the rollups on PostgreSQL, creating rows as needed. The statement adds,
/// with exact `numeric`s, so concurrent writers (other replicas) each add theirs; rows are
/// taken in key order so that they wait for each other rather than deadlock.
pub async fn add_rollups(
    c: &mut AnyConnection,
    scope: &Scope,
    deltas: &BTreeMap<RollupKey, Agg>,
) -> Result<()> {
    write_rollups(c, scope, deltas, ADD).await
}

/// Rollup rows as SQLite's one writer last wrote them, by scope and key. The server holds the
/// database file locked (`store::Db::lock_sqlite_file`), and no other code writes rollups, so
/// these are the stored rows and need not be read back before they are added to.
pub struct Written {
    rows: HashMap<Scope, HashMap<RollupKey, Agg>>,
    /// The file lock that makes this process the only writer.
    _lock: Option<std::fs::File>,
}

/// The rows `Written` holds at most: the hot minutes, hours and days of every customer of a
/// busy hour (an hour of late events from 1,000 customers touches about 63,000). Past it, it
/// starts again empty.
const WRITTEN_ROWS: usize = 200_000;

impl Written {
    pub fn new(lock: Option<std::fs::File>) -> Written {
        Written {
            rows: HashMap::new(),
            _lock: lock,
        }
    }

    /// Remembers rows a committed transaction wrote.
    pub fn keep(&mut self, scope: &Scope, rows: BTreeMap<RollupKey, Agg>) {
        let held: usize = self.rows.values().map(HashMap::len).sum();
        if held + rows.len() > WRITTEN_ROWS {
            self.forget();
        }
        self.rows.entry(scope.clone()).or_default().extend(rows);
    }

    /// Forgets everything, after a transaction that may or may not have been committed.
    pub fn forget(&mut self) {
        self.rows.clear();
    }
}

/// Adds `deltas` to the rollups on SQLite, which has no exact decimals: the rows are taken
/// from `written` or read, added to here, and written back. Returns them as written, for
/// `Written::keep` once committed.
pub async fn merge_rollups(
    c: &mut AnyConnection,
    scope: &Scope,
    deltas: &BTreeMap<RollupKey, Agg>,
    written: &Written,
) -> Result<BTreeMap<RollupKey, Agg>> {
    let mut merged = deltas.clone();
    let mut unknown = Vec::new();
    let known = written.rows.get(scope);
    for (key, m) in merged.iter_mut() {
        match known.and_then(|rows| rows.get(key)) {
            Some(stored) => m.merge(stored).map_err(overflow)?,
            None => unknown.push(key_json(key)),
        }
    }
    if !unknown.is_empty() {
        // CROSS JOIN: SQLite then loops over the keys and looks each one up; with a plain
        // join it chose to scan the tenant's rollups instead.
        let sql = format!(
            "SELECT r.meter_id, r.customer_id, r.width, r.bucket, r.group_key, {AGG_COLUMNS}
             FROM {} CROSS JOIN meter_rollups r WHERE r.tenant_id = $1 AND r.env = $2
             AND r.meter_id = e.value->>'m' AND r.customer_id = e.value->>'c'
             AND r.width = CAST(e.value->>'w' AS BIGINT)
             AND r.bucket = CAST(e.value->>'b' AS BIGINT) AND r.group_key = e.value->>'g'",
            json_rows(c, 3)
        );
        let existing = scoped::query(AssertSqlSafe(sql), scope)
            .bind(Value::Array(unknown).to_string())
            .fetch_all(&mut *c)
            .await?;
        for r in &existing {
            let key = RollupKey {
                meter_id: r.try_get(0)?,
                customer_id: r.try_get(1)?,
                width: r.try_get(2)?,
                bucket: r.try_get(3)?,
                group_key: r.try_get(4)?,
            };
            if let Some(m) = merged.get_mut(&key) {
                m.merge(&agg_of(r, 5)?).map_err(overflow)?;
            }
        }
    }
    write_rollups(c, scope, &merged, REPLACE).await?;
    Ok(merged)
}

/// A rollup that would overflow, as the error of the events that made it.
pub fn overflow(e: impl std::fmt::Display) -> Error {
    domain::Error::validation("events", e.to_string()).into()
}

/// How an existing rollup row takes a written one: replaced by it (SQLite, which merged
/// already), or added to it (PostgreSQL; `trim_scale` keeps the text as `text` writes it).
const REPLACE: &str = "count = excluded.count, sum = excluded.sum, min = excluded.min,
     max = excluded.max, latest = excluded.latest, area = excluded.area,
     latest_at = excluded.latest_at";
const ADD: &str = "count = r.count + excluded.count,
     sum = trim_scale(r.sum::numeric + excluded.sum::numeric)::text,
     area = trim_scale(r.area::numeric + excluded.area::numeric)::text,
     min = trim_scale(least(r.min::numeric, excluded.min::numeric))::text,
     max = trim_scale(greatest(r.max::numeric, excluded.max::numeric))::text,
     latest = CASE WHEN r.latest_at IS NULL
         OR (excluded.latest_at, excluded.latest::numeric) > (r.latest_at, r.latest::numeric)
         THEN excluded.latest ELSE r.latest END,
     latest_at = greatest(r.latest_at, excluded.latest_at)";

fn key_json(k: &RollupKey) -> Value {
    json!({"m": k.meter_id, "c": k.customer_id, "w": k.width, "b": k.bucket, "g": k.group_key})
}

async fn write_rollups(
    c: &mut AnyConnection,
    scope: &Scope,
    rows: &BTreeMap<RollupKey, Agg>,
    on_conflict: &str,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<Value> = rows
        .iter()
        .map(|(k, a)| {
            let mut v = key_json(k);
            v["count"] = json!(a.count);
            v["sum"] = json!(text(a.sum));
            v["min"] = json!(a.min.map(text));
            v["max"] = json!(a.max.map(text));
            v["latest"] = json!(a.latest.map(|(_, l)| text(l)));
            v["latest_at"] = json!(a.latest.map(|(at, _)| at));
            v["area"] = json!(text(a.area));
            v
        })
        .collect();
    // In key order (the map's, and so the JSON array's), which PostgreSQL keeps.
    let sql = format!(
        "INSERT INTO meter_rollups AS r (tenant_id, env, {KEY_COLUMNS}, {AGG_COLUMNS})
         SELECT $1, $2, e.value->>'m', e.value->>'c', CAST(e.value->>'w' AS BIGINT),
         CAST(e.value->>'b' AS BIGINT), e.value->>'g', CAST(e.value->>'count' AS BIGINT),
         e.value->>'sum', e.value->>'min', e.value->>'max', e.value->>'latest',
         e.value->>'area', CAST(e.value->>'latest_at' AS BIGINT) FROM {} WHERE true
         ON CONFLICT (tenant_id, env, {KEY_COLUMNS}) DO UPDATE SET {on_conflict}",
        json_rows(c, 3)
    );
    scoped::query(AssertSqlSafe(sql), scope)
        .bind(Value::Array(values).to_string())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// A rollup row read back: its customer, width, bucket, group and aggregate.
pub struct RollupRow {
    pub width: i64,
    pub bucket: i64,
    pub group_key: String,
    pub agg: Agg,
}

/// What a usage read finds: a rollup row, a raw event's time and properties, or how many
/// events a minute's rollups hold (all groups together).
pub enum Found {
    Rollup(RollupRow),
    Event(i64, String),
    Minute(i64, i64),
}

/// Whose usage a read is for: a meter (its id, event type and the times it counts events
/// received, `[since, until)`), and one customer or all.
pub struct Reading<'a> {
    pub meter: &'a str,
    pub event_type: &'a str,
    pub active: (i64, Option<i64>),
    pub customer: Option<&'a str>,
}

/// The rollups and raw events of `pieces` and the event counts of the minutes starting at
/// `minutes`, in one statement (so one snapshot): a SELECT per piece, each a range scan of
/// an index, joined by UNION ALL, padded to the rollups' columns. (With the ranges ORed in
/// one WHERE, PostgreSQL's generic plan read every row of the customer: 64 ms for a day's
/// usage after ten million events.)
pub async fn usage_rows(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &Reading<'_>,
    pieces: &[Piece],
    minutes: &[i64],
) -> Result<Vec<Found>> {
    if pieces.is_empty() && minutes.is_empty() {
        return Ok(Vec::new());
    }
    let customer = customer_is(r.customer, 4);
    let mut n = 7;
    let mut next = || {
        n += 1;
        n
    };
    let nulls = |k: usize| vec!["CAST(NULL AS TEXT)"; k].join(", ");
    let rollups = "FROM meter_rollups WHERE tenant_id = $1 AND env = $2 AND meter_id = $3";
    let mut selects: Vec<String> = pieces
        .iter()
        .map(|p| match p.width {
            Some(_) => format!(
                "SELECT width, bucket, group_key, {AGG_COLUMNS}, CAST(NULL AS TEXT) {rollups}
                 AND {customer} AND width = ${} AND bucket >= ${} AND bucket < ${}",
                next(),
                next(),
                next()
            ),
            None => format!(
                "SELECT CAST(NULL AS BIGINT), ts, CAST(NULL AS TEXT), CAST(NULL AS BIGINT), {},
                 CAST(NULL AS BIGINT), properties FROM usage_events
                 WHERE tenant_id = $1 AND env = $2 AND event_type = $5 AND {customer}
                 AND received_at >= $6 AND ($7 IS NULL OR received_at < $7)
                 AND ts >= ${} AND ts < ${}",
                nulls(5),
                next(),
                next()
            ),
        })
        .collect();
    selects.extend(minutes.iter().map(|_| {
        let k = next();
        format!(
            "SELECT CAST(NULL AS BIGINT), CAST(${k} AS BIGINT), CAST(NULL AS TEXT),
             CAST(COALESCE(SUM(count), 0) AS BIGINT), {}, CAST(NULL AS BIGINT),
             CAST(NULL AS TEXT) {rollups} AND {customer} AND width = {MINUTE} AND bucket = ${k}",
            nulls(5)
        )
    }));
    let mut q = scoped::query(AssertSqlSafe(selects.join(" UNION ALL ")), scope)
        .bind(r.meter)
        .bind(r.customer)
        .bind(r.event_type)
        .bind(r.active.0)
        .bind(r.active.1);
    for p in pieces {
        if let Some(w) = p.width {
            q = q.bind(w);
        }
        q = q.bind(p.from).bind(p.to);
    }
    for m in minutes {
        q = q.bind(*m);
    }
    q.fetch_all(c)
        .await?
        .iter()
        .map(|row| {
            let width: Option<i64> = row.try_get(0)?;
            match (width, row.try_get::<Option<String>, _>(10)?) {
                (_, Some(properties)) => Ok(Found::Event(row.try_get(1)?, properties)),
                (None, None) => Ok(Found::Minute(row.try_get(1)?, row.try_get(3)?)),
                (Some(width), None) => Ok(Found::Rollup(RollupRow {
                    width,
                    bucket: row.try_get(1)?,
                    group_key: row.try_get(2)?,
                    agg: agg_of(row, 3)?,
                })),
            }
        })
        .collect()
}

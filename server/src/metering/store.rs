//! Metering SQL: meters, raw events, rollups, distinct values and sent alerts. Bulk writes
//! are multi-row statements in chunks that stay under both backends' bind limits.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use sqlx::{AnyConnection, AssertSqlSafe, FromRow, Row};

use super::model::Agg;
use crate::http::error::{ApiError, ApiResult};
use crate::store::{Claim, lock_clause};
use crate::tenancy::Scope;

/// Rows per multi-row statement: 1,000 × 14 binds stays under SQLite's 32,766.
const CHUNK: usize = 1000;

/// `($f,$f+1,…),(…)`: `rows` tuples of `cols` placeholders numbered from `first`.
fn placeholders(rows: usize, cols: usize, first: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ",(" });
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            s.push('$');
            s.push_str(&(first + r * cols + c).to_string());
        }
        s.push(')');
    }
    s
}

/// `customer_id = $n`, or (all customers) an always-true condition that still binds `$n`.
/// Not `($n IS NULL OR customer_id = $n)`: that keeps SQLite from using the customer part
/// of an index, and a customer's query would scan every customer's rows.
fn customer_is(customer: Option<&str>, n: usize) -> String {
    match customer {
        Some(_) => format!("customer_id = ${n}"),
        None => format!("${n} IS NULL"),
    }
}

// ---------- meters ----------

#[derive(Debug, Clone, FromRow)]
pub struct MeterRow {
    pub id: String,
    pub name: String,
    pub event_type: String,
    pub aggregation: String,
    pub value_property: Option<String>,
    pub filters: String,
    pub group_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

const METER_COLUMNS: &str = "id, name, event_type, aggregation, value_property, filters, \
     group_by, created_at, updated_at, archived_at";

pub async fn insert_meter(c: &mut AnyConnection, scope: &Scope, m: &MeterRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO meters (id, tenant_id, env, name, event_type, aggregation, value_property,
         filters, group_by, created_at, updated_at, archived_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&m.id)
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&m.name)
    .bind(&m.event_type)
    .bind(&m.aggregation)
    .bind(&m.value_property)
    .bind(&m.filters)
    .bind(&m.group_by)
    .bind(m.created_at)
    .bind(m.updated_at)
    .bind(m.archived_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn update_meter(c: &mut AnyConnection, scope: &Scope, m: &MeterRow) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE meters SET name = $1, updated_at = $2, archived_at = $3
         WHERE tenant_id = $4 AND env = $5 AND id = $6",
    )
    .bind(&m.name)
    .bind(m.updated_at)
    .bind(m.archived_at)
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&m.id)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn get_meter(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<MeterRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {METER_COLUMNS} FROM meters WHERE tenant_id = $1 AND env = $2 AND id = $3"
    )))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn list_meters(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<MeterRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {METER_COLUMNS} FROM meters WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
    )))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// The meters that events count towards now.
pub async fn active_meters(c: &mut AnyConnection, scope: &Scope) -> sqlx::Result<Vec<MeterRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {METER_COLUMNS} FROM meters WHERE tenant_id = $1 AND env = $2
         AND archived_at IS NULL ORDER BY id"
    )))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .fetch_all(c)
    .await
}

// ---------- customers, as events name them ----------

/// A customer an event names, with "now" on its test clock, if it has one.
#[derive(Debug, Clone, FromRow)]
pub struct EventCustomer {
    pub id: String,
    pub external_id: Option<String>,
    pub clock_time: Option<i64>,
}

/// The customers whose id or external id is in `refs`.
pub async fn customers_named(
    c: &mut AnyConnection,
    scope: &Scope,
    refs: &[&str],
) -> sqlx::Result<Vec<EventCustomer>> {
    let mut found = Vec::new();
    for chunk in refs.chunks(CHUNK) {
        let list = placeholders(chunk.len(), 1, 3).replace("),(", ",");
        let sql = format!(
            "SELECT c.id, c.external_id, t.frozen_time AS clock_time FROM customers c
             LEFT JOIN test_clocks t ON t.id = c.test_clock
             WHERE c.tenant_id = $1 AND c.env = $2 AND (c.id IN {list} OR c.external_id IN {list})"
        );
        let mut q = sqlx::query_as(AssertSqlSafe(sql))
            .bind(scope.org_id.as_str())
            .bind(scope.env.as_str());
        for r in chunk {
            q = q.bind(*r);
        }
        found.extend(q.fetch_all(&mut *c).await?);
    }
    Ok(found)
}

// ---------- events ----------

#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: String,
    pub event_type: String,
    pub customer_id: String,
    pub ts: i64,
    pub properties: String,
    pub received_at: i64,
}

/// Inserts the events whose id is new; returns the ids inserted.
pub async fn insert_events(
    c: &mut AnyConnection,
    scope: &Scope,
    events: &[&EventRow],
) -> sqlx::Result<Vec<String>> {
    let mut inserted = Vec::with_capacity(events.len());
    for chunk in events.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO usage_events (tenant_id, env, id, event_type, customer_id, ts, properties,
             received_at) VALUES {} ON CONFLICT (tenant_id, env, id) DO NOTHING RETURNING id",
            placeholders(chunk.len(), 8, 1)
        );
        let mut q = sqlx::query_scalar(AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(scope.org_id.as_str())
                .bind(scope.env.as_str())
                .bind(&e.id)
                .bind(&e.event_type)
                .bind(&e.customer_id)
                .bind(e.ts)
                .bind(&e.properties)
                .bind(e.received_at);
        }
        inserted.extend(q.fetch_all(&mut *c).await?);
    }
    Ok(inserted)
}

/// Raw events of one type and customer in any of `ranges`, received while the meter was
/// active (`since` to `until`): `(ts, properties)`.
pub async fn raw_events(
    c: &mut AnyConnection,
    scope: &Scope,
    event_type: &str,
    customer: Option<&str>,
    ranges: &[(i64, i64)],
    (since, until): (i64, Option<i64>),
) -> sqlx::Result<Vec<(i64, String)>> {
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    let within = (0..ranges.len())
        .map(|i| format!("(ts >= ${} AND ts < ${})", 7 + 2 * i, 8 + 2 * i))
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!(
        "SELECT ts, properties FROM usage_events WHERE tenant_id = $1 AND env = $2
         AND event_type = $3 AND {}
         AND received_at >= $5 AND ($6 IS NULL OR received_at < $6) AND ({within})",
        customer_is(customer, 4)
    );
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(scope.org_id.as_str())
        .bind(scope.env.as_str())
        .bind(event_type)
        .bind(customer)
        .bind(since)
        .bind(until);
    for (from, to) in ranges {
        q = q.bind(*from).bind(*to);
    }
    q.fetch_all(c)
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

// ---------- rollups ----------

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
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

fn decimal(column: &str, s: &str) -> ApiResult<Decimal> {
    Decimal::from_str(s)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("unreadable {column} column: {e}")))
}

fn agg_of(r: &sqlx::any::AnyRow, at: usize) -> ApiResult<Agg> {
    let opt = |i: usize, name: &str| -> ApiResult<Option<Decimal>> {
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

/// Adds `deltas` to the rollups, creating rows as needed. On PostgreSQL the rows are first
/// created empty and then locked in key order, so concurrent writers (other replicas) wait
/// for each other instead of losing an addition; SQLite has one writer.
pub async fn merge_rollups(
    c: &mut AnyConnection,
    scope: &Scope,
    deltas: &BTreeMap<RollupKey, Agg>,
) -> ApiResult<()> {
    let keys: Vec<&RollupKey> = deltas.keys().collect();
    let locking = !lock_clause(c, Claim::Wait).is_empty();
    for chunk in keys.chunks(CHUNK) {
        if locking {
            let sql = format!(
                "INSERT INTO meter_rollups (tenant_id, env, {KEY_COLUMNS}, count, sum, area)
                 VALUES {} ON CONFLICT DO NOTHING",
                placeholders(chunk.len(), 5, 3)
                    .replace('(', "($1, $2, ")
                    .replace(')', ", 0, '0', '0')")
            );
            bind_keys(sqlx::query(AssertSqlSafe(sql)), scope, chunk)
                .execute(&mut *c)
                .await?;
        }
        // A join with the keys, not `(…) IN (VALUES …)`: SQLite would use only the
        // (tenant_id, env) prefix of the key for that and scan the tenant's rollups.
        let lock = match lock_clause(c, Claim::Wait) {
            "" => "",
            _ => " FOR UPDATE OF r",
        };
        let sql = format!(
            "SELECT r.meter_id, r.customer_id, r.width, r.bucket, r.group_key,
             r.count, r.sum, r.min, r.max, r.latest, r.area, r.latest_at
             FROM (VALUES {}) AS k JOIN meter_rollups r ON r.tenant_id = $1 AND r.env = $2
             AND r.meter_id = k.column1 AND r.customer_id = k.column2 AND r.width = k.column3
             AND r.bucket = k.column4 AND r.group_key = k.column5
             ORDER BY r.meter_id, r.customer_id, r.width, r.bucket, r.group_key{lock}",
            placeholders(chunk.len(), 5, 3),
        );
        let rows = bind_keys(sqlx::query(AssertSqlSafe(sql)), scope, chunk)
            .fetch_all(&mut *c)
            .await?;
        let mut merged: BTreeMap<&RollupKey, Agg> =
            chunk.iter().map(|k| (*k, deltas[*k].clone())).collect();
        for r in &rows {
            let key = RollupKey {
                meter_id: r.try_get(0)?,
                customer_id: r.try_get(1)?,
                width: r.try_get(2)?,
                bucket: r.try_get(3)?,
                group_key: r.try_get(4)?,
            };
            if let Some(m) = merged.get_mut(&key) {
                m.merge(&agg_of(r, 5)?)
                    .map_err(|e| ApiError::validation("events", e.to_string()))?;
            }
        }
        let sql = format!(
            "INSERT INTO meter_rollups (tenant_id, env, {KEY_COLUMNS}, {AGG_COLUMNS}) VALUES {}
             ON CONFLICT (tenant_id, env, {KEY_COLUMNS}) DO UPDATE SET count = excluded.count,
             sum = excluded.sum, min = excluded.min, max = excluded.max,
             latest = excluded.latest, area = excluded.area, latest_at = excluded.latest_at",
            placeholders(merged.len(), 14, 1)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (k, a) in &merged {
            q = q
                .bind(scope.org_id.as_str())
                .bind(scope.env.as_str())
                .bind(&k.meter_id)
                .bind(&k.customer_id)
                .bind(k.width)
                .bind(k.bucket)
                .bind(&k.group_key)
                .bind(a.count)
                .bind(text(a.sum))
                .bind(a.min.map(text))
                .bind(a.max.map(text))
                .bind(a.latest.map(|(_, v)| text(v)))
                .bind(text(a.area))
                .bind(a.latest.map(|(at, _)| at));
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

fn bind_keys<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    scope: &'q Scope,
    keys: &[&'q RollupKey],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q = q.bind(scope.org_id.as_str()).bind(scope.env.as_str());
    for k in keys {
        q = q
            .bind(&k.meter_id)
            .bind(&k.customer_id)
            .bind(k.width)
            .bind(k.bucket)
            .bind(&k.group_key);
    }
    q
}

/// A rollup row read back: its customer, width, bucket, group and aggregate.
pub struct RollupRow {
    pub width: i64,
    pub bucket: i64,
    pub group_key: String,
    pub agg: Agg,
}

/// The rollups of a meter (for one customer, or all) that lie in the given pieces, each
/// `(width, from, to)` with `from` and `to` on that width's bucket boundaries.
pub async fn rollups(
    c: &mut AnyConnection,
    scope: &Scope,
    meter: &str,
    customer: Option<&str>,
    pieces: &[(i64, i64, i64)],
) -> ApiResult<Vec<RollupRow>> {
    if pieces.is_empty() {
        return Ok(Vec::new());
    }
    let within = (0..pieces.len())
        .map(|i| {
            let p = 5 + 3 * i;
            format!(
                "(width = ${p} AND bucket >= ${} AND bucket < ${})",
                p + 1,
                p + 2
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!(
        "SELECT width, bucket, group_key, {AGG_COLUMNS} FROM meter_rollups
         WHERE tenant_id = $1 AND env = $2 AND meter_id = $3
         AND {} AND ({within})",
        customer_is(customer, 4)
    );
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(scope.org_id.as_str())
        .bind(scope.env.as_str())
        .bind(meter)
        .bind(customer);
    for (w, from, to) in pieces {
        q = q.bind(*w).bind(*from).bind(*to);
    }
    q.fetch_all(c)
        .await?
        .iter()
        .map(|r| {
            Ok(RollupRow {
                width: r.try_get(0)?,
                bucket: r.try_get(1)?,
                group_key: r.try_get(2)?,
                agg: agg_of(r, 3)?,
            })
        })
        .collect()
}

// ---------- distinct values ----------

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DistinctRow {
    pub meter_id: String,
    pub customer_id: String,
    pub bucket: i64,
    pub group_key: String,
    pub value: String,
}

pub async fn insert_distinct(
    c: &mut AnyConnection,
    scope: &Scope,
    rows: &[&DistinctRow],
) -> sqlx::Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO meter_distinct (tenant_id, env, meter_id, customer_id, bucket, group_key,
             value) VALUES {} ON CONFLICT DO NOTHING",
            placeholders(chunk.len(), 7, 1)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for d in chunk {
            q = q
                .bind(scope.org_id.as_str())
                .bind(scope.env.as_str())
                .bind(&d.meter_id)
                .bind(&d.customer_id)
                .bind(d.bucket)
                .bind(&d.group_key)
                .bind(&d.value);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// `(bucket, group_key, value)` of the distinct values seen in hours `[from, to)`.
pub async fn distinct_values(
    c: &mut AnyConnection,
    scope: &Scope,
    meter: &str,
    customer: Option<&str>,
    (from, to): (i64, i64),
) -> sqlx::Result<Vec<(i64, String, String)>> {
    let sql = format!(
        "SELECT bucket, group_key, value FROM meter_distinct WHERE tenant_id = $1 AND env = $2
         AND meter_id = $3 AND {} AND bucket >= $5 AND bucket < $6",
        customer_is(customer, 4)
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(scope.org_id.as_str())
        .bind(scope.env.as_str())
        .bind(meter)
        .bind(customer)
        .bind(from)
        .bind(to)
        .fetch_all(c)
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

// ---------- usage alerts ----------

/// Records that `threshold` was reached; false when it had been already this period.
pub async fn record_alert(
    c: &mut AnyConnection,
    scope: &Scope,
    (customer, feature, period_start, threshold): (&str, &str, i64, i64),
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO usage_alerts (tenant_id, env, customer_id, feature, period_start, threshold,
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(customer)
    .bind(feature)
    .bind(period_start)
    .bind(threshold)
    .bind(now)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

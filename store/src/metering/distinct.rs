//! The distinct values a `unique_count` meter has seen, per hour.

use serde_json::{Value, json};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::customer_is;
use crate::{json_rows, scoped};
use domain::tenancy::Scope;

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
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<Value> = rows
        .iter()
        .map(|d| json!({"m": d.meter_id, "c": d.customer_id, "b": d.bucket, "g": d.group_key, "v": d.value}))
        .collect();
    let sql = format!(
        "INSERT INTO meter_distinct (tenant_id, env, meter_id, customer_id, bucket, group_key,
         value) SELECT $1, $2, e.value->>'m', e.value->>'c', CAST(e.value->>'b' AS BIGINT),
         e.value->>'g', e.value->>'v' FROM {} WHERE true ON CONFLICT DO NOTHING",
        json_rows(c, 3)
    );
    scoped::query(AssertSqlSafe(sql), scope)
        .bind(Value::Array(values).to_string())
        .execute(c)
        .await?;
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
    scoped::query(AssertSqlSafe(sql), scope)
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

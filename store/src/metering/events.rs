//! Raw usage events, deduplicated by `(tenant, env, id)`, and the customers they name.

use std::collections::HashSet;

use serde_json::{Value, json};
use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::{is_postgres, json_rows, scoped};
use domain::tenancy::Scope;

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
    // One lookup by id and one by external id per name: with the two ORed, SQLite scanned
    // every customer of the tenant.
    let rows = json_rows(c, 3);
    let by = |column: &str| {
        format!(
            "SELECT c.id, c.external_id, t.frozen_time AS clock_time
             FROM {rows} CROSS JOIN customers c LEFT JOIN test_clocks t ON t.id = c.test_clock
             WHERE c.tenant_id = $1 AND c.env = $2 AND c.{column} = e.value->>'r'"
        )
    };
    let sql = format!("{} UNION {}", by("id"), by("external_id"));
    let refs: Vec<Value> = refs.iter().map(|r| json!({ "r": r })).collect();
    scoped::query_as(AssertSqlSafe(sql), scope)
        .bind(Value::Array(refs).to_string())
        .fetch_all(c)
        .await
}

#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: String,
    pub event_type: String,
    pub customer_id: String,
    pub ts: i64,
    pub properties: String,
    pub received_at: i64,
}

/// Inserts the events whose id is new (`events` have distinct ids); returns the ids that
/// were there already. PostgreSQL answers with the rows it inserted, which is exact even
/// while other writers insert the same ids. SQLite, whose one writer is this transaction,
/// first looks the ids up: duplicates are rare, and each row a statement returns is a
/// message from sqlx's SQLite thread, which cost a fifth of that thread at 10,000 a commit.
pub async fn insert_events(
    c: &mut AnyConnection,
    scope: &Scope,
    events: &[&EventRow],
) -> sqlx::Result<HashSet<String>> {
    let rows: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({"id": e.id, "type": e.event_type, "customer": e.customer_id, "ts": e.ts,
                   "properties": e.properties, "received_at": e.received_at})
        })
        .collect();
    let rows = Value::Array(rows).to_string();
    let elements = json_rows(c, 3);
    // `WHERE true`: SQLite's parser needs it between INSERT … SELECT and ON CONFLICT.
    let insert = |returning: &str| {
        format!(
            "INSERT INTO usage_events (tenant_id, env, id, event_type, customer_id, ts,
             properties, received_at)
             SELECT $1, $2, e.value->>'id', e.value->>'type', e.value->>'customer',
             CAST(e.value->>'ts' AS BIGINT), e.value->>'properties',
             CAST(e.value->>'received_at' AS BIGINT) FROM {elements} WHERE true
             ON CONFLICT (tenant_id, env, id) DO NOTHING{returning}"
        )
    };
    if is_postgres(c) {
        let inserted = ids(c, scope, insert(" RETURNING id"), &rows).await?;
        return Ok(events
            .iter()
            .filter(|e| !inserted.contains(&e.id))
            .map(|e| e.id.clone())
            .collect());
    }
    let existing = format!(
        "SELECT id FROM usage_events WHERE tenant_id = $1 AND env = $2
         AND id IN (SELECT e.value->>'id' FROM {elements})"
    );
    let seen = ids(c, scope, existing, &rows).await?;
    scoped::query(AssertSqlSafe(insert("")), scope)
        .bind(&rows)
        .execute(&mut *c)
        .await?;
    Ok(seen)
}

/// The ids a statement over the scope and the event rows (`$3`) returns.
async fn ids(
    c: &mut AnyConnection,
    scope: &Scope,
    sql: String,
    rows: &str,
) -> sqlx::Result<HashSet<String>> {
    let ids: Vec<String> = scoped::query_scalar(AssertSqlSafe(sql), scope)
        .bind(rows)
        .fetch_all(c)
        .await?;
    Ok(ids.into_iter().collect())
}

/// Each customer's number of usage events timed in `[from, to)`, for those with any.
pub async fn event_counts(
    c: &mut AnyConnection,
    scope: &Scope,
    (from, to): (i64, i64),
) -> sqlx::Result<Vec<(String, i64)>> {
    scoped::query_as(
        "SELECT customer_id, COUNT(*) FROM usage_events
         WHERE tenant_id = $1 AND env = $2 AND ts >= $3 AND ts < $4 GROUP BY customer_id",
        scope,
    )
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await
}

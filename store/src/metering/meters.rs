//! Meters: what counts which events, and how.

use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::columns::{Json, Text};
use crate::scoped;
use domain::metering::{Aggregation, Condition};
use domain::tenancy::Scope;

#[derive(Debug, Clone, FromRow)]
pub struct MeterRow {
    pub id: String,
    pub name: String,
    pub event_type: String,
    pub aggregation: Text<Aggregation>,
    pub value_property: Option<String>,
    pub filters: Json<Vec<Condition>>,
    pub group_by: Json<Vec<String>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

const METER_COLUMNS: &str = "id, name, event_type, aggregation, value_property, filters, \
     group_by, created_at, updated_at, archived_at";

/// The meter columns of the table aliased `alias`, for a join.
pub fn meter_columns(alias: &str) -> String {
    METER_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn insert_meter(c: &mut AnyConnection, scope: &Scope, m: &MeterRow) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO meters (tenant_id, env, id, name, event_type, aggregation, value_property,
         filters, group_by, created_at, updated_at, archived_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        scope,
    )
    .bind(&m.id)
    .bind(&m.name)
    .bind(&m.event_type)
    .bind(m.aggregation)
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
    scoped::query(
        "UPDATE meters SET name = $3, updated_at = $4, archived_at = $5
         WHERE tenant_id = $1 AND env = $2 AND id = $6",
        scope,
    )
    .bind(&m.name)
    .bind(m.updated_at)
    .bind(m.archived_at)
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
    scoped::query_as(
        AssertSqlSafe(format!(
            "SELECT {METER_COLUMNS} FROM meters WHERE tenant_id = $1 AND env = $2 AND id = $3"
        )),
        scope,
    )
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
    scoped::query_as(
        AssertSqlSafe(format!(
            "SELECT {METER_COLUMNS} FROM meters WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        )),
        scope,
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// The meters that events count towards now.
pub async fn active_meters(c: &mut AnyConnection, scope: &Scope) -> sqlx::Result<Vec<MeterRow>> {
    scoped::query_as(
        AssertSqlSafe(format!(
            "SELECT {METER_COLUMNS} FROM meters WHERE tenant_id = $1 AND env = $2
         AND archived_at IS NULL ORDER BY id"
        )),
        scope,
    )
    .fetch_all(c)
    .await
}

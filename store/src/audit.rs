//! The audit log's rows: written in the transaction of the change they record, listed
//! newest first.

use serde_json::json;
use sqlx::{AnyConnection, FromRow};

use crate::{Column, insert_rows, scoped};
use domain::tenancy::Scope;

/// An event to record.
pub struct NewEvent<'a> {
    pub id: String,
    pub actor_type: &'a str,
    pub actor_id: &'a str,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub request_id: &'a str,
    pub ip: Option<&'a str>,
    pub created_at: i64,
}

/// Writes the events with one statement.
pub async fn insert_events(
    c: &mut AnyConnection,
    scope: &Scope,
    events: &[NewEvent<'_>],
) -> sqlx::Result<()> {
    let rows = events
        .iter()
        .map(|e| {
            json!({"id": e.id, "actor_type": e.actor_type, "actor_id": e.actor_id,
                   "action": e.action, "target_type": e.target_type, "target_id": e.target_id,
                   "request_id": e.request_id, "ip": e.ip, "created_at": e.created_at})
        })
        .collect();
    let columns = [
        Column::Text("id"),
        Column::Text("actor_type"),
        Column::Text("actor_id"),
        Column::Text("action"),
        Column::Text("target_type"),
        Column::Text("target_id"),
        Column::Text("request_id"),
        Column::Text("ip"),
        Column::Int("created_at"),
    ];
    insert_rows(c, scope, "audit_events", &columns, rows).await
}

#[derive(Debug, FromRow)]
pub struct AuditRow {
    pub id: String,
    pub actor_type: String,
    pub actor_id: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub request_id: String,
    pub ip: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Default)]
pub struct AuditFilter<'a> {
    pub action: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub created_gte: Option<i64>,
    pub created_lt: Option<i64>,
}

pub async fn list(
    c: &mut AnyConnection,
    scope: &Scope,
    filter: &AuditFilter<'_>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    scoped::query_as(
        "SELECT id, actor_type, actor_id, action, target_type, target_id, request_id, ip, created_at
         FROM audit_events WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3)
         AND ($4 IS NULL OR action = $4)
         AND ($5 IS NULL OR actor_id = $5)
         AND ($6 IS NULL OR target_id = $6)
         AND ($7 IS NULL OR created_at >= $7)
         AND ($8 IS NULL OR created_at < $8)
         ORDER BY id DESC LIMIT $9",
        scope,
    )
    .bind(after)
    .bind(filter.action)
    .bind(filter.actor_id)
    .bind(filter.target_id)
    .bind(filter.created_gte)
    .bind(filter.created_lt)
    .bind(limit)
    .fetch_all(c)
    .await
}

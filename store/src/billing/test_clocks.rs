//! Sandbox test clocks.

use crate::scoped;
use domain::tenancy::Scope;
use sqlx::{AnyConnection, FromRow};

#[derive(Debug, FromRow)]
pub struct TestClockRow {
    pub id: String,
    pub name: String,
    pub frozen_time: i64,
    pub created_at: i64,
}

pub async fn insert_test_clock(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &TestClockRow,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO test_clocks (tenant_id, env, id, name, frozen_time, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        scope,
    )
    .bind(&r.id)
    .bind(&r.name)
    .bind(r.frozen_time)
    .bind(r.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_test_clock(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<TestClockRow>> {
    scoped::query_as(
        "SELECT id, name, frozen_time, created_at FROM test_clocks
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn list_test_clocks(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<TestClockRow>> {
    scoped::query_as(
        "SELECT id, name, frozen_time, created_at FROM test_clocks WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
        scope,
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn set_frozen_time(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    frozen_time: i64,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE test_clocks SET frozen_time = $4 WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id)
    .bind(frozen_time)
    .execute(c)
    .await
    .map(|_| ())
}

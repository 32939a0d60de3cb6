//! Settings kept as one JSON document per tenant environment, in a table of
//! `(tenant_id, env, settings, updated_at)` (`email_settings`, `portal_settings`).

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::AnyConnection;

use crate::columns::Json;
use crate::scoped;
use domain::tenancy::Scope;

pub async fn get<T: DeserializeOwned + Send + Unpin>(
    c: &mut AnyConnection,
    scope: &Scope,
    table: &'static str,
) -> sqlx::Result<Option<Json<T>>> {
    let sql = format!("SELECT settings FROM {table} WHERE tenant_id = $1 AND env = $2");
    scoped::query_scalar(sqlx::AssertSqlSafe(sql), scope)
        .fetch_optional(c)
        .await
}

pub async fn put<T: Serialize + Clone + Send + Sync + 'static>(
    c: &mut AnyConnection,
    scope: &Scope,
    table: &'static str,
    settings: &T,
    now: i64,
) -> sqlx::Result<()> {
    let sql = format!(
        "INSERT INTO {table} (tenant_id, env, settings, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, env) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at"
    );
    scoped::query(sqlx::AssertSqlSafe(sql), scope)
        .bind(Json(settings.clone()))
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

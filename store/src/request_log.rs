//! SQL of the request log. Writes come from the background task, outside any tenant (one
//! batch holds many tenants' entries); reads run in the caller's scope.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::QueryAs;
use sqlx::{Any, AnyConnection, FromRow};

use crate::{Db, scoped};
use domain::request_log::Entry;
use domain::tenancy::Scope;

const COLUMNS: usize = 10;
/// Rows per INSERT statement: well under both backends' bind-parameter limits.
const ROWS_PER_STATEMENT: usize = 100;

/// Writes `entries` in one transaction, a multi-row INSERT per `ROWS_PER_STATEMENT`.
pub async fn insert(db: &Db, entries: &[Entry]) -> sqlx::Result<()> {
    let mut tx = db.write().await?;
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|r| {
                let params: Vec<String> = (1..=COLUMNS)
                    .map(|c| format!("${}", r * COLUMNS + c))
                    .collect();
                format!("({})", params.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO request_log (id, tenant_id, env, api_key_id, request_id, method, route, status, duration_us, created_at) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            query = query
                .bind(e.id.as_str())
                .bind(e.tenant_id.as_str())
                .bind(e.env)
                .bind(e.api_key_id.as_str())
                .bind(e.request_id.as_str())
                .bind(e.method.as_str())
                .bind(e.route.as_str())
                .bind(i64::from(e.status))
                .bind(e.duration_us)
                .bind(e.created_at);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

#[derive(Debug, FromRow)]
pub struct Row {
    pub id: String,
    pub api_key_id: String,
    pub request_id: String,
    pub method: String,
    pub route: String,
    pub status: i64,
    pub duration_us: i64,
    pub created_at: i64,
}

/// What a list or an analytics query keeps; every part optional.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub api_key_id: Option<&'a str>,
    /// Statuses in `[min, max)`.
    pub status_range: Option<(i64, i64)>,
    pub route: Option<&'a str>,
    pub created_gte: Option<i64>,
    pub created_lt: Option<i64>,
}

/// The filter's conditions, over `$1` to `$9`, bound by `bind_filter`.
const WHERE: &str = "WHERE tenant_id = $1 AND env = $2
     AND ($3 IS NULL OR api_key_id = $3)
     AND ($4 IS NULL OR status >= $4)
     AND ($5 IS NULL OR status < $5)
     AND ($6 IS NULL OR route = $6)
     AND ($7 IS NULL OR created_at >= $7)
     AND ($8 IS NULL OR created_at < $8)
     AND ($9 IS NULL OR id < $9)";

fn bind_filter<'q, O: for<'r> FromRow<'r, AnyRow>>(
    sql: String,
    scope: &'q Scope,
    filter: &'q Filter<'_>,
    after: Option<&'q str>,
) -> QueryAs<'q, Any, O, AnyArguments> {
    scoped::query_as(sqlx::AssertSqlSafe(sql), scope)
        .bind(filter.api_key_id)
        .bind(filter.status_range.map(|r| r.0))
        .bind(filter.status_range.map(|r| r.1))
        .bind(filter.route)
        .bind(filter.created_gte)
        .bind(filter.created_lt)
        .bind(after)
}

/// Newest first, after the cursor.
pub async fn list(
    c: &mut AnyConnection,
    scope: &Scope,
    filter: &Filter<'_>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<Row>> {
    let sql = format!(
        "SELECT id, api_key_id, request_id, method, route, status, duration_us, created_at
         FROM request_log {WHERE} ORDER BY id DESC LIMIT $10"
    );
    bind_filter(sql, scope, filter, after)
        .bind(limit)
        .fetch_all(c)
        .await
}

/// `(created_at, status, duration_us)` of up to `limit` requests in the filter, oldest first.
pub async fn samples(
    c: &mut AnyConnection,
    scope: &Scope,
    filter: &Filter<'_>,
    limit: i64,
) -> sqlx::Result<Vec<(i64, i64, i64)>> {
    let sql = format!(
        "SELECT created_at, status, duration_us FROM request_log {WHERE}
         ORDER BY created_at LIMIT $10"
    );
    bind_filter(sql, scope, filter, None)
        .bind(limit)
        .fetch_all(c)
        .await
}

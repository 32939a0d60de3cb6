//! API keys, and their lookup by hash when a request authenticates.

use crate::scoped;
use domain::ids::ApiKeyId;
use domain::secret;
use domain::tenancy::{Permission, Scope, decode_permissions};
use sqlx::{AnyConnection, AnyExecutor, FromRow};

#[derive(Debug, FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

macro_rules! api_key_columns {
    () => {
        "id, name, prefix, scopes, created_by, created_at, expires_at, revoked_at, last_used_at"
    };
}

pub async fn insert_api_key(
    c: &mut AnyConnection,
    scope: &Scope,
    row: &ApiKeyRow,
    secret_token: &str,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO api_keys (tenant_id, env, id, name, prefix, secret_hash, scopes, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        scope,
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.prefix)
    .bind(secret::hash_token(secret_token))
    .bind(&row.scopes)
    .bind(&row.created_by)
    .bind(row.created_at)
    .bind(row.expires_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn list_api_keys(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<ApiKeyRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        ),
        scope,
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn get_api_key(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &ApiKeyId,
) -> sqlx::Result<Option<ApiKeyRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE tenant_id = $1 AND env = $2 AND id = $3"
        ),
        scope,
    )
    .bind(id.as_str())
    .fetch_optional(c)
    .await
}

pub async fn revoke_api_key(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &ApiKeyId,
    now: i64,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE api_keys SET revoked_at = $4 WHERE tenant_id = $1 AND env = $2 AND id = $3 AND revoked_at IS NULL",
        scope,
    )
    .bind(id.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

/// Replaces the secret; the old one stops working at once.
pub async fn roll_api_key(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &ApiKeyId,
    prefix: &str,
    secret_token: &str,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE api_keys SET prefix = $4, secret_hash = $5, last_used_at = NULL
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id.as_str())
    .bind(prefix)
    .bind(secret::hash_token(secret_token))
    .execute(c)
    .await
    .map(|_| ())
}

/// What authentication needs of a key, with its creator's current role.
#[derive(Debug, FromRow)]
pub struct KeyAuthRow {
    pub id: String,
    pub tenant_id: String,
    pub env: String,
    pub scopes: String,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub role: Option<String>,
    pub custom_permissions: Option<String>,
}

/// Across tenants, by the secret's hash: authentication does not know the tenant yet.
pub async fn find_api_key_by_hash<'c>(
    db: impl AnyExecutor<'c>,
    secret_hash: &str,
) -> sqlx::Result<Option<KeyAuthRow>> {
    sqlx::query_as(
        "SELECT k.id, k.tenant_id, k.env, k.scopes, k.created_by, k.expires_at, k.revoked_at,
                k.last_used_at, m.role, r.permissions AS custom_permissions
         FROM api_keys k
         LEFT JOIN memberships m ON m.tenant_id = k.tenant_id AND m.user_id = k.created_by
              AND m.suspended_at IS NULL
         LEFT JOIN roles r ON r.id = m.role AND r.tenant_id = k.tenant_id
         WHERE k.secret_hash = $1",
    )
    .bind(secret_hash)
    .fetch_optional(db)
    .await
}

pub async fn touch_api_key<'c>(db: impl AnyExecutor<'c>, id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(db)
        .await
        .map(|_| ())
}

/// Parses stored scopes back, ignoring permissions a newer build no longer knows.
pub fn scopes_of(row: &ApiKeyRow) -> Vec<Permission> {
    decode_permissions(&row.scopes).into_iter().collect()
}

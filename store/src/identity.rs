//! Identity storage. Connections and domains are managed inside the tenant's scope; logins
//! read them by id or domain before any tenant is known (the owner connection, like session
//! lookups).

use crate::columns::{Json, Text};
use crate::scoped;
use sqlx::{AnyConnection, AnyExecutor, AssertSqlSafe, FromRow};

use domain::identity::{ConnectionStatus, Kind, RoleMapping};
use domain::tenancy::Scope;

#[derive(Debug, Clone, FromRow)]
pub struct ConnectionRow {
    pub id: String,
    pub tenant_id: String,
    pub env: String,
    pub kind: Text<Kind>,
    pub name: String,
    pub status: Text<ConnectionStatus>,
    /// The kind's settings: `OidcSettings` or the server's `SamlSettings`.
    pub settings: Json<serde_json::Value>,
    pub secret_sealed: String,
    pub default_role: String,
    pub role_mappings: Json<Vec<RoleMapping>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
}

const CONNECTION_COLUMNS: &str = "id, tenant_id, env, kind, name, status, settings, secret_sealed,
    default_role, role_mappings, created_at, updated_at, last_login_at, last_error, last_error_at";

pub async fn insert_connection(c: &mut AnyConnection, r: &ConnectionRow) -> sqlx::Result<()> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO sso_connections ({CONNECTION_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    )))
    .bind(&r.id)
    .bind(&r.tenant_id)
    .bind(&r.env)
    .bind(r.kind)
    .bind(&r.name)
    .bind(r.status)
    .bind(&r.settings)
    .bind(&r.secret_sealed)
    .bind(&r.default_role)
    .bind(&r.role_mappings)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(r.last_login_at)
    .bind(&r.last_error)
    .bind(r.last_error_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// What an update may change; the kind and the organization never do.
pub async fn update_connection(c: &mut AnyConnection, r: &ConnectionRow) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sso_connections SET name = $3, status = $4, settings = $5, secret_sealed = $6,
         default_role = $7, role_mappings = $8, updated_at = $9
         WHERE id = $1 AND tenant_id = $2",
    )
    .bind(&r.id)
    .bind(&r.tenant_id)
    .bind(&r.name)
    .bind(r.status)
    .bind(&r.settings)
    .bind(&r.secret_sealed)
    .bind(&r.default_role)
    .bind(&r.role_mappings)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn list_connections(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<ConnectionRow>> {
    scoped::query_as(
        AssertSqlSafe(format!(
            "SELECT {CONNECTION_COLUMNS} FROM sso_connections WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        )),
        scope,
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn get_connection(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<ConnectionRow>> {
    scoped::query_as(
        AssertSqlSafe(format!(
            "SELECT {CONNECTION_COLUMNS} FROM sso_connections
             WHERE tenant_id = $1 AND env = $2 AND id = $3"
        )),
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

/// A connection by id alone, for a login coming back from its provider.
pub async fn find_connection<'c>(
    db: impl AnyExecutor<'c>,
    id: &str,
) -> sqlx::Result<Option<ConnectionRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {CONNECTION_COLUMNS} FROM sso_connections WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The organization's active connection a login routed by organization or domain uses:
/// live before sandbox, then the oldest.
pub async fn routed_connection<'c>(
    db: impl AnyExecutor<'c>,
    tenant_id: &str,
) -> sqlx::Result<Option<ConnectionRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {CONNECTION_COLUMNS} FROM sso_connections
         WHERE tenant_id = $1 AND status = 'active' ORDER BY env, id LIMIT 1"
    )))
    .bind(tenant_id)
    .fetch_optional(db)
    .await
}

pub async fn delete_connection(c: &mut AnyConnection, scope: &Scope, id: &str) -> sqlx::Result<()> {
    for table in ["sso_login_requests", "saml_assertions"] {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE connection_id = $1"
        )))
        .bind(id)
        .execute(&mut *c)
        .await?;
    }
    scoped::query(
        "DELETE FROM sso_connections WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id)
    .execute(c)
    .await
    .map(|_| ())
}

/// Records the outcome of a login on its connection, for its status page.
pub async fn record_outcome<'c>(
    db: impl AnyExecutor<'c>,
    id: &str,
    error: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    let query = match error {
        Some(e) => sqlx::query(
            "UPDATE sso_connections SET last_error = $2, last_error_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(e)
        .bind(now),
        None => sqlx::query("UPDATE sso_connections SET last_login_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now),
    };
    query.execute(db).await.map(|_| ())
}

// ---------- domains ----------

#[derive(Debug, Clone, FromRow)]
pub struct DomainRow {
    pub id: String,
    pub tenant_id: String,
    pub domain: String,
    pub verification_token: String,
    pub verified_at: Option<i64>,
    pub sso_required: i64,
    pub created_at: i64,
}

const DOMAIN_COLUMNS: &str =
    "id, tenant_id, domain, verification_token, verified_at, sso_required, created_at";

pub async fn insert_domain(c: &mut AnyConnection, r: &DomainRow) -> sqlx::Result<()> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO sso_domains ({DOMAIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )))
    .bind(&r.id)
    .bind(&r.tenant_id)
    .bind(&r.domain)
    .bind(&r.verification_token)
    .bind(r.verified_at)
    .bind(r.sso_required)
    .bind(r.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn list_domains(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<DomainRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DOMAIN_COLUMNS} FROM sso_domains WHERE tenant_id = $1
         AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    )))
    .bind(scope.org_id.as_str())
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn get_domain(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<DomainRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DOMAIN_COLUMNS} FROM sso_domains WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(scope.org_id.as_str())
    .fetch_optional(c)
    .await
}

/// Saves `verified_at` and `sso_required`; verifying a domain another organization has
/// verified fails on the unique index.
pub async fn update_domain(c: &mut AnyConnection, r: &DomainRow) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sso_domains SET verified_at = $3, sso_required = $4 WHERE id = $1 AND tenant_id = $2",
    )
    .bind(&r.id)
    .bind(&r.tenant_id)
    .bind(r.verified_at)
    .bind(r.sso_required)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn delete_domain(c: &mut AnyConnection, scope: &Scope, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sso_domains WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(scope.org_id.as_str())
        .execute(c)
        .await
        .map(|_| ())
}

/// Ends the sessions that a password started (not single sign-on) of the domain's users,
/// but `keep`.
pub async fn revoke_password_sessions(
    c: &mut AnyConnection,
    domain: &str,
    keep: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = $2
         WHERE tenant_id IS NULL AND revoked_at IS NULL AND id <> $3
         AND user_id IN (SELECT id FROM users WHERE email LIKE $1)",
    )
    .bind(format!("%@{domain}"))
    .bind(now)
    .bind(keep.unwrap_or(""))
    .execute(c)
    .await
    .map(|_| ())
}

/// The organization that has verified `domain`, if any.
pub async fn verified_domain<'c>(
    db: impl AnyExecutor<'c>,
    domain: &str,
) -> sqlx::Result<Option<DomainRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DOMAIN_COLUMNS} FROM sso_domains WHERE domain = $1 AND verified_at IS NOT NULL"
    )))
    .bind(domain)
    .fetch_optional(db)
    .await
}

// ---------- logins in flight ----------

#[derive(Debug, Clone, FromRow)]
pub struct LoginRequestRow {
    pub id: String,
    pub connection_id: String,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    pub redirect_to: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert_login_request<'c>(
    db: impl AnyExecutor<'c>,
    r: &LoginRequestRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sso_login_requests
         (id, connection_id, nonce, pkce_verifier, redirect_to, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&r.id)
    .bind(&r.connection_id)
    .bind(&r.nonce)
    .bind(&r.pkce_verifier)
    .bind(&r.redirect_to)
    .bind(r.created_at)
    .bind(r.expires_at)
    .execute(db)
    .await
    .map(|_| ())
}

/// Uses up a pending login: it answers once, and only before it expires.
pub async fn take_login_request<'c>(
    db: impl AnyExecutor<'c>,
    id: &str,
    now: i64,
) -> sqlx::Result<Option<LoginRequestRow>> {
    sqlx::query_as(
        "UPDATE sso_login_requests SET used_at = $2
         WHERE id = $1 AND used_at IS NULL AND expires_at > $2
         RETURNING id, connection_id, nonce, pkce_verifier, redirect_to, created_at, expires_at",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(db)
    .await
}

/// Remembers a SAML assertion until it expires; false when it was seen before (a replay).
pub async fn claim_assertion(
    c: &mut AnyConnection,
    connection_id: &str,
    assertion_id: &str,
    expires_at: i64,
    now: i64,
) -> sqlx::Result<bool> {
    sqlx::query("DELETE FROM saml_assertions WHERE connection_id = $1 AND expires_at < $2")
        .bind(connection_id)
        .bind(now)
        .execute(&mut *c)
        .await?;
    let claimed: Option<(String,)> = sqlx::query_as(
        "INSERT INTO saml_assertions (connection_id, assertion_id, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING assertion_id",
    )
    .bind(connection_id)
    .bind(assertion_id)
    .bind(expires_at)
    .fetch_optional(c)
    .await?;
    Ok(claimed.is_some())
}

//! The customer portal: each scope's settings, and portal sessions (a link that opens once,
//! then a browser session of one customer).

use sqlx::{AnyConnection, FromRow};

use crate::columns::Json;
use crate::scoped;
use domain::billing::portal::PortalSettings;
use domain::tenancy::Scope;

pub async fn get_portal_settings(
    c: &mut AnyConnection,
    scope: &Scope,
) -> sqlx::Result<Option<Json<PortalSettings>>> {
    crate::documents::get(c, scope, "portal_settings").await
}

pub async fn put_portal_settings(
    c: &mut AnyConnection,
    scope: &Scope,
    settings: &PortalSettings,
    now: i64,
) -> sqlx::Result<()> {
    crate::documents::put(c, scope, "portal_settings", settings, now).await
}

#[derive(Debug, Clone, FromRow)]
pub struct PortalSessionRow {
    pub id: String,
    pub tenant_id: String,
    pub env: String,
    pub customer_id: String,
    pub return_url: Option<String>,
    /// SHA-256 of the link's token.
    pub link_hash: String,
    pub link_expires_at: i64,
    /// When the link was opened (it opens once).
    pub opened_at: Option<i64>,
    /// SHA-256 of the browser session's cookie, once opened.
    pub cookie_hash: Option<String>,
    /// The token every form of the session carries.
    pub csrf: Option<String>,
    /// When the browser session ends, once opened.
    pub expires_at: Option<i64>,
    /// Whether the retention offer was shown in this session (it is offered once).
    pub offered_retention: i64,
    pub created_at: i64,
}

const COLUMNS: &str = "id, tenant_id, env, customer_id, return_url, link_hash, link_expires_at, opened_at, cookie_hash, csrf, expires_at, offered_retention, created_at";

pub async fn insert_portal_session(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &PortalSessionRow,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO portal_sessions (tenant_id, env, id, customer_id, return_url, link_hash,
         link_expires_at, offered_retention, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8)",
        scope,
    )
    .bind(&r.id)
    .bind(&r.customer_id)
    .bind(&r.return_url)
    .bind(&r.link_hash)
    .bind(r.link_expires_at)
    .bind(r.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// The session a link opens, whoever's it is: the link is the credential, so this reads
/// across tenants (as an API key lookup does), before any scope is known.
pub async fn find_by_link<'c>(
    db: impl sqlx::AnyExecutor<'c>,
    link_hash: &str,
) -> sqlx::Result<Option<PortalSessionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM portal_sessions WHERE link_hash = $1"
    )))
    .bind(link_hash)
    .fetch_optional(db)
    .await
}

/// The browser session a cookie belongs to, across tenants like `find_by_link`.
pub async fn find_by_cookie<'c>(
    db: impl sqlx::AnyExecutor<'c>,
    cookie_hash: &str,
) -> sqlx::Result<Option<PortalSessionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM portal_sessions WHERE cookie_hash = $1"
    )))
    .bind(cookie_hash)
    .fetch_optional(db)
    .await
}

/// Opens an unopened link: a compare-and-set, so a link opens once even when two browsers
/// race for it. True if this call opened it.
pub async fn open_portal_session(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &PortalSessionRow,
) -> sqlx::Result<bool> {
    let done = scoped::query(
        "UPDATE portal_sessions SET opened_at = $4, cookie_hash = $5, csrf = $6, expires_at = $7
         WHERE tenant_id = $1 AND env = $2 AND id = $3 AND opened_at IS NULL",
        scope,
    )
    .bind(&r.id)
    .bind(r.opened_at)
    .bind(&r.cookie_hash)
    .bind(&r.csrf)
    .bind(r.expires_at)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_retention_offered(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE portal_sessions SET offered_retention = 1 WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id)
    .execute(c)
    .await
    .map(|_| ())
}

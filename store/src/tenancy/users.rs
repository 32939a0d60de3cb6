//! Users and their dashboard sessions.

use domain::ids::UserId;
use domain::secret;
use domain::tenancy::Scope;
use sqlx::{AnyConnection, AnyExecutor, FromRow};

#[derive(Debug, FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub created_at: i64,
}

pub async fn insert_user(c: &mut AnyConnection, row: &UserRow) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&row.id)
        .bind(&row.email)
        .bind(&row.password_hash)
        .bind(row.created_at)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn find_user_by_email<'c>(
    db: impl AnyExecutor<'c>,
    email: &str,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as("SELECT id, email, password_hash, created_at FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(db)
        .await
}

/// A new account without a usable password, for an address nobody has (`identity::link`).
pub async fn insert_provisioned_user(
    c: &mut AnyConnection,
    email: &str,
    now: i64,
) -> sqlx::Result<UserId> {
    let id = UserId::generate();
    let row = UserRow {
        id: id.to_string(),
        email: email.to_owned(),
        password_hash: secret::UNUSABLE_PASSWORD_HASH.to_owned(),
        created_at: now,
    };
    insert_user(c, &row).await?;
    Ok(id)
}

pub async fn find_user<'c>(db: impl AnyExecutor<'c>, id: &UserId) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as("SELECT id, email, password_hash, created_at FROM users WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(db)
        .await
}

#[derive(Debug, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub email: String,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// Set for single sign-on sessions: the one organization and environment they act in.
    pub tenant_id: Option<String>,
    pub env: Option<String>,
}

pub async fn insert_session(
    c: &mut AnyConnection,
    id: &str,
    token: &str,
    user_id: &UserId,
    bound: Option<&Scope>,
    now: i64,
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, tenant_id, env, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(secret::hash_token(token))
    .bind(user_id.as_str())
    .bind(bound.map(|s| s.org_id.as_str()))
    .bind(bound.map(|s| s.env.as_str()))
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn find_session<'c>(
    db: impl AnyExecutor<'c>,
    token: &str,
) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(
        "SELECT s.id, s.user_id, u.email, s.expires_at, s.revoked_at, s.tenant_id, s.env
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
    )
    .bind(secret::hash_token(token))
    .fetch_optional(db)
    .await
}

pub async fn revoke_session<'c>(db: impl AnyExecutor<'c>, id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(db)
        .await
        .map(|_| ())
}

//! Idempotency keys: a claim per (credential scope, key), then the response it got. Keyed by
//! the caller's credential rather than a tenant's scope, so plain statements on the writer.

use sqlx::{AnyExecutor, FromRow};

/// A claimed key, with its response once the request finished.
#[derive(Debug, FromRow)]
pub struct Record {
    pub fingerprint: String,
    pub created_at: i64,
    pub status: Option<i64>,
    pub content_type: Option<String>,
    /// The response body, sealed.
    pub body: Option<String>,
}

/// Claims the key; false when it is claimed already.
pub async fn claim<'c>(
    db: impl AnyExecutor<'c>,
    scope: &str,
    key: &str,
    fingerprint: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(fingerprint)
    .bind(now)
    .execute(db)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub async fn get<'c>(
    db: impl AnyExecutor<'c>,
    scope: &str,
    key: &str,
) -> sqlx::Result<Option<Record>> {
    sqlx::query_as(
        "SELECT fingerprint, created_at, status, content_type, body FROM idempotency_keys
         WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(db)
    .await
}

/// Gives up the claim made at `created_at` (expired or abandoned), unless it was made again.
pub async fn release<'c>(
    db: impl AnyExecutor<'c>,
    scope: &str,
    key: &str,
    created_at: i64,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at = $3")
        .bind(scope)
        .bind(key)
        .bind(created_at)
        .execute(db)
        .await
        .map(|_| ())
}

/// Records the response of the claimed key's request.
pub async fn finish<'c>(
    db: impl AnyExecutor<'c>,
    scope: &str,
    key: &str,
    status: i64,
    content_type: Option<&str>,
    sealed_body: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5
         WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .bind(status)
    .bind(content_type)
    .bind(sealed_body)
    .execute(db)
    .await
    .map(|_| ())
}

/// Forgets the key, so the request may be made again.
pub async fn forget<'c>(db: impl AnyExecutor<'c>, scope: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .execute(db)
        .await
        .map(|_| ())
}

//! Transactional email: each scope's settings and the outbox.

use serde_json::json;
use sqlx::{AnyConnection, FromRow};

use crate::columns::{Json, Text};
use crate::{Column, insert_rows, scoped};
use domain::email::{EmailKind, EmailSettings, EmailStatus};
use domain::tenancy::Scope;

pub async fn get_settings(
    c: &mut AnyConnection,
    scope: &Scope,
) -> sqlx::Result<Option<Json<EmailSettings>>> {
    crate::documents::get(c, scope, "email_settings").await
}

pub async fn put_settings(
    c: &mut AnyConnection,
    scope: &Scope,
    settings: &EmailSettings,
    now: i64,
) -> sqlx::Result<()> {
    crate::documents::put(c, scope, "email_settings", settings, now).await
}

/// An email as rendered: who it is from and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    pub sender_name: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct EmailRow {
    pub id: String,
    pub kind: Text<EmailKind>,
    /// The event it is about.
    pub event_id: String,
    pub customer_id: Option<String>,
    pub recipient: String,
    /// What it says: None until the worker renders it, when it first takes it.
    pub content: Option<Content>,
    pub status: Text<EmailStatus>,
    pub attempts: i64,
    /// When the worker next tries to send it; None once it is settled.
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// The columns a new email has; the worker fills in the rest (`set_content`).
const NEW: [Column; 11] = [
    Column::Text("id"),
    Column::Text("kind"),
    Column::Text("event_id"),
    Column::Text("customer_id"),
    Column::Text("recipient"),
    Column::Text("status"),
    Column::Int("attempts"),
    Column::Int("next_attempt_at"),
    Column::Text("last_error"),
    Column::Int("created_at"),
    Column::Int("sent_at"),
];

impl<'r> FromRow<'r, sqlx::any::AnyRow> for EmailRow {
    fn from_row(row: &'r sqlx::any::AnyRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        let subject: Option<String> = row.try_get("subject")?;
        let content = match subject {
            Some(subject) => Some(Content {
                sender_name: row
                    .try_get::<Option<String>, _>("sender_name")?
                    .unwrap_or_default(),
                reply_to: row.try_get("reply_to")?,
                subject,
                html: row
                    .try_get::<Option<String>, _>("html")?
                    .unwrap_or_default(),
                text: row
                    .try_get::<Option<String>, _>("text")?
                    .unwrap_or_default(),
            }),
            None => None,
        };
        Ok(EmailRow {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            event_id: row.try_get("event_id")?,
            customer_id: row.try_get("customer_id")?,
            recipient: row.try_get("recipient")?,
            content,
            status: row.try_get("status")?,
            attempts: row.try_get("attempts")?,
            next_attempt_at: row.try_get("next_attempt_at")?,
            last_error: row.try_get("last_error")?,
            created_at: row.try_get("created_at")?,
            sent_at: row.try_get("sent_at")?,
        })
    }
}

static SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {}, sender_name, reply_to, subject, html, text FROM emails",
        crate::column_list(&NEW)
    )
});

/// Writes new emails into the outbox, in the caller's transaction; their content is not
/// written (the worker renders it).
pub async fn insert_emails(
    c: &mut AnyConnection,
    scope: &Scope,
    emails: &[EmailRow],
) -> sqlx::Result<()> {
    let rows = emails
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "kind": domain::serde_name(*e.kind), "event_id": e.event_id,
                "customer_id": e.customer_id, "recipient": e.recipient,
                "status": domain::serde_name(*e.status), "attempts": e.attempts,
                "next_attempt_at": e.next_attempt_at, "last_error": e.last_error,
                "created_at": e.created_at, "sent_at": e.sent_at,
            })
        })
        .collect();
    insert_rows(c, scope, "emails", &NEW, rows).await
}

pub async fn get_email(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<EmailRow>> {
    scoped::query_as(
        sqlx::AssertSqlSafe(format!(
            "{} WHERE tenant_id = $1 AND env = $2 AND id = $3",
            *SELECT
        )),
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

/// Newest first, before the `before` id if given, of one customer if given.
pub async fn list_emails(
    c: &mut AnyConnection,
    scope: &Scope,
    customer: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<EmailRow>> {
    scoped::query_as(
        sqlx::AssertSqlSafe(format!(
            "{} WHERE tenant_id = $1 AND env = $2 AND ($3 IS NULL OR customer_id = $3)
             AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
            *SELECT
        )),
        scope,
    )
    .bind(customer)
    .bind(before)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Emails of every tenant due to be sent at `now`, oldest first: `(tenant, env, id, due)`.
pub async fn due_emails<'c>(
    db: impl sqlx::AnyExecutor<'c>,
    now: i64,
    limit: i64,
) -> sqlx::Result<Vec<(String, String, String, i64)>> {
    sqlx::query_as(
        "SELECT tenant_id, env, id, next_attempt_at FROM emails
         WHERE next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Claims a due email by moving its `next_attempt_at` from `seen` to `lease_until` and
/// counting the attempt: a compare-and-set, so of two workers racing for it one wins, and one
/// that dies mid-send leaves it to be retried when the lease ends. Returns the email if won.
pub async fn claim_email(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    seen: i64,
    lease_until: i64,
) -> sqlx::Result<Option<EmailRow>> {
    let done = scoped::query(
        "UPDATE emails SET next_attempt_at = $5, attempts = attempts + 1
         WHERE tenant_id = $1 AND env = $2 AND id = $3 AND next_attempt_at = $4",
        scope,
    )
    .bind(id)
    .bind(seen)
    .bind(lease_until)
    .execute(&mut *c)
    .await?;
    match done.rows_affected() {
        1 => get_email(c, scope, id).await,
        _ => Ok(None),
    }
}

/// Stores what a claimed email says, rendered by the worker.
pub async fn set_content(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    content: &Content,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE emails SET sender_name = $4, reply_to = $5, subject = $6, html = $7, text = $8
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id)
    .bind(&content.sender_name)
    .bind(&content.reply_to)
    .bind(&content.subject)
    .bind(&content.html)
    .bind(&content.text)
    .execute(c)
    .await
    .map(|_| ())
}

/// Records what an attempt did: settled (`next_attempt_at` None) or to be retried.
pub async fn record_attempt(
    c: &mut AnyConnection,
    scope: &Scope,
    e: &EmailRow,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE emails SET status = $4, next_attempt_at = $5, last_error = $6, sent_at = $7
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(&e.id)
    .bind(e.status)
    .bind(e.next_attempt_at)
    .bind(&e.last_error)
    .bind(e.sent_at)
    .execute(c)
    .await
    .map(|_| ())
}

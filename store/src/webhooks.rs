//! Webhook storage: endpoints, the event outbox, deliveries and attempts. Portable SQL; every
//! query filters on `tenant_id` and `env`, except `due_deliveries`, which finds work across
//! tenants for the delivery worker (keys only; each is then handled in its own scope).

use crate::columns::{Json, Text};
use crate::{Column, insert_rows, scoped};
use serde_json::json;
use sqlx::{AnyConnection, FromRow};

use domain::ids::WebhookDeliveryId;
use domain::ids::{EventId, WebhookEndpointId};
use domain::tenancy::Env;
use domain::tenancy::Scope;
use domain::webhooks::views::{Event, WebhookEndpoint};
use domain::webhooks::{DeliveryStatus, EndpointStatus, mask_secret};

#[derive(Debug, Clone, FromRow)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    /// Event types and patterns.
    pub enabled_events: Json<Vec<String>>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub status: Text<EndpointStatus>,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! endpoint_columns {
    () => {
        "id, url, description, enabled_events, secret, previous_secret, previous_secret_expires_at, status, disabled_reason, failing_since, created_at, updated_at"
    };
}

pub async fn insert_endpoint(
    c: &mut AnyConnection,
    scope: &Scope,
    e: &EndpointRow,
) -> sqlx::Result<()> {
    scoped::query(
        concat!(
            "INSERT INTO webhook_endpoints (tenant_id, env, ",
            endpoint_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ),
        scope,
    )
    .bind(&e.id)
    .bind(&e.url)
    .bind(e.description.as_deref())
    .bind(&e.enabled_events)
    .bind(&e.secret)
    .bind(e.previous_secret.as_deref())
    .bind(e.previous_secret_expires_at)
    .bind(e.status)
    .bind(e.disabled_reason.as_deref())
    .bind(e.failing_since)
    .bind(e.created_at)
    .bind(e.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// Writes every mutable column of the endpoint.
pub async fn update_endpoint(
    c: &mut AnyConnection,
    scope: &Scope,
    e: &EndpointRow,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE webhook_endpoints SET url = $4, description = $5, enabled_events = $6, secret = $7,
         previous_secret = $8, previous_secret_expires_at = $9, status = $10, disabled_reason = $11,
         failing_since = $12, updated_at = $13
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(&e.id)
    .bind(&e.url)
    .bind(e.description.as_deref())
    .bind(&e.enabled_events)
    .bind(&e.secret)
    .bind(e.previous_secret.as_deref())
    .bind(e.previous_secret_expires_at)
    .bind(e.status)
    .bind(e.disabled_reason.as_deref())
    .bind(e.failing_since)
    .bind(e.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_endpoint(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<EndpointRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints WHERE tenant_id = $1 AND env = $2 AND id = $3"
        ),
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

/// The endpoint, locked until the transaction ends, so concurrent attempts update its
/// health one after the other.
pub async fn lock_endpoint(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<EndpointRow>> {
    let sql = format!(
        concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints WHERE tenant_id = $1 AND env = $2 AND id = $3{}"
        ),
        crate::lock_clause(c, crate::Claim::Wait)
    );
    scoped::query_as(sqlx::AssertSqlSafe(sql), scope)
        .bind(id)
        .fetch_optional(c)
        .await
}

/// Newest first.
pub async fn list_endpoints(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<EndpointRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            endpoint_columns!(),
            " FROM webhook_endpoints WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        ),
        scope,
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// `(id, enabled_events)` of the scope's enabled endpoints.
pub async fn enabled_endpoints(
    c: &mut AnyConnection,
    scope: &Scope,
) -> sqlx::Result<Vec<(String, Json<Vec<String>>)>> {
    scoped::query_as(
        "SELECT id, enabled_events FROM webhook_endpoints
         WHERE tenant_id = $1 AND env = $2 AND status = 'enabled' ORDER BY id",
        scope,
    )
    .fetch_all(c)
    .await
}

/// Deletes the endpoint with its deliveries and attempts; false when there was none.
pub async fn delete_endpoint(c: &mut AnyConnection, scope: &Scope, id: &str) -> sqlx::Result<bool> {
    for sql in [
        "DELETE FROM webhook_attempts WHERE tenant_id = $1 AND env = $2 AND endpoint_id = $3",
        "DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND env = $2 AND endpoint_id = $3",
    ] {
        scoped::query(sql, scope).bind(id).execute(&mut *c).await?;
    }
    let done = scoped::query(
        "DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() > 0)
}

#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub id: String,
    pub event_type: String,
    /// The object the event is about, as the API showed it.
    pub data: Json<serde_json::Value>,
    pub created_at: i64,
}

pub async fn insert_events(
    c: &mut AnyConnection,
    scope: &Scope,
    events: &[EventRow],
) -> sqlx::Result<()> {
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        rows.push(
            json!({"id": e.id, "type": e.event_type, "data": e.data.text()?,
                         "created_at": e.created_at}),
        );
    }
    let columns = [
        Column::Text("id"),
        Column::Text("type"),
        Column::Text("data"),
        Column::Int("created_at"),
    ];
    insert_rows(c, scope, "events", &columns, rows).await
}

pub async fn get_event(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<EventRow>> {
    scoped::query_as(
        "SELECT id, type AS event_type, data, created_at FROM events
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

/// Newest first, optionally of one type.
pub async fn list_events(
    c: &mut AnyConnection,
    scope: &Scope,
    event_type: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    scoped::query_as(
        "SELECT id, type AS event_type, data, created_at FROM events
         WHERE tenant_id = $1 AND env = $2 AND ($3 IS NULL OR type = $3)
         AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
        scope,
    )
    .bind(event_type)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// A pending delivery of `event_id` to `endpoint_id`, due at `due`.
/// A delivery to make: `(id, event_id, endpoint_id)`.
pub type NewDelivery = (WebhookDeliveryId, String, String);

/// Pending deliveries, due at `due`.
pub async fn insert_deliveries(
    c: &mut AnyConnection,
    scope: &Scope,
    deliveries: &[NewDelivery],
    due: i64,
) -> sqlx::Result<()> {
    let rows = deliveries
        .iter()
        .map(|(id, event, endpoint)| {
            json!({"id": id.as_str(), "event_id": event, "endpoint_id": endpoint,
                   "status": "pending", "attempts": 0, "next_attempt_at": due, "created_at": due})
        })
        .collect();
    let columns = [
        Column::Text("id"),
        Column::Text("event_id"),
        Column::Text("endpoint_id"),
        Column::Text("status"),
        Column::Int("attempts"),
        Column::Int("next_attempt_at"),
        Column::Int("created_at"),
    ];
    insert_rows(c, scope, "webhook_deliveries", &columns, rows).await
}

/// Deliveries of every tenant due by `now`: `(tenant_id, env, id, next_attempt_at)`, the
/// last being what `claim_delivery` compares against.
pub async fn due_deliveries<'c>(
    db: impl sqlx::AnyExecutor<'c>,
    now: i64,
    limit: i64,
) -> sqlx::Result<Vec<(String, String, String, i64)>> {
    sqlx::query_as(
        "SELECT tenant_id, env, id, next_attempt_at FROM webhook_deliveries
         WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Claims a due delivery by moving its `next_attempt_at` from `seen` to `lease_until`: a
/// compare-and-set, so of two workers racing for it exactly one wins (true), on either
/// backend, without holding a lock across the HTTP request.
pub async fn claim_delivery(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    seen: i64,
    lease_until: i64,
) -> sqlx::Result<bool> {
    let done = scoped::query(
        "UPDATE webhook_deliveries SET next_attempt_at = $5
         WHERE tenant_id = $1 AND env = $2 AND id = $3 AND status = 'pending' AND next_attempt_at = $4",
        scope,
    )
    .bind(id)
    .bind(seen)
    .bind(lease_until)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What sending a delivery needs: its event and its endpoint.
#[derive(Debug, FromRow)]
pub struct Target {
    pub attempts: i64,
    pub event_id: String,
    pub event_type: String,
    pub data: Json<serde_json::Value>,
    pub event_created_at: i64,
    pub endpoint_id: String,
    pub url: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub endpoint_status: Text<EndpointStatus>,
}

pub async fn delivery_target(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<Target>> {
    scoped::query_as(
        "SELECT d.attempts, ev.id AS event_id, ev.type AS event_type, ev.data, ev.created_at AS event_created_at,
                e.id AS endpoint_id, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at,
                e.status AS endpoint_status
         FROM webhook_deliveries d
         JOIN events ev ON ev.id = d.event_id
         JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.tenant_id = $1 AND d.env = $2 AND d.id = $3
           AND ev.tenant_id = $1 AND ev.env = $2 AND e.tenant_id = $1 AND e.env = $2",
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

/// The outcome of one attempt, as written to the delivery.
pub struct Outcome<'a> {
    /// `pending` (a retry is scheduled at `next_attempt_at`), `succeeded` or `failed`.
    pub status: Text<DeliveryStatus>,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub error: Option<&'a str>,
}

/// Records an attempt's outcome on a delivery; false when the delivery is gone (its endpoint
/// was deleted meanwhile).
pub async fn finish_delivery(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    o: &Outcome<'_>,
) -> sqlx::Result<bool> {
    let done = scoped::query(
        "UPDATE webhook_deliveries SET status = $4, attempts = $5, next_attempt_at = $6,
         last_attempt_at = $7, last_status_code = $8, last_error = $9
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id)
    .bind(o.status)
    .bind(o.attempts)
    .bind(o.next_attempt_at)
    .bind(o.attempted_at)
    .bind(o.status_code)
    .bind(o.error)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives up the endpoint's pending deliveries (it was disabled).
pub async fn fail_pending(
    c: &mut AnyConnection,
    scope: &Scope,
    endpoint_id: &str,
    reason: &str,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = $4
         WHERE tenant_id = $1 AND env = $2 AND endpoint_id = $3 AND status = 'pending'",
        scope,
    )
    .bind(endpoint_id)
    .bind(reason)
    .execute(c)
    .await
    .map(|_| ())
}

#[derive(Debug, FromRow)]
pub struct AttemptRow {
    pub id: String,
    pub delivery_id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub attempted_at: i64,
    pub succeeded: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub response_body: Option<String>,
}

pub async fn insert_attempt(
    c: &mut AnyConnection,
    scope: &Scope,
    a: &AttemptRow,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO webhook_attempts (tenant_id, env, id, delivery_id, endpoint_id, event_id, attempted_at, succeeded, status_code, error, duration_ms, response_body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        scope,
    )
    .bind(&a.id)
    .bind(&a.delivery_id)
    .bind(&a.endpoint_id)
    .bind(&a.event_id)
    .bind(a.attempted_at)
    .bind(a.succeeded)
    .bind(a.status_code)
    .bind(a.error.as_deref())
    .bind(a.duration_ms)
    .bind(a.response_body.as_deref())
    .execute(c)
    .await
    .map(|_| ())
}

/// An endpoint's attempts, newest first, optionally for one event.
pub async fn list_attempts(
    c: &mut AnyConnection,
    scope: &Scope,
    endpoint_id: &str,
    event_id: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<AttemptRow>> {
    scoped::query_as(
        "SELECT id, delivery_id, endpoint_id, event_id, attempted_at, succeeded, status_code, error, duration_ms, response_body
         FROM webhook_attempts WHERE tenant_id = $1 AND env = $2 AND endpoint_id = $3
         AND ($4 IS NULL OR event_id = $4) AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
        scope,
    )
    .bind(endpoint_id)
    .bind(event_id)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

impl EndpointRow {
    /// The API form of the endpoint, in `env`; `reveal` shows the secret in full.
    pub fn shown(self, env: Env, reveal: bool) -> WebhookEndpoint {
        WebhookEndpoint {
            enabled_events: self.enabled_events.0,
            status: *self.status,
            secret: if reveal {
                self.secret
            } else {
                mask_secret(&self.secret)
            },
            livemode: env == Env::Live,
            id: WebhookEndpointId::from_db(self.id),
            url: self.url,
            description: self.description,
            disabled_reason: self.disabled_reason,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

impl EventRow {
    /// The API form of the event, in `env`.
    pub fn shown(self, env: Env) -> Event {
        Event {
            data: self.data.0,
            id: EventId::from_db(self.id),
            r#type: self.event_type,
            created_at: self.created_at,
            livemode: env == Env::Live,
        }
    }
}

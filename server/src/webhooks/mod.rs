//! Outbound webhooks: events written to a durable outbox in the same transaction as the change
//! they report (`emit`), delivered to the tenant's endpoints by a worker (`delivery`), signed
//! the Standard Webhooks way (`sign`), retried with backoff over about two days.
//!
//! Invariants:
//! - An event exists exactly when the change it reports was committed: `emit` only writes rows
//!   in the caller's transaction, and nothing is sent until a worker reads them back.
//! - No database transaction is open while a webhook is sent: a delivery is claimed (a short
//!   transaction), sent, and its outcome recorded in another transaction.
//! - Only this module knows about endpoints and deliveries; other domains call `emit`.

pub mod api;
pub mod delivery;

use serde::Serialize;
use sqlx::AnyConnection;

use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;
use domain::ids::{EventId, WebhookDeliveryId};

pub use domain::webhooks::EVENT_TYPES;

/// Records an event in the outbox, with one pending delivery per enabled endpoint of the scope
/// whose `enabled_events` match it. Call it inside the transaction that makes the change: the
/// event is then durable exactly when the change is. `data` is the object the event is about,
/// as the API shows it. Returns the event id.
pub async fn emit(
    tx: &mut AnyConnection,
    scope: &Scope,
    event_type: &str,
    data: &impl Serialize,
    now: i64,
) -> ApiResult<String> {
    let data = serde_json::to_value(data).map_err(|e| ApiError::Internal(e.into()))?;
    let mut ids = emit_all(tx, scope, &[(event_type, data)], now).await?;
    ids.pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no event id")))
}

/// `emit` for many events at once, `(type, data)` in order: the endpoints are read
/// once and the rows written with a few multi-row statements. Returns the event ids.
pub async fn emit_all(
    tx: &mut AnyConnection,
    scope: &Scope,
    events: &[(&str, serde_json::Value)],
    now: i64,
) -> ApiResult<Vec<String>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = Vec::with_capacity(events.len());
    for (event_type, data) in events {
        if !EVENT_TYPES.contains(event_type) {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "unknown event type {event_type:?}: add it to webhooks::EVENT_TYPES"
            )));
        }
        rows.push(store::webhooks::EventRow {
            id: EventId::generate().to_string(),
            event_type: (*event_type).to_owned(),
            data: data.clone().into(),
            created_at: now,
        });
    }
    store::webhooks::insert_events(tx, scope, &rows).await?;
    // The emails they send to customers, in the same transaction.
    crate::email::enqueue(tx, scope, &rows, now).await?;
    let mut deliveries = Vec::new();
    for (endpoint, filters) in store::webhooks::enabled_endpoints(tx, scope).await? {
        for event in rows
            .iter()
            .filter(|e| domain::webhooks::matches(&filters, &e.event_type))
        {
            deliveries.push((
                WebhookDeliveryId::generate(),
                event.id.clone(),
                endpoint.clone(),
            ));
        }
    }
    store::webhooks::insert_deliveries(tx, scope, &deliveries, now).await?;
    Ok(rows.into_iter().map(|e| e.id).collect())
}

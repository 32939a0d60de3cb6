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
pub mod model;
pub mod sign;
pub mod store;

use serde::Serialize;
use sqlx::AnyConnection;

use crate::http::error::{ApiError, ApiResult};
use crate::ids::{EventId, WebhookDeliveryId};
use crate::tenancy::Scope;

pub use model::EVENT_TYPES;

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
    if !EVENT_TYPES.contains(&event_type) {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "unknown event type {event_type:?}: add it to webhooks::EVENT_TYPES"
        )));
    }
    let data = serde_json::to_string(data).map_err(|e| ApiError::Internal(e.into()))?;
    let event = store::EventRow {
        id: EventId::generate().to_string(),
        event_type: event_type.to_owned(),
        data,
        created_at: now,
    };
    store::insert_event(tx, scope, &event).await?;
    for (endpoint, filters) in store::enabled_endpoints(tx, scope).await? {
        let filters: Vec<String> = serde_json::from_str(&filters).map_err(|e| {
            ApiError::Internal(anyhow::anyhow!("unreadable enabled_events column: {e}"))
        })?;
        if model::matches(&filters, event_type) {
            let id = WebhookDeliveryId::generate();
            store::insert_delivery(tx, scope, id.as_str(), &event.id, &endpoint, now).await?;
        }
    }
    Ok(event.id)
}

//! Billing: the catalog (products, prices), customers, subscriptions, invoices and their
//! collection, on the server clock or a sandbox test clock.

pub mod amount;
pub mod api;
pub mod collection;
pub mod discounts;
pub mod html;
pub mod invoicing;
mod model;
pub mod payments;
pub mod proration;
pub mod schedule;
pub mod scheduler;
pub mod store;
pub mod stripe;
pub mod subscriptions;

pub use model::*;
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::audit::{self, ActorRef};
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;

/// Reads a JSON column the server itself wrote.
pub(crate) fn stored<T: DeserializeOwned>(column: &str, json: &str) -> Result<T, ApiError> {
    serde_json::from_str(json)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("unreadable {column} column: {e}")))
}

pub(crate) fn to_json(value: &impl serde::Serialize) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::Internal(e.into()))
}

/// A unit-variant enum as the text stored in its column: its serde name (`mark_unpaid`).
pub(crate) fn enum_text(value: impl serde::Serialize) -> Result<String, ApiError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(ApiError::Internal(anyhow::anyhow!(
            "not a unit-variant enum"
        ))),
    }
}

/// Reads back a column written by `enum_text`.
pub(crate) fn from_enum_text<T: DeserializeOwned>(column: &str, text: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("unreadable {column} column: {e}")))
}

/// A billing object that events are about, and how the API shows it.
pub trait Subject {
    const KIND: &'static str;
    fn id(&self) -> &str;
    fn api_json(&self) -> ApiResult<serde_json::Value>;
}

impl Subject for store::CustomerRow {
    const KIND: &'static str = "customer";
    fn id(&self) -> &str {
        &self.id
    }
    fn api_json(&self) -> ApiResult<serde_json::Value> {
        json(api::customers::Customer::from_row(self.clone())?)
    }
}

impl Subject for store::CreditNoteRow {
    const KIND: &'static str = "credit_note";
    fn id(&self) -> &str {
        &self.id
    }
    fn api_json(&self) -> ApiResult<serde_json::Value> {
        json(api::credit_notes::CreditNote::from_row(self.clone())?)
    }
}

impl Subject for store::InvoiceRow {
    const KIND: &'static str = "invoice";
    fn id(&self) -> &str {
        &self.id
    }
    fn api_json(&self) -> ApiResult<serde_json::Value> {
        json(api::invoices::Invoice::from_row(self.clone())?)
    }
}

impl Subject for store::SubscriptionRow {
    const KIND: &'static str = "subscription";
    fn id(&self) -> &str {
        &self.id
    }
    fn api_json(&self) -> ApiResult<serde_json::Value> {
        json(api::subscriptions::Subscription::from_row(self.clone())?)
    }
}

fn json(value: impl serde::Serialize) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.into()))
}

/// Records that `event` happened to `subject`, in the caller's transaction: in the audit
/// log, and in the webhook outbox with the subject as the API shows it.
pub async fn notify<S: Subject>(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    actor: &ActorRef<'_>,
    event: &str,
    subject: &S,
) -> ApiResult<()> {
    let mut notices = Notices::default();
    notices.add(event, subject)?;
    notices.write(tx, state, scope, actor).await
}

/// Events of one transaction gathered to be written together (`write`): a batch's events
/// then cost a few multi-row statements, not three each.
#[derive(Default)]
pub struct Notices {
    items: Vec<Notice>,
}

struct Notice {
    event: String,
    kind: &'static str,
    id: String,
    /// The subject as the API shows it, when the event happened.
    data: String,
}

impl Notices {
    /// Adds that `event` happened to `subject`, as it is now.
    pub fn add<S: Subject>(&mut self, event: &str, subject: &S) -> ApiResult<()> {
        self.items.push(Notice {
            event: event.to_owned(),
            kind: S::KIND,
            id: subject.id().to_owned(),
            data: to_json(&subject.api_json()?)?,
        });
        Ok(())
    }

    /// Writes the events, in order, in the audit log and the webhook outbox, in the caller's
    /// transaction.
    pub async fn write(
        self,
        tx: &mut sqlx::AnyConnection,
        state: &AppState,
        scope: &Scope,
        actor: &ActorRef<'_>,
    ) -> ApiResult<()> {
        let now = state.clock.now_ms();
        let audited: Vec<(&str, (&str, &str))> = self
            .items
            .iter()
            .map(|n| (n.event.as_str(), (n.kind, n.id.as_str())))
            .collect();
        audit::record_all(tx, scope, *actor, &audited, now).await?;
        let events: Vec<(&str, String)> = self
            .items
            .iter()
            .map(|n| (n.event.as_str(), n.data.clone()))
            .collect();
        crate::webhooks::emit_all(tx, scope, &events, now).await?;
        Ok(())
    }
}

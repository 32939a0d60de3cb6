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
    audit::record(
        tx,
        scope,
        *actor,
        event,
        (S::KIND, subject.id()),
        state.clock.now_ms(),
    )
    .await?;
    crate::webhooks::emit(tx, scope, event, &subject.api_json()?, state.clock.now_ms()).await?;
    Ok(())
}

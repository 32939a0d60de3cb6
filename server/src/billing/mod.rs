//! Billing: the catalog (products, prices), customers, subscriptions, invoices and their
//! collection, on the server clock or a sandbox test clock.

pub mod api;
pub mod changes;
pub mod checkout;
pub mod collection;
pub mod html;
pub mod invoicing;
pub mod pages;
pub mod payments;
pub mod pdf;
pub mod portal;
pub mod redemption;
pub mod scheduler;
pub mod stripe;
pub mod subscriptions;

pub use domain::billing::*;

use crate::analytics::Changed;
use crate::audit::{self, ActorRef};
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;
use domain::clock::Clock;

/// A billing object that events are about, and how the API shows it.
pub trait Subject {
    const KIND: &'static str;
    fn id(&self) -> &str;
    fn api_json(&self) -> ApiResult<serde_json::Value>;
}

impl Subject for store::billing::CustomerRow {
    const KIND: &'static str = "customer";
    fn id(&self) -> &str {
        &self.id
    }
    fn api_json(&self) -> ApiResult<serde_json::Value> {
        json(views::Customer::from(self.clone()))
    }
}

impl Subject for store::billing::CreditNoteRow {
    const KIND: &'static str = "credit_note";
    fn id(&self) -> &str {
        &self.id
    }
    fn api_json(&self) -> ApiResult<serde_json::Value> {
        json(views::CreditNote::from(self.clone()))
    }
}

impl Subject for store::billing::InvoiceRow {
    const KIND: &'static str = "invoice";
    fn id(&self) -> &str {
        &self.id
    }
    fn api_json(&self) -> ApiResult<serde_json::Value> {
        json(views::Invoice::from(self.clone()))
    }
}

impl Subject for store::billing::SubscriptionRow {
    const KIND: &'static str = "subscription";
    fn id(&self) -> &str {
        &self.id
    }
    fn api_json(&self) -> ApiResult<serde_json::Value> {
        json(views::Subscription::from(self.clone()))
    }
}

fn json(value: impl serde::Serialize) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.into()))
}

/// Records that `event` happened to `subject`, in the caller's transaction: in the audit
/// log, and in the webhook outbox with the subject as the API shows it.
pub async fn notify<S: Subject>(
    tx: &mut sqlx::AnyConnection,
    clock: &Clock,
    scope: &Scope,
    actor: &ActorRef<'_>,
    event: &str,
    subject: &S,
) -> ApiResult<()> {
    let mut notices = Notices::default();
    notices.add(event, subject)?;
    notices.write(tx, clock, scope, actor).await
}

/// Events of one transaction gathered to be written together (`write`): a batch's events
/// then cost a few multi-row statements, not three each. Subscription events also record
/// their customers' MRR (`analytics::record`).
#[derive(Default)]
pub struct Notices {
    items: Vec<Notice>,
}

struct Notice {
    event: String,
    kind: &'static str,
    id: String,
    /// The subject as the API shows it, when the event happened.
    data: serde_json::Value,
}

impl Notices {
    /// Adds that `event` happened to `subject`, as it is now.
    pub fn add<S: Subject>(&mut self, event: &str, subject: &S) -> ApiResult<()> {
        self.items.push(Notice {
            event: event.to_owned(),
            kind: S::KIND,
            id: subject.id().to_owned(),
            data: subject.api_json()?,
        });
        Ok(())
    }

    /// Writes the events, in order, in the audit log and the webhook outbox, in the caller's
    /// transaction.
    pub async fn write(
        self,
        tx: &mut sqlx::AnyConnection,
        clock: &Clock,
        scope: &Scope,
        actor: &ActorRef<'_>,
    ) -> ApiResult<()> {
        let now = clock.now_ms();
        let audited: Vec<(&str, (&str, &str))> = self
            .items
            .iter()
            .map(|n| (n.event.as_str(), (n.kind, n.id.as_str())))
            .collect();
        audit::record_all(tx, scope, *actor, &audited, now).await?;
        let events: Vec<(&str, serde_json::Value)> = self
            .items
            .iter()
            .map(|n| (n.event.as_str(), n.data.clone()))
            .collect();
        crate::webhooks::emit_all(tx, scope, &events, now).await?;
        let changed: Vec<Changed<'_>> = self
            .items
            .iter()
            .filter(|n| n.kind == "subscription")
            .filter_map(|n| {
                Some(Changed {
                    customer: n.data["customer"].as_str()?,
                    subscription: &n.id,
                    cause: &n.event,
                })
            })
            .collect();
        crate::analytics::record(tx, clock, scope, &changed).await
    }
}

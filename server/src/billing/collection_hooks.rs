//! What a payment provider's notifications do to invoices. PLACEHOLDER on the `stripe`
//! branch: the lead's collection flow (main) replaces the bodies at merge and keeps these
//! signatures, which the Stripe webhook handler (`billing::api::stripe_webhooks`) calls inside
//! the transaction that records the event, so an event's effects and its dedupe row commit
//! together.
//!
//! Contract the webhook relies on (whatever the final bodies do):
//! - each call is idempotent and never regresses: a paid invoice stays paid whatever arrives
//!   after (`payment_failed` on a paid invoice does nothing);
//! - an unknown invoice is `Err(ApiError::NotFound("invoice"))`, which the webhook
//!   acknowledges without effect (an event about another system's PaymentIntent);
//! - other errors roll the event back, so Stripe delivers it again.

use sqlx::AnyConnection;

use super::store as db;
use crate::audit::{self, ActorRef};
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;

const STRIPE: ActorRef<'static> = ActorRef {
    kind: "system",
    id: "stripe_webhook",
    ip: None,
};

/// The provider collected the invoice (`reference`: its payment id, `pi_…`). Open (or
/// uncollectible) becomes paid; paid stays paid; void is left alone.
pub async fn payment_succeeded(
    tx: &mut AnyConnection,
    scope: &Scope,
    invoice_id: &str,
    reference: &str,
    now: i64,
) -> ApiResult<()> {
    let mut invoice = db::get_invoice(tx, scope, invoice_id)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    if !matches!(invoice.status.as_str(), "open" | "uncollectible") {
        tracing::info!(invoice = invoice_id, status = %invoice.status, reference, "payment for an invoice that is not open: no change");
        return Ok(());
    }
    invoice.status = "paid".into();
    invoice.paid_at = Some(now);
    invoice.payment_error = None;
    db::set_invoice_status(tx, scope, &invoice).await?;
    audit::record(
        tx,
        scope,
        STRIPE,
        "invoice.paid",
        ("invoice", invoice_id),
        now,
    )
    .await?;
    Ok(())
}

/// A collection attempt failed with `code` (Stripe's decline code). Only an open invoice
/// records it.
pub async fn payment_failed(
    tx: &mut AnyConnection,
    scope: &Scope,
    invoice_id: &str,
    code: &str,
    now: i64,
) -> ApiResult<()> {
    let mut invoice = db::get_invoice(tx, scope, invoice_id)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    if invoice.status != "open" || invoice.payment_error.as_deref() == Some(code) {
        return Ok(());
    }
    invoice.payment_error = Some(code.to_owned());
    db::set_invoice_status(tx, scope, &invoice).await?;
    audit::record(
        tx,
        scope,
        STRIPE,
        "invoice.payment_failed",
        ("invoice", invoice_id),
        now,
    )
    .await?;
    Ok(())
}

/// `amount` (minor units, cumulative as Stripe reports it) of the invoice's payment was
/// refunded. The placeholder only audits it.
pub async fn refunded(
    tx: &mut AnyConnection,
    scope: &Scope,
    invoice_id: &str,
    amount: i64,
    now: i64,
) -> ApiResult<()> {
    db::get_invoice(tx, scope, invoice_id)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    tracing::info!(invoice = invoice_id, amount, "invoice payment refunded");
    audit::record(
        tx,
        scope,
        STRIPE,
        "invoice.refunded",
        ("invoice", invoice_id),
        now,
    )
    .await?;
    Ok(())
}

/// The customer disputed the invoice's payment. The placeholder only audits it.
pub async fn disputed(
    tx: &mut AnyConnection,
    scope: &Scope,
    invoice_id: &str,
    now: i64,
) -> ApiResult<()> {
    db::get_invoice(tx, scope, invoice_id)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    audit::record(
        tx,
        scope,
        STRIPE,
        "invoice.disputed",
        ("invoice", invoice_id),
        now,
    )
    .await?;
    Ok(())
}

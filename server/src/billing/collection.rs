//! Collecting invoices, and dunning when a payment fails.
//!
//! The scheduler (or a test clock) acts on an invoice when its `due_at` comes: a draft is
//! finalized, then payment of the amount due is attempted on the customer's default payment
//! method. The attempt runs outside any transaction (a provider is a network call away):
//! the invoice is first claimed by pushing `due_at` one lease ahead and counting the
//! attempt, so a crash retries it later with the same idempotency key, and a second replica
//! never attempts it at the same time. The outcome is then recorded by `payment_succeeded`
//! or `payment_failed`, which provider webhooks call too; both are idempotent and never
//! undo a payment, so duplicate and out-of-order notifications converge.
//!
//! Dunning: after a failed attempt the invoice is retried `retry_days` after it was
//! finalized (default 3, 7 and 14 days: four tries over two weeks) and its subscription is
//! `past_due`; when the last try fails the subscription is canceled or marked `unpaid`
//! (`final_action`). A subscription's first invoice is not retried: the subscription stays
//! `incomplete` until that invoice is paid, for `INCOMPLETE_EXPIRY_MS` (23 hours) from its
//! start; then the invoice is voided and the subscription is `incomplete_expired`.

use super::invoicing;
use super::payments::charge;
use super::stripe::StripeProvider;
use domain::billing::status::{INCOMPLETE_EXPIRY_MS, InvoiceStatus, SubscriptionStatus};

use super::{Notices, notify};
use crate::app::AppState;
use crate::audit::ActorRef;
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;
use domain::billing::dunning::{Dunning, FinalAction};
use domain::billing::payments::Outcome;
use store::Claim;
use store::billing::{self as db, CustomerRow, InvoiceRow};

/// How long an attempt holds its invoice before another may try again (after a crash).
const LEASE_MS: i64 = 3600 * 1000;

pub async fn dunning(tx: &mut sqlx::AnyConnection, scope: &Scope) -> ApiResult<Dunning> {
    Ok(match db::get_settings(tx, scope).await? {
        Some(row) => Dunning {
            retry_days: row.retry_days.0,
            final_action: *row.final_action,
        },
        None => Dunning::default(),
    })
}

pub async fn save_dunning(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    d: &Dunning,
    now: i64,
) -> ApiResult<()> {
    let row = db::SettingsRow {
        retry_days: d.retry_days.clone().into(),
        final_action: d.final_action.into(),
        updated_at: now,
    };
    db::put_settings(tx, scope, &row).await?;
    Ok(())
}

/// A payment attempt `prepare` claimed: charge it outside any transaction, then `settle` it.
pub struct Attempt {
    invoice: InvoiceRow,
    customer: CustomerRow,
    payment_method: String,
}

impl Attempt {
    /// The invoice to charge, finalized.
    pub fn invoice(&self) -> &InvoiceRow {
        &self.invoice
    }
}

/// What `prepare` did with an invoice.
pub enum Prepared {
    /// Scheduled work that was no longer due (another replica got there first).
    NotDue,
    /// Settled without a charge: nothing due, or no payment method.
    Settled,
    /// Finalized if it was a draft, the attempt counted and the lease taken: charge it.
    Charge(Box<Attempt>),
}

/// The first step of acting on an invoice at `at`, in the caller's transaction: a draft is
/// finalized; then payment is settled at once or an attempt is claimed. Scheduled work
/// (`manual` false) happens only if the invoice is still due; a manual attempt (the pay
/// endpoint) whenever the invoice is a draft or open. Its events join `notices`, for the
/// caller to write before committing.
pub async fn prepare(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    notices: &mut Notices,
    id: &str,
    at: i64,
    manual: bool,
) -> ApiResult<Prepared> {
    // Scheduled work skips an invoice another replica holds; a request waits for it.
    let how = if manual { Claim::Wait } else { Claim::Skip };
    let claimed = db::claim_invoice(tx, scope, id, how).await?;
    let mut invoice = match claimed {
        None if !manual => return Ok(Prepared::NotDue),
        None => return Err(ApiError::NotFound("invoice")),
        Some(i) => i,
    };
    if !manual && invoice.due_at.is_none_or(|d| d > at) {
        return Ok(Prepared::NotDue);
    }
    if ![InvoiceStatus::Draft, InvoiceStatus::Open].contains(&invoice.status.0) {
        return Err(ApiError::conflict(
            "invoice_not_payable",
            format!(
                "The invoice is {}; only draft and open invoices are paid.",
                invoice.status
            ),
        ));
    }
    if !manual && expired(&invoice, at) {
        expire(tx, scope, notices, invoice).await?;
        return Ok(Prepared::Settled);
    }
    let mut customer = db::get_customer(tx, scope, &invoice.customer_id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    if invoice.status == InvoiceStatus::Draft {
        let balance = customer.balance;
        invoicing::finalize(&mut invoice, &mut customer, at)?;
        if customer.balance != balance {
            db::update_customer(tx, scope, &customer).await?;
        }
        notices.add("invoice.finalized", &invoice)?;
    }
    // Nothing due is paid without a payment method (a trial's 0.00 invoice).
    if invoice.amount_due == 0 {
        db::update_invoice(tx, scope, &invoice).await?;
        paid(tx, scope, notices, id, "", at).await?;
        return Ok(Prepared::Settled);
    }
    let Some(payment_method) = customer.default_payment_method.clone() else {
        invoice.attempt_count += 1;
        db::update_invoice(tx, scope, &invoice).await?;
        let code = "payment_method_missing";
        failed(tx, scope, notices, id, code, at).await?;
        return Ok(Prepared::Settled);
    };
    invoice.attempt_count += 1;
    invoice.due_at = Some(at + LEASE_MS);
    db::update_invoice(tx, scope, &invoice).await?;
    Ok(Prepared::Charge(Box::new(Attempt {
        invoice,
        customer,
        payment_method,
    })))
}

/// Charges a claimed attempt through the tenant's provider (`payments::charge`), keyed by
/// invoice and attempt number. A provider error leaves the lease in place: the attempt is
/// retried after it, with the same key.
pub async fn charge_attempt(
    state: &AppState,
    stripe: Option<&StripeProvider>,
    a: &Attempt,
) -> ApiResult<Outcome> {
    let key = format!("{}-{}", a.invoice.id, a.invoice.attempt_count);
    charge(
        state,
        stripe,
        &a.customer,
        &a.invoice,
        &a.payment_method,
        &key,
    )
    .await
}

/// Records what the charge of an attempt did; its events join `notices`.
pub async fn settle(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    notices: &mut Notices,
    a: &Attempt,
    outcome: Outcome,
    at: i64,
) -> ApiResult<()> {
    let id = &a.invoice.id;
    match outcome {
        Outcome::Paid { reference } => paid(tx, scope, notices, id, &reference, at).await,
        Outcome::Failed { code } => failed(tx, scope, notices, id, &code, at).await,
        Outcome::Pending { reference } => awaiting_provider(tx, scope, id, &reference).await,
    }
}

/// Acts on one invoice at `at` (`prepare`, `charge_attempt`, `settle`), each transaction on
/// its own. Returns the invoice after, or None when scheduled work was no longer due.
pub async fn process(
    state: &AppState,
    scope: &Scope,
    actor: &ActorRef<'_>,
    id: &str,
    at: i64,
    manual: bool,
) -> ApiResult<Option<InvoiceRow>> {
    let mut tx = state.db.write_scoped(scope).await?;
    let mut notices = Notices::default();
    match prepare(&mut tx, scope, &mut notices, id, at, manual).await? {
        Prepared::NotDue => return Ok(None),
        Prepared::Settled => notices.write(&mut tx, &state.clock, scope, actor).await?,
        Prepared::Charge(attempt) => {
            notices.write(&mut tx, &state.clock, scope, actor).await?;
            tx.commit().await?;
            let stripe = StripeProvider::load(state, scope).await?;
            let outcome = charge_attempt(state, stripe.as_ref(), &attempt).await?;
            tx = state.db.write_scoped(scope).await?;
            let mut notices = Notices::default();
            settle(&mut tx, scope, &mut notices, &attempt, outcome, at).await?;
            notices.write(&mut tx, &state.clock, scope, actor).await?;
        }
    }
    let invoice = db::get_invoice(&mut tx, scope, id).await?;
    tx.commit().await?;
    Ok(invoice)
}

/// The provider settles the attempt later (its webhook): nothing more is scheduled.
async fn awaiting_provider(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    id: &str,
    reference: &str,
) -> ApiResult<()> {
    let Some(mut invoice) = db::claim_invoice(tx, scope, id, Claim::Wait).await? else {
        return Ok(());
    };
    if invoice.status == InvoiceStatus::Open {
        invoice.due_at = None;
        invoice.payment_reference = Some(reference.to_owned());
        db::update_invoice(tx, scope, &invoice).await?;
    }
    Ok(())
}

/// Records a successful payment of an open (or uncollectible) invoice and brings its
/// subscription back to active. A paid invoice stays as it is.
pub async fn payment_succeeded(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    actor: &ActorRef<'_>,
    id: &str,
    reference: &str,
    at: i64,
) -> ApiResult<()> {
    let mut notices = Notices::default();
    paid(tx, scope, &mut notices, id, reference, at).await?;
    notices.write(tx, &state.clock, scope, actor).await
}

/// `payment_succeeded`, its events joining `notices`.
async fn paid(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    notices: &mut Notices,
    id: &str,
    reference: &str,
    at: i64,
) -> ApiResult<()> {
    let mut invoice = db::claim_invoice(tx, scope, id, Claim::Wait)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    if ![InvoiceStatus::Open, InvoiceStatus::Uncollectible].contains(&invoice.status.0) {
        return Ok(());
    }
    invoice.status = InvoiceStatus::Paid.into();
    invoice.paid_at = Some(at);
    invoice.payment_error = None;
    invoice.payment_reference = (!reference.is_empty()).then(|| reference.to_owned());
    invoice.due_at = None;
    db::update_invoice(tx, scope, &invoice).await?;
    notices.add("invoice.paid", &invoice)?;
    if let Some(sub_id) = &invoice.subscription_id {
        let mut sub = db::claim_subscription(tx, scope, sub_id, Claim::Wait)
            .await?
            .ok_or(ApiError::NotFound("subscription"))?;
        if [
            SubscriptionStatus::PastDue,
            SubscriptionStatus::Unpaid,
            SubscriptionStatus::Incomplete,
        ]
        .contains(&sub.status.0)
        {
            sub.status = SubscriptionStatus::Active.into();
            db::update_subscription(tx, scope, &sub).await?;
            notices.add("subscription.updated", &sub)?;
        }
    }
    Ok(())
}

/// Records a failed payment of an open invoice: schedules the next retry and makes its
/// subscription past due, or, after the last retry, applies the final action. An invoice
/// that is no longer open (paid meanwhile) stays as it is.
pub async fn payment_failed(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    actor: &ActorRef<'_>,
    id: &str,
    code: &str,
    at: i64,
) -> ApiResult<()> {
    let mut notices = Notices::default();
    failed(tx, scope, &mut notices, id, code, at).await?;
    notices.write(tx, &state.clock, scope, actor).await
}

/// A subscription's first invoice whose payment failed, unpaid `INCOMPLETE_EXPIRY_MS` after
/// it was made (with the subscription). Only a failed one: a first attempt that crashed is
/// retried when its lease ends, as any other.
fn expired(invoice: &InvoiceRow, at: i64) -> bool {
    invoice.billing_reason == "subscription_create"
        && invoice.status == InvoiceStatus::Open
        && invoice.payment_error.is_some()
        && at >= invoice.created_at + INCOMPLETE_EXPIRY_MS
}

/// Voids an `expired` first invoice and ends its `incomplete` subscription.
async fn expire(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    notices: &mut Notices,
    mut invoice: InvoiceRow,
) -> ApiResult<()> {
    invoice.status = InvoiceStatus::Void.into();
    invoice.due_at = None;
    db::update_invoice(tx, scope, &invoice).await?;
    notices.add("invoice.voided", &invoice)?;
    let Some(sub_id) = &invoice.subscription_id else {
        return Ok(());
    };
    let mut sub = db::claim_subscription(tx, scope, sub_id, Claim::Wait)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    if sub.status == SubscriptionStatus::Incomplete {
        sub.status = SubscriptionStatus::IncompleteExpired.into();
        db::update_subscription(tx, scope, &sub).await?;
        notices.add("subscription.updated", &sub)?;
    }
    Ok(())
}

/// `payment_failed`, its events joining `notices`.
async fn failed(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    notices: &mut Notices,
    id: &str,
    code: &str,
    at: i64,
) -> ApiResult<()> {
    let mut invoice = db::claim_invoice(tx, scope, id, Claim::Wait)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    if invoice.status != InvoiceStatus::Open {
        return Ok(());
    }
    let dunning = dunning(tx, scope).await?;
    let first_invoice = invoice.billing_reason == "subscription_create";
    invoice.payment_error = Some(code.to_owned());
    invoice.due_at = if first_invoice {
        Some(invoice.created_at + INCOMPLETE_EXPIRY_MS)
    } else {
        let finalized = invoice.finalized_at.unwrap_or(at);
        dunning.next_retry(finalized, invoice.attempt_count, at)
    };
    db::update_invoice(tx, scope, &invoice).await?;
    notices.add("invoice.payment_failed", &invoice)?;
    let Some(sub_id) = &invoice.subscription_id else {
        return Ok(());
    };
    let mut sub = db::claim_subscription(tx, scope, sub_id, Claim::Wait)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    let before = sub.status;
    if first_invoice {
        // stays incomplete until paid
    } else if invoice.due_at.is_some() {
        if sub.status.bills() {
            sub.status = SubscriptionStatus::PastDue.into();
        }
    } else if sub.status != SubscriptionStatus::Canceled {
        match dunning.final_action {
            FinalAction::Cancel => {
                sub.status = SubscriptionStatus::Canceled.into();
                sub.canceled_at = Some(at);
            }
            FinalAction::MarkUnpaid => sub.status = SubscriptionStatus::Unpaid.into(),
        }
    }
    if sub.status != before {
        db::update_subscription(tx, scope, &sub).await?;
        let event = if sub.status == SubscriptionStatus::Canceled {
            "subscription.canceled"
        } else {
            "subscription.updated"
        };
        notices.add(event, &sub)?;
    }
    Ok(())
}

/// Records a refund the provider reports on a paid invoice: `amount` is the total refunded
/// so far, so duplicate and out-of-order reports converge on the largest.
pub async fn refunded(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    actor: &ActorRef<'_>,
    id: &str,
    amount: i64,
) -> ApiResult<()> {
    let mut invoice = db::claim_invoice(tx, scope, id, Claim::Wait)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    if amount <= invoice.amount_refunded {
        return Ok(());
    }
    invoice.amount_refunded = amount.min(invoice.amount_due);
    db::update_invoice(tx, scope, &invoice).await?;
    notify(tx, &state.clock, scope, actor, "invoice.refunded", &invoice).await
}

/// Records that the customer disputed an invoice's payment with their bank.
pub async fn disputed(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    actor: &ActorRef<'_>,
    id: &str,
) -> ApiResult<()> {
    let invoice = db::get_invoice(tx, scope, id)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    notify(tx, &state.clock, scope, actor, "invoice.disputed", &invoice).await
}

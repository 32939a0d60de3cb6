//! Hosted checkout through Stripe Checkout, where the environment has Stripe configured:
//! the page's button sends the customer to a Stripe Checkout Session of the order, and
//! Stripe's `checkout.session.completed` (`billing::api::stripe_webhooks`) completes the
//! session with what Stripe took. See `billing::stripe::checkout` for what Stripe is sent.

use super::{actor, complete, order};
use crate::app::AppState;
use crate::billing::Notices;
use crate::billing::collection::{self, Prepared};
use crate::billing::stripe::StripeProvider;
use crate::billing::stripe::checkout::{Completion, StripeOrder};
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;
use domain::billing::checkout::{CheckoutMode, CheckoutStatus, redirect_url};
use domain::billing::payments::Outcome;
use store::billing as db;

/// Stripe keeps a Checkout Session open 30 minutes to 24 hours (with a minute's margin).
const MIN_SECS: i64 = 31 * 60;
const MAX_SECS: i64 = 24 * 3600 - 60;

/// Sends an open session's customer to Stripe: a new Checkout Session of its order, the one
/// sent before expired so that only the latest can be paid. Returns its URL.
pub async fn send(
    state: &AppState,
    scope: &Scope,
    provider: &StripeProvider,
    row: &store::billing::CheckoutRow,
    token: &str,
) -> ApiResult<String> {
    let order = order(state, scope, row).await?;
    let mut c = state.db.read_scoped(scope).await?;
    let customer = match &row.customer_id {
        Some(id) => db::get_customer(&mut c, scope, id).await?,
        None => None,
    };
    c.end();
    let currency = row
        .currency
        .clone()
        .or_else(|| customer.as_ref().and_then(|c| c.currency.clone()))
        .ok_or_else(|| {
            ApiError::conflict(
                "currency_required",
                "Stripe saves a card for a currency: give the customer one first.",
            )
        })?;
    let stripe_customer = match &customer {
        Some(c) => Some(provider.ensure_customer(state, c).await?),
        None => None,
    };
    if let Some(previous) = &row.stripe_session_id {
        provider.expire_checkout_session(previous).await?;
    }
    let now = state.clock.now_ms().div_euclid(1000);
    let success_url = redirect_url(&row.success_url, &row.id);
    let cancel_url = format!("{}/checkout/{token}", state.public_base);
    let session = provider
        .checkout_session(&StripeOrder {
            checkout: &row.id,
            mode: row.mode.0,
            currency: &currency,
            charges: order.charges,
            recurring: order.recurring,
            discount: order.discount_minor,
            trial_days: order.trial_days.and_then(|d| u32::try_from(d).ok()),
            customer: stripe_customer.as_deref(),
            customer_email: row.customer_email.as_deref(),
            success_url: &success_url,
            cancel_url: &cancel_url,
            expires_at: (row.expires_at.div_euclid(1000) - now).clamp(MIN_SECS, MAX_SECS) + now,
        })
        .await?;
    let mut tx = state.db.write_scoped(scope).await?;
    db::set_checkout_stripe_session(&mut tx, scope, &row.id, &session.id).await?;
    tx.commit().await?;
    Ok(session.url)
}

/// Completes the session a Stripe Checkout Session was for, in the webhook's transaction:
/// the customer linked to Stripe's, the payment method Stripe saved as its default, and the
/// first invoice settled as paid by what Stripe took. Stripe took the money, so a session
/// past its expiry completes too; one already complete stays as it is.
pub async fn completed(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    checkout: &str,
    stripe: &Completion,
) -> ApiResult<()> {
    let Some(mut row) = db::get_checkout(tx, scope, checkout).await? else {
        tracing::warn!(checkout, "Stripe completed an unknown checkout session");
        return Ok(());
    };
    if !stripe.complete || row.status.0 == CheckoutStatus::Complete {
        if row.stripe_session_id.as_deref() != Some(stripe.session.as_str()) {
            tracing::error!(checkout, session = %stripe.session,
                "a second Stripe Checkout Session completed for one checkout: refund it in Stripe");
        }
        return Ok(());
    }
    let payment_method = stripe.payment_method.as_deref().ok_or_else(|| {
        ApiError::PaymentProvider(format!("{} saved no payment method", stripe.session))
    })?;
    let first = complete(
        tx,
        state,
        scope,
        &mut row,
        stripe.email.as_deref(),
        payment_method,
    )
    .await?;
    let now = state.clock.now_ms();
    if let (Some(cus), Some(customer)) = (&stripe.customer, &row.customer_id) {
        store::stripe::insert_stripe_customer(tx, scope, customer, cus, now).await?;
    }
    let Some(invoice) = first else { return Ok(()) };
    let mut notices = Notices::default();
    let at = invoice.created_at;
    if let Prepared::Charge(attempt) =
        collection::prepare(tx, scope, &mut notices, &invoice.id, at, true).await?
    {
        let reference = stripe.reference.clone().unwrap_or(stripe.session.clone());
        if attempt.invoice().amount_due != stripe.amount_total {
            tracing::warn!(invoice = %invoice.id, due = attempt.invoice().amount_due,
                took = stripe.amount_total, "Stripe Checkout took another amount than is due");
        }
        if row.mode.0 == CheckoutMode::Payment && reference.starts_with("pi_") {
            store::stripe::remember_payment_intent(tx, scope, &reference, &invoice.id, now).await?;
        }
        let paid = Outcome::Paid { reference };
        collection::settle(tx, scope, &mut notices, &attempt, paid, at).await?;
    }
    notices
        .write(tx, &state.clock, scope, &actor(&row.id))
        .await
}

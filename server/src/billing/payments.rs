//! Charging an invoice's amount due: through Stripe when the tenant configured it for the
//! environment (`billing::stripe`), else with the `simulated` provider, the sandbox's and the
//! zero-setup start's, whose test payment methods behave like Stripe's test cards.
//!
//! | payment method                             | outcome                               |
//! |--------------------------------------------|---------------------------------------|
//! | `pm_card_chargeDeclined`                   | declined: `card_declined`             |
//! | `pm_card_chargeDeclinedInsufficientFunds`  | declined: `insufficient_funds`        |
//! | `pm_card_authenticationRequired`           | needs the customer: `authentication_required` |
//! | any other (`pm_card_visa`…)                | paid                                  |

use super::stripe::StripeProvider;
use crate::app::AppState;
use crate::http::error::ApiResult;
use domain::billing::payments::{Outcome, simulated};
use store::billing::{CustomerRow, InvoiceRow};

/// Charges `amount` of `invoice` to the customer's `payment_method`, through `stripe`, the
/// tenant's provider (`StripeProvider::load`), or the simulated one when it has none. `key`
/// identifies the attempt: the same key is the same charge, never a second one.
pub async fn charge(
    state: &AppState,
    stripe: Option<&StripeProvider>,
    customer: &CustomerRow,
    invoice: &InvoiceRow,
    payment_method: &str,
    key: &str,
) -> ApiResult<Outcome> {
    let Some(stripe) = stripe else {
        return Ok(simulated(payment_method, invoice.amount_due, key));
    };
    let stripe_customer = stripe.ensure_customer(state, customer).await?;
    Ok(stripe
        .charge(
            &invoice.id,
            &stripe_customer,
            payment_method,
            invoice.amount_due,
            &invoice.currency,
            key,
        )
        .await?)
}

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

use super::store::{CustomerRow, InvoiceRow};
use super::stripe::StripeProvider;
use crate::app::AppState;
use crate::http::error::ApiResult;

/// What a charge attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Paid; `reference` is the provider's id of the payment.
    Paid { reference: String },
    /// Not paid; the code says why (Stripe's decline codes).
    Failed { code: String },
    /// Needs the customer (3-D Secure) or is still processing: the provider's webhook
    /// settles it.
    Pending { reference: String },
}

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

fn simulated(payment_method: &str, amount: i64, key: &str) -> Outcome {
    let declined = match payment_method {
        _ if amount == 0 => None,
        "pm_card_chargeDeclined" => Some("card_declined"),
        "pm_card_chargeDeclinedInsufficientFunds" => Some("insufficient_funds"),
        "pm_card_authenticationRequired" => Some("authentication_required"),
        _ => None,
    };
    match declined {
        Some(code) => Outcome::Failed { code: code.into() },
        None => Outcome::Paid {
            reference: format!("sim_{key}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: &str) -> Outcome {
        Outcome::Failed { code: code.into() }
    }

    #[test]
    fn test_cards_behave_like_stripes() {
        assert_eq!(
            simulated("pm_card_visa", 100, "k"),
            Outcome::Paid {
                reference: "sim_k".into()
            }
        );
        assert_eq!(
            simulated("pm_card_chargeDeclined", 100, "k"),
            failed("card_declined")
        );
        assert_eq!(
            simulated("pm_card_chargeDeclinedInsufficientFunds", 100, "k"),
            failed("insufficient_funds")
        );
        assert_eq!(
            simulated("pm_card_authenticationRequired", 100, "k"),
            failed("authentication_required")
        );
        assert!(
            matches!(
                simulated("pm_card_chargeDeclined", 0, "k"),
                Outcome::Paid { .. }
            ),
            "nothing to charge"
        );
    }
}

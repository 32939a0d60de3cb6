//! Charging an invoice's amount due. The `simulated` provider is the sandbox's and the
//! zero-setup start's: its test payment methods behave like Stripe's test cards.
//!
//! | payment method                             | outcome                               |
//! |--------------------------------------------|---------------------------------------|
//! | `pm_card_chargeDeclined`                   | declined: `card_declined`             |
//! | `pm_card_chargeDeclinedInsufficientFunds`  | declined: `insufficient_funds`        |
//! | `pm_card_authenticationRequired`           | needs the customer: `authentication_required` |
//! | any other (`pm_card_visa`…)                | paid                                  |

/// What a charge attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Paid; `reference` is the provider's id of the payment.
    Paid { reference: String },
    /// Not paid; the code says why (Stripe's decline codes).
    Failed { code: String },
}

/// Charges `amount` to `payment_method`. `key` identifies the attempt: the same key is the
/// same charge, never a second one.
pub fn charge(payment_method: &str, amount: i64, key: &str) -> Outcome {
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
            charge("pm_card_visa", 100, "k"),
            Outcome::Paid {
                reference: "sim_k".into()
            }
        );
        assert_eq!(
            charge("pm_card_chargeDeclined", 100, "k"),
            failed("card_declined")
        );
        assert_eq!(
            charge("pm_card_chargeDeclinedInsufficientFunds", 100, "k"),
            failed("insufficient_funds")
        );
        assert_eq!(
            charge("pm_card_authenticationRequired", 100, "k"),
            failed("authentication_required")
        );
        assert!(
            matches!(
                charge("pm_card_chargeDeclined", 0, "k"),
                Outcome::Paid { .. }
            ),
            "nothing to charge"
        );
    }
}

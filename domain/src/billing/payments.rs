//! What a payment attempt did, and the simulated provider that answers without a network.

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

/// The sandbox's test cards (Stripe's payment method names), and what each does.
pub const TEST_CARDS: [(&str, &str); 4] = [
    ("pm_card_visa", "Visa: payments succeed"),
    ("pm_card_chargeDeclined", "Visa: payments are declined"),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "Visa: declined for insufficient funds",
    ),
    (
        "pm_card_authenticationRequired",
        "Visa: payments need authentication",
    ),
];

/// The sandbox's provider: Stripe's test cards by name, declining as Stripe does.
pub fn simulated(payment_method: &str, amount: i64, key: &str) -> Outcome {
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

//! Collecting invoices. The `simulated` provider is the sandbox's and the zero-setup start's:
//! its test payment methods behave like Stripe's test cards. (The Stripe provider is not built
//! yet.)
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
    Paid,
    /// Not paid; the code says why (Stripe's decline codes).
    Failed(&'static str),
}

pub fn charge(payment_method: &str, amount: i64) -> Outcome {
    if amount == 0 {
        return Outcome::Paid;
    }
    match payment_method {
        "pm_card_chargeDeclined" => Outcome::Failed("card_declined"),
        "pm_card_chargeDeclinedInsufficientFunds" => Outcome::Failed("insufficient_funds"),
        "pm_card_authenticationRequired" => Outcome::Failed("authentication_required"),
        _ => Outcome::Paid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_behave_like_stripes() {
        assert_eq!(charge("pm_card_visa", 100), Outcome::Paid);
        assert_eq!(
            charge("pm_card_chargeDeclined", 100),
            Outcome::Failed("card_declined")
        );
        assert_eq!(
            charge("pm_card_chargeDeclinedInsufficientFunds", 100),
            Outcome::Failed("insufficient_funds")
        );
        assert_eq!(
            charge("pm_card_chargeDeclined", 0),
            Outcome::Paid,
            "nothing to charge"
        );
    }
}

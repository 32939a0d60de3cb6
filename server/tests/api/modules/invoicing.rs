//! Finalizing an invoice with the customer's balance.

use domain::billing::status::InvoiceStatus;
use neoforge_server::billing::invoicing::finalize;
use store::billing::{CustomerRow, InvoiceRow};

fn invoice(total: i64) -> InvoiceRow {
    InvoiceRow {
        id: "in_1".into(),
        number: "INV-000001".into(),
        customer_id: "cus_1".into(),
        subscription_id: None,
        status: InvoiceStatus::Draft.into(),
        billing_reason: "subscription_cycle".into(),
        currency: "usd".into(),
        subtotal: total,
        total,
        starting_balance: 0,
        amount_due: 0,
        lines: Default::default(),
        period_start: 0,
        period_end: 0,
        created_at: 0,
        finalized_at: None,
        paid_at: None,
        payment_error: None,
        payment_reference: None,
        amount_refunded: 0,
        attempt_count: 0,
        due_at: Some(0),
        discount_amount: 0,
        tax_amount: 0,
        discounts: Default::default(),
        taxes: Default::default(),
    }
}

fn customer(balance: i64) -> CustomerRow {
    CustomerRow {
        id: "cus_1".into(),
        name: None,
        email: None,
        address: None,
        tax_ids: Default::default(),
        metadata: Default::default(),
        default_payment_method: None,
        currency: Some("usd".into()),
        balance,
        test_clock: None,
        created_at: 0,
        updated_at: 0,
        external_id: None,
    }
}

#[test]
fn finalizing_applies_the_balance() {
    // (invoice total, balance before) → (amount due, balance after)
    for (total, balance, due, left) in [
        (1000, 0, 1000, 0),
        (1000, -300, 700, 0),   // credit pays part
        (1000, -1500, 0, -500), // credit pays all, the rest stays
        (-500, 0, 0, -500),     // a credit invoice (downgrade) becomes balance
        (1000, 200, 1200, 0),   // a debit is collected
    ] {
        let (mut i, mut c) = (invoice(total), customer(balance));
        finalize(&mut i, &mut c, 7).expect("finalize");
        assert_eq!(
            (i.amount_due, c.balance),
            (due, left),
            "{total} with {balance}"
        );
        assert_eq!(
            (i.status.0, i.starting_balance),
            (InvoiceStatus::Open, balance)
        );
    }
}

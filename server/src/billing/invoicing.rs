//! Building invoices. An invoice is created as a draft with its lines, numbered at once
//! (sequential per tenant and environment, never reused), and finalized later: finalizing
//! fixes what is charged, `amount_due`, by applying the customer's balance (credit first).
//! Amounts are integer minor units; a line's amount is rounded once, where it is computed
//! (`amount::amount_for`, `proration::remaining`), and the subtotal is their exact sum. The
//! subscription's discount and tax rates then make the total (`discounts::totals`: discount
//! off the subtotal, exclusive taxes on the rest, each amount rounded once).

use domain::billing::status::InvoiceStatus;

use super::discounts::{self, AppliedTaxRate, Discount, InvoiceDiscount, InvoiceTax};
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;
use domain::billing::invoicing::{Line, sum};
use domain::ids::InvoiceId;
use store::billing::{self as db, CustomerRow, InvoiceRow};

/// What a new invoice is for.
pub struct Draft<'a> {
    pub customer: &'a str,
    pub subscription: Option<&'a str>,
    pub currency: &'a str,
    pub billing_reason: &'a str,
    pub lines: Vec<Line>,
    pub period: (i64, i64),
    pub created_at: i64,
    /// When the scheduler finalizes it and attempts payment.
    pub due_at: i64,
    /// The subscription's discount, applied if it covers the period's start.
    pub discount: Option<&'a Discount>,
    /// Exclusive taxes on the discounted subtotal.
    pub tax_rates: &'a [AppliedTaxRate],
}

/// The draft invoice `d` describes, not numbered yet: `insert_drafts` numbers it.
pub fn draft(d: Draft<'_>) -> ApiResult<InvoiceRow> {
    let subtotal = sum(&d.lines)?;
    let discount = d.discount.filter(|x| x.applies(d.period.0));
    let percentages: Vec<&str> = d.tax_rates.iter().map(|t| t.percentage.as_str()).collect();
    let totals = discounts::totals(subtotal, discount.map(|x| &x.terms), &percentages)?;
    let applied: Vec<InvoiceDiscount> = discount
        .map(|x| InvoiceDiscount {
            coupon: x.coupon.clone(),
            promotion_code: x.promotion_code.clone(),
            amount: totals.discount,
        })
        .into_iter()
        .collect();
    let taxes: Vec<InvoiceTax> = d
        .tax_rates
        .iter()
        .zip(&totals.taxes)
        .map(|(t, amount)| InvoiceTax {
            tax_rate: t.id.clone(),
            display_name: t.display_name.clone(),
            percentage: t.percentage.clone(),
            taxable_amount: subtotal - totals.discount,
            amount: *amount,
        })
        .collect();
    let invoice = InvoiceRow {
        id: InvoiceId::generate().to_string(),
        number: String::new(),
        customer_id: d.customer.to_owned(),
        subscription_id: d.subscription.map(str::to_owned),
        status: InvoiceStatus::Draft.into(),
        billing_reason: d.billing_reason.into(),
        currency: d.currency.into(),
        subtotal,
        total: totals.total,
        starting_balance: 0,
        amount_due: 0,
        lines: d.lines.into(),
        period_start: d.period.0,
        period_end: d.period.1,
        created_at: d.created_at,
        finalized_at: None,
        paid_at: None,
        payment_error: None,
        payment_reference: None,
        amount_refunded: 0,
        attempt_count: 0,
        due_at: Some(d.due_at),
        discount_amount: totals.discount,
        tax_amount: totals.tax,
        discounts: applied.into(),
        taxes: taxes.into(),
    };
    Ok(invoice)
}

/// Numbers new drafts, in order, with the scope's next invoice numbers, and inserts them.
/// The counter row then stays locked until the transaction ends, holding back every other
/// transaction that numbers invoices in the scope: call it as late as possible.
pub async fn insert_drafts(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    invoices: &mut [InvoiceRow],
) -> ApiResult<()> {
    if invoices.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(invoices.len()).map_err(|e| ApiError::Internal(e.into()))?;
    let last = db::next_counter(tx, scope, "invoice", count).await?;
    for (number, invoice) in (last - count + 1..).zip(invoices.iter_mut()) {
        invoice.number = format!("INV-{number:06}");
    }
    db::insert_invoices(tx, scope, invoices).await?;
    Ok(())
}

/// Opens a draft: the customer's balance is applied (a credit lowers `amount_due`, never
/// below zero, and what is left of it stays on the balance; a debit is added), so a credit
/// from a downgrade pays the next invoices.
pub fn finalize(invoice: &mut InvoiceRow, customer: &mut CustomerRow, at: i64) -> ApiResult<()> {
    let owed = invoice
        .total
        .checked_add(customer.balance)
        .ok_or_else(|| ApiError::validation("balance", "the amount does not fit in 64 bits"))?;
    invoice.starting_balance = customer.balance;
    invoice.amount_due = owed.max(0);
    customer.balance = owed.min(0);
    invoice.status = InvoiceStatus::Open.into();
    invoice.finalized_at = Some(at);
    Ok(())
}

//! An invoice as an HTML page (`GET /v1/invoices/{id}/html`), from `server/templates/`,
//! escaped by minijinja. Amounts are shown in major units of the invoice's currency.

use domain::billing::money::money;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use super::Address;
use crate::http::error::{ApiError, ApiResult};
use domain::clock::timestamp::to_rfc3339;
use store::billing::{CustomerRow, InvoiceRow};

fn day(ms: i64) -> String {
    to_rfc3339(ms).chars().take(10).collect()
}

fn address_lines(a: &Address) -> Vec<String> {
    let city = [a.postal_code.as_deref(), a.city.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    [
        a.line1.clone(),
        a.line2.clone(),
        Some(city),
        a.state.clone(),
        Some(a.country.clone()),
    ]
    .into_iter()
    .flatten()
    .filter(|l| !l.is_empty())
    .collect()
}

#[derive(Serialize)]
struct LineView {
    price: String,
    quantity: i64,
    amount: String,
    proration: bool,
    period: String,
}

pub fn render(invoice: &InvoiceRow, customer: &CustomerRow) -> ApiResult<String> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("invoice.html", include_str!("../../templates/invoice.html"))
        .map_err(|e| ApiError::Internal(e.into()))?;
    let c = &invoice.currency;
    let lines: Vec<LineView> = invoice
        .lines
        .iter()
        .map(|l| LineView {
            price: l.price.clone(),
            quantity: l.quantity,
            amount: money(l.amount, c),
            proration: l.proration,
            period: format!("{} – {}", day(l.period_start), day(l.period_end)),
        })
        .collect();
    let tax_ids = &customer.tax_ids.0;
    let ctx = serde_json::json!({
        "invoice": {"number": invoice.number, "status": invoice.status.0},
        "customer": {"name": customer.name, "email": customer.email, "tax_ids": tax_ids},
        "address": customer.address.as_ref().map(|a| address_lines(a)).unwrap_or_default(),
        "period": format!("{} – {}", day(invoice.period_start), day(invoice.period_end)),
        "created": day(invoice.created_at),
        "paid": invoice.paid_at.map(day),
        "lines": lines,
        "totals": {
            "subtotal": money(invoice.subtotal, c),
            "discount": (invoice.discount_amount != 0).then(|| money(-invoice.discount_amount, c)),
            "tax": (invoice.tax_amount != 0).then(|| money(invoice.tax_amount, c)),
            "total": money(invoice.total, c),
            "balance": (invoice.starting_balance != 0).then(|| money(invoice.starting_balance, c)),
            "amount_due": money(invoice.amount_due, c),
            "refunded": (invoice.amount_refunded != 0).then(|| money(invoice.amount_refunded, c)),
        },
    });
    let page = env
        .get_template("invoice.html")
        .and_then(|t| t.render(Serde(ctx)))
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(page)
}

//! Invoices and their per-tenant numbering.

use std::sync::LazyLock;

use serde_json::json;

use crate::Claim;
use crate::Column;
use crate::columns::{Json, Text};
use crate::scoped;
use domain::billing::discounts::{InvoiceDiscount, InvoiceTax};
use domain::billing::invoicing::Line;
use domain::billing::status::InvoiceStatus;
use domain::billing::views::{Invoice, InvoiceLine, UpcomingInvoice};
use domain::ids::{CustomerId, InvoiceId, SubscriptionId};
use domain::tenancy::Scope;
use sqlx::{AnyConnection, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct InvoiceRow {
    pub id: String,
    pub number: String,
    pub customer_id: String,
    pub subscription_id: Option<String>,
    pub status: Text<InvoiceStatus>,
    /// `subscription_create`, `subscription_cycle`, `subscription_update`, `subscription_resume`.
    pub billing_reason: String,
    pub currency: String,
    /// The sum of the lines.
    pub subtotal: i64,
    pub total: i64,
    /// The customer's balance when the invoice was finalized.
    pub starting_balance: i64,
    /// What is charged: the total with the balance applied, never below zero.
    pub amount_due: i64,
    pub lines: Json<Vec<Line>>,
    pub period_start: i64,
    pub period_end: i64,
    pub created_at: i64,
    pub finalized_at: Option<i64>,
    pub paid_at: Option<i64>,
    /// Why the last payment attempt failed (`card_declined`…).
    pub payment_error: Option<String>,
    /// The provider's id of the successful payment.
    pub payment_reference: Option<String>,
    /// Minor units refunded by the provider so far.
    pub amount_refunded: i64,
    pub attempt_count: i64,
    /// When the scheduler next acts on the invoice: finalizes a draft, or attempts payment
    /// of an open one. None when nothing is scheduled.
    pub due_at: Option<i64>,
    /// Taken off the subtotal by the subscription's discount.
    pub discount_amount: i64,
    /// The sum of the taxes.
    pub tax_amount: i64,
    pub discounts: Json<Vec<InvoiceDiscount>>,
    pub taxes: Json<Vec<InvoiceTax>>,
}

/// Every column but the scope's, with its type for bulk inserts.
const COLUMNS: [Column; 26] = [
    Column::Text("id"),
    Column::Text("number"),
    Column::Text("customer_id"),
    Column::Text("subscription_id"),
    Column::Text("status"),
    Column::Text("billing_reason"),
    Column::Text("currency"),
    Column::Int("subtotal"),
    Column::Int("total"),
    Column::Int("starting_balance"),
    Column::Int("amount_due"),
    Column::Text("lines"),
    Column::Int("period_start"),
    Column::Int("period_end"),
    Column::Int("created_at"),
    Column::Int("finalized_at"),
    Column::Int("paid_at"),
    Column::Text("payment_error"),
    Column::Text("payment_reference"),
    Column::Int("amount_refunded"),
    Column::Int("attempt_count"),
    Column::Int("due_at"),
    Column::Int("discount_amount"),
    Column::Int("tax_amount"),
    Column::Text("discounts"),
    Column::Text("taxes"),
];

/// `COLUMNS` as a select list.
static SELECTED: LazyLock<String> = LazyLock::new(|| crate::column_list(&COLUMNS));

pub async fn insert_invoices(
    c: &mut AnyConnection,
    scope: &Scope,
    invoices: &[InvoiceRow],
) -> sqlx::Result<()> {
    let mut rows = Vec::with_capacity(invoices.len());
    for r in invoices {
        rows.push(json!({
            "id": r.id, "number": r.number, "customer_id": r.customer_id,
            "subscription_id": r.subscription_id, "status": *r.status,
            "billing_reason": r.billing_reason, "currency": r.currency, "subtotal": r.subtotal,
            "total": r.total, "starting_balance": r.starting_balance, "amount_due": r.amount_due,
            "lines": r.lines.text()?, "period_start": r.period_start, "period_end": r.period_end,
            "created_at": r.created_at, "finalized_at": r.finalized_at, "paid_at": r.paid_at,
            "payment_error": r.payment_error, "payment_reference": r.payment_reference,
            "amount_refunded": r.amount_refunded, "attempt_count": r.attempt_count,
            "due_at": r.due_at, "discount_amount": r.discount_amount,
            "tax_amount": r.tax_amount, "discounts": r.discounts.text()?,
            "taxes": r.taxes.text()?,
        }));
    }
    crate::insert_rows(c, scope, "invoices", &COLUMNS, rows).await
}

/// Writes what changes over an invoice's life: status, amounts fixed at finalization, and
/// collection.
pub async fn update_invoice(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &InvoiceRow,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE invoices SET status = $4, starting_balance = $5, amount_due = $6, finalized_at = $7, paid_at = $8,
         payment_error = $9, payment_reference = $10, attempt_count = $11, due_at = $12, amount_refunded = $13
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(&r.id)
    .bind(r.status)
    .bind(r.starting_balance)
    .bind(r.amount_due)
    .bind(r.finalized_at)
    .bind(r.paid_at)
    .bind(r.payment_error.as_deref())
    .bind(r.payment_reference.as_deref())
    .bind(r.attempt_count)
    .bind(r.due_at)
    .bind(r.amount_refunded)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_invoice(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<InvoiceRow>> {
    let sql = format!(
        "SELECT {} FROM invoices WHERE tenant_id = $1 AND env = $2 AND id = $3",
        *SELECTED
    );
    scoped::query_as(sqlx::AssertSqlSafe(sql), scope)
        .bind(id)
        .fetch_optional(c)
        .await
}

/// The invoice, locked until the transaction ends, so two replicas never collect the same
/// attempt.
pub async fn claim_invoice(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    how: Claim,
) -> sqlx::Result<Option<InvoiceRow>> {
    let sql = format!(
        "SELECT {} FROM invoices WHERE tenant_id = $1 AND env = $2 AND id = $3{}",
        *SELECTED,
        crate::lock_clause(c, how)
    );
    scoped::query_as(sqlx::AssertSqlSafe(sql), scope)
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn list_invoices(
    c: &mut AnyConnection,
    scope: &Scope,
    subscription: Option<&str>,
    customer: Option<&str>,
    status: Option<InvoiceStatus>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<InvoiceRow>> {
    let sql = format!(
        "SELECT {} FROM invoices WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR subscription_id = $3) AND ($4 IS NULL OR customer_id = $4)
         AND ($5 IS NULL OR status = $5) AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7",
        *SELECTED
    );
    scoped::query_as(sqlx::AssertSqlSafe(sql), scope)
        .bind(subscription)
        .bind(customer)
        .bind(status.map(Text))
        .bind(after)
        .bind(limit)
        .fetch_all(c)
        .await
}

/// The subscription's invoices created at or after `since` and not void, oldest first.
pub async fn recent_subscription_invoices(
    c: &mut AnyConnection,
    scope: &Scope,
    subscription: &str,
    since: i64,
) -> sqlx::Result<Vec<InvoiceRow>> {
    let sql = format!(
        "SELECT {} FROM invoices WHERE tenant_id = $1 AND env = $2 AND subscription_id = $3
         AND created_at >= $4 AND status <> 'void' ORDER BY created_at, id",
        *SELECTED
    );
    scoped::query_as(sqlx::AssertSqlSafe(sql), scope)
        .bind(subscription)
        .bind(since)
        .fetch_all(c)
        .await
}

/// Takes the next `count` values of a per-tenant, per-environment counter (1, 2, 3…)
/// atomically; returns the last of them.
pub async fn next_counter(
    c: &mut AnyConnection,
    scope: &Scope,
    name: &str,
    count: i64,
) -> sqlx::Result<i64> {
    scoped::query_scalar(
        "INSERT INTO counters (tenant_id, env, name, value) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, env, name) DO UPDATE SET value = counters.value + $4 RETURNING value",
        scope,
    )
    .bind(name)
    .bind(count)
    .fetch_one(c)
    .await
}

impl From<InvoiceRow> for UpcomingInvoice {
    fn from(r: InvoiceRow) -> Self {
        UpcomingInvoice {
            lines: r.lines.0.into_iter().map(InvoiceLine::from).collect(),
            billing_reason: r.billing_reason,
            currency: r.currency,
            subtotal: r.subtotal,
            discount_amount: r.discount_amount,
            tax_amount: r.tax_amount,
            total: r.total,
            starting_balance: r.starting_balance,
            amount_due: r.amount_due,
            period_start: r.period_start,
            period_end: r.period_end,
            created_at: r.created_at,
        }
    }
}

impl From<InvoiceRow> for Invoice {
    fn from(r: InvoiceRow) -> Self {
        Invoice {
            lines: r.lines.0.into_iter().map(InvoiceLine::from).collect(),
            id: InvoiceId::from_db(r.id),
            number: r.number,
            customer: CustomerId::from_db(r.customer_id),
            subscription: r.subscription_id.map(SubscriptionId::from_db),
            status: r.status.0,
            billing_reason: r.billing_reason,
            currency: r.currency,
            subtotal: r.subtotal,
            discount_amount: r.discount_amount,
            tax_amount: r.tax_amount,
            discounts: r.discounts.0.into_iter().map(Into::into).collect(),
            taxes: r.taxes.0.into_iter().map(Into::into).collect(),
            total: r.total,
            starting_balance: r.starting_balance,
            amount_due: r.amount_due,
            period_start: r.period_start,
            period_end: r.period_end,
            created_at: r.created_at,
            finalized_at: r.finalized_at,
            paid_at: r.paid_at,
            attempt_count: r.attempt_count,
            next_action_at: r.due_at,
            payment_error: r.payment_error,
            payment_reference: r.payment_reference,
            amount_refunded: r.amount_refunded,
        }
    }
}

//! Credit notes.

use crate::columns::Text;
use crate::scoped;
use domain::billing::invoicing::CreditNoteReason;
use domain::billing::views::CreditNote;
use domain::ids::{CreditNoteId, CustomerId, InvoiceId};
use domain::tenancy::Scope;
use sqlx::{AnyConnection, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct CreditNoteRow {
    pub id: String,
    pub number: String,
    pub invoice_id: String,
    pub customer_id: String,
    pub currency: String,
    pub amount: i64,
    pub refund_amount: i64,
    pub credit_amount: i64,
    pub reason: Option<Text<CreditNoteReason>>,
    pub memo: Option<String>,
    pub created_at: i64,
}

macro_rules! credit_note_columns {
    () => {
        "id, number, invoice_id, customer_id, currency, amount, refund_amount, credit_amount, reason, memo, created_at"
    };
}

pub async fn insert_credit_note(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CreditNoteRow,
) -> sqlx::Result<()> {
    scoped::query(
        concat!(
            "INSERT INTO credit_notes (tenant_id, env, ",
            credit_note_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ),
        scope,
    )
    .bind(&r.id)
    .bind(&r.number)
    .bind(&r.invoice_id)
    .bind(&r.customer_id)
    .bind(&r.currency)
    .bind(r.amount)
    .bind(r.refund_amount)
    .bind(r.credit_amount)
    .bind(r.reason)
    .bind(r.memo.as_deref())
    .bind(r.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_credit_note(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<CreditNoteRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            credit_note_columns!(),
            " FROM credit_notes WHERE tenant_id = $1 AND env = $2 AND id = $3"
        ),
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn list_credit_notes(
    c: &mut AnyConnection,
    scope: &Scope,
    invoice: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<CreditNoteRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            credit_note_columns!(),
            " FROM credit_notes WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR invoice_id = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        ),
        scope,
    )
    .bind(invoice)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// What credit notes have credited to the customer's balance for an invoice so far.
pub async fn credited_to_balance(
    c: &mut AnyConnection,
    scope: &Scope,
    invoice: &str,
) -> sqlx::Result<i64> {
    scoped::query_scalar(
        "SELECT CAST(COALESCE(SUM(credit_amount), 0) AS BIGINT) FROM credit_notes
         WHERE tenant_id = $1 AND env = $2 AND invoice_id = $3",
        scope,
    )
    .bind(invoice)
    .fetch_one(c)
    .await
}

impl From<CreditNoteRow> for CreditNote {
    fn from(r: CreditNoteRow) -> Self {
        CreditNote {
            id: CreditNoteId::from_db(r.id),
            number: r.number,
            invoice: InvoiceId::from_db(r.invoice_id),
            customer: CustomerId::from_db(r.customer_id),
            currency: r.currency,
            amount: r.amount,
            refund_amount: r.refund_amount,
            credit_amount: r.credit_amount,
            reason: r.reason.map(|r| r.0),
            memo: r.memo,
            created_at: r.created_at,
        }
    }
}

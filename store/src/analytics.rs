//! Revenue analytics' rows: each customer's MRR as last recorded, and the movements that
//! changed it, written in the transaction of the subscription change that caused them.

use rust_decimal::Decimal;
use sqlx::{AnyConnection, FromRow};

use crate::columns::Text;
use crate::scoped;
use domain::analytics::MovementKind;
use domain::tenancy::Scope;

#[derive(Debug, Clone, FromRow)]
pub struct CustomerMrrRow {
    pub customer_id: String,
    pub currency: String,
    pub mrr: Text<Decimal>,
    pub first_paid_at: Option<i64>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct MovementRow {
    pub id: String,
    pub customer_id: String,
    pub subscription_id: String,
    pub cause: String,
    pub kind: Text<MovementKind>,
    pub currency: String,
    pub mrr_before: Text<Decimal>,
    pub mrr_after: Text<Decimal>,
    pub delta: Text<Decimal>,
    pub at: i64,
}

pub async fn customer_mrr(
    c: &mut AnyConnection,
    scope: &Scope,
    customer: &str,
) -> sqlx::Result<Option<CustomerMrrRow>> {
    scoped::query_as(
        "SELECT customer_id, currency, mrr, first_paid_at, updated_at FROM customer_mrr
         WHERE tenant_id = $1 AND env = $2 AND customer_id = $3",
        scope,
    )
    .bind(customer)
    .fetch_optional(c)
    .await
}

/// Every customer's MRR as last recorded.
pub async fn all_customer_mrr(
    c: &mut AnyConnection,
    scope: &Scope,
) -> sqlx::Result<Vec<CustomerMrrRow>> {
    scoped::query_as(
        "SELECT customer_id, currency, mrr, first_paid_at, updated_at FROM customer_mrr
         WHERE tenant_id = $1 AND env = $2",
        scope,
    )
    .fetch_all(c)
    .await
}

pub async fn upsert_customer_mrr(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CustomerMrrRow,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO customer_mrr (tenant_id, env, customer_id, currency, mrr, first_paid_at,
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, env, customer_id) DO UPDATE SET currency = $4, mrr = $5,
         first_paid_at = $6, updated_at = $7",
        scope,
    )
    .bind(&r.customer_id)
    .bind(&r.currency)
    .bind(r.mrr)
    .bind(r.first_paid_at)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn insert_movement(
    c: &mut AnyConnection,
    scope: &Scope,
    m: &MovementRow,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO mrr_movements (tenant_id, env, id, customer_id, subscription_id, cause,
         kind, currency, mrr_before, mrr_after, delta, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        scope,
    )
    .bind(&m.id)
    .bind(&m.customer_id)
    .bind(&m.subscription_id)
    .bind(&m.cause)
    .bind(m.kind)
    .bind(&m.currency)
    .bind(m.mrr_before)
    .bind(m.mrr_after)
    .bind(m.delta)
    .bind(m.at)
    .execute(c)
    .await
    .map(|_| ())
}

/// The movements in `currency` (all currencies: None) at `[from, to)`, oldest first (ties
/// in the order recorded): every figure up to `to` is a fold over those from the start.
pub async fn movements(
    c: &mut AnyConnection,
    scope: &Scope,
    currency: Option<&str>,
    (from, to): (i64, i64),
) -> sqlx::Result<Vec<MovementRow>> {
    scoped::query_as(
        "SELECT id, customer_id, subscription_id, cause, kind, currency, mrr_before, mrr_after,
         delta, at FROM mrr_movements
         WHERE tenant_id = $1 AND env = $2 AND ($3 IS NULL OR currency = $3) AND at >= $4
         AND at < $5 ORDER BY at, id",
        scope,
    )
    .bind(currency)
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await
}

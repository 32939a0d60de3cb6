//! Catalog storage: products and prices of one tenant and environment. Portable SQL; every
//! query filters on `tenant_id` and `env`.

use sqlx::{AnyConnection, FromRow};

use crate::Claim;
use domain::tenancy::Scope;

#[derive(Debug, FromRow)]
pub struct ProductRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// JSON array of features.
    pub features: String,
    /// JSON object of strings.
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

pub async fn insert_product(
    c: &mut AnyConnection,
    scope: &Scope,
    p: &ProductRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO products (id, tenant_id, env, name, description, features, metadata, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&p.id)
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&p.name)
    .bind(p.description.as_deref())
    .bind(&p.features)
    .bind(&p.metadata)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn update_product(
    c: &mut AnyConnection,
    scope: &Scope,
    p: &ProductRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE products SET name = $4, description = $5, features = $6, metadata = $7, updated_at = $8, archived_at = $9
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&p.id)
    .bind(&p.name)
    .bind(p.description.as_deref())
    .bind(&p.features)
    .bind(&p.metadata)
    .bind(p.updated_at)
    .bind(p.archived_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_product(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<ProductRow>> {
    sqlx::query_as(
        "SELECT id, name, description, features, metadata, created_at, updated_at, archived_at
         FROM products WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id)
    .fetch_optional(c)
    .await
}

/// Newest first; `active` filters on archived or not.
pub async fn list_products(
    c: &mut AnyConnection,
    scope: &Scope,
    active: Option<bool>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<ProductRow>> {
    sqlx::query_as(
        "SELECT id, name, description, features, metadata, created_at, updated_at, archived_at
         FROM products WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR ($3 = 1) = (archived_at IS NULL))
         AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(active.map(i64::from))
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

#[derive(Debug, FromRow)]
pub struct PriceRow {
    pub id: String,
    pub product_id: String,
    pub currency: String,
    pub nickname: Option<String>,
    /// JSON of `PriceTerms`.
    pub terms: String,
    pub created_at: i64,
    pub archived_at: Option<i64>,
}

pub async fn insert_price(c: &mut AnyConnection, scope: &Scope, p: &PriceRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO prices (id, tenant_id, env, product_id, currency, nickname, terms, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&p.id)
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&p.product_id)
    .bind(&p.currency)
    .bind(p.nickname.as_deref())
    .bind(&p.terms)
    .bind(p.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// Prices change only in their nickname and archival: terms are history.
pub async fn update_price(c: &mut AnyConnection, scope: &Scope, p: &PriceRow) -> sqlx::Result<()> {
    sqlx::query("UPDATE prices SET nickname = $4, archived_at = $5 WHERE tenant_id = $1 AND env = $2 AND id = $3")
        .bind(scope.org_id.as_str())
        .bind(scope.env.as_str())
        .bind(&p.id)
        .bind(p.nickname.as_deref())
        .bind(p.archived_at)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn get_price(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<PriceRow>> {
    sqlx::query_as(
        "SELECT id, product_id, currency, nickname, terms, created_at, archived_at
         FROM prices WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn list_prices(
    c: &mut AnyConnection,
    scope: &Scope,
    product: Option<&str>,
    active: Option<bool>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<PriceRow>> {
    sqlx::query_as(
        "SELECT id, product_id, currency, nickname, terms, created_at, archived_at
         FROM prices WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR product_id = $3)
         AND ($4 IS NULL OR ($4 = 1) = (archived_at IS NULL))
         AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(product)
    .bind(active.map(i64::from))
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct CustomerRow {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// JSON of `Address`.
    pub address: Option<String>,
    /// JSON array of `TaxId`.
    pub tax_ids: String,
    pub metadata: String,
    pub default_payment_method: Option<String>,
    pub currency: Option<String>,
    pub balance: i64,
    pub test_clock: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The founder's own id for the customer; usage events may name it instead of `id`.
    pub external_id: Option<String>,
}

macro_rules! customer_columns {
    () => {
        "id, name, email, address, tax_ids, metadata, default_payment_method, currency, balance, test_clock, created_at, updated_at, external_id"
    };
}

pub async fn insert_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CustomerRow,
) -> sqlx::Result<()> {
    sqlx::query(concat!(
        "INSERT INTO customers (tenant_id, env, ",
        customer_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(r.name.as_deref())
    .bind(r.email.as_deref())
    .bind(r.address.as_deref())
    .bind(&r.tax_ids)
    .bind(&r.metadata)
    .bind(r.default_payment_method.as_deref())
    .bind(r.currency.as_deref())
    .bind(r.balance)
    .bind(r.test_clock.as_deref())
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(r.external_id.as_deref())
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn update_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CustomerRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE customers SET name = $4, email = $5, address = $6, tax_ids = $7, metadata = $8,
         default_payment_method = $9, currency = $10, balance = $11, updated_at = $12,
         external_id = $13 WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(r.name.as_deref())
    .bind(r.email.as_deref())
    .bind(r.address.as_deref())
    .bind(&r.tax_ids)
    .bind(&r.metadata)
    .bind(r.default_payment_method.as_deref())
    .bind(r.currency.as_deref())
    .bind(r.balance)
    .bind(r.updated_at)
    .bind(r.external_id.as_deref())
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<CustomerRow>> {
    Ok(get_customers(c, scope, &[id]).await?.pop())
}

pub async fn get_customers(
    c: &mut AnyConnection,
    scope: &Scope,
    ids: &[&str],
) -> sqlx::Result<Vec<CustomerRow>> {
    let sql = concat!(
        "SELECT ",
        customer_columns!(),
        " FROM customers WHERE tenant_id = $1 AND env = $2 AND id IN ({keys})"
    );
    crate::fetch_in(c, scope, sql, ids).await
}

pub async fn list_customers(
    c: &mut AnyConnection,
    scope: &Scope,
    email: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<CustomerRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        customer_columns!(),
        " FROM customers WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR email = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(email)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

// ---------- test clocks ----------

#[derive(Debug, FromRow)]
pub struct TestClockRow {
    pub id: String,
    pub name: String,
    pub frozen_time: i64,
    pub created_at: i64,
}

pub async fn insert_test_clock(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &TestClockRow,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO test_clocks (id, tenant_id, env, name, frozen_time, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&r.id)
        .bind(scope.org_id.as_str())
        .bind(scope.env.as_str())
        .bind(&r.name)
        .bind(r.frozen_time)
        .bind(r.created_at)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn get_test_clock(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<TestClockRow>> {
    sqlx::query_as("SELECT id, name, frozen_time, created_at FROM test_clocks WHERE tenant_id = $1 AND env = $2 AND id = $3")
        .bind(scope.org_id.as_str())
        .bind(scope.env.as_str())
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn list_test_clocks(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<TestClockRow>> {
    sqlx::query_as(
        "SELECT id, name, frozen_time, created_at FROM test_clocks WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn set_frozen_time(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    frozen_time: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE test_clocks SET frozen_time = $4 WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id)
    .bind(frozen_time)
    .execute(c)
    .await
    .map(|_| ())
}

// ---------- subscriptions ----------

#[derive(Debug, Clone, FromRow)]
pub struct SubscriptionRow {
    pub id: String,
    pub customer_id: String,
    pub status: String,
    /// JSON array of `subscriptions::Item`.
    pub items: String,
    pub currency: String,
    pub billing_cycle_anchor: i64,
    /// Paid periods so far; the next period ends at anchor + (periods + 1) intervals.
    pub periods: i64,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub trial_end: Option<i64>,
    /// 0 or 1.
    pub cancel_at_period_end: i64,
    pub canceled_at: Option<i64>,
    pub created_at: i64,
    /// JSON array of `invoicing::Line`: prorations waiting for the next invoice.
    pub pending_lines: String,
    /// JSON `discounts::Discount`, or None.
    pub discount: Option<String>,
    /// JSON array of `discounts::AppliedTaxRate`.
    pub tax_rates: String,
}

macro_rules! subscription_columns {
    () => {
        "id, customer_id, status, items, currency, billing_cycle_anchor, periods, current_period_start, current_period_end, trial_end, cancel_at_period_end, canceled_at, created_at, pending_lines, discount, tax_rates"
    };
}

pub async fn insert_subscription(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &SubscriptionRow,
) -> sqlx::Result<()> {
    sqlx::query(concat!(
        "INSERT INTO subscriptions (tenant_id, env, ",
        subscription_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(&r.customer_id)
    .bind(&r.status)
    .bind(&r.items)
    .bind(&r.currency)
    .bind(r.billing_cycle_anchor)
    .bind(r.periods)
    .bind(r.current_period_start)
    .bind(r.current_period_end)
    .bind(r.trial_end)
    .bind(r.cancel_at_period_end)
    .bind(r.canceled_at)
    .bind(r.created_at)
    .bind(&r.pending_lines)
    .bind(r.discount.as_deref())
    .bind(&r.tax_rates)
    .execute(c)
    .await
    .map(|_| ())
}

/// Writes the state that changes over a subscription's life.
pub async fn update_subscription(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &SubscriptionRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE subscriptions SET status = $4, periods = $5, current_period_start = $6, current_period_end = $7,
         cancel_at_period_end = $8, canceled_at = $9, items = $10, billing_cycle_anchor = $11, pending_lines = $12,
         discount = $13, tax_rates = $14
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(&r.status)
    .bind(r.periods)
    .bind(r.current_period_start)
    .bind(r.current_period_end)
    .bind(r.cancel_at_period_end)
    .bind(r.canceled_at)
    .bind(&r.items)
    .bind(r.billing_cycle_anchor)
    .bind(&r.pending_lines)
    .bind(r.discount.as_deref())
    .bind(&r.tax_rates)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_subscription(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<SubscriptionRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        subscription_columns!(),
        " FROM subscriptions WHERE tenant_id = $1 AND env = $2 AND id = $3"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn list_subscriptions(
    c: &mut AnyConnection,
    scope: &Scope,
    customer: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<SubscriptionRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        subscription_columns!(),
        " FROM subscriptions WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR customer_id = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(customer)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

// ---------- invoices ----------

#[derive(Debug, Clone, FromRow)]
pub struct InvoiceRow {
    pub id: String,
    pub number: String,
    pub customer_id: String,
    pub subscription_id: Option<String>,
    pub status: String,
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
    /// JSON array of `invoicing::Line`.
    pub lines: String,
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
    /// JSON array of `discounts::InvoiceDiscount`.
    pub discounts: String,
    /// JSON array of `discounts::InvoiceTax`.
    pub taxes: String,
}

macro_rules! invoice_columns {
    () => {
        "id, number, customer_id, subscription_id, status, billing_reason, currency, subtotal, total, starting_balance, amount_due, lines, period_start, period_end, created_at, finalized_at, paid_at, payment_error, payment_reference, amount_refunded, attempt_count, due_at, discount_amount, tax_amount, discounts, taxes"
    };
}

pub async fn insert_invoices(
    c: &mut AnyConnection,
    scope: &Scope,
    invoices: &[InvoiceRow],
) -> sqlx::Result<()> {
    crate::insert_all(
        c,
        concat!(
            "INSERT INTO invoices (tenant_id, env, ",
            invoice_columns!(),
            ") VALUES"
        ),
        28,
        invoices,
        |q, r| {
            q.bind(scope.org_id.as_str())
                .bind(scope.env.as_str())
                .bind(r.id.as_str())
                .bind(r.number.as_str())
                .bind(r.customer_id.as_str())
                .bind(r.subscription_id.as_deref())
                .bind(r.status.as_str())
                .bind(r.billing_reason.as_str())
                .bind(r.currency.as_str())
                .bind(r.subtotal)
                .bind(r.total)
                .bind(r.starting_balance)
                .bind(r.amount_due)
                .bind(r.lines.as_str())
                .bind(r.period_start)
                .bind(r.period_end)
                .bind(r.created_at)
                .bind(r.finalized_at)
                .bind(r.paid_at)
                .bind(r.payment_error.as_deref())
                .bind(r.payment_reference.as_deref())
                .bind(r.amount_refunded)
                .bind(r.attempt_count)
                .bind(r.due_at)
                .bind(r.discount_amount)
                .bind(r.tax_amount)
                .bind(r.discounts.as_str())
                .bind(r.taxes.as_str())
        },
    )
    .await
}

/// Writes what changes over an invoice's life: status, amounts fixed at finalization, and
/// collection.
pub async fn update_invoice(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &InvoiceRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE invoices SET status = $4, starting_balance = $5, amount_due = $6, finalized_at = $7, paid_at = $8,
         payment_error = $9, payment_reference = $10, attempt_count = $11, due_at = $12, amount_refunded = $13
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(&r.status)
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
    sqlx::query_as(concat!(
        "SELECT ",
        invoice_columns!(),
        " FROM invoices WHERE tenant_id = $1 AND env = $2 AND id = $3"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
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
        concat!(
            "SELECT ",
            invoice_columns!(),
            " FROM invoices WHERE tenant_id = $1 AND env = $2 AND id = $3{}"
        ),
        crate::lock_clause(c, how)
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(scope.org_id.as_str())
        .bind(scope.env.as_str())
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn list_invoices(
    c: &mut AnyConnection,
    scope: &Scope,
    subscription: Option<&str>,
    customer: Option<&str>,
    status: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<InvoiceRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        invoice_columns!(),
        " FROM invoices WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR subscription_id = $3) AND ($4 IS NULL OR customer_id = $4)
         AND ($5 IS NULL OR status = $5) AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(subscription)
    .bind(customer)
    .bind(status)
    .bind(after)
    .bind(limit)
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
    sqlx::query_scalar(
        "INSERT INTO counters (tenant_id, env, name, value) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, env, name) DO UPDATE SET value = counters.value + $4 RETURNING value",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(name)
    .bind(count)
    .fetch_one(c)
    .await
}

// ---------- what falls due ----------

/// Work the scheduler does: renew a subscription, or act on an invoice (finalize, collect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Renewal(String),
    Invoice(String),
}

/// Due work of every tenant on real time (customers without a test clock), oldest first:
/// `(tenant, env, work)`. Only keys: each is claimed and done in its own scoped transaction.
pub async fn due_on_real_time<'c>(
    db: impl sqlx::AnyExecutor<'c> + Copy,
    now: i64,
    limit: i64,
) -> sqlx::Result<Vec<(String, String, Due)>> {
    let renewals: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT s.tenant_id, s.env, s.id FROM subscriptions s JOIN customers c ON c.id = s.customer_id
         WHERE s.current_period_end <= $1 AND s.status IN ('trialing', 'active', 'past_due') AND c.test_clock IS NULL
         ORDER BY s.current_period_end, s.id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let invoices: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT i.tenant_id, i.env, i.id FROM invoices i JOIN customers c ON c.id = i.customer_id
         WHERE i.due_at <= $1 AND c.test_clock IS NULL ORDER BY i.due_at, i.id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(renewals
        .into_iter()
        .map(|(t, e, id)| (t, e, Due::Renewal(id)))
        .chain(
            invoices
                .into_iter()
                .map(|(t, e, id)| (t, e, Due::Invoice(id))),
        )
        .collect())
}

/// The earliest work due by `until` on the customers that follow test clock `clock`, with
/// the time it falls due: test clocks replay time in order.
pub async fn next_due_on_clock(
    c: &mut AnyConnection,
    scope: &Scope,
    clock: &str,
    until: i64,
) -> sqlx::Result<Option<(i64, Due)>> {
    let renewal: Option<(i64, String)> = sqlx::query_as(
        "SELECT current_period_end, id FROM subscriptions WHERE tenant_id = $1 AND env = $2
         AND status IN ('trialing', 'active', 'past_due') AND current_period_end <= $4
         AND customer_id IN (SELECT id FROM customers WHERE tenant_id = $1 AND env = $2 AND test_clock = $3)
         ORDER BY current_period_end, id LIMIT 1",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(clock)
    .bind(until)
    .fetch_optional(&mut *c)
    .await?;
    let invoice: Option<(i64, String)> = sqlx::query_as(
        "SELECT due_at, id FROM invoices WHERE tenant_id = $1 AND env = $2 AND due_at <= $4
         AND customer_id IN (SELECT id FROM customers WHERE tenant_id = $1 AND env = $2 AND test_clock = $3)
         ORDER BY due_at, id LIMIT 1",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(clock)
    .bind(until)
    .fetch_optional(c)
    .await?;
    // A renewal first when both fall due together: its invoice then joins the queue.
    Ok(match (renewal, invoice) {
        (Some((r, id)), Some((i, _))) if r <= i => Some((r, Due::Renewal(id))),
        (_, Some((i, id))) => Some((i, Due::Invoice(id))),
        (Some((r, id)), None) => Some((r, Due::Renewal(id))),
        (None, None) => None,
    })
}

/// The subscription, locked until the transaction ends, so two replicas never renew the
/// same period.
pub async fn claim_subscription(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    how: Claim,
) -> sqlx::Result<Option<SubscriptionRow>> {
    Ok(claim_subscriptions(c, scope, &[id], how).await?.pop())
}

/// `claim_subscription` for many: with `Claim::Skip`, those another transaction holds are
/// left out.
pub async fn claim_subscriptions(
    c: &mut AnyConnection,
    scope: &Scope,
    ids: &[&str],
    how: Claim,
) -> sqlx::Result<Vec<SubscriptionRow>> {
    let sql = format!(
        concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE tenant_id = $1 AND env = $2 AND id IN ({{keys}}){}"
        ),
        crate::lock_clause(c, how)
    );
    crate::fetch_in(c, scope, &sql, ids).await
}

// ---------- settings ----------

#[derive(Debug, FromRow)]
pub struct SettingsRow {
    /// JSON array of days after finalization.
    pub retry_days: String,
    pub final_action: String,
    pub updated_at: i64,
}

pub async fn get_settings(
    c: &mut AnyConnection,
    scope: &Scope,
) -> sqlx::Result<Option<SettingsRow>> {
    sqlx::query_as(
        "SELECT retry_days, final_action, updated_at FROM billing_settings WHERE tenant_id = $1 AND env = $2",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .fetch_optional(c)
    .await
}

pub async fn put_settings(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &SettingsRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO billing_settings (tenant_id, env, retry_days, final_action, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, env) DO UPDATE SET retry_days = $3, final_action = $4, updated_at = $5",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.retry_days)
    .bind(&r.final_action)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

// ---------- coupons, promotion codes, tax rates ----------

#[derive(Debug, Clone, FromRow)]
pub struct CouponRow {
    pub id: String,
    pub name: Option<String>,
    /// Exact decimal string, or None for an amount coupon.
    pub percent_off: Option<String>,
    pub amount_off: Option<i64>,
    pub currency: Option<String>,
    /// `once`, `repeating` or `forever`.
    pub duration: String,
    pub duration_in_months: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub redeem_by: Option<i64>,
    pub times_redeemed: i64,
    pub created_at: i64,
    pub archived_at: Option<i64>,
}

macro_rules! coupon_columns {
    () => {
        "id, name, percent_off, amount_off, currency, duration, duration_in_months, max_redemptions, redeem_by, times_redeemed, created_at, archived_at"
    };
}

pub async fn insert_coupon(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CouponRow,
) -> sqlx::Result<()> {
    sqlx::query(concat!(
        "INSERT INTO coupons (tenant_id, env, ",
        coupon_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(r.name.as_deref())
    .bind(r.percent_off.as_deref())
    .bind(r.amount_off)
    .bind(r.currency.as_deref())
    .bind(&r.duration)
    .bind(r.duration_in_months)
    .bind(r.max_redemptions)
    .bind(r.redeem_by)
    .bind(r.times_redeemed)
    .bind(r.created_at)
    .bind(r.archived_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// Writes what may change: the name and archival.
pub async fn update_coupon(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CouponRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE coupons SET name = $4, archived_at = $5 WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(r.name.as_deref())
    .bind(r.archived_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_coupon(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<CouponRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        coupon_columns!(),
        " FROM coupons WHERE tenant_id = $1 AND env = $2 AND id = $3"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn list_coupons(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<CouponRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        coupon_columns!(),
        " FROM coupons WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Counts one redemption unless the coupon reached `max_redemptions`; false if it had.
/// One statement, so concurrent redemptions never exceed the limit.
pub async fn redeem_coupon(c: &mut AnyConnection, scope: &Scope, id: &str) -> sqlx::Result<bool> {
    sqlx::query(
        "UPDATE coupons SET times_redeemed = times_redeemed + 1
         WHERE tenant_id = $1 AND env = $2 AND id = $3
         AND (max_redemptions IS NULL OR times_redeemed < max_redemptions)",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct PromotionCodeRow {
    pub id: String,
    pub coupon_id: String,
    /// Upper-case.
    pub code: String,
    /// 0 or 1.
    pub active: i64,
    pub max_redemptions: Option<i64>,
    pub expires_at: Option<i64>,
    pub times_redeemed: i64,
    pub created_at: i64,
}

macro_rules! promotion_code_columns {
    () => {
        "id, coupon_id, code, active, max_redemptions, expires_at, times_redeemed, created_at"
    };
}

pub async fn insert_promotion_code(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &PromotionCodeRow,
) -> sqlx::Result<()> {
    sqlx::query(concat!(
        "INSERT INTO promotion_codes (tenant_id, env, ",
        promotion_code_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(&r.coupon_id)
    .bind(&r.code)
    .bind(r.active)
    .bind(r.max_redemptions)
    .bind(r.expires_at)
    .bind(r.times_redeemed)
    .bind(r.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn update_promotion_code(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &PromotionCodeRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE promotion_codes SET active = $4 WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(r.active)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_promotion_code(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<PromotionCodeRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        promotion_code_columns!(),
        " FROM promotion_codes WHERE tenant_id = $1 AND env = $2 AND id = $3"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id)
    .fetch_optional(c)
    .await
}

/// `code` upper-case, as stored.
pub async fn find_promotion_code(
    c: &mut AnyConnection,
    scope: &Scope,
    code: &str,
) -> sqlx::Result<Option<PromotionCodeRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        promotion_code_columns!(),
        " FROM promotion_codes WHERE tenant_id = $1 AND env = $2 AND code = $3"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(code)
    .fetch_optional(c)
    .await
}

pub async fn list_promotion_codes(
    c: &mut AnyConnection,
    scope: &Scope,
    code: Option<&str>,
    active: Option<bool>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<PromotionCodeRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        promotion_code_columns!(),
        " FROM promotion_codes WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR code = $3) AND ($4 IS NULL OR active = $4)
         AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(code)
    .bind(active.map(i64::from))
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Like `redeem_coupon`, for a promotion code.
pub async fn redeem_promotion_code(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<bool> {
    sqlx::query(
        "UPDATE promotion_codes SET times_redeemed = times_redeemed + 1
         WHERE tenant_id = $1 AND env = $2 AND id = $3
         AND (max_redemptions IS NULL OR times_redeemed < max_redemptions)",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct TaxRateRow {
    pub id: String,
    pub display_name: String,
    /// Exact decimal string, 0 to 100.
    pub percentage: String,
    pub jurisdiction: Option<String>,
    /// 0 or 1.
    pub active: i64,
    pub created_at: i64,
}

macro_rules! tax_rate_columns {
    () => {
        "id, display_name, percentage, jurisdiction, active, created_at"
    };
}

pub async fn insert_tax_rate(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &TaxRateRow,
) -> sqlx::Result<()> {
    sqlx::query(concat!(
        "INSERT INTO tax_rates (tenant_id, env, ",
        tax_rate_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(&r.display_name)
    .bind(&r.percentage)
    .bind(r.jurisdiction.as_deref())
    .bind(r.active)
    .bind(r.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn update_tax_rate(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &TaxRateRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE tax_rates SET display_name = $4, active = $5 WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(&r.display_name)
    .bind(r.active)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_tax_rate(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<TaxRateRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        tax_rate_columns!(),
        " FROM tax_rates WHERE tenant_id = $1 AND env = $2 AND id = $3"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn list_tax_rates(
    c: &mut AnyConnection,
    scope: &Scope,
    active: Option<bool>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<TaxRateRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        tax_rate_columns!(),
        " FROM tax_rates WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR active = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(active.map(i64::from))
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

// ---------- credit notes ----------

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
    pub reason: Option<String>,
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
    sqlx::query(concat!(
        "INSERT INTO credit_notes (tenant_id, env, ",
        credit_note_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(&r.number)
    .bind(&r.invoice_id)
    .bind(&r.customer_id)
    .bind(&r.currency)
    .bind(r.amount)
    .bind(r.refund_amount)
    .bind(r.credit_amount)
    .bind(r.reason.as_deref())
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
    sqlx::query_as(concat!(
        "SELECT ",
        credit_note_columns!(),
        " FROM credit_notes WHERE tenant_id = $1 AND env = $2 AND id = $3"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
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
    sqlx::query_as(concat!(
        "SELECT ",
        credit_note_columns!(),
        " FROM credit_notes WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR invoice_id = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
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
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(credit_amount), 0) AS BIGINT) FROM credit_notes
         WHERE tenant_id = $1 AND env = $2 AND invoice_id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(invoice)
    .fetch_one(c)
    .await
}

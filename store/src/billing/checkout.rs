//! Hosted checkout sessions and pricing tables.

use sqlx::{AnyConnection, FromRow};

use crate::columns::{Json, Text};
use crate::scoped;
use domain::billing::checkout::{
    CheckoutMode, CheckoutSession, CheckoutStatus, PricingTableConfig,
};
use domain::billing::views::SubscriptionItem;
use domain::ids::{
    CheckoutSessionId, CustomerId, InvoiceId, PricingTableId, SubscriptionId, TaxRateId,
};
use domain::tenancy::Scope;

#[derive(Debug, Clone, FromRow)]
pub struct CheckoutRow {
    pub id: String,
    pub tenant_id: String,
    pub env: String,
    /// SHA-256 of the page's token.
    pub token_hash: String,
    pub mode: Text<CheckoutMode>,
    pub status: Text<CheckoutStatus>,
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    pub line_items: Json<Vec<SubscriptionItem>>,
    pub currency: Option<String>,
    pub trial_days: Option<i64>,
    /// 0 or 1.
    pub allow_promotion_codes: i64,
    /// Entered on the page.
    pub promotion_code: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    pub test_clock: Option<String>,
    pub pricing_table_id: Option<String>,
    pub subscription_id: Option<String>,
    pub invoice_id: Option<String>,
    /// The Stripe Checkout Session the customer was last sent to, when Stripe collects.
    pub stripe_session_id: Option<String>,
    /// The tax rates its subscription or invoice is taxed with.
    pub tax_rates: Json<Vec<TaxRateId>>,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
    pub created_at: i64,
}

impl CheckoutRow {
    /// The session's state at `now`: an open one past its time is expired.
    pub fn status_at(&self, now: i64) -> CheckoutStatus {
        match self.status.0 {
            CheckoutStatus::Open if now >= self.expires_at => CheckoutStatus::Expired,
            status => status,
        }
    }

    /// As the API shows it at `now`; `url` only when it is made.
    pub fn shown(&self, now: i64, url: Option<String>) -> CheckoutSession {
        CheckoutSession {
            id: CheckoutSessionId::from_db(self.id.clone()),
            mode: self.mode.0,
            status: self.status_at(now),
            url,
            customer: self.customer_id.clone().map(CustomerId::from_db),
            customer_email: self.customer_email.clone(),
            line_items: self.line_items.0.clone(),
            currency: self.currency.clone(),
            trial_days: self.trial_days,
            allow_promotion_codes: self.allow_promotion_codes == 1,
            promotion_code: self.promotion_code.clone(),
            success_url: self.success_url.clone(),
            cancel_url: self.cancel_url.clone(),
            pricing_table: self.pricing_table_id.clone().map(PricingTableId::from_db),
            subscription: self.subscription_id.clone().map(SubscriptionId::from_db),
            invoice: self.invoice_id.clone().map(InvoiceId::from_db),
            tax_rates: self.tax_rates.0.clone(),
            expires_at: self.expires_at,
            completed_at: self.completed_at,
            created_at: self.created_at,
        }
    }
}

const COLUMNS: &str = "id, tenant_id, env, token_hash, mode, status, customer_id, customer_email, line_items, currency, trial_days, allow_promotion_codes, promotion_code, success_url, cancel_url, test_clock, pricing_table_id, subscription_id, invoice_id, stripe_session_id, tax_rates, expires_at, completed_at, created_at";

pub async fn insert_checkout(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CheckoutRow,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO checkout_sessions (tenant_id, env, id, token_hash, mode, status, customer_id,
         customer_email, line_items, currency, trial_days, allow_promotion_codes, success_url,
         cancel_url, test_clock, pricing_table_id, tax_rates, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19)",
        scope,
    )
    .bind(&r.id)
    .bind(&r.token_hash)
    .bind(r.mode)
    .bind(r.status)
    .bind(&r.customer_id)
    .bind(&r.customer_email)
    .bind(&r.line_items)
    .bind(&r.currency)
    .bind(r.trial_days)
    .bind(r.allow_promotion_codes)
    .bind(&r.success_url)
    .bind(&r.cancel_url)
    .bind(&r.test_clock)
    .bind(&r.pricing_table_id)
    .bind(&r.tax_rates)
    .bind(r.expires_at)
    .bind(r.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_checkout(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<CheckoutRow>> {
    scoped::query_as(
        sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM checkout_sessions WHERE tenant_id = $1 AND env = $2 AND id = $3"
        )),
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

/// The session a page's token opens, whoever's it is: the token is the credential, so this
/// reads across tenants, before any scope is known.
pub async fn find_checkout<'c>(
    db: impl sqlx::AnyExecutor<'c>,
    token_hash: &str,
) -> sqlx::Result<Option<CheckoutRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM checkout_sessions WHERE token_hash = $1"
    )))
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

pub async fn set_checkout_promotion_code(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    code: Option<&str>,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE checkout_sessions SET promotion_code = $4
         WHERE tenant_id = $1 AND env = $2 AND id = $3 AND status = 'open'",
        scope,
    )
    .bind(id)
    .bind(code)
    .execute(c)
    .await
    .map(|_| ())
}

/// Remembers the Stripe Checkout Session an open session sent its customer to.
pub async fn set_checkout_stripe_session(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    stripe_session: &str,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE checkout_sessions SET stripe_session_id = $4
         WHERE tenant_id = $1 AND env = $2 AND id = $3 AND status = 'open'",
        scope,
    )
    .bind(id)
    .bind(stripe_session)
    .execute(c)
    .await
    .map(|_| ())
}

/// Moves an open session to `to` (complete or expired) with what completing it made: a
/// compare-and-set, so a session completes once however often its page is submitted. True
/// if this call moved it.
pub async fn settle_checkout(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CheckoutRow,
) -> sqlx::Result<bool> {
    let done = scoped::query(
        "UPDATE checkout_sessions SET status = $4, customer_id = $5, subscription_id = $6,
         invoice_id = $7, completed_at = $8
         WHERE tenant_id = $1 AND env = $2 AND id = $3 AND status = 'open'",
        scope,
    )
    .bind(&r.id)
    .bind(r.status)
    .bind(&r.customer_id)
    .bind(&r.subscription_id)
    .bind(&r.invoice_id)
    .bind(r.completed_at)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct PricingTableRow {
    pub id: String,
    pub tenant_id: String,
    pub env: String,
    pub config: Json<PricingTableConfig>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert_pricing_table(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &PricingTableRow,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO pricing_tables (tenant_id, env, id, config, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        scope,
    )
    .bind(&r.id)
    .bind(&r.config)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_pricing_table(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<PricingTableRow>> {
    scoped::query_as(
        "SELECT id, tenant_id, env, config, created_at, updated_at FROM pricing_tables
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

/// A published table by its id alone: pricing tables are public pages.
pub async fn find_pricing_table<'c>(
    db: impl sqlx::AnyExecutor<'c>,
    id: &str,
) -> sqlx::Result<Option<PricingTableRow>> {
    sqlx::query_as(
        "SELECT id, tenant_id, env, config, created_at, updated_at FROM pricing_tables WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

//! Subscriptions.

use crate::Claim;
use crate::columns::{Json, Text};
use crate::scoped;
use domain::billing::discounts::{AppliedTaxRate, Discount};
use domain::billing::invoicing::Line;
use domain::billing::status::SubscriptionStatus;
use domain::billing::subscriptions::{Item, MissingPaymentMethod, TrialEndBehavior, TrialSettings};
use domain::billing::views::{InvoiceLine, Subscription, SubscriptionDiscount, SubscriptionItem};
use domain::ids::{CustomerId, PriceId, SubscriptionId, TaxRateId};
use domain::tenancy::Scope;
use sqlx::{AnyConnection, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct SubscriptionRow {
    pub id: String,
    pub customer_id: String,
    pub status: Text<SubscriptionStatus>,
    pub items: Json<Vec<Item>>,
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
    /// Prorations waiting for the next invoice.
    pub pending_lines: Json<Vec<Line>>,
    pub discount: Option<Json<Discount>>,
    pub tax_rates: Json<Vec<AppliedTaxRate>>,
    pub missing_payment_method: Text<MissingPaymentMethod>,
    /// When `subscription.trial_will_end` is due; None once sent, or without a trial.
    pub trial_will_end_at: Option<i64>,
    /// Why its customer canceled it, when they said (the customer portal asks).
    pub cancellation_reason: Option<String>,
}

macro_rules! subscription_columns {
    () => {
        "id, customer_id, status, items, currency, billing_cycle_anchor, periods, current_period_start, current_period_end, trial_end, cancel_at_period_end, canceled_at, created_at, pending_lines, discount, tax_rates, missing_payment_method, trial_will_end_at, cancellation_reason"
    };
}

pub async fn insert_subscription(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &SubscriptionRow,
) -> sqlx::Result<()> {
    scoped::query(concat!(
        "INSERT INTO subscriptions (tenant_id, env, ",
        subscription_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    ),
        scope,
    )
    .bind(&r.id)
    .bind(&r.customer_id)
    .bind(r.status)
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
    .bind(&r.discount)
    .bind(&r.tax_rates)
    .bind(r.missing_payment_method)
    .bind(r.trial_will_end_at)
    .bind(&r.cancellation_reason)
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
    scoped::query(
        "UPDATE subscriptions SET status = $4, periods = $5, current_period_start = $6, current_period_end = $7,
         cancel_at_period_end = $8, canceled_at = $9, items = $10, billing_cycle_anchor = $11, pending_lines = $12,
         discount = $13, tax_rates = $14, trial_will_end_at = $15, cancellation_reason = $16
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(&r.id)
    .bind(r.status)
    .bind(r.periods)
    .bind(r.current_period_start)
    .bind(r.current_period_end)
    .bind(r.cancel_at_period_end)
    .bind(r.canceled_at)
    .bind(&r.items)
    .bind(r.billing_cycle_anchor)
    .bind(&r.pending_lines)
    .bind(&r.discount)
    .bind(&r.tax_rates)
    .bind(r.trial_will_end_at)
    .bind(&r.cancellation_reason)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_subscription(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<SubscriptionRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE tenant_id = $1 AND env = $2 AND id = $3"
        ),
        scope,
    )
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
    scoped::query_as(
        concat!(
        "SELECT ",
        subscription_columns!(),
        " FROM subscriptions WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR customer_id = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    ),
        scope,
    )
    .bind(customer)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
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

impl From<SubscriptionRow> for Subscription {
    fn from(r: SubscriptionRow) -> Self {
        Subscription {
            discount: r.discount.map(|d| SubscriptionDiscount::from(d.0)),
            default_tax_rates: r
                .tax_rates
                .0
                .into_iter()
                .map(|t| TaxRateId::from_db(t.id))
                .collect(),
            id: SubscriptionId::from_db(r.id),
            customer: CustomerId::from_db(r.customer_id),
            status: r.status.0,
            items: r
                .items
                .0
                .into_iter()
                .map(|i| SubscriptionItem {
                    price: PriceId::from_db(i.price),
                    quantity: i.quantity,
                })
                .collect(),
            currency: r.currency,
            billing_cycle_anchor: r.billing_cycle_anchor,
            current_period_start: r.current_period_start,
            current_period_end: r.current_period_end,
            trial_end: r.trial_end,
            cancel_at_period_end: r.cancel_at_period_end == 1,
            cancellation_reason: r.cancellation_reason,
            trial_settings: TrialSettings {
                end_behavior: TrialEndBehavior {
                    missing_payment_method: r.missing_payment_method.0,
                },
            },
            canceled_at: r.canceled_at,
            created_at: r.created_at,
            pending_lines: r
                .pending_lines
                .0
                .into_iter()
                .map(InvoiceLine::from)
                .collect(),
        }
    }
}

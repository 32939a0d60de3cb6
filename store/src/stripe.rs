//! Stripe storage: the provider configuration, Stripe customers, handled webhook events and
//! which invoice a PaymentIntent collects. Portable SQL; every query filters on `tenant_id`
//! and `env`.

use crate::scoped;
use sqlx::{AnyConnection, FromRow};

use domain::tenancy::Scope;

#[derive(Debug, FromRow)]
pub struct ProviderRow {
    pub provider: String,
    /// Sealed (`crypto::MasterKey::seal`); never in clear here.
    pub secret_key_sealed: String,
    pub webhook_secret_sealed: String,
    pub key_hint: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn get_provider(
    c: &mut AnyConnection,
    scope: &Scope,
) -> sqlx::Result<Option<ProviderRow>> {
    scoped::query_as(
        "SELECT provider, secret_key_sealed, webhook_secret_sealed, key_hint, created_at, updated_at
         FROM payment_providers WHERE tenant_id = $1 AND env = $2",
        scope,
    )
    .fetch_optional(c)
    .await
}

/// Inserts or replaces the scope's provider (keeping its `created_at`).
pub async fn upsert_provider(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &ProviderRow,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO payment_providers (tenant_id, env, provider, secret_key_sealed, webhook_secret_sealed, key_hint, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant_id, env) DO UPDATE SET provider = excluded.provider,
             secret_key_sealed = excluded.secret_key_sealed,
             webhook_secret_sealed = excluded.webhook_secret_sealed,
             key_hint = excluded.key_hint, updated_at = excluded.updated_at",
        scope,
    )
    .bind(&r.provider)
    .bind(&r.secret_key_sealed)
    .bind(&r.webhook_secret_sealed)
    .bind(&r.key_hint)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// Whether there was one to delete.
pub async fn delete_provider(c: &mut AnyConnection, scope: &Scope) -> sqlx::Result<bool> {
    scoped::query(
        "DELETE FROM payment_providers WHERE tenant_id = $1 AND env = $2",
        scope,
    )
    .execute(c)
    .await
    .map(|r| r.rows_affected() > 0)
}

/// The Stripe customer id (`cus_…`) of a NeoForge customer.
pub async fn stripe_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    customer_id: &str,
) -> sqlx::Result<Option<String>> {
    scoped::query_scalar(
        "SELECT stripe_customer_id FROM stripe_customers WHERE tenant_id = $1 AND env = $2 AND customer_id = $3",
        scope,
    )
    .bind(customer_id)
    .fetch_optional(c)
    .await
}

/// The NeoForge customer of a Stripe customer id.
pub async fn customer_of_stripe_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    stripe_customer_id: &str,
) -> sqlx::Result<Option<String>> {
    scoped::query_scalar(
        "SELECT customer_id FROM stripe_customers WHERE tenant_id = $1 AND env = $2 AND stripe_customer_id = $3",
        scope,
    )
    .bind(stripe_customer_id)
    .fetch_optional(c)
    .await
}

/// Records the Stripe customer unless one was recorded meanwhile; returns the one that holds.
pub async fn insert_stripe_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    customer_id: &str,
    stripe_customer_id: &str,
    now: i64,
) -> sqlx::Result<String> {
    scoped::query(
        "INSERT INTO stripe_customers (tenant_id, env, customer_id, stripe_customer_id, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, env, customer_id) DO NOTHING",
        scope,
    )
    .bind(customer_id)
    .bind(stripe_customer_id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(stripe_customer(c, scope, customer_id)
        .await?
        .unwrap_or_else(|| stripe_customer_id.to_owned()))
}

/// Claims a webhook event: true the first time, false for a redelivery.
pub async fn claim_event(
    c: &mut AnyConnection,
    scope: &Scope,
    event_id: &str,
    kind: &str,
    now: i64,
) -> sqlx::Result<bool> {
    scoped::query(
        "INSERT INTO stripe_events (tenant_id, env, event_id, type, received_at, processed)
         VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (tenant_id, env, event_id) DO NOTHING",
        scope,
    )
    .bind(event_id)
    .bind(kind)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected() == 1)
}

pub async fn mark_event_processed(
    c: &mut AnyConnection,
    scope: &Scope,
    event_id: &str,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE stripe_events SET processed = 1 WHERE tenant_id = $1 AND env = $2 AND event_id = $3",
        scope,
    )
    .bind(event_id)
    .execute(c)
    .await
    .map(|_| ())
}

/// Remembers which invoice a PaymentIntent collects (first writer wins).
pub async fn remember_payment_intent(
    c: &mut AnyConnection,
    scope: &Scope,
    payment_intent_id: &str,
    invoice_id: &str,
    now: i64,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO stripe_payment_intents (tenant_id, env, payment_intent_id, invoice_id, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, env, payment_intent_id) DO NOTHING",
        scope,
    )
    .bind(payment_intent_id)
    .bind(invoice_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn invoice_of_payment_intent(
    c: &mut AnyConnection,
    scope: &Scope,
    payment_intent_id: &str,
) -> sqlx::Result<Option<String>> {
    scoped::query_scalar(
        "SELECT invoice_id FROM stripe_payment_intents WHERE tenant_id = $1 AND env = $2 AND payment_intent_id = $3",
        scope,
    )
    .bind(payment_intent_id)
    .fetch_optional(c)
    .await
}

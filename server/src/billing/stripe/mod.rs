//! Stripe as a tenant's payment provider, through async-stripe. NeoForge stays the billing
//! engine (it decides what is owed and when); Stripe only holds payment methods and moves
//! money. Each tenant brings its own Stripe account per environment: the secret key and the
//! webhook signing secret are sealed at rest (`crypto.rs`, table `payment_providers`).
//!
//! What the collection flow calls (none of it touches the database, so no transaction is held
//! across a network call; `ensure_customer` is the exception, and commits its own mapping):
//! - [`StripeProvider::load`]: the scope's provider, `None` when it uses the simulated one;
//! - [`StripeProvider::ensure_customer`]: the Stripe customer of a NeoForge customer;
//! - [`StripeProvider::charge`]: an off-session, confirmed PaymentIntent for an invoice, under
//!   an idempotency key, so retrying an attempt never charges twice;
//! - [`StripeProvider::refund`].
//!
//! Webhooks (`billing::api::stripe_webhooks`) then drive the invoice through
//! `billing::collection_hooks`, whatever the synchronous outcome said.

pub mod checkout;

use std::collections::HashMap;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionSetupIntentData,
};
use stripe_core::customer::CreateCustomer;
use stripe_core::payment_intent::{CreatePaymentIntent, CreatePaymentIntentOffSession};
use stripe_core::refund::CreateRefund;
use stripe_core::setup_intent::RetrieveSetupIntent;
use stripe_core::{PaymentIntent, PaymentIntentStatus};

use crate::app::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;
use domain::billing::payments::Outcome;
use domain::crypto::MasterKey;
use store::billing::CustomerRow;

/// A Stripe call that did not produce an outcome: retry later (network, 5xx, rate limit), or
/// fix the configuration (bad key: 401/403, invalid request: 400).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("Stripe is unreachable or failed: {0}")]
    Transient(String),
    #[error("Stripe refused the request ({status}): {message}")]
    Rejected { status: u16, message: String },
}

impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> Self {
        ApiError::PaymentProvider(e.to_string())
    }
}

fn provider_error(e: StripeError) -> ProviderError {
    match e {
        StripeError::Stripe(err, status) if (400..500).contains(&status) && status != 429 => {
            ProviderError::Rejected {
                status,
                message: err.message.unwrap_or_else(|| "no message".into()),
            }
        }
        StripeError::Stripe(err, status) => ProviderError::Transient(format!(
            "status {status}: {}",
            err.message.unwrap_or_default()
        )),
        other => ProviderError::Transient(other.to_string()),
    }
}

fn idempotency(key: &str) -> Result<RequestStrategy, ProviderError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| ProviderError::Transient(format!("bad idempotency key: {e}")))
}

/// A currency code as async-stripe types it (its parse cannot fail: unknown codes are kept).
fn stripe_currency(code: &str) -> stripe_types::Currency {
    code.parse().unwrap_or_else(|e| match e {})
}

/// The sealed values' associated data: a secret opens only in the row it was sealed for.
pub fn seal_context(scope: &Scope, column: &str) -> String {
    format!("{}/{}/{column}", scope.org_id.as_str(), scope.env.as_str())
}

/// The scope's Stripe secrets, opened.
pub struct StripeSecrets {
    pub secret_key: String,
    pub webhook_secret: String,
}

impl std::fmt::Debug for StripeSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StripeSecrets(***)")
    }
}

/// Opens a stored provider row.
pub fn open_secrets(
    key: &MasterKey,
    scope: &Scope,
    row: &store::stripe::ProviderRow,
) -> ApiResult<StripeSecrets> {
    Ok(StripeSecrets {
        secret_key: key.open(&seal_context(scope, "secret_key"), &row.secret_key_sealed)?,
        webhook_secret: key.open(
            &seal_context(scope, "webhook_secret"),
            &row.webhook_secret_sealed,
        )?,
    })
}

/// A Stripe client for one tenant and environment.
#[derive(Debug, Clone)]
pub struct StripeProvider {
    client: Client,
    scope: Scope,
}

/// A Checkout Session to send the customer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
}

impl StripeProvider {
    pub fn new(scope: Scope, secret_key: &str, api_base: &str) -> Result<Self, ProviderError> {
        let client = ClientBuilder::new(secret_key)
            .url(api_base)
            .timeout(std::time::Duration::from_secs(30))
            .app_info("NeoForge", Some(env!("CARGO_PKG_VERSION").to_owned()), None)
            .build()
            .map_err(|e| ProviderError::Transient(format!("Stripe client: {e}")))?;
        Ok(StripeProvider { client, scope })
    }

    /// The scope's Stripe provider, or `None` when it has none configured (the simulated
    /// provider collects). Fails with `encryption_key_missing` when the secrets cannot be
    /// opened for want of the master key.
    pub async fn load(state: &AppState, scope: &Scope) -> ApiResult<Option<StripeProvider>> {
        let mut conn = state.db.read_scoped(scope).await?;
        let row = store::stripe::get_provider(&mut conn, scope).await?;
        conn.end();
        let Some(row) = row else { return Ok(None) };
        let secrets = open_secrets(crate::app::master_key(state)?, scope, &row)?;
        Ok(Some(StripeProvider::new(
            scope.clone(),
            &secrets.secret_key,
            &state.payments.stripe_api_base,
        )?))
    }

    fn metadata(&self, pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        m.insert(
            "neoforge_tenant".into(),
            self.scope.org_id.as_str().to_owned(),
        );
        m.insert("neoforge_env".into(), self.scope.env.as_str().to_owned());
        m
    }

    /// The Stripe customer (`cus_…`) of `customer`, created on first use and remembered in
    /// `stripe_customers`. Creation carries an idempotency key derived from the customer, so
    /// concurrent first uses make one Stripe customer.
    pub async fn ensure_customer(
        &self,
        state: &AppState,
        customer: &CustomerRow,
    ) -> ApiResult<String> {
        let mut conn = state.db.read_scoped(&self.scope).await?;
        let known = store::stripe::stripe_customer(&mut conn, &self.scope, &customer.id).await?;
        conn.end();
        if let Some(known) = known {
            return Ok(known);
        }
        let mut req =
            CreateCustomer::new().metadata(self.metadata(&[("neoforge_customer", &customer.id)]));
        if let Some(name) = &customer.name {
            req = req.name(name.as_str());
        }
        if let Some(email) = &customer.email {
            req = req.email(email.as_str());
        }
        let created = req
            .customize()
            .request_strategy(idempotency(&format!("neoforge-customer-{}", customer.id))?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        let mut tx = state.db.write_scoped(&self.scope).await?;
        let id = store::stripe::insert_stripe_customer(
            &mut tx,
            &self.scope,
            &customer.id,
            created.id.as_str(),
            state.clock.now_ms(),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A Checkout Session in `setup` mode: Stripe collects a payment method for later
    /// off-session charges. Its SetupIntent carries `neoforge_customer` in its metadata.
    pub async fn checkout_setup_session(
        &self,
        stripe_customer: &str,
        customer_id: &str,
        currency: &str,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<CheckoutSession, ProviderError> {
        let metadata = self.metadata(&[("neoforge_customer", customer_id)]);
        let mut setup = CreateCheckoutSessionSetupIntentData::new();
        setup.metadata = Some(metadata.clone());
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Setup)
            .customer(stripe_customer)
            .currency(stripe_currency(currency))
            .success_url(success_url)
            .cancel_url(cancel_url)
            .client_reference_id(customer_id)
            .metadata(metadata)
            .setup_intent_data(setup)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        let url = session
            .url
            .ok_or_else(|| ProviderError::Transient("Checkout Session without a url".into()))?;
        Ok(CheckoutSession {
            id: session.id.as_str().to_owned(),
            url,
        })
    }

    /// Charges `amount` (minor units of `currency`) to `payment_method` off-session for
    /// `invoice_id`. The same `idempotency_key` always answers the same PaymentIntent: use one
    /// per collection attempt (e.g. `"{invoice_id}-{attempt}"`).
    pub async fn charge(
        &self,
        invoice_id: &str,
        stripe_customer: &str,
        payment_method: &str,
        amount: i64,
        currency: &str,
        idempotency_key: &str,
    ) -> Result<Outcome, ProviderError> {
        let result = CreatePaymentIntent::new(amount, stripe_currency(currency))
            .customer(stripe_customer)
            .payment_method(payment_method)
            .confirm(true)
            .off_session(CreatePaymentIntentOffSession::Bool(true))
            .metadata(self.metadata(&[("neoforge_invoice", invoice_id)]))
            .customize()
            .request_strategy(idempotency(idempotency_key)?)
            .send(&self.client)
            .await;
        match result {
            Ok(pi) => Ok(outcome_of(&pi)),
            Err(StripeError::Stripe(err, status))
                if status == 402 || matches!(err.type_, stripe::ApiErrorsType::CardError) =>
            {
                let code = err
                    .decline_code
                    .clone()
                    .or_else(|| err.code.as_ref().map(|c| c.as_str().to_owned()))
                    .unwrap_or_else(|| "card_declined".into());
                Ok(Outcome::Failed { code })
            }
            Err(e) => Err(provider_error(e)),
        }
    }

    /// Refunds `amount` (all when `None`) of a PaymentIntent; returns the refund (`re_…`).
    pub async fn refund(
        &self,
        payment_intent: &str,
        amount: Option<i64>,
        idempotency_key: &str,
    ) -> Result<String, ProviderError> {
        let mut req = CreateRefund::new().payment_intent(payment_intent);
        if let Some(amount) = amount {
            req = req.amount(amount);
        }
        let refund = req
            .customize()
            .request_strategy(idempotency(idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        Ok(refund.id.as_str().to_owned())
    }

    /// The payment method a SetupIntent saved, if it succeeded.
    pub async fn setup_intent_payment_method(
        &self,
        setup_intent: &str,
    ) -> Result<Option<String>, ProviderError> {
        let si = RetrieveSetupIntent::new(setup_intent)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        if si.status.as_str() != "succeeded" {
            return Ok(None);
        }
        Ok(si.payment_method.map(|pm| pm.id().as_str().to_owned()))
    }
}

fn outcome_of(pi: &PaymentIntent) -> Outcome {
    let reference = pi.id.as_str().to_owned();
    match &pi.status {
        PaymentIntentStatus::Succeeded => Outcome::Paid { reference },
        PaymentIntentStatus::Canceled => Outcome::Failed {
            code: "canceled".into(),
        },
        PaymentIntentStatus::RequiresPaymentMethod => Outcome::Failed {
            code: pi
                .last_payment_error
                .as_ref()
                .and_then(|e| {
                    e.decline_code
                        .clone()
                        .or_else(|| e.code.as_ref().map(|c| c.as_str().to_owned()))
                })
                .unwrap_or_else(|| "requires_payment_method".into()),
        },
        _ => Outcome::Pending { reference },
    }
}

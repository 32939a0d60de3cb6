//! The payment provider of the caller's organization and environment (`/v1/payment_provider`):
//! simulated by default, or the tenant's own Stripe account. Secrets go in once and never come
//! out: they are sealed with the server's master key and only a hint is shown. Also Checkout
//! for collecting a customer's payment method (`/v1/customers/{id}/checkout_sessions`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit;
use crate::billing::check_currency;
use crate::billing::stripe::{StripeProvider, seal_context};
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::tenancy::{Env, Permission, Scope};
use domain::billing::stripe::{key_env, key_hint};
use domain::clock::timestamp;
use domain::ids::CustomerId;
use store::billing as billing_db;
use store::stripe::{self as db, ProviderRow};

/// How the environment collects payments. Never shows a secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentProvider {
    /// `simulated` (test cards, no money moves) or `stripe`.
    #[schema(example = "stripe")]
    pub provider: String,
    /// The environment this configuration belongs to.
    #[schema(example = "test")]
    pub environment: String,
    /// The Stripe secret key's prefix and last four characters.
    #[schema(example = "sk_test_…4242")]
    pub key_hint: Option<String>,
    /// Where Stripe must send this environment's events (add it as a webhook endpoint in
    /// Stripe, with the signing secret given here).
    #[schema(example = "https://api.neoforge.dev/v1/stripe/webhooks/org_0190…/test")]
    pub webhook_url: Option<String>,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<i64>,
}

/// Stripe's secrets for this environment: a test key in the sandbox, a live key in live mode.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentProviderFields {
    /// A secret (`sk_…`) or restricted (`rk_…`) key.
    #[schema(example = "sk_test_51Hxxxxxxxxxxxxxxxx4242")]
    pub stripe_secret_key: String,
    /// The signing secret of the webhook endpoint (`whsec_…`).
    #[schema(example = "whsec_xxxxxxxxxxxxxxxx")]
    pub webhook_secret: String,
}

/// The path Stripe posts a scope's events to.
pub fn webhook_path(scope: &Scope) -> String {
    format!(
        "/v1/stripe/webhooks/{}/{}",
        scope.org_id.as_str(),
        scope.env.as_str()
    )
}

fn view(
    state: &AppState,
    headers: &HeaderMap,
    scope: &Scope,
    row: Option<&ProviderRow>,
) -> PaymentProvider {
    match row {
        Some(row) => PaymentProvider {
            provider: row.provider.clone(),
            environment: scope.env.as_str().to_owned(),
            key_hint: Some(row.key_hint.clone()),
            webhook_url: Some(format!(
                "{}{}",
                crate::http::public_base(state, headers),
                webhook_path(scope)
            )),
            updated_at: Some(row.updated_at),
        },
        None => PaymentProvider {
            provider: "simulated".into(),
            environment: scope.env.as_str().to_owned(),
            key_hint: None,
            webhook_url: None,
            updated_at: None,
        },
    }
}

fn check_secrets(env: Env, req: &PaymentProviderFields) -> ApiResult<()> {
    let key = req.stripe_secret_key.trim();
    if key.len() > 255 || key.chars().any(|c| !c.is_ascii_alphanumeric() && c != '_') {
        return Err(ApiError::validation(
            "stripe_secret_key",
            "must be a Stripe secret key (sk_…) or restricted key (rk_…)",
        ));
    }
    match key_env(key) {
        None => {
            return Err(ApiError::validation(
                "stripe_secret_key",
                "must be a Stripe secret key (sk_…) or restricted key (rk_…)",
            ));
        }
        Some(Env::Live) if env == Env::Test => {
            return Err(ApiError::validation(
                "stripe_secret_key",
                "is a live key; the sandbox (test environment) takes a test key (sk_test_…)",
            ));
        }
        Some(Env::Test) if env == Env::Live => {
            return Err(ApiError::validation(
                "stripe_secret_key",
                "is a test key; live mode takes a live key (sk_live_…)",
            ));
        }
        Some(_) => {}
    }
    let whsec = req.webhook_secret.trim();
    if !whsec.starts_with("whsec_") || whsec.len() > 255 || whsec.len() < 10 {
        return Err(ApiError::validation(
            "webhook_secret",
            "must be a Stripe webhook signing secret (whsec_…)",
        ));
    }
    Ok(())
}

/// Get this environment's payment provider.
#[utoipa::path(
    get, path = "/v1/payment_provider", tag = "payment_provider", operation_id = "payment_provider_get",
    responses(
        (status = 200, description = "The payment provider (`simulated` when none is configured)", body = PaymentProvider),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["organization:read"]), ("session" = ["organization:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<axum::Json<PaymentProvider>> {
    caller.require(Permission::OrganizationRead)?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_provider(&mut conn, &caller.scope).await?;
    conn.end();
    Ok(axum::Json(view(
        &state,
        &headers,
        &caller.scope,
        row.as_ref(),
    )))
}

/// Use your Stripe account in this environment: its secret key and webhook signing secret.
/// Nothing is checked with Stripe now; keys are stored encrypted and never shown again.
#[utoipa::path(
    put, path = "/v1/payment_provider", tag = "payment_provider", operation_id = "payment_provider_put",
    request_body = PaymentProviderFields,
    responses(
        (status = 200, description = "Configured", body = PaymentProvider),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["organization:write"]), ("session" = ["organization:write"]))
)]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(req): Json<PaymentProviderFields>,
) -> ApiResult<axum::Json<PaymentProvider>> {
    caller.require(Permission::OrganizationWrite)?;
    let key = crate::app::master_key(&state)?;
    check_secrets(caller.scope.env, &req)?;
    let scope = &caller.scope;
    let secret_key = req.stripe_secret_key.trim();
    let now = state.clock.now_ms();
    let row = ProviderRow {
        provider: "stripe".into(),
        secret_key_sealed: key.seal(&seal_context(scope, "secret_key"), secret_key)?,
        webhook_secret_sealed: key.seal(
            &seal_context(scope, "webhook_secret"),
            req.webhook_secret.trim(),
        )?,
        key_hint: key_hint(secret_key),
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.write_scoped(scope).await?;
    db::upsert_provider(&mut tx, scope, &row).await?;
    audit::record(
        &mut tx,
        scope,
        (&caller).into(),
        "payment_provider.updated",
        ("payment_provider", row.provider.as_str()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(view(&state, &headers, scope, Some(&row))))
}

/// Stop using Stripe in this environment: back to the simulated provider. Stripe customers
/// already created are remembered for when Stripe is configured again.
#[utoipa::path(
    delete, path = "/v1/payment_provider", tag = "payment_provider", operation_id = "payment_provider_delete",
    responses(
        (status = 200, description = "Back to the simulated provider", body = PaymentProvider),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["organization:write"]), ("session" = ["organization:write"]))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<axum::Json<PaymentProvider>> {
    caller.require(Permission::OrganizationWrite)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    if db::delete_provider(&mut tx, &caller.scope).await? {
        audit::record(
            &mut tx,
            &caller.scope,
            (&caller).into(),
            "payment_provider.deleted",
            ("payment_provider", "stripe"),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(axum::Json(view(&state, &headers, &caller.scope, None)))
}

/// Where to send the customer after Checkout.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutSessionFields {
    #[schema(example = "https://app.example.com/billing/done")]
    pub success_url: String,
    #[schema(example = "https://app.example.com/billing")]
    pub cancel_url: String,
    /// The currency Checkout presents payment methods for (default: the customer's).
    #[schema(example = "usd")]
    pub currency: Option<String>,
}

/// A Stripe Checkout Session in setup mode.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutSession {
    /// Stripe's id.
    #[schema(example = "cs_test_a1b2c3")]
    pub id: String,
    /// Send the customer here.
    #[schema(example = "https://checkout.stripe.com/c/pay/cs_test_a1b2c3")]
    pub url: String,
    pub customer: CustomerId,
}

fn check_url(field: &str, url: &str) -> ApiResult<()> {
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.len() > 2048
        || url.chars().any(char::is_whitespace)
    {
        return Err(ApiError::validation(
            field,
            "must be an http(s) URL of at most 2048 characters",
        ));
    }
    Ok(())
}

/// Start a Stripe Checkout Session that saves a payment method for the customer. Once the
/// customer completes it, Stripe's webhook makes that payment method the customer's default.
#[utoipa::path(
    post, path = "/v1/customers/{id}/checkout_sessions", tag = "payment_provider", operation_id = "customers_create_checkout_session",
    params(("id" = CustomerId, Path)),
    request_body = CheckoutSessionFields,
    responses(
        (status = 201, description = "Created", body = CheckoutSession),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 502, response = crate::openapi::BadGateway),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create_checkout_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CustomerId>,
    Json(req): Json<CheckoutSessionFields>,
) -> ApiResult<(StatusCode, axum::Json<CheckoutSession>)> {
    caller.require(Permission::BillingWrite)?;
    check_url("success_url", &req.success_url)?;
    check_url("cancel_url", &req.cancel_url)?;
    let scope = &caller.scope;
    let mut conn = state.db.read_scoped(scope).await?;
    let customer = billing_db::get_customer(&mut conn, scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    conn.end();
    let currency = match (&req.currency, &customer.currency) {
        (Some(c), _) => check_currency(c)?,
        (None, Some(c)) => c.clone(),
        (None, None) => {
            return Err(ApiError::validation(
                "currency",
                "is required when the customer has no currency",
            ));
        }
    };
    let provider = StripeProvider::load(&state, scope).await?.ok_or_else(|| {
        ApiError::conflict(
            "payment_provider_not_configured",
            "This environment has no Stripe account: configure one with PUT /v1/payment_provider.",
        )
    })?;
    let stripe_customer = provider.ensure_customer(&state, &customer).await?;
    let session = provider
        .checkout_setup_session(
            &stripe_customer,
            &customer.id,
            &currency,
            &req.success_url,
            &req.cancel_url,
        )
        .await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(scope).await?;
    audit::record(
        &mut tx,
        scope,
        (&caller).into(),
        "checkout_session.created",
        ("customer", &customer.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CheckoutSession {
            id: session.id,
            url: session.url,
            customer: id,
        }),
    ))
}

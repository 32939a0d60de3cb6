//! Stripe's webhooks (`POST /v1/stripe/webhooks/{org_id}/{env}`), one endpoint per tenant and
//! environment. No API key: the `Stripe-Signature` header, made with that scope's signing
//! secret, is the authentication, checked against the server's clock with a five-minute
//! tolerance. Anything that does not verify (unknown tenant or environment, no provider, bad
//! or stale signature) is `400 invalid_signature` and changes nothing.
//!
//! Each event is claimed in `stripe_events` in the same transaction as its effects, so a
//! redelivery answers 200 and does nothing, and a failure rolls both back for Stripe to
//! retry. Events may arrive in any order; the effects only move forward (see
//! `billing::collection`):
//!
//! | event                          | effect                                                    |
//! |--------------------------------|-----------------------------------------------------------|
//! | `payment_intent.succeeded`     | `collection::payment_succeeded(invoice, pi_…)`      |
//! | `payment_intent.payment_failed`| `collection::payment_failed(invoice, decline code)` |
//! | `setup_intent.succeeded`       | the customer's `default_payment_method` = its `pm_…`      |
//! | `checkout.session.completed`   | a hosted checkout's (`neoforge_checkout`): completes it   |
//! |                                | (`checkout::stripe::completed`); else, in setup mode, the |
//! |                                | customer's default payment method from its SetupIntent    |
//! | `charge.refunded`              | `collection::refunded(invoice, amount_refunded)`    |
//! | `charge.dispute.created`       | `collection::disputed(invoice)`                     |
//!
//! The invoice comes from the PaymentIntent's metadata (`neoforge_invoice`, set by
//! `StripeProvider::charge`), remembered per PaymentIntent for charge and dispute events.
//! Objects whose metadata names another tenant or environment are ignored.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit::ActorRef;
use crate::billing::checkout;
use crate::billing::collection;
use crate::billing::notify;
use crate::billing::stripe::checkout::Completion;
use crate::billing::stripe::{StripeProvider, open_secrets};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Path, RawBody};
use crate::tenancy::{Env, Scope};
use domain::billing::stripe::signature::{self, TOLERANCE_SECS};
use domain::ids::OrgId;
use store::billing as billing_db;
use store::stripe as db;

const STRIPE: ActorRef<'static> = ActorRef {
    kind: "system",
    id: "stripe_webhook",
    ip: None,
};

/// A Stripe event, as Stripe posts it (only the fields NeoForge reads).
#[derive(Debug, Deserialize, ToSchema)]
pub struct StripeEvent {
    #[schema(example = "evt_1NG8Du2eZvKYlo2CUI79vXWy")]
    pub id: String,
    #[serde(rename = "type")]
    #[schema(example = "payment_intent.succeeded")]
    pub kind: String,
    pub livemode: Option<bool>,
    pub data: StripeEventData,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StripeEventData {
    /// The Stripe object the event is about.
    #[schema(value_type = Object)]
    pub object: Value,
}

/// The event was taken (or had already been).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceipt {
    pub received: bool,
    /// True when this event id had already been handled: nothing was done again.
    pub duplicate: bool,
}

fn invalid_signature(detail: &str) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_signature",
        detail: detail.to_owned(),
        errors: Vec::new(),
    }
}

/// Receive an event from Stripe. Authenticated by `Stripe-Signature` with this organization's
/// and environment's webhook signing secret.
#[utoipa::path(
    post, path = "/v1/stripe/webhooks/{org_id}/{env}", tag = "payment_provider", operation_id = "stripe_webhooks_receive",
    params(
        ("org_id" = String, Path, description = "The organization (tenant)."),
        ("env" = String, Path, description = "`live` or `test`."),
        ("Stripe-Signature" = String, Header, description = "Stripe's signature of the body."),
    ),
    request_body = StripeEvent,
    responses(
        (status = 200, description = "Received", body = WebhookReceipt),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 502, response = crate::openapi::BadGateway),
    ),
    security(()),
    // Stripe calls this, not integrators: no SDK method.
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn receive(
    State(state): State<AppState>,
    Path((org_id, env)): Path<(String, String)>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<axum::Json<WebhookReceipt>> {
    let bad = "The Stripe-Signature header does not verify for this endpoint.";
    let (Some(org_id), Some(env)) = (OrgId::parse(&org_id), Env::parse(&env)) else {
        return Err(invalid_signature(bad));
    };
    let scope = Scope { org_id, env };
    let header = headers
        .get("stripe-signature")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| invalid_signature("The Stripe-Signature header is missing."))?;
    let mut conn = state.db.read_scoped(&scope).await?;
    let row = db::get_provider(&mut conn, &scope).await?;
    conn.end();
    let row = row.ok_or_else(|| invalid_signature(bad))?;
    let secrets = open_secrets(crate::app::master_key(&state)?, &scope, &row)?;
    let now = state.clock.now_ms();
    signature::verify(
        &body,
        header,
        &secrets.webhook_secret,
        now.div_euclid(1000),
        TOLERANCE_SECS,
    )
    .map_err(|e| {
        tracing::warn!(org = scope.org_id.as_str(), env = scope.env.as_str(), error = %e, "Stripe webhook rejected");
        invalid_signature(&format!("{bad} ({e})"))
    })?;
    let event: StripeEvent = serde_json::from_slice(&body)
        .map_err(|e| ApiError::validation("body", format!("not a Stripe event: {e}")))?;
    if event
        .livemode
        .is_some_and(|live| live != (scope.env == Env::Live))
    {
        return Err(ApiError::validation(
            "livemode",
            "does not match this endpoint's environment",
        ));
    }

    let fetched = fetch(&state, &scope, &event).await?;

    let mut tx = state.db.write_scoped(&scope).await?;
    if !db::claim_event(&mut tx, &scope, &event.id, &event.kind, now).await? {
        tx.commit().await?;
        return Ok(axum::Json(WebhookReceipt {
            received: true,
            duplicate: true,
        }));
    }
    apply(&mut tx, &state, &scope, &event, fetched, now).await?;
    db::mark_event_processed(&mut tx, &scope, &event.id).await?;
    tx.commit().await?;
    Ok(axum::Json(WebhookReceipt {
        received: true,
        duplicate: false,
    }))
}

/// What an event's effects need from Stripe, read before its transaction.
enum Fetched {
    Nothing,
    /// A setup-mode session's SetupIntent's payment method.
    PaymentMethod(Option<String>),
    /// A hosted checkout's session (its NeoForge id) and what Stripe took.
    Checkout(String, Completion),
}

/// Network first, no transaction held across it: a completed Checkout Session is read back
/// for its payment method; a hosted checkout's Stripe subscription is set to end with its
/// first period (NeoForge renews it), idempotently, so a redelivery does it again harmlessly.
async fn fetch(state: &AppState, scope: &Scope, event: &StripeEvent) -> ApiResult<Fetched> {
    let object = &event.data.object;
    if event.kind != "checkout.session.completed" || !ours(object, scope) {
        return Ok(Fetched::Nothing);
    }
    let Some(provider) = StripeProvider::load(state, scope).await? else {
        return Ok(Fetched::Nothing);
    };
    if let (Some(checkout), Some(id)) = (
        object["metadata"]["neoforge_checkout"].as_str(),
        object["id"].as_str(),
    ) {
        let completion = provider.checkout_completion(id).await?;
        if let Some(sub) = &completion.subscription {
            provider.end_with_first_period(sub).await?;
        }
        return Ok(Fetched::Checkout(checkout.to_owned(), completion));
    }
    match object["setup_intent"].as_str() {
        Some(si) => Ok(Fetched::PaymentMethod(
            provider.setup_intent_payment_method(si).await?,
        )),
        None => Ok(Fetched::Nothing),
    }
}

/// A string field, or the `id` of an expanded object.
fn id_of(v: &Value) -> Option<&str> {
    v.as_str().or_else(|| v["id"].as_str())
}

/// False when the object's metadata says it belongs to another tenant or environment.
fn ours(object: &Value, scope: &Scope) -> bool {
    let meta = &object["metadata"];
    let tenant_ok = meta["neoforge_tenant"]
        .as_str()
        .is_none_or(|t| t == scope.org_id.as_str());
    let env_ok = meta["neoforge_env"]
        .as_str()
        .is_none_or(|e| e == scope.env.as_str());
    tenant_ok && env_ok
}

/// Unknown invoices (a PaymentIntent NeoForge did not make) are acknowledged without effect.
fn ignore_unknown(result: ApiResult<()>) -> ApiResult<()> {
    match result {
        Err(ApiError::NotFound(what)) => {
            tracing::info!(what, "Stripe event about an unknown object: ignored");
            Ok(())
        }
        other => other,
    }
}

async fn invoice_of(
    tx: &mut AnyConnection,
    scope: &Scope,
    object: &Value,
    payment_intent: Option<&str>,
) -> ApiResult<Option<String>> {
    if let Some(invoice) = object["metadata"]["neoforge_invoice"].as_str() {
        return Ok(Some(invoice.to_owned()));
    }
    match payment_intent {
        Some(pi) => Ok(db::invoice_of_payment_intent(tx, scope, pi).await?),
        None => Ok(None),
    }
}

async fn apply(
    tx: &mut AnyConnection,
    state: &AppState,
    scope: &Scope,
    event: &StripeEvent,
    fetched: Fetched,
    now: i64,
) -> ApiResult<()> {
    let object = &event.data.object;
    if !ours(object, scope) {
        tracing::info!(event = %event.id, "Stripe event for another tenant or environment: ignored");
        return Ok(());
    }
    match event.kind.as_str() {
        "payment_intent.succeeded" | "payment_intent.payment_failed" => {
            let Some(pi) = object["id"].as_str() else {
                return Ok(());
            };
            let Some(invoice) = invoice_of(tx, scope, object, Some(pi)).await? else {
                return Ok(());
            };
            db::remember_payment_intent(tx, scope, pi, &invoice, now).await?;
            if event.kind == "payment_intent.succeeded" {
                ignore_unknown(
                    collection::payment_succeeded(tx, state, scope, &STRIPE, &invoice, pi, now)
                        .await,
                )
            } else {
                let error = &object["last_payment_error"];
                let code = error["decline_code"]
                    .as_str()
                    .or_else(|| error["code"].as_str())
                    .unwrap_or("payment_failed");
                ignore_unknown(
                    collection::payment_failed(tx, state, scope, &STRIPE, &invoice, code, now)
                        .await,
                )
            }
        }
        "setup_intent.succeeded" => {
            let pm = id_of(&object["payment_method"]).map(str::to_owned);
            set_default_payment_method(tx, state, scope, object, pm, now).await
        }
        "checkout.session.completed" => match fetched {
            Fetched::Checkout(checkout, completion) => {
                checkout::stripe::completed(tx, state, scope, &checkout, &completion).await
            }
            _ if object["mode"].as_str() != Some("setup") => Ok(()),
            fetched => {
                let pm = match (&object["setup_intent"], fetched) {
                    (Value::Object(si), _) => {
                        si.get("payment_method").and_then(id_of).map(str::to_owned)
                    }
                    (_, Fetched::PaymentMethod(pm)) => pm,
                    _ => None,
                };
                set_default_payment_method(tx, state, scope, object, pm, now).await
            }
        },
        "charge.refunded" => {
            let pi = id_of(&object["payment_intent"]);
            let Some(invoice) = invoice_of(tx, scope, object, pi).await? else {
                return Ok(());
            };
            let amount = object["amount_refunded"].as_i64().unwrap_or(0);
            ignore_unknown(collection::refunded(tx, state, scope, &STRIPE, &invoice, amount).await)
        }
        "charge.dispute.created" => {
            let pi = id_of(&object["payment_intent"]);
            let Some(invoice) = invoice_of(tx, scope, object, pi).await? else {
                return Ok(());
            };
            ignore_unknown(collection::disputed(tx, state, scope, &STRIPE, &invoice).await)
        }
        other => {
            tracing::debug!(event = %event.id, kind = other, "Stripe event not used");
            Ok(())
        }
    }
}

/// The NeoForge customer of a Stripe object: its `neoforge_customer` metadata, else its
/// Stripe customer's mapping.
async fn customer_of(
    tx: &mut AnyConnection,
    scope: &Scope,
    object: &Value,
) -> ApiResult<Option<String>> {
    if let Some(c) = object["metadata"]["neoforge_customer"].as_str() {
        return Ok(Some(c.to_owned()));
    }
    match id_of(&object["customer"]) {
        Some(cus) => Ok(db::customer_of_stripe_customer(tx, scope, cus).await?),
        None => Ok(None),
    }
}

async fn set_default_payment_method(
    tx: &mut AnyConnection,
    state: &AppState,
    scope: &Scope,
    object: &Value,
    payment_method: Option<String>,
    now: i64,
) -> ApiResult<()> {
    let Some(pm) = payment_method.filter(|pm| !pm.is_empty() && pm.len() <= 255) else {
        return Ok(());
    };
    let Some(customer_id) = customer_of(tx, scope, object).await? else {
        return Ok(());
    };
    let Some(mut customer) = billing_db::get_customer(tx, scope, &customer_id).await? else {
        return Ok(());
    };
    if customer.default_payment_method.as_deref() == Some(pm.as_str()) {
        return Ok(());
    }
    customer.default_payment_method = Some(pm);
    customer.updated_at = now;
    billing_db::update_customer(tx, scope, &customer).await?;
    notify(
        tx,
        &state.clock,
        scope,
        &STRIPE,
        "customer.updated",
        &customer,
    )
    .await
}

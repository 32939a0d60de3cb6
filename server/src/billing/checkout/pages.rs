//! Checkout's public pages: the hosted checkout (`/checkout/{token}`) and pricing tables
//! (`/pricing/{id}`, its embed script and its buttons). Server-rendered, working without
//! scripts; the pricing page alone may be framed (its embed).

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::{NewCheckout, Paid};
use crate::app::AppState;
use crate::billing::pages::{Framing, Page, html};
use crate::billing::stripe::StripeProvider;
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::{Env, Scope};
use domain::billing::checkout::{CheckoutMode, CheckoutStatus, MAX_CHECKOUT_TTL_MS};
use domain::billing::money::money;
use domain::billing::payments::TEST_CARDS;
use domain::billing::views::SubscriptionItem;
use domain::ids::PriceId;
use store::billing::{self as db, CheckoutRow};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/checkout/{token}", get(checkout))
        .route("/checkout/{token}/promotion", post(promotion))
        .route("/checkout/{token}/pay", post(pay))
        .route("/checkout/{token}/stripe", post(to_stripe))
        .route("/pricing/{id}", get(pricing))
        .route("/pricing/{id}/embed.js", get(embed))
        .route("/pricing/{id}/checkout", post(start))
}

/// An open session by its page's token; an unknown, used or expired one is a page saying so.
async fn open_session(state: &AppState, token: &str) -> Result<(Scope, CheckoutRow), Page> {
    let Some((scope, row)) = super::find(state, token).await? else {
        return Err(ApiError::NotFound("checkout_session").into());
    };
    match row.status_at(state.clock.now_ms()) {
        CheckoutStatus::Open => Ok((scope, row)),
        CheckoutStatus::Complete => Err(ApiError::conflict(
            "checkout_session_used",
            "This checkout was already completed.",
        )
        .into()),
        CheckoutStatus::Expired => Err(ApiError::conflict(
            "checkout_session_expired",
            "This checkout has expired. Start again from where you came.",
        )
        .into()),
    }
}

async fn checkout_page(
    state: &AppState,
    token: &str,
    scope: &Scope,
    row: &CheckoutRow,
    error: Option<String>,
) -> ApiResult<Response> {
    let order = super::order(state, scope, row).await?;
    let stripe = StripeProvider::load(state, scope).await?.is_some();
    let mut c = state.db.read_scoped(scope).await?;
    let brand = crate::email::settings(&mut c, scope).await?.brand;
    let email = match &row.customer_id {
        Some(id) => db::get_customer(&mut c, scope, id)
            .await?
            .and_then(|c| c.email),
        None => row.customer_email.clone(),
    };
    c.end();
    let ctx = json!({
        "brand": brand,
        "token": token,
        "mode": row.mode.0,
        "order": order,
        "email": email,
        "needs_email": row.customer_id.is_none(),
        "allow_promotion_codes": row.allow_promotion_codes == 1,
        "promotion_code": row.promotion_code,
        "cancel_url": row.cancel_url,
        "stripe": stripe,
        "sandbox": scope.env == Env::Test,
        "cards": TEST_CARDS.iter().map(|(id, label)| json!({"id": id, "label": label})).collect::<Vec<_>>(),
        "error": error,
    });
    let status = match ctx["error"].is_null() {
        true => StatusCode::OK,
        false => StatusCode::PAYMENT_REQUIRED,
    };
    Ok(html(status, "checkout.html", &ctx, Framing::Nobody))
}

async fn checkout(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, Page> {
    let (scope, row) = open_session(&state, &token).await?;
    Ok(checkout_page(&state, &token, &scope, &row, None).await?)
}

#[derive(Debug, Deserialize)]
struct PromotionForm {
    code: String,
}

/// Applies a promotion code, checked as a subscription would redeem it.
async fn promotion(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<PromotionForm>,
) -> Result<Response, Page> {
    let (scope, mut row) = open_session(&state, &token).await?;
    if row.allow_promotion_codes != 1 {
        return Err(ApiError::forbidden("This checkout takes no promotion codes.").into());
    }
    let code = form.code.trim().to_owned();
    row.promotion_code = Some(code.clone());
    if let Err(e) = super::order(&state, &scope, &row).await {
        row.promotion_code = None;
        let error = format!("That code does not apply: {e}");
        return Ok(checkout_page(&state, &token, &scope, &row, Some(error)).await?);
    }
    let mut tx = state.db.write_scoped(&scope).await?;
    db::set_checkout_promotion_code(&mut tx, &scope, &row.id, Some(&code)).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/checkout/{token}")).into_response())
}

#[derive(Debug, Deserialize)]
struct PayForm {
    email: Option<String>,
    payment_method: String,
}

async fn pay(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<PayForm>,
) -> Result<Response, Page> {
    let (scope, row) = open_session(&state, &token).await?;
    let email = form
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    match super::pay(&state, &scope, row.clone(), email, &form.payment_method).await? {
        Paid::Complete(url) => Ok(Redirect::to(&url).into_response()),
        Paid::Declined(code) => {
            let error = format!("Your card was declined ({code}). Try another card.");
            Ok(checkout_page(&state, &token, &scope, &row, Some(error)).await?)
        }
    }
}

/// With Stripe configured: on to a Stripe Checkout Session of the order.
async fn to_stripe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, Page> {
    let (scope, row) = open_session(&state, &token).await?;
    let provider = StripeProvider::load(&state, &scope).await?.ok_or_else(|| {
        ApiError::conflict(
            "payment_provider_not_configured",
            "This environment has no Stripe account.",
        )
    })?;
    let url = super::stripe::send(&state, &scope, &provider, &row, &token).await?;
    Ok(Redirect::to(&url).into_response())
}

/// A published table, by its public id.
async fn table(state: &AppState, id: &str) -> ApiResult<(Scope, store::billing::PricingTableRow)> {
    let row = db::find_pricing_table(state.db.reader(), id)
        .await?
        .ok_or(ApiError::NotFound("pricing_table"))?;
    let env = crate::tenancy::Env::parse(&row.env)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("bad env {:?}", row.env)))?;
    let scope = Scope {
        org_id: domain::ids::OrgId::from_db(row.tenant_id.clone()),
        env,
    };
    Ok((scope, row))
}

async fn pricing(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, Page> {
    let (scope, row) = table(&state, &id).await?;
    let config = &row.config.0;
    let mut c = state.db.read_scoped(&scope).await?;
    let brand = crate::email::settings(&mut c, &scope).await?.brand;
    let mut plans = Vec::new();
    for plan in &config.plans {
        let product = db::get_product(&mut c, &scope, &plan.product)
            .await?
            .ok_or(ApiError::NotFound("product"))?;
        let mut prices = serde_json::Map::new();
        for (interval, price) in [("month", &plan.monthly_price), ("year", &plan.yearly_price)] {
            let Some(price) = price else { continue };
            let Some(p) = db::get_price(&mut c, &scope, price).await? else {
                continue;
            };
            let amount = p.terms.0.unit_amount.map(|a| money(a, &p.currency));
            prices.insert(interval.to_owned(), json!({"id": p.id, "amount": amount}));
        }
        let features: Vec<String> = product
            .features
            .0
            .iter()
            .map(|f| match f.limit {
                Some(limit) => format!("{} {}", limit, f.key.replace('_', " ")),
                None => f.key.replace('_', " "),
            })
            .collect();
        let cta = plan
            .call_to_action
            .clone()
            .unwrap_or_else(|| match config.trial_days {
                Some(d) => format!("Start {d}-day trial"),
                None => "Subscribe".to_owned(),
            });
        plans.push(json!({
            "name": product.name, "description": product.description, "features": features,
            "highlight": plan.highlight, "prices": prices, "cta": cta,
        }));
    }
    c.end();
    let yearly = config.plans.iter().any(|p| p.yearly_price.is_some());
    let monthly = config.plans.iter().any(|p| p.monthly_price.is_some());
    let ctx = json!({
        "brand": brand, "id": id, "name": config.name, "plans": plans,
        "toggle": yearly && monthly, "default_interval": if monthly { "month" } else { "year" },
    });
    Ok(html(StatusCode::OK, "pricing.html", &ctx, Framing::Anyone))
}

/// The embed: a script that puts the table's page in a frame where the script tag is.
async fn embed(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, Page> {
    table(&state, &id).await?;
    let src = serde_json::to_string(&format!("{}/pricing/{id}", state.public_base))
        .map_err(|e| ApiError::Internal(e.into()))?;
    let script = format!(
        "(function(){{var s=document.currentScript;var f=document.createElement('iframe');\
         f.src={src};f.title='Pricing';f.loading='lazy';\
         f.style.cssText='width:100%;border:0;min-height:640px';\
         s.parentNode.insertBefore(f,s);}})();\n"
    );
    let mut response = script.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct StartForm {
    price: String,
}

/// A plan's button: a checkout session for that price, and there.
async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<StartForm>,
) -> Result<Response, Page> {
    let (scope, row) = table(&state, &id).await?;
    let config = row.config.0;
    let offered = config.plans.iter().any(|p| {
        p.monthly_price.as_deref() == Some(&form.price)
            || p.yearly_price.as_deref() == Some(&form.price)
    });
    if !offered {
        return Err(ApiError::validation("price", "is not a plan of this table").into());
    }
    let mut tx = state.db.write_scoped(&scope).await?;
    let new = NewCheckout {
        mode: CheckoutMode::Subscription,
        line_items: vec![SubscriptionItem {
            price: PriceId::from_db(form.price),
            quantity: 1,
        }],
        customer: None,
        customer_email: None,
        trial_days: config.trial_days,
        allow_promotion_codes: config.allow_promotion_codes,
        success_url: config.success_url,
        cancel_url: config.cancel_url,
        ttl_ms: MAX_CHECKOUT_TTL_MS,
        test_clock: config.test_clock,
        pricing_table: Some(row.id),
        tax_rates: Vec::new(),
    };
    let (_, url) = super::create(&mut tx, &state, &scope, new).await?;
    tx.commit().await?;
    Ok(Redirect::to(&url).into_response())
}

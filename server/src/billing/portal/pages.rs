//! The customer portal's pages under `/billing/`: server-rendered HTML (minijinja, from
//! `server/templates/billing/`) and plain forms, so they work without scripts, on a phone,
//! and with a screen reader. Each change goes through the same services as the API
//! (`changes::Change`, collection), audited with the customer as the actor, and sends the
//! same webhook events.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Visit, settings};
use crate::app::AppState;
use crate::billing::changes::{Change, ProrationBehavior, UpdateSubscriptionRequest};
use crate::billing::pages::{Framing, Page, html};
use crate::billing::stripe::StripeProvider;
use crate::billing::subscriptions::{now_for, usage_lines};
use crate::billing::{collection, html as invoice_html, notify, redemption};
use crate::http::error::{ApiError, ApiResult};
use crate::metering::{quotas, usage};
use domain::billing::invoicing::Line;
use domain::billing::money::money;
use domain::billing::payments::TEST_CARDS;
use domain::billing::portal::{CancellationMode, PortalSettings};
use domain::billing::status::InvoiceStatus;
use domain::billing::views::{SubscriptionItem, UpcomingInvoice};
use domain::clock::timestamp::to_rfc3339;
use domain::ids::{CouponId, PriceId};
use store::billing::{self as db, CustomerRow, SubscriptionRow};

/// The browser session's cookie.
const COOKIE: &str = "nf_billing";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/billing/", get(home))
        .route("/billing/{token}", get(open))
        .route("/billing/payment_method", post(payment_method))
        .route(
            "/billing/payment_method/stripe",
            post(payment_method_stripe),
        )
        .route("/billing/subscriptions/{id}/preview", post(preview))
        .route("/billing/subscriptions/{id}/update", post(update))
        .route("/billing/subscriptions/{id}/cancel", post(cancel))
        .route("/billing/subscriptions/{id}/retain", post(retain))
        .route("/billing/subscriptions/{id}/resume", post(resume))
        .route("/billing/invoices/{id}", get(invoice))
        .route("/billing/invoices/{id}/pdf", get(invoice_pdf))
}

fn expired() -> ApiError {
    ApiError::Forbidden(
        "This portal link has expired or was already used. Ask for a new one where you came from."
            .into(),
    )
}

/// The visit the request's cookie belongs to.
async fn visit(state: &AppState, headers: &HeaderMap) -> Result<Visit, Page> {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_owned)
        });
    let Some(cookie) = cookie else {
        return Err(expired().into());
    };
    super::visit(state, &cookie)
        .await?
        .ok_or_else(|| expired().into())
}

/// Opens a link: sets the session's cookie and goes to the portal.
async fn open(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, Page> {
    let Some((cookie, _)) = super::open(&state, &token).await? else {
        return Err(expired().into());
    };
    let secure = match state.public_base.starts_with("https://") {
        true => "; Secure",
        false => "",
    };
    let max_age = domain::billing::portal::SESSION_TTL_MS / 1000;
    let set = format!(
        "{COOKIE}={cookie}; Path=/billing; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    let mut response = Redirect::to("/billing/").into_response();
    let value = HeaderValue::from_str(&set).map_err(|e| ApiError::Internal(e.into()))?;
    response.headers_mut().insert(header::SET_COOKIE, value);
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct Notice {
    done: Option<String>,
}

/// What a finished action says on the page it comes back to.
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "payment_method" => "Your payment method was updated.",
        "plan" => "Your plan was changed.",
        "canceled" => "Your subscription was canceled.",
        "cancel_scheduled" => "Your subscription will end at the end of the period.",
        "retained" => "Thank you for staying: your discount applies from your next invoice.",
        "resumed" => "Your subscription continues.",
        _ => return None,
    })
}

async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Notice>,
) -> Result<Response, Page> {
    let visit = visit(&state, &headers).await?;
    let ctx = home_context(&state, &visit, notice(q.done.as_deref())).await?;
    Ok(html(StatusCode::OK, "home.html", &ctx, Framing::Nobody))
}

/// Everything the home page shows, read in one transaction.
async fn home_context(state: &AppState, visit: &Visit, notice: Option<&str>) -> ApiResult<Value> {
    let scope = &visit.scope;
    let mut c = state.db.read_scoped(scope).await?;
    let customer = db::get_customer(&mut c, scope, visit.customer())
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let portal = settings(&mut c, scope).await?;
    let brand = crate::email::settings(&mut c, scope).await?.brand;
    let now = now_for(&mut c, &state.clock, scope, &customer).await?;
    let subs = db::list_subscriptions(&mut c, scope, Some(&customer.id), None, 20).await?;
    let grants = quotas::grants(&mut c, scope, &customer.id).await?;
    let mut shown = Vec::new();
    for sub in subs.into_iter().filter(|s| !s.status.ended()) {
        let mut items = Vec::new();
        let mut names = HashMap::new();
        for item in &sub.items.0 {
            let product = product_name(&mut c, scope, &item.price).await?;
            names.insert(item.price.clone(), product.clone());
            items.push(json!({
                "product": product,
                "price": price_label(&item.terms, &sub.currency),
                "quantity": item.quantity,
                "metered": item.terms.metered.is_some(),
            }));
        }
        let period = (sub.current_period_start, sub.current_period_end);
        let lines = usage_lines(&mut c, scope, &sub, period).await?;
        let mut meters = Vec::new();
        for grant in grants.values().filter(|g| g.subscription == sub.id) {
            let Some(meter) = &grant.meter else { continue };
            let used = usage::total(&mut c, scope, meter, &customer.id, grant.period).await?;
            let days = daily(&mut c, scope, meter, &customer.id, grant.period, now).await?;
            meters.push(usage_view(
                &grant.feature.key,
                used,
                grant.feature.limit,
                days,
            ));
        }
        let plans = plan_choices(&mut c, scope, &portal, &sub).await?;
        shown.push(json!({
            "id": sub.id,
            "status": sub.status.0,
            "items": items,
            "period_start": day(sub.current_period_start),
            "period_end": day(sub.current_period_end),
            "trial_end": sub.trial_end.map(day),
            "cancel_at_period_end": sub.cancel_at_period_end == 1,
            "usage_lines": lines.iter().map(|l| line_view(l, &sub.currency, &names)).collect::<Vec<_>>(),
            "meters": meters,
            "plans": plans,
            "quantity": sub.items.0.first().map_or(1, |i| i.quantity),
            "bills": sub.status.bills(),
        }));
    }
    let invoices = db::list_invoices(&mut c, scope, None, Some(&customer.id), None, None, 24)
        .await?
        .into_iter()
        .filter(|i| i.status != InvoiceStatus::Draft)
        .map(|i| {
            json!({"id": i.id, "number": i.number, "date": day(i.created_at),
                   "total": money(i.total, &i.currency), "status": i.status.0,
                   "owed": i.status == InvoiceStatus::Open})
        })
        .collect::<Vec<_>>();
    c.end();
    // The upcoming invoice of each subscription, as a preview of no change shows it.
    for sub in shown.iter_mut() {
        let id = sub["id"].as_str().unwrap_or_default().to_owned();
        let upcoming = Change::begin(state, scope, &id)
            .await?
            .preview(scope, &UpdateSubscriptionRequest::default())
            .await?
            .next_invoice;
        sub["upcoming"] = json!(upcoming.as_ref().map(|u| upcoming_view(u, &HashMap::new())));
    }
    Ok(json!({
        "brand": brand,
        "csrf": visit.csrf,
        "notice": notice,
        "return_url": visit.session.return_url,
        "customer": {"name": customer.name, "email": customer.email,
                     "payment_method": customer.default_payment_method.as_deref().map(card_label)},
        "portal": portal,
        "subscriptions": shown,
        "invoices": invoices,
        "cards": TEST_CARDS.iter().map(|(id, label)| json!({"id": id, "label": label})).collect::<Vec<_>>(),
        "sandbox": visit.scope.env == crate::tenancy::Env::Test,
        "stripe": StripeProvider::load(state, scope).await?.is_some(),
    }))
}

fn day(ms: i64) -> String {
    to_rfc3339(ms).chars().take(10).collect()
}

fn card_label(pm: &str) -> String {
    TEST_CARDS
        .iter()
        .find(|(id, _)| *id == pm)
        .map_or_else(|| pm.to_owned(), |(_, label)| (*label).to_owned())
}

async fn product_name(
    c: &mut sqlx::AnyConnection,
    scope: &crate::tenancy::Scope,
    price: &str,
) -> ApiResult<String> {
    let Some(price) = db::get_price(c, scope, price).await? else {
        return Ok(price.to_owned());
    };
    Ok(db::get_product(c, scope, &price.product_id)
        .await?
        .map_or(price.id, |p| p.name))
}

/// `49.00 USD / month`, `7.00 USD per unit / month`, `metered`.
fn price_label(terms: &crate::billing::PriceTerms, currency: &str) -> String {
    let every = terms.recurring.as_ref().map_or(String::new(), |r| {
        let unit = serde_json::to_value(r.interval)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        match r.interval_count {
            1 => format!(" / {unit}"),
            n => format!(" / {n} {unit}s"),
        }
    });
    match (terms.model, terms.unit_amount) {
        (crate::billing::PriceModel::Flat, Some(a)) => format!("{}{every}", money(a, currency)),
        (crate::billing::PriceModel::PerUnit, Some(a)) => {
            format!("{} each{every}", money(a, currency))
        }
        _ if terms.metered.is_some() => format!("by usage{every}"),
        _ => format!("tiered{every}"),
    }
}

/// Daily usage from the period's start to now (at most the period's end).
async fn daily(
    c: &mut sqlx::AnyConnection,
    scope: &crate::tenancy::Scope,
    meter: &usage::Meter,
    customer: &str,
    (start, end): (i64, i64),
    now: i64,
) -> ApiResult<Vec<(String, Decimal)>> {
    const DAY: i64 = 24 * 3600 * 1000;
    let until = now.clamp(start, end);
    let mut bounds: Vec<i64> = (start..until).step_by(DAY as usize).collect();
    bounds.push(until.max(start + 1));
    let q = usage::Query {
        customer: Some(customer),
        bounds: &bounds,
        width: None,
        group_by: &[],
    };
    let points = usage::series(c, scope, meter, &q).await?;
    Ok(bounds
        .iter()
        .take(bounds.len() - 1)
        .enumerate()
        .map(|(i, b)| {
            let value = points
                .iter()
                .filter(|p| p.window == i)
                .filter_map(|p| p.value)
                .sum();
            (day(*b), value)
        })
        .collect())
}

fn usage_view(
    feature: &str,
    used: Decimal,
    limit: Option<i64>,
    days: Vec<(String, Decimal)>,
) -> Value {
    let peak = days.iter().map(|(_, v)| *v).max().unwrap_or(Decimal::ZERO);
    let pct = |v: Decimal, of: Decimal| -> i64 {
        if of <= Decimal::ZERO {
            return 0;
        }
        (v * Decimal::from(100) / of)
            .round()
            .min(Decimal::from(100))
            .try_into()
            .unwrap_or(0)
    };
    json!({
        "feature": feature,
        "used": used.normalize().to_string(),
        "limit": limit,
        "percent": limit.map(|l| pct(used, Decimal::from(l))),
        "days": days.iter().map(|(d, v)| json!({"day": d, "value": v.normalize().to_string(), "height": pct(*v, peak)})).collect::<Vec<_>>(),
    })
}

fn line_view(l: &Line, currency: &str, names: &HashMap<String, String>) -> Value {
    let product = names.get(&l.price).unwrap_or(&l.price);
    json!({"product": product, "quantity": l.quantity, "usage": l.usage,
           "amount": money(l.amount, currency), "proration": l.proration,
           "period": format!("{} – {}", day(l.period_start), day(l.period_end))})
}

/// An upcoming invoice as the pages show it; its lines name their products (`names`, by
/// price), else their price.
fn upcoming_view(i: &UpcomingInvoice, names: &HashMap<String, String>) -> Value {
    json!({
        "date": day(i.created_at),
        "subtotal": money(i.subtotal, &i.currency),
        "discount": (i.discount_amount != 0).then(|| money(-i.discount_amount, &i.currency)),
        "tax": (i.tax_amount != 0).then(|| money(i.tax_amount, &i.currency)),
        "total": money(i.total, &i.currency),
        "balance": (i.starting_balance != 0).then(|| money(i.starting_balance, &i.currency)),
        "amount_due": money(i.amount_due, &i.currency),
        "lines": i.lines.iter().map(|l| json!({
            "product": names.get(l.price.as_str()).map_or(l.price.as_str(), String::as_str),
            "quantity": l.quantity, "proration": l.proration, "credit": l.amount < 0,
            "amount": money(l.amount, &i.currency),
        })).collect::<Vec<_>>(),
    })
}

/// The prices the subscription may switch to: the settings' list, or every active recurring
/// price of its currency and interval.
async fn plan_choices(
    c: &mut sqlx::AnyConnection,
    scope: &crate::tenancy::Scope,
    portal: &PortalSettings,
    sub: &SubscriptionRow,
) -> ApiResult<Vec<Value>> {
    if !portal.plan_change.enabled || !sub.status.bills() {
        return Ok(Vec::new());
    }
    let recurring = sub.items.0.first().and_then(|i| i.terms.recurring.clone());
    let current = sub.items.0.first().map(|i| i.price.as_str());
    let prices = db::list_prices(c, scope, None, Some(true), None, 100).await?;
    let mut out = Vec::new();
    for p in prices {
        let listed = match &portal.plan_change.prices {
            Some(allowed) => allowed.contains(&p.id),
            None => true,
        };
        let fits = p.archived_at.is_none()
            && p.currency == sub.currency
            && p.terms.0.recurring.is_some()
            && p.terms.0.recurring == recurring
            && p.terms.0.metered.is_none();
        if listed && fits {
            out.push(json!({
                "id": p.id,
                "label": format!("{}: {}", product_name(c, scope, &p.id).await?, price_label(&p.terms.0, &p.currency)),
                "current": Some(p.id.as_str()) == current,
            }));
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct PlanForm {
    csrf: String,
    price: String,
    quantity: Option<i64>,
}

/// The customer's subscription `id` (a 404 for anyone else's), open for a change.
async fn own_change(state: &AppState, visit: &Visit, id: &str) -> ApiResult<Change> {
    let change = Change::begin(state, &visit.scope, id).await?;
    if change.sub.customer_id != visit.customer() {
        return Err(ApiError::NotFound("subscription"));
    }
    Ok(change)
}

/// What a plan form asks for, checked against what the portal allows.
async fn plan_request(
    state: &AppState,
    visit: &Visit,
    id: &str,
    form: &PlanForm,
) -> ApiResult<UpdateSubscriptionRequest> {
    visit.check_csrf(&form.csrf)?;
    let mut c = state.db.read_scoped(&visit.scope).await?;
    let portal = settings(&mut c, &visit.scope).await?;
    let sub = db::get_subscription(&mut c, &visit.scope, id)
        .await?
        .filter(|s| s.customer_id == visit.customer())
        .ok_or(ApiError::NotFound("subscription"))?;
    let allowed = plan_choices(&mut c, &visit.scope, &portal, &sub).await?;
    c.end();
    if !allowed.iter().any(|p| p["id"] == form.price.as_str()) {
        return Err(ApiError::validation(
            "price",
            "is not a plan you can switch to here",
        ));
    }
    let quantity = form.quantity.unwrap_or(1);
    if !(1..=10_000).contains(&quantity) {
        return Err(ApiError::validation("quantity", "must be 1 to 10000"));
    }
    Ok(UpdateSubscriptionRequest {
        items: Some(vec![SubscriptionItem {
            price: PriceId::from_db(form.price.clone()),
            quantity,
        }]),
        proration_behavior: ProrationBehavior::AlwaysInvoice,
        ..UpdateSubscriptionRequest::default()
    })
}

/// The charge a plan change makes, before the customer confirms it.
async fn preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<PlanForm>,
) -> Result<Response, Page> {
    let visit = visit(&state, &headers).await?;
    let req = plan_request(&state, &visit, &id, &form).await?;
    let change = own_change(&state, &visit, &id).await?;
    let currency = change.sub.currency.clone();
    let preview = change.preview(&visit.scope, &req).await?;
    let mut c = state.db.read_scoped(&visit.scope).await?;
    let brand = crate::email::settings(&mut c, &visit.scope).await?.brand;
    let product = product_name(&mut c, &visit.scope, &form.price).await?;
    let mut names = HashMap::new();
    let invoices = [&preview.invoice_now, &preview.next_invoice];
    for line in invoices.into_iter().flatten().flat_map(|i| &i.lines) {
        if !names.contains_key(line.price.as_str()) {
            let name = product_name(&mut c, &visit.scope, line.price.as_str()).await?;
            names.insert(line.price.to_string(), name);
        }
    }
    c.end();
    let ctx = json!({
        "brand": brand,
        "csrf": visit.csrf,
        "subscription": id,
        "price": form.price,
        "product": product,
        "quantity": form.quantity.unwrap_or(1),
        "now": preview.invoice_now.as_ref().map(|i| upcoming_view(i, &names)),
        "next": preview.next_invoice.as_ref().map(|i| upcoming_view(i, &names)),
        "nothing_now": money(0, &currency),
    });
    Ok(html(StatusCode::OK, "preview.html", &ctx, Framing::Nobody))
}

async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<PlanForm>,
) -> Result<Response, Page> {
    let visit = visit(&state, &headers).await?;
    let req = plan_request(&state, &visit, &id, &form).await?;
    let change = own_change(&state, &visit, &id).await?;
    change
        .apply(&state, &visit.scope, &visit.actor(), &req)
        .await?;
    Ok(Redirect::to("/billing/?done=plan").into_response())
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// The visiting customer, when the portal lets customers change their card.
async fn card_changer(c: &mut sqlx::AnyConnection, visit: &Visit) -> ApiResult<CustomerRow> {
    if !settings(c, &visit.scope).await?.payment_method_update {
        return Err(ApiError::forbidden(
            "Payment methods cannot be changed here.",
        ));
    }
    db::get_customer(c, &visit.scope, visit.customer())
        .await?
        .ok_or(ApiError::NotFound("customer"))
}

/// With Stripe connected: a Stripe Checkout Session in setup mode saves the new card, which
/// Stripe's webhook makes the customer's default; the customer comes back to the portal.
async fn payment_method_stripe(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Page> {
    let visit = visit(&state, &headers).await?;
    visit.check_csrf(&form.csrf)?;
    let scope = &visit.scope;
    let mut c = state.db.read_scoped(scope).await?;
    let customer = card_changer(&mut c, &visit).await?;
    c.end();
    let provider = StripeProvider::load(&state, scope).await?.ok_or_else(|| {
        ApiError::conflict(
            "payment_provider_not_configured",
            "This environment has no Stripe account.",
        )
    })?;
    let currency = customer.currency.clone().ok_or_else(|| {
        ApiError::conflict(
            "currency_required",
            "Stripe saves a card for a currency: this customer has none yet.",
        )
    })?;
    let stripe_customer = provider.ensure_customer(&state, &customer).await?;
    let back = format!("{}/billing/", state.public_base);
    let session = provider
        .checkout_setup_session(
            &stripe_customer,
            &customer.id,
            &currency,
            &format!("{back}?done=payment_method"),
            &back,
        )
        .await?;
    Ok(Redirect::to(&session.url).into_response())
}

#[derive(Debug, Deserialize)]
struct CardForm {
    csrf: String,
    payment_method: String,
}

/// Replaces the default payment method (a sandbox test card), then pays what is owed with
/// it at once.
async fn payment_method(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CardForm>,
) -> Result<Response, Page> {
    let visit = visit(&state, &headers).await?;
    visit.check_csrf(&form.csrf)?;
    let scope = &visit.scope;
    let mut tx = state.db.write_scoped(scope).await?;
    let mut customer = card_changer(&mut tx, &visit).await?;
    if scope.env != crate::tenancy::Env::Test {
        return Err(ApiError::conflict(
            "payment_method_update_unavailable",
            "Cards are saved through the payment provider's checkout in live mode.",
        )
        .into());
    }
    if !TEST_CARDS.iter().any(|(id, _)| *id == form.payment_method) {
        return Err(ApiError::validation("payment_method", "is not a test card").into());
    }
    let now = now_for(&mut tx, &state.clock, scope, &customer).await?;
    customer.default_payment_method = Some(form.payment_method.clone());
    customer.updated_at = state.clock.now_ms();
    db::update_customer(&mut tx, scope, &customer).await?;
    let actor = visit.actor();
    notify(
        &mut tx,
        &state.clock,
        scope,
        &actor,
        "customer.updated",
        &customer,
    )
    .await?;
    let owed: Vec<String> = db::list_invoices(
        &mut tx,
        scope,
        None,
        Some(&customer.id),
        Some(InvoiceStatus::Open),
        None,
        100,
    )
    .await?
    .into_iter()
    .map(|i| i.id)
    .collect();
    tx.commit().await?;
    for invoice in owed {
        collection::process(&state, scope, &actor, &invoice, now, true).await?;
    }
    Ok(Redirect::to("/billing/?done=payment_method").into_response())
}

#[derive(Debug, Deserialize)]
struct CancelForm {
    csrf: String,
    reason: String,
    /// Set by the retention offer's "cancel anyway".
    declined_offer: Option<String>,
}

/// Cancels with a reason; first, once per session, the retention offer if there is one.
async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CancelForm>,
) -> Result<Response, Page> {
    let visit = visit(&state, &headers).await?;
    visit.check_csrf(&form.csrf)?;
    let scope = &visit.scope;
    let mut change = own_change(&state, &visit, &id).await?;
    let portal = settings(&mut change.tx, scope).await?;
    if !portal.cancellation.enabled {
        return Err(ApiError::forbidden("Subscriptions cannot be canceled here.").into());
    }
    if !portal.allows_reason(&form.reason) {
        return Err(ApiError::validation("reason", "pick one of the reasons listed").into());
    }
    let offer = portal.cancellation.retention_coupon.clone();
    if let Some(coupon) =
        offer.filter(|_| visit.session.offered_retention == 0 && form.declined_offer.is_none())
    {
        db::mark_retention_offered(&mut change.tx, scope, &visit.session.id).await?;
        let coupon = db::get_coupon(&mut change.tx, scope, &coupon)
            .await?
            .ok_or(ApiError::NotFound("coupon"))?;
        change.tx.commit().await?;
        let mut c = state.db.read_scoped(scope).await?;
        let brand = crate::email::settings(&mut c, scope).await?.brand;
        c.end();
        let ctx = json!({
            "brand": brand, "csrf": visit.csrf, "subscription": id, "reason": form.reason,
            "offer": redemption::terms_of(&coupon).describe(),
        });
        return Ok(html(StatusCode::OK, "offer.html", &ctx, Framing::Nobody));
    }
    let at_period_end = portal.cancellation.mode == CancellationMode::AtPeriodEnd;
    let event = change.cancel(at_period_end, Some(form.reason));
    change
        .commit(&state, scope, &visit.actor(), event, None)
        .await?;
    let done = match at_period_end {
        true => "cancel_scheduled",
        false => "canceled",
    };
    Ok(Redirect::to(&format!("/billing/?done={done}")).into_response())
}

/// Accepts the retention offer: its coupon replaces the subscription's discount.
async fn retain(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Page> {
    let visit = visit(&state, &headers).await?;
    visit.check_csrf(&form.csrf)?;
    let scope = &visit.scope;
    let mut change = own_change(&state, &visit, &id).await?;
    let coupon = settings(&mut change.tx, scope)
        .await?
        .cancellation
        .retention_coupon
        .filter(|_| visit.session.offered_retention == 1)
        .ok_or_else(|| ApiError::forbidden("There is no offer to accept."))?;
    let req = UpdateSubscriptionRequest {
        coupon: Some(CouponId::from_db(coupon)),
        ..UpdateSubscriptionRequest::default()
    };
    change.apply(&state, scope, &visit.actor(), &req).await?;
    Ok(Redirect::to("/billing/?done=retained").into_response())
}

/// Calls off a scheduled cancellation.
async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Page> {
    let visit = visit(&state, &headers).await?;
    visit.check_csrf(&form.csrf)?;
    let mut change = own_change(&state, &visit, &id).await?;
    if change.sub.cancel_at_period_end == 0 {
        return Err(ApiError::conflict("not_scheduled", "No cancellation is scheduled.").into());
    }
    let actor = visit.actor();
    let invoice = change.resume(&state, &visit.scope, &actor).await?;
    change
        .commit(
            &state,
            &visit.scope,
            &actor,
            "subscription.resumed",
            invoice,
        )
        .await?;
    Ok(Redirect::to("/billing/?done=resumed").into_response())
}

/// One of the customer's finalized invoices (others' are a 404), with the customer and the
/// brand's name.
async fn own_invoice(
    state: &AppState,
    visit: &Visit,
    id: &str,
) -> ApiResult<(store::billing::InvoiceRow, CustomerRow, String)> {
    let mut c = state.db.read_scoped(&visit.scope).await?;
    let invoice = db::get_invoice(&mut c, &visit.scope, id)
        .await?
        .filter(|i| i.customer_id == visit.customer() && i.status != InvoiceStatus::Draft)
        .ok_or(ApiError::NotFound("invoice"))?;
    let customer = db::get_customer(&mut c, &visit.scope, visit.customer())
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let brand = crate::email::settings(&mut c, &visit.scope)
        .await?
        .brand
        .name;
    c.end();
    Ok((invoice, customer, brand))
}

/// One of the customer's invoices as a page.
async fn invoice(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Page> {
    let visit = visit(&state, &headers).await?;
    let (invoice, customer, _) = own_invoice(&state, &visit, &id).await?;
    let page = invoice_html::render(&invoice, &customer)?;
    Ok(download(
        page.into_bytes(),
        "text/html; charset=utf-8",
        None,
    ))
}

/// One of the customer's invoices as a PDF, to download.
async fn invoice_pdf(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Page> {
    let visit = visit(&state, &headers).await?;
    let (invoice, customer, brand) = own_invoice(&state, &visit, &id).await?;
    let pdf = crate::billing::pdf::render(&invoice, &customer, &brand);
    let name = format!("attachment; filename=\"{}.pdf\"", invoice.number);
    Ok(download(pdf, "application/pdf", Some(name)))
}

fn download(body: Vec<u8>, content_type: &'static str, disposition: Option<String>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(value) = disposition.and_then(|d| HeaderValue::from_str(&d).ok()) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

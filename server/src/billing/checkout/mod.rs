//! Hosted checkout: a session sells prices (subscription or one-time) or saves a payment
//! method, on a page of this server (`/checkout/{token}`), once, before it expires; and
//! pricing tables, public pages of plans whose buttons start sessions.
//!
//! A session completes in one transaction: it is claimed (open → complete, a compare-and-set,
//! so a page submitted twice completes once), the customer is made from the email entered if
//! there is none, the payment method saved, the subscription or invoice made (through the
//! same services as the API), and `checkout.session.completed` sent; the first invoice is
//! collected after the commit. In the sandbox without Stripe the card is one of the
//! simulated provider's test cards, checked before anything is made, so a declined card
//! leaves the session open for another try. With Stripe configured the page sends the
//! customer on to a Stripe Checkout Session (`stripe.rs`), and Stripe's
//! `checkout.session.completed` completes the session, its first invoice paid by what
//! Stripe took.

pub mod api;
pub mod pages;
pub mod stripe;

use serde::Serialize;
use serde_json::{Value, json};

use super::changes::{CreateSubscriptionRequest, resolve_items, subscribe};
use super::invoicing::{self, Draft};
use super::subscriptions::now_for;
use super::{collection, notify, redemption};
use crate::app::AppState;
use crate::audit::ActorRef;
use crate::billing::stripe::StripeProvider;
use crate::billing::stripe::checkout::Charge;
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::{Env, Scope};
use crate::webhooks;
use domain::billing::Interval;
use domain::billing::checkout::{
    CheckoutMode, CheckoutStatus, MAX_CHECKOUT_TTL_MS, MIN_CHECKOUT_TTL_MS, check_line_items,
    redirect_url,
};
use domain::billing::discounts::{CouponDuration, Discount};
use domain::billing::invoicing::period_lines;
use domain::billing::money::money;
use domain::billing::payments::{Outcome, simulated};
use domain::billing::schedule::period_end;
use domain::billing::subscriptions::Item;
use domain::billing::views::SubscriptionItem;
use domain::ids::{CheckoutSessionId, CustomerId, OrgId, TaxRateId};
use domain::secret::{generate_token, hash_token};
use domain::tenancy::Email;
use store::billing::{self as db, CheckoutRow, CustomerRow, InvoiceRow};

/// What a new session is for (the API's request, or a pricing table's button).
pub struct NewCheckout {
    pub mode: CheckoutMode,
    pub line_items: Vec<SubscriptionItem>,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub trial_days: Option<i64>,
    pub allow_promotion_codes: bool,
    pub success_url: String,
    pub cancel_url: String,
    pub ttl_ms: i64,
    pub test_clock: Option<String>,
    pub pricing_table: Option<String>,
    pub tax_rates: Vec<TaxRateId>,
}

pub fn check_url(field: &str, url: &str) -> ApiResult<()> {
    let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
    if !ok || url.len() > 2048 {
        return Err(ApiError::validation(
            field,
            "must be an http(s) URL of at most 2048 characters",
        ));
    }
    Ok(())
}

/// Checks and makes a session, in the caller's transaction; returns it with its page's URL
/// (the only time the URL is known: its token is stored as a hash).
pub async fn create(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    new: NewCheckout,
) -> ApiResult<(CheckoutRow, String)> {
    check_line_items(new.mode, &new.line_items)?;
    check_url("success_url", &new.success_url)?;
    check_url("cancel_url", &new.cancel_url)?;
    if !(MIN_CHECKOUT_TTL_MS..=MAX_CHECKOUT_TTL_MS).contains(&new.ttl_ms) {
        return Err(ApiError::validation(
            "expires_at",
            "must be 30 minutes to 24 hours from now",
        ));
    }
    if new.trial_days.is_some_and(|d| !(1..=730).contains(&d)) {
        return Err(ApiError::validation("trial_days", "must be 1 to 730"));
    }
    if new.trial_days.is_some() && new.mode != CheckoutMode::Subscription {
        return Err(ApiError::validation(
            "trial_days",
            "applies to subscription mode only",
        ));
    }
    let customer = match &new.customer {
        Some(id) => Some(
            db::get_customer(tx, scope, id)
                .await?
                .ok_or(ApiError::NotFound("customer"))?,
        ),
        None => None,
    };
    let email = match &new.customer_email {
        Some(e) => Some(Email::parse("customer_email", e)?.as_str().to_owned()),
        None => None,
    };
    if let Some(clock) = &new.test_clock {
        if scope.env != Env::Test {
            return Err(ApiError::validation(
                "test_clock",
                "exists in the sandbox only",
            ));
        }
        db::get_test_clock(tx, scope, clock)
            .await?
            .ok_or(ApiError::NotFound("test_clock"))?;
    }
    if !new.tax_rates.is_empty() && new.mode == CheckoutMode::Setup {
        return Err(ApiError::validation(
            "tax_rates",
            "apply to subscription and payment modes only",
        ));
    }
    redemption::tax_rates(tx, scope, &new.tax_rates).await?;
    let currency = items_currency(tx, scope, new.mode, &new.line_items).await?;
    if let (Some(c), Some(have)) = (
        &currency,
        customer.as_ref().and_then(|c| c.currency.as_ref()),
    ) && c != have
    {
        return Err(ApiError::conflict(
            "currency_mismatch",
            format!("The customer is billed in {have}, the prices are in {c}."),
        ));
    }
    let now = state.clock.now_ms();
    let token = generate_token("cst_");
    let row = CheckoutRow {
        id: CheckoutSessionId::generate().to_string(),
        tenant_id: scope.org_id.to_string(),
        env: scope.env.as_str().to_owned(),
        token_hash: hash_token(&token),
        mode: new.mode.into(),
        status: CheckoutStatus::Open.into(),
        customer_id: new.customer,
        customer_email: email,
        line_items: new.line_items.into(),
        currency,
        trial_days: new.trial_days,
        allow_promotion_codes: i64::from(new.allow_promotion_codes),
        promotion_code: None,
        success_url: new.success_url,
        cancel_url: new.cancel_url,
        test_clock: new.test_clock,
        pricing_table_id: new.pricing_table,
        subscription_id: None,
        invoice_id: None,
        stripe_session_id: None,
        tax_rates: new.tax_rates.into(),
        expires_at: now + new.ttl_ms,
        completed_at: None,
        created_at: now,
    };
    db::insert_checkout(tx, scope, &row).await?;
    Ok((row, format!("{}/checkout/{token}", state.public_base)))
}

/// The currency the items are in, checked for the mode: recurring prices of one interval to
/// subscribe, active one-time prices to pay for; None in setup mode.
async fn items_currency(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    mode: CheckoutMode,
    items: &[SubscriptionItem],
) -> ApiResult<Option<String>> {
    match mode {
        CheckoutMode::Setup => Ok(None),
        CheckoutMode::Subscription => Ok(Some(resolve_items(tx, scope, items, &[]).await?.1)),
        CheckoutMode::Payment => Ok(Some(one_time(tx, scope, items).await?.1)),
    }
}

/// One-time prices of one currency, with their terms.
async fn one_time(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    items: &[SubscriptionItem],
) -> ApiResult<(Vec<Item>, String)> {
    let mut out = Vec::new();
    let mut currency: Option<String> = None;
    for (i, item) in items.iter().enumerate() {
        let price = db::get_price(tx, scope, item.price.as_str())
            .await?
            .filter(|p| p.archived_at.is_none())
            .ok_or(ApiError::NotFound("price"))?;
        if price.terms.0.recurring.is_some() {
            return Err(ApiError::validation(
                &format!("line_items[{i}].price"),
                "must be a one-time price in payment mode",
            ));
        }
        if currency.as_ref().is_some_and(|c| *c != price.currency) {
            return Err(ApiError::validation(
                &format!("line_items[{i}].price"),
                "must be in the same currency as the other items",
            ));
        }
        currency = Some(price.currency.clone());
        out.push(Item {
            price: price.id,
            quantity: item.quantity,
            terms: price.terms.0,
        });
    }
    Ok((out, currency.unwrap_or_default()))
}

/// A session's scope, from its row.
fn scope_of(row: &CheckoutRow) -> ApiResult<Scope> {
    let env = Env::parse(&row.env)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("bad env {:?}", row.env)))?;
    Ok(Scope {
        org_id: OrgId::from_db(row.tenant_id.clone()),
        env,
    })
}

/// The session a page's token opens, with its scope.
pub async fn find(state: &AppState, token: &str) -> ApiResult<Option<(Scope, CheckoutRow)>> {
    match db::find_checkout(state.db.reader(), &hash_token(token)).await? {
        Some(row) => Ok(Some((scope_of(&row)?, row))),
        None => Ok(None),
    }
}

/// What the page shows: each line, the trial, the discount, the taxes and the totals,
/// today and per period, worked out as the invoices will be.
#[derive(Debug, Serialize)]
pub struct Order {
    pub lines: Vec<Value>,
    pub trial_days: Option<i64>,
    pub discount: Option<String>,
    pub subtotal: String,
    pub discount_amount: Option<String>,
    /// Each tax rate's name and amount on the first invoice.
    pub taxes: Vec<Value>,
    pub today: String,
    /// The amount charged today, in minor units (checked against the card).
    pub today_minor: i64,
    /// What each later period costs, and its interval.
    pub per_period: Option<String>,
    pub interval: Option<String>,
    /// What Stripe charges for it, in minor units: the first invoice's lines, then its tax.
    #[serde(skip)]
    pub charges: Vec<Charge>,
    /// The first invoice's discount, minor units.
    #[serde(skip)]
    pub discount_minor: i64,
    #[serde(skip)]
    pub recurring: Option<(Interval, i64)>,
}

/// The order of an open session. The promotion code, if any, is checked by redeeming it in
/// a transaction that is then dropped.
pub async fn order(state: &AppState, scope: &Scope, row: &CheckoutRow) -> ApiResult<Order> {
    let mut tx = state.db.write_scoped(scope).await?;
    let now = state.clock.now_ms();
    let items = match row.mode.0 {
        CheckoutMode::Setup => Vec::new(),
        CheckoutMode::Subscription => {
            resolve_items(&mut tx, scope, &row.line_items.0, &[])
                .await?
                .0
        }
        CheckoutMode::Payment => one_time(&mut tx, scope, &row.line_items.0).await?.0,
    };
    let currency = row.currency.clone().unwrap_or_default();
    let discount = match &row.promotion_code {
        Some(code) => redemption::redeem(&mut tx, scope, None, Some(code), &currency, now).await?,
        None => None,
    };
    let taxes = redemption::tax_rates(&mut tx, scope, &row.tax_rates.0).await?;
    let balance = match &row.customer_id {
        Some(id) => db::get_customer(&mut tx, scope, id)
            .await?
            .map_or(0, |c| c.balance),
        None => 0,
    };
    drop(tx);
    let recurring = items.first().and_then(|i| i.terms.recurring.clone());
    let end = match &recurring {
        Some(r) => period_end(now, r.interval, r.interval_count, 1),
        None => now,
    };
    // One-time prices (payment mode) have no period: theirs ends when it starts.
    let lines = period_lines(&items, now, end)?;
    let totals = |with: Option<&Discount>| {
        invoicing::draft(Draft {
            customer: "",
            subscription: None,
            currency: &currency,
            billing_reason: "preview",
            lines: lines.clone(),
            period: (now, end),
            created_at: now,
            due_at: now,
            discount: with,
            tax_rates: &taxes,
        })
    };
    let first = totals(discount.as_ref())?;
    let later = discount
        .as_ref()
        .filter(|d| d.terms.duration != CouponDuration::Once);
    let period = totals(later)?;
    let mut shown = Vec::new();
    let mut charges = Vec::new();
    let mut c = state.db.read_scoped(scope).await?;
    for line in &lines {
        let product = match db::get_price(&mut c, scope, &line.price).await? {
            Some(p) => db::get_product(&mut c, scope, &p.product_id)
                .await?
                .map_or(p.id, |p| p.name),
            None => line.price.clone(),
        };
        shown.push(json!({"product": product, "quantity": line.quantity,
                          "amount": money(line.amount, &currency)}));
        charges.push(Charge {
            name: product,
            quantity: line.quantity,
            amount: line.amount,
        });
    }
    c.end();
    if first.tax_amount != 0 {
        charges.push(Charge {
            name: "Tax".to_owned(),
            quantity: 1,
            amount: first.tax_amount,
        });
    }
    let tax_shown = first
        .taxes
        .0
        .iter()
        .map(|t| {
            json!({"name": t.display_name, "percentage": t.percentage,
                        "amount": money(t.amount, &currency)})
        })
        .collect();
    let trial = row
        .trial_days
        .or(items.first().and_then(|i| i.terms.trial_days));
    // An existing customer's balance changes what is due today: a debit is charged as a
    // line of its own, a credit taken off.
    let (today, applied) = match (row.mode.0, trial) {
        (CheckoutMode::Subscription, Some(_)) | (CheckoutMode::Setup, _) => (0, 0),
        _ => {
            let due = first
                .total
                .checked_add(balance)
                .ok_or_else(|| ApiError::validation("balance", "does not fit in 64 bits"))?
                .max(0);
            (due, due - first.total)
        }
    };
    if applied > 0 {
        charges.push(Charge {
            name: "Account balance".to_owned(),
            quantity: 1,
            amount: applied,
        });
    }
    Ok(Order {
        lines: shown,
        trial_days: trial.filter(|_| row.mode.0 == CheckoutMode::Subscription),
        discount: discount.as_ref().map(|d| d.terms.describe()),
        subtotal: money(first.subtotal, &currency),
        discount_amount: (first.discount_amount != 0)
            .then(|| money(-first.discount_amount, &currency)),
        taxes: tax_shown,
        today: money(today, &currency),
        today_minor: today,
        per_period: recurring.as_ref().map(|_| money(period.total, &currency)),
        interval: recurring
            .as_ref()
            .map(|r| domain::serde_name(r.interval).unwrap_or_default()),
        charges,
        discount_minor: first.discount_amount - applied.min(0),
        recurring: recurring.map(|r| (r.interval, r.interval_count)),
    })
}

/// What paying did.
pub enum Paid {
    /// Done: send the customer to this URL.
    Complete(String),
    /// The card was declined (its code); the session stays open.
    Declined(String),
}

/// Who completes a session, in the audit log.
fn actor(id: &str) -> ActorRef<'_> {
    ActorRef {
        kind: "checkout_session",
        id,
        ip: None,
    }
}

/// Pays an open session with a sandbox test card, as the module's doc describes.
pub async fn pay(
    state: &AppState,
    scope: &Scope,
    mut row: CheckoutRow,
    email: Option<&str>,
    payment_method: &str,
) -> ApiResult<Paid> {
    if StripeProvider::load(state, scope).await?.is_some() {
        return Err(ApiError::conflict(
            "checkout_through_stripe",
            "This environment collects through Stripe: pay on Stripe's page.",
        ));
    }
    if scope.env != Env::Test {
        return Err(ApiError::conflict(
            "payment_provider_not_configured",
            "Live checkout goes through Stripe Checkout: configure Stripe for this environment.",
        ));
    }
    if !domain::billing::payments::TEST_CARDS
        .iter()
        .any(|(id, _)| *id == payment_method)
    {
        return Err(ApiError::validation("payment_method", "is not a test card"));
    }
    let order = order(state, scope, &row).await?;
    if let Outcome::Failed { code } = simulated(payment_method, order.today_minor, &row.id) {
        return Ok(Paid::Declined(code));
    }
    let mut tx = state.db.write_scoped(scope).await?;
    let first_invoice = complete(&mut tx, state, scope, &mut row, email, payment_method).await?;
    tx.commit().await?;
    if let Some(invoice) = first_invoice {
        // At the customer's time (its test clock's, if any), as the invoice was made.
        let at = invoice.created_at;
        collection::process(state, scope, &actor(&row.id), &invoice.id, at, true).await?;
    }
    Ok(Paid::Complete(redirect_url(&row.success_url, &row.id)))
}

/// Completes an open session in the caller's transaction, as the module's doc describes:
/// the customer (made from `email` when the session has none) with `payment_method` as its
/// default, the subscription or invoice, and `checkout.session.completed`. Returns the first
/// invoice, for the caller to collect or settle.
pub async fn complete(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    row: &mut CheckoutRow,
    email: Option<&str>,
    payment_method: &str,
) -> ApiResult<Option<InvoiceRow>> {
    let id = row.id.clone();
    let actor = actor(&id);
    let mut customer = match &row.customer_id {
        Some(id) => db::get_customer(tx, scope, id)
            .await?
            .ok_or(ApiError::NotFound("customer"))?,
        None => {
            let address = email
                .or(row.customer_email.as_deref())
                .ok_or_else(|| ApiError::validation("email", "is required"))?;
            let address = Email::parse("email", address)?;
            new_customer(
                tx,
                state,
                scope,
                &actor,
                address.as_str(),
                row.test_clock.clone(),
            )
            .await?
        }
    };
    customer.default_payment_method = Some(payment_method.to_owned());
    customer.updated_at = state.clock.now_ms();
    db::update_customer(tx, scope, &customer).await?;
    notify(
        tx,
        &state.clock,
        scope,
        &actor,
        "customer.updated",
        &customer,
    )
    .await?;
    let now = now_for(tx, &state.clock, scope, &customer).await?;
    let first_invoice = match row.mode.0 {
        CheckoutMode::Setup => None,
        CheckoutMode::Subscription => {
            let req = CreateSubscriptionRequest {
                customer: CustomerId::from_db(customer.id.clone()),
                items: row.line_items.0.clone(),
                trial_days: row.trial_days,
                trial_settings: None,
                coupon: None,
                promotion_code: row.promotion_code.clone(),
                default_tax_rates: Some(row.tax_rates.0.clone()),
            };
            let (sub, invoice) = subscribe(tx, &state.clock, scope, &actor, &req).await?;
            row.subscription_id = Some(sub.id);
            Some(invoice)
        }
        CheckoutMode::Payment => {
            let (items, currency) = one_time(tx, scope, &row.line_items.0).await?;
            let taxes = redemption::tax_rates(tx, scope, &row.tax_rates.0).await?;
            let lines = period_lines(&items, now, now)?;
            let mut invoice = invoicing::draft(Draft {
                customer: &customer.id,
                subscription: None,
                currency: &currency,
                billing_reason: "checkout",
                lines,
                period: (now, now),
                created_at: now,
                due_at: now,
                discount: None,
                tax_rates: &taxes,
            })?;
            invoicing::insert_drafts(tx, scope, std::slice::from_mut(&mut invoice)).await?;
            notify(tx, &state.clock, scope, &actor, "invoice.created", &invoice).await?;
            row.invoice_id = Some(invoice.id.clone());
            Some(invoice)
        }
    };
    if row.invoice_id.is_none() {
        row.invoice_id = first_invoice.as_ref().map(|i| i.id.clone());
    }
    row.customer_id = Some(customer.id.clone());
    row.status = CheckoutStatus::Complete.into();
    row.completed_at = Some(state.clock.now_ms());
    if !db::settle_checkout(tx, scope, row).await? {
        return Err(ApiError::conflict(
            "checkout_session_used",
            "This checkout was already completed.",
        ));
    }
    let at = row.completed_at.unwrap_or(now);
    let shown = row.shown(at, None);
    webhooks::emit(tx, scope, "checkout.session.completed", &shown, at).await?;
    Ok(first_invoice)
}

/// A customer made at checkout, from the email entered.
async fn new_customer(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    actor: &ActorRef<'_>,
    email: &str,
    test_clock: Option<String>,
) -> ApiResult<CustomerRow> {
    let now = state.clock.now_ms();
    let row = CustomerRow {
        id: CustomerId::generate().to_string(),
        name: None,
        email: Some(email.to_owned()),
        address: None,
        tax_ids: Default::default(),
        metadata: Default::default(),
        default_payment_method: None,
        currency: None,
        balance: 0,
        test_clock,
        created_at: now,
        updated_at: now,
        external_id: None,
    };
    db::insert_customer(tx, scope, &row).await?;
    notify(tx, &state.clock, scope, actor, "customer.created", &row).await?;
    Ok(row)
}

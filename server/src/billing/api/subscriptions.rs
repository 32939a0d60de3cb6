//! Subscriptions (`/v1/subscriptions`): create (optionally trialing), change items and
//! quantities with prorations, cancel now or at period end, pause and resume. See
//! `billing::subscriptions` for the state machine.

use axum::extract::State;
use axum::http::StatusCode;
use domain::billing::status::SubscriptionStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit::ActorRef;
use crate::billing::invoicing;
use crate::billing::notify;
use crate::billing::subscriptions::{
    defer, draft_invoice, now_for, renew, start_next_period, start_trial, usage_lines,
};
use crate::billing::{collection, redemption};
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::{Permission, Scope};
use domain::billing::dunning::DAY_MS;
use domain::billing::invoicing::proration_lines;
use domain::billing::subscriptions::{Item, TRIAL_WILL_END_MS, TrialSettings, interval_of};
use domain::billing::views::{InvoiceLine, Subscription, SubscriptionItem, UpcomingInvoice};
use domain::clock::timestamp;
use domain::ids::{CouponId, CustomerId, SubscriptionId, TaxRateId};
use store::Claim;
use store::billing::{self as db, CustomerRow, InvoiceRow, SubscriptionRow};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscriptionRequest {
    pub customer: CustomerId,
    /// 1 to 20 recurring prices of one currency and one billing interval.
    pub items: Vec<SubscriptionItem>,
    /// Days of trial; default: the first price's `trial_days`. 0 for none.
    #[schema(minimum = 0, maximum = 730)]
    pub trial_days: Option<i64>,
    /// What the trial's end does if the customer has no payment method then.
    pub trial_settings: Option<TrialSettings>,
    /// A coupon to take off its invoices (or give `promotion_code`, not both).
    pub coupon: Option<CouponId>,
    /// A customer-facing promotion code (any case) for a coupon.
    #[schema(example = "LAUNCH25")]
    pub promotion_code: Option<String>,
    /// Up to 5 active tax rates added to its invoices.
    pub default_tax_rates: Option<Vec<TaxRateId>>,
}

/// Subscribe a customer to prices. Without a trial the first period is invoiced and
/// collected at once: the subscription is `active` when that invoice is paid, else
/// `incomplete` until it is. A trial starts `trialing` with a paid 0.00 invoice.
#[utoipa::path(
    post, path = "/v1/subscriptions", tag = "subscriptions", operation_id = "subscriptions_create",
    request_body = CreateSubscriptionRequest,
    responses(
        (status = 201, description = "Created", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateSubscriptionRequest>,
) -> ApiResult<(StatusCode, axum::Json<Subscription>)> {
    caller.require(Permission::BillingWrite)?;
    let scope = &caller.scope;
    let actor: ActorRef = (&caller).into();
    let mut tx = state.db.write_scoped(scope).await?;
    let mut customer = db::get_customer(&mut tx, scope, req.customer.as_str())
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let (items, currency) = resolve_items(&mut tx, scope, &req.items, &[]).await?;
    match &customer.currency {
        Some(c) if *c != currency => {
            return Err(ApiError::conflict(
                "currency_mismatch",
                format!("The customer is billed in {c}, the prices are in {currency}."),
            ));
        }
        Some(_) => {}
        None => {
            customer.currency = Some(currency.clone());
            db::update_customer(&mut tx, scope, &customer).await?;
        }
    }
    let trial_days = req.trial_days.or(items[0].terms.trial_days).unwrap_or(0);
    if !(0..=730).contains(&trial_days) {
        return Err(ApiError::validation("trial_days", "must be 0 to 730"));
    }
    let now = now_for(&mut tx, &state.clock, scope, &customer).await?;
    let trial_end = (trial_days > 0).then(|| now + trial_days * DAY_MS);
    let discount = redemption::redeem(
        &mut tx,
        scope,
        req.coupon.as_ref(),
        req.promotion_code.as_deref(),
        &currency,
        now,
    )
    .await?;
    let taxes = redemption::tax_rates(
        &mut tx,
        scope,
        req.default_tax_rates.as_deref().unwrap_or(&[]),
    )
    .await?;
    let mut sub = SubscriptionRow {
        id: SubscriptionId::generate().to_string(),
        customer_id: customer.id.clone(),
        status: if trial_end.is_some() {
            SubscriptionStatus::Trialing
        } else {
            SubscriptionStatus::Incomplete
        }
        .into(),
        items: items.into(),
        currency,
        billing_cycle_anchor: trial_end.unwrap_or(now),
        periods: 0,
        current_period_start: now,
        current_period_end: trial_end.unwrap_or(now),
        trial_end,
        cancel_at_period_end: 0,
        canceled_at: None,
        created_at: now,
        pending_lines: Default::default(),
        discount: discount.map(Into::into),
        tax_rates: taxes.into(),
        missing_payment_method: req
            .trial_settings
            .unwrap_or_default()
            .end_behavior
            .missing_payment_method
            .into(),
        trial_will_end_at: trial_end.map(|end| (end - TRIAL_WILL_END_MS).max(now)),
    };
    db::insert_subscription(&mut tx, scope, &sub).await?;
    let first_invoice = match trial_end {
        Some(end) => start_trial(&mut tx, &state.clock, scope, &actor, &sub, (now, end)).await?,
        None => {
            let invoice = start_next_period(
                &mut tx,
                &state.clock,
                scope,
                &actor,
                &mut sub,
                "subscription_create",
                now,
            )
            .await?;
            db::update_subscription(&mut tx, scope, &sub).await?;
            invoice
        }
    };
    notify(
        &mut tx,
        &state.clock,
        scope,
        &actor,
        "subscription.created",
        &sub,
    )
    .await?;
    tx.commit().await?;
    collection::process(&state, scope, &actor, &first_invoice.id, now, true).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(reread(&state, scope, &sub.id).await?),
    ))
}

async fn reread(state: &AppState, scope: &Scope, id: &str) -> ApiResult<Subscription> {
    let mut conn = state.db.read_scoped(scope).await?;
    let row = db::get_subscription(&mut conn, scope, id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    conn.end();
    Ok(Subscription::from(row))
}

/// Checks requested items: 1 to 20 active recurring prices of one currency and one interval.
/// Archived prices are refused unless already subscribed (`current`).
async fn resolve_items(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    requested: &[SubscriptionItem],
    current: &[Item],
) -> ApiResult<(Vec<Item>, String)> {
    if requested.is_empty() || requested.len() > 20 {
        return Err(ApiError::validation("items", "must have 1 to 20 items"));
    }
    let mut items: Vec<Item> = Vec::new();
    let mut currency: Option<String> = None;
    for (i, item) in requested.iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        if !(1..=1_000_000_000).contains(&item.quantity) {
            return Err(ApiError::validation(
                &field("quantity"),
                "must be 1 to 1000000000",
            ));
        }
        if requested[..i].iter().any(|p| p.price == item.price) {
            return Err(ApiError::validation(&field("price"), "is listed twice"));
        }
        let price = db::get_price(tx, scope, item.price.as_str())
            .await?
            .ok_or(ApiError::NotFound("price"))?;
        let terms = price.terms.0;
        let Some(recurring) = &terms.recurring else {
            return Err(ApiError::validation(
                &field("price"),
                "must be a recurring price",
            ));
        };
        let first = items.first().and_then(|f| f.terms.recurring.as_ref());
        if first.is_some_and(|first| first != recurring) {
            return Err(ApiError::validation(
                &field("price"),
                "must bill on the same interval as the other items",
            ));
        }
        if currency.as_ref().is_some_and(|c| *c != price.currency) {
            return Err(ApiError::validation(
                &field("price"),
                "must be in the same currency as the other items",
            ));
        }
        if price.archived_at.is_some() && !current.iter().any(|c| c.price == price.id) {
            return Err(ApiError::conflict(
                "price_archived",
                format!("{} is archived and starts no new subscriptions.", price.id),
            ));
        }
        currency = Some(price.currency.clone());
        items.push(Item {
            price: price.id,
            quantity: item.quantity,
            terms,
        });
    }
    Ok((items, currency.unwrap_or_default()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only this customer's subscriptions.
    pub customer: Option<String>,
}

/// List subscriptions, newest first.
#[utoipa::path(
    get, path = "/v1/subscriptions", tag = "subscriptions", operation_id = "subscriptions_list",
    params(SubscriptionQuery),
    responses(
        (status = 200, description = "A page of subscriptions", body = SubscriptionPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SubscriptionQuery>,
) -> ApiResult<axum::Json<SubscriptionPage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_subscriptions(
        &mut tx,
        &caller.scope,
        q.customer.as_deref(),
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), Subscription::from);
    Ok(axum::Json(page.into()))
}

/// Get a subscription.
#[utoipa::path(
    get, path = "/v1/subscriptions/{id}", tag = "subscriptions", operation_id = "subscriptions_get",
    params(("id" = SubscriptionId, Path)),
    responses(
        (status = 200, description = "The subscription", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_subscription(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    tx.end();
    Ok(axum::Json(Subscription::from(row)))
}

/// A subscription's metered usage so far this period, as its next invoice would bill it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionUsage {
    pub subscription: SubscriptionId,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub period_start: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub period_end: i64,
    /// One line per metered item: the usage measured, the billed quantity and its amount.
    pub lines: Vec<InvoiceLine>,
}

/// Get a subscription's metered usage in the current period, priced.
#[utoipa::path(
    get, path = "/v1/subscriptions/{id}/usage", tag = "subscriptions", operation_id = "subscriptions_usage",
    params(("id" = SubscriptionId, Path)),
    responses(
        (status = 200, description = "The usage so far", body = SubscriptionUsage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
) -> ApiResult<axum::Json<SubscriptionUsage>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_subscription(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    let period = (row.current_period_start, row.current_period_end);
    let lines = usage_lines(&mut tx, &caller.scope, &row, period).await?;
    tx.end();
    Ok(axum::Json(SubscriptionUsage {
        subscription: id,
        period_start: period.0,
        period_end: period.1,
        lines: lines.into_iter().map(InvoiceLine::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelSubscriptionRequest {
    /// End with the current period instead of now (default false).
    #[serde(default)]
    pub at_period_end: bool,
}

/// Cancel now, or at the end of the current period.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/cancel", tag = "subscriptions", operation_id = "subscriptions_cancel",
    params(("id" = SubscriptionId, Path)),
    request_body = CancelSubscriptionRequest,
    responses(
        (status = 200, description = "Canceled or scheduled to cancel", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
    Json(req): Json<CancelSubscriptionRequest>,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingWrite)?;
    let mut c = Change::begin(&state, &caller, &id).await?;
    let event = if req.at_period_end {
        c.sub.cancel_at_period_end = 1;
        "subscription.updated"
    } else {
        c.sub.status = SubscriptionStatus::Canceled.into();
        c.sub.canceled_at = Some(c.now);
        "subscription.canceled"
    };
    c.commit(&state, &caller, event, None).await
}

/// Resume: a paused subscription starts a new period now, invoiced and collected at once;
/// a subscription scheduled to cancel at period end goes on renewing.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/resume", tag = "subscriptions", operation_id = "subscriptions_resume",
    params(("id" = SubscriptionId, Path)),
    responses(
        (status = 200, description = "Resumed", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingWrite)?;
    let mut c = Change::begin(&state, &caller, &id).await?;
    c.sub.cancel_at_period_end = 0;
    let mut invoice = None;
    if c.sub.status == SubscriptionStatus::Paused {
        c.sub.status = SubscriptionStatus::Active.into();
        c.sub.billing_cycle_anchor = c.now;
        c.sub.periods = 0;
        let actor: ActorRef = (&caller).into();
        let (now, scope) = (c.now, caller.scope.clone());
        let started = start_next_period(
            &mut c.tx,
            &state.clock,
            &scope,
            &actor,
            &mut c.sub,
            "subscription_resume",
            now,
        )
        .await?;
        invoice = Some(started.id);
    }
    c.commit(&state, &caller, "subscription.resumed", invoice)
        .await
}

/// Pause collection: no renewals and no invoices until resumed.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/pause", tag = "subscriptions", operation_id = "subscriptions_pause",
    params(("id" = SubscriptionId, Path)),
    responses(
        (status = 200, description = "Paused", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingWrite)?;
    let mut c = Change::begin(&state, &caller, &id).await?;
    c.require_billing("pause")?;
    c.sub.status = SubscriptionStatus::Paused.into();
    c.commit(&state, &caller, "subscription.paused", None).await
}

/// How a change mid-period is charged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProrationBehavior {
    /// Credit the unused time and charge the remaining time on the next invoice (default).
    #[default]
    CreateProrations,
    /// No prorations: the new items bill from the next period.
    None,
    /// Invoice the prorations now and collect them at once.
    AlwaysInvoice,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscriptionRequest {
    /// The new items, replacing the current ones: change a price (upgrade, downgrade) or a
    /// quantity. Same currency and billing interval as the subscription. Absent: unchanged.
    pub items: Option<Vec<SubscriptionItem>>,
    #[serde(default)]
    pub proration_behavior: ProrationBehavior,
    /// A coupon replacing the current discount from now (or give `promotion_code`).
    pub coupon: Option<CouponId>,
    /// A customer-facing promotion code (any case) for a coupon.
    #[schema(example = "LAUNCH25")]
    pub promotion_code: Option<String>,
    /// Replaces the tax rates for the next invoices; `[]` removes them.
    pub default_tax_rates: Option<Vec<TaxRateId>>,
}

/// Change a subscription's items or quantities mid-period, with prorations.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}", tag = "subscriptions", operation_id = "subscriptions_update",
    params(("id" = SubscriptionId, Path)),
    request_body = UpdateSubscriptionRequest,
    responses(
        (status = 200, description = "Updated", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
    Json(req): Json<UpdateSubscriptionRequest>,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingWrite)?;
    let mut c = Change::begin(&state, &caller, &id).await?;
    let scope = caller.scope.clone();
    let mut invoice = None;
    if let Some(mut draft) = c.update(&scope, &req).await? {
        invoicing::insert_drafts(&mut c.tx, &scope, std::slice::from_mut(&mut draft)).await?;
        let actor: ActorRef = (&caller).into();
        notify(
            &mut c.tx,
            &state.clock,
            &scope,
            &actor,
            "invoice.created",
            &draft,
        )
        .await?;
        invoice = Some(draft.id);
    }
    c.commit(&state, &caller, "subscription.updated", invoice)
        .await
}

/// What an update would do, made as the update makes it and then rolled back.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionPreview {
    /// The subscription after the change.
    pub subscription: Subscription,
    /// The invoice the change makes and collects at once (`always_invoice` with
    /// prorations), with the customer's balance applied: what the update will charge.
    pub invoice_now: Option<UpcomingInvoice>,
    /// The next renewal's invoice after the change: the next period's licensed lines, the
    /// prorations waiting for it and the usage so far. None when the period end cancels the
    /// subscription and bills nothing.
    pub next_invoice: Option<UpcomingInvoice>,
}

/// Preview an update (the same body): the invoice it would make now and the next renewal's,
/// to the cent, without changing anything. Like Stripe's upcoming invoice.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/preview", tag = "subscriptions", operation_id = "subscriptions_preview",
    params(("id" = SubscriptionId, Path)),
    request_body = UpdateSubscriptionRequest,
    responses(
        (status = 200, description = "What the update would do", body = SubscriptionPreview),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
    Json(req): Json<UpdateSubscriptionRequest>,
) -> ApiResult<axum::Json<SubscriptionPreview>> {
    caller.require(Permission::BillingRead)?;
    let c = Change::begin(&state, &caller, &id).await?;
    Ok(axum::Json(c.preview(&caller.scope, &req).await?))
}

/// A change to a subscription that has not ended: read in, edited, committed with its event,
/// then any invoice it created collected.
struct Change {
    tx: store::Tx,
    sub: SubscriptionRow,
    customer: CustomerRow,
    now: i64,
}

impl Change {
    /// Reads the subscription in, locked; the caller checked its permission.
    async fn begin(state: &AppState, caller: &Caller, id: &SubscriptionId) -> ApiResult<Self> {
        let mut tx = state.db.write_scoped(&caller.scope).await?;
        let sub = db::claim_subscription(&mut tx, &caller.scope, id.as_str(), Claim::Wait)
            .await?
            .ok_or(ApiError::NotFound("subscription"))?;
        if sub.status.ended() {
            return Err(ApiError::conflict(
                "subscription_canceled",
                "The subscription has ended.",
            ));
        }
        let customer = db::get_customer(&mut tx, &caller.scope, &sub.customer_id)
            .await?
            .ok_or(ApiError::NotFound("customer"))?;
        let now = now_for(&mut tx, &state.clock, &caller.scope, &customer).await?;
        Ok(Change {
            tx,
            sub,
            customer,
            now,
        })
    }

    /// Applies an update to the subscription: its discount, tax rates and items, with
    /// prorations. Returns the invoice the prorations make now (`always_invoice`), not
    /// numbered yet.
    async fn update(
        &mut self,
        scope: &Scope,
        req: &UpdateSubscriptionRequest,
    ) -> ApiResult<Option<InvoiceRow>> {
        self.require_billing("change")?;
        let currency = self.sub.currency.clone();
        if let Some(d) = redemption::redeem(
            &mut self.tx,
            scope,
            req.coupon.as_ref(),
            req.promotion_code.as_deref(),
            &currency,
            self.now,
        )
        .await?
        {
            self.sub.discount = Some(d.into());
        }
        if let Some(ids) = &req.default_tax_rates {
            let taxes = redemption::tax_rates(&mut self.tx, scope, ids).await?;
            self.sub.tax_rates = taxes.into();
        }
        let Some(requested) = &req.items else {
            return Ok(None);
        };
        let old = self.sub.items.0.clone();
        let (new, currency) = resolve_items(&mut self.tx, scope, requested, &old).await?;
        if currency != self.sub.currency {
            return Err(ApiError::validation(
                "items",
                format!(
                    "must be in the subscription's currency, {}",
                    self.sub.currency
                ),
            ));
        }
        if interval_of(&new)? != interval_of(&old)? {
            return Err(ApiError::validation(
                "items",
                "must bill on the subscription's interval",
            ));
        }
        let period = (self.sub.current_period_start, self.sub.current_period_end);
        let lines = match (req.proration_behavior, self.sub.status.0) {
            (ProrationBehavior::None, _) | (_, SubscriptionStatus::Trialing) => Vec::new(),
            _ => proration_lines(&old, &new, period, self.now)?,
        };
        self.sub.items = new.into();
        if lines.is_empty() {
            return Ok(None);
        }
        if req.proration_behavior != ProrationBehavior::AlwaysInvoice {
            defer(&mut self.sub, lines);
            return Ok(None);
        }
        let period = (self.now, self.sub.current_period_end);
        let now = (self.now, self.now);
        Ok(Some(draft_invoice(
            &mut self.sub,
            "subscription_update",
            lines,
            period,
            now,
        )?))
    }

    /// What `update` would do, worked out in this transaction, which is then dropped (rolled
    /// back): the invoice now, finalized against the customer's balance as collection does,
    /// then the next renewal's, against what balance is left.
    async fn preview(
        mut self,
        scope: &Scope,
        req: &UpdateSubscriptionRequest,
    ) -> ApiResult<SubscriptionPreview> {
        let mut customer = self.customer.clone();
        let invoice_now = match self.update(scope, req).await? {
            Some(mut invoice) => {
                invoicing::finalize(&mut invoice, &mut customer, self.now)?;
                Some(invoice.into())
            }
            None => None,
        };
        let mut after = self.sub.clone();
        let next_invoice = match renew(&mut self.tx, scope, &mut after, &customer).await? {
            Some(mut invoice) => {
                let at = invoice.created_at;
                invoicing::finalize(&mut invoice, &mut customer, at)?;
                Some(invoice.into())
            }
            None => None,
        };
        Ok(SubscriptionPreview {
            subscription: self.sub.into(),
            invoice_now,
            next_invoice,
        })
    }

    fn require_billing(&self, what: &str) -> ApiResult<()> {
        if self.sub.status.bills() {
            return Ok(());
        }
        Err(ApiError::conflict(
            "subscription_not_billing",
            format!(
                "A {} subscription cannot {what}; only trialing, active and past_due ones can.",
                self.sub.status
            ),
        ))
    }

    async fn commit(
        mut self,
        state: &AppState,
        caller: &Caller,
        event: &str,
        invoice: Option<String>,
    ) -> ApiResult<axum::Json<Subscription>> {
        let scope = &caller.scope;
        let actor: ActorRef = caller.into();
        db::update_subscription(&mut self.tx, scope, &self.sub).await?;
        notify(&mut self.tx, &state.clock, scope, &actor, event, &self.sub).await?;
        self.tx.commit().await?;
        if let Some(invoice) = invoice {
            collection::process(state, scope, &actor, &invoice, self.now, true).await?;
        }
        Ok(axum::Json(reread(state, scope, &self.sub.id).await?))
    }
}

page_type!(SubscriptionPage, Subscription);

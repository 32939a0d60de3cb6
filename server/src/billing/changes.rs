//! A subscription's start and the changes to it until it ends, in one place for the API,
//! checkout and the customer portal: subscribing, its items and quantities with prorations
//! (and their preview), discount and tax rates, cancellation, pause and resume. See
//! `subscriptions` for the state machine.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::invoicing;
use super::notify;
use super::subscriptions::{defer, draft_invoice, now_for, renew, start_next_period, start_trial};
use super::{collection, redemption};
use crate::app::AppState;
use crate::audit::ActorRef;
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;
use domain::billing::dunning::DAY_MS;
use domain::billing::invoicing::proration_lines;
use domain::billing::status::SubscriptionStatus;
use domain::billing::subscriptions::{Item, TRIAL_WILL_END_MS, TrialSettings, interval_of};
use domain::billing::views::{Subscription, SubscriptionItem, UpcomingInvoice};
use domain::clock::Clock;
use domain::ids::{CouponId, CustomerId, SubscriptionId, TaxRateId};
use store::Claim;
use store::billing::{self as db, CustomerRow, InvoiceRow, SubscriptionRow};

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

#[derive(Debug, Default, Deserialize, ToSchema)]
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

/// Checks requested items: 1 to 20 active recurring prices of one currency and one interval.
/// Archived prices are refused unless already subscribed (`current`).
pub async fn resolve_items(
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

/// Subscribes a customer, in the caller's transaction: the subscription (trialing, or
/// incomplete until its first invoice is paid) and its first invoice, a draft the caller
/// collects (`collection::process`) once it has committed.
pub async fn subscribe(
    tx: &mut sqlx::AnyConnection,
    clock: &Clock,
    scope: &Scope,
    actor: &ActorRef<'_>,
    req: &CreateSubscriptionRequest,
) -> ApiResult<(SubscriptionRow, InvoiceRow)> {
    let mut customer = db::get_customer(tx, scope, req.customer.as_str())
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let (items, currency) = resolve_items(tx, scope, &req.items, &[]).await?;
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
            db::update_customer(tx, scope, &customer).await?;
        }
    }
    let trial_days = req.trial_days.or(items[0].terms.trial_days).unwrap_or(0);
    if !(0..=730).contains(&trial_days) {
        return Err(ApiError::validation("trial_days", "must be 0 to 730"));
    }
    let now = now_for(tx, clock, scope, &customer).await?;
    let trial_end = (trial_days > 0).then(|| now + trial_days * DAY_MS);
    let discount = redemption::redeem(
        tx,
        scope,
        req.coupon.as_ref(),
        req.promotion_code.as_deref(),
        &currency,
        now,
    )
    .await?;
    let taxes =
        redemption::tax_rates(tx, scope, req.default_tax_rates.as_deref().unwrap_or(&[])).await?;
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
        cancellation_reason: None,
    };
    db::insert_subscription(tx, scope, &sub).await?;
    let first_invoice = match trial_end {
        Some(end) => start_trial(tx, clock, scope, actor, &sub, (now, end)).await?,
        None => {
            let invoice = start_next_period(
                tx,
                clock,
                scope,
                actor,
                &mut sub,
                "subscription_create",
                now,
            )
            .await?;
            db::update_subscription(tx, scope, &sub).await?;
            invoice
        }
    };
    notify(tx, clock, scope, actor, "subscription.created", &sub).await?;
    Ok((sub, first_invoice))
}

/// A change to a subscription that has not ended: read in (locked), edited, committed with
/// its event, then any invoice it created collected. The API's subscription endpoints and
/// the customer portal make every change through it.
pub struct Change {
    pub tx: store::Tx,
    pub sub: SubscriptionRow,
    pub customer: CustomerRow,
    /// The customer's time (its test clock's in the sandbox).
    pub now: i64,
}

impl Change {
    /// Reads the subscription in, locked; the caller checked its permission.
    pub async fn begin(state: &AppState, scope: &Scope, id: &str) -> ApiResult<Self> {
        let mut tx = state.db.write_scoped(scope).await?;
        let sub = db::claim_subscription(&mut tx, scope, id, Claim::Wait)
            .await?
            .ok_or(ApiError::NotFound("subscription"))?;
        if sub.status.ended() {
            return Err(ApiError::conflict(
                "subscription_canceled",
                "The subscription has ended.",
            ));
        }
        let customer = db::get_customer(&mut tx, scope, &sub.customer_id)
            .await?
            .ok_or(ApiError::NotFound("customer"))?;
        let now = now_for(&mut tx, &state.clock, scope, &customer).await?;
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
    pub async fn update(
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
    pub async fn preview(
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

    pub fn require_billing(&self, what: &str) -> ApiResult<()> {
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

    /// Applies an update (`update`) and commits it: the invoice it makes now is numbered,
    /// announced and collected.
    pub async fn apply(
        mut self,
        state: &AppState,
        scope: &Scope,
        actor: &ActorRef<'_>,
        req: &UpdateSubscriptionRequest,
    ) -> ApiResult<SubscriptionRow> {
        let mut invoice = None;
        if let Some(mut draft) = self.update(scope, req).await? {
            invoicing::insert_drafts(&mut self.tx, scope, std::slice::from_mut(&mut draft)).await?;
            notify(
                &mut self.tx,
                &state.clock,
                scope,
                actor,
                "invoice.created",
                &draft,
            )
            .await?;
            invoice = Some(draft.id);
        }
        self.commit(state, scope, actor, "subscription.updated", invoice)
            .await
    }

    /// Cancels now, or at the end of the period; returns the event to commit with.
    pub fn cancel(&mut self, at_period_end: bool, reason: Option<String>) -> &'static str {
        if reason.is_some() {
            self.sub.cancellation_reason = reason;
        }
        if at_period_end {
            self.sub.cancel_at_period_end = 1;
            return "subscription.updated";
        }
        self.sub.status = SubscriptionStatus::Canceled.into();
        self.sub.canceled_at = Some(self.now);
        "subscription.canceled"
    }

    /// Resumes: a scheduled cancellation is called off (with its reason); a paused
    /// subscription starts a new period now, whose invoice it returns (to collect on commit).
    pub async fn resume(
        &mut self,
        state: &AppState,
        scope: &Scope,
        actor: &ActorRef<'_>,
    ) -> ApiResult<Option<String>> {
        self.sub.cancel_at_period_end = 0;
        self.sub.cancellation_reason = None;
        if self.sub.status != SubscriptionStatus::Paused {
            return Ok(None);
        }
        self.sub.status = SubscriptionStatus::Active.into();
        self.sub.billing_cycle_anchor = self.now;
        self.sub.periods = 0;
        let started = start_next_period(
            &mut self.tx,
            &state.clock,
            scope,
            actor,
            &mut self.sub,
            "subscription_resume",
            self.now,
        )
        .await?;
        Ok(Some(started.id))
    }

    /// Writes the subscription with its event; then collects `invoice`, if any. Returns the
    /// subscription as it is after.
    pub async fn commit(
        mut self,
        state: &AppState,
        scope: &Scope,
        actor: &ActorRef<'_>,
        event: &str,
        invoice: Option<String>,
    ) -> ApiResult<SubscriptionRow> {
        db::update_subscription(&mut self.tx, scope, &self.sub).await?;
        notify(&mut self.tx, &state.clock, scope, actor, event, &self.sub).await?;
        self.tx.commit().await?;
        if let Some(invoice) = invoice {
            collection::process(state, scope, actor, &invoice, self.now, true).await?;
        }
        let mut conn = state.db.read_scoped(scope).await?;
        let row = db::get_subscription(&mut conn, scope, &self.sub.id)
            .await?
            .ok_or(ApiError::NotFound("subscription"))?;
        conn.end();
        Ok(row)
    }
}

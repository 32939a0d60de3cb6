//! The subscription lifecycle. States and transitions:
//!
//! ```text
//!              first invoice paid                 trial ends, payment method
//! incomplete ──────────────────▶ active ◀────────────────────────────── trialing
//!                                 │  ▲                                       │
//!                payment fails    ▼  │ invoice paid        trial ends, none  │
//!                              past_due ──last retry fails──▶ canceled ◀─────┘
//!                                 │                              ▲
//!                                 └──last retry fails──▶ unpaid  │ cancel now, or at
//!                                   (final_action)               │ period end (any state)
//! active, past_due, trialing ──pause──▶ paused ──resume──▶ active (a new period from now)
//! incomplete ──first payment failed, 23 hours unpaid──▶ incomplete_expired (invoice voided)
//! ```
//!
//! A trial starts with a 0.00 invoice of its licensed items, paid at once, as Stripe's.
//! A period is billed when it starts: a draft invoice with one line per item priced by
//! `amount::amount_for`, plus the prorations of changes made during the previous period.
//! Drafts are finalized and collected an hour later (`collection`), so prorations made in
//! that hour still join them. The first invoice of a subscription without a trial is
//! collected at once. Metered items bill in arrears, on the next period's invoice; usage that
//! arrives after its period was billed joins a later renewal (`late_usage_lines`). Periods
//! count from the billing cycle anchor (`schedule`). Only
//! `trialing`, `active` and `past_due` subscriptions renew. Time is the customer's test
//! clock when it has one (sandbox), else the server clock.

use std::collections::BTreeMap;
use std::str::FromStr;

use domain::billing::status::SubscriptionStatus;
use domain::metering::MAX_AGE_MS;
use rust_decimal::Decimal;

use super::amount::{AmountError, amount_for, percentage_amount};
use super::discounts::CouponDuration;
use super::invoicing::{self, Draft};
use super::schedule::period_end;
use super::{Metered, Notices, notify};
use crate::audit::ActorRef;
use crate::http::error::{ApiError, ApiResult};
use crate::metering::usage::{self, Meter};
use crate::tenancy::Scope;
use domain::billing::invoicing::{Line, period_lines, trial_lines};
use domain::billing::subscriptions::{Item, MissingPaymentMethod, interval_of};
use domain::clock::{Clock, timestamp};
use store::billing::{self as db, CustomerRow, InvoiceRow, SubscriptionRow};
use store::metering as meter_db;

/// How long a renewal's draft waits before it is finalized and collected.
pub const DRAFT_GRACE_MS: i64 = 3600 * 1000;

/// "Now" for a customer: its test clock's time in the sandbox, else the server clock.
pub async fn now_for(
    tx: &mut sqlx::AnyConnection,
    clock: &Clock,
    scope: &Scope,
    customer: &CustomerRow,
) -> ApiResult<i64> {
    match &customer.test_clock {
        Some(clock) => Ok(db::get_test_clock(tx, scope, clock)
            .await?
            .ok_or(ApiError::NotFound("test_clock"))?
            .frozen_time),
        None => Ok(clock.now_ms()),
    }
}

/// A draft invoice of the subscription with its discount and tax rates, not numbered yet
/// (`invoicing::insert_drafts`); the discount is retired if it is spent: a `once` discount
/// after the invoice it applied to, a `repeating` one once an invoice's period starts after
/// its end. `(at, due_at)`: when it is created, and when it is finalized and collected.
pub fn draft_invoice(
    sub: &mut SubscriptionRow,
    reason: &str,
    lines: Vec<Line>,
    period: (i64, i64),
    (at, due_at): (i64, i64),
) -> ApiResult<InvoiceRow> {
    let discount = sub.discount.as_ref().map(|d| d.0.clone());
    let invoice = invoicing::draft(Draft {
        customer: &sub.customer_id,
        subscription: Some(&sub.id),
        currency: &sub.currency,
        billing_reason: reason,
        lines,
        period,
        created_at: at,
        due_at,
        discount: discount.as_ref(),
        tax_rates: &sub.tax_rates,
    })?;
    if let Some(d) = &discount {
        let spent = match d.terms.duration {
            CouponDuration::Once => d.applies(period.0),
            CouponDuration::Repeating => !d.applies(period.0),
            CouponDuration::Forever => false,
        };
        if spent {
            sub.discount = None;
        }
    }
    Ok(invoice)
}

/// Starts period number `sub.periods + 1` at `at` and creates its draft invoice with the
/// period's lines and the prorations waiting for it.
pub async fn start_next_period(
    tx: &mut sqlx::AnyConnection,
    clock: &Clock,
    scope: &Scope,
    actor: &ActorRef<'_>,
    sub: &mut SubscriptionRow,
    reason: &str,
    at: i64,
) -> ApiResult<InvoiceRow> {
    let mut invoice = next_period(sub, reason, at)?;
    invoicing::insert_drafts(tx, scope, std::slice::from_mut(&mut invoice)).await?;
    notify(tx, clock, scope, actor, "invoice.created", &invoice).await?;
    Ok(invoice)
}

/// Starts a trial at `at` until `end`: its 0.00 invoice, to collect (which pays it) at once.
pub async fn start_trial(
    tx: &mut sqlx::AnyConnection,
    clock: &Clock,
    scope: &Scope,
    actor: &ActorRef<'_>,
    sub: &SubscriptionRow,
    (at, end): (i64, i64),
) -> ApiResult<InvoiceRow> {
    let mut invoice = invoicing::draft(Draft {
        customer: &sub.customer_id,
        subscription: Some(&sub.id),
        currency: &sub.currency,
        billing_reason: "subscription_create",
        lines: trial_lines(&sub.items, at, end),
        period: (at, end),
        created_at: at,
        due_at: at,
        discount: None,
        tax_rates: &[],
    })?;
    invoicing::insert_drafts(tx, scope, std::slice::from_mut(&mut invoice)).await?;
    notify(tx, clock, scope, actor, "invoice.created", &invoice).await?;
    Ok(invoice)
}

/// Moves `sub` to its next period, starting at `at`, and drafts the period's invoice (not
/// numbered yet). A renewal's draft is collected `DRAFT_GRACE_MS` later; any other (the
/// first period, a resume) at once.
fn next_period(sub: &mut SubscriptionRow, reason: &str, at: i64) -> ApiResult<InvoiceRow> {
    let due_at = if reason == "subscription_cycle" {
        at + DRAFT_GRACE_MS
    } else {
        at
    };
    let (interval, count) = interval_of(&sub.items)?;
    sub.periods += 1;
    sub.current_period_start =
        period_end(sub.billing_cycle_anchor, interval, count, sub.periods - 1);
    sub.current_period_end = period_end(sub.billing_cycle_anchor, interval, count, sub.periods);
    // Unreachable from times the API accepts; a period that did not move would loop.
    if sub.current_period_end <= sub.current_period_start {
        return Err(ApiError::Unprocessable {
            code: "billing_period_out_of_range",
            detail: format!(
                "Subscription {} has no period after {}.",
                sub.id,
                timestamp::to_rfc3339(sub.current_period_start)
            ),
        });
    }
    let mut lines = std::mem::take(&mut sub.pending_lines.0);
    lines.extend(period_lines(
        &sub.items,
        sub.current_period_start,
        sub.current_period_end,
    )?);
    let period = (sub.current_period_start, sub.current_period_end);
    draft_invoice(sub, reason, lines, period, (at, due_at))
}

/// Moves subscriptions whose period has ended one step, each at its period end: it ends (a
/// scheduled cancellation, or a trial without a payment method to convert to), or its next
/// period starts with a draft invoice. One update per subscription, then a few multi-row
/// statements for the invoices and events of them all.
pub async fn renew_all(
    tx: &mut sqlx::AnyConnection,
    clock: &Clock,
    scope: &Scope,
    actor: &ActorRef<'_>,
    due: Vec<(SubscriptionRow, CustomerRow)>,
) -> ApiResult<()> {
    let mut subs = Vec::with_capacity(due.len());
    let mut invoices = Vec::new();
    for (mut sub, customer) in due {
        invoices.extend(renew(tx, scope, &mut sub, &customer).await?);
        db::update_subscription(tx, scope, &sub).await?;
        subs.push(sub);
    }
    invoicing::insert_drafts(tx, scope, &mut invoices).await?;
    let mut notices = Notices::default();
    for invoice in &invoices {
        notices.add("invoice.created", invoice)?;
    }
    for sub in &subs {
        let event = match sub.status.0 {
            SubscriptionStatus::Canceled => "subscription.canceled",
            SubscriptionStatus::Paused => "subscription.paused",
            _ => "subscription.updated",
        };
        notices.add(event, sub)?;
    }
    notices.write(tx, clock, scope, actor).await
}

/// Moves `sub` past its period end (`renewal`), with the usage it bills; returns the
/// invoice that makes, not numbered yet. Nothing is written: `renew_all` writes, and a
/// preview shows what the next renewal will do.
pub async fn renew(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    sub: &mut SubscriptionRow,
    customer: &CustomerRow,
) -> ApiResult<Option<InvoiceRow>> {
    // Usage in a trial is free.
    let mut usage = if sub.status == SubscriptionStatus::Trialing {
        Vec::new()
    } else {
        let period = (sub.current_period_start, sub.current_period_end);
        usage_lines(tx, scope, sub, period).await?
    };
    usage.extend(late_usage_lines(tx, scope, sub).await?);
    renewal(sub, customer, usage)
}

/// What its period end does to a subscription (see `renew_all`), given the usage lines of
/// the period that ends: the draft invoice it makes (not numbered yet), which is the next
/// period's, or for a subscription that ends, the last period's usage if any. A trial that
/// ends without a payment method does what the subscription's `missing_payment_method`
/// says.
fn renewal(
    sub: &mut SubscriptionRow,
    customer: &CustomerRow,
    usage: Vec<Line>,
) -> ApiResult<Option<InvoiceRow>> {
    let at = sub.current_period_end;
    let unpayable_trial =
        sub.status == SubscriptionStatus::Trialing && customer.default_payment_method.is_none();
    let without_method = *sub.missing_payment_method;
    if sub.cancel_at_period_end == 0
        && unpayable_trial
        && without_method == MissingPaymentMethod::Pause
    {
        sub.status = SubscriptionStatus::Paused.into();
        defer(sub, usage);
        return Ok(None);
    }
    let ends = sub.cancel_at_period_end == 1
        || (unpayable_trial && without_method == MissingPaymentMethod::Cancel);
    if ends {
        let period = (sub.current_period_start, sub.current_period_end);
        let last = match usage.is_empty() {
            true => None,
            false => Some(draft_invoice(
                sub,
                "subscription_cycle",
                usage,
                period,
                (at, at + DRAFT_GRACE_MS),
            )?),
        };
        sub.status = SubscriptionStatus::Canceled.into();
        sub.canceled_at = Some(at);
        return Ok(last);
    }
    defer(sub, usage);
    let invoice = next_period(sub, "subscription_cycle", at)?;
    if sub.status == SubscriptionStatus::Trialing {
        sub.status = SubscriptionStatus::Active.into();
    }
    Ok(Some(invoice))
}

/// A line per metered item for the usage of `[start, end)` (`usage_line`).
pub async fn usage_lines(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    sub: &SubscriptionRow,
    period: (i64, i64),
) -> ApiResult<Vec<Line>> {
    let mut lines = Vec::new();
    for (item, metered) in metered(&sub.items) {
        lines.push(usage_line(tx, scope, sub, item, metered, period).await?);
    }
    Ok(lines)
}

/// The metered items, with their metering terms.
fn metered(items: &[Item]) -> impl Iterator<Item = (&Item, &Metered)> {
    items
        .iter()
        .filter_map(|i| Some((i, i.terms.metered.as_ref()?)))
}

/// Usage that arrived after its period was billed, as adjustment lines: for every earlier
/// period of a metered item that an invoice of the subscription billed and that can still
/// receive events (it ended less than `MAX_AGE_MS`, how late an event may be, before the
/// period that now ends began), what its usage bills now less what its lines billed. So an
/// accepted event is billed, at the latest by the renewal after it arrives; a line keeps
/// the earlier period it is for.
pub async fn late_usage_lines(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    sub: &SubscriptionRow,
) -> ApiResult<Vec<Line>> {
    if metered(&sub.items).next().is_none() {
        return Ok(Vec::new());
    }
    let since = sub.current_period_start - MAX_AGE_MS;
    // Per (price, period): the usage its last line measured, and what its lines billed.
    let mut billed: BTreeMap<(String, i64, i64), (String, i64, i64)> = BTreeMap::new();
    for invoice in db::recent_subscription_invoices(tx, scope, &sub.id, since).await? {
        for line in invoice.lines.0 {
            let Some(usage) = line.usage.filter(|_| !line.proration) else {
                continue;
            };
            if line.period_end <= since || line.period_end > sub.current_period_start {
                continue;
            }
            let key = (line.price, line.period_start, line.period_end);
            let entry = billed.entry(key).or_insert((String::new(), 0, 0));
            *entry = (usage, entry.1 + line.quantity, entry.2 + line.amount);
        }
    }
    let mut lines = Vec::new();
    for ((price, start, end), (measured, quantity, amount)) in billed {
        let Some((item, metering)) = metered(&sub.items).find(|(i, _)| i.price == price) else {
            continue;
        };
        let now = usage_line(tx, scope, sub, item, metering, (start, end)).await?;
        // A percentage price's fixed fee counts events: one of amount 0 changes the amount.
        let usage = now.usage.as_deref().map(Decimal::from_str);
        if usage.is_some_and(|u| u.ok() == Decimal::from_str(&measured).ok())
            && now.amount == amount
        {
            continue;
        }
        lines.push(Line {
            quantity: now.quantity - quantity,
            amount: now.amount - amount,
            ..now
        });
    }
    Ok(lines)
}

/// The line a metered item's usage over `[start, end)` bills: its meter's total for the
/// customer less the included quantity, priced by the item's terms; a percentage price
/// prices each of the period's events.
async fn usage_line(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    sub: &SubscriptionRow,
    item: &Item,
    metered: &Metered,
    (start, end): (i64, i64),
) -> ApiResult<Line> {
    let row = meter_db::get_meter(tx, scope, &metered.meter)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("meter {} is gone", metered.meter)))?;
    let meter = Meter::from_row(row);
    let customer = &sub.customer_id;
    let invalid = |e: AmountError| ApiError::validation("usage", e.to_string());
    let (used, amount) = match &item.terms.percentage {
        Some(p) => {
            let amounts = usage::values(tx, scope, &meter, customer, (start, end)).await?;
            let used = amounts
                .iter()
                .try_fold(Decimal::ZERO, |sum, a| sum.checked_add(*a))
                .ok_or_else(|| invalid(AmountError::Overflow))?;
            (used, percentage_amount(p, &amounts).map_err(invalid)?)
        }
        None => {
            let used = usage::total(tx, scope, &meter, customer, (start, end)).await?;
            let billed = (used - Decimal::from(metered.included_quantity)).max(Decimal::ZERO);
            (used, amount_for(&item.terms, billed).map_err(invalid)?)
        }
    };
    let billed = (used - Decimal::from(metered.included_quantity)).max(Decimal::ZERO);
    let quantity = i64::try_from(billed.ceil())
        .map_err(|_| ApiError::validation("usage", "the usage does not fit in 64 bits"))?;
    Ok(Line {
        price: item.price.clone(),
        quantity,
        amount,
        proration: false,
        period_start: start,
        period_end: end,
        usage: Some(used.normalize().to_string()),
    })
}

/// Adds prorations to the ones waiting for the next invoice.
pub fn defer(sub: &mut SubscriptionRow, lines: Vec<Line>) {
    sub.pending_lines.extend(lines);
}

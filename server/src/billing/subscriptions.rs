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
use serde::{Deserialize, Serialize};

use super::amount::amount_for;
use super::discounts::{AppliedTaxRate, CouponDuration, Discount};
use super::invoicing::{self, Draft, Line};
use super::proration::remaining;
use super::schedule::period_end;
use super::{Interval, Metered, Notices, PriceTerms, notify};
use crate::app::AppState;
use crate::audit::ActorRef;
use crate::http::error::{ApiError, ApiResult};
use crate::metering::usage::{self, Meter};
use crate::tenancy::Scope;
use domain::clock::timestamp;
use store::billing::{self as db, CustomerRow, InvoiceRow, SubscriptionRow};
use store::columns::{stored, to_json};
use store::metering as meter_db;

/// A subscribed price, with its terms as they were when subscribed (prices never change).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub price: String,
    pub quantity: i64,
    pub terms: PriceTerms,
}

/// How long a renewal's draft waits before it is finalized and collected.
pub const DRAFT_GRACE_MS: i64 = 3600 * 1000;

/// "Now" for a customer: its test clock's time in the sandbox, else the server clock.
pub async fn now_for(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    customer: &CustomerRow,
) -> ApiResult<i64> {
    match &customer.test_clock {
        Some(clock) => Ok(db::get_test_clock(tx, scope, clock)
            .await?
            .ok_or(ApiError::NotFound("test_clock"))?
            .frozen_time),
        None => Ok(state.clock.now_ms()),
    }
}

pub fn interval_of(items: &[Item]) -> ApiResult<(Interval, i64)> {
    items
        .first()
        .and_then(|i| i.terms.recurring.as_ref())
        .map(|r| (r.interval, r.interval_count))
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("a subscription without a recurring item"))
        })
}

pub fn items_of(sub: &SubscriptionRow) -> ApiResult<Vec<Item>> {
    Ok(stored("items", &sub.items)?)
}

pub fn discount_of(sub: &SubscriptionRow) -> ApiResult<Option<Discount>> {
    Ok(sub
        .discount
        .as_deref()
        .map(|d| stored("discount", d))
        .transpose()?)
}

pub fn tax_rates_of(sub: &SubscriptionRow) -> ApiResult<Vec<AppliedTaxRate>> {
    Ok(stored("tax_rates", &sub.tax_rates)?)
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
    let discount = discount_of(sub)?;
    let tax_rates = tax_rates_of(sub)?;
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
        tax_rates: &tax_rates,
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
    state: &AppState,
    scope: &Scope,
    actor: &ActorRef<'_>,
    sub: &mut SubscriptionRow,
    reason: &str,
    at: i64,
) -> ApiResult<InvoiceRow> {
    let mut invoice = next_period(sub, reason, at)?;
    invoicing::insert_drafts(tx, scope, std::slice::from_mut(&mut invoice)).await?;
    notify(tx, &state.clock, scope, actor, "invoice.created", &invoice).await?;
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
    let items = items_of(sub)?;
    let (interval, count) = interval_of(&items)?;
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
    let mut lines: Vec<Line> = stored("pending_lines", &sub.pending_lines)?;
    lines.extend(invoicing::period_lines(
        &items,
        sub.current_period_start,
        sub.current_period_end,
    )?);
    sub.pending_lines = "[]".into();
    let period = (sub.current_period_start, sub.current_period_end);
    draft_invoice(sub, reason, lines, period, (at, due_at))
}

/// Moves subscriptions whose period has ended one step, each at its period end: it ends (a
/// scheduled cancellation, or a trial without a payment method to convert to), or its next
/// period starts with a draft invoice. One update per subscription, then a few multi-row
/// statements for the invoices and events of them all.
pub async fn renew_all(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    actor: &ActorRef<'_>,
    due: Vec<(SubscriptionRow, CustomerRow)>,
) -> ApiResult<()> {
    let mut subs = Vec::with_capacity(due.len());
    let mut invoices = Vec::new();
    for (mut sub, customer) in due {
        // Usage in a trial is free.
        let mut usage = if sub.status == SubscriptionStatus::Trialing {
            Vec::new()
        } else {
            let period = (sub.current_period_start, sub.current_period_end);
            usage_lines(tx, scope, &sub, period).await?
        };
        usage.extend(late_usage_lines(tx, scope, &sub).await?);
        invoices.extend(renewal(&mut sub, &customer, usage)?);
        db::update_subscription(tx, scope, &sub).await?;
        subs.push(sub);
    }
    invoicing::insert_drafts(tx, scope, &mut invoices).await?;
    let mut notices = Notices::default();
    for invoice in &invoices {
        notices.add("invoice.created", invoice)?;
    }
    for sub in &subs {
        let event = if sub.status == SubscriptionStatus::Canceled {
            "subscription.canceled"
        } else {
            "subscription.updated"
        };
        notices.add(event, sub)?;
    }
    notices.write(tx, &state.clock, scope, actor).await
}

/// What its period end does to a subscription (see `renew_all`), given the usage lines of
/// the period that ends: the draft invoice it makes (not numbered yet), which is the next
/// period's, or for a subscription that ends, the last period's usage if any.
fn renewal(
    sub: &mut SubscriptionRow,
    customer: &CustomerRow,
    usage: Vec<Line>,
) -> ApiResult<Option<InvoiceRow>> {
    let at = sub.current_period_end;
    let ends = sub.cancel_at_period_end == 1
        || (sub.status == SubscriptionStatus::Trialing
            && customer.default_payment_method.is_none());
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
    defer(sub, usage)?;
    let invoice = next_period(sub, "subscription_cycle", at)?;
    if sub.status == SubscriptionStatus::Trialing {
        sub.status = SubscriptionStatus::Active.into();
    }
    Ok(Some(invoice))
}

/// A line per metered item for the usage of `[start, end)`: its meter's total for the
/// customer, less the included quantity, priced by the item's terms.
pub async fn usage_lines(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    sub: &SubscriptionRow,
    period: (i64, i64),
) -> ApiResult<Vec<Line>> {
    let items = items_of(sub)?;
    let mut lines = Vec::new();
    for (item, metered) in metered(&items) {
        let used = used(tx, scope, sub, &metered.meter, period).await?;
        lines.push(usage_line(item, metered, used, period)?);
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
    let items = items_of(sub)?;
    if metered(&items).next().is_none() {
        return Ok(Vec::new());
    }
    let since = sub.current_period_start - MAX_AGE_MS;
    // Per (price, period): the usage its last line measured, and what its lines billed.
    let mut billed: BTreeMap<(String, i64, i64), (String, i64, i64)> = BTreeMap::new();
    for invoice in db::recent_subscription_invoices(tx, scope, &sub.id, since).await? {
        for line in stored::<Vec<Line>>("lines", &invoice.lines)? {
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
        let Some((item, metering)) = metered(&items).find(|(i, _)| i.price == price) else {
            continue;
        };
        let used = used(tx, scope, sub, &metering.meter, (start, end)).await?;
        if Decimal::from_str(&measured).is_ok_and(|m| m == used) {
            continue;
        }
        let now = usage_line(item, metering, used, (start, end))?;
        lines.push(Line {
            quantity: now.quantity - quantity,
            amount: now.amount - amount,
            ..now
        });
    }
    Ok(lines)
}

/// A meter's total for the subscription's customer over `[start, end)`.
async fn used(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    sub: &SubscriptionRow,
    meter: &str,
    period: (i64, i64),
) -> ApiResult<Decimal> {
    let row = meter_db::get_meter(tx, scope, meter)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("meter {meter} is gone")))?;
    usage::total(tx, scope, &Meter::from_row(row)?, &sub.customer_id, period).await
}

/// The line a metered item's usage `used` over `[start, end)` bills: less the included
/// quantity, priced by the item's terms.
fn usage_line(
    item: &Item,
    metered: &Metered,
    used: Decimal,
    (start, end): (i64, i64),
) -> ApiResult<Line> {
    let billed = (used - Decimal::from(metered.included_quantity)).max(Decimal::ZERO);
    let quantity = i64::try_from(billed.ceil())
        .map_err(|_| ApiError::validation("usage", "the usage does not fit in 64 bits"))?;
    Ok(Line {
        price: item.price.clone(),
        quantity,
        amount: amount_for(&item.terms, billed)
            .map_err(|e| ApiError::validation("usage", e.to_string()))?,
        proration: false,
        period_start: start,
        period_end: end,
        usage: Some(used.normalize().to_string()),
    })
}

/// The proration lines for replacing `old` items by `new` at `at` in the period
/// `[start, end)`: a credit for the unused time of every item that goes or changes, a
/// charge for the remaining time of every item that comes or changes.
pub fn proration_lines(
    old: &[Item],
    new: &[Item],
    (start, end): (i64, i64),
    at: i64,
) -> ApiResult<Vec<Line>> {
    let same = |a: &Item, b: &Item| a.price == b.price && a.quantity == b.quantity;
    let line = |i: &Item, sign: i64| -> ApiResult<Line> {
        let whole = amount_for(&i.terms, i.quantity)
            .map_err(|e| ApiError::validation("items", e.to_string()))?;
        Ok(Line {
            price: i.price.clone(),
            quantity: i.quantity,
            amount: sign * remaining(whole, start, end, at),
            proration: true,
            period_start: at,
            period_end: end,
            usage: None,
        })
    };
    // Metered items bill what was used, whenever it was used: nothing to prorate.
    let licensed = |i: &&Item| i.terms.metered.is_none();
    let credits = old
        .iter()
        .filter(licensed)
        .filter(|o| !new.iter().any(|n| same(o, n)))
        .map(|o| line(o, -1));
    let charges = new
        .iter()
        .filter(licensed)
        .filter(|n| !old.iter().any(|o| same(o, n)))
        .map(|n| line(n, 1));
    credits.chain(charges).collect()
}

/// Adds prorations to the ones waiting for the next invoice.
pub fn defer(sub: &mut SubscriptionRow, lines: Vec<Line>) -> ApiResult<()> {
    let mut pending: Vec<Line> = stored("pending_lines", &sub.pending_lines)?;
    pending.extend(lines);
    sub.pending_lines = to_json(&pending)?;
    Ok(())
}

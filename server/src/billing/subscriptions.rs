//! The subscription lifecycle. States and transitions:
//!
//! ```text
//! trialing ──trial ends, default payment method──▶ active ◀──renewal paid──▶ past_due
//!    │        trial ends, no payment method──▶ canceled        │  renewal declined   │
//!    └──────────────cancel now──────────────▶ canceled ◀───────┴─────────────────────┘
//!                                              cancel now, or at period end
//! ```
//!
//! A period is billed when it starts, with one invoice line per item priced by
//! `amount::amount_for`, and charged at once to the customer's default payment method
//! (`payments`): paid, or left open with the decline code and the subscription past due.
//! Without a payment method the invoice stays open. Periods count from the billing cycle anchor (`schedule`). Time is the
//! customer's test clock when it has one (sandbox), else the server clock.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::amount::amount_for;
use super::payments::{Outcome, charge};
use super::schedule::period_end;
use super::store::{self as db, CustomerRow, InvoiceRow, SubscriptionRow};
use super::{Interval, PriceTerms};
use crate::app::AppState;
use crate::audit::{self, ActorRef};
use crate::http::error::{ApiError, ApiResult};
use crate::ids::InvoiceId;
use crate::tenancy::Scope;

/// A subscribed price, with its terms as they were when subscribed (prices never change).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub price: String,
    pub quantity: i64,
    pub terms: PriceTerms,
}

/// One line of an invoice.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Line {
    #[schema(example = "price_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e")]
    pub price: String,
    pub quantity: i64,
    /// Minor units.
    pub amount: i64,
}

pub const TRIALING: &str = "trialing";
pub const ACTIVE: &str = "active";
pub const PAST_DUE: &str = "past_due";
pub const CANCELED: &str = "canceled";

/// A subscription that still bills: every status but canceled. (The SQL of
/// `store::due_on_clock` and `store::due_on_real_time` lists the same statuses.)
pub fn bills(status: &str) -> bool {
    [TRIALING, ACTIVE, PAST_DUE].contains(&status)
}

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

fn interval_of(items: &[Item]) -> ApiResult<(Interval, i64)> {
    items
        .first()
        .and_then(|i| i.terms.recurring.as_ref())
        .map(|r| (r.interval, r.interval_count))
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("a subscription without a recurring item"))
        })
}

pub fn items_of(sub: &SubscriptionRow) -> ApiResult<Vec<Item>> {
    serde_json::from_str(&sub.items)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("unreadable subscription items: {e}")))
}

/// Starts paid period number `sub.periods + 1`, invoices it and charges `payment_method`.
pub async fn start_next_period(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    actor: &ActorRef<'_>,
    sub: &mut SubscriptionRow,
    items: &[Item],
    payment_method: Option<&str>,
    now: i64,
) -> ApiResult<InvoiceRow> {
    let (interval, count) = interval_of(items)?;
    sub.periods += 1;
    sub.current_period_start =
        period_end(sub.billing_cycle_anchor, interval, count, sub.periods - 1);
    sub.current_period_end = period_end(sub.billing_cycle_anchor, interval, count, sub.periods);
    let lines = items
        .iter()
        .map(|i| {
            let amount = amount_for(&i.terms, i.quantity)
                .map_err(|e| ApiError::validation("items", e.to_string()))?;
            Ok(Line {
                price: i.price.clone(),
                quantity: i.quantity,
                amount,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let total = lines
        .iter()
        .try_fold(0i64, |sum, l| sum.checked_add(l.amount))
        .ok_or_else(|| {
            ApiError::validation("items", "the invoice total does not fit in 64 bits")
        })?;
    let number = db::next_counter(tx, scope, "invoice").await?;
    let outcome = payment_method.map(|pm| charge(pm, total));
    sub.status = match outcome {
        Some(Outcome::Failed(_)) => PAST_DUE.into(),
        _ => ACTIVE.into(),
    };
    let invoice = InvoiceRow {
        id: InvoiceId::generate().to_string(),
        number: format!("INV-{number:06}"),
        customer_id: sub.customer_id.clone(),
        subscription_id: Some(sub.id.clone()),
        status: if outcome == Some(Outcome::Paid) {
            "paid"
        } else {
            "open"
        }
        .into(),
        currency: sub.currency.clone(),
        total,
        lines: serde_json::to_string(&lines).map_err(|e| ApiError::Internal(e.into()))?,
        period_start: sub.current_period_start,
        period_end: sub.current_period_end,
        created_at: now,
        paid_at: (outcome == Some(Outcome::Paid)).then_some(now),
        payment_error: match outcome {
            Some(Outcome::Failed(code)) => Some(code.to_owned()),
            _ => None,
        },
    };
    db::insert_invoice(tx, scope, &invoice).await?;
    audit::record(
        tx,
        scope,
        *actor,
        "invoice.created",
        ("invoice", &invoice.id),
        now,
    )
    .await?;
    Ok(invoice)
}

/// Brings a subscription up to `now`: ends trials, renews, applies scheduled cancellation.
pub async fn catch_up(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    actor: &ActorRef<'_>,
    sub: &mut SubscriptionRow,
    payment_method: Option<&str>,
    now: i64,
) -> ApiResult<()> {
    let items = items_of(sub)?;
    while bills(&sub.status) && sub.current_period_end <= now {
        if sub.cancel_at_period_end == 1 || (sub.status == TRIALING && payment_method.is_none()) {
            sub.status = CANCELED.into();
            sub.canceled_at = Some(sub.current_period_end);
            break;
        }
        start_next_period(tx, scope, actor, sub, &items, payment_method, now).await?;
    }
    db::update_subscription(tx, scope, sub).await?;
    Ok(())
}

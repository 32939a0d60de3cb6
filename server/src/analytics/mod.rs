//! Revenue analytics, computed from a recorded history: every subscription event makes
//! `record` recompute its customer's MRR (`domain::analytics`) and, when it changed, write a
//! movement with its time, kind and delta, in the event's transaction. Reports
//! (`report.rs`, served by `api.rs`) are folds over the movements up to a time, so a past month reads the same every time it
//! is asked, and the movements of a window add up to its change of MRR exactly.

pub mod api;
pub mod health;
pub mod report;

use rust_decimal::Decimal;

use crate::http::error::ApiResult;
use crate::tenancy::Scope;
use domain::analytics::{MovementKind, kept, subscription_mrr};
use domain::clock::Clock;
use domain::ids::MovementId;
use store::analytics::{self as db, CustomerMrrRow, MovementRow};
use store::billing as billing_db;

/// A subscription event: its customer, its subscription and the event's type.
pub struct Changed<'a> {
    pub customer: &'a str,
    pub subscription: &'a str,
    pub cause: &'a str,
}

/// Records the MRR of the customers whose subscriptions changed, in the caller's
/// transaction, at each customer's time (its test clock's, in the sandbox): one movement
/// per customer whose MRR moved, attributed to the last of its changes.
pub async fn record(
    tx: &mut sqlx::AnyConnection,
    clock: &Clock,
    scope: &Scope,
    changed: &[Changed<'_>],
) -> ApiResult<()> {
    for (i, change) in changed.iter().enumerate() {
        if changed[i + 1..]
            .iter()
            .any(|c| c.customer == change.customer)
        {
            continue;
        }
        let Some(customer) = billing_db::get_customer(tx, scope, change.customer).await? else {
            continue;
        };
        // The customer's time: its test clock's, in the sandbox.
        let at = match &customer.test_clock {
            Some(id) => billing_db::get_test_clock(tx, scope, id)
                .await?
                .map_or_else(|| clock.now_ms(), |c| c.frozen_time),
            None => clock.now_ms(),
        };
        let subscriptions =
            billing_db::list_subscriptions(tx, scope, Some(&customer.id), None, i64::MAX).await?;
        let Some(currency) = customer
            .currency
            .clone()
            .or_else(|| subscriptions.first().map(|s| s.currency.clone()))
        else {
            continue;
        };
        let mrr = kept(
            subscriptions
                .iter()
                .filter(|s| s.currency == currency)
                .map(|s| {
                    let discount = s.discount.as_ref().map(|d| &d.0);
                    subscription_mrr(s.status.0, &s.items.0, discount, at)
                })
                .sum(),
        );
        let known = db::customer_mrr(tx, scope, &customer.id).await?;
        let before = known.as_ref().map_or(Decimal::ZERO, |k| k.mrr.0);
        let first_paid_at = known.as_ref().and_then(|k| k.first_paid_at);
        let Some(kind) = MovementKind::of(before, mrr, first_paid_at.is_some()) else {
            continue;
        };
        db::insert_movement(
            tx,
            scope,
            &MovementRow {
                id: MovementId::generate().to_string(),
                customer_id: customer.id.clone(),
                subscription_id: change.subscription.to_owned(),
                cause: change.cause.to_owned(),
                kind: kind.into(),
                currency: currency.clone(),
                mrr_before: before.into(),
                mrr_after: mrr.into(),
                delta: (mrr - before).into(),
                at,
            },
        )
        .await?;
        db::upsert_customer_mrr(
            tx,
            scope,
            &CustomerMrrRow {
                customer_id: customer.id,
                currency,
                mrr: mrr.into(),
                first_paid_at: first_paid_at.or((!mrr.is_zero()).then_some(at)),
                updated_at: at,
            },
        )
        .await?;
    }
    Ok(())
}

//! What falls due on real time or a test clock: renewals, trial ends, finalization and
//! payment retries.

use crate::scoped;
use domain::tenancy::Scope;
use sqlx::AnyConnection;

/// Work the scheduler does: renew a subscription, tell that its trial ends soon, or act on
/// an invoice (finalize, collect). In this order when several fall due at once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Due {
    Renewal(String),
    TrialWillEnd(String),
    Invoice(String),
}

/// Due work of every tenant on real time (customers without a test clock), oldest first:
/// `(tenant, env, work)`. Only keys: each is claimed and done in its own scoped transaction.
pub async fn due_on_real_time<'c>(
    db: impl sqlx::AnyExecutor<'c> + Copy,
    now: i64,
    limit: i64,
) -> sqlx::Result<Vec<(String, String, Due)>> {
    let renewals: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT s.tenant_id, s.env, s.id FROM subscriptions s JOIN customers c ON c.id = s.customer_id
         WHERE s.current_period_end <= $1 AND s.status IN ('trialing', 'active', 'past_due') AND c.test_clock IS NULL
         ORDER BY s.current_period_end, s.id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let reminders: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT s.tenant_id, s.env, s.id FROM subscriptions s JOIN customers c ON c.id = s.customer_id
         WHERE s.trial_will_end_at <= $1 AND c.test_clock IS NULL
         ORDER BY s.trial_will_end_at, s.id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await?;
    let invoices: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT i.tenant_id, i.env, i.id FROM invoices i JOIN customers c ON c.id = i.customer_id
         WHERE i.due_at <= $1 AND c.test_clock IS NULL ORDER BY i.due_at, i.id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(renewals
        .into_iter()
        .map(|(t, e, id)| (t, e, Due::Renewal(id)))
        .chain(
            reminders
                .into_iter()
                .map(|(t, e, id)| (t, e, Due::TrialWillEnd(id))),
        )
        .chain(
            invoices
                .into_iter()
                .map(|(t, e, id)| (t, e, Due::Invoice(id))),
        )
        .collect())
}

/// The earliest work due by `until` on the customers that follow test clock `clock`, with
/// the time it falls due: test clocks replay time in order.
pub async fn next_due_on_clock(
    c: &mut AnyConnection,
    scope: &Scope,
    clock: &str,
    until: i64,
) -> sqlx::Result<Option<(i64, Due)>> {
    let renewal: Option<(i64, String)> = scoped::query_as(
        "SELECT current_period_end, id FROM subscriptions WHERE tenant_id = $1 AND env = $2
         AND status IN ('trialing', 'active', 'past_due') AND current_period_end <= $4
         AND customer_id IN (SELECT id FROM customers WHERE tenant_id = $1 AND env = $2 AND test_clock = $3)
         ORDER BY current_period_end, id LIMIT 1",
        scope,
    )
    .bind(clock)
    .bind(until)
    .fetch_optional(&mut *c)
    .await?;
    let reminder: Option<(i64, String)> = scoped::query_as(
        "SELECT trial_will_end_at, id FROM subscriptions WHERE tenant_id = $1 AND env = $2
         AND trial_will_end_at <= $4
         AND customer_id IN (SELECT id FROM customers WHERE tenant_id = $1 AND env = $2 AND test_clock = $3)
         ORDER BY trial_will_end_at, id LIMIT 1",
        scope,
    )
    .bind(clock)
    .bind(until)
    .fetch_optional(&mut *c)
    .await?;
    let invoice: Option<(i64, String)> = scoped::query_as(
        "SELECT due_at, id FROM invoices WHERE tenant_id = $1 AND env = $2 AND due_at <= $4
         AND customer_id IN (SELECT id FROM customers WHERE tenant_id = $1 AND env = $2 AND test_clock = $3)
         ORDER BY due_at, id LIMIT 1",
        scope,
    )
    .bind(clock)
    .bind(until)
    .fetch_optional(c)
    .await?;
    // The earliest; of work due at the same time, in `Due`'s order (a renewal's invoice
    // then joins the queue).
    Ok([
        renewal.map(|(at, id)| (at, Due::Renewal(id))),
        reminder.map(|(at, id)| (at, Due::TrialWillEnd(id))),
        invoice.map(|(at, id)| (at, Due::Invoice(id))),
    ]
    .into_iter()
    .flatten()
    .min())
}

//! Usage alerts sent, at most once per threshold and period.

use sqlx::AnyConnection;

use crate::scoped;
use domain::tenancy::Scope;

/// Records that `threshold` was reached; false when it had been already this period.
pub async fn record_alert(
    c: &mut AnyConnection,
    scope: &Scope,
    (customer, feature, period_start, threshold): (&str, &str, i64, i64),
    now: i64,
) -> sqlx::Result<bool> {
    let done = scoped::query(
        "INSERT INTO usage_alerts (tenant_id, env, customer_id, feature, period_start, threshold,
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        scope,
    )
    .bind(customer)
    .bind(feature)
    .bind(period_start)
    .bind(threshold)
    .bind(now)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

//! What customers' subscriptions grant: each feature of each subscribed product, with the
//! feature's meter.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};

use super::MeterRow;
use super::meters::meter_columns;
use crate::columns::Json;
use crate::{fetch_in, json_elements, scoped};
use domain::billing::Feature;
use domain::tenancy::Scope;

/// A feature of an item of a subscription, with the feature's meter (its columns under
/// their own names; the rest are aliased so as not to clash).
pub struct GrantRow {
    pub customer: String,
    pub subscription: String,
    pub period: (i64, i64),
    pub price: String,
    pub feature: Json<Feature>,
    pub meter: Option<MeterRow>,
}

impl<'r> FromRow<'r, AnyRow> for GrantRow {
    fn from_row(r: &'r AnyRow) -> sqlx::Result<GrantRow> {
        let metered = r.try_get::<Option<String>, _>("id")?.is_some();
        Ok(GrantRow {
            customer: r.try_get("g_customer")?,
            subscription: r.try_get("g_subscription")?,
            period: (r.try_get("g_start")?, r.try_get("g_end")?),
            price: r.try_get("g_price")?,
            feature: r.try_get("g_feature")?,
            meter: metered.then(|| MeterRow::from_row(r)).transpose()?,
        })
    }
}

/// The features the billing subscriptions (trialing, active, past_due) of `customers` grant,
/// in no order.
pub async fn granted_features(
    c: &mut AnyConnection,
    scope: &Scope,
    customers: &[&str],
) -> sqlx::Result<Vec<GrantRow>> {
    // CROSS JOINs in this order, and no ORDER BY: SQLite, which has no statistics here,
    // otherwise scanned the tenant's subscriptions in id order, or its prices.
    let sql = format!(
        "SELECT s.customer_id AS g_customer, s.id AS g_subscription,
         s.current_period_start AS g_start, s.current_period_end AS g_end, pr.id AS g_price,
         CAST(f.value AS TEXT) AS g_feature, {}
         FROM subscriptions s CROSS JOIN {} CROSS JOIN prices pr CROSS JOIN products p
         CROSS JOIN {} LEFT JOIN meters m ON m.tenant_id = $1 AND m.env = $2
         AND m.id = f.value->>'meter'
         WHERE s.tenant_id = $1 AND s.env = $2 AND s.customer_id IN ({{keys}})
         AND s.status IN ('trialing', 'active', 'past_due')
         AND pr.tenant_id = $1 AND pr.env = $2 AND pr.id = i.value->>'price'
         AND p.id = pr.product_id",
        meter_columns("m"),
        json_elements(c, "s.items", "i"),
        json_elements(c, "p.features", "f"),
    );
    fetch_in(c, scope, &sql, customers).await
}

/// The feature lists of the scope's products that name a meter.
pub async fn metered_features(
    c: &mut AnyConnection,
    scope: &Scope,
) -> sqlx::Result<Vec<Json<Vec<Feature>>>> {
    let rows: Vec<(Json<Vec<Feature>>,)> = scoped::query_as(
        "SELECT features FROM products WHERE tenant_id = $1 AND env = $2 AND features LIKE '%\"meter\"%'",
        scope,
    )
    .fetch_all(c)
    .await?;
    Ok(rows.into_iter().map(|(f,)| f).collect())
}

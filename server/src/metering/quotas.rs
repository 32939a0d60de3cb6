//! Entitlements and quotas: what a customer's subscriptions entitle it to, how much of a
//! metered limit it used this period, and the alerts sent as it crosses thresholds.
//!
//! A customer is entitled to the features of the products of its billing subscriptions
//! (trialing, active, past_due). When several grant the same feature, the largest limit
//! wins (no limit at all is largest). A metered feature's use is its meter's total over the
//! granting subscription's current period.

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;
use sqlx::AnyConnection;

use super::alerts::Touched;
use super::usage::{self, Meter};
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;
use crate::webhooks;
use domain::billing::{DEFAULT_ALERT_THRESHOLDS, Enforcement, Feature};
use domain::metering::ThresholdReached;
use store::Db;
use store::metering as db;

/// A feature as granted to a customer by one subscription, with its meter, if metered.
#[derive(Debug, Clone)]
pub struct Grant {
    pub feature: Feature,
    pub meter: Option<Meter>,
    pub subscription: String,
    pub period: (i64, i64),
}

/// The features the customer's billing subscriptions grant, by key.
pub async fn grants(
    c: &mut AnyConnection,
    scope: &Scope,
    customer: &str,
) -> ApiResult<BTreeMap<String, Grant>> {
    Ok(grants_of(c, scope, &[customer])
        .await?
        .remove(customer)
        .unwrap_or_default())
}

/// `grants` for many customers at once, in one query: their subscriptions' items joined to
/// the features of each item's product and to each feature's meter. Customers without any
/// are left out.
async fn grants_of(
    c: &mut AnyConnection,
    scope: &Scope,
    customers: &[&str],
) -> ApiResult<BTreeMap<String, BTreeMap<String, Grant>>> {
    let mut rows = db::granted_features(c, scope, customers).await?;
    // Ties between equal limits go to the first subscription, then price, by id.
    rows.sort_unstable_by(|a, b| {
        (&a.customer, &a.subscription, &a.price).cmp(&(&b.customer, &b.subscription, &b.price))
    });
    let mut out: BTreeMap<String, BTreeMap<String, Grant>> = BTreeMap::new();
    for row in rows {
        let feature = row.feature.0;
        let meter = match (&feature.meter, row.meter) {
            (None, _) => None,
            (Some(_), Some(m)) => Some(Meter::from_row(m)),
            (Some(m), None) => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "feature meter {m} is gone"
                )));
            }
        };
        let grant = Grant {
            feature,
            meter,
            subscription: row.subscription,
            period: row.period,
        };
        let larger = |old: &Grant| match (grant.feature.limit, old.feature.limit) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => a > b,
        };
        let granted = out.entry(row.customer).or_default();
        match granted.get(&grant.feature.key) {
            Some(old) if !larger(old) => {}
            _ => {
                granted.insert(grant.feature.key.clone(), grant);
            }
        }
    }
    Ok(out)
}

/// A customer's standing on one feature.
#[derive(Debug, Clone)]
pub struct Standing {
    pub grant: Option<Grant>,
    /// Use this period, for a metered feature.
    pub usage: Option<Decimal>,
}

impl Standing {
    pub fn remaining(&self) -> Option<Decimal> {
        let limit = self.grant.as_ref()?.feature.limit?;
        Some((Decimal::from(limit) - self.usage?).max(Decimal::ZERO))
    }

    pub fn enforcement(&self) -> Option<Enforcement> {
        let f = &self.grant.as_ref()?.feature;
        f.meter.as_ref()?;
        Some(f.enforcement.unwrap_or(Enforcement::Hard))
    }

    /// Entitled, and under a hard limit.
    pub fn allowed(&self) -> bool {
        self.grant.is_some()
            && (self.enforcement() != Some(Enforcement::Hard)
                || self.remaining().is_some_and(|r| r > Decimal::ZERO))
    }
}

/// How the customer stands on `feature` now.
pub async fn standing(
    c: &mut AnyConnection,
    scope: &Scope,
    customer: &str,
    feature: &str,
) -> ApiResult<Standing> {
    let grant = grants(c, scope, customer).await?.remove(feature);
    let usage = match grant
        .as_ref()
        .and_then(|g| g.meter.as_ref().map(|m| (g, m)))
    {
        Some((g, meter)) => Some(usage::total(c, scope, meter, customer, g.period).await?),
        None => None,
    };
    Ok(Standing { grant, usage })
}

/// For each customer whose usage of some meters grew (`touched`), sends one alert per
/// metered feature and threshold newly reached this period. Reads on a reader; opens a
/// write transaction only for thresholds reached.
pub async fn alert(db: &Db, scope: &Scope, touched: &Touched, now: i64) -> ApiResult<()> {
    let mut c = db.read_scoped(scope).await?;
    if !any_feature_meters(&mut c, scope, touched).await? {
        return Ok(());
    }
    let customers: Vec<&str> = touched.keys().map(String::as_str).collect();
    let mut reached = Vec::new();
    for (customer, grants) in grants_of(&mut c, scope, &customers).await? {
        for grant in grants.into_values() {
            let f = &grant.feature;
            let (Some(meter), Some(limit)) = (&grant.meter, f.limit) else {
                continue;
            };
            if !touched
                .get(&customer)
                .is_some_and(|m| m.contains(&meter.row.id))
            {
                continue;
            }
            let used = usage::total(&mut c, scope, meter, &customer, grant.period).await?;
            let thresholds = f
                .alert_thresholds
                .as_deref()
                .unwrap_or(&DEFAULT_ALERT_THRESHOLDS);
            for &t in thresholds {
                // used ≥ limit × t / 100, in integers.
                if used * Decimal::from(100) < Decimal::from(limit) * Decimal::from(t) {
                    break;
                }
                let data = ThresholdReached {
                    customer: customer.clone(),
                    subscription: grant.subscription.clone(),
                    feature: f.key.clone(),
                    meter: meter.row.id.clone(),
                    threshold: t,
                    limit,
                    usage: used.normalize().to_string(),
                    period_start: grant.period.0,
                    period_end: grant.period.1,
                };
                reached.push(data);
            }
        }
    }
    c.end();
    if reached.is_empty() {
        return Ok(());
    }
    let mut tx = db.write_scoped(scope).await?;
    for data in &reached {
        let key = (
            data.customer.as_str(),
            data.feature.as_str(),
            data.period_start,
            data.threshold,
        );
        if db::record_alert(&mut tx, scope, key, now).await? {
            webhooks::emit(&mut tx, scope, "usage.threshold_reached", data, now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Whether any product feature of the scope is measured by one of the touched meters: the
/// cheap test that spares most ingests the per-customer work.
async fn any_feature_meters(
    c: &mut AnyConnection,
    scope: &Scope,
    touched: &Touched,
) -> ApiResult<bool> {
    let meters: HashSet<&str> = touched.values().flatten().map(String::as_str).collect();
    for features in db::metered_features(c, scope).await? {
        if features
            .iter()
            .any(|f| f.meter.as_deref().is_some_and(|m| meters.contains(m)))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Checks that every metered feature names a meter of the scope.
pub async fn check_feature_meters(
    c: &mut AnyConnection,
    scope: &Scope,
    features: &[Feature],
) -> ApiResult<()> {
    for (i, f) in features.iter().enumerate() {
        if let Some(m) = &f.meter
            && db::get_meter(c, scope, m).await?.is_none()
        {
            return Err(ApiError::validation(
                &format!("features[{i}].meter"),
                "no such meter",
            ));
        }
    }
    Ok(())
}

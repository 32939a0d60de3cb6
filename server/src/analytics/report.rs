//! Reports as folds over the recorded movements (oldest first): MRR per window with its
//! movements and the rates made from them, and cohorts by first paid month. Definitions
//! follow ChartMogul's; each is written next to its field. Amounts are exact decimal strings
//! in minor units; rates are decimals rounded to 4 places (0.0525 is 5.25%), null when their
//! denominator is zero.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::{ApiError, ApiResult};
use domain::analytics::MovementKind;
use domain::billing::Interval;
use domain::billing::schedule::period_end;
use domain::clock::timestamp;
use store::analytics::MovementRow;

/// Windows a report may have.
const MAX_WINDOWS: usize = 400;

pub fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

fn ratio(numerator: Decimal, denominator: Decimal) -> Option<String> {
    (!denominator.is_zero()).then(|| {
        text(
            (numerator / denominator)
                .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero),
        )
    })
}

/// The bounds of windows of `interval` from `from` to `to` (the last one cut at `to`).
pub fn windows(from: i64, to: i64, interval: Interval) -> ApiResult<Vec<(i64, i64)>> {
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        if out.len() == MAX_WINDOWS {
            return Err(ApiError::validation(
                "interval",
                "too many windows for the range (at most 400)",
            ));
        }
        let end = period_end(from, interval, 1, out.len() as i64 + 1).min(to);
        out.push((start, end));
        start = end;
    }
    Ok(out)
}

/// One window: MRR at its end, what moved it, and the rates of the window.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MrrWindow {
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "timestamp::serialize")]
    pub start: i64,
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "timestamp::serialize")]
    pub end: i64,
    /// MRR at the window's start.
    #[schema(example = "120000")]
    pub mrr_start: String,
    /// MRR at its end.
    #[schema(example = "125000")]
    pub mrr: String,
    /// 12 × `mrr`.
    pub arr: String,
    /// Customers with MRR at the window's end.
    pub customers: i64,
    pub customers_start: i64,
    pub new: String,
    pub expansion: String,
    pub contraction: String,
    pub churn: String,
    pub reactivation: String,
    /// The sum of the movements: `mrr` − `mrr_start`.
    pub net: String,
    pub new_customers: i64,
    pub churned_customers: i64,
    pub reactivated_customers: i64,
    /// Average revenue per account: `mrr` / `customers`.
    pub arpa: Option<String>,
    /// Customer churn rate: `churned_customers` / `customers_start`.
    pub customer_churn_rate: Option<String>,
    /// Gross MRR churn rate: (churn + contraction) / `mrr_start`, as a positive share.
    pub gross_mrr_churn_rate: Option<String>,
    /// Net MRR churn rate: (churn + contraction + expansion + reactivation) / `mrr_start`,
    /// negated: below zero when expansion outgrows what was lost.
    pub net_mrr_churn_rate: Option<String>,
    /// Net revenue retention: (`mrr_start` + expansion + contraction + churn) / `mrr_start`.
    pub net_revenue_retention: Option<String>,
    /// Gross revenue retention: (`mrr_start` + contraction + churn) / `mrr_start`.
    pub gross_revenue_retention: Option<String>,
    /// Quick ratio: (new + expansion + reactivation) / −(churn + contraction).
    pub quick_ratio: Option<String>,
    /// Lifetime value: `arpa` / `customer_churn_rate`.
    pub ltv: Option<String>,
}

/// Per window of `bounds`, MRR and its movements (`movements` from the start, oldest first).
pub fn mrr_windows(movements: &[MovementRow], bounds: &[(i64, i64)]) -> Vec<MrrWindow> {
    let mut mrr = Decimal::ZERO;
    let mut customers = 0i64;
    let mut rows = movements.iter().peekable();
    let apply = |m: &MovementRow, mrr: &mut Decimal, customers: &mut i64| {
        *mrr += m.delta.0;
        match m.kind.0 {
            MovementKind::New | MovementKind::Reactivation => *customers += 1,
            MovementKind::Churn => *customers -= 1,
            MovementKind::Expansion | MovementKind::Contraction => {}
        }
    };
    let first = bounds.first().map_or(0, |b| b.0);
    while let Some(m) = rows.next_if(|m| m.at < first) {
        apply(m, &mut mrr, &mut customers);
    }
    bounds
        .iter()
        .map(|&(start, end)| {
            let (mrr_start, customers_start) = (mrr, customers);
            let mut sums: HashMap<MovementKind, (Decimal, i64)> = HashMap::new();
            while let Some(m) = rows.next_if(|m| m.at < end) {
                apply(m, &mut mrr, &mut customers);
                let s = sums.entry(m.kind.0).or_default();
                *s = (s.0 + m.delta.0, s.1 + 1);
            }
            let sum = |k| sums.get(&k).copied().unwrap_or_default();
            let amount = |k| sum(k).0;
            let lost = amount(MovementKind::Churn) + amount(MovementKind::Contraction);
            let gained = amount(MovementKind::Expansion) + amount(MovementKind::Reactivation);
            let won = amount(MovementKind::New) + gained;
            let churned = sum(MovementKind::Churn).1;
            let arpa = (customers != 0).then(|| mrr / Decimal::from(customers));
            let churn_rate = (customers_start != 0)
                .then(|| Decimal::from(churned) / Decimal::from(customers_start));
            MrrWindow {
                start,
                end,
                mrr_start: text(mrr_start),
                mrr: text(mrr),
                arr: text(mrr * Decimal::from(12)),
                customers,
                customers_start,
                new: text(amount(MovementKind::New)),
                expansion: text(amount(MovementKind::Expansion)),
                contraction: text(amount(MovementKind::Contraction)),
                churn: text(amount(MovementKind::Churn)),
                reactivation: text(amount(MovementKind::Reactivation)),
                net: text(mrr - mrr_start),
                new_customers: sum(MovementKind::New).1,
                churned_customers: churned,
                reactivated_customers: sum(MovementKind::Reactivation).1,
                arpa: arpa.map(|a| text(a.round_dp(2))),
                customer_churn_rate: churn_rate.map(|r| text(r.round_dp(4))),
                gross_mrr_churn_rate: ratio(-lost, mrr_start),
                net_mrr_churn_rate: ratio(-(lost + gained), mrr_start),
                net_revenue_retention: ratio(
                    mrr_start + amount(MovementKind::Expansion) + lost,
                    mrr_start,
                ),
                gross_revenue_retention: ratio(mrr_start + lost, mrr_start),
                quick_ratio: ratio(won, -lost),
                ltv: match (arpa, churn_rate) {
                    (Some(a), Some(r)) if !r.is_zero() => Some(text((a / r).round_dp(2))),
                    _ => None,
                },
            }
        })
        .collect()
}

/// Customers who first paid in one window, and how many of them, and how much of their
/// MRR, remain at the end of each window since.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Cohort {
    /// The window they first paid in.
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "timestamp::serialize")]
    pub start: i64,
    /// The customers who first paid in it.
    pub customers: i64,
    /// Their MRR at the end of that first window.
    pub mrr: String,
    /// At the end of that window and each one after it.
    pub windows: Vec<CohortWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CohortWindow {
    #[schema(value_type = String, format = DateTime)]
    #[serde(serialize_with = "timestamp::serialize")]
    pub end: i64,
    /// The cohort's customers with MRR.
    pub customers: i64,
    /// Their MRR.
    pub mrr: String,
    /// `customers` / the cohort's.
    pub customer_retention: Option<String>,
    /// `mrr` / the cohort's: above 1 when they expanded.
    pub revenue_retention: Option<String>,
}

/// Cohorts by the window of `bounds` a customer's first `new` movement falls in.
pub fn cohorts(movements: &[MovementRow], bounds: &[(i64, i64)]) -> Vec<Cohort> {
    let window_of = |at: i64| bounds.iter().position(|&(s, e)| s <= at && at < e);
    // Per customer: its cohort, if it first paid within the bounds, and its MRR now.
    let mut cohort_of: HashMap<&str, Option<usize>> = HashMap::new();
    let mut mrr: HashMap<&str, Decimal> = HashMap::new();
    let mut rows = movements.iter().peekable();
    // Per cohort, per window since: (customers, MRR) at the window's end.
    let mut table: BTreeMap<usize, Vec<(i64, Decimal)>> = BTreeMap::new();
    for (w, &(_, end)) in bounds.iter().enumerate() {
        while let Some(m) = rows.next_if(|m| m.at < end) {
            let customer = m.customer_id.as_str();
            cohort_of.entry(customer).or_insert_with(|| {
                (m.kind.0 == MovementKind::New)
                    .then(|| window_of(m.at))
                    .flatten()
            });
            *mrr.entry(customer).or_default() += m.delta.0;
        }
        for (c, cohort) in &cohort_of {
            let Some(cohort) = *cohort else { continue };
            let row = table.entry(cohort).or_default();
            row.resize(w - cohort + 1, (0, Decimal::ZERO));
            let value = mrr.get(c).copied().unwrap_or_default();
            if !value.is_zero() {
                let cell = &mut row[w - cohort];
                *cell = (cell.0 + 1, cell.1 + value);
            }
        }
    }
    table
        .into_iter()
        .map(|(cohort, cells)| {
            let customers = cohort_of.values().filter(|c| **c == Some(cohort)).count() as i64;
            let base = cells.first().map_or(Decimal::ZERO, |c| c.1);
            Cohort {
                start: bounds[cohort].0,
                customers,
                mrr: text(base),
                windows: cells
                    .iter()
                    .enumerate()
                    .map(|(i, &(n, value))| CohortWindow {
                        end: bounds[cohort + i].1,
                        customers: n,
                        mrr: text(value),
                        customer_retention: ratio(Decimal::from(n), Decimal::from(customers)),
                        revenue_retention: ratio(value, base),
                    })
                    .collect(),
            }
        })
        .collect()
}

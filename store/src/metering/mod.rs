//! Metering SQL: meters, raw events, rollups, distinct values, sent alerts and the features
//! subscriptions grant, a file each.
//! Bulk writes bind their rows as one JSON array (`store::json_rows`).

mod alerts;
mod distinct;
mod events;
mod grants;
mod meters;
mod rollups;

pub use alerts::*;
pub use distinct::*;
pub use events::*;
pub use grants::*;
pub use meters::*;
pub use rollups::*;

/// `customer_id = $n`, or (all customers) an always-true condition that still binds `$n`.
/// Not `($n IS NULL OR customer_id = $n)`: that keeps SQLite from using the customer part
/// of an index, and a customer's query would scan every customer's rows.
fn customer_is(customer: Option<&str>, n: usize) -> String {
    match customer {
        Some(_) => format!("customer_id = ${n}"),
        None => format!("${n} IS NULL"),
    }
}

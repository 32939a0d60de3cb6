//! Billing. So far the catalog: products (with their features) and prices.

pub mod amount;
pub mod api;
pub mod collection_hooks;
mod model;
pub mod payments;
pub mod schedule;
pub mod scheduler;
pub mod store;
pub mod stripe;
pub mod subscriptions;

pub use model::*;

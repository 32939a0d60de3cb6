//! Billing. So far the catalog: products (with their features) and prices.

pub mod amount;
pub mod api;
mod model;
pub mod store;

pub use model::*;

//! HTTP handlers of the billing domain, one file per resource.

pub mod customers;
pub mod invoices;
pub mod payment_provider;
pub mod prices;
pub mod products;
pub mod stripe_webhooks;
pub mod subscriptions;
pub mod test_clocks;

use serde::de::DeserializeOwned;

use crate::http::error::ApiError;

/// Reads a JSON column the server itself wrote.
fn stored<T: DeserializeOwned>(column: &str, json: &str) -> Result<T, ApiError> {
    serde_json::from_str(json)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("unreadable {column} column: {e}")))
}

fn to_json(value: &impl serde::Serialize) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::Internal(e.into()))
}

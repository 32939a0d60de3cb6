//! NeoForge's domain: ids, the clock, money and secrets, and each domain's types, rules and
//! state machines. No IO, no HTTP, no SQL: the store and the API build on this crate, never
//! the other way round.

pub mod analytics;
pub mod billing;
pub mod clock;
pub mod crypto;
pub mod email;
pub mod error;
pub mod identity;
pub mod ids;
pub mod metering;
pub mod net;
pub mod request_log;
pub mod secret;
pub mod tenancy;
pub mod webhooks;

pub use error::{Error, Result};

/// A unit-variant enum's serde name (`past_due`): how the domain's states are shown and
/// stored. `None` for any other value.
pub fn serde_name(value: impl serde::Serialize) -> Option<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

//! Columns the store keeps as text: JSON documents and unit-variant enums by their serde
//! names. Text because sqlx's `Any` driver decodes primitives only.

use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Reads a JSON column the server itself wrote.
pub fn stored<T: DeserializeOwned>(column: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| Error::corrupt(column, e))
}

pub fn to_json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| domain::Error::Internal(e.into()).into())
}

/// A unit-variant enum as the text stored in its column: its serde name (`mark_unpaid`).
pub fn enum_text(value: impl serde::Serialize) -> Result<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(domain::Error::Internal(anyhow::anyhow!("not a unit-variant enum")).into()),
    }
}

/// Reads back a column written by `enum_text`.
pub fn from_enum_text<T: DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| Error::corrupt(column, e))
}

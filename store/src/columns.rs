//! Columns the store keeps as text: JSON documents and unit-variant enums by their serde
//! names (`Text`, typed in rows). Text because sqlx's `Any` driver decodes primitives only.

use serde::de::DeserializeOwned;
use sqlx::Database;
use sqlx::any::{Any, AnyTypeInfo};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;

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
    domain::serde_name(value)
        .ok_or_else(|| domain::Error::Internal(anyhow::anyhow!("not a unit-variant enum")).into())
}

/// Reads back a column written by `enum_text`.
pub fn from_enum_text<T: DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| Error::corrupt(column, e))
}

/// A unit-variant enum in a text column, by its serde name (`past_due`), read back typed: a
/// row never holds a value its domain does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text<T>(pub T);

impl<T> std::ops::Deref for Text<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Text<T> {
    fn from(value: T) -> Self {
        Text(value)
    }
}

impl<T: PartialEq> PartialEq<T> for Text<T> {
    fn eq(&self, other: &T) -> bool {
        self.0 == *other
    }
}

impl<T: std::fmt::Display> std::fmt::Display for Text<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> sqlx::Type<Any> for Text<T> {
    fn type_info() -> AnyTypeInfo {
        <String as sqlx::Type<Any>>::type_info()
    }
}

impl<'r, T: DeserializeOwned> sqlx::Decode<'r, Any> for Text<T> {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <String as sqlx::Decode<Any>>::decode(value)?;
        Ok(Text(serde_json::from_value(serde_json::Value::String(
            text,
        ))?))
    }
}

impl<T: serde::Serialize + Copy> sqlx::Encode<'_, Any> for Text<T> {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as sqlx::Encode<Any>>::encode(enum_text(self.0)?, buf)
    }
}

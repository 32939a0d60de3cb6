//! Columns the store keeps as text, read and written typed: JSON documents (`Json`) and
//! unit-variant enums by their serde names (`Text`). Text because sqlx's `Any` driver decodes
//! primitives only (its own `Json` is per driver), so both wrappers are hand-written.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Database;
use sqlx::any::{Any, AnyTypeInfo};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;

/// A unit-variant enum as the text stored in its column: its serde name (`mark_unpaid`).
fn enum_text(value: impl Serialize) -> Result<String, BoxDynError> {
    domain::serde_name(value).ok_or_else(|| "not a unit-variant enum".into())
}

/// A JSON document in a text column: a row never holds one its type cannot read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Self {
        Json(value)
    }
}

impl<T: Serialize> Json<T> {
    /// The document as its column stores it, for the JSON rows of a bulk insert.
    pub fn text(&self) -> sqlx::Result<String> {
        serde_json::to_string(&self.0).map_err(|e| sqlx::Error::Encode(e.into()))
    }
}

/// A document whose type depends on another column (a connection's settings on its kind).
impl Json<serde_json::Value> {
    pub fn of(value: impl Serialize) -> crate::Result<Self> {
        serde_json::to_value(value)
            .map(Json)
            .map_err(|e| domain::Error::Internal(e.into()).into())
    }

    /// The document read as the type the row's other columns say it is.
    pub fn read<T: DeserializeOwned>(&self, column: &str) -> crate::Result<T> {
        T::deserialize(&self.0).map_err(|e| crate::Error::corrupt(column, e))
    }
}

impl<T> sqlx::Type<Any> for Json<T> {
    fn type_info() -> AnyTypeInfo {
        <String as sqlx::Type<Any>>::type_info()
    }
}

impl<'r, T: DeserializeOwned> sqlx::Decode<'r, Any> for Json<T> {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as sqlx::Decode<Any>>::decode(value)?;
        Ok(Json(serde_json::from_str(text)?))
    }
}

impl<T: Serialize> sqlx::Encode<'_, Any> for Json<T> {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as sqlx::Encode<Any>>::encode(self.text()?, buf)
    }
}

/// A unit-variant enum in a text column, by its serde name (`past_due`), read back typed: a
/// row never holds a value its domain does not know.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

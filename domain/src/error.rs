//! The domain's one error: a value a rule refuses, or a fault (an unreadable stored value)
//! that no caller can fix. The API maps the first to a 400 naming the field.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `code` is the API's stable error code: `validation_error` unless a rule names its own.
    #[error("{field}: {message}")]
    Invalid {
        code: &'static str,
        field: String,
        message: String,
    },
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl Error {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Error::refused("validation_error", field, message)
    }

    /// A refusal with its own error code (`invalid_currency`).
    pub fn refused(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        Error::Invalid {
            code,
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The domain's one error: a value a rule refuses, or a fault (an unreadable stored value)
//! that no caller can fix. The API maps the first to a 400 naming the field.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl Error {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

//! SCIM's own error document (RFC 7644 §3.12), which SCIM clients parse instead of the API's
//! problem+json: `{"schemas": [Error], "status": "400", "scimType": "invalidFilter",
//! "detail": …}` as `application/scim+json`. Internal failures are logged and hidden, as
//! `ApiError` does for the rest of the API.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::error::ApiError;
use domain::identity::scim_schema as schema;

pub const CONTENT_TYPE: &str = "application/scim+json";

/// `scimType` values of RFC 7644 Table 9 that this server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
}

impl ScimType {
    fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
        }
    }
}

#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

pub type ScimResult<T> = Result<T, ScimError>;

impl ScimError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// A 400 of the given type (409 for `uniqueness`).
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        let status = match scim_type {
            ScimType::Uniqueness => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        ScimError {
            status,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        ScimError::new(StatusCode::NOT_FOUND, format!("No such {what}."))
    }

    pub fn unauthorized() -> Self {
        ScimError::new(
            StatusCode::UNAUTHORIZED,
            "Send `Authorization: Bearer nf_scim_…` with a SCIM token of the organization.",
        )
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        let e = e.into();
        tracing::error!(error = format!("{e:#}"), "internal error in SCIM");
        ScimError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server failed to handle the request.",
        )
    }
}

impl From<sqlx::Error> for ScimError {
    fn from(e: sqlx::Error) -> Self {
        ScimError::internal(e)
    }
}

impl From<store::Error> for ScimError {
    fn from(e: store::Error) -> Self {
        ApiError::from(e).into()
    }
}

/// Errors of shared code (the webhook outbox): same status and detail, SCIM's shape.
impl From<ApiError> for ScimError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Internal(e) => ScimError::internal(e),
            other => ScimError::new(other.status(), other.to_problem().detail),
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [schema::ERROR],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t.as_str());
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"neoforge-scim\""),
            );
        }
        response
    }
}

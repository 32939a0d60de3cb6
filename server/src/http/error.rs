//! The one error type of the HTTP API, rendered as RFC 9457 problem+json.
//!
//! Rules: a handler returns `ApiError`; each variant maps to one HTTP status and a stable
//! `code` that clients may match on. Storage failures become `Internal` (logged, details
//! hidden). Never build a response body for an error anywhere else.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::request_id;

/// One field that failed validation.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FieldError {
    /// Dotted path of the field in the request (`scopes[2]`, `email`), or the parameter name.
    pub field: String,
    /// Why the value was refused.
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "https://docs.neoforge.dev/errors/invalid_api_key",
    "title": "Invalid API key",
    "status": 401,
    "detail": "The API key is unknown, revoked or expired.",
    "code": "invalid_api_key",
    "request_id": "req_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e"
}))]
pub struct Problem {
    /// A URI naming the problem type; stable per `code`.
    pub r#type: String,
    /// Short human summary of the problem type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Explanation specific to this occurrence.
    pub detail: String,
    /// Stable machine-readable error code.
    pub code: String,
    /// The request id, also sent as `X-Request-Id`.
    pub request_id: String,
    /// Per-field validation failures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request: bad JSON, bad parameter, failed validation.
    #[error("{detail}")]
    BadRequest {
        code: &'static str,
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("invalid session")]
    InvalidSession,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    /// A live key sent from the developer portal, which works only in the sandbox.
    #[error(
        "The developer portal works only in the sandbox: use an nf_test_ key. Live keys work from your own servers."
    )]
    LiveKeyInPortal,
    /// Unknown id, or an id that belongs to another tenant or environment: the two are
    /// indistinguishable on purpose.
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("no such route")]
    RouteNotFound,
    #[error("the database is unreachable")]
    Unavailable,
    /// A fault injected on request by a test server (`--inject-faults`).
    #[error("injected fault")]
    Injected(StatusCode),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    /// The tenant's payment provider (Stripe) failed or refused a call.
    #[error("{0}")]
    PaymentProvider(String),
    /// A single sign-on login that did not complete: what the identity provider sent (or
    /// failed to send) was refused.
    #[error("{detail}")]
    LoginFailed { code: &'static str, detail: String },
    /// A password login for an address whose organization requires single sign-on.
    #[error("{0} requires single sign-on: log in at /v1/sso/authorize?email=<your address>.")]
    SsoRequired(String),
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        ApiError::refused("validation_error", field, message)
    }

    /// A 400 with its own code, naming the field.
    pub fn refused(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::BadRequest {
            code,
            detail: format!("{field}: {message}"),
            errors: vec![FieldError {
                field: field.to_owned(),
                message,
            }],
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::Forbidden(detail.into())
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            detail: detail.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code, "Invalid request"),
            Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "authentication_required",
                "Authentication required",
            ),
            InvalidApiKey => (
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "Invalid API key",
            ),
            InvalidSession => (
                StatusCode::UNAUTHORIZED,
                "invalid_session",
                "Invalid session",
            ),
            InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Invalid credentials",
            ),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            LiveKeyInPortal => (
                StatusCode::FORBIDDEN,
                "live_key_in_portal",
                "Live key used from the portal",
            ),
            NotFound(_) => (StatusCode::NOT_FOUND, "resource_not_found", "Not found"),
            Conflict { code, .. } => (StatusCode::CONFLICT, code, "Conflict"),
            Unprocessable { code, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "Unprocessable request",
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            RouteNotFound => (StatusCode::NOT_FOUND, "route_not_found", "Not found"),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "Service unavailable",
            ),
            Injected(status) => (*status, "injected_fault", "Injected fault"),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal error",
            ),
            PaymentProvider(_) => (
                StatusCode::BAD_GATEWAY,
                "payment_provider_error",
                "Payment provider error",
            ),
            SsoRequired(_) => (
                StatusCode::FORBIDDEN,
                "sso_required",
                "Single sign-on required",
            ),
            LoginFailed { code, .. } => (StatusCode::UNAUTHORIZED, code, "Single sign-on failed"),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    pub fn to_problem(&self) -> Problem {
        let (status, code, title) = self.parts();
        let detail = match self {
            ApiError::InvalidApiKey => "The API key is unknown, revoked or expired.".to_owned(),
            ApiError::InvalidSession => "The session is unknown, expired or logged out.".to_owned(),
            ApiError::Unauthenticated => {
                "Send `Authorization: Bearer <API key or session token>`.".to_owned()
            }
            ApiError::Internal(_) => "The server failed to handle the request.".to_owned(),
            other => other.to_string(),
        };
        let errors = match self {
            ApiError::BadRequest { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        Problem {
            r#type: format!("https://docs.neoforge.dev/errors/{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            request_id: request_id::current(),
            errors,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<domain::Error> for ApiError {
    fn from(e: domain::Error) -> Self {
        match e {
            domain::Error::Invalid {
                code,
                field,
                message,
            } => ApiError::refused(code, &field, message),
            domain::Error::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::Db(e) => e.into(),
            store::Error::Domain(e) => e.into(),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = format!("{e:#}"), "internal error");
        }
        let problem = self.to_problem();
        let status = self.status();
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"neoforge\""),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

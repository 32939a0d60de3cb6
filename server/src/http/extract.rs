//! Request extractors whose every rejection is a problem+json `ApiError`, never axum's plain
//! text. Bodies are `application/json` (a form only where identity providers post one);
//! unknown fields are refused (`unknown_parameter`).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FormRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};
use super::objects::Objects;

/// A JSON body. Request types use `#[serde(deny_unknown_fields)]`.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        parse_json(&bytes).map(Json)
    }
}

/// The body's exact bytes, whatever its type (signed payloads: Stripe's webhooks).
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(body_error)
    }
}

fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest {
            code: "invalid_body",
            detail: e.body_text(),
            errors: Vec::new(),
        }
    }
}

/// A JSON body as `T`: structs only from objects (`objects.rs`), nothing after the value.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(Objects(&mut de)).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // serde reports unknown fields only through its message text.
        if message.starts_with("unknown field `") {
            // The path already ends with the unknown field's name.
            return ApiError::BadRequest {
                code: "unknown_parameter",
                detail: format!("Received unknown parameter: {field}"),
                errors: vec![FieldError {
                    field,
                    message: "unknown parameter".into(),
                }],
            };
        }
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest {
                code: "malformed_json",
                detail: format!("The body is not valid JSON: {message}"),
                errors: Vec::new(),
            };
        }
        let field = if field == "." {
            "body".to_owned()
        } else {
            field
        };
        ApiError::BadRequest {
            code: "validation_error",
            detail: format!("{field}: {message}"),
            errors: vec![FieldError { field, message }],
        }
    })?;
    de.end().map_err(|e| ApiError::BadRequest {
        code: "malformed_json",
        detail: format!("The body is not valid JSON: {e}"),
        errors: Vec::new(),
    })?;
    Ok(value)
}

/// An optional RFC 3339 timestamp field or parameter, as unix milliseconds.
pub fn timestamp(field: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            domain::clock::timestamp::parse_rfc3339(v).ok_or_else(|| {
                ApiError::validation(
                    field,
                    format!(
                        "must be an RFC 3339 timestamp {}",
                        domain::clock::timestamp::RANGE_TEXT
                    ),
                )
            })
        })
        .transpose()
}

/// Path parameters.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e: PathRejection| ApiError::BadRequest {
                code: "invalid_path_parameter",
                detail: e.body_text(),
                errors: Vec::new(),
            })
    }
}

/// Query string parameters. Query types use `#[serde(deny_unknown_fields)]` too.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e: QueryRejection| {
                let detail = e.body_text();
                let code = if detail.contains("unknown field") {
                    "unknown_parameter"
                } else {
                    "invalid_query_parameter"
                };
                ApiError::BadRequest {
                    code,
                    detail,
                    errors: Vec::new(),
                }
            })
    }
}

/// An `application/x-www-form-urlencoded` body (what browsers POST for identity providers).
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|f| Form(f.0))
            .map_err(|e: FormRejection| match e.status() {
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                _ => ApiError::BadRequest {
                    code: "invalid_body",
                    detail: e.body_text(),
                    errors: Vec::new(),
                },
            })
    }
}

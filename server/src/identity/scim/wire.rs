//! SCIM on the wire: `application/scim+json` (or plain JSON) bodies in, `application/scim+json`
//! out with `ETag` and `Location`, list paging (`startIndex`, 1-based, and `count`,
//! RFC 7644 §3.4.2.4), and the query parameters of retrievals.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::{CONTENT_TYPE, ScimError, ScimResult, ScimType};
use super::resource::Projection;
use domain::identity::scim_schema as schema;

/// The most resources one list answers (ServiceProviderConfig `filter.maxResults`).
pub const MAX_RESULTS: usize = 200;

/// A JSON request body, as `application/scim+json` or `application/json`.
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ScimError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime == CONTENT_TYPE
            });
        if !json {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Send the body as application/scim+json.",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ScimError::new(e.status(), e.body_text()))?;
        serde_json::from_slice(&bytes).map(ScimBody).map_err(|e| {
            ScimError::bad(
                ScimType::InvalidSyntax,
                format!("The body is not valid JSON: {e}"),
            )
        })
    }
}

/// A successful SCIM answer.
pub struct ScimResponse {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl ScimResponse {
    pub fn ok(body: Value) -> Self {
        ScimResponse {
            status: StatusCode::OK,
            body: Some(body),
            etag: None,
            location: None,
        }
    }

    pub fn no_content() -> Self {
        ScimResponse {
            status: StatusCode::NO_CONTENT,
            body: None,
            etag: None,
            location: None,
        }
    }
}

impl IntoResponse for ScimResponse {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (self.status, axum::Json(body)).into_response(),
            None => self.status.into_response(),
        };
        let headers = response.headers_mut();
        if headers.contains_key(header::CONTENT_TYPE) {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        }
        for (name, value) in [(header::ETAG, self.etag), (header::LOCATION, self.location)] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert(name, v);
            }
        }
        response
    }
}

/// Whether `If-Match` (when sent) names the current version.
pub fn check_if_match(headers: &HeaderMap, etag: &str) -> ScimResult<()> {
    let Some(wanted) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let matches = wanted.split(',').map(str::trim).any(|w| {
        w == "*" || w == etag || w.trim_start_matches("W/") == etag.trim_start_matches("W/")
    });
    if matches {
        Ok(())
    } else {
        Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            "The resource changed since the version in If-Match.",
        ))
    }
}

/// What a list or search asks for.
#[derive(Debug, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
    pub projection: Projection,
}

fn number(name: &str, v: Option<&Value>) -> ScimResult<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64()),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
            ScimError::bad(
                ScimType::InvalidValue,
                format!("{name} must be an integer."),
            )
        }),
        Some(_) => Err(ScimError::bad(
            ScimType::InvalidValue,
            format!("{name} must be an integer."),
        )),
    }
}

/// A comma-separated list from a query string, or a JSON array of a SearchRequest.
fn attribute_list(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

impl ListQuery {
    /// From query parameters or a SearchRequest body (RFC 7644 §3.4.3); names ignore case.
    /// Out-of-range values are clamped as §3.4.2.4 says: startIndex below 1 is 1, a negative
    /// count is 0.
    pub fn from_fields(fields: &serde_json::Map<String, Value>) -> ScimResult<ListQuery> {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let start = number("startIndex", get("startIndex"))?.unwrap_or(1).max(1);
        let count = number("count", get("count"))?.map_or(MAX_RESULTS as i64, |c| c.max(0));
        Ok(ListQuery {
            filter: get("filter").and_then(Value::as_str).map(str::to_owned),
            start_index: usize::try_from(start).unwrap_or(1),
            count: usize::try_from(count).unwrap_or(0).min(MAX_RESULTS),
            projection: Projection {
                attributes: attribute_list(get("attributes")),
                excluded: attribute_list(get("excludedAttributes")),
                across_types: false,
            },
        })
    }

    pub fn from_params(params: &HashMap<String, String>) -> ScimResult<ListQuery> {
        let fields = params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        ListQuery::from_fields(&fields)
    }
}

/// `attributes` / `excludedAttributes` of a retrieval or a write's answer.
pub fn projection(params: &HashMap<String, String>) -> ScimResult<Projection> {
    Ok(ListQuery::from_params(params)?.projection)
}

/// A ListResponse page of `total` matches starting at `start_index`.
pub fn list_response(resources: Vec<Value>, total: usize, start_index: usize) -> Value {
    json!({
        "schemas": [schema::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// Query parameters, names as sent.
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ScimError> {
        axum::extract::Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|q| Params(q.0))
            .map_err(|e| ScimError::bad(ScimType::InvalidSyntax, e.body_text()))
    }
}

/// A path parameter (an id).
pub struct ScimPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ScimPath {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ScimError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| ScimPath(p.0))
            .map_err(|e| ScimError::bad(ScimType::InvalidSyntax, e.body_text()))
    }
}

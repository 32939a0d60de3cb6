//! Usage events in: `POST /v1/events` (one) and `POST /v1/events/batch` (up to 1,000).
//! A 2xx means every accepted event is committed. An event whose id was seen before in this
//! environment is a duplicate: acknowledged again, counted once. In a batch, each event is
//! accepted, a duplicate, or refused with its own error; the others are not held back.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::metering::ingest::{EventError, EventInput, MAX_BATCH, prepare};
use crate::tenancy::Permission;

/// What became of one event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventReceipt {
    #[schema(example = "req_8f14e45f")]
    pub id: String,
    /// `accepted` (new), or `duplicate` (its id was seen before; counted once).
    #[schema(example = "accepted")]
    pub status: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatchRequest {
    /// 1 to 1,000 events.
    #[schema(value_type = Vec<EventInput>, min_items = 1, max_items = 1000)]
    pub events: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventBatchResult {
    /// New events, committed.
    pub accepted: usize,
    /// Events whose id was seen before (or earlier in this batch).
    pub duplicates: usize,
    /// Events refused; see `errors`.
    pub rejected: usize,
    /// One per refused event, in request order.
    pub errors: Vec<EventError>,
}

fn status(new: bool) -> &'static str {
    if new { "accepted" } else { "duplicate" }
}

/// Send a usage event.
#[utoipa::path(
    post, path = "/v1/events", tag = "events", operation_id = "events_create",
    request_body = EventInput,
    responses(
        (status = 200, description = "Committed (accepted, or a duplicate)", body = EventReceipt),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, response = crate::openapi::Unprocessable),
    ),
    security(("api_key" = ["usage:write"]), ("session" = ["usage:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(event): Json<Value>,
) -> ApiResult<axum::Json<EventReceipt>> {
    caller.require(Permission::UsageWrite)?;
    let (ready, errors) = prepare(&state.db, &state.clock, &caller.scope, vec![event]).await?;
    if let Some(e) = errors.into_iter().next() {
        return Err(match e.code {
            "invalid_event" => {
                ApiError::validation(e.field.as_deref().unwrap_or("event"), e.detail)
            }
            code => ApiError::Unprocessable {
                code,
                detail: e.detail,
            },
        });
    }
    let id = ready.first().map(|e| e.row.id.clone()).unwrap_or_default();
    let fresh = state.ingest.write(caller.scope.clone(), ready).await?;
    Ok(axum::Json(EventReceipt {
        id,
        status: status(fresh.first().copied().unwrap_or(false)),
    }))
}

/// Send up to 1,000 usage events at once.
#[utoipa::path(
    post, path = "/v1/events/batch", tag = "events", operation_id = "events_batch",
    request_body = EventBatchRequest,
    responses(
        (status = 200, description = "Every event accepted, a duplicate or refused; the accepted are committed", body = EventBatchResult),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["usage:write"]), ("session" = ["usage:write"]))
)]
pub async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<EventBatchRequest>,
) -> ApiResult<(StatusCode, axum::Json<EventBatchResult>)> {
    caller.require(Permission::UsageWrite)?;
    if req.events.is_empty() || req.events.len() > MAX_BATCH {
        return Err(ApiError::validation(
            "events",
            format!("must hold 1 to {MAX_BATCH} events"),
        ));
    }
    let (ready, errors) = prepare(&state.db, &state.clock, &caller.scope, req.events).await?;
    let fresh = state.ingest.write(caller.scope.clone(), ready).await?;
    let accepted = fresh.iter().filter(|n| **n).count();
    Ok((
        StatusCode::OK,
        axum::Json(EventBatchResult {
            accepted,
            duplicates: fresh.len() - accepted,
            rejected: errors.len(),
            errors,
        }),
    ))
}

//! Webhook endpoints (`/v1/webhook_endpoints`) and events (`/v1/webhook_events`): where the tenant
//! wants events sent, what happened, each delivery attempt, and replays.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{ListParams, Page, fetch_limit, page_type};
use crate::tenancy::Permission;
use domain::clock::timestamp;
use domain::ids::{EventId, WebhookAttemptId, WebhookDeliveryId, WebhookEndpointId};
use domain::webhooks::views::{Event, WebhookEndpoint};
use domain::webhooks::{
    EndpointStatus, PREVIOUS_SECRET_GRACE_MS, check_description, check_filters, check_url,
    generate_secret, matches,
};
use store::webhooks::{self as db, AttemptRow, EndpointRow};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpointRequest {
    /// Where events are POSTed: https (http is accepted in the sandbox only).
    #[schema(example = "https://example.com/webhooks/neoforge")]
    pub url: String,
    #[schema(example = "Invoices to the ledger service")]
    pub description: Option<String>,
    /// Event types to send: exact types, prefixes like `invoice.*`, or `*` for all.
    #[schema(example = json!(["invoice.*", "customer.created"]), min_items = 1)]
    pub enabled_events: Vec<String>,
}

/// Create a webhook endpoint. The response is the only one (with rotate_secret's) that shows
/// the signing secret in full.
#[utoipa::path(
    post, path = "/v1/webhook_endpoints", tag = "webhooks", operation_id = "webhook_endpoints_create",
    request_body = CreateWebhookEndpointRequest,
    responses(
        (status = 201, description = "Created; the secret is shown in full this once", body = WebhookEndpoint),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["webhooks:write"]), ("session" = ["webhooks:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateWebhookEndpointRequest>,
) -> ApiResult<(StatusCode, axum::Json<WebhookEndpoint>)> {
    caller.require(Permission::WebhooksWrite)?;
    let now = state.clock.now_ms();
    let row = EndpointRow {
        id: WebhookEndpointId::generate().to_string(),
        url: check_url(&req.url, caller.scope.env)?,
        description: match req.description.as_deref() {
            Some(d) => check_description(d)?,
            None => None,
        },
        enabled_events: check_filters(&req.enabled_events)?.into(),
        secret: generate_secret(),
        previous_secret: None,
        previous_secret_expires_at: None,
        status: EndpointStatus::Enabled.into(),
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::insert_endpoint(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "webhook_endpoint.created",
        ("webhook_endpoint", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(row.shown(caller.scope.env, true)),
    ))
}

/// List webhook endpoints, newest first.
#[utoipa::path(
    get, path = "/v1/webhook_endpoints", tag = "webhooks", operation_id = "webhook_endpoints_list",
    params(ListParams),
    responses(
        (status = 200, description = "A page of webhook endpoints", body = WebhookEndpointPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["webhooks:read"]), ("session" = ["webhooks:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListParams>,
) -> ApiResult<axum::Json<WebhookEndpointPage>> {
    caller.require(Permission::WebhooksRead)?;
    let fetch = q.fetch()?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows =
        db::list_endpoints(&mut tx, &caller.scope, q.starting_after.as_deref(), fetch).await?;
    tx.end();
    let page = Page::new(
        rows,
        fetch,
        |r| r.id.clone(),
        |r| r.shown(caller.scope.env, false),
    );
    Ok(axum::Json(page.into()))
}

/// Get a webhook endpoint (its secret masked).
#[utoipa::path(
    get, path = "/v1/webhook_endpoints/{id}", tag = "webhooks", operation_id = "webhook_endpoints_get",
    params(("id" = WebhookEndpointId, Path)),
    responses(
        (status = 200, description = "The webhook endpoint", body = WebhookEndpoint),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["webhooks:read"]), ("session" = ["webhooks:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<WebhookEndpointId>,
) -> ApiResult<axum::Json<WebhookEndpoint>> {
    caller.require(Permission::WebhooksRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_endpoint(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("webhook_endpoint"))?;
    tx.end();
    Ok(axum::Json(row.shown(caller.scope.env, false)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpointRequest {
    #[schema(example = "https://example.com/webhooks/neoforge")]
    pub url: Option<String>,
    /// An empty string removes the description.
    #[schema(example = "Invoices to the ledger service")]
    pub description: Option<String>,
    #[schema(example = json!(["*"]))]
    pub enabled_events: Option<Vec<String>>,
    /// `enabled` re-enables an endpoint (also one disabled after failing); `disabled` stops
    /// deliveries to it.
    pub status: Option<EndpointStatus>,
}

/// Update a webhook endpoint: present fields replace the current ones. Setting `status` to
/// `enabled` re-enables an endpoint that was disabled.
#[utoipa::path(
    post, path = "/v1/webhook_endpoints/{id}", tag = "webhooks", operation_id = "webhook_endpoints_update",
    params(("id" = WebhookEndpointId, Path)),
    request_body = UpdateWebhookEndpointRequest,
    responses(
        (status = 200, description = "Updated", body = WebhookEndpoint),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["webhooks:write"]), ("session" = ["webhooks:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<WebhookEndpointId>,
    Json(req): Json<UpdateWebhookEndpointRequest>,
) -> ApiResult<axum::Json<WebhookEndpoint>> {
    caller.require(Permission::WebhooksWrite)?;
    let now = state.clock.now_ms();
    let url = req
        .url
        .as_deref()
        .map(|u| check_url(u, caller.scope.env))
        .transpose()?;
    let description = req
        .description
        .as_deref()
        .map(check_description)
        .transpose()?;
    let events = req
        .enabled_events
        .as_deref()
        .map(check_filters)
        .transpose()?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = db::lock_endpoint(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("webhook_endpoint"))?;
    if let Some(url) = url {
        row.url = url;
    }
    if let Some(d) = description {
        row.description = d; // "" clears it
    }
    if let Some(events) = events {
        row.enabled_events = events.into();
    }
    match req.status {
        Some(EndpointStatus::Enabled) if row.status != EndpointStatus::Enabled => {
            row.status = EndpointStatus::Enabled.into();
            row.disabled_reason = None;
            row.failing_since = None;
        }
        Some(EndpointStatus::Disabled) if row.status != EndpointStatus::Disabled => {
            row.status = EndpointStatus::Disabled.into();
            row.disabled_reason = Some("Disabled by request.".into());
        }
        _ => {}
    }
    row.updated_at = now;
    db::update_endpoint(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "webhook_endpoint.updated",
        ("webhook_endpoint", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(row.shown(caller.scope.env, false)))
}

/// Delete a webhook endpoint, with its delivery history. Pending deliveries to it are dropped.
#[utoipa::path(
    delete, path = "/v1/webhook_endpoints/{id}", tag = "webhooks", operation_id = "webhook_endpoints_delete",
    params(("id" = WebhookEndpointId, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["webhooks:write"]), ("session" = ["webhooks:write"]))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<WebhookEndpointId>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::WebhooksWrite)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    if !db::delete_endpoint(&mut tx, &caller.scope, id.as_str()).await? {
        return Err(ApiError::NotFound("webhook_endpoint"));
    }
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "webhook_endpoint.deleted",
        ("webhook_endpoint", id.as_str()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate the signing secret: the new one is shown in full this once. For 24 hours deliveries
/// carry a signature with the old secret too, so receivers can switch without losing any.
#[utoipa::path(
    post, path = "/v1/webhook_endpoints/{id}/rotate_secret", tag = "webhooks", operation_id = "webhook_endpoints_rotate_secret",
    params(("id" = WebhookEndpointId, Path)),
    responses(
        (status = 200, description = "Rotated; the new secret is shown in full this once", body = WebhookEndpoint),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["webhooks:write"]), ("session" = ["webhooks:write"]))
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<WebhookEndpointId>,
) -> ApiResult<axum::Json<WebhookEndpoint>> {
    caller.require(Permission::WebhooksWrite)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = db::lock_endpoint(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("webhook_endpoint"))?;
    let old = std::mem::replace(&mut row.secret, generate_secret());
    row.previous_secret = Some(old);
    row.previous_secret_expires_at = Some(now + PREVIOUS_SECRET_GRACE_MS);
    row.updated_at = now;
    db::update_endpoint(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "webhook_endpoint.secret_rotated",
        ("webhook_endpoint", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(row.shown(caller.scope.env, true)))
}

/// One HTTP request of a delivery, and what came of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttempt {
    pub id: WebhookAttemptId,
    pub event: EventId,
    pub endpoint: WebhookEndpointId,
    /// The delivery this attempt belongs to (a replay starts a new one).
    pub delivery: WebhookDeliveryId,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub attempted_at: i64,
    /// True when the endpoint answered 2xx.
    pub succeeded: bool,
    /// The HTTP status answered; null when there was no answer.
    #[schema(example = 500)]
    pub status_code: Option<i64>,
    /// Why the attempt failed (`HTTP 500`, a timeout, a connection error).
    #[schema(example = "HTTP 500")]
    pub error: Option<String>,
    #[schema(example = 132)]
    pub duration_ms: i64,
    /// The first KiB of the response body.
    #[schema(example = "ok")]
    pub response_body: Option<String>,
}

impl From<AttemptRow> for WebhookAttempt {
    fn from(r: AttemptRow) -> Self {
        WebhookAttempt {
            id: WebhookAttemptId::from_db(r.id),
            event: EventId::from_db(r.event_id),
            endpoint: WebhookEndpointId::from_db(r.endpoint_id),
            delivery: WebhookDeliveryId::from_db(r.delivery_id),
            attempted_at: r.attempted_at,
            succeeded: r.succeeded != 0,
            status_code: r.status_code,
            error: r.error,
            duration_ms: r.duration_ms,
            response_body: r.response_body,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttemptQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only attempts to deliver this event.
    #[param(value_type = Option<String>, example = "evt_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e")]
    pub event: Option<EventId>,
}

/// List the delivery attempts to a webhook endpoint, newest first.
#[utoipa::path(
    get, path = "/v1/webhook_endpoints/{id}/attempts", tag = "webhooks", operation_id = "webhook_endpoints_list_attempts",
    params(("id" = WebhookEndpointId, Path), AttemptQuery),
    responses(
        (status = 200, description = "A page of attempts", body = WebhookAttemptPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["webhooks:read"]), ("session" = ["webhooks:read"]))
)]
pub async fn list_attempts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<WebhookEndpointId>,
    Query(q): Query<AttemptQuery>,
) -> ApiResult<axum::Json<WebhookAttemptPage>> {
    caller.require(Permission::WebhooksRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    db::get_endpoint(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("webhook_endpoint"))?;
    let rows = db::list_attempts(
        &mut tx,
        &caller.scope,
        id.as_str(),
        q.event.as_ref().map(EventId::as_str),
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    Ok(axum::Json(
        Page::new(rows, fetch, |r| r.id.clone(), WebhookAttempt::from).into(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only events of this type.
    #[param(example = "invoice.paid")]
    pub r#type: Option<String>,
}

/// List events, newest first.
#[utoipa::path(
    get, path = "/v1/webhook_events", tag = "webhooks", operation_id = "webhook_events_list",
    params(EventQuery),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["webhooks:read"]), ("session" = ["webhooks:read"]))
)]
pub async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<EventQuery>,
) -> ApiResult<axum::Json<EventPage>> {
    caller.require(Permission::WebhooksRead)?;
    let fetch = fetch_limit(q.limit)?;
    if let Some(t) = &q.r#type
        && !super::EVENT_TYPES.contains(&t.as_str())
    {
        return Err(ApiError::validation("type", "unknown event type"));
    }
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_events(
        &mut tx,
        &caller.scope,
        q.r#type.as_deref(),
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), |r| r.shown(caller.scope.env));
    Ok(axum::Json(page.into()))
}

/// Get an event.
#[utoipa::path(
    get, path = "/v1/webhook_events/{id}", tag = "webhooks", operation_id = "webhook_events_get",
    params(("id" = EventId, Path)),
    responses(
        (status = 200, description = "The event", body = Event),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["webhooks:read"]), ("session" = ["webhooks:read"]))
)]
pub async fn get_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<EventId>,
) -> ApiResult<axum::Json<Event>> {
    caller.require(Permission::WebhooksRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_event(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    tx.end();
    Ok(axum::Json(row.shown(caller.scope.env)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayEventRequest {
    /// Send to this endpoint only (even if it does not subscribe to the event's type);
    /// default: every enabled endpoint that subscribes to it.
    pub endpoint: Option<WebhookEndpointId>,
}

/// The deliveries a replay scheduled.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayedEvent {
    pub event: EventId,
    /// The endpoints the event will be sent to again, at once.
    pub endpoints: Vec<WebhookEndpointId>,
}

/// Send an event again, now: to one endpoint, or to every enabled endpoint that subscribes
/// to it. Receivers see the same `webhook-id` as before.
#[utoipa::path(
    post, path = "/v1/webhook_events/{id}/replay", tag = "webhooks", operation_id = "webhook_events_replay",
    params(("id" = EventId, Path)),
    request_body = ReplayEventRequest,
    responses(
        (status = 202, description = "Deliveries scheduled", body = ReplayedEvent),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["webhooks:write"]), ("session" = ["webhooks:write"]))
)]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<EventId>,
    Json(req): Json<ReplayEventRequest>,
) -> ApiResult<(StatusCode, axum::Json<ReplayedEvent>)> {
    caller.require(Permission::WebhooksWrite)?;
    let now = state.clock.now_ms();
    let scope = &caller.scope;
    let mut tx = state.db.write_scoped(scope).await?;
    let event = db::get_event(&mut tx, scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    let endpoints = match &req.endpoint {
        Some(endpoint) => {
            let row = db::get_endpoint(&mut tx, scope, endpoint.as_str())
                .await?
                .ok_or(ApiError::NotFound("webhook_endpoint"))?;
            if row.status != EndpointStatus::Enabled {
                return Err(ApiError::conflict(
                    "endpoint_disabled",
                    "The endpoint is disabled: re-enable it first.",
                ));
            }
            vec![row.id]
        }
        None => {
            let mut ids = Vec::new();
            for (endpoint, filters) in db::enabled_endpoints(&mut tx, scope).await? {
                if matches(&filters, &event.event_type) {
                    ids.push(endpoint);
                }
            }
            ids
        }
    };
    let deliveries: Vec<db::NewDelivery> = endpoints
        .iter()
        .map(|endpoint| {
            (
                WebhookDeliveryId::generate(),
                event.id.clone(),
                endpoint.clone(),
            )
        })
        .collect();
    db::insert_deliveries(&mut tx, scope, &deliveries, now).await?;
    audit::record(
        &mut tx,
        scope,
        (&caller).into(),
        "event.replayed",
        ("event", &event.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ReplayedEvent {
            event: EventId::from_db(event.id),
            endpoints: endpoints
                .into_iter()
                .map(WebhookEndpointId::from_db)
                .collect(),
        }),
    ))
}

page_type!(WebhookEndpointPage, WebhookEndpoint);
page_type!(WebhookAttemptPage, WebhookAttempt);
page_type!(EventPage, Event);

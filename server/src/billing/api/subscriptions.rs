//! Subscriptions (`/v1/subscriptions`): create (optionally trialing), change items and
//! quantities with prorations, cancel now or at period end, pause and resume. See
//! `billing::subscriptions` for the state machine.

use axum::extract::State;
use axum::http::StatusCode;
use domain::billing::status::SubscriptionStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit::ActorRef;
use crate::billing::changes::{
    Change, CreateSubscriptionRequest, SubscriptionPreview, UpdateSubscriptionRequest, subscribe,
};
use crate::billing::collection;
use crate::billing::subscriptions::usage_lines;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::{Permission, Scope};
use domain::billing::views::{InvoiceLine, Subscription};
use domain::clock::timestamp;
use domain::ids::SubscriptionId;
use store::billing::{self as db, SubscriptionRow};

/// Subscribe a customer to prices. Without a trial the first period is invoiced and
/// collected at once: the subscription is `active` when that invoice is paid, else
/// `incomplete` until it is. A trial starts `trialing` with a paid 0.00 invoice.
#[utoipa::path(
    post, path = "/v1/subscriptions", tag = "subscriptions", operation_id = "subscriptions_create",
    request_body = CreateSubscriptionRequest,
    responses(
        (status = 201, description = "Created", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateSubscriptionRequest>,
) -> ApiResult<(StatusCode, axum::Json<Subscription>)> {
    caller.require(Permission::BillingWrite)?;
    let scope = &caller.scope;
    let actor: ActorRef = (&caller).into();
    let mut tx = state.db.write_scoped(scope).await?;
    let (sub, first) = subscribe(&mut tx, &state.clock, scope, &actor, &req).await?;
    tx.commit().await?;
    collection::process(&state, scope, &actor, &first.id, first.created_at, true).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(reread(&state, scope, &sub.id).await?),
    ))
}

async fn reread(state: &AppState, scope: &Scope, id: &str) -> ApiResult<Subscription> {
    let mut conn = state.db.read_scoped(scope).await?;
    let row = db::get_subscription(&mut conn, scope, id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    conn.end();
    Ok(Subscription::from(row))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only this customer's subscriptions.
    pub customer: Option<String>,
}

/// List subscriptions, newest first.
#[utoipa::path(
    get, path = "/v1/subscriptions", tag = "subscriptions", operation_id = "subscriptions_list",
    params(SubscriptionQuery),
    responses(
        (status = 200, description = "A page of subscriptions", body = SubscriptionPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SubscriptionQuery>,
) -> ApiResult<axum::Json<SubscriptionPage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_subscriptions(
        &mut tx,
        &caller.scope,
        q.customer.as_deref(),
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), Subscription::from);
    Ok(axum::Json(page.into()))
}

/// Get a subscription.
#[utoipa::path(
    get, path = "/v1/subscriptions/{id}", tag = "subscriptions", operation_id = "subscriptions_get",
    params(("id" = SubscriptionId, Path)),
    responses(
        (status = 200, description = "The subscription", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_subscription(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    tx.end();
    Ok(axum::Json(Subscription::from(row)))
}

/// A subscription's metered usage so far this period, as its next invoice would bill it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionUsage {
    pub subscription: SubscriptionId,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub period_start: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub period_end: i64,
    /// One line per metered item: the usage measured, the billed quantity and its amount.
    pub lines: Vec<InvoiceLine>,
}

/// Get a subscription's metered usage in the current period, priced.
#[utoipa::path(
    get, path = "/v1/subscriptions/{id}/usage", tag = "subscriptions", operation_id = "subscriptions_usage",
    params(("id" = SubscriptionId, Path)),
    responses(
        (status = 200, description = "The usage so far", body = SubscriptionUsage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
) -> ApiResult<axum::Json<SubscriptionUsage>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_subscription(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    let period = (row.current_period_start, row.current_period_end);
    let lines = usage_lines(&mut tx, &caller.scope, &row, period).await?;
    tx.end();
    Ok(axum::Json(SubscriptionUsage {
        subscription: id,
        period_start: period.0,
        period_end: period.1,
        lines: lines.into_iter().map(InvoiceLine::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelSubscriptionRequest {
    /// End with the current period instead of now (default false).
    #[serde(default)]
    pub at_period_end: bool,
}

/// Cancel now, or at the end of the current period.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/cancel", tag = "subscriptions", operation_id = "subscriptions_cancel",
    params(("id" = SubscriptionId, Path)),
    request_body = CancelSubscriptionRequest,
    responses(
        (status = 200, description = "Canceled or scheduled to cancel", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
    Json(req): Json<CancelSubscriptionRequest>,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingWrite)?;
    let mut c = Change::begin(&state, &caller.scope, id.as_str()).await?;
    let event = c.cancel(req.at_period_end, None);
    answer(
        c.commit(&state, &caller.scope, &(&caller).into(), event, None)
            .await,
    )
}

/// Resume: a paused subscription starts a new period now, invoiced and collected at once;
/// a subscription scheduled to cancel at period end goes on renewing.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/resume", tag = "subscriptions", operation_id = "subscriptions_resume",
    params(("id" = SubscriptionId, Path)),
    responses(
        (status = 200, description = "Resumed", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingWrite)?;
    let actor: ActorRef = (&caller).into();
    let mut c = Change::begin(&state, &caller.scope, id.as_str()).await?;
    let invoice = c.resume(&state, &caller.scope, &actor).await?;
    answer(
        c.commit(
            &state,
            &caller.scope,
            &actor,
            "subscription.resumed",
            invoice,
        )
        .await,
    )
}

/// Pause collection: no renewals and no invoices until resumed.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/pause", tag = "subscriptions", operation_id = "subscriptions_pause",
    params(("id" = SubscriptionId, Path)),
    responses(
        (status = 200, description = "Paused", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingWrite)?;
    let mut c = Change::begin(&state, &caller.scope, id.as_str()).await?;
    c.require_billing("pause")?;
    c.sub.status = SubscriptionStatus::Paused.into();
    let event = "subscription.paused";
    answer(
        c.commit(&state, &caller.scope, &(&caller).into(), event, None)
            .await,
    )
}

/// A changed subscription as the API shows it.
fn answer(row: ApiResult<SubscriptionRow>) -> ApiResult<axum::Json<Subscription>> {
    Ok(axum::Json(Subscription::from(row?)))
}

/// Change a subscription's items or quantities mid-period, with prorations.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}", tag = "subscriptions", operation_id = "subscriptions_update",
    params(("id" = SubscriptionId, Path)),
    request_body = UpdateSubscriptionRequest,
    responses(
        (status = 200, description = "Updated", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
    Json(req): Json<UpdateSubscriptionRequest>,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingWrite)?;
    let c = Change::begin(&state, &caller.scope, id.as_str()).await?;
    answer(
        c.apply(&state, &caller.scope, &(&caller).into(), &req)
            .await,
    )
}

/// Preview an update (the same body): the invoice it would make now and the next renewal's,
/// to the cent, without changing anything. Like Stripe's upcoming invoice.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/preview", tag = "subscriptions", operation_id = "subscriptions_preview",
    params(("id" = SubscriptionId, Path)),
    request_body = UpdateSubscriptionRequest,
    responses(
        (status = 200, description = "What the update would do", body = SubscriptionPreview),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
    Json(req): Json<UpdateSubscriptionRequest>,
) -> ApiResult<axum::Json<SubscriptionPreview>> {
    caller.require(Permission::BillingRead)?;
    let c = Change::begin(&state, &caller.scope, id.as_str()).await?;
    Ok(axum::Json(c.preview(&caller.scope, &req).await?))
}

page_type!(SubscriptionPage, Subscription);

//! `GET /v1/audit_events`.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::error::ApiResult;
use crate::http::extract::{self, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::Permission;
use domain::clock::timestamp;
use store::audit::{AuditFilter, AuditRow};

/// Something that changed, who changed it and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    #[schema(example = "aud_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e")]
    pub id: String,
    /// `user` or `api_key`.
    pub actor_type: String,
    pub actor_id: String,
    /// What happened, as `resource.verb` (`api_key.created`).
    #[schema(example = "api_key.created")]
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub request_id: String,
    pub ip: Option<String>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl From<AuditRow> for AuditEvent {
    fn from(r: AuditRow) -> Self {
        AuditEvent {
            id: r.id,
            actor_type: r.actor_type,
            actor_id: r.actor_id,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            request_id: r.request_id,
            ip: r.ip,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return events after this id.
    pub starting_after: Option<String>,
    /// Only this action (`api_key.revoked`).
    pub action: Option<String>,
    /// Only events by this user or key id.
    pub actor_id: Option<String>,
    /// Only events about this resource id.
    pub target_id: Option<String>,
    /// Only events at or after this time (RFC 3339).
    pub created_gte: Option<String>,
    /// Only events before this time (RFC 3339).
    pub created_lt: Option<String>,
}

/// List audit events of the caller's organization and environment, newest first.
#[utoipa::path(
    get, path = "/v1/audit_events", tag = "audit_events", operation_id = "audit_events_list",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of audit events", body = AuditEventPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["audit:read"]), ("session" = ["audit:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<AuditEventPage>> {
    caller.require(Permission::AuditRead)?;
    let fetch = fetch_limit(q.limit)?;
    let filter = AuditFilter {
        action: q.action.as_deref(),
        actor_id: q.actor_id.as_deref(),
        target_id: q.target_id.as_deref(),
        created_gte: extract::timestamp("created_gte", q.created_gte.as_deref())?,
        created_lt: extract::timestamp("created_lt", q.created_lt.as_deref())?,
    };
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = store::audit::list(
        &mut tx,
        &caller.scope,
        &filter,
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    Ok(axum::Json(
        Page::new(rows, fetch, |r| r.id.clone(), AuditEvent::from).into(),
    ))
}

page_type!(AuditEventPage, AuditEvent);

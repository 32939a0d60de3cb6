//! `/healthz` (the process answers) and `/readyz` (the database answers too).

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use crate::app::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(
    get, path = "/healthz", tag = "health", operation_id = "health_live",
    responses((status = 200, description = "Alive", body = Health)),
    security(())
)]
pub async fn live() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// Readiness: the database answers.
#[utoipa::path(
    get, path = "/readyz", tag = "health", operation_id = "health_ready",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database is unreachable", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn ready(State(state): State<AppState>) -> ApiResult<axum::Json<Health>> {
    state.db.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::Unavailable
    })?;
    Ok(axum::Json(Health { status: "ready" }))
}

//! Dashboard log-in (`POST /v1/sessions`) and log-out (`DELETE /v1/sessions/current`).

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::User;
use crate::app::AppState;
use crate::http::auth::SessionUser;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::tenancy::Email;
use crate::tenancy::session::{self, SessionToken};
use domain::ids::UserId;
use domain::secret;
use store::tenancy as db;

/// A 201 response with the session cookie set.
pub fn created_with_cookie(state: &AppState, token: &str, body: impl Serialize) -> Response {
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&session::cookie(state.session_ttl_ms, token)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "correct horse battery staple")]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub user: User,
    pub session: SessionToken,
}

/// Verifying against this when the email is unknown keeps both paths equally slow.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| secret::hash_password("not a real password").unwrap_or_default());

/// Log in with email and password.
#[utoipa::path(
    post, path = "/v1/sessions", tag = "sessions", operation_id = "sessions_create",
    request_body = LoginRequest,
    responses(
        (status = 201, description = "Logged in; also sets the `nf_session` cookie", body = LoginResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    ),
    security(())
)]
pub async fn create(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Response> {
    let email = Email::parse("email", &req.email)?;
    crate::identity::check_password_allowed(&state.db, email.as_str()).await?;
    let user = db::find_user_by_email(state.db.reader(), email.as_str()).await?;
    let phc = user
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || secret::verify_password(&req.password, &phc))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let user = user.filter(|_| ok).ok_or(ApiError::InvalidCredentials)?;
    let mut tx = state.db.write().await?;
    let session = session::start(
        &mut tx,
        &state.clock,
        state.session_ttl_ms,
        &UserId::from_db(user.id.clone()),
        None,
    )
    .await?;
    tx.commit().await?;
    let token = session.token.clone();
    Ok(created_with_cookie(
        &state,
        &token,
        LoginResponse {
            user: user.into(),
            session,
        },
    ))
}

/// Log out: the session token stops working and the cookie is cleared.
#[utoipa::path(
    delete, path = "/v1/sessions/current", tag = "sessions", operation_id = "sessions_delete",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, response = crate::openapi::Unauthorized),
    ),
    security(("session" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    user: SessionUser,
) -> ApiResult<(StatusCode, HeaderMap)> {
    db::revoke_session(
        state.db.writer(),
        user.session_id.as_str(),
        state.clock.now_ms(),
    )
    .await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_static("nf_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok((StatusCode::NO_CONTENT, headers))
}

//! Sign-up (`POST /v1/users`) and the signed-in user (`GET /v1/users/me`).

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::organizations::{self, Organization};
use super::sessions;
use crate::app::AppState;
use crate::http::auth::{ClientIp, SessionUser};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::tenancy::session::{self, SessionToken};
use crate::tenancy::{Email, check_name, check_password};
use domain::clock::timestamp;
use domain::ids::UserId;
use store::is_unique_violation;
use store::tenancy::{self as db, UserRow};

/// A person with a dashboard login.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId::from_db(r.id),
            email: r.email,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Normalised to lower case.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 10 to 256 characters.
    #[schema(
        example = "correct horse battery staple",
        min_length = 10,
        max_length = 256
    )]
    pub password: String,
    /// Name of the first organization (default: "<email>'s organization").
    #[schema(example = "Acme Inc.")]
    pub organization_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupResponse {
    pub user: User,
    /// The new organization; the user is its owner.
    pub organization: Organization,
    pub session: SessionToken,
}

/// Sign up: creates the user, their first organization and a session.
#[utoipa::path(
    post, path = "/v1/users", tag = "users", operation_id = "users_create",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Signed up; also sets the `nf_session` cookie", body = SignupResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(())
)]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<SignupRequest>,
) -> ApiResult<Response> {
    let email = Email::parse("email", &req.email)?;
    crate::identity::check_password_allowed(&state.db, email.as_str()).await?;
    check_password(&req.password, &email)?;
    let org_name = match &req.organization_name {
        Some(name) => check_name("organization_name", name)?,
        None => format!("{}'s organization", email.as_str()),
    };
    let password = req.password;
    let password_hash =
        tokio::task::spawn_blocking(move || domain::secret::hash_password(&password))
            .await
            .map_err(|e| ApiError::Internal(e.into()))??;

    let now = state.clock.now_ms();
    let user = UserRow {
        id: UserId::generate().to_string(),
        email: email.as_str().to_owned(),
        password_hash,
        created_at: now,
    };
    let user_id = UserId::from_db(user.id.clone());
    let mut tx = state.db.write().await?;
    if let Err(e) = db::insert_user(&mut tx, &user).await {
        return Err(if is_unique_violation(&e) {
            ApiError::conflict(
                "email_taken",
                "An account with this email already exists; log in instead.",
            )
        } else {
            e.into()
        });
    }
    let organization =
        organizations::found(&mut tx, &user_id, org_name, ip.as_deref(), now).await?;
    let session =
        session::start(&mut tx, &state.clock, state.session_ttl_ms, &user_id, None).await?;
    tx.commit().await?;
    let token = session.token.clone();
    Ok(sessions::created_with_cookie(
        &state,
        &token,
        SignupResponse {
            user: user.into(),
            organization,
            session,
        },
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    /// Organizations the user belongs to, with their role in each.
    pub organizations: Vec<Organization>,
}

/// The signed-in user and their organizations.
#[utoipa::path(
    get, path = "/v1/users/me", tag = "users", operation_id = "users_me",
    responses(
        (status = 200, description = "The signed-in user", body = Me),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("session" = []))
)]
pub async fn me(State(state): State<AppState>, session: SessionUser) -> ApiResult<axum::Json<Me>> {
    let user = db::find_user(state.db.reader(), &session.user_id)
        .await?
        .ok_or(ApiError::InvalidSession)?;
    let organizations = db::list_user_orgs(state.db.reader(), &session.user_id).await?;
    Ok(axum::Json(Me {
        user: user.into(),
        organizations: organizations.into_iter().map(Organization::from).collect(),
    }))
}

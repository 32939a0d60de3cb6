//! Invitations (`/v1/invitations`): create (the token is shown once), list, get, revoke, and
//! accept from the invitee's session. Pending invitations expire.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::organizations::Organization;
use crate::app::AppState;
use crate::audit::{self, ActorRef};
use crate::http::auth::{Caller, SessionUser};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{ListParams, Page, page_type};
use crate::tenancy::grants::{check_grantable, permissions_of};
use crate::tenancy::{Email, Env, Permission, Scope};
use domain::clock::timestamp;
use domain::ids::{InvitationId, OrgId};
use domain::secret;
use store::tenancy::{self as db, InvitationRow};

const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    pub id: InvitationId,
    #[schema(example = "grace@example.com")]
    pub email: String,
    #[schema(example = "developer")]
    pub role: String,
    pub status: InvitationStatus,
    pub invited_by: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: i64,
}

fn status_of(r: &InvitationRow, now: i64) -> InvitationStatus {
    if r.accepted_at.is_some() {
        InvitationStatus::Accepted
    } else if r.revoked_at.is_some() {
        InvitationStatus::Revoked
    } else if r.expires_at <= now {
        InvitationStatus::Expired
    } else {
        InvitationStatus::Pending
    }
}

impl Invitation {
    fn from_row(r: InvitationRow, now: i64) -> Self {
        Invitation {
            status: status_of(&r, now),
            id: InvitationId::from_db(r.id),
            email: r.email,
            role: r.role,
            invited_by: r.invited_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    #[schema(example = "grace@example.com")]
    pub email: String,
    /// A built-in role name or a custom role id.
    #[schema(example = "developer")]
    pub role: String,
    /// Days until the invitation expires, 1 to 30 (default 7).
    #[schema(minimum = 1, maximum = 30)]
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
    /// Give this to the invitee; it is shown only once.
    #[schema(example = "nf_inv_4eC39HqLyjWDarjtT1zdp7dc4eC39HqL")]
    pub token: String,
}

/// Invite someone by email with a role.
#[utoipa::path(
    post, path = "/v1/invitations", tag = "invitations", operation_id = "invitations_create",
    request_body = CreateInvitationRequest,
    responses(
        (status = 201, description = "Created; the token is shown once", body = CreatedInvitation),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["members:write"]), ("session" = ["members:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateInvitationRequest>,
) -> ApiResult<(StatusCode, axum::Json<CreatedInvitation>)> {
    caller.require(Permission::MembersWrite)?;
    let email = Email::parse("email", &req.email)?;
    let days = req.expires_in_days.unwrap_or(7);
    if !(1..=30).contains(&days) {
        return Err(ApiError::validation(
            "expires_in_days",
            "must be between 1 and 30",
        ));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let permissions = permissions_of(&mut tx, &caller.scope, "role", &req.role).await?;
    check_grantable(&caller, &req.role, &permissions)?;
    let token = secret::generate_token("nf_inv_");
    let row = InvitationRow {
        id: InvitationId::generate().to_string(),
        tenant_id: caller.scope.org_id.to_string(),
        email: email.as_str().to_owned(),
        role: req.role,
        invited_by: caller.user_id.to_string(),
        created_at: now,
        expires_at: now + days * DAY_MS,
        accepted_at: None,
        revoked_at: None,
    };
    db::insert_invitation(&mut tx, &row, &token).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "invitation.created",
        ("invitation", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedInvitation {
            invitation: Invitation::from_row(row, now),
            token,
        }),
    ))
}

/// List invitations, newest first.
#[utoipa::path(
    get, path = "/v1/invitations", tag = "invitations", operation_id = "invitations_list",
    params(ListParams),
    responses(
        (status = 200, description = "A page of invitations", body = InvitationPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["members:read"]), ("session" = ["members:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListParams>,
) -> ApiResult<axum::Json<InvitationPage>> {
    caller.require(Permission::MembersRead)?;
    let fetch = q.fetch()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows =
        db::list_invitations(&mut tx, &caller.scope, q.starting_after.as_deref(), fetch).await?;
    tx.end();
    Ok(axum::Json(
        Page::new(
            rows,
            fetch,
            |r| r.id.clone(),
            |r| Invitation::from_row(r, now),
        )
        .into(),
    ))
}

/// Get an invitation.
#[utoipa::path(
    get, path = "/v1/invitations/{id}", tag = "invitations", operation_id = "invitations_get",
    params(("id" = InvitationId, Path)),
    responses(
        (status = 200, description = "The invitation", body = Invitation),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["members:read"]), ("session" = ["members:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InvitationId>,
) -> ApiResult<axum::Json<Invitation>> {
    caller.require(Permission::MembersRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_invitation(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("invitation"))?;
    tx.end();
    Ok(axum::Json(Invitation::from_row(row, state.clock.now_ms())))
}

/// Revoke a pending invitation.
#[utoipa::path(
    post, path = "/v1/invitations/{id}/revoke", tag = "invitations", operation_id = "invitations_revoke",
    params(("id" = InvitationId, Path)),
    responses(
        (status = 200, description = "Revoked", body = Invitation),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["members:write"]), ("session" = ["members:write"]))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InvitationId>,
) -> ApiResult<axum::Json<Invitation>> {
    caller.require(Permission::MembersWrite)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::get_invitation(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("invitation"))?;
    if !db::close_invitation(
        &mut tx,
        caller.scope.org_id.as_str(),
        id.as_str(),
        false,
        now,
    )
    .await?
    {
        return Err(ApiError::conflict(
            "invitation_closed",
            "The invitation was already accepted or revoked.",
        ));
    }
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "invitation.revoked",
        ("invitation", id.as_str()),
        now,
    )
    .await?;
    let row = db::get_invitation(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("invitation"))?;
    tx.commit().await?;
    Ok(axum::Json(Invitation::from_row(row, now)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the invitation.
    pub token: String,
}

/// Accept an invitation as the signed-in user, whose email must match it.
#[utoipa::path(
    post, path = "/v1/invitations/accept", tag = "invitations", operation_id = "invitations_accept",
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, description = "Joined the organization", body = Organization),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("session" = []))
)]
pub async fn accept(
    State(state): State<AppState>,
    user: SessionUser,
    Json(req): Json<AcceptInvitationRequest>,
) -> ApiResult<axum::Json<Organization>> {
    let now = state.clock.now_ms();
    let mut tx = state.db.write().await?;
    let inv = db::find_invitation_by_token(&mut tx, &req.token)
        .await?
        .ok_or(ApiError::NotFound("invitation"))?;
    if inv.email != user.email {
        return Err(ApiError::forbidden(
            "This invitation is for another email address.",
        ));
    }
    match status_of(&inv, now) {
        InvitationStatus::Pending => {}
        InvitationStatus::Expired => {
            return Err(ApiError::conflict(
                "invitation_expired",
                "The invitation has expired; ask for a new one.",
            ));
        }
        _ => {
            return Err(ApiError::conflict(
                "invitation_closed",
                "The invitation was already accepted or revoked.",
            ));
        }
    }
    let org_id = OrgId::from_db(inv.tenant_id.clone());
    match db::membership_state(&mut tx, &org_id, &user.user_id).await? {
        None => {}
        Some((_, None)) => {
            return Err(ApiError::conflict(
                "already_member",
                "You are already a member of this organization.",
            ));
        }
        // Only the organization's directory (SCIM) can give a suspended member access again.
        Some((_, Some(_))) => {
            return Err(ApiError::conflict(
                "membership_suspended",
                "Your membership of this organization is suspended by its directory.",
            ));
        }
    }
    if !db::close_invitation(&mut tx, &inv.tenant_id, &inv.id, true, now).await? {
        return Err(ApiError::conflict(
            "invitation_closed",
            "The invitation was already accepted or revoked.",
        ));
    }
    db::insert_membership(&mut tx, &org_id, &user.user_id, &inv.role, now).await?;
    let scope = Scope {
        org_id: org_id.clone(),
        env: Env::Test,
    };
    let actor = ActorRef {
        kind: "user",
        id: user.user_id.as_str(),
        ip: user.ip.as_deref(),
    };
    audit::record(
        &mut tx,
        &scope,
        actor,
        "invitation.accepted",
        ("invitation", &inv.id),
        now,
    )
    .await?;
    let org = db::get_org(&mut tx, &scope, &user.user_id)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;
    tx.commit().await?;
    Ok(axum::Json(org.into()))
}

page_type!(InvitationPage, Invitation);

//! Organizations: create another (`POST /v1/organizations`), read and rename the current one,
//! transfer ownership.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit::{self, ActorRef};
use crate::http::auth::{Caller, SessionUser};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::tenancy::{Env, Permission, Scope, check_name};
use domain::clock::timestamp;
use domain::ids::{OrgId, UserId};
use store::Tx;
use store::tenancy::{self as db, OrgRow};

/// An organization (tenant), with the caller's role in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Organization {
    pub id: OrgId,
    #[schema(example = "Acme Inc.")]
    pub name: String,
    /// The caller's role: a built-in role name or a custom role id.
    #[schema(example = "owner")]
    pub role: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl From<OrgRow> for Organization {
    fn from(r: OrgRow) -> Self {
        Organization {
            id: OrgId::from_db(r.id),
            name: r.name,
            role: r.role,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationRequest {
    #[schema(example = "Acme Inc.")]
    pub name: String,
}

/// Create an organization; the signed-in user becomes its owner.
#[utoipa::path(
    post, path = "/v1/organizations", tag = "organizations", operation_id = "organizations_create",
    request_body = OrganizationRequest,
    responses(
        (status = 201, description = "Created", body = Organization),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("session" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    user: SessionUser,
    Json(req): Json<OrganizationRequest>,
) -> ApiResult<(StatusCode, axum::Json<Organization>)> {
    let name = check_name("name", &req.name)?;
    let mut tx = state.db.write().await?;
    let org = found(
        &mut tx,
        &user.user_id,
        name,
        user.ip.as_deref(),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(org)))
}

/// Creates an organization owned by `owner` inside `tx`, with its audit event (recorded in
/// the sandbox, where a new organization starts).
pub async fn found(
    tx: &mut Tx,
    owner: &UserId,
    name: String,
    ip: Option<&str>,
    now: i64,
) -> ApiResult<Organization> {
    let org_id = OrgId::generate();
    db::insert_org(tx, &org_id, &name, now).await?;
    db::insert_membership(tx, &org_id, owner, "owner", now).await?;
    let scope = Scope {
        org_id: org_id.clone(),
        env: Env::Test,
    };
    let actor = ActorRef {
        kind: "user",
        id: owner.as_str(),
        ip,
    };
    audit::record(
        tx,
        &scope,
        actor,
        "organization.created",
        ("organization", org_id.as_str()),
        now,
    )
    .await?;
    Ok(Organization {
        id: org_id,
        name,
        role: "owner".into(),
        created_at: now,
    })
}

/// The caller's current organization.
#[utoipa::path(
    get, path = "/v1/organization", tag = "organizations", operation_id = "organizations_get_current",
    responses(
        (status = 200, description = "The organization", body = Organization),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["organization:read"]), ("session" = ["organization:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Organization>> {
    caller.require(Permission::OrganizationRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let org = db::get_org(&mut tx, &caller.scope, &caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;
    tx.end();
    Ok(axum::Json(org.into()))
}

/// Rename the current organization.
#[utoipa::path(
    post, path = "/v1/organization", tag = "organizations", operation_id = "organizations_update_current",
    request_body = OrganizationRequest,
    responses(
        (status = 200, description = "Updated", body = Organization),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["organization:write"]), ("session" = ["organization:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<OrganizationRequest>,
) -> ApiResult<axum::Json<Organization>> {
    caller.require(Permission::OrganizationWrite)?;
    let name = check_name("name", &req.name)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::rename_org(&mut tx, &caller.scope, &name).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "organization.updated",
        ("organization", caller.scope.org_id.as_str()),
        now,
    )
    .await?;
    let org = db::get_org(&mut tx, &caller.scope, &caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;
    tx.commit().await?;
    Ok(axum::Json(org.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferOwnershipRequest {
    /// The member who becomes owner; the caller becomes admin.
    pub user_id: UserId,
}

/// Transfer ownership to another member. Only an owner may; the caller becomes admin.
#[utoipa::path(
    post, path = "/v1/organization/transfer_ownership", tag = "organizations",
    operation_id = "organizations_transfer_ownership",
    request_body = TransferOwnershipRequest,
    responses(
        (status = 200, description = "Transferred", body = Organization),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["members:write"]), ("session" = ["members:write"]))
)]
pub async fn transfer_ownership(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<TransferOwnershipRequest>,
) -> ApiResult<axum::Json<Organization>> {
    caller.require(Permission::MembersWrite)?;
    if !caller.is_owner() {
        return Err(ApiError::forbidden("Only an owner can transfer ownership."));
    }
    if req.user_id == caller.user_id {
        return Err(ApiError::validation("user_id", "is already an owner"));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::get_member(&mut tx, &caller.scope, &req.user_id)
        .await?
        .ok_or(ApiError::NotFound("member"))?;
    db::set_member_role(&mut tx, &caller.scope, &req.user_id, "owner").await?;
    db::set_member_role(&mut tx, &caller.scope, &caller.user_id, "admin").await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "organization.ownership_transferred",
        ("user", req.user_id.as_str()),
        now,
    )
    .await?;
    let org = db::get_org(&mut tx, &caller.scope, &caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;
    tx.commit().await?;
    state.keys.invalidate();
    Ok(axum::Json(org.into()))
}

//! Members of the current organization (`/v1/members`). The last owner can neither leave nor
//! be demoted or removed.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{ListParams, Page, page_type};
use crate::tenancy::grants::{check_grantable, permissions_of};
use crate::tenancy::{Permission, Scope};
use domain::clock::timestamp;
use domain::ids::UserId;
use store::Tx;
use store::tenancy::{self as db, MemberRow};

#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub user_id: UserId,
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// A built-in role name or a custom role id.
    #[schema(example = "developer")]
    pub role: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Self {
        Member {
            user_id: UserId::from_db(r.user_id),
            email: r.email,
            role: r.role,
            created_at: r.created_at,
        }
    }
}

/// List members, newest first.
#[utoipa::path(
    get, path = "/v1/members", tag = "members", operation_id = "members_list",
    params(ListParams),
    responses(
        (status = 200, description = "A page of members", body = MemberPage),
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
) -> ApiResult<axum::Json<MemberPage>> {
    caller.require(Permission::MembersRead)?;
    let fetch = q.fetch()?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_members(&mut tx, &caller.scope, q.starting_after.as_deref(), fetch).await?;
    tx.end();
    Ok(axum::Json(
        Page::new(rows, fetch, |r| r.user_id.clone(), Member::from).into(),
    ))
}

/// Get a member by user id.
#[utoipa::path(
    get, path = "/v1/members/{user_id}", tag = "members", operation_id = "members_get",
    params(("user_id" = UserId, Path)),
    responses(
        (status = 200, description = "The member", body = Member),
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
    Path(user_id): Path<UserId>,
) -> ApiResult<axum::Json<Member>> {
    caller.require(Permission::MembersRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_member(&mut tx, &caller.scope, &user_id)
        .await?
        .ok_or(ApiError::NotFound("member"))?;
    tx.end();
    Ok(axum::Json(row.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    /// A built-in role name or a custom role id.
    #[schema(example = "admin")]
    pub role: String,
}

fn only_owners_touch_owners(caller: &Caller, member: &MemberRow) -> ApiResult<()> {
    if member.role == "owner" && !caller.is_owner() {
        return Err(ApiError::forbidden(
            "Only an owner can change or remove an owner.",
        ));
    }
    Ok(())
}

/// Refuses changes that would leave the organization without an owner.
async fn keep_an_owner(tx: &mut Tx, scope: &Scope, member: &MemberRow) -> ApiResult<()> {
    if member.role == "owner" && db::count_owners(tx, scope).await? <= 1 {
        return Err(ApiError::conflict(
            "last_owner",
            "The last owner cannot leave or be demoted; transfer ownership first.",
        ));
    }
    Ok(())
}

/// Change a member's role.
#[utoipa::path(
    post, path = "/v1/members/{user_id}", tag = "members", operation_id = "members_update",
    params(("user_id" = UserId, Path)),
    request_body = UpdateMemberRequest,
    responses(
        (status = 200, description = "Updated", body = Member),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["members:write"]), ("session" = ["members:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<UserId>,
    Json(req): Json<UpdateMemberRequest>,
) -> ApiResult<axum::Json<Member>> {
    caller.require(Permission::MembersWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut member = db::get_member(&mut tx, &caller.scope, &user_id)
        .await?
        .ok_or(ApiError::NotFound("member"))?;
    let permissions = permissions_of(&mut tx, &caller.scope, "role", &req.role).await?;
    check_grantable(&caller, &req.role, &permissions)?;
    only_owners_touch_owners(&caller, &member)?;
    if req.role != "owner" {
        keep_an_owner(&mut tx, &caller.scope, &member).await?;
    }
    db::set_member_role(&mut tx, &caller.scope, &user_id, &req.role).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "member.updated",
        ("user", user_id.as_str()),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    state.keys.invalidate();
    member.role = req.role;
    Ok(axum::Json(member.into()))
}

/// Remove a member, or leave (your own user id). Their API keys in this organization stop
/// working with the membership.
#[utoipa::path(
    delete, path = "/v1/members/{user_id}", tag = "members", operation_id = "members_delete",
    params(("user_id" = UserId, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["members:write"]), ("session" = ["members:write"]))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<UserId>,
) -> ApiResult<StatusCode> {
    let leaving = user_id == caller.user_id;
    if !leaving {
        caller.require(Permission::MembersWrite)?;
    }
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let member = db::get_member(&mut tx, &caller.scope, &user_id)
        .await?
        .ok_or(ApiError::NotFound("member"))?;
    only_owners_touch_owners(&caller, &member)?;
    keep_an_owner(&mut tx, &caller.scope, &member).await?;
    db::delete_member(&mut tx, &caller.scope, &user_id).await?;
    let action = if leaving {
        "member.left"
    } else {
        "member.removed"
    };
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        action,
        ("user", user_id.as_str()),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    state.keys.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

page_type!(MemberPage, Member);

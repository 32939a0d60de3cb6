//! Roles: the built-in ones and custom named permission sets (`/v1/roles`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::tenancy::grants::check_grantable;
use crate::tenancy::{
    BUILTIN_ROLES, Permission, PermissionSet, builtin_permissions, check_name, decode_permissions,
    encode_permissions,
};
use domain::clock::timestamp;
use domain::ids::RoleId;
use store::is_unique_violation;
use store::tenancy::{self as db, RoleRow};

/// A role: built-in (`id` is its name) or custom (`id` is `role_…`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Role {
    #[schema(example = "developer")]
    pub id: String,
    #[schema(example = "developer")]
    pub name: String,
    pub description: String,
    pub permissions: Vec<Permission>,
    pub builtin: bool,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<i64>,
}

impl From<RoleRow> for Role {
    fn from(r: RoleRow) -> Self {
        Role {
            permissions: decode_permissions(&r.permissions).into_iter().collect(),
            id: r.id,
            name: r.name,
            description: r.description,
            builtin: false,
            created_at: Some(r.created_at),
        }
    }
}

fn builtin_roles() -> impl Iterator<Item = Role> {
    BUILTIN_ROLES.iter().map(|(name, description)| Role {
        id: (*name).to_owned(),
        name: (*name).to_owned(),
        description: (*description).to_owned(),
        permissions: builtin_permissions(name)
            .unwrap_or_default()
            .into_iter()
            .collect(),
        builtin: true,
        created_at: None,
    })
}

fn parse_permissions(raw: &[String]) -> ApiResult<PermissionSet> {
    raw.iter()
        .enumerate()
        .map(|(i, p)| {
            Permission::parse(p).ok_or_else(|| {
                ApiError::validation(
                    &format!("permissions[{i}]"),
                    format!("unknown permission `{p}`"),
                )
            })
        })
        .collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    #[schema(example = "support")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[schema(example = json!(["members:read", "audit:read"]))]
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
}

fn check_role_name(name: &str) -> ApiResult<String> {
    let name = check_name("name", name)?;
    if builtin_permissions(&name).is_some() {
        return Err(ApiError::validation(
            "name",
            "is the name of a built-in role",
        ));
    }
    Ok(name)
}

fn custom_role_id(id: &str) -> ApiResult<RoleId> {
    if builtin_permissions(id).is_some() {
        return Err(ApiError::forbidden("Built-in roles cannot be changed."));
    }
    RoleId::parse(id).ok_or(ApiError::NotFound("role"))
}

/// List built-in and custom roles.
#[utoipa::path(
    get, path = "/v1/roles", tag = "roles", operation_id = "roles_list",
    responses(
        (status = 200, description = "Built-in roles first, then custom roles", body = Vec<Role>),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["roles:read"]), ("session" = ["roles:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Vec<Role>>> {
    caller.require(Permission::RolesRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let custom = db::list_roles(&mut tx, &caller.scope).await?;
    tx.end();
    Ok(axum::Json(
        builtin_roles()
            .chain(custom.into_iter().map(Role::from))
            .collect(),
    ))
}

/// Get a role by id (a built-in name or `role_…`).
#[utoipa::path(
    get, path = "/v1/roles/{id}", tag = "roles", operation_id = "roles_get",
    params(("id" = String, Path, description = "Built-in role name or custom role id")),
    responses(
        (status = 200, description = "The role", body = Role),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["roles:read"]), ("session" = ["roles:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Role>> {
    caller.require(Permission::RolesRead)?;
    if let Some(role) = builtin_roles().find(|r| r.id == id) {
        return Ok(axum::Json(role));
    }
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_role(&mut tx, &caller.scope, &id)
        .await?
        .ok_or(ApiError::NotFound("role"))?;
    tx.end();
    Ok(axum::Json(row.into()))
}

/// Create a custom role.
#[utoipa::path(
    post, path = "/v1/roles", tag = "roles", operation_id = "roles_create",
    request_body = CreateRoleRequest,
    responses(
        (status = 201, description = "Created", body = Role),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["roles:write"]), ("session" = ["roles:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateRoleRequest>,
) -> ApiResult<(StatusCode, axum::Json<Role>)> {
    caller.require(Permission::RolesWrite)?;
    let name = check_role_name(&req.name)?;
    let permissions = parse_permissions(&req.permissions)?;
    check_grantable(&caller, &name, &permissions)?;
    let now = state.clock.now_ms();
    let row = RoleRow {
        id: RoleId::generate().to_string(),
        name,
        description: req.description,
        permissions: encode_permissions(&permissions),
        created_at: now,
    };
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::insert_role(&mut tx, &caller.scope, &row)
        .await
        .map_err(name_taken)?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "role.created",
        ("role", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

fn name_taken(e: sqlx::Error) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::conflict("role_name_taken", "A role with this name already exists.")
    } else {
        e.into()
    }
}

/// Update a custom role; members holding it get the new permissions at once.
#[utoipa::path(
    post, path = "/v1/roles/{id}", tag = "roles", operation_id = "roles_update",
    params(("id" = String, Path, description = "Custom role id")),
    request_body = UpdateRoleRequest,
    responses(
        (status = 200, description = "Updated", body = Role),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["roles:write"]), ("session" = ["roles:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(req): Json<UpdateRoleRequest>,
) -> ApiResult<axum::Json<Role>> {
    caller.require(Permission::RolesWrite)?;
    let id = custom_role_id(&id)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = db::get_role(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("role"))?;
    if let Some(name) = &req.name {
        row.name = check_role_name(name)?;
    }
    if let Some(description) = req.description {
        row.description = description;
    }
    if let Some(raw) = &req.permissions {
        let permissions = parse_permissions(raw)?;
        check_grantable(&caller, &row.name, &permissions)?;
        row.permissions = encode_permissions(&permissions);
    }
    db::update_role(&mut tx, &caller.scope, &row)
        .await
        .map_err(name_taken)?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "role.updated",
        ("role", &row.id),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    state.keys.invalidate();
    Ok(axum::Json(row.into()))
}

/// Delete a custom role that no member or pending invitation holds.
#[utoipa::path(
    delete, path = "/v1/roles/{id}", tag = "roles", operation_id = "roles_delete",
    params(("id" = String, Path, description = "Custom role id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["roles:write"]), ("session" = ["roles:write"]))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::RolesWrite)?;
    let id = custom_role_id(&id)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::get_role(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("role"))?;
    if db::role_in_use(&mut tx, &caller.scope, id.as_str(), now).await? {
        return Err(ApiError::conflict(
            "role_in_use",
            "Members or pending invitations hold this role; reassign them first.",
        ));
    }
    db::delete_role(&mut tx, &caller.scope, id.as_str()).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "role.deleted",
        ("role", id.as_str()),
        now,
    )
    .await?;
    tx.commit().await?;
    state.keys.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

//! API keys (`/v1/api_keys`). A key lives in the caller's environment: a session picks it with
//! `NeoForge-Environment`, a key can only make keys of its own environment. The secret is
//! returned once, by create and roll; only its hash and a display prefix are stored.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{self, Json, Path, Query};
use crate::http::pagination::{ListParams, Page, page_type};
use crate::tenancy::{Env, Permission, PermissionSet, encode_permissions};
use domain::clock::timestamp;
use domain::ids::{ApiKeyId, UserId};
use domain::secret;
use store::tenancy::{self as db, ApiKeyRow, scopes_of};

/// Characters of the secret kept for display (`nf_test_AbCd`).
const PREFIX_LEN: usize = 12;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    #[schema(example = "CI deploys")]
    pub name: String,
    pub env: Env,
    /// The start of the secret, for recognising the key.
    #[schema(example = "nf_test_4eC3")]
    pub prefix: String,
    /// What the key may do, within its creator's role.
    pub scopes: Vec<Permission>,
    pub created_by: UserId,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<i64>,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<i64>,
    /// Updated at most once a minute.
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<i64>,
}

impl ApiKey {
    fn from_row(r: ApiKeyRow, env: Env) -> Self {
        ApiKey {
            scopes: scopes_of(&r),
            id: ApiKeyId::from_db(r.id),
            name: r.name,
            env,
            prefix: r.prefix,
            created_by: UserId::from_db(r.created_by),
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// A key with its secret, returned only by create and roll.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyWithSecret {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The full secret. Store it now: it is never shown again.
    #[schema(example = "nf_test_4eC39HqLyjWDarjtT1zdp7dc4eC39HqL")]
    pub secret: String,
}

fn new_secret(env: Env) -> (String, String) {
    let secret = secret::generate_token(&format!("nf_{}_", env.as_str()));
    let prefix = secret[..PREFIX_LEN].to_owned();
    (secret, prefix)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    #[schema(example = "CI deploys")]
    pub name: String,
    /// Permissions the key may use (default: all of the creator's). Never more than the
    /// creator holds.
    #[schema(example = json!(["api_keys:read", "audit:read"]))]
    pub scopes: Option<Vec<String>>,
    /// When the key stops working (RFC 3339, in the future).
    #[schema(example = "2027-01-01T00:00:00Z")]
    pub expires_at: Option<String>,
}

/// Create an API key in the caller's environment.
#[utoipa::path(
    post, path = "/v1/api_keys", tag = "api_keys", operation_id = "api_keys_create",
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "Created; the secret is shown once", body = ApiKeyWithSecret),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["api_keys:write"]), ("session" = ["api_keys:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, axum::Json<ApiKeyWithSecret>)> {
    caller.require(Permission::ApiKeysWrite)?;
    let name = crate::tenancy::check_name("name", &req.name)?;
    let scopes: PermissionSet = match &req.scopes {
        None => caller.permissions.clone(),
        Some(raw) => raw
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Permission::parse(p).ok_or_else(|| {
                    ApiError::validation(
                        &format!("scopes[{i}]"),
                        format!("unknown permission `{p}`"),
                    )
                })
            })
            .collect::<ApiResult<_>>()?,
    };
    if !scopes.is_subset(&caller.permissions) {
        return Err(ApiError::forbidden(
            "A key cannot have scopes beyond its creator's permissions.",
        ));
    }
    let now = state.clock.now_ms();
    let expires_at = extract::timestamp("expires_at", req.expires_at.as_deref())?;
    if expires_at.is_some_and(|t| t <= now) {
        return Err(ApiError::validation("expires_at", "must be in the future"));
    }
    let (secret, prefix) = new_secret(caller.scope.env);
    let row = ApiKeyRow {
        id: ApiKeyId::generate().to_string(),
        name,
        prefix,
        scopes: encode_permissions(&scopes),
        created_by: caller.user_id.to_string(),
        created_at: now,
        expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::insert_api_key(&mut tx, &caller.scope, &row, &secret).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "api_key.created",
        ("api_key", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    let key = ApiKey::from_row(row, caller.scope.env);
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiKeyWithSecret { key, secret }),
    ))
}

/// List the keys of the caller's environment, newest first.
#[utoipa::path(
    get, path = "/v1/api_keys", tag = "api_keys", operation_id = "api_keys_list",
    params(ListParams),
    responses(
        (status = 200, description = "A page of keys", body = ApiKeyPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["api_keys:read"]), ("session" = ["api_keys:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListParams>,
) -> ApiResult<axum::Json<ApiKeyPage>> {
    caller.require(Permission::ApiKeysRead)?;
    let fetch = q.fetch()?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows =
        db::list_api_keys(&mut tx, &caller.scope, q.starting_after.as_deref(), fetch).await?;
    tx.end();
    let env = caller.scope.env;
    Ok(axum::Json(
        Page::new(rows, fetch, |r| r.id.clone(), |r| ApiKey::from_row(r, env)).into(),
    ))
}

async fn load(state: &AppState, caller: &Caller, id: &ApiKeyId) -> ApiResult<ApiKey> {
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_api_key(&mut tx, &caller.scope, id)
        .await?
        .ok_or(ApiError::NotFound("api_key"))?;
    tx.end();
    Ok(ApiKey::from_row(row, caller.scope.env))
}

/// Get a key.
#[utoipa::path(
    get, path = "/v1/api_keys/{id}", tag = "api_keys", operation_id = "api_keys_get",
    params(("id" = ApiKeyId, Path)),
    responses(
        (status = 200, description = "The key", body = ApiKey),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["api_keys:read"]), ("session" = ["api_keys:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApiKeyId>,
) -> ApiResult<axum::Json<ApiKey>> {
    caller.require(Permission::ApiKeysRead)?;
    load(&state, &caller, &id).await.map(axum::Json)
}

/// Revoke a key; it stops working at once. Revoking twice is harmless.
#[utoipa::path(
    post, path = "/v1/api_keys/{id}/revoke", tag = "api_keys", operation_id = "api_keys_revoke",
    params(("id" = ApiKeyId, Path)),
    responses(
        (status = 200, description = "Revoked", body = ApiKey),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["api_keys:write"]), ("session" = ["api_keys:write"]))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApiKeyId>,
) -> ApiResult<axum::Json<ApiKey>> {
    caller.require(Permission::ApiKeysWrite)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::get_api_key(&mut tx, &caller.scope, &id)
        .await?
        .ok_or(ApiError::NotFound("api_key"))?;
    db::revoke_api_key(&mut tx, &caller.scope, &id, now).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "api_key.revoked",
        ("api_key", id.as_str()),
        now,
    )
    .await?;
    let row = db::get_api_key(&mut tx, &caller.scope, &id)
        .await?
        .ok_or(ApiError::NotFound("api_key"))?;
    tx.commit().await?;
    state.keys.invalidate();
    Ok(axum::Json(ApiKey::from_row(row, caller.scope.env)))
}

/// Roll a key: a new secret replaces the old one, which stops working at once.
#[utoipa::path(
    post, path = "/v1/api_keys/{id}/roll", tag = "api_keys", operation_id = "api_keys_roll",
    params(("id" = ApiKeyId, Path)),
    responses(
        (status = 200, description = "Rolled; the new secret is shown once", body = ApiKeyWithSecret),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["api_keys:write"]), ("session" = ["api_keys:write"]))
)]
pub async fn roll(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ApiKeyId>,
) -> ApiResult<axum::Json<ApiKeyWithSecret>> {
    caller.require(Permission::ApiKeysWrite)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let row = db::get_api_key(&mut tx, &caller.scope, &id)
        .await?
        .ok_or(ApiError::NotFound("api_key"))?;
    if row.revoked_at.is_some() {
        return Err(ApiError::conflict(
            "api_key_revoked",
            "A revoked key cannot be rolled; create a new one.",
        ));
    }
    let (secret, prefix) = new_secret(caller.scope.env);
    db::roll_api_key(&mut tx, &caller.scope, &id, &prefix, &secret).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "api_key.rolled",
        ("api_key", id.as_str()),
        now,
    )
    .await?;
    let row = db::get_api_key(&mut tx, &caller.scope, &id)
        .await?
        .ok_or(ApiError::NotFound("api_key"))?;
    tx.commit().await?;
    state.keys.invalidate();
    Ok(axum::Json(ApiKeyWithSecret {
        key: ApiKey::from_row(row, caller.scope.env),
        secret,
    }))
}

page_type!(ApiKeyPage, ApiKey);

//! SCIM tokens (`/v1/scim/tokens`): what an organization gives its directory (Entra ID, Okta…)
//! to provision it. The token is shown once and stored hashed; it remembers the environment it
//! was made in, where the directory's webhook events go.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::TOKEN_PREFIX;
use crate::app::AppState;
use crate::audit;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{ListParams, Page, page_type};
use crate::tenancy::{Env, Permission};
use domain::clock::timestamp;
use domain::ids::{ScimTokenId, UserId};
use domain::secret;
use store::scim::{self as db, TokenRow};

/// Characters of the token kept for display (`nf_scim_AbCd`).
const PREFIX_LEN: usize = 12;

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimToken {
    pub id: ScimTokenId,
    #[schema(example = "Entra ID")]
    pub name: String,
    /// Where the directory's `directory.*` webhook events go.
    pub env: Env,
    /// The start of the token, for recognising it.
    #[schema(example = "nf_scim_4eC3")]
    pub prefix: String,
    pub created_by: UserId,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<i64>,
    /// Updated at most once a minute.
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<i64>,
}

impl ScimToken {
    fn from_row(r: TokenRow) -> ApiResult<Self> {
        Ok(ScimToken {
            env: Env::parse(&r.env)
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("bad env {:?}", r.env)))?,
            id: ScimTokenId::from_db(r.id),
            name: r.name,
            prefix: r.prefix,
            created_by: UserId::from_db(r.created_by),
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        })
    }
}

/// A token with its secret, returned only on creation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenWithSecret {
    #[serde(flatten)]
    pub token: ScimToken,
    /// The token for the directory's `Authorization: Bearer` header. Store it now: it is
    /// never shown again.
    #[schema(example = "nf_scim_4eC39HqLyjWDarjtT1zdp7dc4eC39HqL")]
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimTokenRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Entra ID"
    )]
    pub name: String,
}

/// Create a SCIM token for the organization's directory. Its webhook events go to the
/// caller's environment.
#[utoipa::path(
    post, path = "/v1/scim/tokens", tag = "scim", operation_id = "scim_tokens_create",
    request_body = CreateScimTokenRequest,
    responses(
        (status = 201, description = "Created; the token is shown once", body = ScimTokenWithSecret),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["identity:write"]), ("session" = ["identity:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateScimTokenRequest>,
) -> ApiResult<(StatusCode, axum::Json<ScimTokenWithSecret>)> {
    caller.require(Permission::IdentityWrite)?;
    let name = crate::tenancy::check_name("name", &req.name)?;
    let now = state.clock.now_ms();
    let secret = secret::generate_token(TOKEN_PREFIX);
    let row = TokenRow {
        id: ScimTokenId::generate().to_string(),
        tenant_id: caller.scope.org_id.to_string(),
        env: caller.scope.env.as_str().to_owned(),
        name,
        prefix: secret[..PREFIX_LEN].to_owned(),
        created_by: caller.user_id.to_string(),
        created_at: now,
        revoked_at: None,
        last_used_at: None,
    };
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::insert_token(&mut tx, &row, &secret).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "scim_token.created",
        ("scim_token", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ScimTokenWithSecret {
            token: ScimToken::from_row(row)?,
            secret,
        }),
    ))
}

/// List the SCIM tokens of the caller's environment, newest first.
#[utoipa::path(
    get, path = "/v1/scim/tokens", tag = "scim", operation_id = "scim_tokens_list",
    params(ListParams),
    responses(
        (status = 200, description = "A page of tokens", body = ScimTokenPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["identity:read"]), ("session" = ["identity:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListParams>,
) -> ApiResult<axum::Json<ScimTokenPage>> {
    caller.require(Permission::IdentityRead)?;
    let fetch = q.fetch()?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let rows =
        db::list_tokens(&mut conn, &caller.scope, q.starting_after.as_deref(), fetch).await?;
    conn.end();
    let tokens = rows
        .into_iter()
        .map(ScimToken::from_row)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(axum::Json(
        Page::new(tokens, fetch, |t| t.id.to_string(), |t| t).into(),
    ))
}

/// Revoke a SCIM token: the directory using it is refused from then on. Revoking twice is
/// harmless.
#[utoipa::path(
    delete, path = "/v1/scim/tokens/{id}", tag = "scim", operation_id = "scim_tokens_revoke",
    params(("id" = ScimTokenId, Path)),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["identity:write"]), ("session" = ["identity:write"]))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ScimTokenId>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::IdentityWrite)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::get_token(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("scim_token"))?;
    db::revoke_token(&mut tx, &caller.scope, id.as_str(), now).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "scim_token.revoked",
        ("scim_token", id.as_str()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

page_type!(ScimTokenPage, ScimToken);

//! Single sign-on connections (`/v1/sso/connections`): an organization's identity provider in
//! one environment. A sandbox connection may use an http or local provider while it is being
//! tried; a live one must be https on a public host. Secrets are sealed with the master key
//! and never shown again.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::app::master_key;
use crate::audit;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::identity::api::saml::{self, SamlDetails, SamlRequest};
use crate::identity::oidc;
use crate::tenancy::grants::{check_grantable, permissions_of};
use crate::tenancy::{Permission, check_name};
use domain::clock::timestamp;
use domain::identity::{ConnectionStatus, Kind, OidcSettings, RoleMapping};
use domain::ids::ConnectionId;
use domain::webhooks::check_url;
use store::Tx;
use store::identity::{self as db, ConnectionRow};

/// Where providers send the browser back after an OpenID Connect login, on this server
/// (`public_base`).
pub fn oidc_redirect_uri(base: &str) -> String {
    format!("{base}/v1/sso/oidc/callback")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Connection {
    pub id: ConnectionId,
    #[schema(example = "Acme Okta")]
    pub name: String,
    pub kind: Kind,
    /// `active`, or `inactive` (logins refused).
    #[schema(value_type = String, example = "active")]
    pub status: ConnectionStatus,
    /// The role of members provisioned on their first login when no mapping applies.
    #[schema(example = "viewer")]
    pub default_role: String,
    pub role_mappings: Vec<RoleMapping>,
    /// OpenID Connect settings (kind `oidc`); the client secret is never shown.
    pub oidc: Option<OidcDetails>,
    /// SAML settings (kind `saml`): what to give the identity provider.
    pub saml: Option<SamlDetails>,
    /// Where to send users to log in with this connection.
    #[schema(
        example = "https://api.example.com/v1/sso/authorize?connection=conn_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e"
    )]
    pub login_url: String,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<i64>,
    /// The last failed login's code and reason, to debug a misconfigured provider.
    pub last_error: Option<String>,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_error_at: Option<i64>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OidcDetails {
    #[schema(example = "https://acme.okta.com")]
    pub issuer: String,
    #[schema(example = "0oa1b2c3d4")]
    pub client_id: String,
    /// The redirect URI to register with the provider.
    #[schema(example = "https://api.example.com/v1/sso/oidc/callback")]
    pub redirect_uri: String,
}

fn shown(state: &AppState, headers: &HeaderMap, row: ConnectionRow) -> ApiResult<Connection> {
    let base = crate::http::public_base(state, headers);
    let kind = *row.kind;
    let (oidc, saml) = match kind {
        Kind::Oidc => {
            let s: OidcSettings = row.settings.read("settings")?;
            let oidc = OidcDetails {
                issuer: s.issuer,
                client_id: s.client_id,
                redirect_uri: oidc_redirect_uri(&base),
            };
            (Some(oidc), None)
        }
        Kind::Saml => (None, Some(saml::details(&base, &row)?)),
    };
    Ok(Connection {
        login_url: format!("{base}/v1/sso/authorize?connection={}", row.id),
        id: ConnectionId::from_db(row.id),
        name: row.name,
        kind,
        status: *row.status,
        default_role: row.default_role,
        role_mappings: row.role_mappings.0,
        oidc,
        saml,
        last_login_at: row.last_login_at,
        last_error: row.last_error,
        last_error_at: row.last_error_at,
        created_at: row.created_at,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcRequest {
    /// The provider's issuer; its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`.
    #[schema(example = "https://acme.okta.com")]
    pub issuer: String,
    #[schema(example = "0oa1b2c3d4")]
    pub client_id: String,
    #[schema(example = "s3cr3t")]
    pub client_secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Acme Okta"
    )]
    pub name: String,
    pub kind: Kind,
    /// Required for kind `oidc`.
    pub oidc: Option<OidcRequest>,
    /// Required for kind `saml`.
    pub saml: Option<SamlRequest>,
    /// Default `viewer`. A built-in role (not `owner`) or a custom role id.
    pub default_role: Option<String>,
    #[serde(default)]
    pub role_mappings: Vec<RoleMapping>,
}

/// Checks the roles a connection grants: real, grantable by the caller, never owner.
async fn check_roles(
    tx: &mut Tx,
    caller: &Caller,
    default_role: &str,
    mappings: &[RoleMapping],
) -> ApiResult<()> {
    let roles = std::iter::once(("default_role", default_role))
        .chain(mappings.iter().map(|m| ("role_mappings", m.role.as_str())));
    for (field, role) in roles {
        if role == "owner" {
            return Err(ApiError::validation(
                field,
                "single sign-on cannot make owners",
            ));
        }
        let permissions = permissions_of(tx, &caller.scope, field, role).await?;
        check_grantable(caller, role, &permissions)?;
    }
    if mappings.iter().any(|m| m.group.trim().is_empty()) || mappings.len() > 50 {
        return Err(ApiError::validation(
            "role_mappings",
            "at most 50 mappings, each with a group",
        ));
    }
    Ok(())
}

/// The provider must answer with a usable discovery document before it is saved.
async fn checked_oidc(
    state: &AppState,
    caller: &Caller,
    req: &OidcRequest,
) -> ApiResult<OidcSettings> {
    let issuer = check_url(&req.issuer, caller.scope.env).map_err(|_| {
        ApiError::validation(
            "oidc.issuer",
            "must be an https URL (http and local hosts only in the sandbox)",
        )
    })?;
    let issuer = issuer.trim_end_matches('/').to_owned();
    if req.client_id.trim().is_empty() || req.client_secret.is_empty() {
        return Err(ApiError::validation(
            "oidc",
            "client_id and client_secret are required",
        ));
    }
    oidc::discover(state.outbound.client(caller.scope.env), &issuer)
        .await
        .map_err(|f| ApiError::Unprocessable {
            code: f.code,
            detail: f.detail,
        })?;
    Ok(OidcSettings {
        issuer,
        client_id: req.client_id.trim().to_owned(),
    })
}

fn seal_context(id: &str) -> String {
    format!("sso_connections/{id}/secret")
}

/// Create a single sign-on connection.
#[utoipa::path(
    post, path = "/v1/sso/connections", tag = "sso_connections", operation_id = "sso_connections_create",
    request_body = CreateConnectionRequest,
    responses(
        (status = 201, description = "Created", body = Connection),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        (status = 422, response = crate::openapi::Unprocessable),
    ),
    security(("api_key" = ["identity:write"]), ("session" = ["identity:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(req): Json<CreateConnectionRequest>,
) -> ApiResult<(StatusCode, axum::Json<Connection>)> {
    caller.require(Permission::IdentityWrite)?;
    let key = master_key(&state)?;
    let name = check_name("name", &req.name)?;
    let (settings, secret) = match (req.kind, &req.oidc) {
        (Kind::Oidc, Some(o)) => (
            store::columns::Json::of(checked_oidc(&state, &caller, o).await?)?,
            o.client_secret.clone(),
        ),
        (Kind::Oidc, None) => {
            return Err(ApiError::validation("oidc", "is required for kind oidc"));
        }
        (Kind::Saml, _) => {
            let req = req
                .saml
                .as_ref()
                .ok_or_else(|| ApiError::validation("saml", "is required for kind saml"))?;
            let (settings, key) = saml::new_settings(&state, caller.scope.env, req, &name).await?;
            (store::columns::Json::of(settings)?, key)
        }
    };
    let default_role = req.default_role.unwrap_or_else(|| "viewer".to_owned());
    let id = ConnectionId::generate();
    let now = state.clock.now_ms();
    let row = ConnectionRow {
        id: id.to_string(),
        tenant_id: caller.scope.org_id.to_string(),
        env: caller.scope.env.as_str().to_owned(),
        kind: req.kind.into(),
        name,
        status: ConnectionStatus::Active.into(),
        settings,
        secret_sealed: key.seal(&seal_context(id.as_str()), &secret)?,
        default_role,
        role_mappings: req.role_mappings.into(),
        created_at: now,
        updated_at: now,
        last_login_at: None,
        last_error: None,
        last_error_at: None,
    };
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    check_roles(&mut tx, &caller, &row.default_role, &row.role_mappings).await?;
    db::insert_connection(&mut tx, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "sso_connection.created",
        ("sso_connection", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(shown(&state, &headers, row)?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConnectionListQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
}

page_type!(ConnectionPage, Connection);

/// List the environment's single sign-on connections, newest first.
#[utoipa::path(
    get, path = "/v1/sso/connections", tag = "sso_connections", operation_id = "sso_connections_list",
    params(ConnectionListQuery),
    responses(
        (status = 200, description = "A page of connections", body = ConnectionPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["identity:read"]), ("session" = ["identity:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<ConnectionListQuery>,
) -> ApiResult<axum::Json<ConnectionPage>> {
    caller.require(Permission::IdentityRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows =
        db::list_connections(&mut tx, &caller.scope, q.starting_after.as_deref(), fetch).await?;
    tx.end();
    let shown_rows = rows
        .into_iter()
        .map(|r| Ok((r.id.clone(), shown(&state, &headers, r)?)))
        .collect::<ApiResult<Vec<_>>>()?;
    let page = Page::new(shown_rows, fetch, |(id, _)| id.clone(), |(_, c)| c);
    Ok(axum::Json(page.into()))
}

async fn load(
    c: &mut sqlx::AnyConnection,
    caller: &Caller,
    id: &ConnectionId,
) -> ApiResult<ConnectionRow> {
    db::get_connection(c, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("sso_connection"))
}

/// Get a single sign-on connection, with the outcome of its last login.
#[utoipa::path(
    get, path = "/v1/sso/connections/{id}", tag = "sso_connections", operation_id = "sso_connections_get",
    params(("id" = ConnectionId, Path)),
    responses(
        (status = 200, description = "The connection", body = Connection),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["identity:read"]), ("session" = ["identity:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<ConnectionId>,
) -> ApiResult<axum::Json<Connection>> {
    caller.require(Permission::IdentityRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = load(&mut tx, &caller, &id).await?;
    tx.end();
    Ok(axum::Json(shown(&state, &headers, row)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnectionRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// `active` or `inactive`.
    #[schema(example = "inactive")]
    pub status: Option<String>,
    pub default_role: Option<String>,
    pub role_mappings: Option<Vec<RoleMapping>>,
    /// A new OIDC client secret (rotation; OpenID Connect connections only).
    pub client_secret: Option<String>,
}

/// Update a single sign-on connection.
#[utoipa::path(
    patch, path = "/v1/sso/connections/{id}", tag = "sso_connections", operation_id = "sso_connections_update",
    params(("id" = ConnectionId, Path)),
    request_body = UpdateConnectionRequest,
    responses(
        (status = 200, description = "Updated", body = Connection),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["identity:write"]), ("session" = ["identity:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<ConnectionId>,
    Json(req): Json<UpdateConnectionRequest>,
) -> ApiResult<axum::Json<Connection>> {
    caller.require(Permission::IdentityWrite)?;
    let key = master_key(&state)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = load(&mut tx, &caller, &id).await?;
    if let Some(name) = &req.name {
        row.name = check_name("name", name)?;
    }
    if let Some(status) = req.status {
        row.status = ConnectionStatus::parse("status", &status)?.into();
    }
    if let Some(role) = req.default_role {
        row.default_role = role;
    }
    if let Some(mappings) = req.role_mappings {
        row.role_mappings = mappings.into();
    }
    check_roles(&mut tx, &caller, &row.default_role, &row.role_mappings).await?;
    if let Some(secret) = req.client_secret.filter(|s| !s.is_empty()) {
        if row.kind != Kind::Oidc {
            return Err(ApiError::validation(
                "client_secret",
                "only OpenID Connect connections have one",
            ));
        }
        row.secret_sealed = key.seal(&seal_context(&row.id), &secret)?;
    }
    row.updated_at = state.clock.now_ms();
    db::update_connection(&mut tx, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "sso_connection.updated",
        ("sso_connection", &row.id),
        row.updated_at,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(shown(&state, &headers, row)?))
}

/// Delete a single sign-on connection. Members it provisioned stay.
#[utoipa::path(
    delete, path = "/v1/sso/connections/{id}", tag = "sso_connections", operation_id = "sso_connections_delete",
    params(("id" = ConnectionId, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["identity:write"]), ("session" = ["identity:write"]))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ConnectionId>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::IdentityWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    load(&mut tx, &caller, &id).await?;
    db::delete_connection(&mut tx, &caller.scope, id.as_str()).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "sso_connection.deleted",
        ("sso_connection", id.as_str()),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Opens a connection's sealed secret.
pub fn open_secret(state: &AppState, row: &ConnectionRow) -> ApiResult<String> {
    Ok(master_key(state)?.open(&seal_context(&row.id), &row.secret_sealed)?)
}

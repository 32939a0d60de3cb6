//! Who is calling. `Authorization: Bearer nf_live_…|nf_test_…` (API key) or a dashboard
//! session token (`Bearer nf_sess_…` or the `nf_session` cookie). Sessions pick the
//! organization with `NeoForge-Organization` (default: the user's first) and the environment
//! with `NeoForge-Environment` (default: test, the sandbox).
//!
//! Invariant: a request is allowed only when the member's role and the key's scopes both grant
//! the operation's permission (`Caller::require`).
//!
//! The developer portal is sandbox-only: a live key on a request from the portal (carrying
//! `NeoForge-Portal`, or sent by a browser from a page of this server, `Sec-Fetch-Site:
//! same-origin`) is refused with 403 `live_key_in_portal`, whatever the page's script does.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::error::{ApiError, ApiResult};
use crate::app::AppState;
use crate::request_log::KeyUse;
use crate::tenancy::{Env, Permission, PermissionSet, Scope};
use domain::ids::{ApiKeyId, OrgId, SessionId, UserId};
use store::tenancy::{self as tenancy_store, Membership};

pub const SESSION_COOKIE: &str = "nf_session";
pub const SESSION_PREFIX: &str = "nf_sess_";
pub const ORG_HEADER: &str = "neoforge-organization";
pub const ENV_HEADER: &str = "neoforge-environment";
/// Sent by the portal's playground with every request it makes.
pub const PORTAL_HEADER: &str = "neoforge-portal";

/// Keys record their last use at most once a minute, so reads stay reads.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    ApiKey(ApiKeyId),
    Session(SessionId),
}

/// An authenticated caller acting inside one organization and environment.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub actor: Actor,
    pub scope: Scope,
    pub role: String,
    /// Role permissions, narrowed by the key's scopes for API keys.
    pub permissions: PermissionSet,
    pub ip: Option<String>,
}

impl Caller {
    pub fn require(&self, permission: Permission) -> ApiResult<()> {
        if self.permissions.contains(&permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "This operation needs the `{permission}` permission, which the caller's role or key scopes do not grant."
            )))
        }
    }

    pub fn is_owner(&self) -> bool {
        self.role == "owner"
    }
}

/// A logged-in dashboard user, not yet inside an organization.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub email: String,
    pub ip: Option<String>,
    /// A single sign-on session's one organization and environment.
    pub bound: Option<Scope>,
}

enum Credential<'a> {
    ApiKey(&'a str),
    Session(&'a str),
}

/// The raw bearer token or session cookie, whatever it is; idempotency keys are scoped by it.
pub fn raw_credential(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .or_else(|| session_cookie(headers).map(str::as_bytes))
}

fn credential(headers: &HeaderMap) -> ApiResult<Credential<'_>> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::InvalidApiKey)?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(ApiError::InvalidApiKey),
        };
        return Ok(if token.starts_with(SESSION_PREFIX) {
            Credential::Session(token)
        } else {
            Credential::ApiKey(token)
        });
    }
    session_cookie(headers)
        .map(Credential::Session)
        .ok_or(ApiError::Unauthenticated)
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

pub fn client_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

async fn session_user(parts: &Parts, state: &AppState, token: &str) -> ApiResult<SessionUser> {
    let now = state.clock.now_ms();
    let row = tenancy_store::find_session(state.db.reader(), token)
        .await?
        .filter(|s| s.revoked_at.is_none() && s.expires_at > now)
        .ok_or(ApiError::InvalidSession)?;
    let bound = match (row.tenant_id, row.env.as_deref().and_then(Env::parse)) {
        (Some(org), Some(env)) => Some(Scope {
            org_id: OrgId::from_db(org),
            env,
        }),
        _ => None,
    };
    Ok(SessionUser {
        user_id: UserId::from_db(row.user_id),
        session_id: SessionId::from_db(row.id),
        email: row.email,
        ip: client_ip(parts),
        bound,
    })
}

impl FromRequestParts<AppState> for SessionUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match credential(&parts.headers)? {
            Credential::Session(token) => session_user(parts, state, token).await,
            Credential::ApiKey(_) => Err(ApiError::forbidden(
                "This operation needs a dashboard session, not an API key.",
            )),
        }
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> ApiResult<Option<&'a str>> {
    parts
        .headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::validation(name, "must be ASCII"))
        })
        .transpose()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        match credential(&parts.headers)? {
            Credential::ApiKey(token) => api_key_caller(parts, state, token).await,
            Credential::Session(token) => {
                let user = session_user(parts, state, token).await?;
                let org = header(parts, ORG_HEADER)?
                    .map(|s| {
                        OrgId::parse(s).ok_or_else(|| {
                            ApiError::validation(ORG_HEADER, "must be an organization id")
                        })
                    })
                    .transpose()?;
                let env = header(parts, ENV_HEADER)?
                    .map(|s| {
                        Env::parse(s)
                            .ok_or_else(|| ApiError::validation(ENV_HEADER, "must be live or test"))
                    })
                    .transpose()?;
                let (org, env) = match &user.bound {
                    None => (org, env.unwrap_or(Env::Test)),
                    Some(bound) => {
                        let other_org = org.is_some_and(|o| o != bound.org_id);
                        if other_org || env.is_some_and(|e| e != bound.env) {
                            return Err(ApiError::forbidden(format!(
                                "This single sign-on session acts only in organization {} ({} mode).",
                                bound.org_id,
                                bound.env.as_str()
                            )));
                        }
                        (Some(bound.org_id.clone()), bound.env)
                    }
                };
                let membership =
                    tenancy_store::find_membership(state.db.reader(), &user.user_id, org.as_ref())
                        .await?
                        .ok_or_else(|| {
                            ApiError::forbidden("You are not a member of this organization.")
                        })?;
                Ok(Caller {
                    permissions: membership.permissions(),
                    user_id: user.user_id,
                    actor: Actor::Session(user.session_id),
                    scope: Scope {
                        org_id: OrgId::from_db(membership.tenant_id),
                        env,
                    },
                    role: membership.role,
                    ip: user.ip,
                })
            }
        }
    }
}

async fn api_key_caller(parts: &Parts, state: &AppState, token: &str) -> ApiResult<Caller> {
    let env = if token.starts_with("nf_live_") {
        if from_portal(&parts.headers) {
            return Err(ApiError::LiveKeyInPortal);
        }
        Env::Live
    } else if token.starts_with("nf_test_") {
        Env::Test
    } else {
        return Err(ApiError::InvalidApiKey);
    };
    let now = state.clock.now_ms();
    let hash = domain::secret::hash_token(token);
    let key = match state.keys.get(&hash) {
        Some(key) => key,
        None => {
            let generation = state.keys.generation();
            let key = tenancy_store::find_api_key_by_hash(state.db.reader(), &hash)
                .await?
                .map(Arc::new)
                .ok_or(ApiError::InvalidApiKey)?;
            state.keys.put(hash.clone(), key.clone(), generation);
            key
        }
    };
    let usable = key.env == env.as_str()
        && key.revoked_at.is_none()
        && key.expires_at.is_none_or(|t| t > now);
    if !usable {
        return Err(ApiError::InvalidApiKey);
    }
    // A key acts for the member who created it; it dies with the membership.
    let role = key.role.clone().ok_or(ApiError::InvalidApiKey)?;
    let membership = Membership {
        tenant_id: key.tenant_id.clone(),
        role: role.clone(),
        custom_permissions: key.custom_permissions.clone(),
    };
    let scopes = crate::tenancy::decode_permissions(&key.scopes);
    let permissions = membership
        .permissions()
        .intersection(&scopes)
        .copied()
        .collect();
    if key
        .last_used_at
        .is_none_or(|t| now - t >= LAST_USED_RESOLUTION_MS)
    {
        tenancy_store::touch_api_key(state.db.writer(), &key.id, now).await?;
    }
    let scope = Scope {
        org_id: OrgId::from_db(key.tenant_id.clone()),
        env,
    };
    let api_key_id = ApiKeyId::from_db(key.id.clone());
    crate::request_log::note_key_use(KeyUse {
        api_key_id: api_key_id.clone(),
        scope: scope.clone(),
    });
    Ok(Caller {
        user_id: UserId::from_db(key.created_by.clone()),
        actor: Actor::ApiKey(api_key_id),
        scope,
        role,
        permissions,
        ip: client_ip(parts),
    })
}

/// A request from the portal: its playground's marker, or a browser on one of our own pages.
fn from_portal(headers: &HeaderMap) -> bool {
    headers.contains_key(PORTAL_HEADER)
        || headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin")
}

/// The client's IP address, for requests that have no caller yet (sign-up).
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

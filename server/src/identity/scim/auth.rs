//! Who is calling `/scim/v2`: a directory with `Authorization: Bearer nf_scim_…`. The token
//! names the organization and the environment its webhook events go to; API keys and
//! sessions are not accepted here, nor SCIM tokens anywhere else.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ScimError;
use crate::app::AppState;
use crate::audit::ActorRef;
use crate::tenancy::{Env, Scope};
use domain::ids::OrgId;
use store::scim as db;

pub const TOKEN_PREFIX: &str = "nf_scim_";

/// Tokens record their last use at most once a minute, so reads stay reads.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

pub struct ScimCaller {
    pub token_id: String,
    pub scope: Scope,
    pub ip: Option<String>,
    /// This server's base URL, for `meta.location`.
    pub base: String,
}

impl ScimCaller {
    pub fn actor(&self) -> ActorRef<'_> {
        ActorRef {
            kind: "scim_token",
            id: &self.token_id,
            ip: self.ip.as_deref(),
        }
    }
}

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| t.starts_with(TOKEN_PREFIX))
            .ok_or_else(ScimError::unauthorized)?;
        let row = db::find_token_by_hash(state.db.reader(), &domain::secret::hash_token(token))
            .await?
            .filter(|t| t.revoked_at.is_none())
            .ok_or_else(ScimError::unauthorized)?;
        let env = Env::parse(&row.env)
            .ok_or_else(|| ScimError::internal(anyhow::anyhow!("bad env {:?}", row.env)))?;
        let now = state.clock.now_ms();
        if row
            .last_used_at
            .is_none_or(|t| now - t >= LAST_USED_RESOLUTION_MS)
        {
            db::touch_token(state.db.writer(), &row.id, now).await?;
        }
        Ok(ScimCaller {
            token_id: row.id,
            scope: Scope {
                org_id: OrgId::from_db(row.tenant_id),
                env,
            },
            ip: crate::http::auth::client_ip(parts),
            base: crate::http::public_base(state, &parts.headers),
        })
    }
}

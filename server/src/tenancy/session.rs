//! Dashboard sessions, for whichever log-in proved the user (password or single sign-on):
//! starting one, and the cookie that carries it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::http::auth::{SESSION_COOKIE, SESSION_PREFIX};
use crate::tenancy::Scope;
use domain::clock::{Clock, timestamp};
use domain::ids::{SessionId, UserId};
use domain::secret;
use store::Tx;
use store::tenancy as db;

/// A new session token. Shown once; send it as `Authorization: Bearer …` or keep the cookie.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionToken {
    #[schema(example = "nf_sess_4eC39HqLyjWDarjtT1zdp7dc4eC39HqL")]
    pub token: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: i64,
}

/// Starts a session inside `tx` and returns its token. A `bound` session (single sign-on)
/// acts only in that organization and environment.
pub async fn start(
    tx: &mut Tx,
    clock: &Clock,
    ttl_ms: i64,
    user: &UserId,
    bound: Option<&Scope>,
) -> sqlx::Result<SessionToken> {
    let now = clock.now_ms();
    let token = secret::generate_token(SESSION_PREFIX);
    let expires_at = now + ttl_ms;
    db::insert_session(
        tx,
        SessionId::generate().as_str(),
        &token,
        user,
        bound,
        now,
        expires_at,
    )
    .await?;
    Ok(SessionToken { token, expires_at })
}

/// The session cookie for the portal: HttpOnly, SameSite=Lax.
pub fn cookie(ttl_ms: i64, token: &str) -> String {
    let max_age = ttl_ms / 1000;
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}")
}

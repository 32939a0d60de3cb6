//! The customer portal: where a tenant's customer sees their plan, usage and invoices,
//! switches plan with a preview of the charge, replaces their card and cancels.
//!
//! Access: the tenant's server asks for a session (`POST /v1/billing_portal/sessions`, or
//! a failed-payment email carries one) and sends the customer to its link. The link opens
//! once, before it expires, into a browser session of that one customer: an HttpOnly,
//! SameSite=Lax cookie under `/billing`, stored as a hash, lasting `SESSION_TTL_MS`. Every
//! form carries the session's CSRF token. Everything a page shows or changes is read
//! through the session's scope and checked to be the session's customer's; anything else
//! is a 404, as for an unknown id.

pub mod api;
pub mod pages;

use crate::app::AppState;
use crate::audit::ActorRef;
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::{Env, Scope};
use domain::billing::portal::{PortalSettings, SESSION_TTL_MS};
use domain::ids::{OrgId, PortalSessionId};
use domain::secret::{digest, generate_token, hash_token};
use store::billing::{self as db, PortalSessionRow};

/// The scope's settings, or the defaults.
pub async fn settings(tx: &mut sqlx::AnyConnection, scope: &Scope) -> ApiResult<PortalSettings> {
    Ok(db::get_portal_settings(tx, scope)
        .await?
        .map(|s| s.0)
        .unwrap_or_default())
}

/// Makes a portal session for `customer` whose link opens until `ttl_ms` from now; returns
/// the session and its link's URL. In the caller's transaction.
pub async fn create_session(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    customer: &str,
    return_url: Option<String>,
    ttl_ms: i64,
) -> ApiResult<(PortalSessionRow, String)> {
    let now = state.clock.now_ms();
    let token = generate_token("bpl_");
    let row = PortalSessionRow {
        id: PortalSessionId::generate().to_string(),
        tenant_id: scope.org_id.to_string(),
        env: scope.env.as_str().to_owned(),
        customer_id: customer.to_owned(),
        return_url,
        link_hash: hash_token(&token),
        link_expires_at: now + ttl_ms,
        opened_at: None,
        cookie_hash: None,
        csrf: None,
        expires_at: None,
        offered_retention: 0,
        created_at: now,
    };
    db::insert_portal_session(tx, scope, &row).await?;
    let url = format!("{}/billing/{token}", state.public_base);
    Ok((row, url))
}

/// A link for an email asking `customer` to act (fix a card): a session of its own, whose
/// link opens for `EMAIL_LINK_TTL_MS`.
pub async fn email_link(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    customer: &str,
) -> ApiResult<String> {
    let ttl = domain::billing::portal::EMAIL_LINK_TTL_MS;
    let (_, url) = create_session(tx, state, scope, customer, None, ttl).await?;
    Ok(url)
}

/// An open browser session: whose it is and what its forms carry.
#[derive(Debug, Clone)]
pub struct Visit {
    pub scope: Scope,
    pub session: PortalSessionRow,
    pub csrf: String,
}

impl Visit {
    pub fn customer(&self) -> &str {
        &self.session.customer_id
    }

    pub fn actor(&self) -> ActorRef<'_> {
        ActorRef {
            kind: "customer",
            id: &self.session.customer_id,
            ip: None,
        }
    }

    /// Refuses a form without this session's token (compared as digests: in time that
    /// tells nothing of the token).
    pub fn check_csrf(&self, sent: &str) -> ApiResult<()> {
        match digest(&[sent.as_bytes()]) == digest(&[self.csrf.as_bytes()]) {
            true => Ok(()),
            false => Err(ApiError::forbidden(
                "The form is out of date: reload the page and try again.",
            )),
        }
    }
}

fn scope_of(row: &PortalSessionRow) -> ApiResult<Scope> {
    let env = Env::parse(&row.env)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("bad env {:?}", row.env)))?;
    Ok(Scope {
        org_id: OrgId::from_db(row.tenant_id.clone()),
        env,
    })
}

/// Opens a link: returns the browser session's cookie, or None when the link is unknown,
/// expired or already opened.
pub async fn open(state: &AppState, token: &str) -> ApiResult<Option<(String, Visit)>> {
    let Some(mut row) = db::find_by_link(state.db.reader(), &hash_token(token)).await? else {
        return Ok(None);
    };
    let now = state.clock.now_ms();
    if row.opened_at.is_some() || now >= row.link_expires_at {
        return Ok(None);
    }
    let scope = scope_of(&row)?;
    let cookie = generate_token("bpc_");
    let csrf = generate_token("");
    row.opened_at = Some(now);
    row.cookie_hash = Some(hash_token(&cookie));
    row.csrf = Some(csrf.clone());
    row.expires_at = Some(now + SESSION_TTL_MS);
    let mut tx = state.db.write_scoped(&scope).await?;
    if !db::open_portal_session(&mut tx, &scope, &row).await? {
        return Ok(None);
    }
    crate::audit::record(
        &mut tx,
        &scope,
        ActorRef {
            kind: "customer",
            id: &row.customer_id,
            ip: None,
        },
        "billing_portal.session.opened",
        ("portal_session", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Some((
        cookie,
        Visit {
            scope,
            session: row,
            csrf,
        },
    )))
}

/// The open session a cookie belongs to, if it has not ended.
pub async fn visit(state: &AppState, cookie: &str) -> ApiResult<Option<Visit>> {
    let Some(row) = db::find_by_cookie(state.db.reader(), &hash_token(cookie)).await? else {
        return Ok(None);
    };
    let now = state.clock.now_ms();
    if row.expires_at.is_none_or(|end| now >= end) {
        return Ok(None);
    }
    let scope = scope_of(&row)?;
    let csrf = row.csrf.clone().unwrap_or_default();
    Ok(Some(Visit {
        scope,
        session: row,
        csrf,
    }))
}

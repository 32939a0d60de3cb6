//! The end of every single sign-on login, whatever the protocol: the user is provisioned
//! just in time, joins the connection's organization with a mapped or default role, and gets
//! a session bound to that organization and environment; the browser lands on the page the
//! login asked for. Every success and failure is audited and shown on the connection.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::link::{self, Refusal};
use crate::app::AppState;
use crate::audit::{self, ActorRef};
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::session;
use crate::tenancy::{Email, Env, Scope};
use domain::identity::{Profile, role_for};
use domain::ids::OrgId;
use store::identity::{self as db, ConnectionRow};
use store::tenancy as tenancy_db;

/// Why a login failed: a stable code, and a message for the audit log and the user.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: &'static str,
    pub detail: String,
}

impl Failure {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Failure {
            code,
            detail: detail.into(),
        }
    }
}

/// The connection's organization and environment.
pub fn scope_of(conn: &ConnectionRow) -> ApiResult<Scope> {
    Ok(Scope {
        org_id: OrgId::from_db(conn.tenant_id.clone()),
        env: Env::parse(&conn.env)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("bad env on {}", conn.id)))?,
    })
}

/// Records a failed login (audit event and the connection's last error) and returns the
/// error the browser sees.
pub async fn fail(
    state: &AppState,
    conn: &ConnectionRow,
    failure: Failure,
    ip: Option<&str>,
) -> ApiError {
    let recorded = async {
        let scope = scope_of(conn)?;
        let now = state.clock.now_ms();
        let mut tx = state.db.write().await?;
        let actor = ActorRef {
            kind: "sso_connection",
            id: &conn.id,
            ip,
        };
        audit::record(
            &mut tx,
            &scope,
            actor,
            &format!("sso.login_failed.{}", failure.code),
            ("sso_connection", &conn.id),
            now,
        )
        .await?;
        let message = format!("{}: {}", failure.code, failure.detail);
        db::record_outcome(&mut *tx, &conn.id, Some(&message), now).await?;
        tx.commit().await?;
        ApiResult::Ok(())
    }
    .await;
    match recorded {
        Ok(()) => ApiError::LoginFailed {
            code: failure.code,
            detail: failure.detail,
        },
        Err(e) => e,
    }
}

/// Finishes a login the provider vouched for; answers the redirect with the session cookie.
pub async fn complete(
    state: &AppState,
    conn: &ConnectionRow,
    profile: Profile,
    redirect_to: &str,
    ip: Option<&str>,
) -> ApiResult<Response> {
    match provision(state, conn, &profile, ip).await? {
        Ok(token) => Ok(landing(state, redirect_to, &token)),
        Err(failure) => Err(fail(state, conn, failure, ip).await),
    }
}

/// The session token, or why the profile cannot log in.
async fn provision(
    state: &AppState,
    conn: &ConnectionRow,
    profile: &Profile,
    ip: Option<&str>,
) -> ApiResult<Result<String, Failure>> {
    let scope = scope_of(conn)?;
    let Ok(email) = Email::parse("email", &profile.email) else {
        return Ok(Err(Failure::new(
            "sso_profile_incomplete",
            format!("`{}` is not a usable email address", profile.email),
        )));
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.write().await?;
    let user_id = match link::account_for(&mut tx, &scope.org_id, &email, now).await? {
        Ok(user) => user,
        Err(refusal) => {
            let code = match refusal {
                Refusal::DomainOfAnother => "sso_domain_mismatch",
                Refusal::AccountElsewhere => "sso_account_not_linked",
            };
            return Ok(Err(Failure::new(code, refusal.explain(&email))));
        }
    };
    let mapped = role_for(&conn.role_mappings, &profile.groups, &conn.default_role);
    let actor = ActorRef {
        kind: "user",
        id: user_id.as_str(),
        ip,
    };
    match tenancy_db::membership_state(&mut tx, &scope.org_id, &user_id).await? {
        None => {
            tenancy_db::insert_membership(&mut tx, &scope.org_id, &user_id, mapped, now).await?;
            audit::record(
                &mut tx,
                &scope,
                actor,
                "member.provisioned",
                ("user", user_id.as_str()),
                now,
            )
            .await?;
        }
        // The organization's directory deactivated them: single sign-on does not undo that.
        Some((_, Some(_))) => {
            return Ok(Err(Failure::new(
                "membership_suspended",
                "this user's membership is suspended by the organization's directory",
            )));
        }
        // The provider's groups keep the role in step, but never touch an owner.
        Some((role, None))
            if role != mapped
                && role != "owner"
                && conn.role_mappings.iter().any(|x| x.role == mapped) =>
        {
            tenancy_db::set_member_role(&mut tx, &scope, &user_id, mapped).await?;
            audit::record(
                &mut tx,
                &scope,
                actor,
                "member.role_mapped",
                ("user", user_id.as_str()),
                now,
            )
            .await?;
        }
        Some(_) => {}
    }
    let session = session::start(
        &mut tx,
        &state.clock,
        state.session_ttl_ms,
        &user_id,
        Some(&scope),
    )
    .await?;
    audit::record(
        &mut tx,
        &scope,
        actor,
        "sso.login_succeeded",
        ("sso_connection", &conn.id),
        now,
    )
    .await?;
    db::record_outcome(&mut *tx, &conn.id, None, now).await?;
    tx.commit().await?;
    Ok(Ok(session.token))
}

/// 303 to the page, with the session cookie (HttpOnly, SameSite=Lax: it must survive the
/// top-level navigation back from the provider).
fn landing(state: &AppState, redirect_to: &str, token: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(redirect_to) {
        headers.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&session::cookie(state.session_ttl_ms, token)) {
        headers.insert(header::SET_COOKIE, v);
    }
    response
}

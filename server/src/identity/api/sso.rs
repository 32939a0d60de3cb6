//! The browser's side of single sign-on: `/v1/sso/authorize` picks the connection (by id, by
//! organization, or by the email address's verified domain) and sends the browser to its
//! provider; the provider sends it back to a callback, which ends in `login::complete`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::connections::{oidc_redirect_uri, open_secret};
use crate::app::AppState;
use crate::http::auth::ClientIp;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Query;
use crate::identity::login::{self, Failure};
use crate::identity::oidc;
use crate::tenancy::Email;
use domain::identity::{
    ConnectionStatus, Kind, LOGIN_TTL_MS, OidcSettings, check_redirect, email_domain,
};
use domain::secret;
use store::identity::{self as db, ConnectionRow, LoginRequestRow};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// The connection to log in with.
    pub connection: Option<String>,
    /// Or the organization, whose active connection is used (live before sandbox).
    pub organization: Option<String>,
    /// Or the user's email address, routed by its verified domain.
    #[param(format = Email)]
    pub email: Option<String>,
    /// The page of this server to land on afterwards (default `/portal/`).
    pub redirect_to: Option<String>,
}

fn not_configured() -> ApiError {
    ApiError::NotFound("sso_connection")
}

async fn route(state: &AppState, q: &AuthorizeQuery) -> ApiResult<ConnectionRow> {
    let reader = state.db.reader();
    let conn = match (&q.connection, &q.organization, &q.email) {
        (Some(id), None, None) => db::find_connection(reader, id).await?,
        (None, Some(org), None) => db::routed_connection(reader, org).await?,
        (None, None, Some(email)) => {
            let email = Email::parse("email", email)?;
            match db::verified_domain(reader, email_domain(email.as_str())).await? {
                Some(domain) => db::routed_connection(reader, &domain.tenant_id).await?,
                None => None,
            }
        }
        _ => {
            return Err(ApiError::validation(
                "connection",
                "give exactly one of connection, organization or email",
            ));
        }
    };
    let conn = conn.ok_or_else(not_configured)?;
    if conn.status != ConnectionStatus::Active {
        return Err(ApiError::conflict(
            "connection_inactive",
            "This single sign-on connection is inactive.",
        ));
    }
    Ok(conn)
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Start a single sign-on login: redirects the browser to the identity provider.
#[utoipa::path(
    get, path = "/v1/sso/authorize", tag = "sso", operation_id = "sso_authorize",
    params(AuthorizeQuery),
    responses(
        (status = 302, description = "To the identity provider"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(()),
    // A browser navigation, not an API call: no SDK method.
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Query(q): Query<AuthorizeQuery>,
) -> ApiResult<Response> {
    let redirect_to = check_redirect(q.redirect_to.as_deref())?;
    let conn = route(&state, &q).await?;
    let now = state.clock.now_ms();
    let mut request = LoginRequestRow {
        id: secret::generate_token("nf_sso_"),
        connection_id: conn.id.clone(),
        nonce: None,
        pkce_verifier: None,
        redirect_to,
        created_at: now,
        expires_at: now + LOGIN_TTL_MS,
    };
    let url = match *conn.kind {
        Kind::Oidc => {
            let settings: OidcSettings = conn.settings.read("settings")?;
            let redirect_uri = oidc_redirect_uri(&crate::http::public_base(&state, &headers));
            let http = state.outbound.client(login::scope_of(&conn)?.env);
            let started = oidc::discover(http, &settings.issuer)
                .await
                .and_then(|metadata| {
                    oidc::authorize(metadata, &settings, &redirect_uri, &request.id)
                });
            let started = match started {
                Ok(s) => s,
                Err(f) => return Err(login::fail(&state, &conn, f, ip.as_deref()).await),
            };
            request.nonce = Some(started.nonce);
            request.pkce_verifier = Some(started.pkce_verifier);
            started.url
        }
        Kind::Saml => match super::saml::start(&state, &headers, &conn, &request.id)? {
            Ok(url) => url,
            Err(f) => return Err(login::fail(&state, &conn, f, ip.as_deref()).await),
        },
    };
    db::insert_login_request(state.db.writer(), &request).await?;
    Ok(redirect(&url))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OidcCallbackQuery {
    /// The login's state, as sent to the provider.
    pub state: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// The provider's error, when it refused the login.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Takes the login in flight the callback names: once, before it expires.
async fn take_request(
    state: &AppState,
    id: Option<&str>,
) -> ApiResult<(LoginRequestRow, ConnectionRow)> {
    let stale = || ApiError::LoginFailed {
        code: "sso_state_invalid",
        detail: "This login is unknown, already used or expired: start again.".into(),
    };
    let id = id.ok_or_else(stale)?;
    let request = db::take_login_request(state.db.writer(), id, state.clock.now_ms())
        .await?
        .ok_or_else(stale)?;
    let conn = db::find_connection(state.db.reader(), &request.connection_id)
        .await?
        .ok_or_else(stale)?;
    Ok((request, conn))
}

/// Where the OpenID provider sends the browser back; ends in a session and a redirect.
#[utoipa::path(
    get, path = "/v1/sso/oidc/callback", tag = "sso", operation_id = "sso_oidc_callback",
    params(OidcCallbackQuery),
    responses(
        (status = 303, description = "Logged in: to the page the login asked for, with the session cookie"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    ),
    security(()),
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn oidc_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Query(q): Query<OidcCallbackQuery>,
) -> ApiResult<Response> {
    let (request, conn) = take_request(&state, q.state.as_deref()).await?;
    let ip = ip.as_deref();
    if let Some(error) = q.error {
        let detail = format!(
            "the provider refused the login: {error} {}",
            q.error_description.unwrap_or_default()
        );
        return Err(login::fail(
            &state,
            &conn,
            Failure::new("sso_provider_error", detail),
            ip,
        )
        .await);
    }
    let settings: OidcSettings = conn.settings.read("settings")?;
    let secret = open_secret(&state, &conn)?;
    let redirect_uri = oidc_redirect_uri(&crate::http::public_base(&state, &headers));
    let finished = oidc::finish(
        state.outbound.client(login::scope_of(&conn)?.env),
        &settings,
        &secret,
        oidc::Callback {
            code: q.code.as_deref().unwrap_or_default(),
            nonce: request.nonce.as_deref().unwrap_or_default(),
            pkce_verifier: request.pkce_verifier.as_deref().unwrap_or_default(),
            redirect_uri: &redirect_uri,
            now_ms: state.clock.now_ms(),
        },
    )
    .await;
    match finished {
        Ok(profile) => login::complete(&state, &conn, profile, &request.redirect_to, ip).await,
        Err(f) => Err(login::fail(&state, &conn, f, ip).await),
    }
}

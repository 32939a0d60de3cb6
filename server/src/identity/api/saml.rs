//! SAML 2.0 endpoints of a connection: our service provider's metadata, and the assertion
//! consumer service the identity provider POSTs its response to. The response is verified by
//! `identity::saml`; here it is matched to the login that asked for it (or accepted
//! unsolicited when the connection allows IdP-initiated logins), refused when replayed, and
//! turned into a login.
//!
//! The endpoints exist in every build, so the spec does not depend on build features; without
//! the `saml` feature (`protocol` below is then a stub) they answer `409 saml_not_enabled`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::connections::open_secret;
use crate::app::AppState;
use crate::http::auth::ClientIp;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Form, Path};
use crate::identity::model::{Kind, Profile, SamlSettings, check_redirect};
use crate::identity::oidc::Failure;
use crate::identity::saml::{self, Assertion, CLOCK_SKEW_MS, ServiceProvider};
use crate::identity::store::{self as db, ConnectionRow};
use crate::identity::login;
use crate::ids::ConnectionId;

/// Our side of a connection, at the URLs this server answers on.
pub fn service_provider(
    state: &AppState,
    headers: &HeaderMap,
    conn: &ConnectionRow,
    settings: &SamlSettings,
) -> ApiResult<ServiceProvider> {
    let base = crate::http::public_base(state, headers);
    Ok(ServiceProvider {
        entity_id: format!("{base}/v1/sso/saml/{}/metadata", conn.id),
        acs_url: format!("{base}/v1/sso/saml/{}/acs", conn.id),
        key_pem: open_secret(state, conn)?,
        cert_pem: settings.sp_cert_pem.clone(),
    })
}

async fn saml_connection(state: &AppState, id: &ConnectionId) -> ApiResult<(ConnectionRow, SamlSettings)> {
    let conn = db::find_connection(state.db.reader(), id.as_str())
        .await?
        .filter(|c| c.kind == "saml")
        .ok_or(ApiError::NotFound("sso_connection"))?;
    let settings = serde_json::from_str(&conn.settings).map_err(anyhow::Error::from)?;
    Ok((conn, settings))
}

/// The service provider metadata to give the identity provider.
#[utoipa::path(
    get, path = "/v1/sso/saml/{id}/metadata", tag = "sso", operation_id = "sso_saml_metadata",
    params(("id" = ConnectionId, Path)),
    responses(
        (status = 200, description = "SAML 2.0 metadata (EntityDescriptor)", content_type = "application/samlmetadata+xml", body = String),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(()),
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn metadata(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<ConnectionId>,
) -> ApiResult<Response> {
    let (conn, settings) = saml_connection(&state, &id).await?;
    let sp = service_provider(&state, &headers, &conn, &settings)?;
    let xml = saml::sp_metadata_xml(&sp).map_err(|e| ApiError::Internal(e.into()))?;
    let mut response = xml.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    Ok(response)
}

/// What the identity provider POSTs (HTTP-POST binding).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AcsForm {
    /// The base64 `samlp:Response`.
    #[serde(rename = "SAMLResponse")]
    pub saml_response: String,
    #[serde(rename = "RelayState")]
    pub relay_state: Option<String>,
}

/// The assertion consumer service: ends in a session and a redirect.
#[utoipa::path(
    post, path = "/v1/sso/saml/{id}/acs", tag = "sso", operation_id = "sso_saml_acs",
    params(("id" = ConnectionId, Path)),
    request_body(content = AcsForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Logged in: to the page the login asked for, with the session cookie"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(()),
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn acs(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Path(id): Path<ConnectionId>,
    Form(form): Form<AcsForm>,
) -> ApiResult<Response> {
    let (conn, settings) = saml_connection(&state, &id).await?;
    let ip = ip.as_deref();
    if conn.status != "active" {
        return Err(ApiError::conflict(
            "connection_inactive",
            "This single sign-on connection is inactive.",
        ));
    }
    let sp = service_provider(&state, &headers, &conn, &settings)?;
    let now = state.clock.now_ms();
    let checked = match saml::verify_response(&sp, &settings.idp, &form.saml_response, now) {
        Ok(assertion) => accept(&state, &conn, &settings, assertion, form.relay_state.as_deref(), now).await?,
        Err(e) => Err(Failure::new(e.code(), e.to_string())),
    };
    match checked {
        Ok((profile, redirect_to)) => login::complete(&state, &conn, profile, &redirect_to, ip).await,
        Err(f) => Err(login::fail(&state, &conn, f, ip).await),
    }
}

/// Matches a verified assertion to its login and claims it once; the profile and the page
/// to land on, or why not.
async fn accept(
    state: &AppState,
    conn: &ConnectionRow,
    settings: &SamlSettings,
    assertion: Assertion,
    relay_state: Option<&str>,
    now: i64,
) -> ApiResult<Result<(Profile, String), Failure>> {
    let redirect_to = match &assertion.in_response_to {
        Some(request_id) => match db::take_login_request(state.db.writer(), request_id, now).await? {
            Some(r) if r.connection_id == conn.id => r.redirect_to,
            _ => {
                return Ok(Err(Failure::new(
                    "saml_unknown_request",
                    "the response answers no pending login of this connection (used, expired or foreign)",
                )));
            }
        },
        None if settings.allow_idp_initiated => {
            check_redirect(relay_state.filter(|r| r.starts_with('/')))?
        }
        None => {
            return Ok(Err(Failure::new(
                "saml_unsolicited",
                "IdP-initiated logins are not allowed on this connection",
            )));
        }
    };
    let mut tx = state.db.write().await?;
    let fresh = db::claim_assertion(
        &mut tx,
        &conn.id,
        &assertion.id,
        assertion.not_on_or_after_ms + CLOCK_SKEW_MS,
        now,
    )
    .await?;
    tx.commit().await?;
    if !fresh {
        return Ok(Err(Failure::new(
            "saml_replayed",
            "this assertion was already used",
        )));
    }
    Ok(profile_of(&assertion).map(|p| (p, redirect_to)))
}

/// Where identity providers commonly put the email address and the groups.
const EMAIL_ATTRIBUTES: &[&str] = &[
    "email",
    "mail",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
];
const GROUP_ATTRIBUTES: &[&str] = &[
    "groups",
    "memberOf",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
];

fn profile_of(a: &Assertion) -> Result<Profile, Failure> {
    let first = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| a.attributes.get(*n).filter(|v| !v.is_empty()))
    };
    let email = first(EMAIL_ATTRIBUTES)
        .and_then(|v| v.first().cloned())
        .or_else(|| a.name_id.contains('@').then(|| a.name_id.clone()))
        .ok_or_else(|| {
            Failure::new(
                "sso_profile_incomplete",
                "the assertion has no email attribute and its NameID is not an address",
            )
        })?;
    Ok(Profile {
        subject: a.name_id.clone(),
        email,
        groups: first(GROUP_ATTRIBUTES).cloned().unwrap_or_default(),
    })
}

/// Checks an IdP's metadata and makes the connection's SAML settings, with a fresh SP key
/// (returned apart: it is sealed, never shown).
pub fn new_settings(metadata_xml: &str, allow_idp_initiated: bool, name: &str) -> ApiResult<(SamlSettings, String)> {
    let idp = saml::parse_idp_metadata(metadata_xml).map_err(|e| ApiError::Unprocessable {
        code: e.code(),
        detail: e.to_string(),
    })?;
    let (key_pem, cert_pem) =
        saml::generate_sp_credentials(name).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        SamlSettings {
            idp,
            sp_cert_pem: cert_pem,
            allow_idp_initiated,
        },
        key_pem,
    ))
}

/// The AuthnRequest URL for a login in flight whose id is `request_id`.
pub fn start(
    state: &AppState,
    headers: &HeaderMap,
    conn: &ConnectionRow,
    request_id: &str,
) -> ApiResult<Result<String, Failure>> {
    let settings: SamlSettings = serde_json::from_str(&conn.settings).map_err(anyhow::Error::from)?;
    let sp = service_provider(state, headers, conn, &settings)?;
    Ok(
        saml::authn_request_url(&sp, &settings.idp, request_id, "", state.clock.now_ms())
            .map_err(|e| Failure::new(e.code(), e.to_string())),
    )
}

/// What a connection shows of its SAML side.
pub fn details(state: &AppState, headers: &HeaderMap, conn: &ConnectionRow) -> ApiResult<serde_json::Value> {
    let s: SamlSettings = serde_json::from_str(&conn.settings).map_err(anyhow::Error::from)?;
    let base = crate::http::public_base(state, headers);
    let _ = Kind::Saml;
    Ok(json!({
        "idp_entity_id": s.idp.entity_id,
        "idp_sso_url": s.idp.sso_url,
        "sp_entity_id": format!("{base}/v1/sso/saml/{}/metadata", conn.id),
        "acs_url": format!("{base}/v1/sso/saml/{}/acs", conn.id),
        "metadata_url": format!("{base}/v1/sso/saml/{}/metadata", conn.id),
        "allow_idp_initiated": s.allow_idp_initiated,
    }))
}

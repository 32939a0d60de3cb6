//! SAML 2.0 endpoints of a connection: our service provider's metadata, and the assertion
//! consumer service the identity provider POSTs its response to. The response is verified by
//! `identity::saml`; here it is matched to the login that asked for it (or accepted
//! unsolicited when the connection allows IdP-initiated logins), refused when replayed, and
//! turned into a login.
//!
//! The endpoints exist in every build, so the spec does not depend on build features; without
//! the `saml` feature, `protocol` is a stub and they answer `409 saml_not_enabled`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::connections::open_secret;
use crate::app::AppState;
use crate::http::auth::ClientIp;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Form, Path};
use crate::identity::login;
use crate::identity::login::Failure;
use crate::outbound;
use crate::tenancy::Env;
use domain::identity::{Assertion, Profile, SamlSettings, ServiceProvider, check_redirect};
use domain::ids::ConnectionId;
use domain::webhooks::check_url;
use store::identity::{self as db, ConnectionRow};

/// The protocol itself, from `identity::saml`.
#[cfg(feature = "saml")]
mod protocol {
    use super::{ApiError, ApiResult, Assertion, Failure, ServiceProvider};
    use crate::identity::saml::{self, SamlError};
    use domain::identity::IdpMetadata;

    pub use saml::CLOCK_SKEW_MS;

    fn failure(e: SamlError) -> Failure {
        Failure::new(e.code(), e.to_string())
    }

    pub fn parse_metadata(xml: &str) -> ApiResult<IdpMetadata> {
        saml::parse_idp_metadata(xml).map_err(|e| ApiError::Unprocessable {
            code: e.code(),
            detail: e.to_string(),
        })
    }

    pub fn credentials(name: &str) -> ApiResult<(String, String)> {
        saml::generate_sp_credentials(name).map_err(|e| ApiError::Internal(e.into()))
    }

    pub fn sp_metadata(sp: &ServiceProvider) -> ApiResult<String> {
        saml::sp_metadata_xml(sp).map_err(|e| ApiError::Internal(e.into()))
    }

    pub fn authn_url(
        sp: &ServiceProvider,
        idp: &IdpMetadata,
        id: &str,
        now: i64,
    ) -> Result<String, Failure> {
        saml::authn_request_url(sp, idp, id, "", now).map_err(failure)
    }

    pub fn verify(
        sp: &ServiceProvider,
        idp: &IdpMetadata,
        response: &str,
        now: i64,
    ) -> Result<Assertion, Failure> {
        saml::verify_response(sp, idp, response, now).map_err(failure)
    }
}

/// Without the `saml` feature: every use says so.
#[cfg(not(feature = "saml"))]
mod protocol {
    use super::{ApiError, ApiResult, Assertion, Failure, ServiceProvider};
    use domain::identity::IdpMetadata;

    pub const CLOCK_SKEW_MS: i64 = 0;

    pub fn not_enabled() -> ApiError {
        ApiError::conflict(
            "saml_not_enabled",
            "This server was built without SAML support (cargo feature `saml`).",
        )
    }

    pub fn parse_metadata(_: &str) -> ApiResult<IdpMetadata> {
        Err(not_enabled())
    }

    pub fn credentials(_: &str) -> ApiResult<(String, String)> {
        Err(not_enabled())
    }

    pub fn sp_metadata(_: &ServiceProvider) -> ApiResult<String> {
        Err(not_enabled())
    }

    pub fn authn_url(
        _: &ServiceProvider,
        _: &IdpMetadata,
        _: &str,
        _: i64,
    ) -> Result<String, Failure> {
        Err(Failure::new(
            "saml_not_enabled",
            "this server was built without SAML support",
        ))
    }

    pub fn verify(
        _: &ServiceProvider,
        _: &IdpMetadata,
        _: &str,
        _: i64,
    ) -> Result<Assertion, Failure> {
        Err(Failure::new(
            "saml_not_enabled",
            "this server was built without SAML support",
        ))
    }
}

/// How a SAML connection is created: the identity provider's metadata, inline or by URL
/// (fetched once, now).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SamlRequest {
    /// The IdP's metadata XML (an `EntityDescriptor`).
    pub idp_metadata_xml: Option<String>,
    /// Or where to fetch it: https (http and local hosts only in the sandbox).
    #[schema(example = "https://acme.okta.com/app/exk1/sso/saml/metadata")]
    pub idp_metadata_url: Option<String>,
    /// Accept logins the IdP starts (no AuthnRequest of ours). Default false.
    #[serde(default)]
    pub allow_idp_initiated: bool,
}

/// What a connection shows of its SAML side: what to give the identity provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct SamlDetails {
    #[schema(example = "https://idp.acme.com/metadata")]
    pub idp_entity_id: String,
    #[schema(example = "https://idp.acme.com/sso")]
    pub idp_sso_url: String,
    /// Our entity id (also where our metadata is served).
    #[schema(
        example = "https://api.example.com/v1/sso/saml/conn_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e/metadata"
    )]
    pub sp_entity_id: String,
    /// Where the identity provider POSTs its responses.
    #[schema(
        example = "https://api.example.com/v1/sso/saml/conn_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e/acs"
    )]
    pub acs_url: String,
    pub allow_idp_initiated: bool,
}

fn sp_urls(base: &str, conn_id: &str) -> (String, String) {
    (
        format!("{base}/v1/sso/saml/{conn_id}/metadata"),
        format!("{base}/v1/sso/saml/{conn_id}/acs"),
    )
}

pub fn details(base: &str, conn: &ConnectionRow) -> ApiResult<SamlDetails> {
    let s = settings_of(conn)?;
    let (sp_entity_id, acs_url) = sp_urls(base, &conn.id);
    Ok(SamlDetails {
        idp_entity_id: s.idp.entity_id,
        idp_sso_url: s.idp.sso_url,
        sp_entity_id,
        acs_url,
        allow_idp_initiated: s.allow_idp_initiated,
    })
}

/// The IdP's metadata XML, as given or fetched.
async fn metadata_xml(state: &AppState, env: Env, req: &SamlRequest) -> ApiResult<String> {
    let url = match (&req.idp_metadata_xml, &req.idp_metadata_url) {
        (Some(xml), None) => return Ok(xml.clone()),
        (None, Some(url)) => check_url(url, env).map_err(|_| {
            ApiError::validation(
                "saml.idp_metadata_url",
                "must be an https URL (http and local hosts only in the sandbox)",
            )
        })?,
        _ => {
            return Err(ApiError::validation(
                "saml",
                "give exactly one of idp_metadata_xml and idp_metadata_url",
            ));
        }
    };
    let unreachable = |e: outbound::Error| ApiError::Unprocessable {
        code: "saml_metadata_unreachable",
        detail: format!("The metadata could not be fetched from {url}: {e}"),
    };
    let http = state.outbound.client(env);
    let response = http
        .send(http.request(reqwest::Method::GET, &url))
        .await
        .and_then(|r| Ok(r.error_for_status()?))
        .map_err(unreachable)?;
    response.text().await.map_err(|e| unreachable(e.into()))
}

/// Checks the IdP's metadata and makes the connection's settings, with a fresh SP key
/// (returned apart: it is sealed, never shown).
pub async fn new_settings(
    state: &AppState,
    env: Env,
    req: &SamlRequest,
    name: &str,
) -> ApiResult<(SamlSettings, String)> {
    let idp = protocol::parse_metadata(&metadata_xml(state, env, req).await?)?;
    let (key_pem, cert_pem) = protocol::credentials(name)?;
    Ok((
        SamlSettings {
            idp,
            sp_cert_pem: cert_pem,
            allow_idp_initiated: req.allow_idp_initiated,
        },
        key_pem,
    ))
}

/// Our side of a connection, at the URLs this server answers on.
fn service_provider(
    state: &AppState,
    headers: &HeaderMap,
    conn: &ConnectionRow,
    settings: &SamlSettings,
) -> ApiResult<ServiceProvider> {
    let (entity_id, acs_url) = sp_urls(&crate::http::public_base(state, headers), &conn.id);
    Ok(ServiceProvider {
        entity_id,
        acs_url,
        key_pem: open_secret(state, conn)?,
        cert_pem: settings.sp_cert_pem.clone(),
    })
}

fn settings_of(conn: &ConnectionRow) -> ApiResult<SamlSettings> {
    Ok(conn.settings.read("settings")?)
}

/// The AuthnRequest URL for a login in flight whose id is `request_id`.
pub fn start(
    state: &AppState,
    headers: &HeaderMap,
    conn: &ConnectionRow,
    request_id: &str,
) -> ApiResult<Result<String, Failure>> {
    let settings = settings_of(conn)?;
    let sp = service_provider(state, headers, conn, &settings)?;
    Ok(protocol::authn_url(
        &sp,
        &settings.idp,
        request_id,
        state.clock.now_ms(),
    ))
}

async fn saml_connection(state: &AppState, id: &ConnectionId) -> ApiResult<ConnectionRow> {
    db::find_connection(state.db.reader(), id.as_str())
        .await?
        .filter(|c| c.kind == domain::identity::Kind::Saml)
        .ok_or(ApiError::NotFound("sso_connection"))
}

/// The service provider metadata to give the identity provider.
#[utoipa::path(
    get, path = "/v1/sso/saml/{id}/metadata", tag = "sso", operation_id = "sso_saml_metadata",
    params(("id" = ConnectionId, Path)),
    responses(
        (status = 200, description = "SAML 2.0 metadata (an EntityDescriptor)", content_type = "application/samlmetadata+xml", body = String),
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
    let conn = saml_connection(&state, &id).await?;
    let sp = service_provider(&state, &headers, &conn, &settings_of(&conn)?)?;
    let mut response = protocol::sp_metadata(&sp)?.into_response();
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
        (status = 409, response = crate::openapi::Conflict),
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
    let conn = saml_connection(&state, &id).await?;
    if conn.status != domain::identity::ConnectionStatus::Active {
        return Err(ApiError::conflict(
            "connection_inactive",
            "This single sign-on connection is inactive.",
        ));
    }
    let settings = settings_of(&conn)?;
    let sp = service_provider(&state, &headers, &conn, &settings)?;
    let now = state.clock.now_ms();
    let ip = ip.as_deref();
    let checked = match protocol::verify(&sp, &settings.idp, &form.saml_response, now) {
        Ok(assertion) => {
            accept(
                &state,
                &conn,
                &settings,
                &assertion,
                form.relay_state.as_deref(),
                now,
            )
            .await?
        }
        Err(f) => Err(f),
    };
    match checked {
        Ok((profile, redirect_to)) => {
            login::complete(&state, &conn, profile, &redirect_to, ip).await
        }
        Err(f) => Err(login::fail(&state, &conn, f, ip).await),
    }
}

/// Claims a verified assertion (once: a replay is refused) and matches it to its login: the
/// profile and the page to land on, or why not.
async fn accept(
    state: &AppState,
    conn: &ConnectionRow,
    settings: &SamlSettings,
    assertion: &Assertion,
    relay_state: Option<&str>,
    now: i64,
) -> ApiResult<Result<(Profile, String), Failure>> {
    let mut tx = state.db.write().await?;
    let fresh = db::claim_assertion(
        &mut tx,
        &conn.id,
        &assertion.id,
        assertion.not_on_or_after_ms + protocol::CLOCK_SKEW_MS,
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
    let redirect_to = match &assertion.in_response_to {
        Some(request_id) => {
            match db::take_login_request(state.db.writer(), request_id, now).await? {
                Some(r) if r.connection_id == conn.id => r.redirect_to,
                _ => {
                    return Ok(Err(Failure::new(
                        "saml_unknown_request",
                        "the response answers no pending login of this connection (used, expired or another's)",
                    )));
                }
            }
        }
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
    Ok(profile_of(assertion).map(|p| (p, redirect_to)))
}

/// Where identity providers commonly put the email address and the groups.
const EMAIL_ATTRIBUTES: &[&str] = &[
    "email",
    "mail",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
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
        email,
        groups: first(GROUP_ATTRIBUTES).cloned().unwrap_or_default(),
    })
}

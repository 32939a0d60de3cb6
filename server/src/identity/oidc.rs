//! OpenID Connect, authorization code flow with PKCE, through the `openidconnect` crate:
//! discovery, the authorization URL, the code exchange and the ID token's verification
//! (signature against the provider's keys, issuer, audience, expiry against `Clock`, nonce).

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use std::future::Future;
use std::pin::Pin;

use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};

use super::login::Failure;
use crate::outbound::{self, Client};
use domain::identity::{OidcSettings, Profile};

/// openidconnect's HTTP client over ours (a named type: a closure returning a borrowing
/// future would not be `Send` for every lifetime, which axum handlers need). Every call the
/// crate makes (discovery, keys, tokens) goes through `outbound`, so a provider's metadata
/// cannot point the server at an internal address either.
struct Http(Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = outbound::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, outbound::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(self.0.clone(), request))
    }
}

async fn send(client: Client, request: HttpRequest) -> Result<HttpResponse, outbound::Error> {
    let (parts, body) = request.into_parts();
    let request = client
        .request(parts.method, &parts.uri.to_string())
        .headers(parts.headers)
        .body(body);
    let response = client.send(request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await?.to_vec();
    let mut out = HttpResponse::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

/// The provider's metadata, from its discovery document.
pub async fn discover(http: &Client, issuer: &str) -> Result<CoreProviderMetadata, Failure> {
    let issuer = IssuerUrl::new(issuer.to_owned())
        .map_err(|e| Failure::new("oidc_discovery_failed", format!("bad issuer URL: {e}")))?;
    CoreProviderMetadata::discover_async(issuer, &Http(http.clone()))
        .await
        .map_err(|e| {
            Failure::new(
                "oidc_discovery_failed",
                format!(
                    "the provider's discovery document could not be used: {}",
                    outbound::with_causes(&e)
                ),
            )
        })
}

/// What a login in flight keeps to finish: its state, nonce and PKCE verifier.
pub struct Started {
    pub url: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The provider's authorization URL for a login whose state is `state`.
pub fn authorize(
    metadata: CoreProviderMetadata,
    settings: &OidcSettings,
    redirect_uri: &str,
    state: &str,
) -> Result<Started, Failure> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| Failure::new("sso_misconfigured", format!("bad redirect URI: {e}")))?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        None,
    )
    .set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = state.to_owned();
    let (url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    Ok(Started {
        url: url.to_string(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

/// What the callback carries back, with what the login in flight kept.
pub struct Callback<'a> {
    pub code: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    pub redirect_uri: &'a str,
    pub now_ms: i64,
}

/// Exchanges the code and verifies the ID token; the profile is what it asserts.
pub async fn finish(
    http: &Client,
    settings: &OidcSettings,
    client_secret: &str,
    cb: Callback<'_>,
) -> Result<Profile, Failure> {
    let metadata = discover(http, &settings.issuer).await?;
    let redirect = RedirectUrl::new(cb.redirect_uri.to_owned())
        .map_err(|e| Failure::new("sso_misconfigured", format!("bad redirect URI: {e}")))?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(client_secret.to_owned())),
    )
    .set_redirect_uri(redirect);
    let tokens = client
        .exchange_code(AuthorizationCode::new(cb.code.to_owned()))
        .map_err(|e| Failure::new("sso_misconfigured", e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(cb.pkce_verifier.to_owned()))
        .request_async(&Http(http.clone()))
        .await
        .map_err(|e| {
            Failure::new(
                "oidc_token_exchange_failed",
                format!(
                    "the provider refused the code: {}",
                    outbound::with_causes(&e)
                ),
            )
        })?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| Failure::new("oidc_invalid_id_token", "the provider sent no ID token"))?;
    let now = chrono::DateTime::from_timestamp_millis(cb.now_ms)
        .ok_or_else(|| Failure::new("oidc_invalid_id_token", "the clock is out of range"))?;
    let verifier = client.id_token_verifier().set_time_fn(move || now);
    let claims = id_token
        .claims(&verifier, &Nonce::new(cb.nonce.to_owned()))
        .map_err(|e| Failure::new("oidc_invalid_id_token", e.to_string()))?;
    if claims.email_verified() == Some(false) {
        return Err(Failure::new(
            "sso_email_unverified",
            "the provider says the user's email address is not verified",
        ));
    }
    let email = claims.email().map(|e| e.to_string()).ok_or_else(|| {
        Failure::new(
            "sso_profile_incomplete",
            "the ID token has no email claim (ask for the email scope)",
        )
    })?;
    Ok(Profile {
        email,
        groups: groups_claim(&id_token.to_string()),
    })
}

/// The non-standard `groups` claim of a token whose signature is already verified.
fn groups_claim(jwt: &str) -> Vec<String> {
    use base64::Engine;
    jwt.split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
        .and_then(|claims| {
            claims.get("groups").and_then(|g| g.as_array()).map(|g| {
                g.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default()
}

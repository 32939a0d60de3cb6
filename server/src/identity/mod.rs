//! Enterprise identity: single sign-on per organization (OpenID Connect; SAML 2.0 behind the
//! `saml` feature), verified email domains that route logins and may require single
//! sign-on, and just-in-time provisioning of the members who log in.

pub mod api;
pub mod link;
pub mod login;
pub mod oidc;
#[cfg(feature = "saml")]
pub mod saml;
pub mod scim;

use crate::http::error::{ApiError, ApiResult};

/// Refuses a password login (or sign-up) for an address whose verified domain requires
/// single sign-on.
pub async fn check_password_allowed(db: &store::Db, email: &str) -> ApiResult<()> {
    let domain = domain::identity::email_domain(email);
    match store::identity::verified_domain(db.reader(), domain).await? {
        Some(d) if d.sso_required != 0 => Err(ApiError::SsoRequired(d.domain)),
        _ => Ok(()),
    }
}

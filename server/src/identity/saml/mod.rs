//! SAML 2.0 service provider: the pure protocol half of enterprise SSO (no HTTP, no database).
//!
//! - [`parse_idp_metadata`] reads an IdP's metadata; [`sp_metadata_xml`] writes ours.
//! - [`authn_request_url`] starts a login (HTTP-Redirect binding).
//! - [`verify_response`] checks a POSTed `SAMLResponse` and yields the [`Assertion`]; the
//!   caller still matches `in_response_to` against its pending requests and refuses a replayed
//!   assertion `id` until `not_on_or_after_ms`.
//!
//! Signatures are checked by xmlsec (through the `samael` crate), which also reduces the
//! document to the signed elements: everything read afterwards comes from that reduced
//! document, so unsigned content wrapped around a signed element is never trusted.

mod credentials;
mod decrypt;
mod metadata;
mod request;
mod response;

pub use credentials::generate_sp_credentials;
pub use metadata::{parse_idp_metadata, sp_metadata_xml};
pub use request::authn_request_url;
pub use response::verify_response;

pub use domain::identity::{Assertion, IdpMetadata, ServiceProvider};

/// How far the IdP's clock may be from ours when checking validity windows.
pub const CLOCK_SKEW_MS: i64 = 120_000;

/// Why a SAML operation failed; [`SamlError::code`] is stable for API clients.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    #[error("the SAML message is malformed: {0}")]
    Malformed(String),
    #[error("the SAML response carries no signature")]
    Unsigned,
    #[error("the SAML response's signature is invalid or not from the identity provider")]
    BadSignature,
    #[error("the SAML assertion has expired")]
    Expired,
    #[error("the SAML assertion is not valid yet")]
    NotYetValid,
    #[error("the SAML assertion is not meant for this service provider")]
    WrongAudience,
    #[error("the SAML response was sent to another assertion consumer service")]
    WrongRecipient,
    #[error("the SAML response comes from another identity provider: {0}")]
    WrongIssuer(String),
    #[error("the identity provider refused the login: {0}")]
    Status(String),
    #[error("the encrypted SAML assertion could not be decrypted: {0}")]
    DecryptionFailed(String),
    #[error("the identity provider metadata is invalid: {0}")]
    MetadataInvalid(String),
}

impl SamlError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "saml_malformed",
            Self::Unsigned => "saml_unsigned",
            Self::BadSignature => "saml_bad_signature",
            Self::Expired => "saml_expired",
            Self::NotYetValid => "saml_not_yet_valid",
            Self::WrongAudience => "saml_wrong_audience",
            Self::WrongRecipient => "saml_wrong_recipient",
            Self::WrongIssuer(_) => "saml_wrong_issuer",
            Self::Status(_) => "saml_status",
            Self::DecryptionFailed(_) => "saml_decryption_failed",
            Self::MetadataInvalid(_) => "saml_metadata_invalid",
        }
    }

    fn malformed(error: impl std::fmt::Display) -> Self {
        Self::Malformed(error.to_string())
    }
}

/// The base64 DER inside a PEM certificate (or a bare base64 DER, returned as is).
fn pem_body(cert: &str) -> String {
    cert.lines()
        .filter(|line| !line.starts_with("-----"))
        .flat_map(|line| line.split_whitespace())
        .collect()
}

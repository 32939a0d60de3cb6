//! Single sign-on rules: connection kinds and settings, role mappings, the profile a login
//! yields, domain names and where a login may send the browser. No IO.

pub mod scim_schema;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How long a started login may take to come back from the identity provider.
pub const LOGIN_TTL_MS: i64 = 10 * 60 * 1000;

/// Where a login lands when it did not ask for a page.
pub const DEFAULT_REDIRECT: &str = "/portal/";

/// The TXT record a domain's owner publishes to prove it: `_neoforge-verification.<domain>`.
pub const VERIFICATION_LABEL: &str = "_neoforge-verification";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Oidc,
    Saml,
}

/// Whether a connection takes logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionStatus {
    Active,
    /// Logins are refused.
    Inactive,
}

impl ConnectionStatus {
    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        match raw {
            "active" => Ok(ConnectionStatus::Active),
            "inactive" => Ok(ConnectionStatus::Inactive),
            _ => Err(Error::validation(field, "must be active or inactive")),
        }
    }
}

/// The settings of an OpenID Connect connection that may be shown (the secret never is).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
}

/// An identity-provider group (or SAML `groups` attribute value) and the role it grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    #[cfg_attr(feature = "openapi", schema(example = "engineering"))]
    pub group: String,
    /// A built-in role name (not `owner`) or a custom role id.
    #[cfg_attr(feature = "openapi", schema(example = "developer"))]
    pub role: String,
}

/// The first mapping whose group the user is in picks the role; otherwise the default.
pub fn role_for<'a>(mappings: &'a [RoleMapping], groups: &[String], default: &'a str) -> &'a str {
    mappings
        .iter()
        .find(|m| groups.iter().any(|g| g == &m.group))
        .map_or(default, |m| m.role.as_str())
}

/// Who the identity provider says logged in.
#[derive(Debug, Clone)]
pub struct Profile {
    pub email: String,
    pub groups: Vec<String>,
}

/// A lower-cased DNS name with at least two labels of letters, digits and inner hyphens.
pub fn check_domain(raw: &str) -> Result<String> {
    let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let labels: Vec<&str> = domain.split('.').collect();
    if domain.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
        return Err(Error::validation(
            "domain",
            "must be a domain name such as example.com",
        ));
    }
    Ok(domain)
}

/// The domain part of a normalised email address.
pub fn email_domain(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, d)| d)
}

/// A page of this server to land on after logging in: a path, never another origin.
pub fn check_redirect(raw: Option<&str>) -> Result<String> {
    let Some(path) = raw else {
        return Ok(DEFAULT_REDIRECT.to_owned());
    };
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control);
    if !local || path.len() > 2000 {
        return Err(Error::validation(
            "redirect_to",
            "must be a path on this server, such as /portal/",
        ));
    }
    Ok(path.to_owned())
}

// ---------- SAML (the protocol is `identity::saml`, feature `saml`) ----------

/// What we need of an identity provider, from its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// Its SingleSignOnService for the HTTP-Redirect binding.
    pub sso_url: String,
    /// Certificates whose keys may sign responses, each as base64 DER (the metadata's
    /// `X509Certificate` text, whitespace removed); PEM is accepted too.
    pub signing_certs: Vec<String>,
}

/// Our side of one SSO connection.
#[derive(Debug, Clone)]
pub struct ServiceProvider {
    /// Our entity id for this connection (the audience the IdP must name).
    pub entity_id: String,
    /// Where the IdP POSTs its response (HTTP-POST binding).
    pub acs_url: String,
    /// PEM private key that decrypts encrypted assertions (`saml::generate_sp_credentials`).
    pub key_pem: String,
    /// PEM certificate of `key_pem`, advertised in our metadata as the encryption key.
    pub cert_pem: String,
}

/// What a verified assertion says about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The assertion's ID: refuse it again until `not_on_or_after_ms` (replay).
    pub id: String,
    pub issuer: String,
    pub name_id: String,
    /// Values by attribute `Name`; an attribute with a `FriendlyName` (`email` for
    /// `urn:oid:0.9.2342.19200300.100.1.3`) is listed under that name too.
    pub attributes: std::collections::BTreeMap<String, Vec<String>>,
    /// The AuthnRequest ID this answers; `None` for an IdP-initiated login.
    pub in_response_to: Option<String>,
    /// When the assertion stops being acceptable (without the clock skew).
    pub not_on_or_after_ms: i64,
}

/// A SAML connection's settings that may be shown; its SP key is sealed apart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlSettings {
    pub idp: IdpMetadata,
    pub sp_cert_pem: String,
    /// Accept responses no login of ours asked for.
    pub allow_idp_initiated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised_and_checked() {
        assert_eq!(check_domain(" Acme.COM. ").expect("ok"), "acme.com");
        assert_eq!(
            check_domain("eu.acme-corp.io").expect("ok"),
            "eu.acme-corp.io"
        );
        for bad in ["acme", "-acme.com", "acme..com", "ac me.com", "a@b.com", ""] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_stay_on_this_server() {
        assert_eq!(check_redirect(None).expect("default"), "/portal/");
        assert_eq!(
            check_redirect(Some("/portal/keys")).expect("ok"),
            "/portal/keys"
        );
        for bad in [
            "https://evil.test/",
            "//evil.test",
            "/\\evil.test",
            "portal",
        ] {
            assert!(check_redirect(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_first_matching_group_picks_the_role() {
        let mappings = vec![
            RoleMapping {
                group: "admins".into(),
                role: "admin".into(),
            },
            RoleMapping {
                group: "eng".into(),
                role: "developer".into(),
            },
        ];
        let groups = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            role_for(&mappings, &groups(&["eng"]), "viewer"),
            "developer"
        );
        assert_eq!(
            role_for(&mappings, &groups(&["eng", "admins"]), "viewer"),
            "admin"
        );
        assert_eq!(role_for(&mappings, &groups(&["sales"]), "viewer"), "viewer");
    }
}

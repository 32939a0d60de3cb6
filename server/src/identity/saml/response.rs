//! Consuming a login: verifying the POSTed `SAMLResponse`.
//!
//! Order matters. The raw document is parsed only to refuse early (a failure status) and to
//! find what to verify; xmlsec then verifies every signature and reduces the document to the
//! signed elements, and the assertion is read from that reduced copy. The signed element must
//! also be the one the raw response presents (same ID, at the same place), so a signed
//! element moved elsewhere next to a forged one (signature wrapping) is refused, not skipped.

use std::collections::BTreeMap;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use samael::schema::{Assertion as SamlAssertion, Issuer, Status, SubjectConfirmationData};
use serde::Deserialize;

use super::decrypt::{EncryptedAssertion, decrypt_assertion};
use super::metadata::certificate_der;
use super::{Assertion, CLOCK_SKEW_MS, IdpMetadata, SamlError, ServiceProvider};

const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG_NS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// SHA-1 (pysaml2's and old ADFS's default) is refused: collisions are practical.
const ALLOWED_SIGNATURES: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// `samlp:Response`, as far as we read it (samael's cannot hold pysaml2's encryption).
#[derive(Debug, Deserialize)]
struct Response {
    #[serde(rename = "@ID")]
    id: String,
    #[serde(rename = "@Destination")]
    destination: Option<String>,
    #[serde(rename = "Issuer")]
    issuer: Option<Issuer>,
    #[serde(rename = "Status")]
    status: Option<Status>,
    #[serde(rename = "Assertion")]
    assertion: Option<SamlAssertion>,
    #[serde(rename = "EncryptedAssertion")]
    encrypted_assertion: Option<EncryptedAssertion>,
}

fn parse_response(xml: &str) -> Result<Response, SamlError> {
    quick_xml::de::from_str(xml).map_err(SamlError::malformed)
}

pub fn verify_response(
    sp: &ServiceProvider,
    idp: &IdpMetadata,
    saml_response_b64: &str,
    now_ms: i64,
) -> Result<Assertion, SamlError> {
    let xml = decode_base64(saml_response_b64)?;
    let raw = parse_response(&xml)?;
    check_response(sp, idp, &raw)?;
    let certs = idp
        .signing_certs
        .iter()
        .map(|cert| certificate_der(cert).map(CertificateDer::from))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| SamlError::MetadataInvalid("a signing certificate is invalid".into()))?;

    // An assertion signed only inside its encryption is verified once decrypted.
    let decrypted = match &raw.encrypted_assertion {
        Some(encrypted) if !has_signature(&xml)? => {
            Some(decrypt_assertion(encrypted, &sp.key_pem)?)
        }
        _ => None,
    };
    let signed_document = decrypted.as_deref().unwrap_or(&xml);
    if !has_signature(signed_document)? {
        return Err(SamlError::Unsigned);
    }
    let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        signed_document,
        &certs,
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(ALLOWED_SIGNATURES),
    )
    .map_err(|_| SamlError::BadSignature)?;

    let assertion = match (root_element(&reduced)?, &decrypted) {
        (Root::Response, None) => {
            let signed = parse_response(&reduced)?;
            if signed.id != raw.id {
                return Err(SamlError::BadSignature);
            }
            match (signed.assertion, &signed.encrypted_assertion) {
                (Some(assertion), None) => assertion,
                (None, Some(encrypted)) => {
                    parse_assertion(&decrypt_assertion(encrypted, &sp.key_pem)?)?
                }
                _ => {
                    return Err(SamlError::malformed(
                        "the response holds no single assertion",
                    ));
                }
            }
        }
        (Root::Assertion, _) => {
            let signed = parse_assertion(&reduced)?;
            let presented = match &decrypted {
                Some(plain) => Some(parse_assertion(plain)?.id),
                None => raw.assertion.map(|a| a.id),
            };
            if presented.as_deref() != Some(signed.id.as_str()) {
                return Err(SamlError::BadSignature);
            }
            signed
        }
        (Root::Response, Some(_)) => {
            return Err(SamlError::malformed(
                "a response inside an encrypted assertion",
            ));
        }
    };
    check_assertion(sp, idp, assertion, now_ms)
}

fn decode_base64(b64: &str) -> Result<String, SamlError> {
    use base64::Engine as _;
    let compact: String = b64.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SamlError::malformed("SAMLResponse is not base64"))?;
    let xml =
        String::from_utf8(bytes).map_err(|_| SamlError::malformed("SAMLResponse is not UTF-8"))?;
    without_doctype(xml)
}

/// SAML messages carry no DTD; refusing one keeps entity tricks (expansion bombs, external
/// entities) away from both XML parsers. Applies to decrypted assertions too: anyone can
/// encrypt to our public certificate.
pub(super) fn without_doctype(xml: String) -> Result<String, SamlError> {
    if xml.contains("<!DOCTYPE") {
        return Err(SamlError::malformed("a DOCTYPE is not allowed"));
    }
    Ok(xml)
}

fn parse_assertion(xml: &str) -> Result<SamlAssertion, SamlError> {
    xml.parse().map_err(SamlError::malformed)
}

/// Response-level checks. They read the unverified response, which is safe because they
/// can only refuse; a signed response is the same element (its ID is compared later).
fn check_response(
    sp: &ServiceProvider,
    idp: &IdpMetadata,
    raw: &Response,
) -> Result<(), SamlError> {
    let status = raw
        .status
        .as_ref()
        .and_then(|status| status.status_code.value.as_deref())
        .ok_or_else(|| SamlError::malformed("the response has no status"))?;
    if status != STATUS_SUCCESS {
        return Err(SamlError::Status(status.to_owned()));
    }
    if raw.destination.as_ref().is_some_and(|d| *d != sp.acs_url) {
        return Err(SamlError::WrongRecipient);
    }
    match raw
        .issuer
        .as_ref()
        .and_then(|issuer| issuer.value.as_deref())
    {
        Some(issuer) if issuer != idp.entity_id => Err(SamlError::WrongIssuer(issuer.to_owned())),
        _ => Ok(()),
    }
}

/// The checks of SAML's Web Browser SSO profile on a signed assertion, then what it says.
fn check_assertion(
    sp: &ServiceProvider,
    idp: &IdpMetadata,
    assertion: SamlAssertion,
    now_ms: i64,
) -> Result<Assertion, SamlError> {
    let issuer = assertion.issuer.value.unwrap_or_default();
    if issuer != idp.entity_id {
        return Err(SamlError::WrongIssuer(issuer));
    }
    let conditions = assertion.conditions.ok_or(SamlError::WrongAudience)?;
    check_window(conditions.not_before, conditions.not_on_or_after, now_ms)?;
    let restrictions = conditions.audience_restrictions.unwrap_or_default();
    if restrictions.is_empty()
        || !restrictions
            .iter()
            .all(|r| r.audience.contains(&sp.entity_id))
    {
        return Err(SamlError::WrongAudience);
    }

    let subject = assertion
        .subject
        .ok_or_else(|| SamlError::malformed("the assertion has no subject"))?;
    let name_id = subject
        .name_id
        .map(|name_id| name_id.value)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| SamlError::malformed("the assertion has no NameID"))?;
    let confirmation = bearer_confirmation(sp, subject.subject_confirmations.unwrap_or_default())?;
    let confirmation_end = confirmation
        .not_on_or_after
        .ok_or_else(|| SamlError::malformed("the bearer confirmation has no NotOnOrAfter"))?;
    check_window(confirmation.not_before, Some(confirmation_end), now_ms)?;

    let not_on_or_after_ms = conditions
        .not_on_or_after
        .map_or(confirmation_end, |end| end.min(confirmation_end))
        .timestamp_millis();
    Ok(Assertion {
        id: assertion.id,
        issuer,
        name_id,
        attributes: attributes(assertion.attribute_statements.unwrap_or_default()),
        in_response_to: confirmation.in_response_to,
        not_on_or_after_ms,
    })
}

/// The bearer confirmation addressed to our ACS.
fn bearer_confirmation(
    sp: &ServiceProvider,
    confirmations: Vec<samael::schema::SubjectConfirmation>,
) -> Result<SubjectConfirmationData, SamlError> {
    confirmations
        .into_iter()
        .filter(|c| c.method.as_deref() == Some(BEARER))
        .filter_map(|c| c.subject_confirmation_data)
        .find(|data| data.recipient.as_deref() == Some(sp.acs_url.as_str()))
        .ok_or(SamlError::WrongRecipient)
}

type Instant = Option<chrono::DateTime<chrono::Utc>>;

fn check_window(
    not_before: Instant,
    not_on_or_after: Instant,
    now_ms: i64,
) -> Result<(), SamlError> {
    if not_before.is_some_and(|t| now_ms < t.timestamp_millis() - CLOCK_SKEW_MS) {
        return Err(SamlError::NotYetValid);
    }
    if not_on_or_after.is_some_and(|t| now_ms >= t.timestamp_millis() + CLOCK_SKEW_MS) {
        return Err(SamlError::Expired);
    }
    Ok(())
}

fn attributes(
    statements: Vec<samael::schema::AttributeStatement>,
) -> BTreeMap<String, Vec<String>> {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for attribute in statements.into_iter().flat_map(|s| s.attributes) {
        let values: Vec<String> = attribute
            .values
            .into_iter()
            .filter_map(|v| v.value)
            .collect();
        let names = [attribute.name, attribute.friendly_name];
        let mut names: Vec<String> = names
            .into_iter()
            .flatten()
            .filter(|n| !n.is_empty())
            .collect();
        names.dedup();
        for name in names {
            by_name
                .entry(name)
                .or_default()
                .extend(values.iter().cloned());
        }
    }
    by_name
}

/// Whether any XML-DSig `Signature` element is present, to tell unsigned from badly signed.
fn has_signature(xml: &str) -> Result<bool, SamlError> {
    let mut reader = NsReader::from_str(xml);
    loop {
        match reader.read_resolved_event().map_err(SamlError::malformed)? {
            (ResolveResult::Bound(Namespace(DSIG_NS)), Event::Start(e) | Event::Empty(e))
                if e.local_name().as_ref() == b"Signature" =>
            {
                return Ok(true);
            }
            (_, Event::Eof) => return Ok(false),
            _ => {}
        }
    }
}

enum Root {
    Response,
    Assertion,
}

fn root_element(xml: &str) -> Result<Root, SamlError> {
    let mut reader = NsReader::from_str(xml);
    loop {
        match reader.read_resolved_event().map_err(SamlError::malformed)? {
            (ResolveResult::Bound(Namespace(ns)), Event::Start(e) | Event::Empty(e)) => {
                return match (ns, e.local_name().as_ref()) {
                    (PROTOCOL_NS, b"Response") => Ok(Root::Response),
                    (ASSERTION_NS, b"Assertion") => Ok(Root::Assertion),
                    _ => Err(SamlError::malformed(
                        "the signed element is no Response or Assertion",
                    )),
                };
            }
            (_, Event::Start(_) | Event::Empty(_) | Event::Eof) => {
                return Err(SamlError::malformed(
                    "the signed element is no SAML element",
                ));
            }
            _ => {}
        }
    }
}

//! Metadata: reading an IdP's, writing ours.

use samael::key_info::{KeyInfo, X509Data};
use samael::metadata::{
    EncryptionMethod, EntityDescriptor, HTTP_POST_BINDING, HTTP_REDIRECT_BINDING, IndexedEndpoint,
    KeyDescriptor, SpSsoDescriptor,
};
use samael::traits::ToXml;

use super::{IdpMetadata, SamlError, ServiceProvider, pem_body};

/// Parses an IdP's `EntityDescriptor`. Its own signature, if any, is not checked: the
/// administrator who uploads it is the trust anchor.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, SamlError> {
    let invalid = |why: &str| SamlError::MetadataInvalid(why.to_owned());
    let entity: EntityDescriptor = xml
        .parse()
        .map_err(|e| SamlError::MetadataInvalid(format!("not an EntityDescriptor: {e}")))?;
    let entity_id = entity
        .entity_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid("no entityID"))?;
    let descriptors = entity.idp_sso_descriptors.unwrap_or_default();
    let sso_url = descriptors
        .iter()
        .flat_map(|d| &d.single_sign_on_services)
        .find(|service| service.binding == HTTP_REDIRECT_BINDING)
        .map(|service| service.location.clone())
        .ok_or_else(|| invalid("no SingleSignOnService with the HTTP-Redirect binding"))?;
    let signing_certs = descriptors
        .iter()
        .flat_map(|d| &d.key_descriptors)
        // A KeyDescriptor without `use` serves both signing and encryption.
        .filter(|key| matches!(key.key_use.as_deref(), None | Some("") | Some("signing")))
        .filter_map(|key| key.key_info.x509_data.as_ref())
        .flat_map(|data| &data.certificates)
        .map(|cert| {
            let body = pem_body(cert);
            certificate_der(&body).map(|_| body).ok_or_else(|| {
                invalid("a signing certificate is not a base64 DER X.509 certificate")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if signing_certs.is_empty() {
        return Err(invalid("no signing certificate"));
    }
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        signing_certs,
    })
}

/// The DER of a certificate given as base64 DER or PEM, if it is one.
pub(super) fn certificate_der(cert: &str) -> Option<Vec<u8>> {
    let der = samael::crypto::decode_x509_cert(&pem_body(cert)).ok()?;
    openssl::x509::X509::from_der(der.der_data()).ok()?;
    Some(der.der_data().to_vec())
}

/// Our metadata for one connection: entity id, the ACS (HTTP-POST) and the certificate the
/// IdP encrypts assertions to. We sign no requests and want signed assertions.
pub fn sp_metadata_xml(sp: &ServiceProvider) -> Result<String, SamlError> {
    let cert = certificate_der(&sp.cert_pem)
        .ok_or_else(|| SamlError::malformed("the service provider certificate is not X.509"))?;
    let encryption_key = KeyDescriptor {
        key_use: Some("encryption".to_owned()),
        key_info: KeyInfo {
            id: None,
            x509_data: Some(X509Data {
                certificates: vec![samael::crypto::mime_encode_x509_cert(&cert.into())],
            }),
        },
        encryption_methods: Some(
            super::decrypt::CONTENT_ALGORITHMS
                .iter()
                .chain([&super::decrypt::KEY_TRANSPORT])
                .map(|algorithm| EncryptionMethod {
                    algorithm: (*algorithm).to_owned(),
                })
                .collect(),
        ),
    };
    let descriptor = SpSsoDescriptor {
        protocol_support_enumeration: Some("urn:oasis:names:tc:SAML:2.0:protocol".to_owned()),
        key_descriptors: Some(vec![encryption_key]),
        authn_requests_signed: Some(false),
        want_assertions_signed: Some(true),
        assertion_consumer_services: vec![IndexedEndpoint {
            binding: HTTP_POST_BINDING.to_owned(),
            location: sp.acs_url.clone(),
            index: 0,
            is_default: Some(true),
            response_location: None,
        }],
        ..SpSsoDescriptor::default()
    };
    EntityDescriptor {
        entity_id: Some(sp.entity_id.clone()),
        sp_sso_descriptors: Some(vec![descriptor]),
        ..EntityDescriptor::default()
    }
    .to_string()
    .map_err(SamlError::malformed)
}

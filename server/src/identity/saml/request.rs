//! Starting a login: the AuthnRequest, HTTP-Redirect binding.

use samael::metadata::HTTP_POST_BINDING;
use samael::schema::{AuthnRequest, Issuer};

use super::{IdpMetadata, SamlError, ServiceProvider};

/// The IdP URL to send the browser to: `SAMLRequest` (deflated, base64, url-encoded
/// AuthnRequest with `ID=request_id`, our ACS and entity id) and `RelayState`. Unsigned, as our
/// metadata says (`AuthnRequestsSigned="false"`).
pub fn authn_request_url(
    sp: &ServiceProvider,
    idp: &IdpMetadata,
    request_id: &str,
    relay_state: &str,
    now_ms: i64,
) -> Result<String, SamlError> {
    let issue_instant = chrono::DateTime::from_timestamp_millis(now_ms)
        .ok_or_else(|| SamlError::malformed("the time is out of range"))?;
    let request = AuthnRequest {
        id: request_id.to_owned(),
        version: "2.0".to_owned(),
        issue_instant,
        destination: Some(idp.sso_url.clone()),
        issuer: Some(Issuer {
            value: Some(sp.entity_id.clone()),
            ..Issuer::default()
        }),
        assertion_consumer_service_url: Some(sp.acs_url.clone()),
        protocol_binding: Some(HTTP_POST_BINDING.to_owned()),
        ..AuthnRequest::default()
    };
    let url = request
        .redirect(relay_state)
        .map_err(SamlError::malformed)?
        .ok_or_else(|| SamlError::malformed("the request has no destination"))?;
    Ok(url.into())
}

//! A connection's own key pair.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};

use super::SamlError;

/// A fresh RSA-2048 key and a self-signed certificate for it, both PEM. SAML peers use the
/// certificate only to carry the key, so it never expires (RFC 5280's 99991231235959Z), which
/// also keeps the clock out of it.
pub fn generate_sp_credentials(common_name: &str) -> Result<(String, String), SamlError> {
    build(common_name).map_err(|e| SamlError::Malformed(format!("key generation failed: {e}")))
}

fn build(common_name: &str) -> Result<(String, String), openssl::error::ErrorStack> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", common_name)?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, openssl::bn::MsbOption::MAYBE_ZERO, false)?;

    let mut cert = X509::builder()?;
    cert.set_version(2)?;
    cert.set_serial_number(Asn1Integer::from_bn(&serial)?.as_ref())?;
    cert.set_subject_name(&name)?;
    cert.set_issuer_name(&name)?;
    cert.set_pubkey(&key)?;
    cert.set_not_before(Asn1Time::from_unix(0)?.as_ref())?;
    cert.set_not_after(Asn1Time::from_str("99991231235959Z")?.as_ref())?;
    cert.sign(&key, MessageDigest::sha256())?;

    let key_pem = String::from_utf8_lossy(&key.private_key_to_pem_pkcs8()?).into_owned();
    let cert_pem = String::from_utf8_lossy(&cert.build().to_pem()?).into_owned();
    Ok((key_pem, cert_pem))
}

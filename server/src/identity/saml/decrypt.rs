//! XML Encryption of assertions: the content key is RSA-OAEP wrapped to our certificate.
//!
//! samael decrypts only AES-128, slices attacker-sized buffers without checks and cannot read
//! pysaml2's EncryptedAssertion (it wants an `xmlns:ds` on KeyInfo); IdPs use more (pysaml2
//! sends 3DES, Okta and ADFS AES-256), so the element is read and decrypted here, with OpenSSL.

use openssl::encrypt::Decrypter;
use openssl::pkey::PKey;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};
use serde::Deserialize;

use super::SamlError;

/// The key transport we accept. RSA PKCS#1 v1.5 (`rsa-1_5`) is refused: it is open to
/// padding-oracle attacks.
pub(super) const KEY_TRANSPORT: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";

/// Content encryption we accept, strongest first (the order our metadata advertises).
pub(super) const CONTENT_ALGORITHMS: &[&str] = &[
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
];

const GCM_TAG_LEN: usize = 16;

/// `saml:EncryptedAssertion`: the EncryptedKey sits in EncryptedData's KeyInfo or beside it.
#[derive(Debug, Deserialize)]
pub(super) struct EncryptedAssertion {
    #[serde(rename = "EncryptedData")]
    data: Encrypted,
    #[serde(rename = "EncryptedKey", default)]
    keys: Vec<Encrypted>,
}

/// `xenc:EncryptedData` or `xenc:EncryptedKey`.
#[derive(Debug, Deserialize)]
struct Encrypted {
    #[serde(rename = "EncryptionMethod")]
    method: Method,
    #[serde(rename = "KeyInfo")]
    key_info: Option<KeyInfo>,
    #[serde(rename = "CipherData")]
    cipher_data: CipherData,
}

#[derive(Debug, Deserialize)]
struct Method {
    #[serde(rename = "@Algorithm")]
    algorithm: String,
}

#[derive(Debug, Deserialize)]
struct KeyInfo {
    #[serde(rename = "EncryptedKey", default)]
    keys: Vec<Encrypted>,
}

#[derive(Debug, Deserialize)]
struct CipherData {
    #[serde(rename = "CipherValue")]
    value: String,
}

/// The assertion XML inside `encrypted`, decrypted with our PEM private key.
pub(super) fn decrypt_assertion(
    encrypted: &EncryptedAssertion,
    key_pem: &str,
) -> Result<String, SamlError> {
    let failed = |why: &str| SamlError::DecryptionFailed(why.to_owned());
    let data = &encrypted.data;
    let wrapped_key = data
        .key_info
        .iter()
        .flat_map(|info| &info.keys)
        .chain(&encrypted.keys)
        .find(|key| key.method.algorithm == KEY_TRANSPORT)
        .ok_or_else(|| failed("no EncryptedKey with RSA-OAEP (rsa-oaep-mgf1p)"))?;
    let key = PKey::private_key_from_pem(key_pem.as_bytes())
        .map_err(|_| failed("the service provider key is not a PEM private key"))?;
    let content_key = rsa_oaep_decrypt(&key, &base64_decode(&wrapped_key.cipher_data.value)?)
        .map_err(|_| failed("the content key is not encrypted to our certificate"))?;
    let plaintext = symmetric_decrypt(
        &data.method.algorithm,
        &content_key,
        &base64_decode(&data.cipher_data.value)?,
    )?;
    let xml = String::from_utf8(plaintext).map_err(|_| failed("the plaintext is not UTF-8"))?;
    super::response::without_doctype(xml)
}

fn base64_decode(text: &str) -> Result<Vec<u8>, SamlError> {
    use base64::Engine as _;
    let compact: String = text.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SamlError::DecryptionFailed("a CipherValue is not base64".to_owned()))
}

fn rsa_oaep_decrypt(
    key: &PKey<openssl::pkey::Private>,
    wrapped: &[u8],
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let mut decrypter = Decrypter::new(key)?;
    decrypter.set_rsa_padding(Padding::PKCS1_OAEP)?;
    let mut out = vec![0; decrypter.decrypt_len(wrapped)?];
    let len = decrypter.decrypt(wrapped, &mut out)?;
    out.truncate(len);
    Ok(out)
}

/// The IV leads the ciphertext; GCM's tag trails it. CBC padding is XML Encryption's (the
/// last byte counts the padding bytes, whose values are arbitrary), so it is removed here.
fn symmetric_decrypt(method: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SamlError> {
    let failed = |why: &str| SamlError::DecryptionFailed(why.to_owned());
    let (cipher, gcm) = match method {
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => (Cipher::aes_256_gcm(), true),
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => (Cipher::aes_128_gcm(), true),
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => (Cipher::aes_256_cbc(), false),
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => (Cipher::aes_128_cbc(), false),
        "http://www.w3.org/2001/04/xmlenc#tripledes-cbc" => (Cipher::des_ede3_cbc(), false),
        other => {
            return Err(SamlError::DecryptionFailed(format!(
                "unsupported content encryption {other}"
            )));
        }
    };
    if key.len() != cipher.key_len() {
        return Err(failed("the content key has the wrong length"));
    }
    let iv_len = cipher.iv_len().unwrap_or(0);
    let tag_len = if gcm { GCM_TAG_LEN } else { 0 };
    if data.len() < iv_len + tag_len + 1 {
        return Err(failed("the ciphertext is too short"));
    }
    let (iv, rest) = data.split_at(iv_len);
    let (body, tag) = rest.split_at(rest.len() - tag_len);

    let crypt = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut crypter = Crypter::new(cipher, Mode::Decrypt, key, Some(iv))?;
        crypter.pad(false);
        if gcm {
            crypter.set_tag(tag)?;
        }
        let mut out = vec![0; body.len() + cipher.block_size()];
        let mut len = crypter.update(body, &mut out)?;
        len += crypter.finalize(&mut out[len..])?;
        out.truncate(len);
        Ok(out)
    };
    let mut plain = crypt().map_err(|_| failed("the ciphertext does not decrypt"))?;
    if !gcm {
        let pad = plain.last().copied().map_or(0, usize::from);
        if pad == 0 || pad > cipher.block_size() || pad > plain.len() {
            return Err(failed("bad padding"));
        }
        plain.truncate(plain.len() - pad);
    }
    Ok(plain)
}

//! Encryption at rest for secrets the server must read back (tenants' Stripe keys and webhook
//! signing secrets), unlike API keys and passwords, which are only ever compared and so are
//! hashed (`secret.rs`).
//!
//! One master key (`--encryption-key`, base64 of 32 bytes) seals values with
//! XChaCha20-Poly1305 and a random 192-bit nonce. The stored form is versioned text:
//! `v1.<base64url nonce>.<base64url ciphertext+tag>`. The associated data binds a sealed value
//! to where it belongs (tenant, environment, column), so a ciphertext copied to another row
//! does not open.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const VERSION: &str = "v1";
const NONCE_LEN: usize = 24;

/// The master key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    /// Parses base64 (standard alphabet, padded or not) of exactly 32 bytes. The message never
    /// repeats the input.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bytes = STANDARD
            .decode(s)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(s))
            .map_err(|_| "the encryption key must be base64 (of 32 random bytes)".to_owned())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!(
                "the encryption key must be 32 bytes once decoded, not {}",
                b.len()
            )
        })?;
        Ok(MasterKey(bytes))
    }

    /// A key derived from what a caller presents again, never stored: an idempotent
    /// request's credential, key and body seal its stored response, so the database alone
    /// cannot read the secrets a replay answers with.
    pub fn derived(parts: &[&[u8]]) -> Self {
        let domain: &[u8] = b"neoforge.derived-key.v1";
        MasterKey(crate::secret::digest_bytes(&[&[domain], parts].concat()))
    }

    /// Encrypts `plaintext`, bound to `context` (which `open` must be given again).
    pub fn seal(&self, context: &str, plaintext: &str) -> anyhow::Result<String> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        Ok(format!(
            "{VERSION}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce_bytes),
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    /// Decrypts what `seal` made with the same key and context; fails on any tampering.
    pub fn open(&self, context: &str, sealed: &str) -> anyhow::Result<String> {
        let mut parts = sealed.split('.');
        let (Some(version), Some(nonce), Some(body), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            anyhow::bail!("not a sealed value");
        };
        if version != VERSION {
            anyhow::bail!("unknown sealed-value version {version:?}");
        }
        let nonce: [u8; NONCE_LEN] = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| anyhow::anyhow!("bad nonce in sealed value"))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| anyhow::anyhow!("bad ciphertext encoding"))?;
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let plain = cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow::anyhow!("sealed value does not open: wrong key, context, or tampered")
            })?;
        String::from_utf8(plain).map_err(|_| anyhow::anyhow!("sealed value is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> MasterKey {
        MasterKey::from_bytes([b; 32])
    }

    #[test]
    fn roundtrip_with_random_nonces() {
        let k = key(7);
        let a = k.seal("org_1/test/stripe", "sk_test_abc").expect("seal");
        let b = k.seal("org_1/test/stripe", "sk_test_abc").expect("seal");
        assert!(a.starts_with("v1."));
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("sk_test_abc"));
        assert_eq!(
            k.open("org_1/test/stripe", &a).expect("open"),
            "sk_test_abc"
        );
        assert_eq!(
            k.open("org_1/test/stripe", &b).expect("open"),
            "sk_test_abc"
        );
    }

    #[test]
    fn tampering_is_detected() {
        let k = key(7);
        let sealed = k.seal("ctx", "whsec_123").expect("seal");
        let (head, body) = sealed.rsplit_once('.').expect("parts");
        let mut bytes = URL_SAFE_NO_PAD.decode(body).expect("b64");
        bytes[0] ^= 1;
        let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert!(k.open("ctx", &tampered).is_err());
        assert!(
            k.open("other ctx", &sealed).is_err(),
            "bound to its context"
        );
        assert!(k.open("ctx", &sealed.replacen("v1", "v9", 1)).is_err());
        assert!(k.open("ctx", "garbage").is_err());
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = key(1).seal("ctx", "sk_test_x").expect("seal");
        assert!(key(2).open("ctx", &sealed).is_err());
    }

    #[test]
    fn keys_parse_from_base64_of_32_bytes() {
        let b64 = STANDARD.encode([9u8; 32]);
        assert!(MasterKey::parse(&b64).is_ok());
        assert!(MasterKey::parse(&STANDARD.encode([9u8; 16])).is_err());
        assert!(MasterKey::parse("not base64!").is_err());
        assert_eq!(format!("{:?}", key(3)), "MasterKey(***)");
    }
}

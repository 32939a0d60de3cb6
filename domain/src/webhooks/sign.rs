//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): `webhook-signature` is
//! `v1,` and the base64 HMAC-SHA256, keyed with the base64-decoded part of the `whsec_` secret,
//! of `"{webhook-id}.{webhook-timestamp}.{body}"`. Several signatures are space-separated.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// One `v1,` signature of a message with one secret.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .map_err(|e| Error::Internal(anyhow::anyhow!("undecodable webhook secret: {e}")))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|e| Error::Internal(anyhow::anyhow!("unusable webhook secret: {e}")))?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header value: one signature per secret (the current one, and the
/// previous one while a rotation's grace period lasts).
pub fn header(secrets: &[&str], msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String> {
    let sigs = secrets
        .iter()
        .map(|s| sign(s, msg_id, timestamp, body))
        .collect::<Result<Vec<_>>>()?;
    Ok(sigs.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector the Standard Webhooks reference libraries share: reproducing it is what
    /// shows a receiver's stock library will accept our signatures.
    #[test]
    fn reproduces_the_standard_webhooks_test_vector() {
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .expect("signs");
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn any_change_changes_the_signature() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let base = sign(secret, "msg_1", 1, b"{}").expect("signs");
        assert_ne!(base, sign(secret, "msg_2", 1, b"{}").expect("signs"));
        assert_ne!(base, sign(secret, "msg_1", 2, b"{}").expect("signs"));
        assert_ne!(base, sign(secret, "msg_1", 1, b"[]").expect("signs"));
        let other = crate::webhooks::generate_secret();
        assert_ne!(base, sign(&other, "msg_1", 1, b"{}").expect("signs"));
        let both = header(&[secret, &other], "msg_1", 1, b"{}").expect("signs");
        assert!(both.starts_with(&format!("{base} v1,")));
    }

    #[test]
    fn a_bad_secret_is_an_error_not_a_panic() {
        assert!(sign("whsec_***", "msg_1", 1, b"{}").is_err());
    }
}

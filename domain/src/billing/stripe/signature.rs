//! Stripe's webhook signatures: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=…]`, where
//! each `v1` is HMAC-SHA256 of `"{t}.{raw body}"` keyed by the endpoint's signing secret
//! (`whsec_…`, used as given). Checked in constant time, with a tolerance on `t` against the
//! server's clock so an old delivery cannot be replayed.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Stripe's default: five minutes.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("no v1 signature matches the payload")]
    Mismatch,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
}

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> Result<Hmac<Sha256>, SignatureError> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Malformed)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    Ok(mac)
}

/// The header value Stripe would send for `payload` at `timestamp`.
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let hex = mac(secret, timestamp, payload)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={timestamp},v1={hex}")
}

/// Accepts `header` when one of its `v1` signatures is `payload`'s under `secret` and its
/// timestamp is within `tolerance_secs` of `now_secs` (either way).
pub fn verify(
    payload: &[u8],
    header: &str,
    secret: &str,
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) => {
                timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?);
            }
            Some(("v1", sig)) => {
                if let Ok(bytes) = hex::decode(sig) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let expected = mac(secret, timestamp, payload)?;
    let matches = signatures
        .iter()
        .any(|sig| expected.clone().verify_slice(sig).is_ok());
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if (now_secs - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    #[test]
    fn a_fresh_signature_verifies() {
        let header = sign(BODY, SECRET, 1_700_000_000);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(verify(BODY, &header, SECRET, 1_700_000_010, 300), Ok(()));
    }

    #[test]
    fn any_of_several_v1_signatures_may_match() {
        let good = sign(BODY, SECRET, 1_700_000_000);
        let v1 = good.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let header = format!("t=1700000000,v1={},v1={v1},v0=abc", "00".repeat(32));
        assert_eq!(verify(BODY, &header, SECRET, 1_700_000_000, 300), Ok(()));
    }

    #[test]
    fn wrong_secret_body_or_timestamp_fail() {
        let header = sign(BODY, SECRET, 1_700_000_000);
        assert_eq!(
            verify(BODY, &header, "whsec_other", 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"{}", &header, SECRET, 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        let moved = header.replace("t=1700000000", "t=1700000001");
        assert_eq!(
            verify(BODY, &moved, SECRET, 1_700_000_000, 300),
            Err(SignatureError::Mismatch),
            "the timestamp is signed too"
        );
    }

    #[test]
    fn stale_and_future_timestamps_fail() {
        let header = sign(BODY, SECRET, 1_700_000_000);
        assert_eq!(
            verify(BODY, &header, SECRET, 1_700_000_301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(BODY, &header, SECRET, 1_699_999_600, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(verify(BODY, &header, SECRET, 1_700_000_300, 300), Ok(()));
    }

    #[test]
    fn malformed_headers_fail() {
        for h in [
            "",
            "v1=abcd",
            "t=x,v1=abcd",
            "t=1700000000",
            "t=1700000000,v1=zz",
        ] {
            assert_eq!(
                verify(BODY, h, SECRET, 1_700_000_000, 300),
                Err(SignatureError::Malformed),
                "{h:?}"
            );
        }
    }
}

//! Secrets: bearer tokens (API keys, session and invitation tokens) and passwords.
//!
//! Tokens carry 190 bits of randomness, so a plain SHA-256 is enough to store them: the
//! database never holds a usable token. Passwords are low-entropy and get argon2id.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new token: `prefix` followed by 32 random base62 characters.
pub fn generate_token(prefix: &str) -> String {
    let mut token = String::with_capacity(prefix.len() + 32);
    token.push_str(prefix);
    for _ in 0..32 {
        token.push(char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]));
    }
    token
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hex SHA-256 of arbitrary bytes (request fingerprints).
pub fn digest(parts: &[&[u8]]) -> String {
    hex::encode(digest_bytes(parts))
}

/// SHA-256 of the parts, each prefixed by its length, so that no two lists of parts collide.
pub fn digest_bytes(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// The `password_hash` of an account made by provisioning (SCIM, SSO): not a PHC string, so
/// no password ever verifies against it.
pub const UNUSABLE_PASSWORD_HASH: &str = "!unusable";

/// Argon2id PHC string. CPU-heavy: call from a blocking thread.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

/// Constant-time check of a password against its PHC string. CPU-heavy.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let a = generate_token("nf_test_");
        let b = generate_token("nf_test_");
        assert!(a.starts_with("nf_test_") && a.len() == 40);
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert!(!hash_token(&a).contains(&a[8..]));
    }

    #[test]
    fn passwords_verify() {
        let phc = hash_password("correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterY", &phc));
        assert!(!verify_password("x", "not a phc string"));
        assert!(!verify_password("", UNUSABLE_PASSWORD_HASH));
        assert!(!verify_password("!unusable", UNUSABLE_PASSWORD_HASH));
    }

    #[test]
    fn digest_separates_parts() {
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
    }
}

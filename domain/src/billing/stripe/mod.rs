//! Stripe's conventions that need no network: what a secret key says about itself, and
//! webhook signatures.

pub mod signature;

use crate::tenancy::Env;

/// `sk_test_…4242`: enough to recognise a key, never enough to use it.
pub fn key_hint(secret_key: &str) -> String {
    let prefix = ["sk_test_", "sk_live_", "rk_test_", "rk_live_"]
        .into_iter()
        .find(|p| secret_key.starts_with(p))
        .unwrap_or("");
    let tail: String = secret_key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{prefix}…{tail}")
}

/// Which environment a Stripe secret key belongs to, by its prefix.
pub fn key_env(secret_key: &str) -> Option<Env> {
    if secret_key.starts_with("sk_test_") || secret_key.starts_with("rk_test_") {
        Some(Env::Test)
    } else if secret_key.starts_with("sk_live_") || secret_key.starts_with("rk_live_") {
        Some(Env::Live)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_show_the_prefix_and_last_four() {
        assert_eq!(key_hint("sk_test_abcdef4242"), "sk_test_…4242");
        assert_eq!(key_hint("sk_live_zz9999"), "sk_live_…9999");
        assert_eq!(key_hint("ab"), "…ab");
    }

    #[test]
    fn keys_say_their_environment() {
        assert_eq!(key_env("sk_test_1"), Some(Env::Test));
        assert_eq!(key_env("rk_live_1"), Some(Env::Live));
        assert_eq!(key_env("pk_test_1"), None);
    }
}

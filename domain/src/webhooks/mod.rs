//! Webhook rules without IO: the event types, endpoint filters, URLs, secrets and the retry
//! schedule.

pub mod sign;
pub mod views;

use std::net::IpAddr;

use crate::error::{Error, Result};
use crate::tenancy::Env;

/// Whether an endpoint receives events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum EndpointStatus {
    Enabled,
    Disabled,
}

/// Where a delivery stands: retried while `pending`, until it succeeds or its retries run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

/// Every event type NeoForge emits. `emit` refuses others, and endpoints subscribe to these
/// (or to `*` or a `prefix.*` pattern).
pub const EVENT_TYPES: &[&str] = &[
    "customer.created",
    "customer.updated",
    "subscription.created",
    "subscription.updated",
    "subscription.canceled",
    "subscription.paused",
    "subscription.resumed",
    "subscription.trial_will_end",
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice.refunded",
    "invoice.disputed",
    "credit_note.created",
    "billing_portal.session.created",
    "checkout.session.completed",
    "checkout.session.expired",
    "usage.threshold_reached",
    "webhook_endpoint.disabled",
    "directory.user_created",
    "directory.user_updated",
    "directory.user_deleted",
    "directory.group_created",
    "directory.group_updated",
    "directory.group_deleted",
    "directory.group_member_added",
    "directory.group_member_removed",
];

/// At most this many entries in an endpoint's `enabled_events`.
pub const MAX_FILTERS: usize = 64;

/// Whether an endpoint subscribed to `filters` receives events of `event_type`.
pub fn matches(filters: &[String], event_type: &str) -> bool {
    filters.iter().any(|f| {
        f == "*"
            || f == event_type
            || f.strip_suffix('*')
                .is_some_and(|prefix| prefix.ends_with('.') && event_type.starts_with(prefix))
    })
}

/// Checks and normalises (dedupes, keeps order) an `enabled_events` list.
pub fn check_filters(filters: &[String]) -> Result<Vec<String>> {
    let field = "enabled_events";
    if filters.is_empty() {
        return Err(Error::validation(
            field,
            "must list at least one event type, or \"*\"",
        ));
    }
    if filters.len() > MAX_FILTERS {
        return Err(Error::validation(
            field,
            format!("must list at most {MAX_FILTERS} entries"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(filters.len());
    for (i, f) in filters.iter().enumerate() {
        let known = f == "*"
            || EVENT_TYPES.contains(&f.as_str())
            || f.strip_suffix(".*").is_some_and(|prefix| {
                !prefix.is_empty()
                    && EVENT_TYPES
                        .iter()
                        .any(|t| t.strip_prefix(prefix).is_some_and(|r| r.starts_with('.')))
            });
        if !known {
            return Err(Error::validation(
                &format!("{field}[{i}]"),
                format!(
                    "unknown event type {f:?}: use \"*\", a known type or a prefix like \"invoice.*\""
                ),
            ));
        }
        if !out.contains(f) {
            out.push(f.clone());
        }
    }
    Ok(out)
}

pub const MAX_URL_LEN: usize = 2048;

/// An endpoint URL: absolute http(s) with a host, no credentials; https only in live mode,
/// where addresses that are not public (`outbound::is_public`) are refused too (the sandbox may use them,
/// so a local receiver works while developing).
pub fn check_url(raw: &str, env: Env) -> Result<String> {
    let field = "url";
    if raw.len() > MAX_URL_LEN {
        return Err(Error::validation(
            field,
            format!("must be at most {MAX_URL_LEN} characters"),
        ));
    }
    let url = url::Url::parse(raw)
        .map_err(|_| Error::validation(field, "must be an absolute http(s) URL"))?;
    match (url.scheme(), env) {
        ("https", _) | ("http", Env::Test) => {}
        ("http", Env::Live) => {
            return Err(Error::validation(
                field,
                "must use https in live mode (http is accepted in the sandbox)",
            ));
        }
        _ => {
            return Err(Error::validation(field, "must be an absolute http(s) URL"));
        }
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(Error::validation(field, "must name a host"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::validation(field, "must not carry credentials"));
    }
    if env == Env::Live {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        // Names are checked again where they resolve, at every connection (`outbound`).
        let internal = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<IpAddr>()
                .is_ok_and(|ip| !crate::net::is_public(ip));
        if internal {
            return Err(Error::validation(
                field,
                "must not point to an address that is not public in live mode",
            ));
        }
    }
    Ok(url.to_string())
}

pub const MAX_DESCRIPTION_LEN: usize = 500;

/// A description, trimmed; an empty one means none.
pub fn check_description(d: &str) -> Result<Option<String>> {
    let d = d.trim();
    if d.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(Error::validation(
            "description",
            format!("must be at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    Ok((!d.is_empty()).then(|| d.to_owned()))
}

/// Waits after the n-th failed attempt (1-based) before the next one: 5 s, 5 min, 30 min,
/// 2 h, 5 h, 10 h, 10 h, 24 h. Nine attempts over about 2.2 days in all.
pub const RETRY_SCHEDULE_MS: &[i64] = &[
    5_000,
    5 * 60_000,
    30 * 60_000,
    2 * HOUR_MS,
    5 * HOUR_MS,
    10 * HOUR_MS,
    10 * HOUR_MS,
    24 * HOUR_MS,
];

const HOUR_MS: i64 = 3_600_000;

/// The delay before the next attempt after `failures` failed ones, or None when the delivery
/// has had its last attempt and is given up (`failed`).
pub fn retry_delay_ms(failures: i64) -> Option<i64> {
    let i = usize::try_from(failures.checked_sub(1)?).ok()?;
    RETRY_SCHEDULE_MS.get(i).copied()
}

/// An endpoint whose attempts have all failed for this long (none succeeded in between) is
/// disabled, and a `webhook_endpoint.disabled` event goes to the tenant's other endpoints.
pub const DISABLE_AFTER_FAILING_MS: i64 = 5 * 24 * HOUR_MS;

/// After a rotation, the previous secret keeps signing (a second `v1,` signature) this long,
/// so receivers can switch over without dropping deliveries.
pub const PREVIOUS_SECRET_GRACE_MS: i64 = 24 * HOUR_MS;

/// A claimed delivery is not attempted by anyone else for this long. Longer than the HTTP
/// timeout, so only a worker that died mid-send lets another one retry.
pub const CLAIM_LEASE_MS: i64 = 60_000;

/// A new signing secret: `whsec_` and the base64 of 32 random bytes (Standard Webhooks).
pub fn generate_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The form read APIs show: the prefix and the last four characters.
pub fn mask_secret(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("whsec_…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_schedule_then_gives_up() {
        let table: &[(i64, Option<i64>)] = &[
            (0, None),
            (1, Some(5_000)),
            (2, Some(300_000)),
            (3, Some(1_800_000)),
            (4, Some(7_200_000)),
            (5, Some(18_000_000)),
            (6, Some(36_000_000)),
            (7, Some(36_000_000)),
            (8, Some(86_400_000)),
            (9, None),
            (100, None),
            (-1, None),
        ];
        for (failures, want) in table {
            assert_eq!(
                retry_delay_ms(*failures),
                *want,
                "after {failures} failures"
            );
        }
    }

    #[test]
    fn filters_match_exact_all_and_prefix() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches(&f(&["*"]), "invoice.paid"));
        assert!(matches(&f(&["invoice.paid"]), "invoice.paid"));
        assert!(!matches(&f(&["invoice.paid"]), "invoice.voided"));
        assert!(matches(&f(&["invoice.*"]), "invoice.voided"));
        assert!(!matches(&f(&["invoice.*"]), "customer.created"));
        assert!(!matches(&f(&["invoice*"]), "invoice.paid"));
        assert!(!matches(&f(&[]), "invoice.paid"));
    }

    #[test]
    fn filters_are_checked() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_filters(&f(&["invoice.*", "customer.created", "invoice.*"])).expect("valid"),
            f(&["invoice.*", "customer.created"])
        );
        for bad in [
            &[][..],
            &["invoice.pai"],
            &["nothing.*"],
            &[".*"],
            &["invoice*"],
        ] {
            assert!(check_filters(&f(bad)).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn urls_are_checked_per_environment() {
        assert!(check_url("http://127.0.0.1:9000/hook", Env::Test).is_ok());
        assert!(check_url("https://example.com/hook", Env::Live).is_ok());
        for bad in [
            "http://example.com/hook",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://[::1]/hook",
            "https://localhost/hook",
        ] {
            assert!(check_url(bad, Env::Live).is_err(), "{bad} accepted");
        }
        for bad in [
            "/hook",
            "ftp://example.com",
            "https://u:p@example.com/",
            "nope",
        ] {
            assert!(check_url(bad, Env::Test).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn secrets_are_standard_and_masked() {
        let s = generate_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(s.len(), "whsec_".len() + 44);
        assert_ne!(s, generate_secret());
        let masked = mask_secret(&s);
        assert!(masked.starts_with("whsec_…") && masked.ends_with(&s[s.len() - 4..]));
    }
}

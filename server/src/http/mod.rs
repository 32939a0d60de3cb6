//! Cross-cutting HTTP concerns shared by every endpoint.

pub mod auth;
pub mod error;
pub mod extract;
pub mod faults;
pub mod health;
pub mod idempotency;
pub mod objects;
pub mod pagination;
pub mod request_id;

use axum::http::HeaderMap;

use crate::app::AppState;

/// This server's public base URL, for links handed to others (Stripe's webhook URL, the
/// single sign-on redirect URI): `--public-url`, else the request's Host, over https unless
/// the host is local (or `X-Forwarded-Proto` says otherwise).
pub fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.payments.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or(
            if host.starts_with("127.0.0.1") || host.starts_with("localhost") {
                "http"
            } else {
                "https"
            },
        );
    format!("{scheme}://{host}")
}

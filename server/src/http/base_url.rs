//! This server's public base URL, for links it hands out (webhook URLs given to Stripe, SCIM
//! resources' `meta.location`).

use axum::http::HeaderMap;

/// `--public-url` when set, else the request's Host header over https (http on loopback, or
/// as `X-Forwarded-Proto` says).
pub fn public_base(configured: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(url) = configured {
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

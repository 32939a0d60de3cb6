//! SCIM 2.0 provisioning (RFC 7643, RFC 7644): an organization's directory (Entra ID, Okta…)
//! creates, updates and removes its users and groups at `/scim/v2`, authenticated by a SCIM
//! token of the organization (`tokens`). A SCIM user is a NeoForge account with a membership
//! in the organization (`access`); deactivating it suspends the membership. Every change is
//! audited and sent as a `directory.*` webhook event in the token's environment.
//!
//! Layout: `schema` (the published schemas), `resource` (checking and rendering resources),
//! `filter`, `patch` (no IO); `store` (SQL); `wire`, `error`, `auth` (SCIM's HTTP);
//! `resources` (the operations), `endpoints` and `discovery` (the routes), `tokens`.

mod access;
pub mod auth;
pub mod discovery;
pub mod endpoints;
pub mod error;
pub mod filter;
pub mod patch;
pub mod resource;
mod resources;
pub mod tokens;
mod wire;

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::http::error::ApiError;

/// The answer to an unknown route or method: a SCIM error under `/scim/v2`, else `fallback`.
pub fn unrouted(uri: &Uri, status: StatusCode, fallback: ApiError) -> Response {
    if uri.path().starts_with("/scim/v2") {
        let detail = if status == StatusCode::NOT_FOUND {
            "No such SCIM endpoint."
        } else {
            "This SCIM endpoint does not support that method."
        };
        error::ScimError::new(status, detail).into_response()
    } else {
        fallback.into_response()
    }
}

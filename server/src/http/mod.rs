//! Cross-cutting HTTP concerns shared by every endpoint.

pub mod auth;
pub mod base_url;
pub mod error;
pub mod extract;
pub mod faults;
pub mod health;
pub mod idempotency;
pub mod pagination;
pub mod request_id;

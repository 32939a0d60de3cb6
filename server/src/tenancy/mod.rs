//! Tenancy: users and sessions, organizations, members and roles, invitations, API keys.

pub mod api;
pub mod key_cache;
mod model;
pub mod store;

pub use model::*;

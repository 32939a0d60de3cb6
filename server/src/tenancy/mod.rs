//! Tenancy: users and sessions, organizations, members and roles, invitations, API keys.

pub mod api;
pub mod grants;
pub mod key_cache;
pub mod session;

pub use domain::tenancy::*;

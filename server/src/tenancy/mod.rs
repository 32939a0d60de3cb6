//! Tenancy: users and sessions, organizations, members and roles, invitations, API keys.

pub mod api;
mod model;
pub mod store;

pub use model::*;

//! HTTP handlers of the tenancy domain, one file per resource.

pub mod api_keys;
pub mod invitations;
pub mod members;
pub mod organizations;
pub mod roles;
pub mod sessions;
pub mod users;

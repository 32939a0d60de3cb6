//! Tenancy storage. Portable SQL over sqlx `Any` (see `store`). Functions that take a
//! `&mut AnyConnection` run inside the caller's transaction; tenant-owned queries always filter
//! on `tenant_id` (and `env` where the row has one).

mod api_keys;
mod invitations;
mod organizations;
mod roles;
mod users;

pub use api_keys::*;
pub use invitations::*;
pub use organizations::*;
pub use roles::*;
pub use users::*;

//! What a member may grant: the permissions a role stands for, and the rule that nobody hands
//! out more than they hold. Shared by members, invitations and roles, and by single sign-on
//! connections (their just-in-time role).

use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::{PermissionSet, Scope, builtin_permissions, decode_permissions};
use store::Tx;
use store::tenancy as db;

/// The permissions of a role by id (built-in name or `role_…`), or a validation error on `field`.
pub async fn permissions_of(
    tx: &mut Tx,
    scope: &Scope,
    field: &str,
    role: &str,
) -> ApiResult<PermissionSet> {
    if let Some(set) = builtin_permissions(role) {
        return Ok(set);
    }
    match db::get_role(tx, scope, role).await? {
        Some(r) => Ok(decode_permissions(&r.permissions)),
        None => Err(ApiError::validation(
            field,
            "is not a role of this organization",
        )),
    }
}

/// Nobody hands out more than they hold, and only owners make owners.
pub fn check_grantable(caller: &Caller, role: &str, permissions: &PermissionSet) -> ApiResult<()> {
    if role == "owner" && !caller.is_owner() {
        return Err(ApiError::forbidden(
            "Only an owner can grant the owner role.",
        ));
    }
    if !permissions.is_subset(&caller.permissions) {
        return Err(ApiError::forbidden(
            "You cannot grant permissions you do not have.",
        ));
    }
    Ok(())
}

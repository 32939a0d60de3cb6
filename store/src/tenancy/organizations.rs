//! Organizations and their memberships.

use crate::scoped;
use domain::ids::{OrgId, UserId};
use domain::tenancy::{PermissionSet, Scope, builtin_permissions, decode_permissions};
use sqlx::{AnyConnection, AnyExecutor, FromRow};

#[derive(Debug, FromRow)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// The caller's role in it, when listed for a user.
    pub role: String,
}

pub async fn insert_org(
    c: &mut AnyConnection,
    id: &OrgId,
    name: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(id.as_str())
        .bind(name)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn get_org(
    c: &mut AnyConnection,
    scope: &Scope,
    user: &UserId,
) -> sqlx::Result<Option<OrgRow>> {
    sqlx::query_as(
        "SELECT o.id, o.name, o.created_at, m.role FROM organizations o
         JOIN memberships m ON m.tenant_id = o.id AND m.user_id = $2 AND m.suspended_at IS NULL
         WHERE o.id = $1",
    )
    .bind(scope.org_id.as_str())
    .bind(user.as_str())
    .fetch_optional(c)
    .await
}

/// The scope's organization's name.
pub async fn org_name(c: &mut AnyConnection, scope: &Scope) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
        .bind(scope.org_id.as_str())
        .fetch_optional(c)
        .await
}

pub async fn rename_org(c: &mut AnyConnection, scope: &Scope, name: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE organizations SET name = $2 WHERE id = $1")
        .bind(scope.org_id.as_str())
        .bind(name)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn list_user_orgs<'c>(
    db: impl AnyExecutor<'c>,
    user: &UserId,
) -> sqlx::Result<Vec<OrgRow>> {
    sqlx::query_as(
        "SELECT o.id, o.name, o.created_at, m.role FROM memberships m
         JOIN organizations o ON o.id = m.tenant_id
         WHERE m.user_id = $1 AND m.suspended_at IS NULL ORDER BY o.id",
    )
    .bind(user.as_str())
    .fetch_all(db)
    .await
}

/// A member's role in a tenant, with the permission list of a custom role.
#[derive(Debug, Clone, FromRow)]
pub struct Membership {
    pub tenant_id: String,
    pub role: String,
    pub custom_permissions: Option<String>,
}

impl Membership {
    pub fn permissions(&self) -> PermissionSet {
        builtin_permissions(&self.role)
            .unwrap_or_else(|| decode_permissions(self.custom_permissions.as_deref().unwrap_or("")))
    }
}

/// The user's membership in `org`, or in their oldest organization when `org` is None. A
/// membership suspended by the organization's directory (SCIM) grants nothing.
pub async fn find_membership<'c>(
    db: impl AnyExecutor<'c>,
    user: &UserId,
    org: Option<&OrgId>,
) -> sqlx::Result<Option<Membership>> {
    sqlx::query_as(
        "SELECT m.tenant_id, m.role, r.permissions AS custom_permissions FROM memberships m
         LEFT JOIN roles r ON r.id = m.role AND r.tenant_id = m.tenant_id
         WHERE m.user_id = $1 AND ($2 IS NULL OR m.tenant_id = $2) AND m.suspended_at IS NULL
         ORDER BY m.created_at, m.tenant_id LIMIT 1",
    )
    .bind(user.as_str())
    .bind(org.map(OrgId::as_str))
    .fetch_optional(db)
    .await
}

#[derive(Debug, FromRow)]
pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub created_at: i64,
}

pub async fn insert_membership(
    c: &mut AnyConnection,
    org: &OrgId,
    user: &UserId,
    role: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(org.as_str())
    .bind(user.as_str())
    .bind(role)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn list_members(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as(
        "SELECT m.user_id, u.email, m.role, m.created_at FROM memberships m
         JOIN users u ON u.id = m.user_id
         WHERE m.tenant_id = $1 AND ($2 IS NULL OR m.user_id < $2) AND m.suspended_at IS NULL
         ORDER BY m.user_id DESC LIMIT $3",
    )
    .bind(scope.org_id.as_str())
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn get_member(
    c: &mut AnyConnection,
    scope: &Scope,
    user: &UserId,
) -> sqlx::Result<Option<MemberRow>> {
    sqlx::query_as(
        "SELECT m.user_id, u.email, m.role, m.created_at FROM memberships m
         JOIN users u ON u.id = m.user_id
         WHERE m.tenant_id = $1 AND m.user_id = $2 AND m.suspended_at IS NULL",
    )
    .bind(scope.org_id.as_str())
    .bind(user.as_str())
    .fetch_optional(c)
    .await
}

pub async fn set_member_role(
    c: &mut AnyConnection,
    scope: &Scope,
    user: &UserId,
    role: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2")
        .bind(scope.org_id.as_str())
        .bind(user.as_str())
        .bind(role)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn delete_member(
    c: &mut AnyConnection,
    scope: &Scope,
    user: &UserId,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(scope.org_id.as_str())
        .bind(user.as_str())
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn count_owners(c: &mut AnyConnection, scope: &Scope) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner' AND suspended_at IS NULL",
    )
        .bind(scope.org_id.as_str())
        .fetch_one(c)
        .await
}

/// A membership's role and whether it is suspended (None: no membership).
pub async fn membership_state(
    c: &mut AnyConnection,
    org: &OrgId,
    user: &UserId,
) -> sqlx::Result<Option<(String, Option<i64>)>> {
    sqlx::query_as(
        "SELECT role, suspended_at FROM memberships WHERE tenant_id = $1 AND user_id = $2",
    )
    .bind(org.as_str())
    .bind(user.as_str())
    .fetch_optional(c)
    .await
}

/// Suspends (`Some(now)`) or restores (`None`) a membership: a suspended member keeps their
/// role but has no access, as if they had left.
pub async fn set_membership_suspended(
    c: &mut AnyConnection,
    org: &OrgId,
    user: &UserId,
    suspended_at: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE memberships SET suspended_at = $3 WHERE tenant_id = $1 AND user_id = $2")
        .bind(org.as_str())
        .bind(user.as_str())
        .bind(suspended_at)
        .execute(c)
        .await
        .map(|_| ())
}

/// Revokes every key the user created in the scope.
pub async fn revoke_user_api_keys(
    c: &mut AnyConnection,
    scope: &Scope,
    user: &UserId,
    now: i64,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE api_keys SET revoked_at = $4
         WHERE tenant_id = $1 AND env = $2 AND created_by = $3 AND revoked_at IS NULL",
        scope,
    )
    .bind(user.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

/// Logs the user out everywhere.
/// Ends the user's sessions bound to `org` (single sign-on); their other sessions act
/// elsewhere, and lose `org` with the membership.
pub async fn revoke_user_sessions_in(
    c: &mut AnyConnection,
    org: &OrgId,
    user: &UserId,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = $3
         WHERE user_id = $1 AND tenant_id = $2 AND revoked_at IS NULL",
    )
    .bind(user.as_str())
    .bind(org.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

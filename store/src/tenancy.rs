//! Tenancy storage. Portable SQL over sqlx `Any` (see `store`). Functions that take a
//! `&mut AnyConnection` run inside the caller's transaction; tenant-owned queries always filter
//! on `tenant_id` (and `env` where the row has one).

use sqlx::AnyConnection;
use sqlx::{AnyExecutor, FromRow};

use domain::ids::{ApiKeyId, OrgId, UserId};
use domain::secret;
use domain::tenancy::{Permission, PermissionSet, Scope, builtin_permissions, decode_permissions};

// ---------- users and sessions ----------

#[derive(Debug, FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub created_at: i64,
}

pub async fn insert_user(c: &mut AnyConnection, row: &UserRow) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&row.id)
        .bind(&row.email)
        .bind(&row.password_hash)
        .bind(row.created_at)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn find_user_by_email<'c>(
    db: impl AnyExecutor<'c>,
    email: &str,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as("SELECT id, email, password_hash, created_at FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(db)
        .await
}

/// A new account without a usable password, for an address nobody has (`identity::link`).
pub async fn insert_provisioned_user(
    c: &mut AnyConnection,
    email: &str,
    now: i64,
) -> sqlx::Result<UserId> {
    let id = UserId::generate();
    let row = UserRow {
        id: id.to_string(),
        email: email.to_owned(),
        password_hash: secret::UNUSABLE_PASSWORD_HASH.to_owned(),
        created_at: now,
    };
    insert_user(c, &row).await?;
    Ok(id)
}

pub async fn find_user<'c>(db: impl AnyExecutor<'c>, id: &UserId) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as("SELECT id, email, password_hash, created_at FROM users WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(db)
        .await
}

#[derive(Debug, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub email: String,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// Set for single sign-on sessions: the one organization and environment they act in.
    pub tenant_id: Option<String>,
    pub env: Option<String>,
}

pub async fn insert_session(
    c: &mut AnyConnection,
    id: &str,
    token: &str,
    user_id: &UserId,
    bound: Option<&Scope>,
    now: i64,
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, tenant_id, env, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(secret::hash_token(token))
    .bind(user_id.as_str())
    .bind(bound.map(|s| s.org_id.as_str()))
    .bind(bound.map(|s| s.env.as_str()))
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn find_session<'c>(
    db: impl AnyExecutor<'c>,
    token: &str,
) -> sqlx::Result<Option<SessionRow>> {
    sqlx::query_as(
        "SELECT s.id, s.user_id, u.email, s.expires_at, s.revoked_at, s.tenant_id, s.env
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
    )
    .bind(secret::hash_token(token))
    .fetch_optional(db)
    .await
}

pub async fn revoke_session<'c>(db: impl AnyExecutor<'c>, id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(db)
        .await
        .map(|_| ())
}

// ---------- organizations and memberships ----------

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
    sqlx::query(
        "UPDATE api_keys SET revoked_at = $4
         WHERE tenant_id = $1 AND env = $2 AND created_by = $3 AND revoked_at IS NULL",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
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

// ---------- custom roles ----------

#[derive(Debug, FromRow)]
pub struct RoleRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub permissions: String,
    pub created_at: i64,
}

pub async fn insert_role(c: &mut AnyConnection, scope: &Scope, row: &RoleRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO roles (id, tenant_id, name, description, permissions, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&row.id)
    .bind(scope.org_id.as_str())
    .bind(&row.name)
    .bind(&row.description)
    .bind(&row.permissions)
    .bind(row.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn list_roles(c: &mut AnyConnection, scope: &Scope) -> sqlx::Result<Vec<RoleRow>> {
    sqlx::query_as(
        "SELECT id, name, description, permissions, created_at FROM roles WHERE tenant_id = $1 ORDER BY id",
    )
    .bind(scope.org_id.as_str())
    .fetch_all(c)
    .await
}

pub async fn get_role(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<RoleRow>> {
    sqlx::query_as(
        "SELECT id, name, description, permissions, created_at FROM roles WHERE tenant_id = $1 AND id = $2",
    )
    .bind(scope.org_id.as_str())
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn update_role(c: &mut AnyConnection, scope: &Scope, row: &RoleRow) -> sqlx::Result<()> {
    sqlx::query("UPDATE roles SET name = $3, description = $4, permissions = $5 WHERE tenant_id = $1 AND id = $2")
        .bind(scope.org_id.as_str())
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.description)
        .bind(&row.permissions)
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn delete_role(c: &mut AnyConnection, scope: &Scope, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM roles WHERE tenant_id = $1 AND id = $2")
        .bind(scope.org_id.as_str())
        .bind(id)
        .execute(c)
        .await
        .map(|_| ())
}

/// Members or pending invitations holding the role.
pub async fn role_in_use(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND role = $2)
              + (SELECT COUNT(*) FROM invitations WHERE tenant_id = $1 AND role = $2
                 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3)",
    )
    .bind(scope.org_id.as_str())
    .bind(id)
    .bind(now)
    .fetch_one(c)
    .await?;
    Ok(n > 0)
}

// ---------- invitations ----------

#[derive(Debug, FromRow)]
pub struct InvitationRow {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

macro_rules! invitation_columns {
    () => {
        "id, tenant_id, email, role, invited_by, created_at, expires_at, accepted_at, revoked_at"
    };
}

pub async fn insert_invitation(
    c: &mut AnyConnection,
    row: &InvitationRow,
    token: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO invitations (id, tenant_id, email, role, token_hash, invited_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&row.id)
    .bind(&row.tenant_id)
    .bind(&row.email)
    .bind(&row.role)
    .bind(secret::hash_token(token))
    .bind(&row.invited_by)
    .bind(row.created_at)
    .bind(row.expires_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn list_invitations(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<InvitationRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        invitation_columns!(),
        " FROM invitations WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(scope.org_id.as_str())
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn get_invitation(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<InvitationRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        invitation_columns!(),
        " FROM invitations WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(scope.org_id.as_str())
    .bind(id)
    .fetch_optional(c)
    .await
}

/// By token, across tenants: the invitee is not a member yet.
pub async fn find_invitation_by_token(
    c: &mut AnyConnection,
    token: &str,
) -> sqlx::Result<Option<InvitationRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        invitation_columns!(),
        " FROM invitations WHERE token_hash = $1"
    ))
    .bind(secret::hash_token(token))
    .fetch_optional(c)
    .await
}

/// Marks a pending invitation accepted or revoked; false when it was no longer pending.
pub async fn close_invitation(
    c: &mut AnyConnection,
    tenant_id: &str,
    id: &str,
    accepted: bool,
    now: i64,
) -> sqlx::Result<bool> {
    let sql = if accepted {
        "UPDATE invitations SET accepted_at = $3 WHERE tenant_id = $1 AND id = $2
         AND accepted_at IS NULL AND revoked_at IS NULL"
    } else {
        "UPDATE invitations SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2
         AND accepted_at IS NULL AND revoked_at IS NULL"
    };
    let done = sqlx::query(sql)
        .bind(tenant_id)
        .bind(id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(done.rows_affected() == 1)
}

// ---------- API keys ----------

#[derive(Debug, FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

macro_rules! api_key_columns {
    () => {
        "id, name, prefix, scopes, created_by, created_at, expires_at, revoked_at, last_used_at"
    };
}

pub async fn insert_api_key(
    c: &mut AnyConnection,
    scope: &Scope,
    row: &ApiKeyRow,
    secret_token: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, env, name, prefix, secret_hash, scopes, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&row.id)
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&row.name)
    .bind(&row.prefix)
    .bind(secret::hash_token(secret_token))
    .bind(&row.scopes)
    .bind(&row.created_by)
    .bind(row.created_at)
    .bind(row.expires_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn list_api_keys(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<ApiKeyRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        api_key_columns!(),
        " FROM api_keys WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn get_api_key(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &ApiKeyId,
) -> sqlx::Result<Option<ApiKeyRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        api_key_columns!(),
        " FROM api_keys WHERE tenant_id = $1 AND env = $2 AND id = $3"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id.as_str())
    .fetch_optional(c)
    .await
}

pub async fn revoke_api_key(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &ApiKeyId,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE api_keys SET revoked_at = $4 WHERE tenant_id = $1 AND env = $2 AND id = $3 AND revoked_at IS NULL",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

/// Replaces the secret; the old one stops working at once.
pub async fn roll_api_key(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &ApiKeyId,
    prefix: &str,
    secret_token: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE api_keys SET prefix = $4, secret_hash = $5, last_used_at = NULL
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id.as_str())
    .bind(prefix)
    .bind(secret::hash_token(secret_token))
    .execute(c)
    .await
    .map(|_| ())
}

/// What authentication needs of a key, with its creator's current role.
#[derive(Debug, FromRow)]
pub struct KeyAuthRow {
    pub id: String,
    pub tenant_id: String,
    pub env: String,
    pub scopes: String,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub role: Option<String>,
    pub custom_permissions: Option<String>,
}

/// Across tenants, by the secret's hash: authentication does not know the tenant yet.
pub async fn find_api_key_by_hash<'c>(
    db: impl AnyExecutor<'c>,
    secret_hash: &str,
) -> sqlx::Result<Option<KeyAuthRow>> {
    sqlx::query_as(
        "SELECT k.id, k.tenant_id, k.env, k.scopes, k.created_by, k.expires_at, k.revoked_at,
                k.last_used_at, m.role, r.permissions AS custom_permissions
         FROM api_keys k
         LEFT JOIN memberships m ON m.tenant_id = k.tenant_id AND m.user_id = k.created_by
              AND m.suspended_at IS NULL
         LEFT JOIN roles r ON r.id = m.role AND r.tenant_id = k.tenant_id
         WHERE k.secret_hash = $1",
    )
    .bind(secret_hash)
    .fetch_optional(db)
    .await
}

pub async fn touch_api_key<'c>(db: impl AnyExecutor<'c>, id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(db)
        .await
        .map(|_| ())
}

/// Parses stored scopes back, ignoring permissions a newer build no longer knows.
pub fn scopes_of(row: &ApiKeyRow) -> Vec<Permission> {
    decode_permissions(&row.scopes).into_iter().collect()
}

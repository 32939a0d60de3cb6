//! SCIM storage: tokens, users, groups and group members, always filtered by tenant. The
//! directory belongs to the organization, not to one environment, like memberships; a token
//! belongs to the environment it was made in, and only that environment's callers see it.

use crate::columns::Json;
use crate::scoped;
use sqlx::{AnyConnection, AnyExecutor, FromRow};

use domain::identity::scim_schema::Kind;
use domain::ids::OrgId;
use domain::secret;
use domain::tenancy::Scope;

// ---------- tokens ----------

#[derive(Debug, FromRow)]
pub struct TokenRow {
    pub id: String,
    pub tenant_id: String,
    pub env: String,
    pub name: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

macro_rules! token_columns {
    () => {
        "id, tenant_id, env, name, prefix, created_by, created_at, revoked_at, last_used_at"
    };
}

pub async fn insert_token(c: &mut AnyConnection, row: &TokenRow, token: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO scim_tokens (id, tenant_id, env, name, prefix, token_hash, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&row.id)
    .bind(&row.tenant_id)
    .bind(&row.env)
    .bind(&row.name)
    .bind(&row.prefix)
    .bind(secret::hash_token(token))
    .bind(&row.created_by)
    .bind(row.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn list_tokens(
    c: &mut AnyConnection,
    scope: &Scope,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<TokenRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            token_columns!(),
            " FROM scim_tokens WHERE tenant_id = $1 AND env = $2 AND ($3 IS NULL OR id < $3)
           ORDER BY id DESC LIMIT $4"
        ),
        scope,
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn get_token(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<TokenRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            token_columns!(),
            " FROM scim_tokens WHERE tenant_id = $1 AND env = $2 AND id = $3"
        ),
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn revoke_token(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
    now: i64,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE scim_tokens SET revoked_at = $4
         WHERE tenant_id = $1 AND env = $2 AND id = $3 AND revoked_at IS NULL",
        scope,
    )
    .bind(id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

/// Across tenants, by the token's hash: the token is what names the tenant.
pub async fn find_token_by_hash<'c>(
    db: impl AnyExecutor<'c>,
    hash: &str,
) -> sqlx::Result<Option<TokenRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        token_columns!(),
        " FROM scim_tokens WHERE token_hash = $1"
    ))
    .bind(hash)
    .fetch_optional(db)
    .await
}

pub async fn touch_token<'c>(db: impl AnyExecutor<'c>, id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE scim_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(db)
        .await
        .map(|_| ())
}

// ---------- users and groups ----------

/// A stored resource of either kind.
#[derive(Debug, Clone, FromRow)]
pub struct ResourceRow {
    pub id: String,
    /// Its attributes as stored (without a group's members).
    pub resource: Json<serde_json::Map<String, serde_json::Value>>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns a resource is looked up by, besides its id.
pub struct Keys<'a> {
    pub external_id: Option<&'a str>,
    /// userName or displayName as given.
    pub name: &'a str,
}

fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "scim_users",
        Kind::Group => "scim_groups",
    }
}

fn name_key(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "user_name_key",
        Kind::Group => "display_name_key",
    }
}

/// A lookup an index answers, for the filters directories send most.
pub enum Lookup<'a> {
    /// userName (users) or displayName (groups), case-insensitively.
    Name(&'a str),
    ExternalId(&'a str),
}

pub async fn get(
    c: &mut AnyConnection,
    org: &OrgId,
    kind: Kind,
    id: &str,
) -> sqlx::Result<Option<ResourceRow>> {
    let sql = format!(
        "SELECT id, resource, version, created_at, updated_at FROM {} WHERE tenant_id = $1 AND id = $2",
        table(kind)
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org.as_str())
        .bind(id)
        .fetch_optional(c)
        .await
}

/// The organization's resources of `kind` in creation order, all or those of a lookup.
pub async fn list(
    c: &mut AnyConnection,
    org: &OrgId,
    kind: Kind,
    lookup: Option<Lookup<'_>>,
) -> sqlx::Result<Vec<ResourceRow>> {
    let (condition, value) = match lookup {
        None => ("", None),
        Some(Lookup::Name(v)) => (name_key(kind), Some(v.to_lowercase())),
        Some(Lookup::ExternalId(v)) => ("external_id", Some(v.to_owned())),
    };
    let sql = format!(
        "SELECT id, resource, version, created_at, updated_at FROM {} WHERE tenant_id = $1{} ORDER BY id",
        table(kind),
        if condition.is_empty() {
            String::new()
        } else {
            format!(" AND {condition} = $2")
        }
    );
    let q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(org.as_str());
    match value {
        Some(v) => q.bind(v).fetch_all(c).await,
        None => q.fetch_all(c).await,
    }
}

/// Whether another resource of the organization has this name key (userName is unique).
pub async fn name_taken(
    c: &mut AnyConnection,
    org: &OrgId,
    kind: Kind,
    name: &str,
    except: &str,
) -> sqlx::Result<bool> {
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE tenant_id = $1 AND {} = $2 AND id <> $3",
        table(kind),
        name_key(kind)
    );
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(org.as_str())
        .bind(name.to_lowercase())
        .bind(except)
        .fetch_one(c)
        .await?;
    Ok(n > 0)
}

pub async fn insert_user(
    c: &mut AnyConnection,
    org: &OrgId,
    row: &ResourceRow,
    keys: &Keys<'_>,
    active: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO scim_users (id, tenant_id, external_id, user_name_key, active, resource, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&row.id)
    .bind(org.as_str())
    .bind(keys.external_id)
    .bind(keys.name.to_lowercase())
    .bind(i64::from(active))
    .bind(&row.resource)
    .bind(row.version)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn insert_group(
    c: &mut AnyConnection,
    org: &OrgId,
    row: &ResourceRow,
    keys: &Keys<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO scim_groups (id, tenant_id, external_id, display_name, display_name_key, resource, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&row.id)
    .bind(org.as_str())
    .bind(keys.external_id)
    .bind(keys.name)
    .bind(keys.name.to_lowercase())
    .bind(&row.resource)
    .bind(row.version)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// Writes a new version of a resource.
pub async fn update(
    c: &mut AnyConnection,
    org: &OrgId,
    kind: Kind,
    row: &ResourceRow,
    keys: &Keys<'_>,
) -> sqlx::Result<()> {
    let extra = match kind {
        Kind::User => "",
        Kind::Group => ", display_name = $8",
    };
    let sql = format!(
        "UPDATE {} SET external_id = $3, {} = $4, resource = $5, version = $6, updated_at = $7{extra}
         WHERE tenant_id = $1 AND id = $2",
        table(kind),
        name_key(kind)
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.as_str())
        .bind(&row.id)
        .bind(keys.external_id)
        .bind(keys.name.to_lowercase())
        .bind(&row.resource)
        .bind(row.version)
        .bind(row.updated_at);
    let q = match kind {
        Kind::User => q,
        Kind::Group => q.bind(keys.name),
    };
    q.execute(c).await.map(|_| ())
}

pub async fn delete(c: &mut AnyConnection, org: &OrgId, kind: Kind, id: &str) -> sqlx::Result<()> {
    let sql = format!(
        "DELETE FROM {} WHERE tenant_id = $1 AND id = $2",
        table(kind)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.as_str())
        .bind(id)
        .execute(c)
        .await
        .map(|_| ())
}

/// A SCIM user's account link and state.
#[derive(Debug, FromRow)]
pub struct UserLink {
    pub user_id: Option<String>,
    pub active: i64,
}

pub async fn user_link(
    c: &mut AnyConnection,
    org: &OrgId,
    id: &str,
) -> sqlx::Result<Option<UserLink>> {
    sqlx::query_as("SELECT user_id, active FROM scim_users WHERE tenant_id = $1 AND id = $2")
        .bind(org.as_str())
        .bind(id)
        .fetch_optional(c)
        .await
}

pub async fn set_user_link(
    c: &mut AnyConnection,
    org: &OrgId,
    id: &str,
    link: &UserLink,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE scim_users SET user_id = $3, active = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(org.as_str())
        .bind(id)
        .bind(link.user_id.as_deref())
        .bind(link.active)
        .execute(c)
        .await
        .map(|_| ())
}

/// The SCIM user of the organization already linked to an account, if any.
pub async fn linked_to(
    c: &mut AnyConnection,
    org: &OrgId,
    user_id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT id FROM scim_users WHERE tenant_id = $1 AND user_id = $2")
        .bind(org.as_str())
        .bind(user_id)
        .fetch_optional(c)
        .await
}

// ---------- group members ----------

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct MemberRow {
    pub member_id: String,
    pub member_type: String,
    pub display: Option<String>,
}

pub async fn members(
    c: &mut AnyConnection,
    org: &OrgId,
    group: &str,
) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as(
        "SELECT member_id, member_type, display FROM scim_group_members
         WHERE tenant_id = $1 AND group_id = $2 ORDER BY created_at, member_id",
    )
    .bind(org.as_str())
    .bind(group)
    .fetch_all(c)
    .await
}

pub async fn add_member(
    c: &mut AnyConnection,
    org: &OrgId,
    group: &str,
    m: &MemberRow,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO scim_group_members (tenant_id, group_id, member_id, member_type, display, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(org.as_str())
    .bind(group)
    .bind(&m.member_id)
    .bind(&m.member_type)
    .bind(m.display.as_deref())
    .bind(now)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn set_member_display(
    c: &mut AnyConnection,
    org: &OrgId,
    group: &str,
    m: &MemberRow,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE scim_group_members SET display = $4 WHERE tenant_id = $1 AND group_id = $2 AND member_id = $3")
        .bind(org.as_str())
        .bind(group)
        .bind(&m.member_id)
        .bind(m.display.as_deref())
        .execute(c)
        .await
        .map(|_| ())
}

pub async fn remove_member(
    c: &mut AnyConnection,
    org: &OrgId,
    group: &str,
    member: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM scim_group_members WHERE tenant_id = $1 AND group_id = $2 AND member_id = $3",
    )
    .bind(org.as_str())
    .bind(group)
    .bind(member)
    .execute(c)
    .await
    .map(|_| ())
}

/// The groups a resource is a direct member of: (group id, its displayName).
pub async fn groups_of(
    c: &mut AnyConnection,
    org: &OrgId,
    member: &str,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT g.id, g.display_name FROM scim_group_members m
         JOIN scim_groups g ON g.id = m.group_id AND g.tenant_id = m.tenant_id
         WHERE m.tenant_id = $1 AND m.member_id = $2 ORDER BY g.id",
    )
    .bind(org.as_str())
    .bind(member)
    .fetch_all(c)
    .await
}

/// Whether `id` is a resource of `kind` in the organization.
pub async fn exists(
    c: &mut AnyConnection,
    org: &OrgId,
    kind: Kind,
    id: &str,
) -> sqlx::Result<bool> {
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE tenant_id = $1 AND id = $2",
        table(kind)
    );
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(org.as_str())
        .bind(id)
        .fetch_one(c)
        .await?;
    Ok(n > 0)
}

/// Marks the groups holding `member` as changed (a member went away); returns their ids.
pub async fn touch_groups_of(
    c: &mut AnyConnection,
    org: &OrgId,
    member: &str,
    now: i64,
) -> sqlx::Result<Vec<String>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT group_id FROM scim_group_members WHERE tenant_id = $1 AND member_id = $2 ORDER BY group_id",
    )
    .bind(org.as_str())
    .bind(member)
    .fetch_all(&mut *c)
    .await?;
    sqlx::query(
        "UPDATE scim_groups SET version = version + 1, updated_at = $3
         WHERE tenant_id = $1 AND id IN (SELECT group_id FROM scim_group_members WHERE tenant_id = $1 AND member_id = $2)",
    )
    .bind(org.as_str())
    .bind(member)
    .bind(now)
    .execute(&mut *c)
    .await?;
    sqlx::query("DELETE FROM scim_group_members WHERE tenant_id = $1 AND member_id = $2")
        .bind(org.as_str())
        .bind(member)
        .execute(c)
        .await?;
    Ok(ids)
}

//! An organization's custom roles.

use domain::tenancy::Scope;
use sqlx::{AnyConnection, FromRow};

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

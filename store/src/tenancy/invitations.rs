//! Invitations to an organization.

use domain::secret;
use domain::tenancy::Scope;
use sqlx::{AnyConnection, FromRow};

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

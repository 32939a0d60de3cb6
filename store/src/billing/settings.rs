//! A tenant and environment's billing settings (dunning).

use crate::columns::{Json, Text};
use crate::scoped;
use domain::billing::dunning::FinalAction;
use domain::tenancy::Scope;
use sqlx::{AnyConnection, FromRow};

#[derive(Debug, FromRow)]
pub struct SettingsRow {
    /// Days after finalization.
    pub retry_days: Json<Vec<i64>>,
    pub final_action: Text<FinalAction>,
    pub updated_at: i64,
}

pub async fn get_settings(
    c: &mut AnyConnection,
    scope: &Scope,
) -> sqlx::Result<Option<SettingsRow>> {
    scoped::query_as(
        "SELECT retry_days, final_action, updated_at FROM billing_settings WHERE tenant_id = $1 AND env = $2",
        scope,
    )
    .fetch_optional(c)
    .await
}

pub async fn put_settings(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &SettingsRow,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO billing_settings (tenant_id, env, retry_days, final_action, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, env) DO UPDATE SET retry_days = $3, final_action = $4, updated_at = $5",
        scope,
    )
    .bind(&r.retry_days)
    .bind(r.final_action)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

//! The audit log: every mutation writes one event in the same transaction as the change, so
//! an acknowledged change always has its event and a failed one never does.

pub mod api;

use sqlx::AnyConnection;
use sqlx::FromRow;

use crate::http::auth::{Actor, Caller};
use crate::http::request_id;
use crate::tenancy::Scope;
use domain::ids::AuditEventId;

/// Who did it: `(actor_type, actor_id)`, e.g. `("api_key", "key_…")`.
#[derive(Clone, Copy)]
pub struct ActorRef<'a> {
    pub kind: &'static str,
    pub id: &'a str,
    pub ip: Option<&'a str>,
}

impl<'a> From<&'a Caller> for ActorRef<'a> {
    fn from(c: &'a Caller) -> Self {
        let (kind, id) = match &c.actor {
            Actor::ApiKey(k) => ("api_key", k.as_str()),
            Actor::Session(_) => ("user", c.user_id.as_str()),
        };
        ActorRef {
            kind,
            id,
            ip: c.ip.as_deref(),
        }
    }
}

/// Writes one audit event; `target` is `(target_type, target_id)`.
pub async fn record(
    c: &mut AnyConnection,
    scope: &Scope,
    actor: ActorRef<'_>,
    action: &str,
    target: (&str, &str),
    now: i64,
) -> sqlx::Result<()> {
    record_all(c, scope, actor, &[(action, target)], now).await
}

/// Writes one audit event per `(action, (target_type, target_id))`, in order, with as few
/// statements as possible.
pub async fn record_all(
    c: &mut AnyConnection,
    scope: &Scope,
    actor: ActorRef<'_>,
    events: &[(&str, (&str, &str))],
    now: i64,
) -> sqlx::Result<()> {
    let request_id = request_id::current();
    let rows: Vec<(AuditEventId, &str, (&str, &str))> = events
        .iter()
        .map(|(action, target)| (AuditEventId::generate(), *action, *target))
        .collect();
    store::insert_all(
        c,
        "INSERT INTO audit_events (id, tenant_id, env, actor_type, actor_id, action, target_type, target_id, request_id, ip, created_at) VALUES",
        11,
        &rows,
        |q, (id, action, target)| {
            q.bind(id.as_str())
                .bind(scope.org_id.as_str())
                .bind(scope.env.as_str())
                .bind(actor.kind)
                .bind(actor.id)
                .bind(*action)
                .bind(target.0)
                .bind(target.1)
                .bind(request_id.as_str())
                .bind(actor.ip)
                .bind(now)
        },
    )
    .await
}

#[derive(Debug, FromRow)]
pub struct AuditRow {
    pub id: String,
    pub actor_type: String,
    pub actor_id: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub request_id: String,
    pub ip: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Default)]
pub struct AuditFilter<'a> {
    pub action: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub created_gte: Option<i64>,
    pub created_lt: Option<i64>,
}

pub async fn list(
    c: &mut AnyConnection,
    scope: &Scope,
    filter: &AuditFilter<'_>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    store::scoped::query_as(
        "SELECT id, actor_type, actor_id, action, target_type, target_id, request_id, ip, created_at
         FROM audit_events WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR id < $3)
         AND ($4 IS NULL OR action = $4)
         AND ($5 IS NULL OR actor_id = $5)
         AND ($6 IS NULL OR target_id = $6)
         AND ($7 IS NULL OR created_at >= $7)
         AND ($8 IS NULL OR created_at < $8)
         ORDER BY id DESC LIMIT $9",
        scope,
    )
    .bind(after)
    .bind(filter.action)
    .bind(filter.actor_id)
    .bind(filter.target_id)
    .bind(filter.created_gte)
    .bind(filter.created_lt)
    .bind(limit)
    .fetch_all(c)
    .await
}

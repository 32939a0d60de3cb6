//! The audit log: every mutation writes one event in the same transaction as the change, so
//! an acknowledged change always has its event and a failed one never does.

pub mod api;

use sqlx::AnyConnection;

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

/// Writes one audit event per `(action, (target_type, target_id))`, in order, with one
/// statement.
pub async fn record_all(
    c: &mut AnyConnection,
    scope: &Scope,
    actor: ActorRef<'_>,
    events: &[(&str, (&str, &str))],
    now: i64,
) -> sqlx::Result<()> {
    let request_id = request_id::current();
    let rows: Vec<store::audit::NewEvent> = events
        .iter()
        .map(|(action, target)| store::audit::NewEvent {
            id: AuditEventId::generate().to_string(),
            actor_type: actor.kind,
            actor_id: actor.id,
            action,
            target_type: target.0,
            target_id: target.1,
            request_id: &request_id,
            ip: actor.ip,
            created_at: now,
        })
        .collect();
    store::audit::insert_events(c, scope, &rows).await
}

//! The delivery worker: sends due deliveries, records each attempt, schedules retries and
//! disables endpoints that keep failing.
//!
//! Each delivery goes through three steps, never holding a transaction across the request:
//! claim (a compare-and-set moving `next_attempt_at` forward by a lease, so replicas racing
//! for it send it once; a replica that dies mid-send leaves it to be retried when the lease
//! ends), send, record (the outcome, the attempt, the endpoint's health, in one transaction).

use std::time::{Duration, Instant};

use super::emit;
use crate::app::AppState;
use crate::audit::{self, ActorRef};
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::{Env, Scope};
use crate::{outbound, outbox};
use domain::ids::{OrgId, WebhookAttemptId};
use domain::webhooks::sign;
use domain::webhooks::views::Event;
use domain::webhooks::{
    CLAIM_LEASE_MS, DISABLE_AFTER_FAILING_MS, DeliveryStatus, EndpointStatus, retry_delay_ms,
};
use store::webhooks::{self as db, AttemptRow, Outcome, Target};

/// Deliveries read per tick.
const BATCH: i64 = 200;
/// Requests in flight at once.
const IN_FLIGHT: usize = 16;
/// Bytes of a response body kept on the attempt.
const EXCERPT_BYTES: usize = 1024;
const SYSTEM: ActorRef<'static> = ActorRef {
    kind: "system",
    id: "webhook_delivery",
    ip: None,
};

/// Attempts every delivery due now, up to 16 at a time; returns how many attempts it made.
/// One delivery failing to be recorded is logged and does not hold the others back.
pub async fn tick(state: &AppState) -> ApiResult<usize> {
    let now = state.clock.now_ms();
    let due = db::due_deliveries(state.db.reader(), now, BATCH).await?;
    let sent = outbox::send_all(state, due, IN_FLIGHT, "webhook delivery", |state, due| {
        let (tenant, env, id, seen) = due;
        async move { deliver(&state, tenant, &env, &id, seen).await }
    });
    Ok(sent.await)
}

/// Runs `tick` every `every` until the process ends.
pub async fn run(state: AppState, every: Duration) {
    outbox::run(state, every, "webhook delivery", |state| async move {
        tick(&state).await
    })
    .await
}

/// Claims, sends and records one delivery; false when another worker had it first.
async fn deliver(
    state: &AppState,
    tenant: String,
    env: &str,
    id: &str,
    seen: i64,
) -> ApiResult<bool> {
    let env =
        Env::parse(env).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("bad env {env:?}")))?;
    let scope = Scope {
        org_id: OrgId::from_db(tenant),
        env,
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&scope).await?;
    if !db::claim_delivery(&mut tx, &scope, id, seen, now + CLAIM_LEASE_MS).await? {
        return Ok(false);
    }
    let Some(target) = db::delivery_target(&mut tx, &scope, id).await? else {
        return Ok(false);
    };
    if target.endpoint_status != EndpointStatus::Enabled {
        db::fail_pending(&mut tx, &scope, &target.endpoint_id, "endpoint disabled").await?;
        tx.commit().await?;
        return Ok(false);
    }
    tx.commit().await?;

    let body = payload(&scope, &target)?;
    let timestamp = state.clock.now_ms().div_euclid(1000);
    let mut secrets = vec![target.secret.as_str()];
    if let (Some(previous), Some(until)) = (
        target.previous_secret.as_deref(),
        target.previous_secret_expires_at,
    ) && until > now
    {
        secrets.push(previous);
    }
    let signature = sign::header(&secrets, &target.event_id, timestamp, &body)?;
    let started = Instant::now();
    let sent = send(
        state.outbound.client(env),
        &target,
        timestamp,
        &signature,
        body,
    )
    .await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    record(state, &scope, id, &target, sent, duration_ms).await?;
    Ok(true)
}

/// The delivered body: the event as `GET /v1/webhook_events/{id}` shows it.
fn payload(scope: &Scope, t: &Target) -> ApiResult<Vec<u8>> {
    let event = Event {
        id: domain::ids::EventId::from_db(t.event_id.clone()),
        r#type: t.event_type.clone(),
        created_at: t.event_created_at,
        livemode: scope.env == Env::Live,
        data: t.data.0.clone(),
    };
    serde_json::to_vec(&event).map_err(|e| ApiError::Internal(e.into()))
}

/// What the receiver answered, or why it could not.
struct Sent {
    status_code: Option<u16>,
    error: Option<String>,
    body: Option<String>,
}

impl Sent {
    fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

async fn send(
    client: &outbound::Client,
    t: &Target,
    timestamp: i64,
    signature: &str,
    body: Vec<u8>,
) -> Sent {
    let request = client
        .request(reqwest::Method::POST, &t.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &t.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body);
    let mut response = match client.send(request).await {
        Ok(r) => r,
        Err(e) => {
            return Sent {
                status_code: None,
                error: Some(describe(&e)),
                body: None,
            };
        }
    };
    let status = response.status().as_u16();
    let mut excerpt = Vec::new();
    let mut error = None;
    while excerpt.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                error = Some(describe(&e.into()));
                break;
            }
        }
    }
    excerpt.truncate(EXCERPT_BYTES);
    let mut text = String::from_utf8_lossy(&excerpt).into_owned();
    while text.len() > EXCERPT_BYTES {
        text.pop();
    }
    let error = match error {
        Some(e) => Some(e),
        None if !(200..300).contains(&status) => Some(format!("HTTP {status}")),
        None => None,
    };
    Sent {
        status_code: Some(status),
        error,
        body: (!text.is_empty()).then_some(text),
    }
}

/// A short reason for a failed request, with its causes.
fn describe(e: &outbound::Error) -> String {
    e.to_string().chars().take(500).collect()
}

/// Writes the attempt and its consequences: the delivery's next step, the endpoint's health
/// and, after five days of nothing but failures, its disabling.
async fn record(
    state: &AppState,
    scope: &Scope,
    id: &str,
    t: &Target,
    sent: Sent,
    duration_ms: i64,
) -> ApiResult<()> {
    let now = state.clock.now_ms();
    let ok = sent.succeeded();
    let attempts = t.attempts + 1;
    let (status, next_attempt_at) = if ok {
        (DeliveryStatus::Succeeded, None)
    } else {
        match retry_delay_ms(attempts) {
            Some(delay) => (DeliveryStatus::Pending, Some(now + delay)),
            None => (DeliveryStatus::Failed, None),
        }
    };
    let status_code = sent.status_code.map(i64::from);
    let mut tx = state.db.write_scoped(scope).await?;
    let outcome = Outcome {
        status: status.into(),
        attempts,
        next_attempt_at,
        attempted_at: now,
        status_code,
        error: sent.error.as_deref(),
    };
    // The endpoint first: recording an attempt share-locks it (a foreign key), so two
    // attempts locking it afterwards would deadlock.
    let endpoint = db::lock_endpoint(&mut tx, scope, &t.endpoint_id).await?;
    if !db::finish_delivery(&mut tx, scope, id, &outcome).await? {
        return Ok(()); // the endpoint was deleted meanwhile
    }
    let attempt = AttemptRow {
        id: WebhookAttemptId::generate().to_string(),
        delivery_id: id.to_owned(),
        endpoint_id: t.endpoint_id.clone(),
        event_id: t.event_id.clone(),
        attempted_at: now,
        succeeded: i64::from(ok),
        status_code,
        error: sent.error,
        duration_ms,
        response_body: sent.body,
    };
    db::insert_attempt(&mut tx, scope, &attempt).await?;
    if let Some(mut endpoint) = endpoint {
        if ok {
            if endpoint.failing_since.take().is_some() {
                db::update_endpoint(&mut tx, scope, &endpoint).await?;
            }
        } else {
            let first = endpoint.failing_since.is_none();
            let since = *endpoint.failing_since.get_or_insert(now);
            if endpoint.status == EndpointStatus::Enabled && now - since >= DISABLE_AFTER_FAILING_MS
            {
                disable(&mut tx, scope, endpoint, now).await?;
            } else if first {
                db::update_endpoint(&mut tx, scope, &endpoint).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Disables a failing endpoint, gives up its pending deliveries and tells the tenant's other
/// endpoints (`webhook_endpoint.disabled`).
async fn disable(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    mut endpoint: db::EndpointRow,
    now: i64,
) -> ApiResult<()> {
    let days = DISABLE_AFTER_FAILING_MS / 86_400_000;
    endpoint.status = EndpointStatus::Disabled.into();
    endpoint.disabled_reason = Some(format!(
        "Every delivery attempt failed for {days} days; fix the receiver, then re-enable the endpoint."
    ));
    endpoint.updated_at = now;
    db::update_endpoint(tx, scope, &endpoint).await?;
    db::fail_pending(tx, scope, &endpoint.id, "endpoint disabled").await?;
    audit::record(
        tx,
        scope,
        SYSTEM,
        "webhook_endpoint.disabled",
        ("webhook_endpoint", &endpoint.id),
        now,
    )
    .await?;
    tracing::warn!(endpoint = %endpoint.id, "webhook endpoint disabled after failing for {days} days");
    let shown = endpoint.shown(scope.env, false);
    emit(tx, scope, "webhook_endpoint.disabled", &shown, now).await?;
    Ok(())
}

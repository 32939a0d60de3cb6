//! The email worker: sends due emails through the environment's SMTP server, retries
//! transient failures with backoff, and gives up on permanent ones. Claim, send, record, as
//! webhook deliveries do: no transaction is held while the SMTP server answers.

use std::time::Duration;

use lettre::AsyncTransport;
use lettre::message::{Mailbox, Message, MultiPart};

use super::Mailer;
use crate::app::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::outbox;
use crate::tenancy::{Env, Scope};
use domain::email::{EmailStatus, MAX_ATTEMPTS, retry_delay_ms};
use domain::ids::OrgId;
use store::email::{self as db, EmailRow};

/// Emails read per tick.
const BATCH: i64 = 200;
/// Emails being sent at once.
const IN_FLIGHT: usize = 8;
/// How long an SMTP exchange may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed email is held before another worker may send it: past any exchange.
const LEASE_MS: i64 = 30_000;

/// Sends every email due now, `IN_FLIGHT` at a time; returns how many it settled or
/// rescheduled. One failing to be recorded is logged and does not hold the others back.
pub async fn tick(state: &AppState) -> ApiResult<usize> {
    let now = state.clock.now_ms();
    let due = db::due_emails(state.db.reader(), now, BATCH).await?;
    let sent = outbox::send_all(state, due, IN_FLIGHT, "email delivery", |state, due| {
        let (tenant, env, id, seen) = due;
        async move { send_one(&state, tenant, &env, &id, seen).await }
    });
    Ok(sent.await)
}

/// Runs `tick` every `every` until the process ends.
pub async fn run(state: AppState, every: Duration) {
    outbox::run(state, every, "email delivery", |state| async move {
        tick(&state).await
    })
    .await
}

/// Claims, sends and records one email; false when another worker had it first.
async fn send_one(
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
    let Some(mut email) = db::claim_email(&mut tx, &scope, id, seen, now + LEASE_MS).await? else {
        return Ok(false);
    };
    super::render_claimed(&mut tx, state, &scope, &mut email).await?;
    tx.commit().await?;

    let outcome = send(&state.mail, env, &email).await;
    let now = state.clock.now_ms();
    match outcome {
        Sent::Captured => email.status = EmailStatus::Captured.into(),
        Sent::Accepted => {
            email.status = EmailStatus::Sent.into();
            email.sent_at = Some(now);
        }
        Sent::Refused(error) => {
            email.status = EmailStatus::Failed.into();
            email.last_error = Some(error);
        }
        Sent::Failed(error) if email.attempts >= MAX_ATTEMPTS => {
            email.status = EmailStatus::Failed.into();
            email.last_error = Some(error);
        }
        Sent::Failed(error) => {
            email.last_error = Some(error);
            email.next_attempt_at = Some(now + retry_delay_ms(email.attempts));
        }
    }
    if email.status != EmailStatus::Pending {
        email.next_attempt_at = None;
    }
    let mut tx = state.db.write_scoped(&scope).await?;
    db::record_attempt(&mut tx, &scope, &email).await?;
    tx.commit().await?;
    Ok(true)
}

enum Sent {
    /// No SMTP server for the environment: kept, not sent.
    Captured,
    Accepted,
    /// Refused for good: a bad address, a permanent (5xx) answer.
    Refused(String),
    /// Worth another try: unreachable, timed out, a transient (4xx) answer.
    Failed(String),
}

async fn send(mail: &Mailer, env: Env, email: &EmailRow) -> Sent {
    let Some(transport) = mail.transport(env) else {
        return Sent::Captured;
    };
    let message = match message(mail, email) {
        Ok(m) => m,
        Err(e) => return Sent::Refused(e),
    };
    match transport.send(message).await {
        Ok(_) => Sent::Accepted,
        Err(e) if e.is_permanent() => Sent::Refused(e.to_string()),
        Err(e) => Sent::Failed(e.to_string()),
    }
}

/// The MIME message: text and HTML alternatives, its id the email's own (stable across
/// retries, so receivers can tell a resend).
fn message(mail: &Mailer, email: &EmailRow) -> Result<Message, String> {
    let content = email.content.as_ref().ok_or("not rendered")?;
    let from = Mailbox::new(Some(content.sender_name.clone()), mail.from.email.clone());
    let to: Mailbox = email
        .recipient
        .parse()
        .map_err(|e| format!("recipient {:?}: {e}", email.recipient))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(content.subject.clone())
        .message_id(Some(format!("<{}@{}>", email.id, mail.from.email.domain())));
    if let Some(reply_to) = &content.reply_to {
        let reply_to: Mailbox = reply_to
            .parse()
            .map_err(|e| format!("reply_to {reply_to:?}: {e}"))?;
        builder = builder.reply_to(reply_to);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            content.text.clone(),
            content.html.clone(),
        ))
        .map_err(|e| e.to_string())
}

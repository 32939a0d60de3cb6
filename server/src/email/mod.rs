//! Transactional email to a tenant's customers, made from events.
//!
//! Invariants:
//! - An email exists exactly when the event it reports does: `enqueue` writes it into the
//!   outbox in the transaction that writes the event (`webhooks::emit_all`), one per event
//!   and kind (a unique key). The worker renders it when it first takes it, in the claim's
//!   transaction, and keeps what it rendered: what is listed is what was sent.
//! - No transaction is open while an email is sent: the worker (`delivery`) claims it under
//!   a lease (a short transaction), sends it, and records the outcome in another.
//! - Sent at least once, and once in practice: an email claimed by a worker that died
//!   before recording the SMTP server's answer is sent again when its lease ends. That
//!   window is the time between the server's `250` and one `UPDATE`; the `Message-ID` stays
//!   the email's id, so a receiving server that dedupes by it sees one.
//! - The sandbox sends only through `--sandbox-smtp-url` (a mail catcher); without one its
//!   emails are `captured`, listed with their content and never sent. Live emails go
//!   through `--smtp-url`, likewise `captured` without one.

pub mod api;
pub mod delivery;
pub mod render;

use std::collections::HashMap;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use crate::app::AppState;
use crate::billing::portal;
use crate::config::EmailArgs;
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::{Env, Scope};
use domain::email::{EmailKind, EmailSettings, EmailStatus};
use domain::ids::EmailId;
use store::billing as billing_db;
use store::email::{self as db, Content, EmailRow};
use store::webhooks::EventRow;

/// The scope's settings, or the defaults branded with the organization's name.
pub async fn settings(tx: &mut sqlx::AnyConnection, scope: &Scope) -> ApiResult<EmailSettings> {
    if let Some(settings) = db::get_settings(tx, scope).await? {
        return Ok(settings.0);
    }
    let name = store::tenancy::org_name(tx, scope)
        .await?
        .unwrap_or_default();
    Ok(EmailSettings::defaults(&name))
}

/// Writes the emails that `events` send to their customers, in the caller's transaction:
/// one per event of a kind the scope has enabled, about a customer with an address. The
/// worker renders each when it first takes it (`render_claimed`).
pub async fn enqueue(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    events: &[EventRow],
    now: i64,
) -> ApiResult<()> {
    let wanted: Vec<(EmailKind, &EventRow, &str)> = events
        .iter()
        .filter_map(|e| {
            let kind = EmailKind::for_event(&e.event_type)?;
            Some((kind, e, e.data.0.get("customer")?.as_str()?))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let settings = settings(tx, scope).await?;
    let ids: Vec<&str> = wanted.iter().map(|(_, _, c)| *c).collect();
    let addresses: HashMap<String, String> = billing_db::get_customers(tx, scope, &ids)
        .await?
        .into_iter()
        .filter_map(|c| Some((c.id, c.email?)))
        .collect();
    let emails: Vec<EmailRow> = wanted
        .into_iter()
        .filter(|(kind, _, _)| settings.sends(*kind))
        .filter_map(|(kind, event, customer)| {
            Some(EmailRow {
                id: EmailId::generate().to_string(),
                kind: kind.into(),
                event_id: event.id.clone(),
                customer_id: Some(customer.to_owned()),
                recipient: addresses.get(customer)?.clone(),
                content: None,
                status: EmailStatus::Pending.into(),
                attempts: 0,
                next_attempt_at: Some(now),
                last_error: None,
                created_at: now,
                sent_at: None,
            })
        })
        .collect();
    db::insert_emails(tx, scope, &emails).await?;
    Ok(())
}

/// Renders a claimed email that has no content yet, in the claim's transaction: the
/// tenant's settings and the customer as they are now, the event's object as it was, and
/// for a failed payment a link into the customer portal to fix the card.
pub async fn render_claimed(
    tx: &mut sqlx::AnyConnection,
    state: &AppState,
    scope: &Scope,
    email: &mut EmailRow,
) -> ApiResult<()> {
    if email.content.is_some() {
        return Ok(());
    }
    let settings = settings(tx, scope).await?;
    let event = store::webhooks::get_event(tx, scope, &email.event_id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("{} has no event", email.id)))?;
    let customer = match &email.customer_id {
        Some(id) => billing_db::get_customer(tx, scope, id).await?,
        None => None,
    };
    let portal_url = match (*email.kind, &customer) {
        (EmailKind::PaymentFailed, Some(c)) => {
            Some(portal::email_link(tx, state, scope, &c.id).await?)
        }
        _ => None,
    };
    let to = render::Recipient {
        name: customer.as_ref().and_then(|c| c.name.as_deref()),
        email: &email.recipient,
    };
    let rendered = render::render(*email.kind, &settings, &to, &event.data.0, portal_url)?;
    let content = Content {
        sender_name: settings.sender_name().to_owned(),
        reply_to: settings.reply_to.clone(),
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
    };
    db::set_content(tx, scope, &email.id, &content).await?;
    email.content = Some(content);
    Ok(())
}

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// The SMTP servers emails go through, per environment, and the address they come from.
pub struct Mailer {
    from: Mailbox,
    live: Option<Transport>,
    sandbox: Option<Transport>,
}

impl Mailer {
    pub fn new(args: &EmailArgs) -> anyhow::Result<Mailer> {
        let transport = |flag: &str, url: &Option<String>| -> anyhow::Result<Option<Transport>> {
            url.as_deref()
                .map(|u| {
                    Transport::from_url(u)
                        .map(|b| b.timeout(Some(delivery::SEND_TIMEOUT)).build())
                        .map_err(|e| anyhow::anyhow!("{flag}: {e}"))
                })
                .transpose()
        };
        Ok(Mailer {
            from: args
                .email_from
                .parse()
                .map_err(|e| anyhow::anyhow!("--email-from {:?}: {e}", args.email_from))?,
            live: transport("--smtp-url", &args.smtp_url)?,
            sandbox: transport("--sandbox-smtp-url", &args.sandbox_smtp_url)?,
        })
    }

    fn transport(&self, env: Env) -> Option<&Transport> {
        match env {
            Env::Live => self.live.as_ref(),
            Env::Test => self.sandbox.as_ref(),
        }
    }
}

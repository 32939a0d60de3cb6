//! Transactional email to a tenant's customers, made from events.
//!
//! Invariants:
//! - An email exists exactly when the event it reports does: `enqueue` writes it into the
//!   outbox in the transaction that writes the event (`webhooks::emit_all`), rendered then,
//!   so what was sent is what is listed. One per event and kind (a unique key).
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

use crate::config::EmailArgs;
use crate::http::error::ApiResult;
use crate::tenancy::{Env, Scope};
use domain::email::{EmailKind, EmailSettings, EmailStatus};
use domain::ids::EmailId;
use store::billing as billing_db;
use store::email::{self as db, EmailRow};
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
/// one per event of a kind the scope has enabled, about a customer with an email address.
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
    let customers: HashMap<String, billing_db::CustomerRow> =
        billing_db::get_customers(tx, scope, &ids)
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
    let mut emails = Vec::new();
    for (kind, event, customer) in wanted {
        let Some(customer) = customers.get(customer) else {
            continue;
        };
        let Some(address) = customer.email.as_deref() else {
            continue;
        };
        if !settings.sends(kind) {
            continue;
        }
        let to = render::Recipient {
            name: customer.name.as_deref(),
            email: address,
        };
        let content = render::render(kind, &settings, &to, &event.data.0)?;
        emails.push(EmailRow {
            id: EmailId::generate().to_string(),
            kind: kind.into(),
            event_id: event.id.clone(),
            customer_id: Some(customer.id.clone()),
            recipient: address.to_owned(),
            sender_name: settings.sender_name().to_owned(),
            reply_to: settings.reply_to.clone(),
            subject: content.subject,
            html: content.html,
            text: content.text,
            status: EmailStatus::Pending.into(),
            attempts: 0,
            next_attempt_at: Some(now),
            last_error: None,
            created_at: now,
            sent_at: None,
        });
    }
    db::insert_emails(tx, scope, &emails).await?;
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

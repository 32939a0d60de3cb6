//! An email's subject, HTML and plain text, from `server/templates/email/` (minijinja: the
//! HTML escaped, the text not), branded with the tenant's settings. The object an email is
//! about is its event's `data`, as webhooks show it.

use std::sync::LazyLock;

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use serde_json::{Value, json};

use crate::http::error::{ApiError, ApiResult};
use domain::billing::money::money;
use domain::email::{EmailKind, EmailSettings};

/// What an email says.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Who it is for, as the templates greet them.
#[derive(Debug, Clone, Serialize)]
pub struct Recipient<'a> {
    pub name: Option<&'a str>,
    pub email: &'a str,
}

macro_rules! templates {
    ($env:ident, $($name:literal),* $(,)?) => {
        $(
            $env.add_template($name, include_str!(concat!("../../templates/email/", $name)))
                .expect(concat!("template ", $name, " parses"));
        )*
    };
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| match name.ends_with(".html") {
        true => AutoEscape::Html,
        false => AutoEscape::None,
    });
    // Times in event data are RFC 3339 strings; emails show their day.
    env.add_filter("day", |t: Option<String>| {
        t.map(|t| t.chars().take(10).collect::<String>())
            .unwrap_or_default()
    });
    env.add_function("money", |minor: i64, currency: String| {
        money(minor, &currency)
    });
    templates!(
        env,
        "layout.html",
        "layout.txt",
        "invoice_finalized.html",
        "invoice_finalized.txt",
        "invoice_paid.html",
        "invoice_paid.txt",
        "payment_failed.html",
        "payment_failed.txt",
        "trial_will_end.html",
        "trial_will_end.txt",
        "subscription_canceled.html",
        "subscription_canceled.txt",
        "usage_threshold_reached.html",
        "usage_threshold_reached.txt",
    );
    env
});

fn subject_template(kind: EmailKind) -> &'static str {
    match kind {
        EmailKind::InvoiceFinalized => "Invoice {{ invoice.number }} from {{ brand.name }}",
        EmailKind::InvoicePaid => "Receipt for invoice {{ invoice.number }}",
        EmailKind::PaymentFailed => {
            "Your payment of {{ money(invoice.amount_due, invoice.currency) }} failed"
        }
        EmailKind::TrialWillEnd => {
            "Your {{ brand.name }} trial ends on {{ subscription.trial_end | day }}"
        }
        EmailKind::SubscriptionCanceled => "Your {{ brand.name }} subscription was canceled",
        EmailKind::UsageThresholdReached => {
            "You have used {{ alert.threshold }}% of {{ alert.feature }}"
        }
    }
}

/// The name the templates know the event's object by.
fn object_name(kind: EmailKind) -> &'static str {
    match kind {
        EmailKind::InvoiceFinalized | EmailKind::InvoicePaid | EmailKind::PaymentFailed => {
            "invoice"
        }
        EmailKind::TrialWillEnd | EmailKind::SubscriptionCanceled => "subscription",
        EmailKind::UsageThresholdReached => "alert",
    }
}

/// `portal_url`: a link into the customer portal, for emails that ask the customer to act.
pub fn render(
    kind: EmailKind,
    settings: &EmailSettings,
    to: &Recipient<'_>,
    data: &Value,
    portal_url: Option<String>,
) -> ApiResult<Rendered> {
    let fault = |e: minijinja::Error| ApiError::Internal(anyhow::anyhow!("email {kind:?}: {e:#}"));
    let mut ctx = json!({"brand": settings.brand, "customer": to, "portal_url": portal_url});
    ctx[object_name(kind)] = data.clone();
    let subject = TEMPLATES
        .render_str(subject_template(kind), Serde(&ctx))
        .map_err(fault)?;
    ctx["subject"] = Value::String(subject.clone());
    let body = |ext: &str| {
        TEMPLATES
            .get_template(&format!("{}.{ext}", kind.name()))
            .and_then(|t| t.render(Serde(&ctx)))
            .map_err(fault)
    };
    Ok(Rendered {
        html: body("html")?,
        text: body("txt")?,
        subject,
    })
}

/// Made-up data of each kind, for previews.
pub fn sample(kind: EmailKind) -> Value {
    match object_name(kind) {
        "invoice" => json!({
            "number": "INV-000042", "currency": "usd", "total": 4900, "amount_due": 4900,
            "period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z",
            "paid_at": "2026-12-01T01:00:00Z", "attempt_count": 1,
            "next_action_at": "2026-12-04T01:00:00Z",
        }),
        "subscription" => json!({
            "trial_end": "2026-12-15T00:00:00Z", "canceled_at": "2026-12-01T00:00:00Z",
        }),
        _ => json!({
            "feature": "api_calls", "threshold": 80, "limit": 10000, "usage": "8000",
            "period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z",
        }),
    }
}

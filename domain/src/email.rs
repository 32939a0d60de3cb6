//! Transactional email to a tenant's customers: which events send one (`EmailKind`), the
//! tenant's settings per environment, and an email's delivery states. Emails are made from
//! events, so an email exists exactly when the change it reports was committed.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::tenancy::Email;

/// What an email is about, one per event type that sends one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// An invoice was finalized: what is owed and when it is collected.
    InvoiceFinalized,
    /// An invoice was paid: the receipt.
    InvoicePaid,
    /// A payment attempt failed, the first one or a dunning retry.
    PaymentFailed,
    /// A trial ends in a few days (`subscription.trial_will_end`).
    TrialWillEnd,
    SubscriptionCanceled,
    /// A metered feature's use reached an alert threshold.
    UsageThresholdReached,
}

impl EmailKind {
    pub const ALL: [EmailKind; 6] = [
        EmailKind::InvoiceFinalized,
        EmailKind::InvoicePaid,
        EmailKind::PaymentFailed,
        EmailKind::TrialWillEnd,
        EmailKind::SubscriptionCanceled,
        EmailKind::UsageThresholdReached,
    ];

    /// The email an event of `event_type` sends, if any.
    pub fn for_event(event_type: &str) -> Option<EmailKind> {
        Some(match event_type {
            "invoice.finalized" => EmailKind::InvoiceFinalized,
            "invoice.paid" => EmailKind::InvoicePaid,
            "invoice.payment_failed" => EmailKind::PaymentFailed,
            "subscription.trial_will_end" => EmailKind::TrialWillEnd,
            "subscription.canceled" => EmailKind::SubscriptionCanceled,
            "usage.threshold_reached" => EmailKind::UsageThresholdReached,
            _ => return None,
        })
    }

    /// The event type that sends it.
    pub fn event_type(self) -> &'static str {
        match self {
            EmailKind::InvoiceFinalized => "invoice.finalized",
            EmailKind::InvoicePaid => "invoice.paid",
            EmailKind::PaymentFailed => "invoice.payment_failed",
            EmailKind::TrialWillEnd => "subscription.trial_will_end",
            EmailKind::SubscriptionCanceled => "subscription.canceled",
            EmailKind::UsageThresholdReached => "usage.threshold_reached",
        }
    }

    /// The name of its templates (`invoice_paid.html`, `invoice_paid.txt`).
    pub fn name(self) -> &'static str {
        match self {
            EmailKind::InvoiceFinalized => "invoice_finalized",
            EmailKind::InvoicePaid => "invoice_paid",
            EmailKind::PaymentFailed => "payment_failed",
            EmailKind::TrialWillEnd => "trial_will_end",
            EmailKind::SubscriptionCanceled => "subscription_canceled",
            EmailKind::UsageThresholdReached => "usage_threshold_reached",
        }
    }
}

/// An email's delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    /// Waiting to be sent (again, after a failed attempt).
    Pending,
    /// Accepted by the SMTP server.
    Sent,
    /// Kept here only: no SMTP server is configured for its environment (the sandbox's
    /// default). Its content is listed all the same.
    Captured,
    /// Refused by the SMTP server, or not accepted after `MAX_ATTEMPTS`.
    Failed,
}

/// Attempts before an email is given up on (about a day of backoff).
pub const MAX_ATTEMPTS: i64 = 12;

/// How long after attempt `attempts` (1, 2, …) the next one is made: 2 s doubling, at most
/// an hour.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 12) - 1).unwrap_or(0);
    (2_000i64 << exp).min(3_600_000)
}

/// A tenant's email settings in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// The `From` name; the address is the server's `--email-from`. Default: the brand name.
    #[cfg_attr(feature = "openapi", schema(example = "Acme Billing"))]
    pub sender_name: Option<String>,
    /// Where customers' replies go.
    #[cfg_attr(feature = "openapi", schema(example = "billing@acme.example"))]
    pub reply_to: Option<String>,
    /// The kinds that are sent; every kind by default.
    #[serde(default = "all_kinds")]
    pub enabled: Vec<EmailKind>,
    pub brand: Brand,
}

fn all_kinds() -> Vec<EmailKind> {
    EmailKind::ALL.to_vec()
}

/// How emails look: the tenant's name, logo and colour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Brand {
    #[cfg_attr(feature = "openapi", schema(example = "Acme"))]
    pub name: String,
    /// An https URL of the logo image.
    pub logo_url: Option<String>,
    /// A `#rrggbb` colour for headings and buttons. Default `#4f46e5`.
    #[serde(default = "default_color")]
    #[cfg_attr(feature = "openapi", schema(example = "#4f46e5"))]
    pub primary_color: String,
}

fn default_color() -> String {
    "#4f46e5".to_owned()
}

impl EmailSettings {
    /// The settings of a tenant that set none: every kind, branded with its name.
    pub fn defaults(organization_name: &str) -> EmailSettings {
        EmailSettings {
            sender_name: None,
            reply_to: None,
            enabled: all_kinds(),
            brand: Brand {
                name: organization_name.to_owned(),
                logo_url: None,
                primary_color: default_color(),
            },
        }
    }

    pub fn sends(&self, kind: EmailKind) -> bool {
        self.enabled.contains(&kind)
    }

    pub fn sender_name(&self) -> &str {
        self.sender_name.as_deref().unwrap_or(&self.brand.name)
    }

    /// Checks lengths and shapes; sorts and dedupes `enabled`.
    pub fn check(mut self) -> Result<EmailSettings> {
        let text = |field: &str, value: &str, max: usize| -> Result<()> {
            let bad = value.trim().is_empty()
                || value.chars().count() > max
                || value.chars().any(char::is_control);
            match bad {
                true => Err(Error::validation(
                    field,
                    format!("must be 1 to {max} characters, without control characters"),
                )),
                false => Ok(()),
            }
        };
        text("brand.name", &self.brand.name, 100)?;
        if let Some(name) = &self.sender_name {
            text("sender_name", name, 100)?;
        }
        if let Some(reply_to) = &self.reply_to {
            self.reply_to = Some(Email::parse("reply_to", reply_to)?.as_str().to_owned());
        }
        if let Some(logo) = &self.brand.logo_url {
            let https = url::Url::parse(logo).is_ok_and(|u| u.scheme() == "https");
            if !https || logo.len() > 2000 {
                return Err(Error::validation(
                    "brand.logo_url",
                    "must be an https URL of at most 2000 characters",
                ));
            }
        }
        let c = &self.brand.primary_color;
        if !(c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(Error::validation(
                "brand.primary_color",
                "must be a #rrggbb colour",
            ));
        }
        self.enabled.sort();
        self.enabled.dedup();
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_its_event_and_back() {
        for kind in EmailKind::ALL {
            assert_eq!(EmailKind::for_event(kind.event_type()), Some(kind));
            assert_eq!(crate::serde_name(kind).as_deref(), Some(kind.name()));
        }
        assert_eq!(EmailKind::for_event("invoice.created"), None);
    }

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(retry_delay_ms(1), 2_000);
        assert_eq!(retry_delay_ms(2), 4_000);
        assert_eq!(retry_delay_ms(MAX_ATTEMPTS), 3_600_000);
        assert_eq!(retry_delay_ms(100), 3_600_000);
    }

    #[test]
    fn settings_are_checked() {
        let ok = EmailSettings::defaults("Acme");
        assert!(ok.clone().check().is_ok());
        assert_eq!(ok.sender_name(), "Acme");
        let bad_color = EmailSettings {
            brand: Brand {
                primary_color: "red".into(),
                ..ok.brand.clone()
            },
            ..ok.clone()
        };
        assert!(bad_color.check().is_err());
        let bad_logo = EmailSettings {
            brand: Brand {
                logo_url: Some("http://acme.example/logo.png".into()),
                ..ok.brand.clone()
            },
            ..ok.clone()
        };
        assert!(bad_logo.check().is_err());
        let bad_reply = EmailSettings {
            reply_to: Some("not an address".into()),
            ..ok.clone()
        };
        assert!(bad_reply.check().is_err());
        let injected = EmailSettings {
            sender_name: Some("Acme\r\nBcc: x@y.z".into()),
            ..ok
        };
        assert!(injected.check().is_err());
    }
}

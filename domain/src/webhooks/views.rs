//! How the API shows webhook endpoints and events; an event is also what endpoints receive.
//! The store maps its rows to these.

use serde::Serialize;

use super::EndpointStatus;
use crate::clock::timestamp;
use crate::ids::{EventId, WebhookEndpointId};

/// A URL of yours that receives events, signed the Standard Webhooks way.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://example.com/webhooks/neoforge")
    )]
    pub url: String,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Invoices to the ledger service")
    )]
    pub description: Option<String>,
    /// Event types sent to this endpoint: exact types, prefixes like `invoice.*`, or `*` for all.
    #[cfg_attr(feature = "openapi", schema(example = json!(["invoice.*", "customer.created"]), min_items = 1))]
    pub enabled_events: Vec<String>,
    /// `disabled` by request, or automatically after five days of failed attempts.
    pub status: EndpointStatus,
    /// Why the endpoint was disabled.
    pub disabled_reason: Option<String>,
    /// The signing secret (`whsec_` and base64). In full only in the responses that create the
    /// endpoint or rotate its secret; masked (`whsec_…` and its last four characters) elsewhere.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    )]
    pub secret: String,
    /// True for live-mode endpoints, false in the sandbox.
    pub livemode: bool,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: i64,
}

/// Something that happened in your account; what webhook endpoints receive, as is.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Also the `webhook-id` header of its deliveries: the same across retries and replays,
    /// so receivers can drop duplicates.
    pub id: EventId,
    /// The event type (see `enabled_events`).
    #[cfg_attr(feature = "openapi", schema(example = "invoice.paid"))]
    pub r#type: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: i64,
    /// True for live-mode events, false in the sandbox.
    pub livemode: bool,
    /// The object the event is about, as the API shows it (a customer, an invoice, …).
    #[cfg_attr(feature = "openapi", schema(value_type = Object, example = json!({"id": "cus_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e", "name": "Globex GmbH"})))]
    pub data: serde_json::Value,
}

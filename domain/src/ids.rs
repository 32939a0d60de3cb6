//! Prefixed, sortable identifiers (`org_…`, `key_…`), one newtype per resource.
//!
//! The body is a UUIDv7 in lowercase hex, so ids sort by creation time both as strings and in
//! the database; cursor pagination relies on that.

use std::fmt;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!(concat!($prefix, "_{}"), uuid::Uuid::now_v7().simple()))
            }

            /// Accepts only well-formed ids of this kind.
            pub fn parse(s: &str) -> Option<Self> {
                let body = s.strip_prefix(concat!($prefix, "_"))?;
                let ok = body.len() == 32
                    && body.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                ok.then(|| Self(s.to_owned()))
            }

            /// For values read back from our own database.
            pub fn from_db(s: String) -> Self {
                Self(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(concat!("expected an id starting with `", $prefix, "_`"))
                })
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "_[0-9a-f]{32}$")))
                    .examples([concat!($prefix, "_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e")])
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

prefixed_id!(
    /// A user account (a person who logs in to the dashboard or portal).
    UserId, "usr");
prefixed_id!(
    /// An organization: the tenant.
    OrgId, "org");
prefixed_id!(
    /// A custom role.
    RoleId, "role");
prefixed_id!(
    /// An invitation to join an organization.
    InvitationId, "invt");
prefixed_id!(
    /// An API key.
    ApiKeyId, "key");
prefixed_id!(
    /// A dashboard session.
    SessionId, "ses");
prefixed_id!(
    /// An audit event.
    AuditEventId, "aud");
prefixed_id!(
    /// A product of the catalog.
    ProductId, "prod");
prefixed_id!(
    /// A price of a product.
    PriceId, "price");
prefixed_id!(
    /// One of the tenant's own customers.
    CustomerId, "cus");
prefixed_id!(
    /// A sandbox clock that customers' billing follows.
    TestClockId, "clock");
prefixed_id!(
    /// A subscription of a customer to prices.
    SubscriptionId, "sub");
prefixed_id!(
    /// An invoice.
    InvoiceId, "in");
prefixed_id!(
    /// A webhook endpoint: a URL of the tenant's that receives events.
    WebhookEndpointId, "we");
prefixed_id!(
    /// An event: something that happened, delivered to webhook endpoints.
    EventId, "evt");
prefixed_id!(
    /// The delivery of one event to one endpoint (retried until it succeeds or gives up).
    WebhookDeliveryId, "wd");
prefixed_id!(
    /// One HTTP request of a webhook delivery.
    WebhookAttemptId, "wa");
prefixed_id!(
    /// A transactional email to a customer, from the event it reports.
    EmailId, "eml");
prefixed_id!(
    /// A customer portal session: a link that opens once into one customer's portal.
    PortalSessionId, "bps");
prefixed_id!(
    /// A hosted checkout session: a page that takes one payment, once.
    CheckoutSessionId, "cs");
prefixed_id!(
    /// A pricing table: published plans whose buttons start checkout.
    PricingTableId, "prctbl");
prefixed_id!(
    /// A coupon: a percentage or amount off a subscription's invoices.
    CouponId, "coupon");
prefixed_id!(
    /// A promotion code: a customer-facing code for a coupon.
    PromotionCodeId, "promo");
prefixed_id!(
    /// A tax rate applied to invoices (exclusive).
    TaxRateId, "txr");
prefixed_id!(
    /// A credit note: money given back on a paid invoice.
    CreditNoteId, "cn");
prefixed_id!(
    /// A meter: how usage events of one type aggregate.
    MeterId, "mtr");
prefixed_id!(
    /// An entry of the request log: one API request made with a key.
    RequestLogId, "rlog");
prefixed_id!(
    /// A SCIM token: how an organization's directory (Entra ID, Okta…) provisions it.
    ScimTokenId, "scimtok");
prefixed_id!(
    /// A user provisioned by SCIM.
    ScimUserId, "scimusr");
prefixed_id!(
    /// A group provisioned by SCIM.
    ScimGroupId, "scimgrp");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_their_own_prefix() {
        let id = OrgId::generate();
        assert_eq!(OrgId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(ApiKeyId::parse(id.as_str()), None);
        assert_eq!(OrgId::parse("org_xyz"), None);
        assert_eq!(OrgId::parse("org_0192F1C4E6A87B3C9D0E1F2A3B4C5D6E"), None);
    }

    #[test]
    fn ids_sort_by_creation() {
        // Many within one millisecond: uuid's v7 counter keeps them in order.
        let ids: Vec<ApiKeyId> = (0..1000).map(|_| ApiKeyId::generate()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
prefixed_id!(
    /// A single sign-on connection of an organization to its identity provider.
    ConnectionId, "conn");
prefixed_id!(
    /// An email domain an organization claims for single sign-on.
    DomainId, "dom");
prefixed_id!(
    /// A recorded change of a customer's MRR.
    MovementId, "mrrmv");

//! End-to-end tests of the API over real HTTP, each run on SQLite and on PostgreSQL, and
//! (`modules`) tests of single server modules.

mod helpers;

mod accounts;
mod analytics;
mod api_keys;
mod billing_portal;
mod catalog;
mod changes;
mod checkout;
mod checkout_stripe;
mod conventions;
mod coupons;
mod customers;
mod durability;
mod emails;
mod environments;
mod fake_stripe;
mod hardening;
mod isolation;
mod lifecycle;
mod metering;
mod modules;
mod organizations;
mod portal;
mod request_log;
#[cfg(feature = "saml")]
mod saml;
mod scim;
mod sso;
mod store_scope;
mod stripe;
mod subscriptions;
mod tools;
mod webhooks;

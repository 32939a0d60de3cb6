//! HTTP handlers of the billing domain, one file per resource.

pub mod coupons;
pub mod credit_notes;
pub mod customers;
pub mod invoices;
pub mod payment_provider;
pub mod prices;
pub mod products;
pub mod promotion_codes;
pub mod settings;
pub mod stripe_webhooks;
pub mod subscriptions;
pub mod tax_rates;
pub mod test_clocks;

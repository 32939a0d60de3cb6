//! Usage metering: events in (`ingest`), meters that aggregate them into rollups (`model`,
//! `store`), usage read back from the rollups (`usage`), and entitlements with quotas (`quotas`)
//! and the alerts they send (`alerts`). Billing reads `usage::total` for the usage lines of invoices.

pub mod alerts;
pub mod api;
pub mod ingest;
pub mod quotas;
pub mod usage;

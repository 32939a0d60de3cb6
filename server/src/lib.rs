//! NeoForge server: the HTTP API over tenancy (and, as it grows, billing and metering).
//! See ARCHITECTURE.md at the repository root for the map.

pub mod app;
pub mod audit;
pub mod billing;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod http;
pub mod identity;
pub mod ids;
pub mod metering;
pub mod openapi;
pub mod outbound;
pub mod portal;
pub mod request_log;
pub mod secret;
pub mod store;
pub mod tenancy;
pub mod webhooks;

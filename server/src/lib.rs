//! NeoForge server: the HTTP API over tenancy (and, as it grows, billing and metering).
//! See ARCHITECTURE.md at the repository root for the map.

pub mod analytics;
pub mod app;
pub mod audit;
pub mod billing;
pub mod config;
pub mod email;
pub mod http;
pub mod identity;
pub mod metering;
pub mod openapi;
pub mod outbound;
pub mod outbox;
pub mod portal;
pub mod request_log;
pub mod tenancy;
pub mod webhooks;

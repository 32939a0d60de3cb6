//! Metering endpoints: events, meters with their usage, and entitlement checks.

pub mod entitlements;
pub mod events;
pub mod meters;

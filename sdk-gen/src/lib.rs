//! NeoForge SDK generator: reads the OpenAPI document and compares releases of it.
//!
//! - [`load`]: read an OpenAPI 3.0 or 3.1 document from JSON or YAML.
//! - [`compat`]: the breaking-change checker behind `sdk-gen diff`.
//! - [`normalize`]: OpenAPI 3.1 → 3.0, the one place it happens.
//! - [`ir`]: the intermediate representation every backend reads.
//! - [`backends`]: TypeScript, Python and Rust SDKs from the IR (Rust via progenitor).
//! - [`portal`]: the developer portal's static site from the IR, with the backends' samples.
//! - [`pipeline`]: spec file → IR → files on disk.
//! - [`release`]: frozen releases, the release gate and the changelog.

pub mod backends;
pub mod compat;
pub mod ir;
pub mod load;
pub mod normalize;
pub mod pipeline;
pub mod portal;
pub mod release;

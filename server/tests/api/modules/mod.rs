//! Tests of single server modules, kept out of the library so that it builds no test
//! harness: a handler edit then compiles the server once.

mod config;
mod invoicing;
mod key_cache;
mod objects;
mod outbound;
mod pagination;
mod scim_filter;
mod scim_patch;
mod scim_resource;

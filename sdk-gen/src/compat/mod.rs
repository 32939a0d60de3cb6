//! The breaking-change checker: compares a base (released) OpenAPI document with a head one
//! and lists every change, each with a rule id and a severity (see [`rules`]).
//!
//! Changes are reported per operation: a change in a component schema shows up once for
//! every operation that uses it, with that operation's method and path. `$ref`s to
//! `#/...` are followed (recursive schemas included); other references are refused.
//! Not compared: descriptions and examples, response headers, links, callbacks, webhooks.

mod change;
mod doc;
mod member;
mod operation;
mod pairs;
pub mod report;
pub mod rules;
mod schema;
mod security;

use anyhow::Result;
use serde_json::Value;

pub use self::change::{Change, Severity};
use self::{
    change::Collector,
    doc::Doc,
    operation::Operation,
    pairs::{Pair, pair_up},
    rules::{OPERATION_ADDED, OPERATION_REMOVED, PATH_REMOVED},
};

/// Every change from `base` to `head`, most severe first, then by path and method.
/// Fails on a document this checker cannot read, naming the document and the JSON pointer.
pub fn diff(base: &Value, head: &Value) -> Result<Vec<Change>> {
    let (base, head) = (Doc::root(base, "base")?, Doc::root(head, "head")?);
    let mut out = Collector::default();
    let base_paths = base.entries_of("paths")?.into_iter().collect();
    let head_paths = head.entries_of("paths")?.into_iter().collect();
    for (path, pair) in pair_up(base_paths, head_paths) {
        let (base_ops, head_ops) = match &pair {
            Pair::Removed(item) => (Operation::of_path(item, &base)?, Default::default()),
            Pair::Added(item) => (Default::default(), Operation::of_path(item, &head)?),
            Pair::Both(b, h) => (Operation::of_path(b, &base)?, Operation::of_path(h, &head)?),
        };
        for (method, operations) in pair_up(base_ops, head_ops) {
            out.enter(method, path);
            match (operations, &pair) {
                (Pair::Removed(_), Pair::Removed(item)) => {
                    out.emit(&PATH_REMOVED, &item.ptr, "path removed")
                }
                (Pair::Removed(op), _) => {
                    out.emit(&OPERATION_REMOVED, &op.node.ptr, "operation removed")
                }
                (Pair::Added(op), _) => out.emit(&OPERATION_ADDED, &op.node.ptr, "operation added"),
                (Pair::Both(b, h), _) => operation::compare(&mut out, b, h)?,
            }
        }
    }
    Ok(out.finish())
}

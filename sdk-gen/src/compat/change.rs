//! What the checker reports, and the collector that records it per operation.

use std::{cmp::Reverse, collections::HashSet, fmt};

use serde::Serialize;

use super::{
    doc::{Node, Ptr},
    pairs::Pair,
    rules::{Direction, Rule},
};

/// How a change affects existing clients. Ordered from harmless to breaking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Additive or otherwise compatible.
    Info,
    /// Compatible on the wire, but some clients may notice.
    Warning,
    /// Existing clients can fail.
    Breaking,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Breaking => "BREAKING",
        })
    }
}

/// One difference between the base and the head document, seen from one operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Stable kebab-case id of the rule, e.g. `operation-removed`.
    pub rule: &'static str,
    pub severity: Severity,
    /// Upper-case HTTP method of the affected operation.
    pub method: String,
    pub path: String,
    /// Where it happened: into the base document for what was removed, else into the head.
    pub pointer: String,
    pub message: String,
}

/// Collects changes for the operation being compared.
#[derive(Default)]
pub struct Collector {
    method: String,
    path: String,
    /// Schema pairs already compared for this operation: a shared schema is reported once
    /// per operation, and recursive schemas terminate.
    seen: HashSet<(Ptr, Ptr, Direction)>,
    changes: Vec<Change>,
}

impl Collector {
    pub fn enter(&mut self, method: &str, path: &str) {
        self.method = method.to_ascii_uppercase();
        self.path = path.to_owned();
        self.seen.clear();
    }

    pub fn emit(&mut self, rule: &'static Rule, at: &Ptr, message: impl Into<String>) {
        self.changes.push(Change {
            rule: rule.id,
            severity: rule.severity,
            method: self.method.clone(),
            path: self.path.clone(),
            pointer: at.to_string(),
            message: message.into(),
        });
    }

    /// True the first time this pair of schemas is met in this operation and direction.
    pub fn first_visit(&mut self, base: &Ptr, head: &Ptr, direction: Direction) -> bool {
        self.seen.insert((base.clone(), head.clone(), direction))
    }

    /// Reports a `what` present on one side only; hands back both sides when it is on both.
    pub fn presence<'a>(
        &mut self,
        pair: Pair<Node<'a>>,
        removed: &'static Rule,
        added: &'static Rule,
        what: &str,
    ) -> Option<(Node<'a>, Node<'a>)> {
        match pair {
            Pair::Removed(base) => self.emit(removed, &base.ptr, format!("{what} removed")),
            Pair::Added(head) => self.emit(added, &head.ptr, format!("{what} added")),
            Pair::Both(base, head) => return Some((base, head)),
        }
        None
    }

    /// The changes, most severe first, then by operation. Duplicates are dropped: a schema
    /// used by both the request and the response of an operation would list a
    /// direction-neutral change (`type-changed`...) twice.
    pub fn finish(mut self) -> Vec<Change> {
        fn order(c: &Change) -> (Reverse<Severity>, &str, &str, &str, &str, &str) {
            (
                Reverse(c.severity),
                &c.path,
                &c.method,
                c.rule,
                &c.pointer,
                &c.message,
            )
        }
        self.changes.sort_by(|a, b| order(a).cmp(&order(b)));
        self.changes.dedup();
        self.changes
    }
}

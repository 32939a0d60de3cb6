//! Security requirements: which credentials an operation accepts.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use super::{
    change::Collector,
    doc::{Node, Ptr},
    rules::{SECURITY_CHANGED, SECURITY_RELAXED},
};

/// Scheme name → required scopes; all of them together.
type Requirement<'a> = BTreeMap<&'a str, BTreeSet<&'a str>>;

/// The requirements an operation accepts, any one of them.
pub struct Security<'a> {
    at: Ptr,
    alternatives: BTreeSet<Requirement<'a>>,
}

impl<'a> Security<'a> {
    /// The operation's `security`, else the document's, else none required.
    pub fn of(operation: &Node<'a>, root: &Node<'a>) -> Result<Self> {
        let Some(node) = operation.get("security").or_else(|| root.get("security")) else {
            let alternatives = BTreeSet::from([Requirement::new()]);
            return Ok(Self {
                at: operation.ptr.clone(),
                alternatives,
            });
        };
        let mut alternatives = BTreeSet::new();
        for requirement in node.elements()? {
            let mut schemes = Requirement::new();
            for (scheme, scopes) in requirement.entries()? {
                let scopes = scopes
                    .elements()?
                    .iter()
                    .map(Node::str)
                    .collect::<Result<_>>()?;
                schemes.insert(scheme, scopes);
            }
            alternatives.insert(schemes);
        }
        // `security: []` removes every requirement, like `[{}]`.
        if alternatives.is_empty() {
            alternatives.insert(Requirement::new());
        }
        Ok(Self {
            at: node.ptr,
            alternatives,
        })
    }

    fn describe(&self) -> String {
        let requirement = |r: &Requirement| match r.is_empty() {
            true => "none".to_owned(),
            false => r
                .iter()
                .map(|(scheme, scopes)| match scopes.is_empty() {
                    true => format!("`{scheme}`"),
                    false => {
                        let scopes: Vec<_> = scopes.iter().map(|s| format!("`{s}`")).collect();
                        format!("`{scheme}` (scopes {})", scopes.join(", "))
                    }
                })
                .collect::<Vec<_>>()
                .join(" and "),
        };
        self.alternatives
            .iter()
            .map(requirement)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

/// Breaking when a client authenticating as the base allowed no longer gets in.
pub fn compare(out: &mut Collector, base: &Security, head: &Security) {
    if base.alternatives == head.alternatives {
        return;
    }
    let still_accepted = |offered: &Requirement| {
        head.alternatives.iter().any(|required| {
            required.iter().all(|(scheme, scopes)| {
                offered
                    .get(scheme)
                    .is_some_and(|offered| scopes.is_subset(offered))
            })
        })
    };
    let rule = match base.alternatives.iter().all(still_accepted) {
        true => &SECURITY_RELAXED,
        false => &SECURITY_CHANGED,
    };
    let message = format!(
        "security changed from {} to {}",
        base.describe(),
        head.describe()
    );
    out.emit(rule, &head.at, message);
}

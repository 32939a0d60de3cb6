//! Parameters, properties and request bodies: members that may be required.

use super::{change::Collector, doc::Node, pairs::Pair, rules::MemberRules};

#[derive(Clone, Debug)]
pub struct Member<'a> {
    /// Where it is listed, before any `$ref`: what a removal or an addition points at.
    pub node: Node<'a>,
    pub required: bool,
}

/// Reports `what` appearing, disappearing or changing whether it is required; hands back
/// both sides when it is on both, for the caller to compare their schemas.
pub fn compare<'a>(
    out: &mut Collector,
    rules: &MemberRules,
    what: &str,
    pair: Pair<Member<'a>>,
) -> Option<(Node<'a>, Node<'a>)> {
    match pair {
        Pair::Removed(base) => {
            let (rule, required) = match base.required {
                true => (rules.removed_required, "required "),
                false => (rules.removed_optional, ""),
            };
            out.emit(rule, &base.node.ptr, format!("{required}{what} removed"));
        }
        Pair::Added(head) => {
            let (rule, required) = match head.required {
                true => (rules.added_required, "required "),
                false => (rules.added_optional, ""),
            };
            out.emit(rule, &head.node.ptr, format!("{required}{what} added"));
        }
        Pair::Both(base, head) => {
            match (base.required, head.required) {
                (false, true) => {
                    out.emit(
                        rules.became_required,
                        &head.node.ptr,
                        format!("{what} became required"),
                    );
                }
                (true, false) => {
                    out.emit(
                        rules.became_optional,
                        &head.node.ptr,
                        format!("{what} became optional"),
                    );
                }
                _ => {}
            }
            return Some((base.node, head.node));
        }
    }
    None
}

//! Keywords that bound what a value may be, and which way a change of them narrows it.

use serde_json::Value;

use crate::compat::rules::{
    Direction, REQUEST_CONSTRAINT_RELAXED, REQUEST_CONSTRAINT_TIGHTENED,
    RESPONSE_CONSTRAINT_CHANGED, Rule,
};

/// Which change of a constraint's value lets fewer values through.
#[derive(Clone, Copy)]
pub enum Narrower {
    Lower,
    Higher,
    /// Any change (a pattern, a multiple): assume the worst.
    Different,
}

pub const CONSTRAINTS: [(&str, Narrower); 13] = [
    ("maximum", Narrower::Lower),
    ("exclusiveMaximum", Narrower::Lower),
    ("maxLength", Narrower::Lower),
    ("maxItems", Narrower::Lower),
    ("maxProperties", Narrower::Lower),
    ("minimum", Narrower::Higher),
    ("exclusiveMinimum", Narrower::Higher),
    ("minLength", Narrower::Higher),
    ("minItems", Narrower::Higher),
    ("minProperties", Narrower::Higher),
    ("pattern", Narrower::Different),
    ("multipleOf", Narrower::Different),
    ("uniqueItems", Narrower::Different),
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Effect {
    Tightened,
    Relaxed,
}

/// What changing a constraint from `base` to `head` does to the accepted values; `None` when
/// nothing (a `false` flag counts as absent).
pub fn effect(narrower: Narrower, base: Option<&Value>, head: Option<&Value>) -> Option<Effect> {
    fn set(v: Option<&Value>) -> Option<&Value> {
        v.filter(|v| **v != Value::Bool(false))
    }
    match (set(base), set(head)) {
        (None, None) => None,
        (None, Some(_)) => Some(Effect::Tightened),
        (Some(_), None) => Some(Effect::Relaxed),
        (Some(b), Some(h)) => match (narrower, b.as_f64(), h.as_f64()) {
            (_, Some(b), Some(h)) if b == h => None,
            (Narrower::Lower, Some(b), Some(h)) if h > b => Some(Effect::Relaxed),
            (Narrower::Higher, Some(b), Some(h)) if h < b => Some(Effect::Relaxed),
            _ if b == h => None,
            _ => Some(Effect::Tightened),
        },
    }
}

/// Narrowing a request breaks the clients that sent what is now refused; a response
/// constraint only documents what the server sends.
pub fn rule(direction: Direction, effect: Effect) -> &'static Rule {
    match (direction, effect) {
        (Direction::Request, Effect::Tightened) => &REQUEST_CONSTRAINT_TIGHTENED,
        (Direction::Request, Effect::Relaxed) => &REQUEST_CONSTRAINT_RELAXED,
        (Direction::Response, _) => &RESPONSE_CONSTRAINT_CHANGED,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Effect::*, Narrower::*, *};

    #[test]
    fn direction_of_each_change() {
        let cases = [
            (Lower, Some(json!(10)), Some(json!(5)), Some(Tightened)),
            (Lower, Some(json!(5)), Some(json!(10)), Some(Relaxed)),
            (Lower, Some(json!(5)), Some(json!(5.0)), None),
            (Higher, Some(json!(1)), Some(json!(2)), Some(Tightened)),
            (Higher, Some(json!(2)), Some(json!(1)), Some(Relaxed)),
            (Higher, None, Some(json!(1)), Some(Tightened)),
            (Lower, Some(json!(1)), None, Some(Relaxed)),
            (
                Different,
                Some(json!("^a")),
                Some(json!("^b")),
                Some(Tightened),
            ),
            (Different, Some(json!("^a")), Some(json!("^a")), None),
            (Different, None, Some(json!(false)), None),
            (
                Different,
                Some(json!(false)),
                Some(json!(true)),
                Some(Tightened),
            ),
        ];
        for (narrower, base, head, expected) in cases {
            assert_eq!(
                effect(narrower, base.as_ref(), head.as_ref()),
                expected,
                "{base:?} -> {head:?}"
            );
        }
    }
}

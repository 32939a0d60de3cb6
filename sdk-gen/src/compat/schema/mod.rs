//! Comparing two schemas in one direction, recursively.

mod constraints;
mod shape;

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::Value;

use self::{
    constraints::{CONSTRAINTS, Effect},
    shape::Shape,
};
use super::{
    change::Collector,
    doc::{Node, Ptr},
    member::{self, Member},
    pairs::pair_up,
    rules::*,
};

/// Reports how the schema `head` differs from `base` for data flowing in `direction`.
pub fn compare(out: &mut Collector, base: &Node, head: &Node, direction: Direction) -> Result<()> {
    let (base, head) = (base.resolve()?, head.resolve()?);
    if !out.first_visit(&base.ptr, &head.ptr, direction) {
        return Ok(());
    }
    let (b, h) = (Shape::of(&base)?, Shape::of(&head)?);
    nullability(out, &b, &h, direction);
    if b.types != h.types {
        let message = format!("type changed from {} to {}", types(&b), types(&h));
        out.emit(&TYPE_CHANGED, &h.node.ptr, message);
        // Anything below would only restate the type change.
        return Ok(());
    }
    keywords(out, &b, &h, direction)?;
    properties(out, &b, &h, direction)?;
    // A sub-schema appearing or disappearing is not reported; one on both sides is compared.
    for (base, head) in [(b.items, h.items), (b.additional, h.additional)] {
        if let (Some(base), Some(head)) = (base, head) {
            compare(out, &base, &head, direction)?;
        }
    }
    variants(out, b.variants, h.variants, direction)
}

fn types(shape: &Shape) -> String {
    match shape.types.is_empty() {
        true => "any".to_owned(),
        false => format!(
            "`{}`",
            shape.types.iter().copied().collect::<Vec<_>>().join(" | ")
        ),
    }
}

fn nullability(out: &mut Collector, b: &Shape, h: &Shape, direction: Direction) {
    let (request, response, message) = match (b.nullable, h.nullable) {
        (false, true) => (
            &REQUEST_BECAME_NULLABLE,
            &RESPONSE_BECAME_NULLABLE,
            "became nullable",
        ),
        (true, false) => (
            &REQUEST_BECAME_NON_NULLABLE,
            &RESPONSE_BECAME_NON_NULLABLE,
            "is no longer nullable",
        ),
        _ => return,
    };
    out.emit(direction.pick(request, response), &h.node.ptr, message);
}

/// A keyword whose value differs between base and head.
struct Changed<'a> {
    at: Ptr,
    base: Option<&'a Value>,
    head: Option<&'a Value>,
    message: String,
}

fn changed<'a>(b: &Shape<'a>, h: &Shape<'a>, key: &str) -> Option<Changed<'a>> {
    let (bn, hn) = (b.keyword(key), h.keyword(key));
    let (base, head) = (bn.map(|n| n.value), hn.map(|n| n.value));
    if base == head {
        return None;
    }
    let show = |v: Option<&Value>| v.map_or("none".to_owned(), |v| format!("`{v}`"));
    let message = format!("`{key}` changed from {} to {}", show(base), show(head));
    Some(Changed {
        at: hn.or(bn)?.ptr.clone(),
        base,
        head,
        message,
    })
}

fn keywords(out: &mut Collector, b: &Shape, h: &Shape, direction: Direction) -> Result<()> {
    for (key, rule) in [("format", &FORMAT_CHANGED), ("default", &DEFAULT_CHANGED)] {
        if let Some(c) = changed(b, h, key) {
            out.emit(rule, &c.at, c.message);
        }
    }
    for (key, narrower) in CONSTRAINTS {
        if let Some(c) = changed(b, h, key)
            && let Some(effect) = constraints::effect(narrower, c.base, c.head)
        {
            out.emit(constraints::rule(direction, effect), &c.at, c.message);
        }
    }
    enums(out, b, h, direction)
}

fn enums(out: &mut Collector, b: &Shape, h: &Shape, direction: Direction) -> Result<()> {
    match (b.enum_values()?, h.enum_values()?) {
        (Some((base_at, base)), Some((head_at, head))) => {
            let removed = direction.pick(&REQUEST_ENUM_VALUE_REMOVED, &RESPONSE_ENUM_VALUE_REMOVED);
            for value in base.iter().filter(|v| !head.contains(v)) {
                out.emit(removed, &base_at, format!("enum value `{value}` removed"));
            }
            let added = direction.pick(&REQUEST_ENUM_VALUE_ADDED, &RESPONSE_ENUM_VALUE_ADDED);
            for value in head.iter().filter(|v| !base.contains(v)) {
                out.emit(added, &head_at, format!("enum value `{value}` added"));
            }
        }
        (None, Some((at, _))) => out.emit(
            constraints::rule(direction, Effect::Tightened),
            &at,
            "`enum` added",
        ),
        (Some((at, _)), None) => out.emit(
            constraints::rule(direction, Effect::Relaxed),
            &at,
            "`enum` removed",
        ),
        (None, None) => {}
    }
    Ok(())
}

fn properties(out: &mut Collector, b: &Shape, h: &Shape, direction: Direction) -> Result<()> {
    let rules = direction.pick(&REQUEST_PROPERTY, &RESPONSE_PROPERTY);
    for (name, pair) in pair_up(visible(b, direction)?, visible(h, direction)?) {
        let what = format!("property `{name}`");
        if let Some((base, head)) = member::compare(out, rules, &what, pair) {
            compare(out, &base, &head, direction)?;
        }
    }
    Ok(())
}

/// The properties that travel in `direction`: `readOnly` ones are never sent, `writeOnly`
/// ones never received.
fn visible<'a>(shape: &Shape<'a>, direction: Direction) -> Result<BTreeMap<&'a str, Member<'a>>> {
    let hidden = direction.pick("readOnly", "writeOnly");
    let mut visible = BTreeMap::new();
    for (&name, node) in &shape.properties {
        // 3.1 allows the flag beside a `$ref`.
        if node.flag(hidden)? || node.resolve()?.flag(hidden)? {
            continue;
        }
        let required = shape.required.contains(name);
        visible.insert(
            name,
            Member {
                node: node.clone(),
                required,
            },
        );
    }
    Ok(visible)
}

/// Alternatives are matched by the schema they reference, else by position.
fn variants(out: &mut Collector, b: Vec<Node>, h: Vec<Node>, direction: Direction) -> Result<()> {
    fn keyed(variants: Vec<Node>) -> Result<BTreeMap<String, Node>> {
        let key = |i: usize, v: &Node| match v.get("$ref") {
            Some(target) => target.str().map(str::to_owned),
            None => Ok(format!("#{i}")),
        };
        variants
            .into_iter()
            .enumerate()
            .map(|(i, v)| Ok((key(i, &v)?, v)))
            .collect()
    }
    let removed = direction.pick(&REQUEST_VARIANT_REMOVED, &RESPONSE_VARIANT_REMOVED);
    let added = direction.pick(&REQUEST_VARIANT_ADDED, &RESPONSE_VARIANT_ADDED);
    for (key, pair) in pair_up(keyed(b)?, keyed(h)?) {
        let what = format!("alternative `{key}`");
        if let Some((base, head)) = out.presence(pair, removed, added, &what) {
            compare(out, &base, &head, direction)?;
        }
    }
    Ok(())
}

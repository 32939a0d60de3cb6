//! PATCH (RFC 7644 §3.5.2) on a stored resource, as directories really send it: op names in
//! any case (Entra ID's `"Replace"`), string booleans, value paths (`emails[type eq
//! "work"].value`, `members[value eq "…"]`), ops without a path whose value is an object of
//! attributes or attribute paths (Okta's `{"active": false}`, Entra ID's `{"name.givenName":
//! …}`), and members removed by value. The caller normalizes the result again. No IO.

use serde_json::Value;

use super::error::{ScimError, ScimResult, ScimType};
use super::filter::{self, Filter};
use super::resource::{Obj, attribute, coerce, coerce_one, normalize_object, split_urn};
use domain::identity::scim_schema::{Attr, Kind, Mutability, Type, catalog};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Add,
    Replace,
    Remove,
}

/// A resolved PATCH path.
struct Target {
    container: Option<&'static str>,
    /// None: the whole extension `container`.
    attr: Option<&'static Attr>,
    filter: Option<Filter>,
    sub: Option<&'static Attr>,
}

fn invalid_path(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidPath, detail)
}

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidSyntax, detail)
}

fn parse_path(kind: Kind, path: &str) -> ScimResult<Target> {
    let (container, rest) = split_urn(kind, path.trim());
    if rest.is_empty() {
        return match container {
            Some(_) => Ok(Target {
                container,
                attr: None,
                filter: None,
                sub: None,
            }),
            None => Err(invalid_path("The path is empty.")),
        };
    }
    let unknown = || invalid_path(format!("Unknown attribute in path {path}."));
    let (name, filter_text, sub) = match rest.split_once('[') {
        Some((name, tail)) => {
            let (inner, after) = tail
                .rsplit_once(']')
                .ok_or_else(|| invalid_path(format!("Unclosed [ in path {path}.")))?;
            let sub = match after {
                "" => None,
                s => Some(s.strip_prefix('.').ok_or_else(unknown)?),
            };
            (name, Some(inner), sub)
        }
        None => match rest.split_once('.') {
            Some((name, sub)) => (name, None, Some(sub)),
            None => (rest, None, None),
        },
    };
    let attr = attribute(kind, container, name)?.ok_or_else(unknown)?;
    let sub = match sub {
        Some(s) => Some(attr.sub(s).ok_or_else(unknown)?),
        None => None,
    };
    let filter = match filter_text {
        Some(text) => {
            if !(attr.multi_valued && attr.ty == Type::Complex) {
                return Err(invalid_path(format!(
                    "{} is not a multi-valued complex attribute.",
                    attr.name
                )));
            }
            Some(
                filter::parse_in(filter::Scope::Element(attr), text, false)
                    .map_err(|e| invalid_path(e.detail))?,
            )
        }
        None => None,
    };
    Ok(Target {
        container,
        attr: Some(attr),
        filter,
        sub,
    })
}

/// Applies a PatchOp body's operations to `resource` (stored form) in order.
pub fn apply(kind: Kind, resource: &mut Obj, body: &Value) -> ScimResult<()> {
    let ops = body
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("Operations")))
        .and_then(|(_, v)| v.as_array())
        .filter(|ops| !ops.is_empty())
        .ok_or_else(|| syntax("A PatchOp needs a non-empty Operations array."))?;
    for op in ops {
        let field = |name: &str| {
            op.as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .map(|(_, v)| v)
        };
        let kind_of_op = match field("op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
        {
            Some(s) if s == "add" => OpKind::Add,
            Some(s) if s == "replace" => OpKind::Replace,
            Some(s) if s == "remove" => OpKind::Remove,
            _ => {
                return Err(syntax(
                    "Each operation's op must be add, replace or remove.",
                ));
            }
        };
        let value = field("value").filter(|v| !v.is_null());
        match field("path").and_then(Value::as_str) {
            Some(path) => {
                let target = parse_path(kind, path)?;
                apply_one(kind_of_op, resource, &target, value, true)?;
            }
            None if kind_of_op == OpKind::Remove => {
                return Err(ScimError::bad(
                    ScimType::NoTarget,
                    "A remove operation needs a path.",
                ));
            }
            None => {
                let Some(Value::Object(fields)) = value else {
                    return Err(syntax("An operation without a path needs an object value."));
                };
                for (key, v) in fields {
                    let target = parse_path(kind, key)?;
                    apply_one(kind_of_op, resource, &target, Some(v), false)?;
                }
            }
        }
    }
    Ok(())
}

fn apply_one(
    op: OpKind,
    resource: &mut Obj,
    t: &Target,
    value: Option<&Value>,
    explicit_path: bool,
) -> ScimResult<()> {
    let read_only = t.attr.is_some_and(|a| a.mutability == Mutability::ReadOnly)
        || t.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly);
    if read_only {
        // In an operation without a path, read-only attributes (Okta echoes `id`) are
        // ignored like in a PUT; naming one as the path is an error.
        return if explicit_path {
            Err(ScimError::bad(
                ScimType::Mutability,
                "The path names a read-only attribute.",
            ))
        } else {
            Ok(())
        };
    }
    let value = match (op, value) {
        (OpKind::Remove, v) => v,
        (_, Some(v)) => Some(v),
        (_, None) => return Err(syntax("add and replace operations need a value.")),
    };
    let Some(container) = container_of(resource, t.container, op != OpKind::Remove) else {
        return Ok(());
    };
    let Some(attr) = t.attr else {
        // The whole extension: merged, or removed.
        let Some(urn) = t.container else {
            return Ok(());
        };
        match value {
            Some(v) if op != OpKind::Remove => {
                let cat = catalog().map_err(|e| ScimError::internal(anyhow::anyhow!("{e}")))?;
                let fields = normalize_object(cat.attributes(urn), v, urn)?;
                container.extend(fields);
            }
            _ => container.clear(),
        }
        prune(resource, t.container);
        return Ok(());
    };
    match (&t.filter, t.sub) {
        (None, None) => whole_attribute(op, container, attr, value)?,
        (None, Some(sub)) => sub_attribute(op, container, attr, sub, value)?,
        (Some(f), sub) => filtered(op, container, attr, f, sub, value)?,
    }
    prune(resource, t.container);
    Ok(())
}

fn container_of<'a>(resource: &'a mut Obj, urn: Option<&str>, create: bool) -> Option<&'a mut Obj> {
    let Some(urn) = urn else {
        return Some(resource);
    };
    if create && !resource.contains_key(urn) {
        resource.insert(urn.to_owned(), Value::Object(Obj::new()));
    }
    resource.get_mut(urn).and_then(Value::as_object_mut)
}

/// Drops what became empty: arrays, objects, and the extension itself (RFC 7643 §2.5).
fn prune(resource: &mut Obj, urn: Option<&str>) {
    let empty = |v: &Value| match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Null => true,
        _ => false,
    };
    if let Some(ext) = urn
        .and_then(|u| resource.get_mut(u))
        .and_then(Value::as_object_mut)
    {
        ext.retain(|_, v| !empty(v));
    }
    resource.retain(|_, v| !empty(v));
}

fn whole_attribute(op: OpKind, c: &mut Obj, attr: &Attr, value: Option<&Value>) -> ScimResult<()> {
    if op == OpKind::Remove {
        // Entra ID removes group members by value: `{"path": "members", "value": [{"value": id}]}`.
        if let (true, Some(v), Some(Value::Array(items))) =
            (attr.multi_valued, value, c.get_mut(&attr.name))
        {
            let gone = coerce(attr, v, &attr.name)?.unwrap_or(Value::Array(Vec::new()));
            let gone: Vec<&Value> = gone
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            let key = |x: &Value| x.get("value").cloned().unwrap_or_else(|| x.clone());
            items.retain(|item| !gone.iter().any(|g| key(g) == key(item)));
        } else {
            c.remove(&attr.name);
        }
        return Ok(());
    }
    let Some(new) = coerce(attr, value.unwrap_or(&Value::Null), &attr.name)? else {
        c.remove(&attr.name);
        return Ok(());
    };
    match (op, new) {
        (OpKind::Add, Value::Array(more)) => {
            let mut items = match c.remove(&attr.name) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            for item in more {
                if !items.contains(&item) {
                    items.push(item);
                }
            }
            // Coerced again so that one `primary` stays: the last one added.
            if let Some(v) = coerce(attr, &Value::Array(items), &attr.name)? {
                c.insert(attr.name.clone(), v);
            }
        }
        // A complex attribute's sub-attributes merge, for add and replace alike (§3.5.2.3).
        (_, Value::Object(fields)) if !attr.multi_valued => match c.get_mut(&attr.name) {
            Some(Value::Object(existing)) => existing.extend(fields),
            _ => {
                c.insert(attr.name.clone(), Value::Object(fields));
            }
        },
        (_, new) => {
            c.insert(attr.name.clone(), new);
        }
    }
    Ok(())
}

fn sub_attribute(
    op: OpKind,
    c: &mut Obj,
    attr: &Attr,
    sub: &Attr,
    value: Option<&Value>,
) -> ScimResult<()> {
    let new = match value {
        Some(v) if op != OpKind::Remove => {
            coerce_one(sub, v, &format!("{}.{}", attr.name, sub.name))?
        }
        _ => None,
    };
    let set = |o: &mut Obj| match &new {
        Some(v) => {
            o.insert(sub.name.clone(), v.clone());
        }
        None => {
            o.remove(&sub.name);
        }
    };
    match c.get_mut(&attr.name) {
        Some(Value::Array(items)) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(set),
        Some(Value::Object(o)) => set(o),
        _ if new.is_some() => {
            let mut o = Obj::new();
            set(&mut o);
            let o = Value::Object(o);
            c.insert(
                attr.name.clone(),
                if attr.multi_valued {
                    Value::Array(vec![o])
                } else {
                    o
                },
            );
        }
        _ => {}
    }
    Ok(())
}

fn filtered(
    op: OpKind,
    c: &mut Obj,
    attr: &Attr,
    f: &Filter,
    sub: Option<&Attr>,
    value: Option<&Value>,
) -> ScimResult<()> {
    let at = format!("{}[…]", attr.name);
    let new = match (op, sub, value) {
        (OpKind::Remove, _, _) | (_, _, None) => None,
        (_, Some(sub), Some(v)) => coerce_one(sub, v, &at)?,
        (_, None, Some(v)) => coerce_one(attr, v, &at)?,
    };
    if !matches!(c.get(&attr.name), Some(Value::Array(_))) {
        c.insert(attr.name.clone(), Value::Array(Vec::new()));
    }
    let Some(Value::Array(items)) = c.get_mut(&attr.name) else {
        return Ok(());
    };
    let matched: Vec<usize> = (0..items.len()).filter(|&i| f.matches(&items[i])).collect();
    if matched.is_empty() {
        if op == OpKind::Remove {
            return Ok(());
        }
        // `emails[type eq "work"].value` on a user without a work email: directories
        // expect the element to be created from the filter's equality.
        let Some((key, lit)) = f.equality() else {
            return Err(ScimError::bad(
                ScimType::NoTarget,
                format!("No value of {} matches the path's filter.", attr.name),
            ));
        };
        let mut element = Obj::from_iter([(key.to_owned(), lit.clone())]);
        match (sub, new) {
            (Some(sub), Some(v)) => {
                element.insert(sub.name.clone(), v);
            }
            (None, Some(Value::Object(fields))) => element.extend(fields),
            _ => {}
        }
        items.push(Value::Object(element));
        return Ok(());
    }
    for &i in matched.iter().rev() {
        match (op, sub, &new) {
            (OpKind::Remove, None, _) => {
                items.remove(i);
            }
            (_, Some(sub), new) => {
                if let Some(o) = items[i].as_object_mut() {
                    match new {
                        Some(v) if op != OpKind::Remove => {
                            o.insert(sub.name.clone(), v.clone());
                        }
                        _ => {
                            o.remove(&sub.name);
                        }
                    }
                }
            }
            (OpKind::Add, None, Some(Value::Object(fields))) => {
                if let Some(o) = items[i].as_object_mut() {
                    o.extend(fields.clone());
                }
            }
            (_, None, Some(v)) => items[i] = v.clone(),
            (_, None, None) => {}
        }
    }
    Ok(())
}

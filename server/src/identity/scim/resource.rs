//! Resources in and out, without IO. What a client sends is checked against the schemas and
//! brought to the stored form: canonical attribute names, coerced values (Entra ID's `"False"`),
//! read-only attributes dropped (RFC 7644 §3.3), extensions under their URN. What is stored is
//! rendered with `schemas`, `id` and `meta`, then cut to the requested attributes.

use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimResult, ScimType};
use domain::clock::timestamp;
use domain::identity::scim_schema::{
    self as schema, Attr, Kind, Mutability, Returned, Type, catalog,
};

pub type Obj = Map<String, Value>;

fn catalog_or_500() -> ScimResult<&'static schema::Catalog> {
    catalog().map_err(|e| ScimError::internal(anyhow::anyhow!("SCIM schemas: {e}")))
}

/// Splits a URN-qualified attribute name (`urn:…:enterprise:2.0:User:department`) into the
/// extension it belongs to (None: the core schema) and the rest. A bare extension URN gives
/// an empty rest.
pub fn split_urn(kind: Kind, name: &str) -> (Option<&'static str>, &str) {
    let strip = |urn: &str| -> Option<usize> {
        let head = name.get(..urn.len())?;
        if !head.eq_ignore_ascii_case(urn) {
            return None;
        }
        match name.as_bytes().get(urn.len()) {
            None => Some(urn.len()),
            Some(b':') => Some(urn.len() + 1),
            Some(_) => None,
        }
    };
    for &urn in kind.extensions() {
        if let Some(at) = strip(urn) {
            return (Some(urn), &name[at..]);
        }
    }
    match strip(kind.core()) {
        Some(at) => (None, &name[at..]),
        None => (None, name),
    }
}

/// The definition of a top-level attribute of `kind` (or of its extension `container`).
pub fn attribute(
    kind: Kind,
    container: Option<&str>,
    name: &str,
) -> ScimResult<Option<&'static Attr>> {
    let cat = catalog_or_500()?;
    Ok(match container {
        Some(urn) => schema::find(cat.attributes(urn), name),
        None => schema::find(cat.attributes(kind.core()), name)
            .or_else(|| schema::find(cat.common(), name)),
    })
}

/// Brings a client's resource (POST, PUT, or the result of a PATCH) to the stored form, and
/// checks that required attributes are there. Unknown attributes are ignored.
pub fn normalize(kind: Kind, input: &Value) -> ScimResult<Obj> {
    let Value::Object(input) = input else {
        return Err(ScimError::bad(
            ScimType::InvalidSyntax,
            "The resource must be a JSON object.",
        ));
    };
    let cat = catalog_or_500()?;
    let mut out = Obj::new();
    for (key, value) in input {
        let (container, name) = split_urn(kind, key);
        if name.is_empty() {
            // A whole extension, keyed by its URN.
            if let Some(urn) = container {
                let ext = normalize_object(cat.attributes(urn), value, urn)?;
                merge_into(&mut out, urn, ext);
            }
            continue;
        }
        let Some(attr) = attribute(kind, container, name)? else {
            continue;
        };
        if matches!(attr.mutability, Mutability::ReadOnly) || attr.returned == Returned::Never {
            // Read-only values are ignored; write-only ones (password) are never stored.
            continue;
        }
        if let Some(v) = coerce(attr, value, &attr.name)? {
            match container {
                Some(urn) => merge_into(&mut out, urn, Obj::from_iter([(attr.name.clone(), v)])),
                None => {
                    out.insert(attr.name.clone(), v);
                }
            }
        }
    }
    for attr in cat.attributes(kind.core()).iter().filter(|a| a.required) {
        if !out.contains_key(&attr.name) {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                format!("{} is required.", attr.name),
            ));
        }
    }
    Ok(out)
}

fn merge_into(out: &mut Obj, urn: &str, ext: Obj) {
    if ext.is_empty() {
        return;
    }
    match out.get_mut(urn).and_then(Value::as_object_mut) {
        Some(existing) => existing.extend(ext),
        None => {
            out.insert(urn.to_owned(), Value::Object(ext));
        }
    }
}

/// The attributes of an object (an extension) brought to the stored form.
pub fn normalize_object(attrs: &[Attr], value: &Value, at: &str) -> ScimResult<Obj> {
    let Value::Object(input) = value else {
        return Err(ScimError::bad(
            ScimType::InvalidValue,
            format!("{at} must be an object."),
        ));
    };
    let mut out = Obj::new();
    for (key, v) in input {
        let Some(attr) = schema::find(attrs, key) else {
            continue;
        };
        if attr.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(v) = coerce(attr, v, &attr.name)? {
            out.insert(attr.name.clone(), v);
        }
    }
    Ok(out)
}

/// A value for `attr`: null and empty arrays become None (unassigned, RFC 7643 §2.5); a single
/// value for a multi-valued attribute becomes a one-element array; at most one element stays
/// `primary` (RFC 7644 §3.5.2: the last one set).
pub fn coerce(attr: &Attr, v: &Value, at: &str) -> ScimResult<Option<Value>> {
    if !attr.multi_valued {
        return coerce_one(attr, v, at);
    }
    let items: Vec<&Value> = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        if let Some(x) = coerce_one(attr, item, &format!("{at}[{i}]"))?
            && !out.contains(&x)
        {
            out.push(x);
        }
    }
    let primaries: Vec<usize> = (0..out.len())
        .filter(|&i| out[i].get("primary") == Some(&Value::Bool(true)))
        .collect();
    if let Some((_, earlier)) = primaries.split_last() {
        for &i in earlier {
            if let Some(o) = out[i].as_object_mut() {
                o.insert("primary".into(), Value::Bool(false));
            }
        }
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// One value of `attr` (an element, for a multi-valued one).
pub fn coerce_one(attr: &Attr, v: &Value, at: &str) -> ScimResult<Option<Value>> {
    let wrong = |what: &str| {
        Err(ScimError::bad(
            ScimType::InvalidValue,
            format!("{at} must be {what}."),
        ))
    };
    if v.is_null() {
        return Ok(None);
    }
    match attr.ty {
        Type::Complex => {
            let fields = match v {
                Value::Object(o) => o.clone(),
                // Entra ID sends a manager as the bare id.
                scalar if attr.sub("value").is_some() && !scalar.is_array() => {
                    Obj::from_iter([("value".to_owned(), scalar.clone())])
                }
                _ => return wrong("an object"),
            };
            let mut out = Obj::new();
            for (k, x) in &fields {
                let Some(sub) = attr.sub(k) else { continue };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(x) = coerce_one(sub, x, &format!("{at}.{}", sub.name))? {
                    out.insert(sub.name.clone(), x);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        Type::Boolean => match v {
            Value::Bool(_) => Ok(Some(v.clone())),
            // Entra ID sends booleans as the strings "True" and "False".
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
            _ => wrong("a boolean"),
        },
        Type::Integer if v.is_i64() => Ok(Some(v.clone())),
        Type::Integer => wrong("an integer"),
        Type::Decimal if v.is_number() => Ok(Some(v.clone())),
        Type::Decimal => wrong("a number"),
        Type::DateTime => match v.as_str().and_then(timestamp::parse_rfc3339) {
            Some(_) => Ok(Some(v.clone())),
            None => wrong("an RFC 3339 date-time"),
        },
        Type::String | Type::Binary | Type::Reference => match v {
            Value::String(_) => Ok(Some(v.clone())),
            _ => wrong("a string"),
        },
    }
}

/// What `meta` says of a stored resource.
pub struct Meta<'a> {
    pub created: i64,
    pub last_modified: i64,
    pub version: i64,
    pub location: &'a str,
}

/// The ETag of a version (also `meta.version`).
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The full representation of a stored resource.
pub fn render(kind: Kind, id: &str, stored: &Obj, meta: &Meta<'_>) -> Value {
    let mut schemas = vec![json!(kind.core())];
    schemas.extend(
        kind.extensions()
            .iter()
            .filter(|urn| stored.contains_key(**urn))
            .map(|urn| json!(urn)),
    );
    let mut out = Obj::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(id));
    out.extend(stored.iter().map(|(k, v)| (k.clone(), v.clone())));
    out.insert(
        "meta".into(),
        json!({
            "resourceType": kind.name(),
            "created": timestamp::to_rfc3339(meta.created),
            "lastModified": timestamp::to_rfc3339(meta.last_modified),
            "location": meta.location,
            "version": etag(meta.version),
        }),
    );
    Value::Object(out)
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5), comma-separated attribute paths.
#[derive(Debug, Default)]
pub struct Projection {
    pub attributes: Option<String>,
    pub excluded: Option<String>,
    /// A search across resource types: an attribute one type lacks is skipped, not an error.
    pub across_types: bool,
}

/// A resolved attribute path: `[urn:]attr[.sub]`, or a whole extension (`attr` None).
struct Selected {
    container: Option<&'static str>,
    attr: Option<&'static Attr>,
    sub: Option<&'static Attr>,
}

fn selections(kind: Kind, list: &str, lenient: bool) -> ScimResult<Vec<Selected>> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (container, rest) = split_urn(kind, item);
        if rest.is_empty() {
            out.push(Selected {
                container,
                attr: None,
                sub: None,
            });
            continue;
        }
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let attr = attribute(kind, container, name)?;
        let sub = match (attr, sub) {
            (Some(attr), Some(s)) => attr.sub(s).map(Some),
            (_, None) => Some(None),
            (None, Some(_)) => None,
        };
        let (Some(attr), Some(sub)) = (attr, sub) else {
            if lenient {
                continue;
            }
            return Err(ScimError::bad(
                ScimType::InvalidPath,
                format!("Unknown attribute {item}."),
            ));
        };
        out.push(Selected {
            container,
            attr: Some(attr),
            sub,
        });
    }
    Ok(out)
}

impl Projection {
    /// Cuts a rendered resource down to what was asked; `id` and `schemas` always stay.
    pub fn apply(&self, kind: Kind, resource: Value) -> ScimResult<Value> {
        let Value::Object(mut full) = resource else {
            return Ok(resource);
        };
        if let Some(list) = self.attributes.as_deref() {
            let mut out = Obj::new();
            for key in ["schemas", "id"] {
                if let Some(v) = full.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            for sel in selections(kind, list, self.across_types)? {
                copy_selected(&full, &mut out, &sel);
            }
            return Ok(Value::Object(out));
        }
        if let Some(list) = self.excluded.as_deref() {
            for sel in selections(kind, list, self.across_types)? {
                remove_selected(&mut full, &sel);
            }
        }
        Ok(Value::Object(full))
    }
}

fn copy_selected(from: &Obj, to: &mut Obj, sel: &Selected) {
    let (src, dst) = match sel.container {
        Some(urn) => {
            let Some(src) = from.get(urn).and_then(Value::as_object) else {
                return;
            };
            let dst = to
                .entry(urn.to_owned())
                .or_insert_with(|| Value::Object(Obj::new()));
            let Some(dst) = dst.as_object_mut() else {
                return;
            };
            (src, dst)
        }
        None => (from, &mut *to),
    };
    let Some(attr) = sel.attr else {
        dst.extend(src.iter().map(|(k, v)| (k.clone(), v.clone())));
        return;
    };
    let Some(value) = src.get(&attr.name) else {
        return;
    };
    let Some(sub) = sel.sub else {
        dst.insert(attr.name.clone(), value.clone());
        return;
    };
    let pick = |v: &Value| -> Option<Value> {
        let x = v.get(&sub.name)?;
        Some(json!({ sub.name.clone(): x }))
    };
    let picked = match value {
        Value::Array(items) => Value::Array(items.iter().filter_map(pick).collect()),
        other => pick(other).unwrap_or(Value::Null),
    };
    if !picked.is_null() {
        dst.insert(attr.name.clone(), picked);
    }
}

fn remove_selected(full: &mut Obj, sel: &Selected) {
    let target = match sel.container {
        Some(urn) if sel.attr.is_none() => {
            full.remove(urn);
            return;
        }
        Some(urn) => match full.get_mut(urn).and_then(Value::as_object_mut) {
            Some(ext) => ext,
            None => return,
        },
        None => full,
    };
    let Some(attr) = sel.attr else { return };
    if attr.returned == Returned::Always {
        return;
    }
    match sel.sub {
        None => {
            target.remove(&attr.name);
        }
        Some(sub) => match target.get_mut(&attr.name) {
            Some(Value::Array(items)) => {
                for item in items {
                    if let Some(o) = item.as_object_mut() {
                        o.remove(&sub.name);
                    }
                }
            }
            Some(Value::Object(o)) => {
                o.remove(&sub.name);
            }
            _ => {}
        },
    }
}

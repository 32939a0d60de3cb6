//! Example values for code samples: the spec's own `example` where it has one, otherwise a
//! plausible value of the type. Request objects get their required fields only, so a sample
//! shows the least a call needs; response examples get every field. Language-neutral JSON; each backend spells it in its language.

use serde_json::{Map, Value, json};

use crate::ir::{Api, ModelKind, Param, TypeRef};

/// Nested models deeper than this become `{}` (guards self-referencing models).
const MAX_DEPTH: usize = 6;

pub fn param(api: &Api, p: &Param) -> Value {
    p.example.clone().unwrap_or_else(|| value(api, &p.ty, 0))
}

/// A response example: every field of every object, not only the required ones.
pub fn response(api: &Api, ty: &TypeRef) -> Value {
    Example { api, all: true }.value(ty, 0)
}

pub fn value(api: &Api, ty: &TypeRef, depth: usize) -> Value {
    Example { api, all: false }.value(ty, depth)
}

struct Example<'a> {
    api: &'a Api,
    /// Every field of objects (responses), or only the required ones (requests).
    all: bool,
}

impl Example<'_> {
    fn value(&self, ty: &TypeRef, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return json!({});
        }
        match ty {
            TypeRef::String { format } => match format.as_deref() {
                Some("date-time") => json!("2027-01-01T00:00:00Z"),
                Some("date") => json!("2027-01-01"),
                Some("email") => json!("ada@example.com"),
                Some("uri" | "url") => json!("https://example.com/webhooks"),
                _ => json!("example"),
            },
            TypeRef::Integer { .. } => json!(1),
            TypeRef::Number { .. } => json!(1.5),
            TypeRef::Boolean => json!(true),
            TypeRef::Array { items } => json!([self.value(items, depth + 1)]),
            TypeRef::Map { .. } | TypeRef::Any => json!({}),
            TypeRef::Enum { values } => values.first().map_or(Value::Null, |v| json!(v)),
            TypeRef::Nullable { inner } => self.value(inner, depth),
            TypeRef::Ref { name } => self.model(name, depth),
        }
    }

    fn model(&self, name: &str, depth: usize) -> Value {
        let api = self.api;
        let Some(m) = api.models.iter().find(|m| m.name == name) else {
            return Value::Null;
        };
        if let Some(example) = &m.example {
            return example.clone();
        }
        match &m.kind {
            ModelKind::Object { fields } => Value::Object(
                fields
                    .iter()
                    .filter(|f| self.all || f.required)
                    .map(|f| {
                        let v = f
                            .example
                            .clone()
                            .unwrap_or_else(|| self.value(&f.ty, depth + 1));
                        (f.name.clone(), v)
                    })
                    .collect::<Map<_, _>>(),
            ),
            ModelKind::Enum { values } => values.first().map_or(Value::Null, |v| json!(v)),
            ModelKind::Alias { target } => self.value(target, depth),
            ModelKind::Union { variants, .. } => variants
                .first()
                .map_or(Value::Null, |v| self.value(v, depth + 1)),
        }
    }
}

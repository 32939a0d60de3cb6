//! What the portal's templates see of the IR: types spelled for people (with links to their
//! models), fields, examples, the four code samples, and the playground's description of an
//! operation (a JSON Schema of its body for validation in the browser).

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::backends::{example, python, rust, typescript};
use crate::ir::{Api, Field, Model, ModelKind, Operation, Param, Resource, TypeRef};

use super::markdown;

/// A type as shown: `array of ApiKey`, with a link to the model page when it names one.
#[derive(Serialize)]
pub struct TypeView {
    pub text: String,
    pub model: Option<String>,
}

pub fn type_view(ty: &TypeRef) -> TypeView {
    fn text(ty: &TypeRef) -> String {
        match ty {
            TypeRef::String { format: Some(f) } => format!("string ({f})"),
            TypeRef::String { format: None } => "string".into(),
            TypeRef::Integer { .. } => "integer".into(),
            TypeRef::Number { .. } => "number".into(),
            TypeRef::Boolean => "boolean".into(),
            TypeRef::Array { items } => format!("array of {}", text(items)),
            TypeRef::Map { values } => format!("map of {}", text(values)),
            TypeRef::Ref { name } => name.clone(),
            TypeRef::Enum { values } => format!("one of {}", values.join(", ")),
            TypeRef::Nullable { inner } => format!("{} or null", text(inner)),
            TypeRef::Any => "any".into(),
        }
    }
    fn model(ty: &TypeRef) -> Option<String> {
        match ty {
            TypeRef::Ref { name } => Some(name.clone()),
            TypeRef::Array { items: inner }
            | TypeRef::Map { values: inner }
            | TypeRef::Nullable { inner } => model(inner),
            _ => None,
        }
    }
    TypeView {
        text: text(ty),
        model: model(ty),
    }
}

#[derive(Serialize)]
pub struct FieldView {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: TypeView,
    pub required: bool,
    pub description: String,
}

fn field_view(name: &str, ty: &TypeRef, required: bool, description: &str) -> FieldView {
    FieldView {
        name: name.to_owned(),
        ty: type_view(ty),
        required,
        description: markdown::inline(description),
    }
}

fn param_view(p: &Param) -> FieldView {
    field_view(&p.name, &p.ty, p.required, &p.description)
}

/// A body or response: its type, and the fields of its model when it is an object.
#[derive(Serialize)]
pub struct SchemaView {
    #[serde(rename = "type")]
    pub ty: TypeView,
    pub fields: Vec<FieldView>,
    pub example: String,
}

fn model<'a>(api: &'a Api, name: &str) -> Option<&'a Model> {
    api.models.iter().find(|m| m.name == name)
}

fn object_fields<'a>(api: &'a Api, ty: &TypeRef) -> &'a [Field] {
    match ty {
        TypeRef::Ref { name } => match model(api, name).map(|m| &m.kind) {
            Some(ModelKind::Object { fields }) => fields,
            Some(ModelKind::Alias { target }) => object_fields(api, target),
            _ => &[],
        },
        _ => &[],
    }
}

fn schema_view(api: &Api, ty: &TypeRef, example: &Value) -> anyhow::Result<SchemaView> {
    Ok(SchemaView {
        ty: type_view(ty),
        fields: object_fields(api, ty)
            .iter()
            .map(|f| field_view(&f.name, &f.ty, f.required, &f.description))
            .collect(),
        example: serde_json::to_string_pretty(example)?,
    })
}

#[derive(Serialize)]
pub struct Sample {
    pub lang: &'static str,
    pub label: &'static str,
    pub code: String,
}

/// The operation's samples: curl here; the SDKs' from their own backends.
pub fn samples(api: &Api, resource: &Resource, op: &Operation) -> anyhow::Result<Vec<Sample>> {
    Ok(vec![
        Sample {
            lang: "curl",
            label: "curl",
            code: curl(api, op)?,
        },
        Sample {
            lang: "typescript",
            label: "TypeScript",
            code: typescript::sample(api, resource, op)?,
        },
        Sample {
            lang: "python",
            label: "Python",
            code: python::sample(api, resource, op)?,
        },
        Sample {
            lang: "rust",
            label: "Rust",
            code: rust::sample(api, resource, op)?,
        },
    ])
}

/// `curl` with the key and base URL from the environment, example path and query values, and
/// the body's required fields.
fn curl(api: &Api, op: &Operation) -> anyhow::Result<String> {
    let mut path = op.path.clone();
    for p in &op.path_params {
        let value = match example::param(api, p) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        path = path.replace(&format!("{{{}}}", p.name), &percent_encode(&value));
    }
    let query: Vec<String> = op
        .query_params
        .iter()
        .filter(|p| p.required)
        .map(|p| {
            let value = match example::param(api, p) {
                Value::String(s) => s,
                other => other.to_string(),
            };
            format!("{}={}", p.name, percent_encode(&value))
        })
        .collect();
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let method = match op.method.as_str() {
        "GET" => String::new(),
        m => format!("-X {m} "),
    };
    let mut lines = vec![format!(
        "curl {method}\"${{NEOFORGE_BASE_URL:-{}}}{path}\"",
        api.base_url
    )];
    if !op.auth.is_empty() {
        lines.push("-H \"Authorization: Bearer $NEOFORGE_API_KEY\"".into());
    }
    if let Some(body) = &op.body {
        let json = serde_json::to_string(&example::value(api, body, 0))?;
        lines.push("-H \"Content-Type: application/json\"".into());
        lines.push(format!("-d '{}'", json.replace('\'', "'\\''")));
    }
    Ok(format!("{}\n", lines.join(" \\\n  ")))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Serialize)]
pub struct OperationView {
    pub id: String,
    pub name: String,
    pub resource: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub deprecated: bool,
    pub path_params: Vec<FieldView>,
    pub query_params: Vec<FieldView>,
    pub body: Option<SchemaView>,
    pub response: Option<SchemaView>,
    pub success_status: u16,
    pub errors: Vec<ErrorView>,
    pub auth: Vec<String>,
    pub idempotent: bool,
    pub paginated: bool,
    pub samples: Vec<Sample>,
    /// The playground's description of the operation, as JSON safe inside `<script>`.
    pub playground: String,
}

#[derive(Serialize)]
pub struct ErrorView {
    pub status: u16,
    pub description: String,
}

pub fn operation_view(
    api: &Api,
    resource: &Resource,
    op: &Operation,
) -> anyhow::Result<OperationView> {
    let body_example = op.body.as_ref().map(|ty| example::value(api, ty, 0));
    let body = match (&op.body, &body_example) {
        (Some(ty), Some(example)) => Some(schema_view(api, ty, example)?),
        _ => None,
    };
    let response = op
        .response
        .as_ref()
        .map(|ty| schema_view(api, ty, &example::response(api, ty)))
        .transpose()?;
    let playground = json!({
        "id": op.id,
        "method": op.method,
        "path": op.path,
        "auth": !op.auth.is_empty(),
        "path_params": op.path_params.iter().map(|p| json!({
            "name": p.name, "example": example::param(api, p),
        })).collect::<Vec<_>>(),
        "query_params": op.query_params.iter().map(|p| json!({
            "name": p.name, "required": p.required, "schema": json_schema(api, &p.ty).0,
        })).collect::<Vec<_>>(),
        "body": op.body.as_ref().map(|ty| {
            let (schema, defs) = json_schema(api, ty);
            json!({"schema": schema, "defs": defs, "example": body_example})
        }),
    });
    Ok(OperationView {
        id: op.id.clone(),
        name: op.name.clone(),
        resource: resource.name.clone(),
        method: op.method.clone(),
        path: op.path.clone(),
        summary: op.summary.clone(),
        description: markdown::block(&op.description),
        deprecated: op.deprecated,
        path_params: op.path_params.iter().map(param_view).collect(),
        query_params: op.query_params.iter().map(param_view).collect(),
        body,
        response,
        success_status: op.success_status,
        errors: op
            .errors
            .iter()
            .map(|e| ErrorView {
                status: e.status,
                description: markdown::inline(&e.description),
            })
            .collect(),
        auth: op.auth.clone(),
        idempotent: op.idempotent,
        paginated: op.pagination.is_some(),
        samples: samples(api, resource, op)?,
        playground: script_json(&playground)?,
    })
}

/// JSON that cannot end the `<script>` element it sits in.
pub fn script_json(value: &Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string(value)?
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026"))
}

/// A JSON Schema for `ty` (the subset the playground's validator reads) and the `defs` of
/// every model it reaches.
pub fn json_schema(api: &Api, ty: &TypeRef) -> (Value, Map<String, Value>) {
    let mut defs = Map::new();
    let schema = schema_of(api, ty, &mut defs);
    (schema, defs)
}

fn schema_of(api: &Api, ty: &TypeRef, defs: &mut Map<String, Value>) -> Value {
    match ty {
        TypeRef::String { format } => json!({"type": "string", "format": format}),
        TypeRef::Integer { .. } => json!({"type": "integer"}),
        TypeRef::Number { .. } => json!({"type": "number"}),
        TypeRef::Boolean => json!({"type": "boolean"}),
        TypeRef::Array { items } => json!({"type": "array", "items": schema_of(api, items, defs)}),
        TypeRef::Map { values } => {
            json!({"type": "object", "additionalProperties": schema_of(api, values, defs)})
        }
        TypeRef::Enum { values } => json!({"enum": values}),
        TypeRef::Nullable { inner } => {
            let mut schema = schema_of(api, inner, defs);
            if let Value::Object(o) = &mut schema {
                o.insert("nullable".into(), Value::Bool(true));
            }
            schema
        }
        TypeRef::Any => json!({}),
        TypeRef::Ref { name } => {
            if !defs.contains_key(name) {
                // Placeholder first: a model that refers to itself stops here.
                defs.insert(name.clone(), json!({}));
                let def = model(api, name).map_or(json!({}), |m| model_schema(api, m, defs));
                defs.insert(name.clone(), def);
            }
            json!({"$ref": name})
        }
    }
}

fn model_schema(api: &Api, m: &Model, defs: &mut Map<String, Value>) -> Value {
    match &m.kind {
        ModelKind::Object { fields } => {
            let properties: Map<String, Value> = fields
                .iter()
                .map(|f| (f.name.clone(), schema_of(api, &f.ty, defs)))
                .collect();
            let required: Vec<&str> = fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name.as_str())
                .collect();
            json!({"type": "object", "properties": properties, "required": required})
        }
        ModelKind::Enum { values } => json!({"enum": values}),
        ModelKind::Alias { target } => schema_of(api, target, defs),
        ModelKind::Union { variants, .. } => json!({
            "anyOf": variants.iter().map(|v| schema_of(api, v, defs)).collect::<Vec<_>>()
        }),
    }
}

#[derive(Serialize)]
pub struct ModelView {
    pub name: String,
    pub description: String,
    pub kind: &'static str,
    pub fields: Vec<FieldView>,
    pub values: Vec<String>,
    pub target: Option<TypeView>,
    pub variants: Vec<TypeView>,
}

pub fn model_view(m: &Model) -> ModelView {
    let mut view = ModelView {
        name: m.name.clone(),
        description: markdown::inline(&m.description),
        kind: "object",
        fields: Vec::new(),
        values: Vec::new(),
        target: None,
        variants: Vec::new(),
    };
    match &m.kind {
        ModelKind::Object { fields } => {
            view.fields = fields
                .iter()
                .map(|f| field_view(&f.name, &f.ty, f.required, &f.description))
                .collect();
        }
        ModelKind::Enum { values } => {
            view.kind = "enum";
            view.values = values.clone();
        }
        ModelKind::Alias { target } => {
            view.kind = "alias";
            view.target = Some(type_view(target));
        }
        ModelKind::Union { variants, .. } => {
            view.kind = "union";
            view.variants = variants.iter().map(type_view).collect();
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_as_words() {
        let ty = TypeRef::Nullable {
            inner: Box::new(TypeRef::Array {
                items: Box::new(TypeRef::Ref {
                    name: "ApiKey".into(),
                }),
            }),
        };
        let view = type_view(&ty);
        assert_eq!(view.text, "array of ApiKey or null");
        assert_eq!(view.model.as_deref(), Some("ApiKey"));
    }

    #[test]
    fn script_json_cannot_close_the_element() {
        let out = script_json(&json!({"x": "</script><b>&"})).expect("json");
        assert!(!out.contains('<') && !out.contains('>') && !out.contains('&'));
    }

    #[test]
    fn percent_encoding_keeps_unreserved_characters() {
        assert_eq!(percent_encode("key_1 a/b"), "key_1%20a%2Fb");
    }
}

//! The TypeScript SDK (sdks/typescript): an ESM package with no runtime dependencies.
//!
//! The runtime (HTTP, retries, errors, pagination, webhooks) is fixed template code; the
//! models, one class per resource, the client and the README are rendered from the IR. The
//! templates see a TypeScript view of the IR, with every type already spelled as TypeScript.

use std::collections::BTreeSet;

use anyhow::bail;
use minijinja::AutoEscape;
use serde::Serialize;

use super::{File, camel, environment, example, pascal, render, snake};
use crate::ir::{Api, Model, ModelKind, Operation, Param, Resource, TypeRef};

macro_rules! template {
    ($path:literal) => {
        (
            $path,
            include_str!(concat!("../../templates/typescript/", $path, ".jinja")),
        )
    };
}

/// Templates rendered once, to the same path under `sdks/typescript/`.
const PACKAGE: &[(&str, &str)] = &[
    template!("package.json"),
    template!("tsconfig.json"),
    template!(".gitignore"),
    template!("README.md"),
    template!("src/index.ts"),
    template!("src/client.ts"),
    template!("src/models.ts"),
    template!("src/version.ts"),
    template!("src/http.ts"),
    template!("src/response.ts"),
    template!("src/errors.ts"),
    template!("src/retry.ts"),
    template!("src/pagination.ts"),
    template!("src/webhooks.ts"),
];

/// Rendered once per resource, to `src/resources/<file>.ts`.
const RESOURCE: (&str, &str) = template!("src/resources/resource.ts");

pub fn generate(api: &Api) -> anyhow::Result<Vec<File>> {
    // The runtime's `APIError.problem` is typed with the spec's own problem model.
    if !api.models.iter().any(|m| m.name == "Problem") {
        bail!("the TypeScript SDK needs a `Problem` model (the error body) in the spec");
    }
    let mut env = environment(&[PACKAGE, &[RESOURCE]].concat())?;
    // The output is code and JSON, never HTML: nothing is escaped behind the templates' back.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.add_filter("jsdoc", jsdoc);
    env.add_filter("quote", |s: &str| quote(s));

    let view = PackageView {
        title: &api.title,
        base_url: &api.base_url,
        models: api.models.iter().map(model_view).collect(),
        resources: api.resources.iter().map(resource_view).collect(),
    };
    let mut files = Vec::new();
    for (name, _) in PACKAGE {
        files.push(File {
            path: format!("typescript/{name}"),
            contents: render(&env, name, &view)?,
        });
    }
    for resource in &view.resources {
        files.push(File {
            path: format!("typescript/src/resources/{}.ts", resource.file),
            contents: render(&env, RESOURCE.0, resource)?,
        });
    }
    Ok(files)
}

/// A runnable call of `op` for the portal: a client configured from the environment
/// (`NEOFORGE_API_KEY`, `NEOFORGE_BASE_URL`), then the method with example arguments (path
/// parameters, the required query parameters, the body's required fields). Plain JavaScript,
/// which is also TypeScript.
pub fn sample(api: &Api, resource: &Resource, op: &Operation) -> anyhow::Result<String> {
    let mut args: Vec<String> = op
        .path_params
        .iter()
        .map(|p| example::param(api, p).to_string())
        .collect();
    let query: serde_json::Map<String, serde_json::Value> = op
        .query_params
        .iter()
        .filter(|p| p.required)
        .map(|p| (p.name.clone(), example::param(api, p)))
        .collect();
    // `params` sits before `body`, so a body needs it even when empty.
    if !query.is_empty() || (op.body.is_some() && !op.query_params.is_empty()) {
        args.push(serde_json::to_string_pretty(&query)?);
    }
    if let Some(body) = &op.body {
        args.push(serde_json::to_string_pretty(&example::value(api, body, 0))?);
    }
    Ok(format!(
        "import {{ NeoForge }} from \"@neoforge/sdk\";\n\n\
         const client = new NeoForge({{\n  apiKey: process.env.NEOFORGE_API_KEY,\n  baseUrl: process.env.NEOFORGE_BASE_URL,\n}});\n\
         const result = await client.{}.{}({});\nconsole.log(result);\n",
        camel(&resource.name),
        camel(&op.name),
        args.join(", ")
    ))
}

#[derive(Serialize)]
struct PackageView<'a> {
    title: &'a str,
    base_url: &'a str,
    models: Vec<ModelView<'a>>,
    resources: Vec<ResourceView<'a>>,
}

/// An interface when `fields` is set, otherwise `export type name = alias`.
#[derive(Serialize)]
struct ModelView<'a> {
    name: &'a str,
    description: &'a str,
    fields: Option<Vec<FieldView<'a>>>,
    alias: Option<String>,
}

#[derive(Serialize)]
struct FieldView<'a> {
    /// The wire name, quoted when it is not an identifier.
    key: String,
    ty: String,
    optional: bool,
    description: &'a str,
}

#[derive(Serialize)]
struct ResourceView<'a> {
    description: &'a str,
    class: String,
    property: String,
    file: String,
    /// Models the resource's signatures name, for its `import type`.
    imports: Vec<String>,
    operations: Vec<OperationView<'a>>,
    /// Which runtime helpers the resource uses (unused imports fail `tsc`).
    returns_body: bool,
    returns_nothing: bool,
    paginates: bool,
}

#[derive(Serialize)]
struct OperationView<'a> {
    name: String,
    doc: String,
    /// On one line, for the README's lists.
    summary: String,
    method: &'a str,
    /// A TypeScript expression for the request path.
    path: String,
    path_params: Vec<ArgView>,
    query: Option<QueryView<'a>>,
    body: Option<BodyView>,
    response: Option<String>,
    idempotent: bool,
    /// The item type, for operations that list with a cursor.
    page_item: Option<String>,
}

#[derive(Serialize)]
struct ArgView {
    name: String,
    ty: String,
}

/// The query parameters, as one `params` object.
#[derive(Serialize)]
struct QueryView<'a> {
    type_name: String,
    required: bool,
    fields: Vec<FieldView<'a>>,
}

#[derive(Serialize)]
struct BodyView {
    ty: String,
    required: bool,
}

fn model_view(m: &Model) -> ModelView<'_> {
    let (fields, alias) = match &m.kind {
        ModelKind::Object { fields } => (
            Some(
                fields
                    .iter()
                    .map(|f| field_view(&f.name, &f.ty, f.required, &f.description))
                    .collect(),
            ),
            None,
        ),
        ModelKind::Enum { values } => (None, Some(literal_union(values))),
        ModelKind::Alias { target } => (None, Some(ts_type(target))),
        // TypeScript narrows a union on its discriminator by itself.
        ModelKind::Union { variants, .. } => (
            None,
            Some(variants.iter().map(ts_type).collect::<Vec<_>>().join(" | ")),
        ),
    };
    ModelView {
        name: &m.name,
        description: &m.description,
        fields,
        alias,
    }
}

fn field_view<'a>(name: &str, ty: &TypeRef, required: bool, description: &'a str) -> FieldView<'a> {
    FieldView {
        key: property_key(name),
        ty: ts_type(ty),
        optional: !required,
        description,
    }
}

fn resource_view(r: &Resource) -> ResourceView<'_> {
    let mut imports = BTreeSet::new();
    for op in &r.operations {
        let types = op.path_params.iter().chain(&op.query_params).map(|p| &p.ty);
        let page_item = op.pagination.as_ref().map(|p| &p.item);
        for ty in types.chain(&op.body).chain(&op.response).chain(page_item) {
            referenced_models(ty, &mut imports);
        }
    }
    let operations: Vec<_> = r.operations.iter().map(operation_view).collect();
    ResourceView {
        description: &r.description,
        // `Resource`, because a resource and a model may share a name (`health`, `Health`).
        class: format!("{}Resource", pascal(&r.name)),
        property: camel(&r.name),
        file: snake(&r.name).replace('_', "-"),
        imports: imports.into_iter().collect(),
        returns_body: operations.iter().any(|o| o.response.is_some()),
        returns_nothing: operations.iter().any(|o| o.response.is_none()),
        paginates: operations.iter().any(|o| o.page_item.is_some()),
        operations,
    }
}

fn operation_view(op: &Operation) -> OperationView<'_> {
    let doc = [
        op.summary.as_str(),
        op.description.as_str(),
        if op.deprecated { "@deprecated" } else { "" },
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join("\n\n");
    let query = (!op.query_params.is_empty()).then(|| QueryView {
        type_name: format!("{}Params", pascal(&op.id)),
        required: op.query_params.iter().any(|p| p.required),
        fields: op
            .query_params
            .iter()
            .map(|p| field_view(&p.name, &p.ty, p.required, &p.description))
            .collect(),
    });
    OperationView {
        name: camel(&op.name),
        doc,
        summary: op.summary.split_whitespace().collect::<Vec<_>>().join(" "),
        method: &op.method,
        path: path_expression(&op.path, &op.path_params),
        path_params: op
            .path_params
            .iter()
            .map(|p| ArgView {
                name: camel(&p.name),
                ty: ts_type(&p.ty),
            })
            .collect(),
        query,
        body: op.body.as_ref().map(|ty| BodyView {
            ty: ts_type(ty),
            required: op.body_required,
        }),
        response: op.response.as_ref().map(ts_type),
        idempotent: op.idempotent,
        page_item: op.pagination.as_ref().map(|p| ts_type(&p.item)),
    }
}

/// `/v1/members/{user_id}` → `` `/v1/members/${encodeURIComponent(userId)}` ``.
fn path_expression(path: &str, params: &[Param]) -> String {
    if params.is_empty() {
        return quote(path);
    }
    let mut path = path.to_owned();
    for p in params {
        path = path.replace(
            &format!("{{{}}}", p.name),
            &format!("${{encodeURIComponent({})}}", camel(&p.name)),
        );
    }
    format!("`{path}`")
}

fn ts_type(ty: &TypeRef) -> String {
    match ty {
        // Dates stay ISO 8601 strings, as on the wire.
        TypeRef::String { .. } => "string".into(),
        TypeRef::Integer { .. } | TypeRef::Number { .. } => "number".into(),
        TypeRef::Boolean => "boolean".into(),
        TypeRef::Array { items } => match **items {
            TypeRef::Enum { .. } | TypeRef::Nullable { .. } => format!("Array<{}>", ts_type(items)),
            _ => format!("{}[]", ts_type(items)),
        },
        TypeRef::Map { values } => format!("Record<string, {}>", ts_type(values)),
        TypeRef::Ref { name } => name.clone(),
        TypeRef::Enum { values } => literal_union(values),
        TypeRef::Nullable { inner } => format!("{} | null", ts_type(inner)),
        TypeRef::Any => "unknown".into(),
    }
}

fn referenced_models(ty: &TypeRef, into: &mut BTreeSet<String>) {
    match ty {
        TypeRef::Ref { name } => {
            into.insert(name.clone());
        }
        TypeRef::Array { items: inner }
        | TypeRef::Map { values: inner }
        | TypeRef::Nullable { inner } => {
            referenced_models(inner, into);
        }
        TypeRef::String { .. }
        | TypeRef::Integer { .. }
        | TypeRef::Number { .. }
        | TypeRef::Boolean
        | TypeRef::Enum { .. }
        | TypeRef::Any => {}
    }
}

fn literal_union(values: &[String]) -> String {
    if values.is_empty() {
        return "never".into();
    }
    values
        .iter()
        .map(|v| quote(v))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A JSON string literal, which is also a TypeScript one.
fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn property_key(name: &str) -> String {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier {
        name.to_owned()
    } else {
        quote(name)
    }
}

/// A JSDoc block for `text`, each line indented by `indent` spaces.
fn jsdoc(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let text = text.trim().replace("*/", "*\\/");
    if !text.contains('\n') {
        return format!("{pad}/** {text} */");
    }
    let body: String = text
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                format!("{pad} *\n")
            } else {
                format!("{pad} * {}\n", l.trim_end())
            }
        })
        .collect();
    format!("{pad}/**\n{body}{pad} */")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string() -> TypeRef {
        TypeRef::String { format: None }
    }

    #[test]
    fn types_are_spelled_as_typescript() {
        let nullable_date = TypeRef::Nullable {
            inner: Box::new(TypeRef::String {
                format: Some("date-time".into()),
            }),
        };
        assert_eq!(ts_type(&nullable_date), "string | null");
        let roles = TypeRef::Array {
            items: Box::new(TypeRef::Enum {
                values: vec!["a".into(), "b".into()],
            }),
        };
        assert_eq!(ts_type(&roles), r#"Array<"a" | "b">"#);
        let map = TypeRef::Map {
            values: Box::new(TypeRef::Ref {
                name: "Role".into(),
            }),
        };
        assert_eq!(ts_type(&map), "Record<string, Role>");
        assert_eq!(
            ts_type(&TypeRef::Array {
                items: Box::new(TypeRef::Any)
            }),
            "unknown[]"
        );
    }

    #[test]
    fn paths_interpolate_encoded_arguments() {
        let param = Param {
            name: "user_id".into(),
            ty: string(),
            required: true,
            description: String::new(),
            example: None,
        };
        assert_eq!(
            path_expression("/v1/members/{user_id}", &[param]),
            "`/v1/members/${encodeURIComponent(userId)}`"
        );
        assert_eq!(path_expression("/v1/members", &[]), r#""/v1/members""#);
    }

    #[test]
    fn keys_are_quoted_only_when_needed() {
        assert_eq!(property_key("next_cursor"), "next_cursor");
        assert_eq!(property_key("content-type"), r#""content-type""#);
    }

    #[test]
    fn jsdoc_blocks() {
        assert_eq!(jsdoc("One line.", 2), "  /** One line. */");
        assert_eq!(
            jsdoc("Title\n\nBody */", 0),
            "/**\n * Title\n *\n * Body *\\/\n */"
        );
    }
}

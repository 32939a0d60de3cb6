//! The Rust SDK (sdks/rust): progenitor's client and types for the wire, and a thin generated
//! layer over them (resources, typed errors, retries, idempotency, pagination) from the IR.

use anyhow::Context;
use openapiv3::OpenAPI;
use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle};

use super::{File, environment, example, pascal, render};
use crate::ir::{Api, Operation, Resource, TypeRef};

const TEMPLATES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml.j2"),
    ),
    ("lib.rs", include_str!("../../templates/rust/lib.rs.j2")),
    (
        "resources.rs",
        include_str!("../../templates/rust/resources.rs.j2"),
    ),
    (
        "runtime.rs",
        include_str!("../../templates/rust/runtime.rs.j2"),
    ),
    (
        "errors.rs",
        include_str!("../../templates/rust/errors.rs.j2"),
    ),
    (
        "webhooks.rs",
        include_str!("../../templates/rust/webhooks.rs.j2"),
    ),
    (
        "README.md",
        include_str!("../../templates/rust/README.md.j2"),
    ),
];

/// The document without the operations left out of the SDKs (`x-sdk-exclude`): progenitor
/// never sees them, nor their media types (SCIM's `application/scim+json`).
fn without_excluded(doc: &OpenAPI) -> OpenAPI {
    let mut doc = doc.clone();
    let excluded = |op: &Option<openapiv3::Operation>| {
        op.as_ref().is_some_and(|op| {
            op.extensions.get("x-sdk-exclude") == Some(&serde_json::Value::Bool(true))
        })
    };
    doc.paths.paths.retain(|_, item| {
        let openapiv3::ReferenceOr::Item(item) = item else {
            return true;
        };
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ] {
            if excluded(op) {
                *op = None;
            }
        }
        item.iter().next().is_some()
    });
    doc
}

/// progenitor's output for the normalised document: the `Client`, its builders and `types`.
fn progenitor_code(doc: &OpenAPI) -> anyhow::Result<String> {
    let doc = &without_excluded(doc);
    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_hooks(HooksMode::Expected)
        .with_inner_type(
            "crate::runtime::Runtime"
                .parse()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        )
        .with_derive("PartialEq");
    let tokens = Generator::new(&settings)
        .generate_tokens(doc)
        .context("progenitor could not generate a client for the spec")?;
    let file: syn::File = syn::parse2(tokens).context("progenitor produced unparsable code")?;
    Ok(prettyplease::unparse(&file))
}

/// The Rust type of an IR `TypeRef` (as serialised into the template), in the SDK's terms.
fn rust_type(ty: minijinja::Value) -> Result<String, minijinja::Error> {
    if ty.is_none() || ty.is_undefined() {
        return Ok("()".into());
    }
    let ty: TypeRef = serde_json::to_value(&ty)
        .and_then(serde_json::from_value)
        .map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
        })?;
    Ok(render_type(&ty))
}

fn render_type(ty: &TypeRef) -> String {
    match ty {
        // progenitor's builders take times as chrono's, so the wrapper does too.
        TypeRef::String { format: Some(f) } if f == "date-time" => {
            "chrono::DateTime<chrono::Utc>".into()
        }
        TypeRef::String { .. } | TypeRef::Enum { .. } => "String".into(),
        TypeRef::Integer { .. } => "u64".into(),
        TypeRef::Number { .. } => "f64".into(),
        TypeRef::Boolean => "bool".into(),
        TypeRef::Array { items } => format!("Vec<{}>", render_type(items)),
        TypeRef::Map { values } => {
            format!("std::collections::HashMap<String, {}>", render_type(values))
        }
        TypeRef::Ref { name } => format!("types::{name}"),
        TypeRef::Nullable { inner } => format!("Option<{}>", render_type(inner)),
        TypeRef::Any => "serde_json::Value".into(),
    }
}

/// Formats Rust source with the toolchain's rustfmt, so that `cargo fmt` over the workspace
/// leaves the generated crate as generated.
fn rustfmt(code: &str) -> anyhow::Result<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run rustfmt (install it with `rustup component add rustfmt`)")?;
    child
        .stdin
        .take()
        .context("rustfmt stdin")?
        .write_all(code.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        anyhow::bail!(
            "rustfmt rejected generated code: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// A parameter's name as progenitor spells it: snake case, `_` after a Rust keyword.
fn field(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
        "type", "unsafe", "use", "where", "while",
    ];
    let snake = super::snake(name);
    if KEYWORDS.contains(&snake.as_str()) {
        format!("{snake}_")
    } else {
        snake
    }
}

/// A call of `op` for the portal, as statements of an async function returning
/// `Result<_, Box<dyn Error>>`: a client configured from the environment (`NEOFORGE_API_KEY`,
/// `NEOFORGE_BASE_URL`), then the method with example arguments (the body deserialised from
/// its JSON example, so every nested type is spelled by progenitor, not here).
pub fn sample(api: &Api, resource: &Resource, op: &Operation) -> anyhow::Result<String> {
    let mut uses = vec!["ClientOptions".to_owned(), "NeoForge".to_owned()];
    let mut args: Vec<String> = op
        .path_params
        .iter()
        .map(|p| match example::param(api, p) {
            serde_json::Value::String(s) => serde_json::Value::String(s).to_string(),
            other => serde_json::Value::String(other.to_string()).to_string(),
        })
        .collect();
    if !op.query_params.is_empty() {
        let params = format!("{}Params", pascal(&op.id));
        let required = op
            .query_params
            .iter()
            .filter(|p| p.required)
            .map(|p| {
                let value = match (&p.ty, example::param(api, p)) {
                    (TypeRef::String { format: Some(f) }, v) if f == "date-time" => {
                        format!("{v}.parse().expect(\"an RFC 3339 time\")")
                    }
                    (TypeRef::String { .. }, v) => format!("{v}.into()"),
                    (TypeRef::Integer { .. } | TypeRef::Boolean, v) => v.to_string(),
                    _ => anyhow::bail!(
                        "{}: the Rust sample takes required query parameters of scalar types only",
                        op.id
                    ),
                };
                Ok(format!("{}: Some({value})", field(&p.name)))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let all = required.len() == op.query_params.len();
        args.push(match (required.is_empty(), all) {
            (true, _) => format!("{params}::default()"),
            (false, true) => format!("{params} {{ {} }}", required.join(", ")),
            (false, false) => format!(
                "{params} {{ {}, ..Default::default() }}",
                required.join(", ")
            ),
        });
        uses.push(params);
    }
    let mut body = String::new();
    if let Some(ty) = &op.body {
        uses.push("types".into());
        body = format!(
            "let body: {} = serde_json::from_value(serde_json::json!({}))?;\n",
            render_type(ty),
            serde_json::to_string_pretty(&example::value(api, ty, 0))?
        );
        args.push("body".into());
    }
    uses.sort();
    let shown = match op.response {
        Some(_) => "response.body",
        None => "response.status",
    };
    Ok(format!(
        "use neoforge_sdk::{{{}}};\n\n\
         let mut options = ClientOptions::new(std::env::var(\"NEOFORGE_API_KEY\")?);\n\
         if let Ok(base_url) = std::env::var(\"NEOFORGE_BASE_URL\") {{\n    options.base_url = base_url;\n}}\n\
         let client = NeoForge::with_options(options)?;\n{body}\
         let response = client.{}().{}({}).await?;\nprintln!(\"{{:?}}\", {shown});\n",
        uses.join(", "),
        super::snake(&resource.name),
        super::snake(&op.name),
        args.join(", ")
    ))
}

pub fn generate(doc: &OpenAPI, api: &Api) -> anyhow::Result<Vec<File>> {
    let mut env = environment(TEMPLATES)?;
    env.add_filter("rust_type", rust_type);
    env.add_filter("field", |s: &str| field(s));
    env.add_filter("oneline", |s: &str| {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    });
    let mut files: Vec<File> = TEMPLATES
        .iter()
        .map(|(name, _)| {
            let path = match *name {
                "Cargo.toml" | "README.md" => format!("rust/{name}"),
                _ => format!("rust/src/{name}"),
            };
            let contents = render(&env, name, api)?;
            let contents = if name.ends_with(".rs") {
                rustfmt(&contents)?
            } else {
                contents
            };
            Ok(File { path, contents })
        })
        .collect::<anyhow::Result<_>>()?;
    let progenitor = progenitor_code(doc)?;
    files.push(File {
        path: "rust/src/client.rs".into(),
        contents: rustfmt(&format!(
            "// {}\n#![allow(clippy::all, unused_imports, dead_code, missing_docs)]\n\n{progenitor}",
            super::GENERATED
        ))?,
    });
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn progenitor_accepts_our_spec() {
        let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/v1.json");
        let (doc, _) = crate::pipeline::load(&spec).expect("load");
        let code = super::progenitor_code(&doc).expect("progenitor");
        assert!(
            code.contains("pub fn api_keys_create"),
            "one method per operationId"
        );
        assert!(code.contains("pub struct ApiKeyWithSecret"));
        if let Ok(path) = std::env::var("DUMP_PROGENITOR") {
            std::fs::write(path, &code).expect("dump");
        }
    }
}

//! OpenAPI 3.1 → 3.0 normalisation, the one place it happens. `openapiv3` and progenitor read
//! 3.0 only; the committed spec stays 3.1 (what utoipa emits).
//!
//! Rewrites, anywhere in the document: `type: [X, "null"]` → `type: X, nullable: true`;
//! `oneOf`/`anyOf` of one schema and `{type: null}` → `allOf: [schema], nullable: true`;
//! `const: v` → `enum: [v]`; array `examples` → `example`; numeric `exclusiveMinimum` /
//! `exclusiveMaximum` → the 3.0 boolean form; drops `license.identifier` and `webhooks`.

use anyhow::bail;
use serde_json::{Map, Value, json};

/// Returns a 3.0.3 document. Constructs 3.0 cannot say are errors naming their JSON pointer.
pub fn to_openapi_30(doc: &Value) -> anyhow::Result<Value> {
    let mut doc = doc.clone();
    let version = doc
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if version.starts_with("3.0") {
        return Ok(doc);
    }
    if !version.starts_with("3.1") {
        bail!("#/openapi: unsupported OpenAPI version {version:?} (expected 3.0.x or 3.1.x)");
    }
    let Some(root) = doc.as_object_mut() else {
        bail!("#: the document is not a JSON object");
    };
    root.insert("openapi".into(), json!("3.0.3"));
    root.remove("webhooks");
    root.remove("jsonSchemaDialect");
    if let Some(license) = root
        .get_mut("info")
        .and_then(|i| i.get_mut("license"))
        .and_then(Value::as_object_mut)
    {
        license.remove("identifier");
    }
    walk(&mut doc, "#")?;
    Ok(doc)
}

fn walk(value: &mut Value, pointer: &str) -> anyhow::Result<()> {
    match value {
        Value::Object(map) => {
            rewrite(map, pointer)?;
            for (k, v) in map.iter_mut() {
                walk(
                    v,
                    &format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1")),
                )?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                walk(v, &format!("{pointer}/{i}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn is_null_schema(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
}

fn rewrite(map: &mut Map<String, Value>, pointer: &str) -> anyhow::Result<()> {
    if let Some(Value::Array(types)) = map.get("type") {
        let non_null: Vec<&Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .collect();
        let nullable = non_null.len() < types.len();
        let single = match non_null.as_slice() {
            [one] => (*one).clone(),
            _ => bail!("{pointer}/type: a schema with several non-null types is not supported"),
        };
        map.insert("type".into(), single);
        if nullable {
            map.insert("nullable".into(), json!(true));
        }
    }
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(options)) = map.get(key) else {
            continue;
        };
        if options.iter().any(is_null_schema) {
            let rest: Vec<Value> = options
                .iter()
                .filter(|o| !is_null_schema(o))
                .cloned()
                .collect();
            map.remove(key);
            match rest.len() {
                0 => bail!("{pointer}/{key}: only null"),
                1 => {
                    map.insert("allOf".into(), Value::Array(rest));
                }
                _ => {
                    map.insert(key.into(), Value::Array(rest));
                }
            }
            map.insert("nullable".into(), json!(true));
        }
    }
    if let Some(c) = map.remove("const") {
        map.insert("enum".into(), json!([c]));
    }
    if let Some(Value::Array(examples)) = map.get("examples") {
        let first = examples.first().cloned();
        map.remove("examples");
        if let Some(first) = first {
            map.entry("example").or_insert(first);
        }
    }
    for (key, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(n) = map.get(key).filter(|v| v.is_number()).cloned() {
            map.insert(bound.into(), n);
            map.insert(key.into(), json!(true));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_31_constructs() {
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1", "license": {"name": "MIT", "identifier": "MIT"}},
            "paths": {},
            "components": {"schemas": {
                "A": {"type": ["string", "null"], "format": "date-time", "examples": ["x"]},
                "B": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/A"}]},
                "C": {"const": "live"},
                "D": {"type": "integer", "exclusiveMinimum": 0}
            }}
        });
        let out = to_openapi_30(&doc).expect("normalises");
        let s = &out["components"]["schemas"];
        assert_eq!(out["openapi"], "3.0.3");
        assert!(out["info"]["license"].get("identifier").is_none());
        assert_eq!(
            s["A"],
            json!({"type": "string", "nullable": true, "format": "date-time", "example": "x"})
        );
        assert_eq!(
            s["B"],
            json!({"allOf": [{"$ref": "#/components/schemas/A"}], "nullable": true})
        );
        assert_eq!(s["C"], json!({"enum": ["live"]}));
        assert_eq!(
            s["D"],
            json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true})
        );
    }

    #[test]
    fn unsupported_constructs_name_their_pointer() {
        let doc = json!({"openapi": "3.1.0", "components": {"schemas": {"X": {"type": ["string", "integer"]}}}});
        let err = to_openapi_30(&doc).expect_err("refused").to_string();
        assert!(err.contains("#/components/schemas/X/type"), "{err}");
        assert!(to_openapi_30(&json!({"openapi": "2.0"})).is_err());
    }
}

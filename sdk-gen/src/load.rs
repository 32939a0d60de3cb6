//! Reading an OpenAPI 3.0 or 3.1 document from a JSON or YAML file.

use std::{fs, path::Path};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Reads `path` as JSON (`.json`) or YAML (`.yaml`, `.yml`); any other name is tried as JSON,
/// then as YAML. Fails unless the document declares OpenAPI 3.0.x or 3.1.x.
pub fn load_spec(path: impl AsRef<Path>) -> Result<Value> {
    let path = path.as_ref();
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let doc = match extension.as_deref() {
        Some("json") => serde_json::from_str(&text).context("invalid JSON"),
        Some("yaml" | "yml") => yaml_serde::from_str(&text).context("invalid YAML"),
        // JSON is (nearly) a subset of YAML, so the YAML error is the informative one.
        _ => serde_json::from_str(&text)
            .or_else(|_| yaml_serde::from_str(&text))
            .context("neither JSON nor YAML"),
    };
    let doc = doc.and_then(|doc| check_version(&doc).map(|()| doc));
    doc.with_context(|| path.display().to_string())
}

/// Accepts the OpenAPI versions this crate reads: 3.0.x and 3.1.x.
pub fn check_version(doc: &Value) -> Result<()> {
    match doc.get("openapi").map(|v| (v, v.as_str())) {
        Some((_, Some(v))) if v.starts_with("3.0.") || v.starts_with("3.1.") => Ok(()),
        Some((v, _)) => {
            bail!("at #/openapi: unsupported OpenAPI version {v} (expected \"3.0.x\" or \"3.1.x\")")
        }
        None => bail!("at #/openapi: missing, so this is not an OpenAPI 3.0 or 3.1 document"),
    }
}

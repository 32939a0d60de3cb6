//! From a spec file to generated files on disk: load → normalise (3.1 → 3.0) → openapiv3 →
//! IR → backends.

use std::path::Path;

use anyhow::Context;
use openapiv3::OpenAPI;

use crate::backends::{self, File};
use crate::ir::{self, Api};

/// The normalised document and its IR.
pub fn load(spec: &Path) -> anyhow::Result<(OpenAPI, Api)> {
    let raw = crate::load::load_spec(spec)?;
    let normalised = crate::normalize::to_openapi_30(&raw)?;
    let doc: OpenAPI = serde_json::from_value(normalised).with_context(|| {
        format!(
            "{}: not an OpenAPI 3.0 document after normalisation",
            spec.display()
        )
    })?;
    let api = ir::build(&doc)?;
    Ok((doc, api))
}

/// Every SDK's files for the spec.
pub fn generate(spec: &Path) -> anyhow::Result<Vec<File>> {
    let (doc, api) = load(spec)?;
    backends::generate_all(&doc, &api)
}

/// Paths (relative to `out`) whose contents differ from `files`.
pub fn stale(out: &Path, files: &[File]) -> Vec<String> {
    files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(out.join(&f.path)).ok().as_deref() != Some(f.contents.as_str())
        })
        .map(|f| f.path.clone())
        .collect()
}

/// Writes `files` under `out`, creating folders.
pub fn write(out: &Path, files: &[File]) -> anyhow::Result<()> {
    for f in files {
        let path = out.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &f.contents)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

//! Turns each Rust sample of the developer portal (portal/site/samples.json) into an async
//! function, so that `cargo test` compiles exactly the code the portal shows.

use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let samples = Path::new(&manifest).join("../../../portal/site/samples.json");
    println!("cargo::rerun-if-changed={}", samples.display());
    let text = std::fs::read_to_string(&samples).expect("read portal/site/samples.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("samples.json is JSON");
    let mut out = String::new();
    let mut names = Vec::new();
    for entry in doc["entries"].as_array().expect("entries") {
        let operation = entry["operation"].as_str().expect("operation");
        let code = entry["samples"]["rust"].as_str().expect("a Rust sample");
        out.push_str(&format!(
            "pub async fn {operation}() -> Result<(), Box<dyn std::error::Error>> {{\n{code}Ok(())\n}}\n\n"
        ));
        names.push(format!("{operation:?}"));
    }
    out.push_str(&format!(
        "pub const COMPILED: &[&str] = &[{}];\n",
        names.join(", ")
    ));
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("portal_samples.rs");
    std::fs::write(dest, out).expect("write the samples");
}

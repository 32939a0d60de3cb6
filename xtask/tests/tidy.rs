//! Rules of the workspace that no compiler checks (rust-analyzer's tidy tests): each crate
//! depends only on the workspace crates its layer allows, and every module says what it is
//! in a `//!` line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The workspace crates each crate may depend on (any kind), and why.
const ALLOWED: &[(&str, &[&str])] = &[
    // The domain is the bottom layer: rules and types only.
    ("neoforge-domain", &[]),
    // The store knows the domain's types, never the API's.
    ("neoforge-store", &["neoforge-domain"]),
    // The portal's embedded site is data.
    ("neoforge-portal-site", &[]),
    // The server knows no generator, SDK or tooling.
    (
        "neoforge-server",
        &["neoforge-domain", "neoforge-store", "neoforge-portal-site"],
    ),
    // sdk-gen works from the spec document alone.
    ("sdk-gen", &[]),
    // The generated Rust SDK stands alone, as integrators get it.
    ("neoforge-sdk", &[]),
    // The SDK's suite drives a live server with the SDK.
    ("neoforge-sdk-tests", &["neoforge-sdk", "neoforge-server"]),
    // xtask runs the generator's and the server's binaries, never links them: linking would
    // compile them a second time, with other features, before every `cargo xtask`.
    ("xtask", &[]),
];

/// Registry crates a layer must not use (a non-optional dependency): the domain does no IO
/// and knows no HTTP, SQL or OpenAPI; the store knows no HTTP.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "neoforge-domain",
        &["axum", "hyper", "reqwest", "sqlx", "tokio", "utoipa"],
    ),
    ("neoforge-store", &["axum", "hyper", "reqwest", "utoipa"]),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

#[test]
fn crates_depend_only_on_what_their_layer_allows() {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed");
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let members: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut wrong = Vec::new();
    for package in packages {
        let name = package["name"].as_str().expect("name");
        let Some((_, allowed)) = ALLOWED.iter().find(|(crate_, _)| *crate_ == name) else {
            wrong.push(format!(
                "{name} is not in tidy's ALLOWED table: give it a layer"
            ));
            continue;
        };
        let forbidden = FORBIDDEN
            .iter()
            .find(|(crate_, _)| *crate_ == name)
            .map_or(&[][..], |(_, f)| *f);
        for dep in package["dependencies"].as_array().expect("dependencies") {
            let optional = dep["optional"].as_bool().unwrap_or(false);
            let dep = dep["name"].as_str().expect("dependency name");
            if members.contains(dep) && !allowed.contains(&dep)
                || forbidden.contains(&dep) && !optional
            {
                wrong.push(format!("{name} depends on {dep}, which its layer forbids"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_module_says_what_it_is() {
    let mut missing = Vec::new();
    // sdks/ is generated: sdk-gen's templates decide its comments.
    for dir in [
        "domain",
        "store",
        "portal/src",
        "server",
        "sdk-gen",
        "xtask",
        "tests",
    ] {
        for file in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&file).expect("read a module");
            if !text.starts_with("//!") {
                missing.push(
                    file.strip_prefix(root())
                        .unwrap_or(&file)
                        .display()
                        .to_string(),
                );
            }
        }
    }
    assert!(
        missing.is_empty(),
        "modules without a leading `//!` line saying what they are:\n{}",
        missing.join("\n")
    );
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a source directory") {
            let path = entry.expect("directory entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() {
                if !matches!(name, "target" | "node_modules") {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") {
                files.push(path);
            }
        }
    }
    files
}

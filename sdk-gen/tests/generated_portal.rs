//! The committed portal (portal/site) is what the generator makes of the committed spec and
//! portal/ sources: a stale site is rewritten and the test fails, so the fix is to review and
//! commit (or run `cargo xtask portal`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sdk_gen::pipeline;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files_under(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read portal/site") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files_under(&path, base, out);
        } else {
            let relative = path.strip_prefix(base).expect("under the site");
            out.insert(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn committed_portal_is_current() {
    let files = sdk_gen::portal::generate(&root()).expect("generate");
    for f in &files {
        assert!(
            f.contents.contains("@generated"),
            "{} lacks the @generated marker",
            f.path
        );
    }
    let site = root().join("portal/site");
    let mut stale = pipeline::stale(&site, &files);
    let generated: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
    let mut present = BTreeSet::new();
    if site.exists() {
        files_under(&site, &site, &mut present);
    }
    let extra: Vec<&String> = present.difference(&generated).collect();
    for path in &extra {
        std::fs::remove_file(site.join(path)).expect("remove a file the generator no longer makes");
    }
    stale.extend(extra.into_iter().cloned());
    if !stale.is_empty() {
        pipeline::write(&site, &files).expect("rewrite portal/site");
        panic!(
            "portal/site was stale and has been rewritten (or `cargo xtask portal`); review and commit it: {stale:?}"
        );
    }
}

#[test]
fn portal_generation_is_deterministic() {
    let first = sdk_gen::portal::generate(&root()).expect("first");
    assert!(
        first
            .iter()
            .any(|f| f.path == "reference/api_keys/list.html")
    );
    assert_eq!(first, sdk_gen::portal::generate(&root()).expect("second"));
}

/// The budget of the issue: a reference page loads under 200 KB of JS and CSS.
#[test]
fn a_reference_page_stays_small() {
    let files = sdk_gen::portal::generate(&root()).expect("generate");
    let page = files
        .iter()
        .find(|f| f.path == "reference/api_keys/create.html")
        .expect("page");
    let size_of = |asset: &str| {
        files
            .iter()
            .find(|f| f.path == asset)
            .map_or(0, |f| f.contents.len())
    };
    // Every asset the page loads, directly or through module imports.
    let assets: usize = [
        "portal.css",
        "portal.js",
        "api.js",
        "search.js",
        "playground.js",
        "validate.js",
    ]
    .iter()
    .map(|a| size_of(&format!("assets/{a}")))
    .sum();
    assert!(page.contents.contains("assets/playground.js"));
    assert!(
        assets > 10_000 && assets < 200_000,
        "{assets} bytes of JS and CSS"
    );
}

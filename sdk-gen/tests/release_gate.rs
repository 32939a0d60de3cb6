//! The release gate: the current spec must not break the newest frozen release, and the
//! changelog must be the one generated from the releases.

use std::path::{Path, PathBuf};

use sdk_gen::compat::{Severity, report};
use sdk_gen::release;

fn openapi_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi")
}

#[test]
fn current_spec_does_not_break_the_newest_release() {
    let breaking: Vec<_> = release::unreleased(&openapi_dir())
        .expect("diff")
        .into_iter()
        .filter(|c| c.severity == Severity::Breaking)
        .collect();
    assert!(
        breaking.is_empty(),
        "openapi/v1.json breaks the newest release:\n{}",
        report::text(&breaking)
    );
}

#[test]
fn changelog_is_current() {
    let path = openapi_dir().join(release::CHANGELOG);
    let fresh = release::changelog(&openapi_dir()).expect("changelog");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(fresh.as_str()) {
        std::fs::write(&path, &fresh).expect("rewrite");
        panic!("openapi/CHANGELOG.md was stale and has been regenerated; review and commit it.");
    }
}

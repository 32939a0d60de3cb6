//! The committed SDKs match what the generator makes of the committed spec. A stale SDK is
//! rewritten and the test fails, so the fix is to review and commit (or run `cargo xtask sdk`).

use std::path::Path;

use sdk_gen::pipeline;

#[test]
fn committed_sdks_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = pipeline::generate(&root.join("openapi/v1.json")).expect("generate");
    assert!(!files.is_empty());
    for f in &files {
        assert!(
            f.contents.contains("@generated"),
            "{} lacks the @generated marker",
            f.path
        );
    }
    let out = root.join("sdks");
    let stale = pipeline::stale(&out, &files);
    if !stale.is_empty() {
        pipeline::write(&out, &files).expect("rewrite sdks/");
        panic!(
            "generated SDK files were stale and have been rewritten; review and commit them: {stale:?}"
        );
    }
}

#[test]
fn generation_is_deterministic() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/v1.json");
    assert_eq!(
        pipeline::generate(&spec).expect("first"),
        pipeline::generate(&spec).expect("second")
    );
}

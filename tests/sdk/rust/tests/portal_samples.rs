//! The Rust samples of the developer portal compile against the SDK: build.rs makes each one
//! in portal/site/samples.json a function of `samples` (compiled, not run: the portal's
//! TypeScript, Python and curl samples of read operations run in tests/portal).

#[allow(dead_code)]
mod samples {
    include!(concat!(env!("OUT_DIR"), "/portal_samples.rs"));
}

#[test]
fn every_operation_has_a_compiled_rust_sample() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../../portal/site/samples.json")).expect("json");
    let operations: Vec<&str> = doc["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["operation"].as_str())
        .collect();
    assert!(operations.len() > 50);
    assert_eq!(samples::COMPILED, operations.as_slice());
}

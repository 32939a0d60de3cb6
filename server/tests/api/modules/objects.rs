//! Strict object deserialization: arrays are never structs, at any depth.

use serde::Deserialize;

use neoforge_server::http::objects::Objects;

#[derive(Debug, Deserialize, PartialEq)]
struct Inner {
    n: i64,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Outer {
    name: String,
    inner: Option<Inner>,
    list: Vec<Inner>,
}

fn parse(json: &str) -> Result<Outer, String> {
    Outer::deserialize(Objects(&mut serde_json::Deserializer::from_str(json)))
        .map_err(|e| e.to_string())
}

#[test]
fn objects_read_as_before() {
    let got = parse(r#"{"name":"x","inner":{"n":1},"list":[{"n":2}]}"#).expect("valid");
    assert_eq!(
        got,
        Outer {
            name: "x".into(),
            inner: Some(Inner { n: 1 }),
            list: vec![Inner { n: 2 }],
        }
    );
    assert_eq!(
        parse(r#"{"name":"x","inner":null,"list":[]}"#).map(|o| o.inner),
        Ok(None)
    );
}

#[test]
fn arrays_are_never_structs_at_any_depth() {
    for json in [
        r#"["x", null, []]"#,
        r#"{"name":"x","inner":[1],"list":[]}"#,
        r#"{"name":"x","inner":null,"list":[[2]]}"#,
    ] {
        let err = parse(json).expect_err(json);
        assert!(err.contains("invalid type: sequence"), "{json}: {err}");
    }
    // Plain serde_json takes the first of them.
    assert!(serde_json::from_str::<Outer>(r#"["x", null, []]"#).is_ok());
}

//! The compat checker against the fixture pairs in `fixtures/compat/<rule-id>/`, through the
//! library and through the `sdk-gen diff` command line.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, anyhow, ensure};
use sdk_gen::{
    compat::{self, Change, Severity, rules},
    load::load_spec,
};
use serde_json::{Value, json};

use Severity::{Breaking, Info, Warning};

/// The severity each rule must report, written apart from the library's catalogue.
const EXPECTED: &[(&str, Severity)] = &[
    ("path-removed", Breaking),
    ("operation-removed", Breaking),
    ("operation-added", Info),
    ("operation-id-changed", Breaking),
    ("operation-deprecated", Info),
    ("security-changed", Breaking),
    ("security-relaxed", Info),
    ("required-parameter-removed", Breaking),
    ("parameter-removed", Warning),
    ("required-parameter-added", Breaking),
    ("parameter-added", Info),
    ("parameter-became-required", Breaking),
    ("parameter-became-optional", Info),
    ("request-body-removed", Breaking),
    ("required-request-body-added", Breaking),
    ("request-body-added", Info),
    ("request-body-became-required", Breaking),
    ("request-body-became-optional", Info),
    ("request-media-type-removed", Breaking),
    ("request-media-type-added", Info),
    ("success-response-removed", Breaking),
    ("success-response-added", Warning),
    ("error-response-removed", Info),
    ("error-response-added", Info),
    ("response-media-type-removed", Breaking),
    ("response-media-type-added", Info),
    ("type-changed", Breaking),
    ("format-changed", Breaking),
    ("default-changed", Warning),
    ("required-request-property-removed", Breaking),
    ("request-property-removed", Warning),
    ("required-request-property-added", Breaking),
    ("request-property-added", Info),
    ("request-property-became-required", Breaking),
    ("request-property-became-optional", Info),
    ("response-property-removed", Breaking),
    ("response-property-added", Info),
    ("response-property-became-optional", Breaking),
    ("response-property-became-required", Info),
    ("request-became-nullable", Info),
    ("request-became-non-nullable", Breaking),
    ("response-became-nullable", Breaking),
    ("response-became-non-nullable", Info),
    ("request-enum-value-removed", Breaking),
    ("request-enum-value-added", Info),
    ("response-enum-value-added", Warning),
    ("response-enum-value-removed", Info),
    ("request-constraint-tightened", Breaking),
    ("request-constraint-relaxed", Info),
    ("response-constraint-changed", Info),
    ("request-variant-removed", Breaking),
    ("request-variant-added", Info),
    ("response-variant-added", Warning),
    ("response-variant-removed", Info),
];

/// Pairs whose changes are all compatible: the command must pass even with `--fail-on warning`.
const ADDITIVE: &str = "additive-";

struct Fixture {
    name: String,
    rule: String,
    base: PathBuf,
    head: PathBuf,
}

fn fixtures() -> Result<Vec<Fixture>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compat");
    let side = |dir: &Path, name: &str| {
        ["json", "yaml"]
            .map(|ext| dir.join(format!("{name}.{ext}")))
            .into_iter()
            .find(|path| path.exists())
            .ok_or_else(|| anyhow!("{} has no {name}.json or {name}.yaml", dir.display()))
    };
    let mut fixtures = Vec::new();
    for entry in fs::read_dir(&root).with_context(|| root.display().to_string())? {
        let dir = entry?.path();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("fixture name")?
            .to_owned();
        let rule = name.strip_prefix(ADDITIVE).unwrap_or(&name).to_owned();
        fixtures.push(Fixture {
            base: side(&dir, "base")?,
            head: side(&dir, "head")?,
            name,
            rule,
        });
    }
    fixtures.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(fixtures)
}

fn expected(rule: &str) -> Option<Severity> {
    EXPECTED
        .iter()
        .find(|(id, _)| *id == rule)
        .map(|(_, severity)| *severity)
}

fn diff_files(base: &Path, head: &Path) -> Result<Vec<Change>> {
    compat::diff(&load_spec(base)?, &load_spec(head)?)
}

#[test]
fn every_rule_has_a_fixture_and_the_catalogue_agrees() -> Result<()> {
    let listed: BTreeSet<_> = EXPECTED.iter().map(|(id, _)| id.to_string()).collect();
    let covered: BTreeSet<_> = fixtures()?.into_iter().map(|f| f.rule).collect();
    assert_eq!(covered, listed, "fixture directories vs EXPECTED");
    let catalogue: Vec<_> = rules::ALL.iter().map(|r| (r.id, r.severity)).collect();
    assert_eq!(catalogue.len(), EXPECTED.len());
    for (id, severity) in catalogue {
        assert_eq!(
            expected(id),
            Some(severity),
            "severity of {id} in the catalogue"
        );
    }
    Ok(())
}

#[test]
fn each_fixture_reports_its_rule_with_its_severity() -> Result<()> {
    let mut failures = Vec::new();
    for fixture in fixtures()? {
        let severity = expected(&fixture.rule).context(fixture.rule.clone())?;
        let changes = diff_files(&fixture.base, &fixture.head)?;
        let listing: Vec<_> = changes
            .iter()
            .map(|c| format!("{} {}", c.rule, c.severity))
            .collect();
        if !changes
            .iter()
            .any(|c| c.rule == fixture.rule && c.severity == severity)
        {
            failures.push(format!(
                "{}: no {severity} {} in {listing:?}",
                fixture.name, fixture.rule
            ));
        }
        // Nothing worse than the rule under test, so that the exit status tests that rule.
        let worst = changes.iter().map(|c| c.severity).max();
        if worst != Some(severity) {
            failures.push(format!(
                "{}: worst change {worst:?}, expected {severity}",
                fixture.name
            ));
        }
        if fixture.name.starts_with(ADDITIVE) && severity != Info {
            failures.push(format!(
                "{}: additive fixture of a {severity} rule",
                fixture.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

/// Runs `sdk-gen` with `args`; returns its exit code, stdout and stderr.
fn sdk_gen(args: &[&str]) -> Result<(i32, String, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_sdk-gen"))
        .args(args)
        .output()?;
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).map_err(anyhow::Error::from);
    let code = output.status.code().context("killed by a signal")?;
    Ok((code, text(output.stdout)?, text(output.stderr)?))
}

#[test]
fn the_command_fails_on_breaking_pairs_and_passes_on_the_rest() -> Result<()> {
    let mut failures = Vec::new();
    for fixture in fixtures()? {
        let severity = expected(&fixture.rule).context(fixture.rule.clone())?;
        let (base, head) = (
            fixture.base.to_string_lossy(),
            fixture.head.to_string_lossy(),
        );
        for (fail_on, threshold) in [("breaking", Breaking), ("warning", Warning)] {
            let (code, stdout, stderr) = sdk_gen(&["diff", &base, &head, "--fail-on", fail_on])?;
            let want = i32::from(severity >= threshold);
            if code != want {
                failures.push(format!(
                    "{} --fail-on {fail_on}: exit {code}, want {want}\n{stderr}",
                    fixture.name
                ));
            }
            let line = format!("{severity} {} ", fixture.rule);
            if !stdout.lines().any(|l| l.starts_with(&line)) {
                failures.push(format!(
                    "{}: no line starting {line:?} in\n{stdout}",
                    fixture.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

fn operation(response: &str, request: Option<&str>) -> Value {
    let body = |schema: &str| json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    let mut op = json!({"responses": {"200": body(response)}});
    if let Some(request) = request {
        op["requestBody"] = body(request);
    }
    op
}

/// Customer is used by two operations, reaches Address twice, and refers to itself.
fn shared_schema_doc(address: Value) -> Value {
    json!({
        "openapi": "3.1.0",
        "paths": {
            "/v1/customers": {"post": operation("Customer", Some("NewCustomer"))},
            "/v1/customers/{id}": {"get": operation("Customer", None)},
            "/v1/health": {"get": operation("Health", None)},
        },
        "components": {"schemas": {
            "Customer": {"type": "object", "properties": {
                "billing": {"$ref": "#/components/schemas/Address"},
                "shipping": {"$ref": "#/components/schemas/Address"},
                "parent": {"$ref": "#/components/schemas/Customer"},
            }},
            "NewCustomer": {"type": "object", "properties": {
                "billing": {"$ref": "#/components/schemas/Address"},
            }},
            "Address": address,
            "Health": {"type": "object"},
        }},
    })
}

#[test]
fn a_shared_schema_change_is_reported_once_per_operation_and_direction() -> Result<()> {
    let address = |zip: Value| json!({"type": "object", "properties": {"zip": zip}});
    let base = shared_schema_doc(address(json!({"type": "string"})));
    let listing = |changes: Vec<Change>| -> Vec<String> {
        let line = |c: Change| {
            format!(
                "{} {} {} {}  {}",
                c.severity, c.rule, c.method, c.path, c.pointer
            )
        };
        changes.into_iter().map(line).collect()
    };
    let zip = "#/components/schemas/Address/properties/zip";
    let head = shared_schema_doc(json!({"type": "object", "properties": {}}));
    assert_eq!(
        listing(compat::diff(&base, &head)?),
        [
            format!("BREAKING response-property-removed POST /v1/customers  {zip}"),
            format!("BREAKING response-property-removed GET /v1/customers/{{id}}  {zip}"),
            format!("WARNING request-property-removed POST /v1/customers  {zip}"),
        ]
    );
    // A direction-neutral change to a schema in both the request and the response: once.
    let head = shared_schema_doc(address(json!({"type": "integer"})));
    assert_eq!(
        listing(compat::diff(&base, &head)?),
        [
            format!("BREAKING type-changed POST /v1/customers  {zip}"),
            format!("BREAKING type-changed GET /v1/customers/{{id}}  {zip}"),
        ]
    );
    Ok(())
}

#[test]
fn read_only_properties_count_in_responses_only() -> Result<()> {
    let doc = |properties: Value| {
        json!({"openapi": "3.1.0", "paths": {"/v1/x": {"post": operation("X", Some("X"))}},
               "components": {"schemas": {"X": {"type": "object", "properties": properties}}}})
    };
    let base = doc(
        json!({"id": {"type": "string", "readOnly": true}, "pin": {"type": "string", "writeOnly": true}}),
    );
    let head = doc(json!({}));
    let rules: Vec<_> = compat::diff(&base, &head)?
        .into_iter()
        .map(|c| (c.rule, c.message))
        .collect();
    assert_eq!(
        rules,
        [
            (
                "response-property-removed",
                "property `id` removed".to_owned()
            ),
            (
                "request-property-removed",
                "property `pin` removed".to_owned()
            ),
        ]
    );
    Ok(())
}

#[test]
fn nullable_and_exclusive_bounds_mean_the_same_in_3_0_and_3_1() -> Result<()> {
    let doc = |version: &str, schemas: Value| {
        json!({"openapi": version, "paths": {"/v1/x": {"post": operation("X", Some("X"))}},
               "components": {"schemas": schemas}})
    };
    let base = doc(
        "3.0.3",
        json!({
            "X": {"type": "object", "properties": {
                "name": {"type": "string", "nullable": true},
                "seats": {"type": "integer", "maximum": 5, "exclusiveMaximum": true},
                "y": {"allOf": [{"$ref": "#/components/schemas/Y"}], "nullable": true},
            }},
            "Y": {"type": "string", "enum": ["a", "b"]},
        }),
    );
    let head = doc(
        "3.1.0",
        json!({
            "X": {"type": "object", "properties": {
                "name": {"type": ["string", "null"]},
                "seats": {"type": "integer", "exclusiveMaximum": 5},
                "y": {"oneOf": [{"$ref": "#/components/schemas/Y"}, {"type": "null"}]},
            }},
            "Y": {"type": "string", "enum": ["a", "b"]},
        }),
    );
    assert_eq!(compat::diff(&base, &head)?, []);
    // The same documents do differ once nullability really changes.
    let mut narrowed = head.clone();
    narrowed["components"]["schemas"]["X"]["properties"]["name"] = json!({"type": "string"});
    let rules: Vec<_> = compat::diff(&base, &narrowed)?
        .into_iter()
        .map(|c| c.rule)
        .collect();
    assert_eq!(
        rules,
        [
            "request-became-non-nullable",
            "response-became-non-nullable"
        ]
    );
    Ok(())
}

#[test]
fn malformed_documents_are_errors_naming_the_pointer() -> Result<()> {
    let valid = shared_schema_doc(json!({"type": "object"}));
    let get = "/paths/~1v1~1health/get";
    let health = "/components/schemas/Health";
    let cases = [
        (
            get,
            "parameters",
            json!({"name": "x"}),
            "at #/paths/~1v1~1health/get/parameters: expected an array",
        ),
        (
            get,
            "parameters",
            json!([{"in": "query"}]),
            "at #/paths/~1v1~1health/get/parameters/0: no `name`",
        ),
        (
            get,
            "security",
            json!({"bearer": []}),
            "at #/paths/~1v1~1health/get/security: expected an array",
        ),
        (
            health,
            "type",
            json!(7),
            "at #/components/schemas/Health/type: expected a string",
        ),
        (
            health,
            "required",
            json!("id"),
            "at #/components/schemas/Health/required: expected an array",
        ),
        (
            health,
            "$ref",
            json!("#/components/schemas/Nope"),
            "at #/components/schemas/Health/$ref: $ref \"#/components/schemas/Nope\" points at nothing",
        ),
        (
            health,
            "$ref",
            json!("common.yaml#/Health"),
            "at #/components/schemas/Health/$ref: unsupported $ref \"common.yaml#/Health\"",
        ),
        (
            "",
            "openapi",
            json!("2.0"),
            "at #/openapi: unsupported OpenAPI version \"2.0\"",
        ),
    ];
    for (parent, key, value, message) in cases {
        let mut broken = valid.clone();
        let parent_object = broken.pointer_mut(parent).and_then(Value::as_object_mut);
        parent_object.context(parent)?.insert(key.to_owned(), value);
        let pointer = format!("{parent}/{key}");
        let error = compat::diff(&valid, &broken)
            .map(|_| ())
            .map_err(|e| format!("{e:#}"));
        let error = error
            .err()
            .with_context(|| format!("{pointer}: no error"))?;
        ensure!(
            error.starts_with("head document, ") && error.contains(message),
            "{error}"
        );
        // Either side: the base is read with the same code.
        let error = compat::diff(&broken, &valid)
            .map(|_| ())
            .map_err(|e| format!("{e:#}"));
        ensure!(
            error.is_err_and(|e| e.starts_with("base document, ")),
            "{pointer} as base"
        );
    }
    Ok(())
}

#[test]
fn the_command_exits_2_on_unreadable_documents() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("sdk-gen-compat-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let good =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compat/type-changed/base.json");
    let write = |name: &str, text: &str| -> Result<String> {
        let path = dir.join(name);
        fs::write(&path, text)?;
        Ok(path.to_string_lossy().into_owned())
    };
    let cases = [
        (
            dir.join("missing.json").to_string_lossy().into_owned(),
            "cannot read",
        ),
        (write("bad.json", "{\"openapi\": ")?, "invalid JSON"),
        (
            write("swagger.yaml", "swagger: '2.0'\n")?,
            "at #/openapi: missing",
        ),
        (
            write(
                "params.yaml",
                "openapi: 3.1.0\npaths:\n  /x:\n    get:\n      parameters: 3\n",
            )?,
            "head document, at #/paths/~1x/get/parameters: expected an array",
        ),
    ];
    for (head, message) in cases {
        let (code, stdout, stderr) = sdk_gen(&["diff", &good.to_string_lossy(), &head])?;
        assert_eq!(code, 2, "{head}: {stderr}");
        assert!(
            stderr.contains(message) && stderr.contains("error"),
            "{head}: {stderr}"
        );
        assert!(stdout.is_empty(), "{head}: {stdout}");
    }
    fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn the_command_writes_text_json_and_markdown() -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compat/operation-removed");
    let (base, head) = (dir.join("base.yaml"), dir.join("head.yaml"));
    let (base, head) = (base.to_string_lossy(), head.to_string_lossy());
    let (code, text, _) = sdk_gen(&["diff", &base, &head])?;
    assert_eq!(code, 1);
    assert_eq!(
        text,
        "BREAKING operation-removed DELETE /v1/customers/{id}  #/paths/~1v1~1customers~1{id}/delete: operation removed\n"
    );
    let (code, json, _) = sdk_gen(&["diff", &base, &head, "--format", "json"])?;
    assert_eq!(code, 1);
    let json: Value = serde_json::from_str(&json)?;
    assert_eq!(json[0]["rule"], "operation-removed");
    assert_eq!(json[0]["severity"], "breaking");
    assert_eq!(json.as_array().map(Vec::len), Some(1));
    let (code, markdown, _) = sdk_gen(&["diff", &base, &head, "--format", "markdown"])?;
    assert_eq!(code, 1);
    assert!(markdown.starts_with("### Breaking changes\n"), "{markdown}");
    assert!(
        markdown
            .contains("| `DELETE /v1/customers/{id}` | operation removed | `operation-removed` |")
    );
    let (code, same, _) = sdk_gen(&["diff", &base, &base])?;
    assert_eq!((code, same.as_str()), (0, ""));
    Ok(())
}

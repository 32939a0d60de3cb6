//! SCIM PATCH operations as Entra ID and Okta send them.

use domain::identity::scim_schema::{ENTERPRISE_USER, Kind};
use neoforge_server::identity::scim::error::{ScimResult, ScimType};
use neoforge_server::identity::scim::patch::apply;
use neoforge_server::identity::scim::resource::normalize;
use serde_json::{Value, json};

fn patched(kind: Kind, start: Value, body: Value) -> ScimResult<Value> {
    let mut r = normalize(kind, &start)?;
    apply(kind, &mut r, &body)?;
    normalize(kind, &Value::Object(r)).map(Value::Object)
}

fn ops(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[test]
fn entra_id_payloads() {
    let start = json!({"userName": "ada@x.io", "active": true});
    let r = patched(
        Kind::User,
        start.clone(),
        ops(json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "ada@work.io"},
            {"op": "Add", "path": "name.givenName", "value": "Ada"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-1"},
            {"op": "Replace", "value": {"displayName": "Ada L", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D"}},
        ])),
    )
    .expect("applies");
    assert_eq!(r["active"], false);
    assert_eq!(
        r["emails"],
        json!([{"type": "work", "value": "ada@work.io"}])
    );
    assert_eq!(r["name"], json!({"givenName": "Ada"}));
    assert_eq!(
        r[ENTERPRISE_USER],
        json!({"manager": {"value": "mgr-1"}, "department": "R&D"})
    );
    assert_eq!(r["displayName"], "Ada L");
    let r = patched(
        Kind::User,
        r,
        ops(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@work.io"},
                   {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}])),
    )
    .expect("applies");
    assert_eq!(
        r["emails"],
        json!([{"type": "work", "value": "new@work.io"}])
    );
    assert_eq!(r[ENTERPRISE_USER], json!({"department": "R&D"}));
}

#[test]
fn okta_and_group_member_payloads() {
    let r = patched(
        Kind::User,
        json!({"userName": "a"}),
        ops(json!([{"op": "replace", "value": {"id": "x", "active": false}}])),
    )
    .expect("applies");
    assert_eq!(r["active"], false);
    let g = json!({"displayName": "G", "members": [{"value": "u1"}, {"value": "u2"}]});
    let r = patched(
        Kind::Group,
        g.clone(),
        ops(json!([{"op": "remove", "path": "members[value eq \"u1\"]"},
                   {"op": "add", "path": "members", "value": [{"value": "u3"}]}])),
    )
    .expect("applies");
    assert_eq!(r["members"], json!([{"value": "u2"}, {"value": "u3"}]));
    let r = patched(
        Kind::Group,
        g,
        ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "u2"}]}])),
    )
    .expect("applies");
    assert_eq!(r["members"], json!([{"value": "u1"}]));
}

#[test]
fn errors_name_their_scim_type() {
    let cases = [
        (json!([{"op": "remove"}]), ScimType::NoTarget),
        (
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "replace", "path": "nope", "value": "x"}]),
            ScimType::InvalidPath,
        ),
        (
            json!([{"op": "replace", "path": "emails[type xx \"w\"]", "value": "x"}]),
            ScimType::InvalidPath,
        ),
        (
            json!([{"op": "replace", "path": "emails[type co \"w\"].value", "value": "x"}]),
            ScimType::NoTarget,
        ),
        (
            json!([{"op": "move", "path": "title"}]),
            ScimType::InvalidSyntax,
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "perhaps"}]),
            ScimType::InvalidValue,
        ),
    ];
    for (body, expected) in cases {
        let e =
            patched(Kind::User, json!({"userName": "a"}), ops(body.clone())).expect_err("refused");
        assert_eq!(e.scim_type, Some(expected), "{body}");
    }
}

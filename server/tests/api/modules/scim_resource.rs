//! SCIM resources: client JSON to the stored form and back.

use domain::identity::scim_schema::{self as schema, Kind};
use neoforge_server::identity::scim::error::ScimType;
use neoforge_server::identity::scim::resource::{Meta, Projection, normalize, render};
use serde_json::{Value, json};

#[test]
fn normalizes_names_types_and_extensions() {
    let r = normalize(
        Kind::User,
        &json!({
            "schemas": [schema::USER], "id": "ignored", "USERNAME": "Ada",
            "Active": "False", "password": "hunter22", "groups": [{"value": "x"}],
            "emails": [{"value": "a@x.io", "primary": true}, {"value": "b@x.io", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "m1"},
            "nonsense": 1,
        }),
    )
    .expect("valid");
    assert_eq!(
        Value::Object(r),
        json!({
            "userName": "Ada", "active": false,
            "emails": [{"value": "a@x.io", "primary": false}, {"value": "b@x.io", "primary": true}],
            schema::ENTERPRISE_USER: {"department": "R&D", "manager": {"value": "m1"}},
        })
    );
}

#[test]
fn refuses_wrong_types_and_missing_required() {
    assert!(normalize(Kind::User, &json!({"displayName": "x"})).is_err());
    let e = normalize(Kind::User, &json!({"userName": "a", "active": "maybe"}))
        .expect_err("not a boolean");
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(normalize(Kind::Group, &json!({"displayName": 3})).is_err());
}

#[test]
fn projects_attributes() {
    let stored = normalize(
        Kind::User,
        &json!({"userName": "a", "name": {"givenName": "A", "familyName": "B"}, "title": "t"}),
    )
    .expect("valid");
    let meta = Meta {
        created: 0,
        last_modified: 0,
        version: 1,
        location: "http://x/Users/1",
    };
    let full = render(Kind::User, "1", &stored, &meta);
    let only = Projection {
        attributes: Some("name.givenName".into()),
        excluded: None,
        across_types: false,
    };
    assert_eq!(
        only.apply(Kind::User, full.clone()).expect("projects"),
        json!({"schemas": [schema::USER], "id": "1", "name": {"givenName": "A"}})
    );
    let without = Projection {
        attributes: None,
        excluded: Some("title,meta,id".into()),
        across_types: false,
    };
    let cut = without.apply(Kind::User, full).expect("projects");
    assert!(cut.get("title").is_none() && cut.get("meta").is_none());
    assert_eq!(cut["id"], "1");
}

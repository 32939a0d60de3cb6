//! SCIM filters as directories send them.

use domain::identity::scim_schema::Kind;
use neoforge_server::identity::scim::error::ScimType;
use neoforge_server::identity::scim::filter::{parse, parse_across};
use serde_json::{Value, json};

fn user() -> Value {
    json!({
        "id": "u1", "userName": "Ada@Example.com", "active": true, "title": "Eng",
        "emails": [{"type": "work", "value": "ada@work.io"}, {"type": "home", "value": "ada@home.io"}],
        "name": {"givenName": "Ada"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
        "meta": {"lastModified": "2026-01-02T00:00:00Z"},
    })
}

fn check(text: &str) -> bool {
    parse(Kind::User, text).expect(text).matches(&user())
}

#[test]
fn evaluates_the_filters_directories_send() {
    assert!(check(r#"userName eq "ada@example.com""#));
    assert!(!check(r#"id eq "U1""#), "id is case-exact");
    assert!(check(r#"emails[type eq "work"].value eq "ada@work.io""#));
    assert!(!check(r#"emails[type eq "home"].value eq "ada@work.io""#));
    assert!(check(r#"emails[type eq "work" and value co "@work"]"#));
    assert!(check(r#"emails co "home.io""#));
    assert!(check(
        r#"name.givenName sw "a" and not (title pr) or active eq true"#
    ));
    assert!(check("title pr and externalId pr or active eq true"));
    assert!(!check("externalId pr"));
    assert!(check(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d""#
    ));
    assert!(check(r#"meta.lastModified gt "2025-12-31T23:00:00+00:00""#));
    assert!(check(r#"title ne "Ops""#));
}

#[test]
fn across_types_an_unknown_attribute_matches_nothing() {
    let group = json!({"id": "g1", "displayName": "Eng", "externalId": "eng"});
    let f = parse_across(
        Kind::Group,
        r#"userName pr or emails[type eq "work"].value eq "x" or externalId eq "eng""#,
    )
    .expect("parses");
    assert!(f.matches(&group));
    assert!(
        !parse_across(Kind::Group, "userName pr")
            .expect("parses")
            .matches(&group)
    );
    assert!(parse(Kind::Group, "userName pr").is_err());
    assert!(
        parse_across(Kind::Group, "userName eq").is_err(),
        "syntax still counts"
    );
}

#[test]
fn refuses_bad_filters() {
    for bad in [
        "userName",
        "userName eq",
        r#"userName xx "a""#,
        r#"nope eq "a""#,
        r#"(userName eq "a""#,
        r#"userName eq "a" extra"#,
        r#"emails[type eq "work""#,
    ] {
        let e = parse(Kind::User, bad).expect_err(bad);
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{bad}");
    }
}

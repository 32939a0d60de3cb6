//! The SCIM schemas this server publishes at `/Schemas` and checks resources against: RFC 7643's
//! User, Group and enterprise User extension, and the discovery schemas (ResourceType,
//! ServiceProviderConfig, Schema). `schemas.json` holds them as RFC 7643 §7 describes schemas
//! (rendered from the python-scim project's scim2-models, whose definitions follow §8.7).
//! No IO.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

const SCHEMAS_JSON: &str = include_str!("schemas.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Type {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attr {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: Type,
    pub multi_valued: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    #[serde(default)]
    pub sub_attributes: Vec<Attr>,
}

impl Attr {
    /// The sub-attribute named `name`, ignoring case as attribute names do (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&Attr> {
        find(&self.sub_attributes, name)
    }
}

pub fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

#[derive(Debug, Deserialize)]
struct SchemaDef {
    id: String,
    attributes: Vec<Attr>,
}

/// The parsed schemas, with the common attributes every resource has (RFC 7643 §3.1).
pub struct Catalog {
    schemas: Vec<SchemaDef>,
    common: Vec<Attr>,
    /// The published documents, as in `schemas.json`.
    pub documents: Vec<Value>,
}

impl Catalog {
    pub fn attributes(&self, urn: &str) -> &[Attr] {
        self.schemas
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
            .map_or(&[], |s| s.attributes.as_slice())
    }

    /// `id`, `externalId` and `meta`.
    pub fn common(&self) -> &[Attr] {
        &self.common
    }
}

fn load() -> Result<Catalog, String> {
    let documents: Vec<Value> = serde_json::from_str(SCHEMAS_JSON).map_err(|e| e.to_string())?;
    let schemas = documents
        .iter()
        .map(|d| serde_json::from_value(d.clone()))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let string = |name: &str, mutability: &str, case_exact: bool| {
        serde_json::json!({"name": name, "type": "string", "multiValued": false,
            "caseExact": case_exact, "mutability": mutability, "returned": "default"})
    };
    let date = |name: &str| {
        serde_json::json!({"name": name, "type": "dateTime", "multiValued": false,
            "mutability": "readOnly", "returned": "default"})
    };
    let common = serde_json::json!([
        {"name": "id", "type": "string", "multiValued": false, "caseExact": true,
         "mutability": "readOnly", "returned": "always"},
        string("externalId", "readWrite", true),
        {"name": "meta", "type": "complex", "multiValued": false, "mutability": "readOnly",
         "returned": "default", "subAttributes": [
            string("resourceType", "readOnly", true),
            date("created"),
            date("lastModified"),
            string("location", "readOnly", true),
            string("version", "readOnly", true),
        ]},
    ]);
    let common = serde_json::from_value(common).map_err(|e| e.to_string())?;
    Ok(Catalog {
        schemas,
        common,
        documents,
    })
}

static CATALOG: LazyLock<Result<Catalog, String>> = LazyLock::new(load);

/// The catalog; an error only if `schemas.json` were broken, which a unit test rules out.
pub fn catalog() -> Result<&'static Catalog, &'static str> {
    CATALOG.as_ref().map_err(String::as_str)
}

/// A resource type: its core schema and extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    pub fn core(self) -> &'static str {
        match self {
            Kind::User => USER,
            Kind::Group => GROUP,
        }
    }

    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::User => &[ENTERPRISE_USER],
            Kind::Group => &[],
        }
    }

    /// The extension URN `s` names, in its canonical spelling.
    pub fn extension(self, s: &str) -> Option<&'static str> {
        self.extensions()
            .iter()
            .copied()
            .find(|u| u.eq_ignore_ascii_case(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_parses_and_has_the_published_schemas() {
        let c = catalog().expect("schemas.json parses");
        assert_eq!(c.documents.len(), 6);
        let user = c.attributes(USER);
        assert!(find(user, "USERNAME").is_some_and(|a| a.required && !a.case_exact));
        let emails = find(user, "emails").expect("emails");
        assert!(emails.multi_valued && emails.sub("Value").is_some());
        assert!(find(c.attributes(ENTERPRISE_USER), "manager").is_some());
        assert!(find(c.attributes(GROUP), "members").is_some());
        assert!(
            find(c.common(), "meta")
                .and_then(|m| m.sub("lastModified"))
                .is_some()
        );
    }
}

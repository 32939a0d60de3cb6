//! Walking one OpenAPI document: JSON pointers, local `$ref` resolution, and typed access that
//! turns malformed input into an error naming the document and the pointer, never a panic.

use std::fmt;

use anyhow::{Result, anyhow};
use serde_json::{Map, Value};

/// A JSON pointer in URI-fragment form, as `$ref` spells them: `#/paths/~1v1~1x/get`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ptr(String);

impl Ptr {
    fn root() -> Self {
        Self("#".to_owned())
    }

    pub fn join(&self, token: impl fmt::Display) -> Self {
        let token = token.to_string().replace('~', "~0").replace('/', "~1");
        Self(format!("{}/{token}", self.0))
    }
}

impl fmt::Display for Ptr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One of the two documents being compared.
#[derive(Clone, Copy, Debug)]
pub struct Doc<'a> {
    root: &'a Value,
    name: &'static str,
}

impl<'a> Doc<'a> {
    /// The root of `root`, named `name` ("base" or "head") in errors.
    pub fn root(root: &'a Value, name: &'static str) -> Result<Node<'a>> {
        crate::load::check_version(root).map_err(|e| anyhow!("{name} document, {e}"))?;
        Node {
            doc: Doc { root, name },
            value: root,
            ptr: Ptr::root(),
        }
        .object()
    }
}

/// A value of a document and where it lives.
#[derive(Clone, Debug)]
pub struct Node<'a> {
    doc: Doc<'a>,
    pub value: &'a Value,
    pub ptr: Ptr,
}

impl<'a> Node<'a> {
    pub fn error(&self, what: impl fmt::Display) -> anyhow::Error {
        anyhow!("{} document, at {}: {what}", self.doc.name, self.ptr)
    }

    fn at(&self, value: &'a Value, ptr: Ptr) -> Self {
        Node {
            doc: self.doc,
            value,
            ptr,
        }
    }

    pub fn get(&self, key: &str) -> Option<Self> {
        self.value
            .get(key)
            .map(|value| self.at(value, self.ptr.join(key)))
    }

    /// Follows `$ref`s to the node they name; its pointer is the target's.
    pub fn resolve(&self) -> Result<Self> {
        let mut node = self.clone();
        let mut hops = Vec::new();
        while let Some(reference) = node.get("$ref") {
            let target = reference.str()?;
            let fragment = target.strip_prefix('#').ok_or_else(|| {
                reference.error(format!(
                    "unsupported $ref {target:?}: only local #/... references"
                ))
            })?;
            if hops.contains(&target) {
                return Err(reference.error(format!("$ref {target:?} refers to itself")));
            }
            hops.push(target);
            let value = node
                .doc
                .root
                .pointer(fragment)
                .ok_or_else(|| reference.error(format!("$ref {target:?} points at nothing")))?;
            node = node.at(value, Ptr(target.to_owned()));
        }
        Ok(node)
    }

    /// The resolved node, which must be an object.
    pub fn object(&self) -> Result<Self> {
        let node = self.resolve()?;
        node.map()?;
        Ok(node)
    }

    fn map(&self) -> Result<&'a Map<String, Value>> {
        self.value
            .as_object()
            .ok_or_else(|| self.error("expected an object"))
    }

    pub fn str(&self) -> Result<&'a str> {
        self.value
            .as_str()
            .ok_or_else(|| self.error("expected a string"))
    }

    /// The members of this object.
    pub fn entries(&self) -> Result<Vec<(&'a str, Self)>> {
        let map = self.map()?;
        Ok(map
            .iter()
            .map(|(k, v)| (k.as_str(), self.at(v, self.ptr.join(k))))
            .collect())
    }

    /// The elements of this array.
    pub fn elements(&self) -> Result<Vec<Self>> {
        let array = self
            .value
            .as_array()
            .ok_or_else(|| self.error("expected an array"))?;
        Ok(array
            .iter()
            .enumerate()
            .map(|(i, v)| self.at(v, self.ptr.join(i)))
            .collect())
    }

    /// The members of the object under `key`; none when it is absent.
    pub fn entries_of(&self, key: &str) -> Result<Vec<(&'a str, Self)>> {
        self.get(key).map_or(Ok(Vec::new()), |n| n.entries())
    }

    /// The elements of the array under `key`; none when it is absent.
    pub fn elements_of(&self, key: &str) -> Result<Vec<Self>> {
        self.get(key).map_or(Ok(Vec::new()), |n| n.elements())
    }

    pub fn str_of(&self, key: &str) -> Result<Option<&'a str>> {
        self.get(key).map(|n| n.str()).transpose()
    }

    /// A boolean under `key`; false when absent.
    pub fn flag(&self, key: &str) -> Result<bool> {
        match self.get(key) {
            None => Ok(false),
            Some(n) => n
                .value
                .as_bool()
                .ok_or_else(|| n.error("expected a boolean")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pointers_escape_slash_and_tilde() {
        let ptr = Ptr::root().join("paths").join("/v1/a~b").join(0);
        assert_eq!(ptr.to_string(), "#/paths/~1v1~1a~0b/0");
    }

    #[test]
    fn resolves_escaped_refs_and_rejects_bad_ones() -> Result<()> {
        let doc = json!({
            "openapi": "3.1.0",
            "components": {"schemas": {
                "a/b": {"type": "string"},
                "Alias": {"$ref": "#/components/schemas/a~1b"},
                "Loop": {"$ref": "#/components/schemas/Loop"},
                "Far": {"$ref": "other.json#/X"},
                "Gone": {"$ref": "#/components/schemas/Nope"},
            }},
        });
        let root = Doc::root(&doc, "head")?;
        let schemas = root.get("components").and_then(|c| c.get("schemas"));
        let schema = |name: &str| {
            schemas
                .as_ref()
                .and_then(|s| s.get(name))
                .ok_or(name.to_owned())
        };
        let alias = schema("Alias").map_err(anyhow::Error::msg)?.resolve()?;
        assert_eq!(alias.ptr.to_string(), "#/components/schemas/a~1b");
        assert_eq!(alias.value, &json!({"type": "string"}));
        for (name, error) in [
            (
                "Loop",
                "head document, at #/components/schemas/Loop/$ref: $ref \"#/components/schemas/Loop\" refers to itself",
            ),
            (
                "Far",
                "head document, at #/components/schemas/Far/$ref: unsupported $ref \"other.json#/X\": only local #/... references",
            ),
            (
                "Gone",
                "head document, at #/components/schemas/Gone/$ref: $ref \"#/components/schemas/Nope\" points at nothing",
            ),
        ] {
            let node = schema(name).map_err(anyhow::Error::msg)?;
            let got = node.resolve().map(|n| n.ptr).map_err(|e| e.to_string());
            assert_eq!(got, Err(error.to_owned()));
        }
        Ok(())
    }

    #[test]
    fn wrong_shapes_name_the_pointer() -> Result<()> {
        let doc = json!({"openapi": "3.0.3", "paths": [], "x": {"flag": "yes"}});
        let root = Doc::root(&doc, "base")?;
        let err = root
            .entries_of("paths")
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("base document, at #/paths: expected an object".to_owned())
        );
        let x = root.get("x").ok_or_else(|| anyhow!("no x"))?;
        let err = x.flag("flag").map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("base document, at #/x/flag: expected a boolean".to_owned())
        );
        let swagger = json!({"swagger": "2.0"});
        let err = Doc::root(&swagger, "base")
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("base document, at #/openapi: missing, so this is not an OpenAPI 3.0 or 3.1 document".to_owned())
        );
        Ok(())
    }
}

//! A schema normalised for comparison: `$ref`s followed, `allOf` merged, and the OpenAPI 3.0
//! and 3.1 spellings of nullability and exclusive bounds brought to one form.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde_json::Value;

use crate::compat::doc::{Node, Ptr};

pub struct Shape<'a> {
    /// The schema itself, after `$ref`s.
    pub node: Node<'a>,
    /// Non-null types; empty means any.
    pub types: BTreeSet<&'a str>,
    pub nullable: bool,
    pub properties: BTreeMap<&'a str, Node<'a>>,
    pub required: BTreeSet<&'a str>,
    pub items: Option<Node<'a>>,
    /// `additionalProperties` when it is a schema; the boolean form is not compared.
    pub additional: Option<Node<'a>>,
    /// The non-null `oneOf`/`anyOf` alternatives, when there are two or more.
    pub variants: Vec<Node<'a>>,
    /// Every other keyword (format, enum, maxLength...) where it is defined; the schema's
    /// own definition wins over its `allOf` members'.
    keywords: BTreeMap<&'a str, Node<'a>>,
}

/// The keywords that `Shape` takes apart; the others are kept as they are.
const STRUCTURAL: [&str; 10] = [
    "$ref",
    "type",
    "nullable",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "allOf",
    "oneOf",
    "anyOf",
];

impl<'a> Shape<'a> {
    pub fn of(node: &Node<'a>) -> Result<Self> {
        let mut shape = Self::build(node, &mut Vec::new())?;
        shape.normalise_exclusive_bounds();
        Ok(shape)
    }

    /// `within` holds the schemas being built around this one, to refuse a schema that
    /// contains itself through composition (through properties it may: those are compared
    /// lazily).
    fn build(node: &Node<'a>, within: &mut Vec<Ptr>) -> Result<Self> {
        let node = node.resolve()?;
        if within.contains(&node.ptr) {
            return Err(node.error("the schema contains itself through allOf/oneOf/anyOf"));
        }
        let mut shape = Shape {
            node: node.clone(),
            types: BTreeSet::new(),
            nullable: false,
            properties: BTreeMap::new(),
            required: BTreeSet::new(),
            items: None,
            additional: None,
            variants: Vec::new(),
            keywords: BTreeMap::new(),
        };
        match node.value {
            Value::Bool(true) => return Ok(shape),
            Value::Object(_) => shape.read_own()?,
            _ => return Err(node.error("expected a schema (an object or `true`)")),
        }
        within.push(node.ptr.clone());

        let members = node.elements_of("allOf")?;
        let members = members
            .iter()
            .map(|m| Self::build(m, within))
            .collect::<Result<Vec<_>>>()?;
        // A value matches allOf only if it matches every member: null too.
        shape.nullable |= !members.is_empty() && members.iter().all(|m| m.nullable);
        for member in members {
            shape.merge(member);
        }

        // 3.1 spells "nullable X" as `oneOf: [X, {type: null}]`.
        let mut alternatives = Vec::new();
        for alternative in [node.elements_of("oneOf")?, node.elements_of("anyOf")?].concat() {
            if is_null(alternative.resolve()?.value) {
                shape.nullable = true;
            } else {
                alternatives.push(alternative);
            }
        }
        if alternatives.len() == 1 {
            let only = Self::build(&alternatives[0], within)?;
            shape.nullable |= only.nullable;
            shape.merge(only);
        } else if alternatives.len() > 1 {
            shape.variants = alternatives;
        }

        within.pop();
        Ok(shape)
    }

    fn read_own(&mut self) -> Result<()> {
        let node = self.node.clone();
        if let Some(types) = node.get("type") {
            let names = match types.value {
                Value::Array(_) => types
                    .elements()?
                    .iter()
                    .map(Node::str)
                    .collect::<Result<_>>()?,
                _ => vec![types.str()?],
            };
            for name in names {
                match name {
                    "null" => self.nullable = true,
                    _ => _ = self.types.insert(name),
                }
            }
        }
        self.nullable |= node.flag("nullable")?;
        self.properties = node.entries_of("properties")?.into_iter().collect();
        for name in node.elements_of("required")? {
            self.required.insert(name.str()?);
        }
        self.items = node.get("items");
        self.additional = node
            .get("additionalProperties")
            .filter(|n| n.value.is_object());
        for (key, value) in node.entries()? {
            if !STRUCTURAL.contains(&key) {
                self.keywords.insert(key, value);
            }
        }
        Ok(())
    }

    /// Adds what `member` has and this shape lacks (nullability is the caller's business).
    fn merge(&mut self, member: Shape<'a>) {
        self.types.extend(member.types);
        for (name, schema) in member.properties {
            self.properties.entry(name).or_insert(schema);
        }
        self.required.extend(member.required);
        self.items = self.items.take().or(member.items);
        self.additional = self.additional.take().or(member.additional);
        if self.variants.is_empty() {
            self.variants = member.variants;
        }
        for (key, value) in member.keywords {
            self.keywords.entry(key).or_insert(value);
        }
    }

    /// 3.0 spells an exclusive bound `maximum: 5, exclusiveMaximum: true`, 3.1
    /// `exclusiveMaximum: 5`: keep the 3.1 form.
    fn normalise_exclusive_bounds(&mut self) {
        for (exclusive, bound) in [
            ("exclusiveMaximum", "maximum"),
            ("exclusiveMinimum", "minimum"),
        ] {
            let Some(flag) = self.keywords.get(exclusive).and_then(|n| n.value.as_bool()) else {
                continue;
            };
            self.keywords.remove(exclusive);
            if flag && let Some(value) = self.keywords.remove(bound) {
                self.keywords.insert(exclusive, value);
            }
        }
    }

    pub fn keyword(&self, key: &str) -> Option<&Node<'a>> {
        self.keywords.get(key)
    }

    /// The allowed values (`enum`, or `const` as a one-value enum) and where they are listed.
    /// Null is left out: nullability is compared on its own.
    pub fn enum_values(&self) -> Result<Option<(Ptr, Vec<&'a Value>)>> {
        let (at, values) = match (self.keyword("enum"), self.keyword("const")) {
            (Some(list), _) => (
                list,
                list.elements()?.into_iter().map(|n| n.value).collect(),
            ),
            (None, Some(value)) => (value, vec![value.value]),
            (None, None) => return Ok(None),
        };
        let values: Vec<_> = values
            .into_iter()
            .filter(|v: &&Value| !v.is_null())
            .collect();
        Ok(Some((at.ptr.clone(), values)))
    }
}

/// `{type: null}` and its spellings: the null alternative of a 3.1 nullable `oneOf`.
fn is_null(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(ts)) => matches!(ts.as_slice(), [Value::String(t)] if t == "null"),
        _ => {
            schema.get("const").is_some_and(Value::is_null)
                || schema
                    .get("enum")
                    .is_some_and(|e| e.as_array().is_some_and(|e| e == &[Value::Null]))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::compat::doc::Doc;

    /// The shape of `#/components/schemas/S` in a document holding `schemas`.
    fn shape_of(schemas: Value, check: impl FnOnce(&Shape)) -> Result<()> {
        let doc = json!({"openapi": "3.1.0", "components": {"schemas": schemas}});
        let root = Doc::root(&doc, "head")?;
        let node = root
            .get("components")
            .and_then(|c| c.get("schemas"))
            .and_then(|s| s.get("S"));
        let node = node.ok_or_else(|| anyhow::anyhow!("no schema S"))?;
        check(&Shape::of(&node)?);
        Ok(())
    }

    #[test]
    fn every_spelling_of_nullable_string_is_the_same() -> Result<()> {
        let spellings = [
            json!({"type": "string", "nullable": true}),
            json!({"type": ["string", "null"]}),
            json!({"oneOf": [{"type": "string"}, {"type": "null"}]}),
            json!({"anyOf": [{"$ref": "#/components/schemas/Str"}, {"const": null}]}),
            json!({"allOf": [{"$ref": "#/components/schemas/Str"}], "nullable": true}),
            json!({"oneOf": [{"type": ["string", "null"]}]}),
        ];
        for spelling in spellings {
            let schemas = json!({"S": spelling, "Str": {"type": "string"}});
            shape_of(schemas, |s| {
                assert!(s.nullable, "{spelling}");
                assert_eq!(s.types, BTreeSet::from(["string"]), "{spelling}");
                assert!(s.variants.is_empty(), "{spelling}");
            })?;
        }
        shape_of(json!({"S": {"type": "string"}}), |s| assert!(!s.nullable))
    }

    #[test]
    fn all_of_merges_properties_and_required() -> Result<()> {
        let schemas = json!({
            "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
            "S": {"allOf": [
                {"$ref": "#/components/schemas/Base"},
                {"required": ["secret"], "properties": {"secret": {"type": "string"}}},
            ], "description": "own"},
        });
        shape_of(schemas, |s| {
            assert_eq!(s.types, BTreeSet::from(["object"]));
            assert_eq!(
                s.properties.keys().copied().collect::<Vec<_>>(),
                ["id", "secret"]
            );
            assert_eq!(s.required, BTreeSet::from(["id", "secret"]));
            assert_eq!(
                s.properties["id"].ptr.to_string(),
                "#/components/schemas/Base/properties/id"
            );
            assert!(!s.nullable);
        })
    }

    #[test]
    fn exclusive_bounds_read_the_same_in_3_0_and_3_1() -> Result<()> {
        for (spelling, pointer) in [
            (
                json!({"type": "integer", "maximum": 5, "exclusiveMaximum": true}),
                "maximum",
            ),
            (
                json!({"type": "integer", "exclusiveMaximum": 5}),
                "exclusiveMaximum",
            ),
        ] {
            shape_of(json!({"S": spelling}), |s| {
                assert_eq!(s.keyword("maximum").map(|n| n.value), None);
                let bound = s.keyword("exclusiveMaximum");
                assert_eq!(bound.map(|n| n.value), Some(&json!(5)));
                let at = bound.map(|n| n.ptr.to_string());
                assert_eq!(at, Some(format!("#/components/schemas/S/{pointer}")));
            })?;
        }
        Ok(())
    }

    #[test]
    fn several_alternatives_stay_variants() -> Result<()> {
        let schemas =
            json!({"S": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}});
        shape_of(schemas, |s| {
            assert!(s.nullable);
            assert_eq!(s.variants.len(), 2);
            assert!(s.types.is_empty());
        })
    }

    #[test]
    fn a_schema_containing_itself_is_an_error() {
        let schemas = json!({"S": {"allOf": [{"$ref": "#/components/schemas/S"}]}});
        let err = shape_of(schemas, |_| {}).map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("head document, at #/components/schemas/S: the schema contains itself through allOf/oneOf/anyOf".to_owned())
        );
    }
}

//! The intermediate representation every backend reads: resources (by tag) with their
//! operations, and the models they exchange. Built once from the normalised (3.0) document;
//! no backend looks at OpenAPI itself.

use anyhow::{Context, anyhow, bail};
use openapiv3::{
    APIKeyLocation, AdditionalProperties, Components, OpenAPI, Parameter, ParameterSchemaOrContent,
    ReferenceOr, RequestBody, Response, Schema, SchemaKind, SecurityScheme, StatusCode, Type,
    VariantOrUnknownOrEmpty,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize)]
pub struct Api {
    pub title: String,
    pub version: String,
    pub description: String,
    pub base_url: String,
    pub resources: Vec<Resource>,
    pub models: Vec<Model>,
    pub auth_schemes: Vec<AuthScheme>,
}

/// A way to authenticate, from `components.securitySchemes`.
#[derive(Debug, Serialize)]
pub struct AuthScheme {
    pub name: String,
    /// `bearer`, `header`, `query` or `cookie`.
    pub kind: String,
    /// The header, query parameter or cookie name (`Authorization` for bearer).
    pub parameter: String,
    pub description: String,
}

/// The operations of one tag, e.g. `api_keys`.
#[derive(Debug, Serialize)]
pub struct Resource {
    pub name: String,
    pub description: String,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Serialize)]
pub struct Operation {
    /// The operationId, `resource_verb`.
    pub id: String,
    /// The method name within its resource: the operationId without the resource prefix.
    pub name: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub path_params: Vec<Param>,
    pub query_params: Vec<Param>,
    pub body: Option<TypeRef>,
    pub body_required: bool,
    /// The success body, None when the success response has none (204).
    pub response: Option<TypeRef>,
    pub success_status: u16,
    pub errors: Vec<ErrorStatus>,
    /// Set when the operation lists with `starting_after` and answers `{data, has_more, next_cursor}`.
    pub pagination: Option<Pagination>,
    /// POSTs carry an Idempotency-Key, so retrying them is safe.
    pub idempotent: bool,
    /// Security scheme names that can authorise the call; empty when none is needed.
    pub auth: Vec<String>,
    pub deprecated: bool,
}

#[derive(Debug, Serialize)]
pub struct Param {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: TypeRef,
    pub required: bool,
    pub description: String,
    /// The schema's `example`, when it has one inline.
    pub example: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct ErrorStatus {
    pub status: u16,
    pub description: String,
}

#[derive(Debug, Serialize)]
pub struct Pagination {
    pub item: TypeRef,
}

/// A type as used by a field, parameter or body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TypeRef {
    String {
        format: Option<String>,
    },
    Integer {
        format: Option<String>,
    },
    Number {
        format: Option<String>,
    },
    Boolean,
    Array {
        items: Box<TypeRef>,
    },
    Map {
        values: Box<TypeRef>,
    },
    /// A named model.
    Ref {
        name: String,
    },
    /// A string with a fixed set of values, inline.
    Enum {
        values: Vec<String>,
    },
    Nullable {
        inner: Box<TypeRef>,
    },
    Any,
}

#[derive(Debug, Serialize)]
pub struct Model {
    pub name: String,
    pub description: String,
    pub example: Option<serde_json::Value>,
    #[serde(flatten)]
    pub kind: ModelKind,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelKind {
    Object {
        fields: Vec<Field>,
    },
    Enum {
        values: Vec<String>,
    },
    Alias {
        target: TypeRef,
    },
    Union {
        variants: Vec<TypeRef>,
        discriminator: Option<String>,
    },
}

#[derive(Debug, Serialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: TypeRef,
    pub required: bool,
    pub description: String,
    pub example: Option<serde_json::Value>,
}

/// Model names are the component names made identifier-safe (`Page_ApiKey` → `PageApiKey`).
pub fn model_name(component: &str) -> String {
    component
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn ref_name(reference: &str, pointer: &str) -> anyhow::Result<String> {
    reference
        .strip_prefix("#/components/schemas/")
        .map(model_name)
        .ok_or_else(|| {
            anyhow!("{pointer}: unsupported $ref {reference:?} (only #/components/schemas/…)")
        })
}

struct Builder<'a> {
    doc: &'a OpenAPI,
    models: Vec<Model>,
}

/// Builds the IR from a normalised (OpenAPI 3.0) document.
pub fn build(doc: &OpenAPI) -> anyhow::Result<Api> {
    let mut b = Builder {
        doc,
        models: Vec::new(),
    };
    if let Some(components) = &doc.components {
        for (name, schema) in &components.schemas {
            let pointer = format!("#/components/schemas/{name}");
            let schema = match schema {
                ReferenceOr::Item(s) => s,
                ReferenceOr::Reference { reference } => {
                    let target = ref_name(reference, &pointer)?;
                    b.push(
                        model_name(name),
                        String::new(),
                        None,
                        ModelKind::Alias {
                            target: TypeRef::Ref { name: target },
                        },
                    );
                    continue;
                }
            };
            b.model(model_name(name), schema, &pointer)?;
        }
    }
    let mut resources: Vec<Resource> = doc
        .tags
        .iter()
        .map(|t| Resource {
            name: t.name.clone(),
            description: t.description.clone().unwrap_or_default(),
            operations: Vec::new(),
        })
        .collect();
    // `x-sdk-exclude`: operations third parties call (Stripe's webhooks), not integrators.
    let in_sdks = |op: &openapiv3::Operation| {
        op.extensions.get("x-sdk-exclude") != Some(&serde_json::Value::Bool(true))
    };
    for (path, method, op) in doc.operations().filter(|(_, _, op)| in_sdks(op)) {
        let pointer = format!(
            "#/paths/{}/{method}",
            path.replace('~', "~0").replace('/', "~1")
        );
        let tag = op
            .tags
            .first()
            .with_context(|| format!("{pointer}: an operation needs a tag (its resource)"))?;
        let operation = b.operation(path, method, op, tag, &pointer)?;
        match resources.iter_mut().find(|r| &r.name == tag) {
            Some(r) => r.operations.push(operation),
            None => resources.push(Resource {
                name: tag.clone(),
                description: String::new(),
                operations: vec![operation],
            }),
        }
    }
    resources.retain(|r| !r.operations.is_empty());
    let auth_schemes = doc
        .components
        .iter()
        .flat_map(|c| &c.security_schemes)
        .map(|(name, scheme)| auth_scheme(name, scheme))
        .collect::<anyhow::Result<_>>()?;
    let base_url = doc
        .servers
        .first()
        .map(|s| s.url.clone())
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    Ok(Api {
        title: doc.info.title.clone(),
        version: doc.info.version.clone(),
        description: doc.info.description.clone().unwrap_or_default(),
        base_url,
        resources,
        models: b.models,
        auth_schemes,
    })
}

fn auth_scheme(name: &str, scheme: &ReferenceOr<SecurityScheme>) -> anyhow::Result<AuthScheme> {
    let pointer = format!("#/components/securitySchemes/{name}");
    let ReferenceOr::Item(scheme) = scheme else {
        bail!("{pointer}: $refs are not supported")
    };
    let (kind, parameter, description) = match scheme {
        SecurityScheme::HTTP {
            scheme,
            description,
            ..
        } if scheme.eq_ignore_ascii_case("bearer") => {
            ("bearer", "Authorization".to_owned(), description)
        }
        SecurityScheme::APIKey {
            location,
            name,
            description,
            ..
        } => {
            let kind = match location {
                APIKeyLocation::Header => "header",
                APIKeyLocation::Query => "query",
                APIKeyLocation::Cookie => "cookie",
            };
            (kind, name.clone(), description)
        }
        _ => bail!("{pointer}: only bearer and API key schemes are supported"),
    };
    Ok(AuthScheme {
        name: name.to_owned(),
        kind: kind.to_owned(),
        parameter,
        description: description.clone().unwrap_or_default(),
    })
}

/// `date-time`, `int64`, `uuid`…: the format as the spec spells it.
fn format<T: std::fmt::Debug>(f: &VariantOrUnknownOrEmpty<T>) -> Option<String> {
    match f {
        VariantOrUnknownOrEmpty::Item(v) => Some(
            format!("{v:?}")
                .to_ascii_lowercase()
                .replace("datetime", "date-time"),
        ),
        VariantOrUnknownOrEmpty::Unknown(s) => Some(s.clone()),
        VariantOrUnknownOrEmpty::Empty => None,
    }
}

impl<'a> Builder<'a> {
    fn push(
        &mut self,
        name: String,
        description: String,
        example: Option<serde_json::Value>,
        kind: ModelKind,
    ) {
        self.models.push(Model {
            name,
            description,
            example,
            kind,
        });
    }

    /// Registers a named model for `schema`.
    fn model(&mut self, name: String, schema: &Schema, pointer: &str) -> anyhow::Result<()> {
        let description = schema.schema_data.description.clone().unwrap_or_default();
        let kind = match &schema.schema_kind {
            SchemaKind::Type(Type::Object(_)) | SchemaKind::AllOf { .. } => ModelKind::Object {
                fields: self.fields(&name, schema, pointer)?,
            },
            SchemaKind::Type(Type::String(s)) if !s.enumeration.is_empty() => ModelKind::Enum {
                values: s.enumeration.iter().flatten().cloned().collect(),
            },
            SchemaKind::OneOf { one_of } | SchemaKind::AnyOf { any_of: one_of } => {
                let variants = one_of
                    .iter()
                    .enumerate()
                    .map(|(i, s)| self.type_ref(&name, s, &format!("{pointer}/oneOf/{i}")))
                    .collect::<anyhow::Result<_>>()?;
                let discriminator = schema
                    .schema_data
                    .discriminator
                    .as_ref()
                    .map(|d| d.property_name.clone());
                ModelKind::Union {
                    variants,
                    discriminator,
                }
            }
            _ => ModelKind::Alias {
                target: self.inline_type(&name, schema, pointer)?,
            },
        };
        self.push(name, description, schema.schema_data.example.clone(), kind);
        Ok(())
    }

    /// Object fields, with `allOf` members merged (serde's `flatten` produces those).
    fn fields(
        &mut self,
        owner: &str,
        schema: &Schema,
        pointer: &str,
    ) -> anyhow::Result<Vec<Field>> {
        match &schema.schema_kind {
            SchemaKind::Type(Type::Object(o)) => {
                let mut fields = Vec::new();
                for (name, prop) in &o.properties {
                    let p = format!("{pointer}/properties/{name}");
                    let hoisted = format!("{owner}{}", model_name(name));
                    let ty = match prop {
                        ReferenceOr::Reference { reference } => TypeRef::Ref {
                            name: ref_name(reference, &p)?,
                        },
                        ReferenceOr::Item(s) => self.inline_type(&hoisted, s, &p)?,
                    };
                    let (description, example) = match prop {
                        ReferenceOr::Item(s) => (
                            s.schema_data.description.clone().unwrap_or_default(),
                            s.schema_data.example.clone(),
                        ),
                        ReferenceOr::Reference { .. } => (String::new(), None),
                    };
                    fields.push(Field {
                        required: o.required.contains(name),
                        name: name.clone(),
                        ty,
                        description,
                        example,
                    });
                }
                Ok(fields)
            }
            SchemaKind::AllOf { all_of } => {
                let mut fields = Vec::new();
                for (i, member) in all_of.iter().enumerate() {
                    let p = format!("{pointer}/allOf/{i}");
                    let member = self.resolve(member, &p)?;
                    fields.extend(self.fields(owner, member, &p)?);
                }
                Ok(fields)
            }
            _ => bail!("{pointer}: expected an object schema"),
        }
    }

    fn resolve<'s>(
        &self,
        schema: &'s ReferenceOr<Schema>,
        pointer: &str,
    ) -> anyhow::Result<&'s Schema>
    where
        'a: 's,
    {
        self.local(schema, "schemas", |c, name| c.schemas.get(name), pointer)
    }

    fn response<'s>(
        &self,
        response: &'s ReferenceOr<Response>,
        pointer: &str,
    ) -> anyhow::Result<&'s Response>
    where
        'a: 's,
    {
        self.local(
            response,
            "responses",
            |c, name| c.responses.get(name),
            pointer,
        )
    }

    /// The item itself, or the one its `$ref` names in `#/components/<section>/`.
    fn local<'s, T: 'a>(
        &self,
        item: &'s ReferenceOr<T>,
        section: &str,
        lookup: impl Fn(&'a Components, &str) -> Option<&'a ReferenceOr<T>>,
        pointer: &str,
    ) -> anyhow::Result<&'s T>
    where
        'a: 's,
    {
        let reference = match item {
            ReferenceOr::Item(x) => return Ok(x),
            ReferenceOr::Reference { reference } => reference,
        };
        let name = reference
            .strip_prefix(&format!("#/components/{section}/"))
            .with_context(|| format!("{pointer}: unsupported $ref {reference:?}"))?;
        match self.doc.components.as_ref().and_then(|c| lookup(c, name)) {
            Some(ReferenceOr::Item(x)) => Ok(x),
            _ => bail!(
                "{pointer}: $ref {reference:?} does not resolve to one of #/components/{section}"
            ),
        }
    }

    fn type_ref(
        &mut self,
        owner: &str,
        schema: &ReferenceOr<Schema>,
        pointer: &str,
    ) -> anyhow::Result<TypeRef> {
        match schema {
            ReferenceOr::Reference { reference } => Ok(TypeRef::Ref {
                name: ref_name(reference, pointer)?,
            }),
            ReferenceOr::Item(s) => self.inline_type(owner, s, pointer),
        }
    }

    fn boxed_type_ref(
        &mut self,
        owner: &str,
        schema: &ReferenceOr<Box<Schema>>,
        pointer: &str,
    ) -> anyhow::Result<TypeRef> {
        match schema {
            ReferenceOr::Reference { reference } => Ok(TypeRef::Ref {
                name: ref_name(reference, pointer)?,
            }),
            ReferenceOr::Item(s) => self.inline_type(owner, s, pointer),
        }
    }

    /// The type of an inline schema; inline objects become models named `owner`.
    fn inline_type(
        &mut self,
        owner: &str,
        schema: &Schema,
        pointer: &str,
    ) -> anyhow::Result<TypeRef> {
        let ty = match &schema.schema_kind {
            SchemaKind::Type(Type::String(s)) if !s.enumeration.is_empty() => TypeRef::Enum {
                values: s.enumeration.iter().flatten().cloned().collect(),
            },
            SchemaKind::Type(Type::String(s)) => TypeRef::String {
                format: format(&s.format),
            },
            SchemaKind::Type(Type::Integer(i)) => TypeRef::Integer {
                format: format(&i.format),
            },
            SchemaKind::Type(Type::Number(n)) => TypeRef::Number {
                format: format(&n.format),
            },
            SchemaKind::Type(Type::Boolean(_)) => TypeRef::Boolean,
            SchemaKind::Type(Type::Array(a)) => {
                let items = match &a.items {
                    Some(items) => {
                        self.boxed_type_ref(owner, items, &format!("{pointer}/items"))?
                    }
                    None => TypeRef::Any,
                };
                TypeRef::Array {
                    items: Box::new(items),
                }
            }
            SchemaKind::Type(Type::Object(o)) if o.properties.is_empty() => {
                match &o.additional_properties {
                    Some(AdditionalProperties::Schema(s)) => {
                        let values =
                            self.type_ref(owner, s, &format!("{pointer}/additionalProperties"))?;
                        TypeRef::Map {
                            values: Box::new(values),
                        }
                    }
                    _ => TypeRef::Map {
                        values: Box::new(TypeRef::Any),
                    },
                }
            }
            SchemaKind::Type(Type::Object(_))
            | SchemaKind::OneOf { .. }
            | SchemaKind::AnyOf { .. } => {
                self.model(owner.to_owned(), schema, pointer)?;
                TypeRef::Ref {
                    name: owner.to_owned(),
                }
            }
            SchemaKind::AllOf { all_of } if all_of.len() == 1 => {
                self.type_ref(owner, &all_of[0], &format!("{pointer}/allOf/0"))?
            }
            SchemaKind::AllOf { .. } => {
                self.model(owner.to_owned(), schema, pointer)?;
                TypeRef::Ref {
                    name: owner.to_owned(),
                }
            }
            SchemaKind::Any(_) => TypeRef::Any,
            SchemaKind::Not { .. } => bail!("{pointer}: `not` schemas are not supported"),
        };
        Ok(if schema.schema_data.nullable {
            TypeRef::Nullable {
                inner: Box::new(ty),
            }
        } else {
            ty
        })
    }

    fn operation(
        &mut self,
        path: &str,
        method: &str,
        op: &openapiv3::Operation,
        tag: &str,
        pointer: &str,
    ) -> anyhow::Result<Operation> {
        let id = op
            .operation_id
            .clone()
            .with_context(|| format!("{pointer}: an operation needs an operationId"))?;
        let owner = model_name(&id);
        let name = id
            .strip_prefix(&format!("{tag}_"))
            .unwrap_or(&id)
            .to_owned();
        let (mut path_params, mut query_params) = (Vec::new(), Vec::new());
        for (i, p) in op.parameters.iter().enumerate() {
            let pp = format!("{pointer}/parameters/{i}");
            let ReferenceOr::Item(p) = p else {
                bail!("{pp}: parameter $refs are not supported")
            };
            let (data, into) = match p {
                Parameter::Path { parameter_data, .. } => (parameter_data, &mut path_params),
                Parameter::Query { parameter_data, .. } => (parameter_data, &mut query_params),
                Parameter::Header { .. } | Parameter::Cookie { .. } => {
                    bail!("{pp}: header and cookie parameters are not supported")
                }
            };
            let ParameterSchemaOrContent::Schema(schema) = &data.format else {
                bail!("{pp}: parameters need a schema")
            };
            let ty = self.type_ref(
                &format!("{owner}{}", model_name(&data.name)),
                schema,
                &format!("{pp}/schema"),
            )?;
            let example = match schema {
                ReferenceOr::Item(s) => s.schema_data.example.clone(),
                ReferenceOr::Reference { .. } => None,
            };
            into.push(Param {
                name: data.name.clone(),
                ty,
                required: data.required,
                description: data.description.clone().unwrap_or_default(),
                example: data.example.clone().or(example),
            });
        }
        let (body, body_required) = match &op.request_body {
            None => (None, false),
            Some(ReferenceOr::Reference { .. }) => {
                bail!("{pointer}/requestBody: $refs are not supported")
            }
            Some(ReferenceOr::Item(RequestBody {
                content, required, ..
            })) => {
                let media = content.get("application/json").with_context(|| {
                    format!("{pointer}/requestBody: only application/json bodies are supported")
                })?;
                let schema = media
                    .schema
                    .as_ref()
                    .with_context(|| format!("{pointer}/requestBody: no schema"))?;
                (
                    Some(self.type_ref(
                        &format!("{owner}Body"),
                        schema,
                        &format!("{pointer}/requestBody"),
                    )?),
                    *required,
                )
            }
        };
        let mut success = None;
        let mut errors = Vec::new();
        for (status, response) in &op.responses.responses {
            let StatusCode::Code(code) = status else {
                continue;
            };
            let rp = format!("{pointer}/responses/{code}");
            let response = self.response(response, &rp)?;
            if (200..300).contains(code) {
                if success.is_none() {
                    let ty = match response
                        .content
                        .get("application/json")
                        .and_then(|m| m.schema.as_ref())
                    {
                        Some(schema) => {
                            Some(self.type_ref(&format!("{owner}Response"), schema, &rp)?)
                        }
                        None => None,
                    };
                    success = Some((*code, ty));
                }
            } else {
                errors.push(ErrorStatus {
                    status: *code,
                    description: response.description.clone(),
                });
            }
        }
        let (success_status, response) =
            success.with_context(|| format!("{pointer}/responses: no success response"))?;
        let pagination = self.pagination(&query_params, response.as_ref());
        let auth = op
            .security
            .as_ref()
            .or(self.doc.security.as_ref())
            .map(|reqs| reqs.iter().flat_map(|r| r.keys().cloned()).collect())
            .unwrap_or_default();
        Ok(Operation {
            id,
            name,
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            summary: op.summary.clone().unwrap_or_default(),
            description: op.description.clone().unwrap_or_default(),
            path_params,
            query_params,
            body,
            body_required,
            response,
            success_status,
            errors,
            pagination,
            idempotent: method.eq_ignore_ascii_case("post"),
            auth,
            deprecated: op.deprecated,
        })
    }

    /// A list operation: `starting_after` in, `{data: [T], has_more, next_cursor}` out.
    fn pagination(&self, query: &[Param], response: Option<&TypeRef>) -> Option<Pagination> {
        if !query.iter().any(|p| p.name == "starting_after") {
            return None;
        }
        let Some(TypeRef::Ref { name }) = response else {
            return None;
        };
        let model = self.models.iter().find(|m| &m.name == name)?;
        let ModelKind::Object { fields } = &model.kind else {
            return None;
        };
        let has = |n: &str| fields.iter().any(|f| f.name == n);
        let data = fields.iter().find(|f| f.name == "data")?;
        let TypeRef::Array { items } = &data.ty else {
            return None;
        };
        (has("has_more") && has("next_cursor")).then(|| Pagination {
            item: (**items).clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_identifiers() {
        assert_eq!(model_name("Page_ApiKey"), "PageApiKey");
        assert_eq!(model_name("api_keys_list"), "ApiKeysList");
    }
}

#[cfg(test)]
mod diagnostics {
    use super::*;

    fn build_json(doc: serde_json::Value) -> anyhow::Result<Api> {
        let doc: OpenAPI = serde_json::from_value(doc)?;
        build(&doc)
    }

    #[test]
    fn unsupported_constructs_name_their_pointer() {
        let op = |extra: serde_json::Value| {
            let mut op = serde_json::json!({"operationId": "things_list", "tags": ["things"],
                "responses": {"200": {"description": "ok"}}});
            op.as_object_mut()
                .expect("object")
                .extend(extra.as_object().expect("object").clone());
            serde_json::json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "paths": {"/things": {"get": op}}})
        };
        let header = op(
            serde_json::json!({"parameters": [{"name": "X", "in": "header", "schema": {"type": "string"}}]}),
        );
        let err = build_json(header).expect_err("refused").to_string();
        assert!(err.contains("#/paths/~1things/get/parameters/0"), "{err}");
        let no_id = serde_json::json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/things": {"get": {"tags": ["things"], "responses": {"200": {"description": "ok"}}}}}});
        assert!(
            build_json(no_id)
                .expect_err("refused")
                .to_string()
                .contains("operationId")
        );
        let not = op(
            serde_json::json!({"responses": {"200": {"description": "ok",
            "content": {"application/json": {"schema": {"not": {"type": "string"}}}}}}}),
        );
        assert!(
            build_json(not)
                .expect_err("refused")
                .to_string()
                .contains("#/paths/~1things/get/responses/200")
        );
    }
}

#[cfg(test)]
mod spec_tests {
    use super::*;

    /// The IR of our own spec: every operation found, lists recognised as paginated.
    #[test]
    fn builds_from_the_neoforge_spec() {
        let raw: serde_json::Value =
            serde_json::from_str(include_str!("../../openapi/v1.json")).expect("json");
        let doc: OpenAPI =
            serde_json::from_value(crate::normalize::to_openapi_30(&raw).expect("normalise"))
                .expect("3.0");
        let api = build(&doc).expect("ir");
        let ops: Vec<&Operation> = api.resources.iter().flat_map(|r| &r.operations).collect();
        let spec_ops: Vec<&serde_json::Value> = raw["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|p| p.as_object().into_iter().flat_map(|m| m.values()))
            .collect();
        let excluded = spec_ops
            .iter()
            .filter(|o| o["x-sdk-exclude"] == serde_json::Value::Bool(true))
            .count();
        // Pages and browser flows (the invoice page, single sign-on) are not SDK methods.
        for page in ["invoices_html", "sso_authorize"] {
            assert!(ops.iter().all(|o| o.id != page), "{page} is excluded");
        }
        assert_eq!(ops.len(), spec_ops.len() - excluded);
        let list = ops
            .iter()
            .find(|o| o.id == "api_keys_list")
            .expect("api_keys_list");
        assert_eq!(list.name, "list");
        assert_eq!(
            list.pagination.as_ref().map(|p| &p.item),
            Some(&TypeRef::Ref {
                name: "ApiKey".into()
            })
        );
        let create = ops
            .iter()
            .find(|o| o.id == "api_keys_create")
            .expect("create");
        assert!(create.idempotent && create.pagination.is_none());
        assert_eq!(create.success_status, 201);
        assert!(create.errors.iter().any(|e| e.status == 401));
        let key = api
            .models
            .iter()
            .find(|m| m.name == "ApiKey")
            .expect("ApiKey");
        let ModelKind::Object { fields } = &key.kind else {
            panic!("object")
        };
        let expires = fields
            .iter()
            .find(|f| f.name == "expires_at")
            .expect("field");
        assert_eq!(
            expires.ty,
            TypeRef::Nullable {
                inner: Box::new(TypeRef::String {
                    format: Some("date-time".into())
                })
            }
        );
        let with_secret = api
            .models
            .iter()
            .find(|m| m.name == "ApiKeyWithSecret")
            .expect("model");
        let ModelKind::Object { fields } = &with_secret.kind else {
            panic!("object")
        };
        assert!(
            fields.iter().any(|f| f.name == "secret") && fields.iter().any(|f| f.name == "prefix"),
            "flattened fields merged"
        );
    }
}

//! The Python SDK (sdks/python): typed models, sync and async clients with one class per
//! resource, and a small runtime (HTTP with retries, errors, pagination, webhooks) kept in
//! templates of its own. Python spellings (annotations, JSON conversions, signatures) are
//! worked out here so that the templates only lay them out.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, bail};
use serde::Serialize;

use super::{File, environment, example, pascal, render, snake};
use crate::ir::{Api, Field, Model, ModelKind, Operation, Resource, TypeRef};

/// A template, named by the path it renders to under `sdks/python/`.
macro_rules! template {
    ($path:literal) => {
        (
            $path,
            include_str!(concat!("../../templates/python/", $path, ".j2")),
        )
    };
}

/// Templates rendered once each.
const FILES: &[(&str, &str)] = &[
    template!("pyproject.toml"),
    template!("README.md"),
    template!("neoforge/__init__.py"),
    template!("neoforge/py.typed"),
    template!("neoforge/_client.py"),
    template!("neoforge/_errors.py"),
    template!("neoforge/_http.py"),
    template!("neoforge/_pagination.py"),
    template!("neoforge/_response.py"),
    template!("neoforge/_retries.py"),
    template!("neoforge/models.py"),
    template!("neoforge/resources/__init__.py"),
    template!("neoforge/webhooks.py"),
];

/// Rendered once per resource, as `neoforge/resources/<resource>.py`.
const RESOURCE: (&str, &str) = template!("neoforge/resources/resource.py");

/// Names a generated method uses besides its operation's parameters: its call options and
/// its local variable.
const RESERVED: &[&str] = &[
    "self",
    "response",
    "idempotency_key",
    "timeout",
    "max_retries",
    "extra_headers",
];

pub fn generate(api: &Api) -> anyhow::Result<Vec<File>> {
    let sdk = Sdk::new(api)?;
    let templates: Vec<_> = FILES.iter().copied().chain([RESOURCE]).collect();
    let mut env = environment(&templates)?;
    env.add_filter("docstring", docstring);
    let mut files = Vec::new();
    for (name, _) in FILES {
        let contents =
            render(&env, name, &sdk).with_context(|| format!("rendering python/{name}"))?;
        files.push(File {
            path: format!("python/{name}"),
            contents,
        });
    }
    for resource in &sdk.resources {
        let contents = render(&env, RESOURCE.0, ResourceContext { resource })
            .with_context(|| format!("rendering the python resource {}", resource.module))?;
        files.push(File {
            path: format!("python/neoforge/resources/{}.py", resource.module),
            contents,
        });
    }
    Ok(files)
}

/// Everything the templates see.
#[derive(Serialize)]
struct Sdk {
    title: String,
    description: String,
    base_url: String,
    /// In an order Python can execute: an alias follows the models it names.
    models: Vec<PyModel>,
    /// `typing` names models.py uses.
    model_typing: BTreeSet<&'static str>,
    resources: Vec<PyResource>,
}

#[derive(Serialize)]
struct ResourceContext<'a> {
    resource: &'a PyResource,
}

#[derive(Serialize)]
struct PyModel {
    name: String,
    description: String,
    /// The right-hand side of an alias (enums are `Literal[...]` aliases); None for classes.
    alias: Option<String>,
    /// Required fields first: dataclass fields with defaults must come last.
    fields: Vec<PyField>,
    /// Request bodies, and the models inside them, also get `to_dict`.
    to_dict: bool,
}

#[derive(Serialize)]
struct PyField {
    name: String,
    /// The JSON property.
    key: String,
    annotation: String,
    required: bool,
    description: String,
    /// From `data` (the JSON object) to the attribute value.
    decode: String,
    /// From the attribute value to JSON; for optional fields, once known not to be None.
    encode: String,
}

#[derive(Serialize)]
struct PyResource {
    /// The client attribute and module name, `api_keys`.
    module: String,
    /// `ApiKeysResource` (and `AsyncApiKeysResource`); the suffix keeps it apart from models.
    class: String,
    description: String,
    operations: Vec<PyOperation>,
    /// Models the module imports.
    models: BTreeSet<String>,
    /// `typing` names the module imports.
    typing: BTreeSet<&'static str>,
    paginated: bool,
}

#[derive(Serialize)]
struct PyOperation {
    name: String,
    summary: String,
    description: String,
    method: String,
    http_path: String,
    /// The path as a Python expression, path parameters escaped into it.
    path: String,
    /// Positional parameters.
    path_params: Vec<PyParam>,
    /// Keyword parameters: the query parameters, then (in `body`) the body fields.
    query: Vec<PyParam>,
    body: Option<PyBody>,
    /// The query parameters as a dict expression.
    params: Option<String>,
    /// The body as an expression: its model built from the keyword arguments, `to_dict()`ed.
    json: Option<String>,
    idempotent: bool,
    /// The return annotation.
    returns: String,
    /// The result from `data` (the JSON body); None when the answer has no body.
    decode: Option<String>,
    /// The item annotation of a cursor-paginated list.
    page_item: Option<String>,
    deprecated: bool,
    /// The call as the README shows it, e.g. `get(id)`.
    signature: String,
}

#[derive(Serialize)]
struct PyParam {
    name: String,
    /// The JSON name, as a Python string literal.
    #[serde(skip)]
    key: String,
    annotation: String,
    /// Not required: defaults to None (and is then left out of the request).
    optional: bool,
}

#[derive(Serialize)]
struct PyBody {
    model: String,
    fields: Vec<PyParam>,
}

impl Sdk {
    fn new(api: &Api) -> anyhow::Result<Self> {
        let types = Types {
            models: api.models.iter().map(|m| (m.name.as_str(), m)).collect(),
        };
        let mut bodies = BTreeSet::new();
        for op in api.resources.iter().flat_map(|r| &r.operations) {
            if let Some(body) = &op.body {
                types.reach(body, &mut bodies);
            }
        }
        // `from_dict(cls, data: Mapping[str, Any])`; models.py defines every model it names.
        let mut used = Used {
            typing: BTreeSet::from(["Any", "Mapping"]),
            ..Used::default()
        };
        let models: Vec<PyModel> = types
            .execution_order(&api.models)
            .into_iter()
            .map(|m| types.model(m, bodies.contains(&m.name), &mut used))
            .collect::<anyhow::Result<_>>()?;
        if models.iter().any(|m| m.to_dict) {
            used.typing("Dict");
        }
        let resources: Vec<PyResource> = api
            .resources
            .iter()
            .map(|r| types.resource(r))
            .collect::<anyhow::Result<_>>()?;
        if let Some(r) = resources
            .iter()
            .find(|r| types.models.contains_key(r.class.as_str()))
        {
            bail!(
                "the python resource class {} would shadow the model of that name",
                r.class
            );
        }
        Ok(Sdk {
            title: api.title.clone(),
            description: api.description.clone(),
            base_url: api.base_url.clone(),
            models,
            model_typing: used.typing,
            resources,
        })
    }
}

/// Names a piece of generated code refers to, so that its module imports exactly those.
#[derive(Default)]
struct Used {
    typing: BTreeSet<&'static str>,
    models: BTreeSet<String>,
}

impl Used {
    fn typing(&mut self, name: &'static str) -> &'static str {
        self.typing.insert(name);
        name
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    FromJson,
    ToJson,
}

/// Python spellings of IR types, resolved against the models.
struct Types<'a> {
    models: HashMap<&'a str, &'a Model>,
}

impl<'a> Types<'a> {
    fn get(&self, name: &str) -> anyhow::Result<&'a Model> {
        self.models
            .get(name)
            .copied()
            .with_context(|| format!("unknown model {name}"))
    }

    /// Models with aliases placed after what they name: an alias's right-hand side runs at
    /// import, while class annotations are lazy (`from __future__ import annotations`).
    fn execution_order(&self, models: &'a [Model]) -> Vec<&'a Model> {
        fn visit<'a>(
            types: &Types<'a>,
            model: &'a Model,
            seen: &mut BTreeSet<&'a str>,
            out: &mut Vec<&'a Model>,
        ) {
            if !seen.insert(&model.name) {
                return;
            }
            if let ModelKind::Alias { target } = &model.kind {
                let mut named = BTreeSet::new();
                refs(target, &mut named);
                for dep in named.iter().filter_map(|n| types.models.get(n.as_str())) {
                    visit(types, dep, seen, out);
                }
            }
            out.push(model);
        }
        let (mut seen, mut out) = (BTreeSet::new(), Vec::new());
        for model in models {
            visit(self, model, &mut seen, &mut out);
        }
        out
    }

    /// Adds the models `ty` reaches (through fields and aliases) to `out`.
    fn reach(&self, ty: &TypeRef, out: &mut BTreeSet<String>) {
        match ty {
            TypeRef::Ref { name } if out.insert(name.clone()) => {
                match self.models.get(name.as_str()).map(|m| &m.kind) {
                    Some(ModelKind::Object { fields }) => {
                        fields.iter().for_each(|f| self.reach(&f.ty, out))
                    }
                    Some(ModelKind::Alias { target }) => self.reach(target, out),
                    Some(ModelKind::Union { variants, .. }) => {
                        variants.iter().for_each(|v| self.reach(v, out))
                    }
                    Some(ModelKind::Enum { .. }) | None => {}
                }
            }
            TypeRef::Array { items: inner }
            | TypeRef::Map { values: inner }
            | TypeRef::Nullable { inner } => self.reach(inner, out),
            _ => {}
        }
    }

    fn annotation(&self, ty: &TypeRef, used: &mut Used) -> String {
        match ty {
            TypeRef::String { .. } => "str".into(),
            TypeRef::Integer { .. } => "int".into(),
            TypeRef::Number { .. } => "float".into(),
            TypeRef::Boolean => "bool".into(),
            TypeRef::Any => used.typing("Any").into(),
            TypeRef::Array { items } => {
                format!("{}[{}]", used.typing("List"), self.annotation(items, used))
            }
            TypeRef::Map { values } => format!(
                "{}[str, {}]",
                used.typing("Dict"),
                self.annotation(values, used)
            ),
            TypeRef::Ref { name } => {
                used.models.insert(name.clone());
                name.clone()
            }
            TypeRef::Enum { values } => literal(values, used),
            TypeRef::Nullable { inner } => optional(self.annotation(inner, used), used),
        }
    }

    /// A Python expression converting `expr` between JSON and `ty`; `depth` keeps the
    /// comprehension variables of nested arrays and maps apart.
    fn convert(
        &self,
        ty: &TypeRef,
        expr: &str,
        direction: Direction,
        depth: usize,
        used: &mut Used,
    ) -> anyhow::Result<String> {
        Ok(match ty {
            TypeRef::Ref { name } => match &self.get(name)?.kind {
                ModelKind::Object { .. } if direction == Direction::FromJson => {
                    used.models.insert(name.clone());
                    format!("{name}.from_dict({expr})")
                }
                ModelKind::Object { .. } => format!("{expr}.to_dict()"),
                ModelKind::Alias { target } => {
                    self.convert(target, expr, direction, depth, used)?
                }
                ModelKind::Enum { .. } => expr.to_owned(),
                ModelKind::Union { .. } => return Err(unsupported_union(name)),
            },
            TypeRef::Array { items } => {
                let v = format!("v{depth}");
                match self.convert(items, &v, direction, depth + 1, used)? {
                    same if same == v => expr.to_owned(),
                    item => format!("[{item} for {v} in {expr}]"),
                }
            }
            TypeRef::Map { values } => {
                let (k, v) = (format!("k{depth}"), format!("v{depth}"));
                match self.convert(values, &v, direction, depth + 1, used)? {
                    same if same == v => expr.to_owned(),
                    value => format!("{{{k}: {value} for {k}, {v} in {expr}.items()}}"),
                }
            }
            TypeRef::Nullable { inner } => {
                match self.convert(inner, expr, direction, depth, used)? {
                    same if same == expr => same,
                    converted => format!("None if {expr} is None else {converted}"),
                }
            }
            _ => expr.to_owned(),
        })
    }

    fn model(&self, model: &Model, to_dict: bool, used: &mut Used) -> anyhow::Result<PyModel> {
        let (alias, fields) = match &model.kind {
            ModelKind::Object { fields } => {
                let mut fields = fields
                    .iter()
                    .map(|f| self.field(f, used))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                fields.sort_by_key(|f| !f.required);
                (None, fields)
            }
            ModelKind::Enum { values } => (Some(literal(values, used)), Vec::new()),
            ModelKind::Alias { target } => (Some(self.annotation(target, used)), Vec::new()),
            ModelKind::Union { .. } => return Err(unsupported_union(&model.name)),
        };
        Ok(PyModel {
            name: model.name.clone(),
            description: model.description.clone(),
            alias,
            fields,
            to_dict,
        })
    }

    fn field(&self, field: &Field, used: &mut Used) -> anyhow::Result<PyField> {
        let name = identifier(&field.name);
        let key = json_string(&field.name);
        // An optional field is None when absent, and converted only when present.
        let ty = if field.required {
            &field.ty
        } else {
            non_null(&field.ty)
        };
        let present = format!("data[{key}]");
        let decoded = self.convert(ty, &present, Direction::FromJson, 0, used)?;
        let decode = match field.required {
            true => decoded,
            false if decoded == present => format!("data.get({key})"),
            false => format!("None if data.get({key}) is None else {decoded}"),
        };
        let encode = self.convert(ty, &format!("self.{name}"), Direction::ToJson, 0, used)?;
        Ok(PyField {
            annotation: self.param_annotation(&field.ty, field.required, used),
            name,
            key,
            required: field.required,
            description: field.description.clone(),
            decode,
            encode,
        })
    }

    /// Optional when the value may be left out, or is nullable.
    fn param_annotation(&self, ty: &TypeRef, required: bool, used: &mut Used) -> String {
        if required {
            self.annotation(ty, used)
        } else {
            optional(self.annotation(non_null(ty), used), used)
        }
    }

    fn param(&self, name: &str, ty: &TypeRef, required: bool, used: &mut Used) -> PyParam {
        PyParam {
            name: identifier(name),
            key: json_string(name),
            annotation: self.param_annotation(ty, required, used),
            optional: !required,
        }
    }

    fn resource(&self, resource: &Resource) -> anyhow::Result<PyResource> {
        // Every method takes `timeout: Optional[float]` and `extra_headers: Optional[Mapping[...]]`.
        let mut used = Used {
            typing: BTreeSet::from(["Mapping", "Optional"]),
            ..Used::default()
        };
        let operations = resource
            .operations
            .iter()
            .map(|op| self.operation(op, &mut used))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(PyResource {
            module: snake(&resource.name),
            class: format!("{}Resource", pascal(&resource.name)),
            description: resource.description.clone(),
            paginated: operations.iter().any(|op| op.page_item.is_some()),
            operations,
            models: used.models,
            typing: used.typing,
        })
    }

    fn operation(&self, op: &Operation, used: &mut Used) -> anyhow::Result<PyOperation> {
        let path_params: Vec<PyParam> = op
            .path_params
            .iter()
            .map(|p| self.param(&p.name, &p.ty, true, used))
            .collect();
        let query: Vec<PyParam> = op
            .query_params
            .iter()
            .map(|p| self.param(&p.name, &p.ty, p.required, used))
            .collect();
        let body = op
            .body
            .as_ref()
            .map(|ty| self.body(ty, used))
            .transpose()
            .with_context(|| format!("{}: request body", op.id))?;
        let keywords: Vec<&PyParam> = query
            .iter()
            .chain(body.iter().flat_map(|b| &b.fields))
            .collect();
        // The auto-pager's lambda takes the page cursor as `cursor`.
        let lambda = op.pagination.as_ref().map(|_| "cursor");
        let mut names = BTreeSet::new();
        for name in path_params
            .iter()
            .chain(keywords.iter().copied())
            .map(|p| p.name.as_str())
            .chain(RESERVED.iter().copied())
            .chain(lambda)
        {
            if !names.insert(name) {
                bail!(
                    "{}: two parameters would both be named `{name}` in Python",
                    op.id
                );
            }
        }
        let mut path = op.path.clone();
        for (param, py) in op.path_params.iter().zip(&path_params) {
            path = path.replace(
                &format!("{{{}}}", param.name),
                &format!("{{_http.segment({})}}", py.name),
            );
        }
        let path = if path_params.is_empty() {
            json_string(&path)
        } else {
            format!("f{}", json_string(&path))
        };
        let signature = path_params
            .iter()
            .map(|p| p.name.clone())
            .chain((!keywords.is_empty()).then(|| "*".to_owned()))
            .chain(keywords.iter().map(|p| {
                if p.optional {
                    format!("{}=None", p.name)
                } else {
                    p.name.clone()
                }
            }))
            .collect::<Vec<_>>()
            .join(", ");
        let params = (!query.is_empty()).then(|| {
            let entries: Vec<String> = query
                .iter()
                .map(|p| format!("{}: {}", p.key, p.name))
                .collect();
            format!("{{{}}}", entries.join(", "))
        });
        let json = body.as_ref().map(|b| {
            let args: Vec<String> = b
                .fields
                .iter()
                .map(|f| format!("{0}={0}", f.name))
                .collect();
            format!("{}({}).to_dict()", b.model, args.join(", "))
        });
        let returns = match &op.response {
            Some(ty) => self.annotation(ty, used),
            None => "_response.Response".into(),
        };
        let decode = op
            .response
            .as_ref()
            .map(|ty| self.convert(ty, "data", Direction::FromJson, 0, used))
            .transpose()?;
        let page_item = op
            .pagination
            .as_ref()
            .map(|p| self.annotation(&p.item, used));
        if page_item.is_some() {
            used.typing("Iterator");
            used.typing("AsyncIterator");
        }
        Ok(PyOperation {
            name: identifier(&op.name),
            summary: op.summary.clone(),
            description: op.description.clone(),
            method: op.method.clone(),
            http_path: op.path.clone(),
            path,
            path_params,
            signature: format!("{}({signature})", identifier(&op.name)),
            query,
            body,
            params,
            json,
            idempotent: op.idempotent,
            returns,
            decode,
            page_item,
            deprecated: op.deprecated,
        })
    }

    /// A body is taken as keyword arguments, one per field of its model.
    fn body(&self, ty: &TypeRef, used: &mut Used) -> anyhow::Result<PyBody> {
        let TypeRef::Ref { name } = ty else {
            bail!("the python backend takes only named object bodies")
        };
        let ModelKind::Object { fields } = &self.get(name)?.kind else {
            bail!("{name}: the python backend takes only object bodies")
        };
        used.models.insert(name.clone());
        let mut fields: Vec<PyParam> = fields
            .iter()
            .map(|f| self.param(&f.name, &f.ty, f.required, used))
            .collect();
        fields.sort_by_key(|f| f.optional);
        Ok(PyBody {
            model: name.clone(),
            fields,
        })
    }
}

/// A runnable call of `op` for the portal: a client configured from the environment
/// (`NEOFORGE_API_KEY`, `NEOFORGE_BASE_URL`), then the method with example arguments: path
/// parameters positionally, the required query parameters and the body's fields as keywords.
pub fn sample(api: &Api, resource: &Resource, op: &Operation) -> anyhow::Result<String> {
    let types = Types {
        models: api.models.iter().map(|m| (m.name.as_str(), m)).collect(),
    };
    let mut imports = BTreeSet::new();
    let mut args = Vec::new();
    for p in &op.path_params {
        args.push(types.literal(&p.ty, &example::param(api, p), &mut imports)?);
    }
    for p in op.query_params.iter().filter(|p| p.required) {
        let value = types.literal(&p.ty, &example::param(api, p), &mut imports)?;
        args.push(format!("{}={value}", identifier(&p.name)));
    }
    if let Some(body) = &op.body {
        let value = example::value(api, body, 0);
        args.extend(types.keywords(body, &value, &mut imports)?);
    }
    let models = match imports.is_empty() {
        true => String::new(),
        false => format!(
            "from neoforge.models import {}\n",
            imports.into_iter().collect::<Vec<_>>().join(", ")
        ),
    };
    Ok(format!(
        "import os\n\nfrom neoforge import Client\n{models}\n\
         client = Client(\n    api_key=os.environ[\"NEOFORGE_API_KEY\"],\n    base_url=os.environ.get(\"NEOFORGE_BASE_URL\", {}),\n)\n\
         result = client.{}.{}({})\nprint(result)\n",
        json_string(&api.base_url),
        snake(&resource.name),
        identifier(&op.name),
        args.join(", ")
    ))
}

impl Types<'_> {
    /// `name=value` keyword arguments for the fields of an object model present in `value`.
    fn keywords(
        &self,
        ty: &TypeRef,
        value: &serde_json::Value,
        imports: &mut BTreeSet<String>,
    ) -> anyhow::Result<Vec<String>> {
        let TypeRef::Ref { name } = ty else {
            bail!("the python backend takes only named object bodies")
        };
        let ModelKind::Object { fields } = &self.get(name)?.kind else {
            bail!("{name}: the python backend takes only object bodies")
        };
        fields
            .iter()
            .filter_map(|f| value.get(&f.name).map(|v| (f, v)))
            .map(|(f, v)| {
                Ok(format!(
                    "{}={}",
                    identifier(&f.name),
                    self.literal(&f.ty, v, imports)?
                ))
            })
            .collect()
    }

    /// `value` as a Python expression of type `ty`: models are constructed, JSON spelled as
    /// Python (None, True, False).
    fn literal(
        &self,
        ty: &TypeRef,
        value: &serde_json::Value,
        imports: &mut BTreeSet<String>,
    ) -> anyhow::Result<String> {
        use serde_json::Value;
        Ok(match (ty, value) {
            (_, Value::Null) => "None".into(),
            (TypeRef::Nullable { inner }, _) => self.literal(inner, value, imports)?,
            (TypeRef::Ref { name }, _) => match &self.get(name)?.kind {
                ModelKind::Object { .. } => {
                    imports.insert(name.clone());
                    format!("{name}({})", self.keywords(ty, value, imports)?.join(", "))
                }
                ModelKind::Alias { target } => self.literal(target, value, imports)?,
                ModelKind::Enum { .. } => python_json(value),
                ModelKind::Union { .. } => return Err(unsupported_union(name)),
            },
            (TypeRef::Array { items }, Value::Array(values)) => {
                let items = values
                    .iter()
                    .map(|v| self.literal(items, v, imports))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                format!("[{}]", items.join(", "))
            }
            _ => python_json(value),
        })
    }
}

/// A JSON value as a Python literal.
fn python_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => json_string(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", json_string(k), python_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn unsupported_union(model: &str) -> anyhow::Error {
    anyhow::anyhow!("{model}: the python backend does not support oneOf/anyOf models yet")
}

/// Model names `ty` mentions directly.
fn refs(ty: &TypeRef, out: &mut BTreeSet<String>) {
    match ty {
        TypeRef::Ref { name } => {
            out.insert(name.clone());
        }
        TypeRef::Array { items: inner }
        | TypeRef::Map { values: inner }
        | TypeRef::Nullable { inner } => refs(inner, out),
        _ => {}
    }
}

fn non_null(ty: &TypeRef) -> &TypeRef {
    match ty {
        TypeRef::Nullable { inner } => inner,
        other => other,
    }
}

fn optional(annotation: String, used: &mut Used) -> String {
    format!("{}[{annotation}]", used.typing("Optional"))
}

fn literal(values: &[String], used: &mut Used) -> String {
    let values: Vec<String> = values.iter().map(|v| json_string(v)).collect();
    format!("{}[{}]", used.typing("Literal"), values.join(", "))
}

/// A Python string literal (JSON's escapes are valid Python).
fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A snake_case Python identifier; keywords get a trailing underscore.
fn identifier(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    let name = snake(name);
    if KEYWORDS.contains(&name.as_str()) {
        format!("{name}_")
    } else {
        name
    }
}

/// `text` as a triple-quoted docstring whose continuation lines are indented by `indent`.
fn docstring(text: &str, indent: usize) -> String {
    let escaped = text
        .trim()
        .replace('\\', "\\\\")
        .replace("\"\"\"", "\\\"\\\"\\\"");
    let escaped = match escaped.strip_suffix('"') {
        Some(head) => format!("{head}\\\""),
        None => escaped,
    };
    let pad = " ".repeat(indent);
    let lines: Vec<&str> = escaped.lines().map(str::trim_end).collect();
    match lines.as_slice() {
        [one] => format!("\"\"\"{one}\"\"\""),
        _ => {
            let body: Vec<String> = lines
                .iter()
                .map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{pad}{l}")
                    }
                })
                .collect();
            format!(
                "\"\"\"{}\n{}\n{pad}\"\"\"",
                body[0].trim_start(),
                body[1..].join("\n")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docstrings_escape_and_indent() {
        assert_eq!(docstring("One line.", 4), "\"\"\"One line.\"\"\"");
        assert_eq!(docstring("Say \"hi\"", 4), "\"\"\"Say \"hi\\\"\"\"\"");
        assert_eq!(
            docstring("First.\n\nMore.", 4),
            "\"\"\"First.\n\n    More.\n    \"\"\""
        );
    }

    #[test]
    fn keywords_are_escaped() {
        assert_eq!(identifier("from"), "from_");
        assert_eq!(identifier("startingAfter"), "starting_after");
    }
}

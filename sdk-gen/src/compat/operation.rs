//! Operations: their id, parameters, request body, responses and security.

use std::collections::BTreeMap;

use anyhow::Result;

use super::{
    change::Collector,
    doc::Node,
    member::{self, Member},
    pairs::{Pair, pair_up},
    rules::*,
    schema,
    security::{self, Security},
};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub struct Operation<'a> {
    pub node: Node<'a>,
    id: Option<&'a str>,
    deprecated: bool,
    /// By location and name (lower-cased for headers, whose names ignore case).
    parameters: BTreeMap<(&'a str, String), Member<'a>>,
    body: Option<Member<'a>>,
    responses: BTreeMap<&'a str, Node<'a>>,
    security: Security<'a>,
}

impl<'a> Operation<'a> {
    /// The operations of a path item by method, with the item's parameters folded in.
    pub fn of_path(item: &Node<'a>, root: &Node<'a>) -> Result<BTreeMap<&'static str, Self>> {
        let item = item.object()?;
        let shared = parameters(&item)?;
        let mut operations = BTreeMap::new();
        for method in METHODS {
            if let Some(node) = item.get(method) {
                operations.insert(method, Self::parse(&node.object()?, &shared, root)?);
            }
        }
        Ok(operations)
    }

    fn parse(
        node: &Node<'a>,
        shared: &BTreeMap<(&'a str, String), Member<'a>>,
        root: &Node<'a>,
    ) -> Result<Self> {
        let mut all_parameters = shared.clone();
        all_parameters.extend(parameters(node)?);
        let body = match node.get("requestBody") {
            Some(slot) => Some(Member {
                required: slot.object()?.flag("required")?,
                node: slot,
            }),
            None => None,
        };
        let mut responses = BTreeMap::new();
        for (status, slot) in node.entries_of("responses")? {
            slot.object()?; // a dangling $ref fails here even if the other side lacks the status
            responses.insert(status, slot);
        }
        Ok(Self {
            node: node.clone(),
            id: node.str_of("operationId")?,
            deprecated: node.flag("deprecated")?,
            parameters: all_parameters,
            body,
            responses,
            security: Security::of(node, root)?,
        })
    }
}

fn parameters<'a>(node: &Node<'a>) -> Result<BTreeMap<(&'a str, String), Member<'a>>> {
    let mut parameters = BTreeMap::new();
    for slot in node.elements_of("parameters")? {
        let parameter = slot.object()?;
        let field = |key| {
            parameter
                .str_of(key)?
                .ok_or_else(|| parameter.error(format!("no `{key}`")))
        };
        let (name, location) = (field("name")?, field("in")?);
        let name = match location {
            "header" => name.to_ascii_lowercase(),
            _ => name.to_owned(),
        };
        // Path parameters are always required, whatever the document says.
        let required = location == "path" || parameter.flag("required")?;
        parameters.insert(
            (location, name),
            Member {
                node: slot,
                required,
            },
        );
    }
    Ok(parameters)
}

pub fn compare(out: &mut Collector, base: Operation, head: Operation) -> Result<()> {
    if base.id != head.id {
        let show = |id: Option<&str>| id.map_or("none".to_owned(), |id| format!("`{id}`"));
        let message = format!(
            "operationId changed from {} to {}",
            show(base.id),
            show(head.id)
        );
        out.emit(&OPERATION_ID_CHANGED, &head.node.ptr, message);
    }
    if head.deprecated && !base.deprecated {
        out.emit(
            &OPERATION_DEPRECATED,
            &head.node.ptr,
            "operation deprecated",
        );
    }
    security::compare(out, &base.security, &head.security);

    for ((location, name), pair) in pair_up(base.parameters, head.parameters) {
        let what = format!("{location} parameter `{name}`");
        if let Some((base, head)) = member::compare(out, &PARAMETER, &what, pair)
            && let (Some(base), Some(head)) =
                (base.resolve()?.get("schema"), head.resolve()?.get("schema"))
        {
            schema::compare(out, &base, &head, Direction::Request)?;
        }
    }

    let body = Pair::from_options(base.body, head.body);
    if let Some((base, head)) =
        body.and_then(|p| member::compare(out, &REQUEST_BODY, "request body", p))
    {
        content(out, &base, &head, Direction::Request, "request body")?;
    }

    for (status, pair) in pair_up(base.responses, head.responses) {
        let (removed, added) = match status.starts_with('2') {
            true => (&SUCCESS_RESPONSE_REMOVED, &SUCCESS_RESPONSE_ADDED),
            false => (&ERROR_RESPONSE_REMOVED, &ERROR_RESPONSE_ADDED),
        };
        let what = format!("response {status}");
        if let Some((base, head)) = out.presence(pair, removed, added, &what) {
            content(out, &base, &head, Direction::Response, &what)?;
        }
    }
    Ok(())
}

/// Compares the media types, and their schemas, of a request body or a response.
fn content(
    out: &mut Collector,
    base: &Node,
    head: &Node,
    direction: Direction,
    what: &str,
) -> Result<()> {
    fn media<'a>(node: &Node<'a>) -> Result<BTreeMap<&'a str, Node<'a>>> {
        node.resolve()?
            .entries_of("content")?
            .into_iter()
            .map(|(key, n)| Ok((key, n.object()?)))
            .collect()
    }
    let removed = direction.pick(&REQUEST_MEDIA_TYPE_REMOVED, &RESPONSE_MEDIA_TYPE_REMOVED);
    let added = direction.pick(&REQUEST_MEDIA_TYPE_ADDED, &RESPONSE_MEDIA_TYPE_ADDED);
    for (media_type, pair) in pair_up(media(base)?, media(head)?) {
        let what = format!("{what} media type `{media_type}`");
        if let Some((base, head)) = out.presence(pair, removed, added, &what)
            && let (Some(base), Some(head)) = (base.get("schema"), head.get("schema"))
        {
            schema::compare(out, &base, &head, direction)?;
        }
    }
    Ok(())
}

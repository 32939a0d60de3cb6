//! Users and Groups: create, get, list and search, replace, patch, delete — one flow for both
//! kinds, with what differs kept here in two places: a user's account and membership
//! (`access`), a group's members (a table, so "which groups is this user in" is a lookup).
//! Each write is audited and emits its `directory.*` webhook events in its transaction, in the
//! environment of the token.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use sqlx::AnyConnection;

use super::access;
use super::auth::ScimCaller;
use super::error::{ScimError, ScimResult, ScimType};
use super::filter;
use super::patch;
use super::resource::{self, Meta, Obj, Projection, etag, normalize};
use super::wire::{ListQuery, ScimResponse, check_if_match, list_response};
use crate::app::AppState;
use crate::audit;
use crate::webhooks;
use domain::identity::scim_schema::Kind;
use domain::ids::{ScimGroupId, ScimUserId};
use store::scim::{self as db, Keys, Lookup, MemberRow, ResourceRow};

fn location(caller: &ScimCaller, kind: Kind, id: &str) -> String {
    format!("{}/scim/v2/{}/{id}", caller.base, kind.endpoint())
}

#[derive(Clone, Copy)]
enum Change {
    Created,
    Updated,
    Deleted,
}

/// The webhook event of a change.
fn event(kind: Kind, change: Change) -> &'static str {
    match (kind, change) {
        (Kind::User, Change::Created) => "directory.user_created",
        (Kind::User, Change::Updated) => "directory.user_updated",
        (Kind::User, Change::Deleted) => "directory.user_deleted",
        (Kind::Group, Change::Created) => "directory.group_created",
        (Kind::Group, Change::Updated) => "directory.group_updated",
        (Kind::Group, Change::Deleted) => "directory.group_deleted",
    }
}

/// The audit log's target type; actions are `scim_user.created` and the like.
fn audit_target(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "scim_user",
        Kind::Group => "scim_group",
    }
}

/// The names a resource is looked up by.
fn keys(kind: Kind, stored: &Obj) -> Keys<'_> {
    let name_attr = match kind {
        Kind::User => "userName",
        Kind::Group => "displayName",
    };
    Keys {
        external_id: stored.get("externalId").and_then(Value::as_str),
        name: stored.get(name_attr).and_then(Value::as_str).unwrap_or(""),
    }
}

/// A group's members as the resource shows them.
async fn members_value(
    c: &mut AnyConnection,
    caller: &ScimCaller,
    group: &str,
) -> ScimResult<Option<Value>> {
    let rows = db::members(c, &caller.scope.org_id, group).await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|m| {
            let kind = if m.member_type == "Group" {
                Kind::Group
            } else {
                Kind::User
            };
            let mut v = json!({
                "value": m.member_id,
                "$ref": location(caller, kind, &m.member_id),
                "type": m.member_type,
            });
            if let Some(d) = m.display {
                v["display"] = json!(d);
            }
            v
        })
        .collect();
    Ok((!items.is_empty()).then_some(Value::Array(items)))
}

/// The stored attributes of a row, with a group's members.
async fn attributes(
    c: &mut AnyConnection,
    caller: &ScimCaller,
    kind: Kind,
    row: &ResourceRow,
) -> ScimResult<Obj> {
    let mut stored = row.resource.0.clone();
    if kind == Kind::Group
        && let Some(members) = members_value(c, caller, &row.id).await?
    {
        stored.insert("members".into(), members);
    }
    Ok(stored)
}

/// The full representation: attributes, `meta`, and a user's (read-only) `groups`.
async fn render(
    c: &mut AnyConnection,
    caller: &ScimCaller,
    kind: Kind,
    row: &ResourceRow,
    stored: &Obj,
) -> ScimResult<Value> {
    let loc = location(caller, kind, &row.id);
    let meta = Meta {
        created: row.created_at,
        last_modified: row.updated_at,
        version: row.version,
        location: &loc,
    };
    let mut out = resource::render(kind, &row.id, stored, &meta);
    if kind == Kind::User {
        let groups: Vec<Value> = db::groups_of(c, &caller.scope.org_id, &row.id)
            .await?
            .into_iter()
            .map(|(id, name)| {
                json!({"value": id, "$ref": location(caller, Kind::Group, &id), "display": name, "type": "direct"})
            })
            .collect();
        if !groups.is_empty() {
            out["groups"] = Value::Array(groups);
        }
    }
    Ok(out)
}

async fn load(
    c: &mut AnyConnection,
    caller: &ScimCaller,
    kind: Kind,
    id: &str,
) -> ScimResult<(ResourceRow, Obj)> {
    let row = db::get(c, &caller.scope.org_id, kind, id)
        .await?
        .ok_or_else(|| ScimError::not_found(kind.name()))?;
    let stored = attributes(c, caller, kind, &row).await?;
    Ok((row, stored))
}

fn new_id(kind: Kind) -> String {
    match kind {
        Kind::User => ScimUserId::generate().to_string(),
        Kind::Group => ScimGroupId::generate().to_string(),
    }
}

/// Takes a group's members out of its attributes, checked: each must be a user or another
/// group of the organization. The rest is what the resource column keeps.
async fn split_members(
    c: &mut AnyConnection,
    caller: &ScimCaller,
    kind: Kind,
    group: &str,
    stored: &mut Obj,
) -> ScimResult<Vec<MemberRow>> {
    if kind != Kind::Group {
        return Ok(Vec::new());
    }
    let Some(Value::Array(items)) = stored.remove("members") else {
        return Ok(Vec::new());
    };
    let org = &caller.scope.org_id;
    let mut out: Vec<MemberRow> = Vec::with_capacity(items.len());
    for item in items {
        let Some(id) = item.get("value").and_then(Value::as_str) else {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                "Each member needs a value (its id).",
            ));
        };
        let stated = item.get("type").and_then(Value::as_str);
        let member_type = if stated != Some("Group") && db::exists(c, org, Kind::User, id).await? {
            "User"
        } else if stated != Some("User")
            && id != group
            && db::exists(c, org, Kind::Group, id).await?
        {
            "Group"
        } else {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                format!("No user or group {id} in this directory can be a member."),
            ));
        };
        if out.iter().any(|m| m.member_id == id) {
            continue;
        }
        out.push(MemberRow {
            member_id: id.to_owned(),
            member_type: member_type.to_owned(),
            display: item
                .get("display")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
    Ok(out)
}

/// Writes the member set; returns the `directory.group_member_*` events it makes.
async fn sync_members(
    c: &mut AnyConnection,
    caller: &ScimCaller,
    group: &str,
    old: &[MemberRow],
    new: &[MemberRow],
    now: i64,
) -> ScimResult<Vec<(&'static str, Value)>> {
    let org = &caller.scope.org_id;
    let mut events = Vec::new();
    let data = |m: &MemberRow| json!({"group_id": group, "member": {"value": m.member_id, "type": m.member_type}});
    for m in old
        .iter()
        .filter(|m| !new.iter().any(|n| n.member_id == m.member_id))
    {
        db::remove_member(c, org, group, &m.member_id).await?;
        events.push(("directory.group_member_removed", data(m)));
    }
    for m in new {
        match old.iter().find(|o| o.member_id == m.member_id) {
            None => {
                db::add_member(c, org, group, m, now).await?;
                events.push(("directory.group_member_added", data(m)));
            }
            Some(o) if o.display != m.display => db::set_member_display(c, org, group, m).await?,
            Some(_) => {}
        }
    }
    Ok(events)
}

fn check_unique_name(taken: bool, kind: Kind) -> ScimResult<()> {
    if taken && kind == Kind::User {
        return Err(ScimError::bad(
            ScimType::Uniqueness,
            "Another user has this userName.",
        ));
    }
    Ok(())
}

/// Audits a write and emits its events; `events` come after the resource's own.
#[allow(clippy::too_many_arguments)]
async fn notify(
    c: &mut AnyConnection,
    caller: &ScimCaller,
    kind: Kind,
    change: Change,
    id: &str,
    data: &Value,
    mut events: Vec<(&'static str, Value)>,
    now: i64,
) -> ScimResult<()> {
    let target = audit_target(kind);
    let what = match change {
        Change::Created => "created",
        Change::Updated => "updated",
        Change::Deleted => "deleted",
    };
    let action = format!("{target}.{what}");
    audit::record(c, &caller.scope, caller.actor(), &action, (target, id), now).await?;
    events.insert(0, (event(kind, change), data.clone()));
    webhooks::emit_all(c, &caller.scope, &events, now).await?;
    Ok(())
}

fn written(
    status: StatusCode,
    body: Value,
    row: &ResourceRow,
    loc: Option<String>,
) -> ScimResponse {
    ScimResponse {
        status,
        body: Some(body),
        etag: Some(etag(row.version)),
        location: loc,
    }
}

pub async fn create(
    state: &AppState,
    caller: &ScimCaller,
    kind: Kind,
    body: &Value,
    projection: &Projection,
) -> ScimResult<ScimResponse> {
    let mut stored = normalize(kind, body)?;
    let now = state.clock.now_ms();
    let id = new_id(kind);
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let members = split_members(&mut tx, caller, kind, &id, &mut stored).await?;
    let org = &caller.scope.org_id;
    check_unique_name(
        db::name_taken(&mut tx, org, kind, keys(kind, &stored).name, &id).await?,
        kind,
    )?;
    let row = ResourceRow {
        id: id.clone(),
        resource: stored.clone().into(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let mut access_changed = false;
    match kind {
        Kind::User => {
            db::insert_user(
                &mut tx,
                org,
                &row,
                &keys(kind, &stored),
                access::is_active(&stored),
            )
            .await?;
            access_changed = access::sync(&mut tx, caller, &id, &stored, now).await?;
        }
        Kind::Group => db::insert_group(&mut tx, org, &row, &keys(kind, &stored)).await?,
    }
    let events = sync_members(&mut tx, caller, &id, &[], &members, now).await?;
    let stored = attributes(&mut tx, caller, kind, &row).await?;
    let full = render(&mut tx, caller, kind, &row, &stored).await?;
    notify(
        &mut tx,
        caller,
        kind,
        Change::Created,
        &id,
        &full,
        events,
        now,
    )
    .await?;
    tx.commit().await?;
    if access_changed {
        state.keys.invalidate();
    }
    let loc = location(caller, kind, &id);
    Ok(written(
        StatusCode::CREATED,
        projection.apply(kind, full)?,
        &row,
        Some(loc),
    ))
}

pub async fn get(
    state: &AppState,
    caller: &ScimCaller,
    kind: Kind,
    id: &str,
    params: &HashMap<String, String>,
) -> ScimResult<ScimResponse> {
    let projection = super::wire::projection(params)?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let (row, stored) = load(&mut conn, caller, kind, id).await?;
    let full = render(&mut conn, caller, kind, &row, &stored).await?;
    conn.end();
    Ok(written(
        StatusCode::OK,
        projection.apply(kind, full)?,
        &row,
        None,
    ))
}

/// A page of the resources matching the query.
pub async fn list(
    state: &AppState,
    caller: &ScimCaller,
    kind: Kind,
    q: &ListQuery,
) -> ScimResult<ScimResponse> {
    let filter = q
        .filter
        .as_deref()
        .map(|f| filter::parse(kind, f))
        .transpose()?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let mut page = Page::default();
    collect(&mut conn, caller, kind, filter.as_ref(), q, &mut page).await?;
    conn.end();
    Ok(ScimResponse::ok(list_response(
        page.items,
        page.total,
        q.start_index,
    )))
}

/// `POST /.search` across Users and Groups (RFC 7644 §3.4.3): users first. A comparison on
/// an attribute one resource type lacks is false for its resources; an attribute it lacks
/// in `attributes` is left out.
pub async fn search_all(
    state: &AppState,
    caller: &ScimCaller,
    q: &ListQuery,
) -> ScimResult<ScimResponse> {
    let filters = [Kind::User, Kind::Group]
        .into_iter()
        .map(|kind| {
            let f = q.filter.as_deref().map(|f| filter::parse_across(kind, f));
            f.transpose().map(|f| (kind, f))
        })
        .collect::<ScimResult<Vec<_>>>()?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let mut page = Page::default();
    for (kind, filter) in &filters {
        collect(&mut conn, caller, *kind, filter.as_ref(), q, &mut page).await?;
    }
    conn.end();
    Ok(ScimResponse::ok(list_response(
        page.items,
        page.total,
        q.start_index,
    )))
}

#[derive(Default)]
struct Page {
    items: Vec<Value>,
    /// Every match so far, in the page or not.
    total: usize,
}

/// Adds the resources of `kind` matching `filter` to the count, and those in the requested
/// window to the page. A filter on userName, a group's displayName or externalId equal to a
/// value (how directories find a resource) reads an index; other filters are evaluated on
/// every resource of the organization.
async fn collect(
    conn: &mut AnyConnection,
    caller: &ScimCaller,
    kind: Kind,
    filter: Option<&filter::Filter>,
    q: &ListQuery,
    page: &mut Page,
) -> ScimResult<()> {
    let lookup = filter.and_then(|f| f.equality()).and_then(|(name, v)| {
        let v = v.as_str()?;
        match (kind, name) {
            (Kind::User, "userName") | (Kind::Group, "displayName") => Some(Lookup::Name(v)),
            (_, "externalId") => Some(Lookup::ExternalId(v)),
            _ => None,
        }
    });
    let rows = db::list(conn, &caller.scope.org_id, kind, lookup).await?;
    let skip = q.start_index - 1;
    let window = skip..skip + q.count;
    for row in &rows {
        if filter.is_none() && !window.contains(&page.total) {
            page.total += 1;
            continue;
        }
        let stored = attributes(conn, caller, kind, row).await?;
        let full = render(conn, caller, kind, row, &stored).await?;
        if filter.is_some_and(|f| !f.matches(&full)) {
            continue;
        }
        if window.contains(&page.total) {
            page.items.push(q.projection.apply(kind, full)?);
        }
        page.total += 1;
    }
    Ok(())
}

/// PUT and PATCH: `change` makes the new attributes from the current ones.
pub async fn update(
    state: &AppState,
    caller: &ScimCaller,
    kind: Kind,
    id: &str,
    headers: &HeaderMap,
    projection: &Projection,
    change: impl FnOnce(Obj) -> ScimResult<Obj>,
) -> ScimResult<ScimResponse> {
    let now = state.clock.now_ms();
    let org = &caller.scope.org_id;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let (mut row, old) = load(&mut tx, caller, kind, id).await?;
    check_if_match(headers, &etag(row.version))?;
    let mut new = change(old.clone())?;
    let mut access_changed = false;
    let mut events = None;
    if new != old {
        let mut old = old;
        let old_members = split_members(&mut tx, caller, kind, id, &mut old).await?;
        let members = split_members(&mut tx, caller, kind, id, &mut new).await?;
        check_unique_name(
            db::name_taken(&mut tx, org, kind, keys(kind, &new).name, id).await?,
            kind,
        )?;
        row.resource = new.clone().into();
        row.version += 1;
        row.updated_at = now;
        db::update(&mut tx, org, kind, &row, &keys(kind, &new)).await?;
        if kind == Kind::User {
            access_changed = access::sync(&mut tx, caller, id, &new, now).await?;
        }
        events = Some(sync_members(&mut tx, caller, id, &old_members, &members, now).await?);
    }
    let stored = attributes(&mut tx, caller, kind, &row).await?;
    let full = render(&mut tx, caller, kind, &row, &stored).await?;
    if let Some(events) = events {
        notify(
            &mut tx,
            caller,
            kind,
            Change::Updated,
            id,
            &full,
            events,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    if access_changed {
        state.keys.invalidate();
    }
    Ok(written(
        StatusCode::OK,
        projection.apply(kind, full)?,
        &row,
        None,
    ))
}

pub async fn replace(
    state: &AppState,
    caller: &ScimCaller,
    kind: Kind,
    id: &str,
    headers: &HeaderMap,
    body: &Value,
    projection: &Projection,
) -> ScimResult<ScimResponse> {
    let new = normalize(kind, body)?;
    if let Some(sent) = body.get("id").and_then(Value::as_str)
        && sent != id
    {
        return Err(ScimError::bad(ScimType::Mutability, "id cannot change."));
    }
    update(state, caller, kind, id, headers, projection, |_| Ok(new)).await
}

pub async fn modify(
    state: &AppState,
    caller: &ScimCaller,
    kind: Kind,
    id: &str,
    headers: &HeaderMap,
    body: &Value,
    projection: &Projection,
) -> ScimResult<ScimResponse> {
    update(
        state,
        caller,
        kind,
        id,
        headers,
        projection,
        |mut current| {
            patch::apply(kind, &mut current, body)?;
            normalize(kind, &Value::Object(current))
        },
    )
    .await
}

pub async fn delete(
    state: &AppState,
    caller: &ScimCaller,
    kind: Kind,
    id: &str,
    headers: &HeaderMap,
) -> ScimResult<ScimResponse> {
    let now = state.clock.now_ms();
    let org = &caller.scope.org_id;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let (row, stored) = load(&mut tx, caller, kind, id).await?;
    check_if_match(headers, &etag(row.version))?;
    let full = render(&mut tx, caller, kind, &row, &stored).await?;
    let access_changed = kind == Kind::User && access::remove(&mut tx, caller, id, now).await?;
    // It leaves the groups it was in, and a group's own members go with it (cascade).
    let events: Vec<(&'static str, Value)> = db::touch_groups_of(&mut tx, org, id, now)
        .await?
        .into_iter()
        .map(|group| {
            let data = json!({"group_id": group, "member": {"value": id, "type": kind.name()}});
            ("directory.group_member_removed", data)
        })
        .collect();
    db::delete(&mut tx, org, kind, id).await?;
    notify(
        &mut tx,
        caller,
        kind,
        Change::Deleted,
        id,
        &full,
        events,
        now,
    )
    .await?;
    tx.commit().await?;
    if access_changed {
        state.keys.invalidate();
    }
    Ok(ScimResponse::no_content())
}

//! Discovery (RFC 7644 §4): what this service provider supports, its resource types and
//! schemas. Static documents, so they need no token.

use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::error::{ScimError, ScimResult};
use super::wire::{MAX_RESULTS, ScimPath, ScimResponse, list_response};
use crate::app::AppState;
use domain::identity::scim_schema::{Kind, catalog};

const SPC: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

fn base(state: &AppState, headers: &HeaderMap) -> String {
    let root = crate::http::public_base(state, headers);
    format!("{root}/scim/v2")
}

/// What this server supports.
#[utoipa::path(
    get, path = "/scim/v2/ServiceProviderConfig", tag = "scim", operation_id = "scim_service_provider_config",
    responses((status = 200, description = "The service provider configuration", content_type = "application/scim+json", body = Object)),
    security(()),
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn service_provider_config(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ScimResponse {
    let base = base(&state, &headers);
    ScimResponse::ok(json!({
        "schemas": [SPC],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A SCIM token of the organization (nf_scim_…), made with POST /v1/scim/tokens.",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    }))
}

fn resource_type(kind: Kind, base: &str) -> Value {
    let extensions: Vec<Value> = kind
        .extensions()
        .iter()
        .map(|urn| json!({"schema": urn, "required": false}))
        .collect();
    json!({
        "schemas": [RESOURCE_TYPE],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": format!("/{}", kind.endpoint()),
        "description": match kind {
            Kind::User => "A member of the organization.",
            Kind::Group => "A group of the organization's users.",
        },
        "schema": kind.core(),
        "schemaExtensions": extensions,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", kind.name())},
    })
}

/// The resource types: User (with the enterprise extension) and Group.
#[utoipa::path(
    get, path = "/scim/v2/ResourceTypes", tag = "scim", operation_id = "scim_resource_types_list",
    responses((status = 200, description = "A ListResponse of resource types", content_type = "application/scim+json", body = Object)),
    security(()),
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn resource_types(State(state): State<AppState>, headers: HeaderMap) -> ScimResponse {
    let base = base(&state, &headers);
    let all: Vec<Value> = [Kind::User, Kind::Group]
        .into_iter()
        .map(|k| resource_type(k, &base))
        .collect();
    let n = all.len();
    ScimResponse::ok(list_response(all, n, 1))
}

/// One resource type.
#[utoipa::path(
    get, path = "/scim/v2/ResourceTypes/{id}", tag = "scim", operation_id = "scim_resource_types_get",
    params(("id" = String, Path, description = "`User` or `Group`.")),
    responses(
        (status = 200, description = "The resource type", content_type = "application/scim+json", body = Object),
        (status = 404, description = "No such resource type (a SCIM error)", content_type = "application/scim+json", body = Object),
    ),
    security(()),
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn resource_type_by_id(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimPath(id): ScimPath,
) -> ScimResult<ScimResponse> {
    let kind = [Kind::User, Kind::Group]
        .into_iter()
        .find(|k| k.name() == id)
        .ok_or_else(|| ScimError::not_found("resource type"))?;
    Ok(ScimResponse::ok(resource_type(
        kind,
        &base(&state, &headers),
    )))
}

fn schemas(base: &str) -> ScimResult<Vec<Value>> {
    let cat = catalog().map_err(|e| ScimError::internal(anyhow::anyhow!("SCIM schemas: {e}")))?;
    Ok(cat
        .documents
        .iter()
        .map(|d| {
            let mut d = d.clone();
            let id = d["id"].as_str().unwrap_or_default().to_owned();
            d["meta"] =
                json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")});
            d
        })
        .collect())
}

/// The schemas: User, the enterprise User extension, Group, and the discovery schemas.
#[utoipa::path(
    get, path = "/scim/v2/Schemas", tag = "scim", operation_id = "scim_schemas_list",
    responses((status = 200, description = "A ListResponse of schemas", content_type = "application/scim+json", body = Object)),
    security(()),
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn schemas_list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ScimResult<ScimResponse> {
    let all = schemas(&base(&state, &headers))?;
    let n = all.len();
    Ok(ScimResponse::ok(list_response(all, n, 1)))
}

/// One schema, by its URN.
#[utoipa::path(
    get, path = "/scim/v2/Schemas/{id}", tag = "scim", operation_id = "scim_schemas_get",
    params(("id" = String, Path, description = "The schema's URN.")),
    responses(
        (status = 200, description = "The schema", content_type = "application/scim+json", body = Object),
        (status = 404, description = "No such schema (a SCIM error)", content_type = "application/scim+json", body = Object),
    ),
    security(()),
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn schema_by_id(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimPath(id): ScimPath,
) -> ScimResult<ScimResponse> {
    schemas(&base(&state, &headers))?
        .into_iter()
        .find(|s| {
            s["id"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(&id))
        })
        .map(ScimResponse::ok)
        .ok_or_else(|| ScimError::not_found("schema"))
}

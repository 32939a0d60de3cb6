//! The `/scim/v2/Users` and `/scim/v2/Groups` routes: one set of handlers per kind, all
//! calling `resources`. Documented in the OpenAPI document under `scim` and left out of the
//! SDKs (`x-sdk-exclude`): directories call them, not integrators.

use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;

use super::auth::ScimCaller;
use super::error::{ScimError, ScimResult, ScimType};
use super::resources;
use super::wire::{ListQuery, Params, ScimBody, ScimPath, ScimResponse, projection};
use crate::app::AppState;
use domain::identity::scim_schema::Kind;

fn search_fields(body: &Value) -> ScimResult<ListQuery> {
    let fields = body.as_object().ok_or_else(|| {
        ScimError::bad(ScimType::InvalidSyntax, "A SearchRequest is a JSON object.")
    })?;
    ListQuery::from_fields(fields)
}

macro_rules! resource_endpoints {
    ($module:ident, $kind:expr, $name:literal, $collection:literal, $item:literal, $search:literal) => {
        pub mod $module {
            use super::*;

            #[doc = concat!("Create a ", $name, ".")]
            #[utoipa::path(
                post, path = $collection, tag = "scim", operation_id = concat!("scim_", stringify!($module), "_create"),
                request_body(content = Object, content_type = "application/scim+json"),
                responses(
                    (status = 201, description = concat!("The new ", $name), content_type = "application/scim+json", body = Object),
                    (status = 400, description = "Invalid (a SCIM error: invalidValue, invalidSyntax…)", content_type = "application/scim+json", body = Object),
                    (status = 401, description = "No valid SCIM token", content_type = "application/scim+json", body = Object),
                    (status = 409, description = "The userName is taken (scimType uniqueness)", content_type = "application/scim+json", body = Object),
                ),
                security(("scim_token" = [])),
                extensions(("x-sdk-exclude" = json!(true)))
            )]
            pub async fn create(State(state): State<AppState>, caller: ScimCaller, Params(params): Params, ScimBody(body): ScimBody) -> ScimResult<ScimResponse> {
                resources::create(&state, &caller, $kind, &body, &projection(&params)?).await
            }

            #[doc = concat!("List ", $name, "s, with `filter`, `startIndex` and `count`.")]
            #[utoipa::path(
                get, path = $collection, tag = "scim", operation_id = concat!("scim_", stringify!($module), "_list"),
                params(
                    ("filter" = Option<String>, Query, description = "A SCIM filter, e.g. `userName eq \"ada@example.com\"`."),
                    ("startIndex" = Option<i64>, Query, description = "1-based index of the first result."),
                    ("count" = Option<i64>, Query, description = "At most this many results (up to 200)."),
                    ("attributes" = Option<String>, Query, description = "Only these attributes."),
                    ("excludedAttributes" = Option<String>, Query, description = "All but these attributes."),
                ),
                responses(
                    (status = 200, description = "A ListResponse", content_type = "application/scim+json", body = Object),
                    (status = 400, description = "Invalid filter (a SCIM error)", content_type = "application/scim+json", body = Object),
                    (status = 401, description = "No valid SCIM token", content_type = "application/scim+json", body = Object),
                ),
                security(("scim_token" = [])),
                extensions(("x-sdk-exclude" = json!(true)))
            )]
            pub async fn list(State(state): State<AppState>, caller: ScimCaller, Params(params): Params) -> ScimResult<ScimResponse> {
                resources::list(&state, &caller, $kind, &ListQuery::from_params(&params)?).await
            }

            #[doc = concat!("Search ", $name, "s with a SearchRequest body.")]
            #[utoipa::path(
                post, path = $search, tag = "scim", operation_id = concat!("scim_", stringify!($module), "_search"),
                request_body(content = Object, content_type = "application/scim+json"),
                responses(
                    (status = 200, description = "A ListResponse", content_type = "application/scim+json", body = Object),
                    (status = 400, description = "Invalid filter (a SCIM error)", content_type = "application/scim+json", body = Object),
                    (status = 401, description = "No valid SCIM token", content_type = "application/scim+json", body = Object),
                ),
                security(("scim_token" = [])),
                extensions(("x-sdk-exclude" = json!(true)))
            )]
            pub async fn search(State(state): State<AppState>, caller: ScimCaller, ScimBody(body): ScimBody) -> ScimResult<ScimResponse> {
                resources::list(&state, &caller, $kind, &search_fields(&body)?).await
            }

            #[doc = concat!("Get a ", $name, ".")]
            #[utoipa::path(
                get, path = $item, tag = "scim", operation_id = concat!("scim_", stringify!($module), "_get"),
                params(("id" = String, Path)),
                responses(
                    (status = 200, description = concat!("The ", $name), content_type = "application/scim+json", body = Object),
                    (status = 401, description = "No valid SCIM token", content_type = "application/scim+json", body = Object),
                    (status = 404, description = "No such resource in this organization", content_type = "application/scim+json", body = Object),
                ),
                security(("scim_token" = [])),
                extensions(("x-sdk-exclude" = json!(true)))
            )]
            pub async fn get(State(state): State<AppState>, caller: ScimCaller, ScimPath(id): ScimPath, Params(params): Params) -> ScimResult<ScimResponse> {
                resources::get(&state, &caller, $kind, &id, &params).await
            }

            #[doc = concat!("Replace a ", $name, ".")]
            #[utoipa::path(
                put, path = $item, tag = "scim", operation_id = concat!("scim_", stringify!($module), "_replace"),
                params(("id" = String, Path)),
                request_body(content = Object, content_type = "application/scim+json"),
                responses(
                    (status = 200, description = concat!("The ", $name), content_type = "application/scim+json", body = Object),
                    (status = 400, description = "Invalid (a SCIM error)", content_type = "application/scim+json", body = Object),
                    (status = 401, description = "No valid SCIM token", content_type = "application/scim+json", body = Object),
                    (status = 404, description = "No such resource in this organization", content_type = "application/scim+json", body = Object),
                    (status = 412, description = "If-Match names an older version", content_type = "application/scim+json", body = Object),
                ),
                security(("scim_token" = [])),
                extensions(("x-sdk-exclude" = json!(true)))
            )]
            pub async fn replace(State(state): State<AppState>, caller: ScimCaller, ScimPath(id): ScimPath, Params(params): Params, headers: HeaderMap, ScimBody(body): ScimBody) -> ScimResult<ScimResponse> {
                resources::replace(&state, &caller, $kind, &id, &headers, &body, &projection(&params)?).await
            }

            #[doc = concat!("Patch a ", $name, " (add, replace, remove).")]
            #[utoipa::path(
                patch, path = $item, tag = "scim", operation_id = concat!("scim_", stringify!($module), "_patch"),
                params(("id" = String, Path)),
                request_body(content = Object, content_type = "application/scim+json"),
                responses(
                    (status = 200, description = concat!("The ", $name), content_type = "application/scim+json", body = Object),
                    (status = 400, description = "Invalid (a SCIM error: invalidPath, noTarget, mutability…)", content_type = "application/scim+json", body = Object),
                    (status = 401, description = "No valid SCIM token", content_type = "application/scim+json", body = Object),
                    (status = 404, description = "No such resource in this organization", content_type = "application/scim+json", body = Object),
                    (status = 412, description = "If-Match names an older version", content_type = "application/scim+json", body = Object),
                ),
                security(("scim_token" = [])),
                extensions(("x-sdk-exclude" = json!(true)))
            )]
            pub async fn patch(State(state): State<AppState>, caller: ScimCaller, ScimPath(id): ScimPath, Params(params): Params, headers: HeaderMap, ScimBody(body): ScimBody) -> ScimResult<ScimResponse> {
                resources::modify(&state, &caller, $kind, &id, &headers, &body, &projection(&params)?).await
            }

            #[doc = concat!("Delete a ", $name, ".")]
            #[utoipa::path(
                delete, path = $item, tag = "scim", operation_id = concat!("scim_", stringify!($module), "_delete"),
                params(("id" = String, Path)),
                responses(
                    (status = 204, description = "Deleted"),
                    (status = 401, description = "No valid SCIM token", content_type = "application/scim+json", body = Object),
                    (status = 404, description = "No such resource in this organization", content_type = "application/scim+json", body = Object),
                ),
                security(("scim_token" = [])),
                extensions(("x-sdk-exclude" = json!(true)))
            )]
            pub async fn delete(State(state): State<AppState>, caller: ScimCaller, ScimPath(id): ScimPath, headers: HeaderMap) -> ScimResult<ScimResponse> {
                resources::delete(&state, &caller, $kind, &id, &headers).await
            }
        }
    };
}

resource_endpoints!(
    users,
    Kind::User,
    "user",
    "/scim/v2/Users",
    "/scim/v2/Users/{id}",
    "/scim/v2/Users/.search"
);
resource_endpoints!(
    groups,
    Kind::Group,
    "group",
    "/scim/v2/Groups",
    "/scim/v2/Groups/{id}",
    "/scim/v2/Groups/.search"
);

/// Search Users and Groups at once with a SearchRequest body.
#[utoipa::path(
    post, path = "/scim/v2/.search", tag = "scim", operation_id = "scim_search_all",
    request_body(content = Object, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "A ListResponse of users, then groups", content_type = "application/scim+json", body = Object),
        (status = 400, description = "Invalid filter (a SCIM error)", content_type = "application/scim+json", body = Object),
        (status = 401, description = "No valid SCIM token", content_type = "application/scim+json", body = Object),
    ),
    security(("scim_token" = [])),
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn search_all(
    State(state): State<AppState>,
    caller: ScimCaller,
    ScimBody(body): ScimBody,
) -> ScimResult<ScimResponse> {
    let mut q = search_fields(&body)?;
    q.projection.across_types = true;
    resources::search_all(&state, &caller, &q).await
}

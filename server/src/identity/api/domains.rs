//! Email domains (`/v1/sso/domains`): an organization claims a domain, proves it with a DNS
//! TXT record, and may then require single sign-on of everyone whose address is in it. A
//! domain is verified by one organization at most; logins route to it by email address.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit;
use crate::http::auth::{Actor, Caller};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::Permission;
use domain::clock::timestamp;
use domain::identity::{VERIFICATION_LABEL, check_domain};
use domain::ids::DomainId;
use domain::secret;
use store::identity::{self as db, DomainRow};
use store::is_unique_violation;

#[derive(Debug, Serialize, ToSchema)]
pub struct Domain {
    pub id: DomainId,
    #[schema(example = "acme.com")]
    pub domain: String,
    /// `pending` until the TXT record is found, then `verified`.
    #[schema(example = "pending")]
    pub status: String,
    /// The record to publish.
    pub verification: TxtRecord,
    /// Members with an address in this domain must log in through single sign-on.
    pub sso_required: bool,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub verified_at: Option<i64>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TxtRecord {
    #[schema(example = "TXT")]
    pub r#type: String,
    #[schema(example = "_neoforge-verification.acme.com")]
    pub name: String,
    #[schema(example = "neoforge-verification=nf_dv_4eC39HqLyjWDarjtT1zdp7dc")]
    pub value: String,
}

fn record_name(domain: &str) -> String {
    format!("{VERIFICATION_LABEL}.{domain}")
}

fn record_value(token: &str) -> String {
    format!("neoforge-verification={token}")
}

impl From<DomainRow> for Domain {
    fn from(r: DomainRow) -> Self {
        Domain {
            id: DomainId::from_db(r.id),
            status: if r.verified_at.is_some() {
                "verified"
            } else {
                "pending"
            }
            .into(),
            verification: TxtRecord {
                r#type: "TXT".into(),
                name: record_name(&r.domain),
                value: record_value(&r.verification_token),
            },
            domain: r.domain,
            sso_required: r.sso_required != 0,
            verified_at: r.verified_at,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDomainRequest {
    #[schema(example = "acme.com")]
    pub domain: String,
}

/// Claim an email domain; publish its TXT record, then verify it.
#[utoipa::path(
    post, path = "/v1/sso/domains", tag = "sso_domains", operation_id = "sso_domains_create",
    request_body = CreateDomainRequest,
    responses(
        (status = 201, description = "Claimed, pending verification", body = Domain),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["identity:write"]), ("session" = ["identity:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateDomainRequest>,
) -> ApiResult<(StatusCode, axum::Json<Domain>)> {
    caller.require(Permission::IdentityWrite)?;
    let row = DomainRow {
        id: DomainId::generate().to_string(),
        tenant_id: caller.scope.org_id.to_string(),
        domain: check_domain(&req.domain)?,
        verification_token: secret::generate_token("nf_dv_"),
        verified_at: None,
        sso_required: 0,
        created_at: state.clock.now_ms(),
    };
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    match db::insert_domain(&mut tx, &row).await {
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::conflict(
                "domain_exists",
                format!("{} is already claimed by this organization.", row.domain),
            ));
        }
        other => other?,
    }
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "sso_domain.created",
        ("sso_domain", &row.id),
        row.created_at,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DomainListQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
}

page_type!(DomainPage, Domain);

/// List the organization's domains, newest first.
#[utoipa::path(
    get, path = "/v1/sso/domains", tag = "sso_domains", operation_id = "sso_domains_list",
    params(DomainListQuery),
    responses(
        (status = 200, description = "A page of domains", body = DomainPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["identity:read"]), ("session" = ["identity:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DomainListQuery>,
) -> ApiResult<axum::Json<DomainPage>> {
    caller.require(Permission::IdentityRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_domains(&mut tx, &caller.scope, q.starting_after.as_deref(), fetch).await?;
    tx.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), Domain::from);
    Ok(axum::Json(page.into()))
}

async fn load(c: &mut sqlx::AnyConnection, caller: &Caller, id: &DomainId) -> ApiResult<DomainRow> {
    db::get_domain(c, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("sso_domain"))
}

/// Get a domain.
#[utoipa::path(
    get, path = "/v1/sso/domains/{id}", tag = "sso_domains", operation_id = "sso_domains_get",
    params(("id" = DomainId, Path)),
    responses(
        (status = 200, description = "The domain", body = Domain),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["identity:read"]), ("session" = ["identity:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<DomainId>,
) -> ApiResult<axum::Json<Domain>> {
    caller.require(Permission::IdentityRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = load(&mut tx, &caller, &id).await?;
    tx.end();
    Ok(axum::Json(row.into()))
}

/// Look up the domain's TXT record now; verified when it holds the expected value.
#[utoipa::path(
    post, path = "/v1/sso/domains/{id}/verify", tag = "sso_domains", operation_id = "sso_domains_verify",
    params(("id" = DomainId, Path)),
    responses(
        (status = 200, description = "Verified", body = Domain),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 422, response = crate::openapi::Unprocessable),
    ),
    security(("api_key" = ["identity:write"]), ("session" = ["identity:write"]))
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<DomainId>,
) -> ApiResult<axum::Json<Domain>> {
    caller.require(Permission::IdentityWrite)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let mut row = load(&mut tx, &caller, &id).await?;
    tx.end();
    if row.verified_at.is_some() {
        return Ok(axum::Json(row.into()));
    }
    // Outside any transaction: DNS can be slow.
    let name = record_name(&row.domain);
    let expected = record_value(&row.verification_token);
    let found = state
        .outbound
        .txt(&name)
        .await
        .map_err(|e| ApiError::Unprocessable {
            code: "domain_verification_failed",
            detail: format!("The TXT lookup of {name} failed: {e}"),
        })?;
    if !found.iter().any(|v| v.trim() == expected) {
        return Err(ApiError::Unprocessable {
            code: "domain_verification_failed",
            detail: format!(
                "No TXT record {name} with the value {expected} was found ({} other value(s)).",
                found.len()
            ),
        });
    }
    row.verified_at = Some(state.clock.now_ms());
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    match db::update_domain(&mut tx, &row).await {
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::conflict(
                "domain_taken",
                format!("{} is verified by another organization.", row.domain),
            ));
        }
        other => other?,
    }
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "sso_domain.verified",
        ("sso_domain", &row.id),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(row.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDomainRequest {
    /// Require single sign-on of members with an address in this (verified) domain.
    pub sso_required: bool,
}

/// Turn single sign-on enforcement on or off for a verified domain.
///
/// Turning it on ends the password sessions of everyone with an address in the domain (but
/// the caller's).
#[utoipa::path(
    patch, path = "/v1/sso/domains/{id}", tag = "sso_domains", operation_id = "sso_domains_update",
    params(("id" = DomainId, Path)),
    request_body = UpdateDomainRequest,
    responses(
        (status = 200, description = "Updated", body = Domain),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["identity:write"]), ("session" = ["identity:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<DomainId>,
    Json(req): Json<UpdateDomainRequest>,
) -> ApiResult<axum::Json<Domain>> {
    caller.require(Permission::IdentityWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = load(&mut tx, &caller, &id).await?;
    if row.verified_at.is_none() {
        return Err(ApiError::conflict(
            "domain_unverified",
            "Verify the domain before requiring single sign-on for it.",
        ));
    }
    row.sso_required = i64::from(req.sso_required);
    db::update_domain(&mut tx, &row).await?;
    if req.sso_required {
        // From now on the domain's people log in through single sign-on only; the caller's own
        // session stays, so turning it on does not log them out mid-way.
        let own = match &caller.actor {
            Actor::Session(id) => Some(id.as_str()),
            Actor::ApiKey(_) => None,
        };
        db::revoke_password_sessions(&mut tx, &row.domain, own, state.clock.now_ms()).await?;
    }
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "sso_domain.updated",
        ("sso_domain", &row.id),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(row.into()))
}

/// Release a domain.
#[utoipa::path(
    delete, path = "/v1/sso/domains/{id}", tag = "sso_domains", operation_id = "sso_domains_delete",
    params(("id" = DomainId, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["identity:write"]), ("session" = ["identity:write"]))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<DomainId>,
) -> ApiResult<StatusCode> {
    caller.require(Permission::IdentityWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    load(&mut tx, &caller, &id).await?;
    db::delete_domain(&mut tx, &caller.scope, id.as_str()).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "sso_domain.deleted",
        ("sso_domain", id.as_str()),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Products (`/v1/products`): what a tenant sells, with the features its plans grant.
//! Archived products keep their prices working but take no new ones.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit;
use crate::billing::{Feature, check_features, check_metadata};
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::metering::quotas::check_feature_meters;
use crate::tenancy::{Permission, check_name};
use domain::clock::timestamp;
use domain::ids::ProductId;
use store::billing::{self as db, ProductRow};

#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    pub id: ProductId,
    #[schema(example = "Pro plan")]
    pub name: String,
    pub description: Option<String>,
    /// False once archived.
    pub active: bool,
    /// What the product's plans grant.
    pub features: Vec<Feature>,
    pub metadata: BTreeMap<String, String>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

impl Product {
    fn from_row(r: ProductRow) -> ApiResult<Self> {
        Ok(Product {
            features: r.features.0,
            metadata: r.metadata.0,
            id: ProductId::from_db(r.id),
            name: r.name,
            description: r.description,
            active: r.archived_at.is_none(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn check_description(d: Option<String>) -> ApiResult<Option<String>> {
    match d {
        Some(d) if d.chars().count() > 2000 => Err(ApiError::validation(
            "description",
            "must be at most 2000 characters",
        )),
        other => Ok(other),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Pro plan"
    )]
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub features: Vec<Feature>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Create a product.
#[utoipa::path(
    post, path = "/v1/products", tag = "products", operation_id = "products_create",
    request_body = CreateProductRequest,
    responses(
        (status = 201, description = "Created", body = Product),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateProductRequest>,
) -> ApiResult<(StatusCode, axum::Json<Product>)> {
    caller.require(Permission::BillingWrite)?;
    check_features(&req.features)?;
    check_metadata(&req.metadata)?;
    let now = state.clock.now_ms();
    let row = ProductRow {
        id: ProductId::generate().to_string(),
        name: check_name("name", &req.name)?,
        description: check_description(req.description)?,
        features: req.features.into(),
        metadata: req.metadata.into(),
        created_at: now,
        updated_at: now,
        archived_at: None,
    };
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    check_feature_meters(&mut tx, &caller.scope, &row.features).await?;
    db::insert_product(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "product.created",
        ("product", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(Product::from_row(row)?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only active (true) or archived (false) products.
    pub active: Option<bool>,
}

/// List products, newest first.
#[utoipa::path(
    get, path = "/v1/products", tag = "products", operation_id = "products_list",
    params(ProductQuery),
    responses(
        (status = 200, description = "A page of products", body = ProductPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ProductQuery>,
) -> ApiResult<axum::Json<ProductPage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_products(
        &mut tx,
        &caller.scope,
        q.active,
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), |r| r).try_map(Product::from_row)?;
    Ok(axum::Json(page.into()))
}

async fn load(
    tx: &mut sqlx::AnyConnection,
    caller: &Caller,
    id: &ProductId,
) -> ApiResult<ProductRow> {
    db::get_product(tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("product"))
}

/// Get a product.
#[utoipa::path(
    get, path = "/v1/products/{id}", tag = "products", operation_id = "products_get",
    params(("id" = ProductId, Path)),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ProductId>,
) -> ApiResult<axum::Json<Product>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = load(&mut tx, &caller, &id).await?;
    tx.end();
    Ok(axum::Json(Product::from_row(row)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    pub description: Option<String>,
    /// Replaces the whole list.
    pub features: Option<Vec<Feature>>,
    /// Replaces the whole map.
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Update a product's name, description, features or metadata.
#[utoipa::path(
    post, path = "/v1/products/{id}", tag = "products", operation_id = "products_update",
    params(("id" = ProductId, Path)),
    request_body = UpdateProductRequest,
    responses(
        (status = 200, description = "Updated", body = Product),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ProductId>,
    Json(req): Json<UpdateProductRequest>,
) -> ApiResult<axum::Json<Product>> {
    caller.require(Permission::BillingWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = load(&mut tx, &caller, &id).await?;
    if let Some(name) = &req.name {
        row.name = check_name("name", name)?;
    }
    if req.description.is_some() {
        row.description = check_description(req.description)?;
    }
    if let Some(features) = req.features {
        check_features(&features)?;
        check_feature_meters(&mut tx, &caller.scope, &features).await?;
        row.features = features.into();
    }
    if let Some(metadata) = req.metadata {
        check_metadata(&metadata)?;
        row.metadata = metadata.into();
    }
    save(&state, &caller, tx, row, "product.updated").await
}

/// Archive a product: its prices keep billing, but it takes no new prices.
#[utoipa::path(
    post, path = "/v1/products/{id}/archive", tag = "products", operation_id = "products_archive",
    params(("id" = ProductId, Path)),
    responses(
        (status = 200, description = "Archived", body = Product),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<ProductId>,
) -> ApiResult<axum::Json<Product>> {
    caller.require(Permission::BillingWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = load(&mut tx, &caller, &id).await?;
    row.archived_at = row.archived_at.or(Some(state.clock.now_ms()));
    save(&state, &caller, tx, row, "product.archived").await
}

/// Writes the changed product with its audit event and answers with it.
async fn save(
    state: &AppState,
    caller: &Caller,
    mut tx: store::Tx,
    mut row: ProductRow,
    action: &str,
) -> ApiResult<axum::Json<Product>> {
    let now = state.clock.now_ms();
    row.updated_at = now;
    db::update_product(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        caller.into(),
        action,
        ("product", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(Product::from_row(row)?))
}

page_type!(ProductPage, Product);

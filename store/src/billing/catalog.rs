//! Products and their prices.

use std::collections::BTreeMap;

use crate::columns::Json;
use crate::scoped;
use domain::billing::{Feature, PriceTerms};
use domain::tenancy::Scope;
use sqlx::{AnyConnection, FromRow};

#[derive(Debug, FromRow)]
pub struct ProductRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub features: Json<Vec<Feature>>,
    pub metadata: Json<BTreeMap<String, String>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

pub async fn insert_product(
    c: &mut AnyConnection,
    scope: &Scope,
    p: &ProductRow,
) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO products (tenant_id, env, id, name, description, features, metadata, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        scope,
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(p.description.as_deref())
    .bind(&p.features)
    .bind(&p.metadata)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn update_product(
    c: &mut AnyConnection,
    scope: &Scope,
    p: &ProductRow,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE products SET name = $4, description = $5, features = $6, metadata = $7, updated_at = $8, archived_at = $9
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(&p.id)
    .bind(&p.name)
    .bind(p.description.as_deref())
    .bind(&p.features)
    .bind(&p.metadata)
    .bind(p.updated_at)
    .bind(p.archived_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_product(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<ProductRow>> {
    scoped::query_as(
        "SELECT id, name, description, features, metadata, created_at, updated_at, archived_at
         FROM products WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

/// Newest first; `active` filters on archived or not.
pub async fn list_products(
    c: &mut AnyConnection,
    scope: &Scope,
    active: Option<bool>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<ProductRow>> {
    scoped::query_as(
        "SELECT id, name, description, features, metadata, created_at, updated_at, archived_at
         FROM products WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR ($3 = 1) = (archived_at IS NULL))
         AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
        scope,
    )
    .bind(active.map(i64::from))
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

#[derive(Debug, FromRow)]
pub struct PriceRow {
    pub id: String,
    pub product_id: String,
    pub currency: String,
    pub nickname: Option<String>,
    pub terms: Json<PriceTerms>,
    pub created_at: i64,
    pub archived_at: Option<i64>,
}

pub async fn insert_price(c: &mut AnyConnection, scope: &Scope, p: &PriceRow) -> sqlx::Result<()> {
    scoped::query(
        "INSERT INTO prices (tenant_id, env, id, product_id, currency, nickname, terms, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        scope,
    )
    .bind(&p.id)
    .bind(&p.product_id)
    .bind(&p.currency)
    .bind(p.nickname.as_deref())
    .bind(&p.terms)
    .bind(p.created_at)
    .execute(c)
    .await
    .map(|_| ())
}

/// Prices change only in their nickname and archival: terms are history.
pub async fn update_price(c: &mut AnyConnection, scope: &Scope, p: &PriceRow) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE prices SET nickname = $4, archived_at = $5
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(&p.id)
    .bind(p.nickname.as_deref())
    .bind(p.archived_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_price(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<PriceRow>> {
    scoped::query_as(
        "SELECT id, product_id, currency, nickname, terms, created_at, archived_at
         FROM prices WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn list_prices(
    c: &mut AnyConnection,
    scope: &Scope,
    product: Option<&str>,
    active: Option<bool>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<PriceRow>> {
    scoped::query_as(
        "SELECT id, product_id, currency, nickname, terms, created_at, archived_at
         FROM prices WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR product_id = $3)
         AND ($4 IS NULL OR ($4 = 1) = (archived_at IS NULL))
         AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
        scope,
    )
    .bind(product)
    .bind(active.map(i64::from))
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

//! Catalog storage: products and prices of one tenant and environment. Portable SQL; every
//! query filters on `tenant_id` and `env`.

use sqlx::{AnyConnection, FromRow};

use crate::tenancy::Scope;

#[derive(Debug, FromRow)]
pub struct ProductRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// JSON array of features.
    pub features: String,
    /// JSON object of strings.
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
}

pub async fn insert_product(
    c: &mut AnyConnection,
    scope: &Scope,
    p: &ProductRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO products (id, tenant_id, env, name, description, features, metadata, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&p.id)
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
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
    sqlx::query(
        "UPDATE products SET name = $4, description = $5, features = $6, metadata = $7, updated_at = $8, archived_at = $9
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
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
    sqlx::query_as(
        "SELECT id, name, description, features, metadata, created_at, updated_at, archived_at
         FROM products WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
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
    sqlx::query_as(
        "SELECT id, name, description, features, metadata, created_at, updated_at, archived_at
         FROM products WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR ($3 = 1) = (archived_at IS NULL))
         AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
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
    /// JSON of `PriceTerms`.
    pub terms: String,
    pub created_at: i64,
    pub archived_at: Option<i64>,
}

pub async fn insert_price(c: &mut AnyConnection, scope: &Scope, p: &PriceRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO prices (id, tenant_id, env, product_id, currency, nickname, terms, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&p.id)
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
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
    sqlx::query("UPDATE prices SET nickname = $4, archived_at = $5 WHERE tenant_id = $1 AND env = $2 AND id = $3")
        .bind(scope.org_id.as_str())
        .bind(scope.env.as_str())
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
    sqlx::query_as(
        "SELECT id, product_id, currency, nickname, terms, created_at, archived_at
         FROM prices WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
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
    sqlx::query_as(
        "SELECT id, product_id, currency, nickname, terms, created_at, archived_at
         FROM prices WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR product_id = $3)
         AND ($4 IS NULL OR ($4 = 1) = (archived_at IS NULL))
         AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(product)
    .bind(active.map(i64::from))
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

#[derive(Debug, FromRow)]
pub struct CustomerRow {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// JSON of `Address`.
    pub address: Option<String>,
    /// JSON array of `TaxId`.
    pub tax_ids: String,
    pub metadata: String,
    pub default_payment_method: Option<String>,
    pub currency: Option<String>,
    pub balance: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! customer_columns {
    () => {
        "id, name, email, address, tax_ids, metadata, default_payment_method, currency, balance, created_at, updated_at"
    };
}

pub async fn insert_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CustomerRow,
) -> sqlx::Result<()> {
    sqlx::query(concat!(
        "INSERT INTO customers (tenant_id, env, ",
        customer_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(r.name.as_deref())
    .bind(r.email.as_deref())
    .bind(r.address.as_deref())
    .bind(&r.tax_ids)
    .bind(&r.metadata)
    .bind(r.default_payment_method.as_deref())
    .bind(r.currency.as_deref())
    .bind(r.balance)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn update_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CustomerRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE customers SET name = $4, email = $5, address = $6, tax_ids = $7, metadata = $8,
         default_payment_method = $9, currency = $10, balance = $11, updated_at = $12
         WHERE tenant_id = $1 AND env = $2 AND id = $3",
    )
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(&r.id)
    .bind(r.name.as_deref())
    .bind(r.email.as_deref())
    .bind(r.address.as_deref())
    .bind(&r.tax_ids)
    .bind(&r.metadata)
    .bind(r.default_payment_method.as_deref())
    .bind(r.currency.as_deref())
    .bind(r.balance)
    .bind(r.updated_at)
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<CustomerRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        customer_columns!(),
        " FROM customers WHERE tenant_id = $1 AND env = $2 AND id = $3"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(id)
    .fetch_optional(c)
    .await
}

pub async fn list_customers(
    c: &mut AnyConnection,
    scope: &Scope,
    email: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<CustomerRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        customer_columns!(),
        " FROM customers WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR email = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    ))
    .bind(scope.org_id.as_str())
    .bind(scope.env.as_str())
    .bind(email)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

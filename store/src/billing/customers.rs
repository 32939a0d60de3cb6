//! Customers.

use std::collections::BTreeMap;

use crate::columns::Json;
use crate::scoped;
use domain::billing::views::Customer;
use domain::billing::{Address, TaxId};
use domain::ids::{CustomerId, TestClockId};
use domain::tenancy::Scope;
use sqlx::{AnyConnection, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct CustomerRow {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub address: Option<Json<Address>>,
    pub tax_ids: Json<Vec<TaxId>>,
    pub metadata: Json<BTreeMap<String, String>>,
    pub default_payment_method: Option<String>,
    pub currency: Option<String>,
    pub balance: i64,
    pub test_clock: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The founder's own id for the customer; usage events may name it instead of `id`.
    pub external_id: Option<String>,
}

macro_rules! customer_columns {
    () => {
        "id, name, email, address, tax_ids, metadata, default_payment_method, currency, balance, test_clock, created_at, updated_at, external_id"
    };
}

pub async fn insert_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CustomerRow,
) -> sqlx::Result<()> {
    scoped::query(
        concat!(
            "INSERT INTO customers (tenant_id, env, ",
            customer_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ),
        scope,
    )
    .bind(&r.id)
    .bind(r.name.as_deref())
    .bind(r.email.as_deref())
    .bind(&r.address)
    .bind(&r.tax_ids)
    .bind(&r.metadata)
    .bind(r.default_payment_method.as_deref())
    .bind(r.currency.as_deref())
    .bind(r.balance)
    .bind(r.test_clock.as_deref())
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(r.external_id.as_deref())
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn update_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    r: &CustomerRow,
) -> sqlx::Result<()> {
    scoped::query(
        "UPDATE customers SET name = $4, email = $5, address = $6, tax_ids = $7, metadata = $8,
         default_payment_method = $9, currency = $10, balance = $11, updated_at = $12,
         external_id = $13 WHERE tenant_id = $1 AND env = $2 AND id = $3",
        scope,
    )
    .bind(&r.id)
    .bind(r.name.as_deref())
    .bind(r.email.as_deref())
    .bind(&r.address)
    .bind(&r.tax_ids)
    .bind(&r.metadata)
    .bind(r.default_payment_method.as_deref())
    .bind(r.currency.as_deref())
    .bind(r.balance)
    .bind(r.updated_at)
    .bind(r.external_id.as_deref())
    .execute(c)
    .await
    .map(|_| ())
}

pub async fn get_customer(
    c: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> sqlx::Result<Option<CustomerRow>> {
    Ok(get_customers(c, scope, &[id]).await?.pop())
}

pub async fn get_customers(
    c: &mut AnyConnection,
    scope: &Scope,
    ids: &[&str],
) -> sqlx::Result<Vec<CustomerRow>> {
    let sql = concat!(
        "SELECT ",
        customer_columns!(),
        " FROM customers WHERE tenant_id = $1 AND env = $2 AND id IN ({keys})"
    );
    crate::fetch_in(c, scope, sql, ids).await
}

pub async fn list_customers(
    c: &mut AnyConnection,
    scope: &Scope,
    email: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<CustomerRow>> {
    scoped::query_as(
        concat!(
            "SELECT ",
            customer_columns!(),
            " FROM customers WHERE tenant_id = $1 AND env = $2
         AND ($3 IS NULL OR email = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        ),
        scope,
    )
    .bind(email)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

impl From<CustomerRow> for Customer {
    fn from(r: CustomerRow) -> Self {
        Customer {
            address: r.address.map(|a| a.0),
            tax_ids: r.tax_ids.0,
            metadata: r.metadata.0,
            id: CustomerId::from_db(r.id),
            name: r.name,
            email: r.email,
            default_payment_method: r.default_payment_method,
            currency: r.currency,
            balance: r.balance,
            test_clock: r.test_clock.map(TestClockId::from_db),
            external_id: r.external_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

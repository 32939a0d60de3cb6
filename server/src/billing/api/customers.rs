//! Customers (`/v1/customers`): the tenant's own customers, whom it bills.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::billing::notify;
use crate::billing::{Address, TaxId, check_currency, check_metadata, check_tax_ids};
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::{Email, Permission, check_name};
use domain::billing::views::Customer;
use domain::ids::{CustomerId, TestClockId};
use store::billing::{self as db, CustomerRow};
use store::is_unique_violation;

/// The writable fields, shared by create (all optional) and update (present ones replace).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerFields {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Globex GmbH"
    )]
    pub name: Option<String>,
    #[schema(example = "billing@globex.example", format = Email)]
    pub email: Option<String>,
    pub address: Option<Address>,
    pub tax_ids: Option<Vec<TaxId>>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub default_payment_method: Option<String>,
    #[schema(example = "eur")]
    pub currency: Option<String>,
    pub balance: Option<i64>,
    /// Sandbox only, at creation only: the customer's billing follows this test clock.
    pub test_clock: Option<TestClockId>,
    /// Your own id for the customer, unique per environment: 1 to 255 characters, not
    /// starting with `cus_`. Usage events may name the customer by it.
    #[schema(example = "acme-corp")]
    pub external_id: Option<String>,
}

impl CustomerFields {
    /// Validates the present fields and writes them into `row` (all but `test_clock`, which
    /// only creation handles).
    fn apply(self, row: &mut CustomerRow) -> ApiResult<()> {
        if let Some(name) = &self.name {
            row.name = Some(check_name("name", name)?);
        }
        if let Some(email) = &self.email {
            row.email = Some(Email::parse("email", email)?.as_str().to_owned());
        }
        if let Some(address) = self.address {
            row.address = Some(address.check()?.into());
        }
        if let Some(tax_ids) = self.tax_ids {
            check_tax_ids(&tax_ids)?;
            row.tax_ids = tax_ids.into();
        }
        if let Some(metadata) = self.metadata {
            check_metadata(&metadata)?;
            row.metadata = metadata.into();
        }
        if let Some(pm) = self.default_payment_method {
            if pm.is_empty() || pm.len() > 255 {
                return Err(ApiError::validation(
                    "default_payment_method",
                    "must be 1 to 255 characters",
                ));
            }
            row.default_payment_method = Some(pm);
        }
        if let Some(ext) = self.external_id {
            if ext.is_empty() || ext.len() > 255 || ext.starts_with("cus_") {
                return Err(ApiError::validation(
                    "external_id",
                    "must be 1 to 255 characters, not starting with cus_",
                ));
            }
            row.external_id = Some(ext);
        }
        if let Some(currency) = &self.currency {
            row.currency = Some(check_currency(currency)?);
        }
        if let Some(balance) = self.balance {
            if row.currency.is_none() {
                return Err(ApiError::validation(
                    "balance",
                    "needs the customer's currency",
                ));
            }
            row.balance = balance;
        }
        Ok(())
    }
}

/// Create a customer.
#[utoipa::path(
    post, path = "/v1/customers", tag = "customers", operation_id = "customers_create",
    request_body = CustomerFields,
    responses(
        (status = 201, description = "Created", body = Customer),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CustomerFields>,
) -> ApiResult<(StatusCode, axum::Json<Customer>)> {
    caller.require(Permission::BillingWrite)?;
    let now = state.clock.now_ms();
    let mut row = CustomerRow {
        id: CustomerId::generate().to_string(),
        name: None,
        email: None,
        address: None,
        tax_ids: Default::default(),
        metadata: Default::default(),
        default_payment_method: None,
        currency: None,
        balance: 0,
        test_clock: None,
        created_at: now,
        updated_at: now,
        external_id: None,
    };
    let test_clock = req.test_clock.clone();
    req.apply(&mut row)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    if let Some(clock) = &test_clock {
        super::test_clocks::sandbox_only(&caller)?;
        db::get_test_clock(&mut tx, &caller.scope, clock.as_str())
            .await?
            .ok_or(ApiError::NotFound("test_clock"))?;
        row.test_clock = Some(clock.to_string());
    }
    db::insert_customer(&mut tx, &caller.scope, &row)
        .await
        .map_err(external_id_taken)?;
    notify(
        &mut tx,
        &state.clock,
        &caller.scope,
        &(&caller).into(),
        "customer.created",
        &row,
    )
    .await?;
    tx.commit().await?;
    let customer = Customer::from(row);
    Ok((StatusCode::CREATED, axum::Json(customer)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only customers with this email (case-insensitive).
    #[param(format = Email)]
    pub email: Option<String>,
}

/// List customers, newest first.
#[utoipa::path(
    get, path = "/v1/customers", tag = "customers", operation_id = "customers_list",
    params(CustomerQuery),
    responses(
        (status = 200, description = "A page of customers", body = CustomerPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CustomerQuery>,
) -> ApiResult<axum::Json<CustomerPage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let email = q
        .email
        .as_deref()
        .map(|e| Email::parse("email", e))
        .transpose()?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_customers(
        &mut tx,
        &caller.scope,
        email.as_ref().map(Email::as_str),
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), Customer::from);
    Ok(axum::Json(page.into()))
}

/// Get a customer.
#[utoipa::path(
    get, path = "/v1/customers/{id}", tag = "customers", operation_id = "customers_get",
    params(("id" = CustomerId, Path)),
    responses(
        (status = 200, description = "The customer", body = Customer),
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
    Path(id): Path<CustomerId>,
) -> ApiResult<axum::Json<Customer>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_customer(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    tx.end();
    Ok(axum::Json(Customer::from(row)))
}

/// Update a customer: present fields replace the current ones.
#[utoipa::path(
    post, path = "/v1/customers/{id}", tag = "customers", operation_id = "customers_update",
    params(("id" = CustomerId, Path)),
    request_body = CustomerFields,
    responses(
        (status = 200, description = "Updated", body = Customer),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CustomerId>,
    Json(req): Json<CustomerFields>,
) -> ApiResult<axum::Json<Customer>> {
    caller.require(Permission::BillingWrite)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = db::get_customer(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    if req.test_clock.is_some() {
        return Err(ApiError::validation(
            "test_clock",
            "can only be set when the customer is created",
        ));
    }
    req.apply(&mut row)?;
    row.updated_at = now;
    db::update_customer(&mut tx, &caller.scope, &row)
        .await
        .map_err(external_id_taken)?;
    notify(
        &mut tx,
        &state.clock,
        &caller.scope,
        &(&caller).into(),
        "customer.updated",
        &row,
    )
    .await?;
    tx.commit().await?;
    let customer = Customer::from(row);
    Ok(axum::Json(customer))
}

page_type!(CustomerPage, Customer);

/// The only unique column a customer write can collide on is `external_id`.
fn external_id_taken(e: sqlx::Error) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::conflict(
            "external_id_taken",
            "Another customer in this environment has this external_id.",
        )
    } else {
        e.into()
    }
}

//! Invoices (`/v1/invoices`), created when a subscription period starts.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::stored;
use crate::app::AppState;
use crate::billing::store::{self as db, InvoiceRow};
use crate::billing::subscriptions::Line;
use crate::clock::timestamp;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::ids::{CustomerId, InvoiceId, SubscriptionId};
use crate::tenancy::Permission;

#[derive(Debug, Serialize, ToSchema)]
pub struct Invoice {
    pub id: InvoiceId,
    /// Sequential per organization and environment.
    #[schema(example = "INV-000042")]
    pub number: String,
    pub customer: CustomerId,
    pub subscription: Option<SubscriptionId>,
    /// `paid`, or `open` while unpaid.
    #[schema(example = "paid")]
    pub status: String,
    #[schema(example = "usd")]
    pub currency: String,
    /// Minor units: the sum of the lines.
    pub total: i64,
    pub lines: Vec<Line>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub period_start: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub period_end: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub paid_at: Option<i64>,
    /// Why the last payment attempt failed (`card_declined`, `insufficient_funds`…).
    pub payment_error: Option<String>,
}

impl Invoice {
    fn from_row(r: InvoiceRow) -> ApiResult<Self> {
        Ok(Invoice {
            lines: stored("lines", &r.lines)?,
            id: InvoiceId::from_db(r.id),
            number: r.number,
            customer: CustomerId::from_db(r.customer_id),
            subscription: r.subscription_id.map(SubscriptionId::from_db),
            status: r.status,
            currency: r.currency,
            total: r.total,
            period_start: r.period_start,
            period_end: r.period_end,
            created_at: r.created_at,
            paid_at: r.paid_at,
            payment_error: r.payment_error,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvoiceQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only this subscription's invoices.
    pub subscription: Option<String>,
}

/// List invoices, newest first.
#[utoipa::path(
    get, path = "/v1/invoices", tag = "invoices", operation_id = "invoices_list",
    params(InvoiceQuery),
    responses(
        (status = 200, description = "A page of invoices", body = InvoicePage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<InvoiceQuery>,
) -> ApiResult<axum::Json<InvoicePage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_invoices(
        &mut tx,
        &caller.scope,
        q.subscription.as_deref(),
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.commit().await?;
    let page = Page::new(rows, fetch, |r| r.id.clone(), |r| r).try_map(Invoice::from_row)?;
    Ok(axum::Json(page.into()))
}

/// Get an invoice.
#[utoipa::path(
    get, path = "/v1/invoices/{id}", tag = "invoices", operation_id = "invoices_get",
    params(("id" = InvoiceId, Path)),
    responses(
        (status = 200, description = "The invoice", body = Invoice),
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
    Path(id): Path<InvoiceId>,
) -> ApiResult<axum::Json<Invoice>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_invoice(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    tx.commit().await?;
    Ok(axum::Json(Invoice::from_row(row)?))
}

page_type!(InvoicePage, Invoice);

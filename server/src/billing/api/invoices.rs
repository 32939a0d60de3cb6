//! Invoices (`/v1/invoices`), created when a subscription period starts.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::stored;
use crate::app::AppState;
use crate::audit;
use crate::billing::payments::{Outcome, charge};
use crate::billing::store::{self as db, InvoiceRow};
use crate::billing::subscriptions::{ACTIVE, Line, PAST_DUE, now_for};
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
    /// `open` while unpaid, then `paid`, `void` or `uncollectible`.
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

/// The invoice transitions: only an open invoice is paid, voided or written off.
#[derive(Debug, Clone, Copy)]
enum Transition {
    Pay,
    Void,
    MarkUncollectible,
}

async fn transition(
    state: &AppState,
    caller: &Caller,
    id: &InvoiceId,
    t: Transition,
) -> ApiResult<axum::Json<Invoice>> {
    caller.require(Permission::BillingWrite)?;
    let scope = &caller.scope;
    let mut tx = state.db.write_scoped(scope).await?;
    let mut invoice = db::get_invoice(&mut tx, scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    if invoice.status != "open" {
        return Err(ApiError::conflict(
            "invoice_not_open",
            format!(
                "The invoice is {}; only open invoices change.",
                invoice.status
            ),
        ));
    }
    let customer = db::get_customer(&mut tx, scope, &invoice.customer_id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let now = now_for(&mut tx, state, scope, &customer).await?;
    let action = match t {
        Transition::Void => {
            invoice.status = "void".into();
            "invoice.voided"
        }
        Transition::MarkUncollectible => {
            invoice.status = "uncollectible".into();
            "invoice.marked_uncollectible"
        }
        Transition::Pay => {
            let pm = customer.default_payment_method.as_deref().ok_or_else(|| {
                ApiError::conflict(
                    "no_payment_method",
                    "The customer has no default payment method to charge.",
                )
            })?;
            match charge(pm, invoice.total) {
                Outcome::Paid => {
                    invoice.status = "paid".into();
                    invoice.paid_at = Some(now);
                    invoice.payment_error = None;
                    recover_subscription(&mut tx, scope, invoice.subscription_id.as_deref())
                        .await?;
                    "invoice.paid"
                }
                Outcome::Failed(code) => {
                    invoice.payment_error = Some(code.into());
                    "invoice.payment_failed"
                }
            }
        }
    };
    db::set_invoice_status(&mut tx, scope, &invoice).await?;
    audit::record(
        &mut tx,
        scope,
        caller.into(),
        action,
        ("invoice", &invoice.id),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(Invoice::from_row(invoice)?))
}

/// A past-due subscription whose invoice got paid is active again.
async fn recover_subscription(
    tx: &mut sqlx::AnyConnection,
    scope: &crate::tenancy::Scope,
    id: Option<&str>,
) -> ApiResult<()> {
    let Some(id) = id else { return Ok(()) };
    if let Some(mut sub) = db::get_subscription(tx, scope, id)
        .await?
        .filter(|s| s.status == PAST_DUE)
    {
        sub.status = ACTIVE.into();
        db::update_subscription(tx, scope, &sub).await?;
    }
    Ok(())
}

/// Charge an open invoice again, to the customer's current default payment method.
#[utoipa::path(
    post, path = "/v1/invoices/{id}/pay", tag = "invoices", operation_id = "invoices_pay",
    params(("id" = InvoiceId, Path)),
    responses(
        (status = 200, description = "The invoice after the attempt: `paid`, or still `open` with `payment_error`", body = Invoice),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn pay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InvoiceId>,
) -> ApiResult<axum::Json<Invoice>> {
    transition(&state, &caller, &id, Transition::Pay).await
}

/// Void an open invoice: it is no longer owed.
#[utoipa::path(
    post, path = "/v1/invoices/{id}/void", tag = "invoices", operation_id = "invoices_void",
    params(("id" = InvoiceId, Path)),
    responses(
        (status = 200, description = "Voided", body = Invoice),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn void(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InvoiceId>,
) -> ApiResult<axum::Json<Invoice>> {
    transition(&state, &caller, &id, Transition::Void).await
}

/// Write an open invoice off as uncollectible.
#[utoipa::path(
    post, path = "/v1/invoices/{id}/mark_uncollectible", tag = "invoices", operation_id = "invoices_mark_uncollectible",
    params(("id" = InvoiceId, Path)),
    responses(
        (status = 200, description = "Marked uncollectible", body = Invoice),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn mark_uncollectible(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InvoiceId>,
) -> ApiResult<axum::Json<Invoice>> {
    transition(&state, &caller, &id, Transition::MarkUncollectible).await
}

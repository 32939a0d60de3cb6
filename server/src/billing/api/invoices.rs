//! Invoices (`/v1/invoices`): created as drafts when a subscription period starts or
//! changes, finalized and collected by `billing::collection`.

use axum::extract::State;
use domain::billing::status::InvoiceStatus;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::audit::ActorRef;
use crate::billing::collection;
use crate::billing::subscriptions::now_for;
use crate::billing::{html, notify};
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::Permission;
use domain::billing::views::Invoice;
use domain::ids::InvoiceId;
use store::Claim;
use store::billing::{self as db};

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
    /// Only this customer's invoices.
    pub customer: Option<String>,
    /// Only invoices in this status.
    pub status: Option<InvoiceStatus>,
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
        q.customer.as_deref(),
        q.status,
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), Invoice::from);
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
    tx.end();
    Ok(axum::Json(Invoice::from(row)))
}

page_type!(InvoicePage, Invoice);

/// Closes an invoice without payment: voided (a draft or open one) or written off (an open
/// one). Nothing is collected afterwards.
async fn close(
    state: &AppState,
    caller: &Caller,
    id: &InvoiceId,
    to: InvoiceStatus,
) -> ApiResult<axum::Json<Invoice>> {
    caller.require(Permission::BillingWrite)?;
    let scope = &caller.scope;
    let mut tx = state.db.write_scoped(scope).await?;
    let mut invoice = db::claim_invoice(&mut tx, scope, id.as_str(), Claim::Wait)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    let (allowed, status, event): (&[InvoiceStatus], _, _) = match to {
        InvoiceStatus::Void => (
            &[InvoiceStatus::Draft, InvoiceStatus::Open],
            InvoiceStatus::Void,
            "invoice.voided",
        ),
        _ => (
            &[InvoiceStatus::Open],
            InvoiceStatus::Uncollectible,
            "invoice.marked_uncollectible",
        ),
    };
    if !allowed.contains(&invoice.status.0) {
        return Err(ApiError::conflict(
            "invoice_not_open",
            format!(
                "The invoice is {}; only {} invoices can become {status}.",
                invoice.status,
                allowed
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ));
    }
    invoice.status = status.into();
    invoice.due_at = None;
    db::update_invoice(&mut tx, scope, &invoice).await?;
    notify(
        &mut tx,
        &state.clock,
        scope,
        &caller.into(),
        event,
        &invoice,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(Invoice::from(invoice)))
}

/// Pay a draft or open invoice now, with the customer's current default payment method (a
/// draft is finalized first). A paid invoice brings its subscription back to active.
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
    caller.require(Permission::BillingWrite)?;
    let scope = &caller.scope;
    let mut conn = state.db.read_scoped(scope).await?;
    let invoice = db::get_invoice(&mut conn, scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    let customer = db::get_customer(&mut conn, scope, &invoice.customer_id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let now = now_for(&mut conn, &state.clock, scope, &customer).await?;
    conn.end();
    if customer.default_payment_method.is_none() && invoice.total > 0 {
        return Err(ApiError::conflict(
            "no_payment_method",
            "The customer has no default payment method to charge.",
        ));
    }
    let actor: ActorRef = (&caller).into();
    let paid = collection::process(&state, scope, &actor, id.as_str(), now, true)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    Ok(axum::Json(Invoice::from(paid)))
}

/// Void a draft or open invoice: it is no longer owed.
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
    close(&state, &caller, &id, InvoiceStatus::Void).await
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
    close(&state, &caller, &id, InvoiceStatus::Uncollectible).await
}

/// The invoice as an HTML page, to show or send to the customer.
#[utoipa::path(
    get, path = "/v1/invoices/{id}/html", tag = "invoices", operation_id = "invoices_html",
    params(("id" = InvoiceId, Path)),
    responses(
        (status = 200, description = "The invoice page", content_type = "text/html", body = String),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"])),
    // A page for browsers and emails, not data: no SDK method.
    extensions(("x-sdk-exclude" = json!(true)))
)]
pub async fn html(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<InvoiceId>,
) -> ApiResult<axum::response::Html<String>> {
    caller.require(Permission::BillingRead)?;
    let scope = &caller.scope;
    let mut conn = state.db.read_scoped(scope).await?;
    let invoice = db::get_invoice(&mut conn, scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    let customer = db::get_customer(&mut conn, scope, &invoice.customer_id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    conn.end();
    Ok(axum::response::Html(html::render(&invoice, &customer)?))
}

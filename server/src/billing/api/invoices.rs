//! Invoices (`/v1/invoices`): created as drafts when a subscription period starts or
//! changes, finalized and collected by `billing::collection`.

use axum::extract::State;
use domain::billing::status::InvoiceStatus;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit::ActorRef;
use crate::billing::collection;
use crate::billing::discounts::{InvoiceDiscount, InvoiceTax};
use crate::billing::subscriptions::now_for;
use crate::billing::{html, notify};
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::Permission;
use domain::billing::invoicing::Line;
use domain::clock::timestamp;
use domain::ids::{
    CouponId, CustomerId, InvoiceId, PriceId, PromotionCodeId, SubscriptionId, TaxRateId,
};
use store::Claim;
use store::billing::{self as db, InvoiceRow};

/// One line of an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceLine {
    pub price: PriceId,
    pub quantity: i64,
    /// Minor units; negative for a credit.
    pub amount: i64,
    /// A proration: the unused (credit) or remaining (charge) part of a period after a change.
    pub proration: bool,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub period_start: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub period_end: i64,
    /// A usage line's measured usage in the period (exact decimal); `quantity` is the part
    /// billed (less the price's included quantity), rounded up to a whole unit. A usage line
    /// for a period before the invoice's own is an adjustment for usage that arrived after
    /// that period was billed: `usage` is the period's usage now, and `quantity` and
    /// `amount` are what it adds to the period's earlier lines.
    #[schema(example = "12500.5")]
    pub usage: Option<String>,
}

impl From<Line> for InvoiceLine {
    fn from(l: Line) -> Self {
        InvoiceLine {
            price: PriceId::from_db(l.price),
            quantity: l.quantity,
            amount: l.amount,
            proration: l.proration,
            period_start: l.period_start,
            period_end: l.period_end,
            usage: l.usage,
        }
    }
}

/// A discount on an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceDiscountAmount {
    pub coupon: CouponId,
    pub promotion_code: Option<PromotionCodeId>,
    /// Minor units taken off.
    #[schema(example = 1250)]
    pub amount: i64,
}

impl From<InvoiceDiscount> for InvoiceDiscountAmount {
    fn from(d: InvoiceDiscount) -> Self {
        InvoiceDiscountAmount {
            coupon: CouponId::from_db(d.coupon),
            promotion_code: d.promotion_code.map(PromotionCodeId::from_db),
            amount: d.amount,
        }
    }
}

/// A tax on an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceTaxAmount {
    pub tax_rate: TaxRateId,
    #[schema(example = "Sales tax")]
    pub display_name: String,
    #[schema(example = "8.25")]
    pub percentage: String,
    /// Minor units taxed: the subtotal less the discount.
    #[schema(example = 3749)]
    pub taxable_amount: i64,
    /// Minor units, rounded once, half away from zero.
    #[schema(example = 309)]
    pub amount: i64,
}

impl From<InvoiceTax> for InvoiceTaxAmount {
    fn from(t: InvoiceTax) -> Self {
        InvoiceTaxAmount {
            tax_rate: TaxRateId::from_db(t.tax_rate),
            display_name: t.display_name,
            percentage: t.percentage,
            taxable_amount: t.taxable_amount,
            amount: t.amount,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invoice {
    pub id: InvoiceId,
    /// Sequential per organization and environment.
    #[schema(example = "INV-000042")]
    pub number: String,
    pub customer: CustomerId,
    pub subscription: Option<SubscriptionId>,
    pub status: InvoiceStatus,
    /// Why it exists: `subscription_create`, `subscription_cycle`, `subscription_update`
    /// (prorations invoiced at once) or `subscription_resume`.
    #[schema(example = "subscription_cycle")]
    pub billing_reason: String,
    #[schema(example = "usd")]
    pub currency: String,
    /// Minor units: the sum of the lines.
    pub subtotal: i64,
    /// Minor units taken off the subtotal by the subscription's discount.
    pub discount_amount: i64,
    /// Minor units of tax, on the subtotal less the discount.
    pub tax_amount: i64,
    /// The discount applied, if any (at most one).
    pub discounts: Vec<InvoiceDiscountAmount>,
    /// One entry per tax rate.
    pub taxes: Vec<InvoiceTaxAmount>,
    /// Minor units: what the invoice is worth (negative for a credit):
    /// subtotal − discount_amount + tax_amount.
    pub total: i64,
    /// The customer's balance applied at finalization (negative is credit).
    pub starting_balance: i64,
    /// Minor units charged: the total with the balance applied, never below zero.
    pub amount_due: i64,
    pub lines: Vec<InvoiceLine>,
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
    pub finalized_at: Option<i64>,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub paid_at: Option<i64>,
    /// Payment attempts so far.
    pub attempt_count: i64,
    /// When a draft is finalized and collected, or an open invoice's next payment retry.
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_action_at: Option<i64>,
    /// Why the last payment attempt failed (`card_declined`, `insufficient_funds`,
    /// `payment_method_missing`…).
    pub payment_error: Option<String>,
    /// The payment provider's id of the payment.
    pub payment_reference: Option<String>,
    /// Minor units refunded through the payment provider.
    pub amount_refunded: i64,
}

impl Invoice {
    pub fn from_row(r: InvoiceRow) -> ApiResult<Self> {
        Ok(Invoice {
            lines: r.lines.0.into_iter().map(InvoiceLine::from).collect(),
            id: InvoiceId::from_db(r.id),
            number: r.number,
            customer: CustomerId::from_db(r.customer_id),
            subscription: r.subscription_id.map(SubscriptionId::from_db),
            status: r.status.0,
            billing_reason: r.billing_reason,
            currency: r.currency,
            subtotal: r.subtotal,
            discount_amount: r.discount_amount,
            tax_amount: r.tax_amount,
            discounts: r.discounts.0.into_iter().map(Into::into).collect(),
            taxes: r.taxes.0.into_iter().map(Into::into).collect(),
            total: r.total,
            starting_balance: r.starting_balance,
            amount_due: r.amount_due,
            period_start: r.period_start,
            period_end: r.period_end,
            created_at: r.created_at,
            finalized_at: r.finalized_at,
            paid_at: r.paid_at,
            attempt_count: r.attempt_count,
            next_action_at: r.due_at,
            payment_error: r.payment_error,
            payment_reference: r.payment_reference,
            amount_refunded: r.amount_refunded,
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
    tx.end();
    Ok(axum::Json(Invoice::from_row(row)?))
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
    Ok(axum::Json(Invoice::from_row(invoice)?))
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
    let now = now_for(&mut conn, &state, scope, &customer).await?;
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
    Ok(axum::Json(Invoice::from_row(paid)?))
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

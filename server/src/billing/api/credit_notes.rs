//! Credit notes (`/v1/credit_notes`): money given back on a paid invoice, refunded through
//! the payment provider that collected it, or credited to the customer's balance (which pays
//! their next invoices first).

use axum::extract::State;
use axum::http::StatusCode;
use domain::billing::status::InvoiceStatus;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit::ActorRef;
use crate::billing::stripe::StripeProvider;
use crate::billing::{collection, notify};
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::{Permission, Scope};
use domain::billing::invoicing::CreditNoteReason;
use domain::billing::views::CreditNote;
use domain::ids::{CreditNoteId, InvoiceId};
use store::Claim;
use store::billing::{self as db, CreditNoteRow, InvoiceRow};
use store::columns::Text;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCreditNoteRequest {
    /// A paid invoice.
    pub invoice: InvoiceId,
    /// Minor units to refund through the payment provider. Without either amount, everything
    /// not yet given back is refunded.
    #[schema(minimum = 0, example = 1000)]
    pub refund_amount: Option<i64>,
    /// Minor units to credit to the customer's balance.
    #[schema(minimum = 0, example = 0)]
    pub credit_amount: Option<i64>,
    pub reason: Option<CreditNoteReason>,
    /// Shown on the credit note, up to 500 characters.
    pub memo: Option<String>,
}

/// What can still be given back on `invoice`: its amount due less refunds and credits.
async fn creditable(
    c: &mut sqlx::AnyConnection,
    scope: &Scope,
    invoice: &InvoiceRow,
) -> ApiResult<i64> {
    if invoice.status != InvoiceStatus::Paid {
        return Err(ApiError::conflict(
            "invoice_not_paid",
            format!(
                "The invoice is {}; only paid invoices are credited.",
                invoice.status
            ),
        ));
    }
    let credited = db::credited_to_balance(c, scope, &invoice.id).await?;
    Ok(invoice.amount_due - invoice.amount_refunded - credited)
}

/// Give money back on a paid invoice: refund it through the payment provider that collected
/// it, credit the customer's balance, or both.
#[utoipa::path(
    post, path = "/v1/credit_notes", tag = "credit_notes", operation_id = "credit_notes_create",
    request_body = CreateCreditNoteRequest,
    responses(
        (status = 201, description = "Created", body = CreditNote),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 502, response = crate::openapi::BadGateway),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateCreditNoteRequest>,
) -> ApiResult<(StatusCode, axum::Json<CreditNote>)> {
    caller.require(Permission::BillingWrite)?;
    let scope = &caller.scope;
    if req.memo.as_ref().is_some_and(|m| m.chars().count() > 500) {
        return Err(ApiError::validation(
            "memo",
            "must be at most 500 characters",
        ));
    }
    let mut conn = state.db.read_scoped(scope).await?;
    let invoice = db::get_invoice(&mut conn, scope, req.invoice.as_str())
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    let left = creditable(&mut conn, scope, &invoice).await?;
    conn.end();
    let (refund, credit) = match (req.refund_amount, req.credit_amount) {
        (None, None) => (left, 0),
        (r, c) => (r.unwrap_or(0), c.unwrap_or(0)),
    };
    if refund < 0 || credit < 0 {
        return Err(ApiError::validation(
            "refund_amount",
            "amounts must not be negative",
        ));
    }
    let amount = refund.saturating_add(credit);
    if !(1..=left).contains(&amount) {
        return Err(ApiError::validation(
            "refund_amount",
            format!("refund_amount + credit_amount must be 1 to {left}"),
        ));
    }
    let refunded = invoice.amount_refunded + refund;
    if refund > 0
        && let Some(stripe) = StripeProvider::load(&state, scope).await?
    {
        let payment = invoice.payment_reference.as_deref().ok_or_else(|| {
            ApiError::conflict(
                "invoice_not_refundable",
                "The invoice was not paid through Stripe.",
            )
        })?;
        // Keyed by the running total: a retried request refunds once.
        let key = format!("{}-refund-{refunded}", invoice.id);
        stripe.refund(payment, Some(refund), &key).await?;
    }

    let actor: ActorRef = (&caller).into();
    let mut tx = state.db.write_scoped(scope).await?;
    let locked = db::claim_invoice(&mut tx, scope, &invoice.id, Claim::Wait)
        .await?
        .ok_or(ApiError::NotFound("invoice"))?;
    // Another credit note may have been created meanwhile: after this one, refunds and
    // credits together must still not exceed what was paid.
    let credited = db::credited_to_balance(&mut tx, scope, &invoice.id).await?;
    if locked.amount_refunded.max(refunded) + credited + credit > locked.amount_due {
        return Err(ApiError::conflict(
            "credit_exceeds_invoice",
            "Another credit note was created meanwhile; less is left to give back.",
        ));
    }
    if refund > 0 {
        collection::refunded(&mut tx, &state, scope, &actor, &invoice.id, refunded).await?;
    }
    if credit > 0 {
        let mut customer = db::get_customer(&mut tx, scope, &invoice.customer_id)
            .await?
            .ok_or(ApiError::NotFound("customer"))?;
        customer.balance = customer.balance.checked_sub(credit).ok_or_else(|| {
            ApiError::validation("credit_amount", "the balance does not fit in 64 bits")
        })?;
        customer.updated_at = state.clock.now_ms();
        db::update_customer(&mut tx, scope, &customer).await?;
    }
    let number = db::next_counter(&mut tx, scope, "credit_note", 1).await?;
    let row = CreditNoteRow {
        id: CreditNoteId::generate().to_string(),
        number: format!("CN-{number:06}"),
        invoice_id: invoice.id.clone(),
        customer_id: invoice.customer_id.clone(),
        currency: invoice.currency.clone(),
        amount,
        refund_amount: refund,
        credit_amount: credit,
        reason: req.reason.map(Text),
        memo: req.memo,
        created_at: state.clock.now_ms(),
    };
    db::insert_credit_note(&mut tx, scope, &row).await?;
    notify(
        &mut tx,
        &state.clock,
        scope,
        &actor,
        "credit_note.created",
        &row,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(CreditNote::from(row))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CreditNoteQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only this invoice's credit notes.
    pub invoice: Option<String>,
}

/// List credit notes, newest first.
#[utoipa::path(
    get, path = "/v1/credit_notes", tag = "credit_notes", operation_id = "credit_notes_list",
    params(CreditNoteQuery),
    responses(
        (status = 200, description = "A page of credit notes", body = CreditNotePage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CreditNoteQuery>,
) -> ApiResult<axum::Json<CreditNotePage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_credit_notes(
        &mut conn,
        &caller.scope,
        q.invoice.as_deref(),
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    conn.end();
    let page = Page::new(rows, fetch, |r| r.id.clone(), CreditNote::from);
    Ok(axum::Json(page.into()))
}

/// Get a credit note.
#[utoipa::path(
    get, path = "/v1/credit_notes/{id}", tag = "credit_notes", operation_id = "credit_notes_get",
    params(("id" = CreditNoteId, Path)),
    responses(
        (status = 200, description = "The credit note", body = CreditNote),
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
    Path(id): Path<CreditNoteId>,
) -> ApiResult<axum::Json<CreditNote>> {
    caller.require(Permission::BillingRead)?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_credit_note(&mut conn, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("credit_note"))?;
    conn.end();
    Ok(axum::Json(CreditNote::from(row)))
}

page_type!(CreditNotePage, CreditNote);

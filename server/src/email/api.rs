//! Emails to customers (`/v1/emails`: what was sent or captured, with its content), the
//! email settings of an organization and environment (`/v1/email_settings`), and previews
//! of each kind with them (`/v1/email_previews`).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::render::{self, Recipient, Rendered};
use crate::app::AppState;
use crate::audit;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::Permission;
use domain::clock::timestamp;
use domain::email::{EmailKind, EmailSettings, EmailStatus};
use domain::ids::{CustomerId, EmailId, EventId};
use store::email::{self as db, EmailRow};

/// An email to a customer, about an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Email {
    pub id: EmailId,
    pub kind: EmailKind,
    /// The event it reports.
    pub event: EventId,
    pub customer: Option<CustomerId>,
    #[schema(example = "ada@example.com")]
    pub to: String,
    /// What it says, rendered when the worker first takes it (null until then).
    pub content: Option<EmailContent>,
    pub status: EmailStatus,
    /// Sending attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<i64>,
}

/// An email's sender, subject and bodies.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailContent {
    /// The `From` name (the address is the server's).
    pub sender_name: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl From<EmailRow> for Email {
    fn from(r: EmailRow) -> Self {
        Email {
            id: EmailId::from_db(r.id),
            kind: r.kind.0,
            event: EventId::from_db(r.event_id),
            customer: r.customer_id.map(CustomerId::from_db),
            to: r.recipient,
            content: r.content.map(|c| EmailContent {
                sender_name: c.sender_name,
                reply_to: c.reply_to,
                subject: c.subject,
                html: c.html,
                text: c.text,
            }),
            status: r.status.0,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
            sent_at: r.sent_at,
        }
    }
}

page_type!(EmailPage, Email);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EmailQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only emails to this customer.
    pub customer: Option<CustomerId>,
}

/// List emails to customers, newest first: sent, waiting, failed and, in an environment
/// without an SMTP server (the sandbox by default), captured.
#[utoipa::path(
    get, path = "/v1/emails", tag = "emails", operation_id = "emails_list",
    params(EmailQuery),
    responses(
        (status = 200, description = "A page of emails", body = EmailPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<EmailQuery>,
) -> ApiResult<axum::Json<EmailPage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_emails(
        &mut conn,
        &caller.scope,
        q.customer.as_ref().map(CustomerId::as_str),
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    conn.end();
    Ok(axum::Json(
        Page::new(rows, fetch, |r| r.id.clone(), Email::from).into(),
    ))
}

/// Get an email.
#[utoipa::path(
    get, path = "/v1/emails/{id}", tag = "emails", operation_id = "emails_get",
    params(("id" = EmailId, Path)),
    responses(
        (status = 200, description = "The email", body = Email),
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
    Path(id): Path<EmailId>,
) -> ApiResult<axum::Json<Email>> {
    caller.require(Permission::BillingRead)?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_email(&mut conn, &caller.scope, id.as_str()).await?;
    conn.end();
    Ok(axum::Json(row.ok_or(ApiError::NotFound("email"))?.into()))
}

/// Get the email settings (the defaults if never set: every kind, branded with the
/// organization's name).
#[utoipa::path(
    get, path = "/v1/email_settings", tag = "emails", operation_id = "email_settings_get",
    responses(
        (status = 200, description = "The settings", body = EmailSettings),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<EmailSettings>> {
    caller.require(Permission::BillingRead)?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let settings = super::settings(&mut conn, &caller.scope).await?;
    conn.end();
    Ok(axum::Json(settings))
}

/// Replace the email settings: sender name, reply-to, the kinds sent, branding. They apply
/// to emails of events from now on.
#[utoipa::path(
    post, path = "/v1/email_settings", tag = "emails", operation_id = "email_settings_update",
    request_body = EmailSettings,
    responses(
        (status = 200, description = "Updated", body = EmailSettings),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<EmailSettings>,
) -> ApiResult<axum::Json<EmailSettings>> {
    caller.require(Permission::BillingWrite)?;
    let settings = req.check()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::put_settings(&mut tx, &caller.scope, &settings, now).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "email_settings.updated",
        ("email_settings", caller.scope.env.as_str()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(settings))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub kind: EmailKind,
}

/// Render an email of a kind with made-up data and the current settings, as a customer
/// would receive it. Nothing is sent or stored.
#[utoipa::path(
    post, path = "/v1/email_previews", tag = "emails", operation_id = "email_previews_create",
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "The email", body = Rendered),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<PreviewRequest>,
) -> ApiResult<axum::Json<Rendered>> {
    caller.require(Permission::BillingRead)?;
    let mut conn = state.db.read_scoped(&caller.scope).await?;
    let settings = super::settings(&mut conn, &caller.scope).await?;
    conn.end();
    let to = Recipient {
        name: Some("Ada Lovelace"),
        email: "ada@example.com",
    };
    let portal = format!("{}/billing/…", state.public_base);
    let rendered = render::render(
        req.kind,
        &settings,
        &to,
        &render::sample(req.kind),
        Some(portal),
    )?;
    Ok(axum::Json(rendered))
}

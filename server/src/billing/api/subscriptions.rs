//! Subscriptions (`/v1/subscriptions`): create (optionally trialing), cancel now or at period
//! end, resume a scheduled cancellation. See `billing::subscriptions` for the state machine.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::stored;
use crate::app::AppState;
use crate::audit::{self, ActorRef};
use crate::billing::PriceTerms;
use crate::billing::store::{self as db, SubscriptionRow};
use crate::billing::subscriptions::{
    ACTIVE, CANCELED, Item, PAST_DUE, TRIALING, now_for, start_next_period,
};
use crate::clock::timestamp;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::ids::{CustomerId, PriceId, SubscriptionId};
use crate::tenancy::Permission;

const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    /// The last renewal's payment failed; renewals go on.
    PastDue,
    Canceled,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionItem {
    pub price: PriceId,
    /// Units (seats…), default 1.
    #[serde(default = "one")]
    #[schema(minimum = 1, example = 5)]
    pub quantity: i64,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub customer: CustomerId,
    pub status: SubscriptionStatus,
    pub items: Vec<SubscriptionItem>,
    #[schema(example = "usd")]
    pub currency: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub billing_cycle_anchor: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub current_period_start: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub current_period_end: i64,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub trial_end: Option<i64>,
    /// The subscription ends when the current period does.
    pub cancel_at_period_end: bool,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub canceled_at: Option<i64>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl Subscription {
    fn from_row(r: SubscriptionRow) -> ApiResult<Self> {
        let items: Vec<Item> = stored("items", &r.items)?;
        let status = match r.status.as_str() {
            TRIALING => SubscriptionStatus::Trialing,
            ACTIVE => SubscriptionStatus::Active,
            PAST_DUE => SubscriptionStatus::PastDue,
            _ => SubscriptionStatus::Canceled,
        };
        Ok(Subscription {
            id: SubscriptionId::from_db(r.id),
            customer: CustomerId::from_db(r.customer_id),
            status,
            items: items
                .into_iter()
                .map(|i| SubscriptionItem {
                    price: PriceId::from_db(i.price),
                    quantity: i.quantity,
                })
                .collect(),
            currency: r.currency,
            billing_cycle_anchor: r.billing_cycle_anchor,
            current_period_start: r.current_period_start,
            current_period_end: r.current_period_end,
            trial_end: r.trial_end,
            cancel_at_period_end: r.cancel_at_period_end == 1,
            canceled_at: r.canceled_at,
            created_at: r.created_at,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscriptionRequest {
    pub customer: CustomerId,
    /// 1 to 20 recurring prices of one currency and one billing interval.
    pub items: Vec<SubscriptionItem>,
    /// Days of trial; default: the first price's `trial_days`. 0 for none.
    #[schema(minimum = 0, maximum = 730)]
    pub trial_days: Option<i64>,
}

/// Subscribe a customer to prices. Without a trial the first period is invoiced at once.
#[utoipa::path(
    post, path = "/v1/subscriptions", tag = "subscriptions", operation_id = "subscriptions_create",
    request_body = CreateSubscriptionRequest,
    responses(
        (status = 201, description = "Created", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateSubscriptionRequest>,
) -> ApiResult<(StatusCode, axum::Json<Subscription>)> {
    caller.require(Permission::BillingWrite)?;
    if req.items.is_empty() || req.items.len() > 20 {
        return Err(ApiError::validation("items", "must have 1 to 20 items"));
    }
    let scope = &caller.scope;
    let mut tx = state.db.write_scoped(scope).await?;
    let mut customer = db::get_customer(&mut tx, scope, req.customer.as_str())
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let mut items = Vec::new();
    let mut currency: Option<String> = None;
    for (i, item) in req.items.iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        if !(1..=1_000_000_000).contains(&item.quantity) {
            return Err(ApiError::validation(
                &field("quantity"),
                "must be 1 to 1000000000",
            ));
        }
        let price = db::get_price(&mut tx, scope, item.price.as_str())
            .await?
            .ok_or(ApiError::NotFound("price"))?;
        if price.archived_at.is_some() {
            return Err(ApiError::conflict(
                "price_archived",
                format!("{} is archived and starts no new subscriptions.", price.id),
            ));
        }
        let terms: PriceTerms = stored("terms", &price.terms)?;
        let Some(recurring) = &terms.recurring else {
            return Err(ApiError::validation(
                &field("price"),
                "must be a recurring price",
            ));
        };
        let first = items
            .first()
            .and_then(|f: &Item| f.terms.recurring.as_ref());
        if first.is_some_and(|first| first != recurring) {
            return Err(ApiError::validation(
                &field("price"),
                "must bill on the same interval as the other items",
            ));
        }
        if currency.as_ref().is_some_and(|c| *c != price.currency) {
            return Err(ApiError::validation(
                &field("price"),
                "must be in the same currency as the other items",
            ));
        }
        currency = Some(price.currency.clone());
        items.push(Item {
            price: price.id,
            quantity: item.quantity,
            terms,
        });
    }
    let currency = currency.unwrap_or_default();
    match &customer.currency {
        Some(c) if *c != currency => {
            return Err(ApiError::conflict(
                "currency_mismatch",
                format!("The customer is billed in {c}, the prices are in {currency}."),
            ));
        }
        Some(_) => {}
        None => {
            customer.currency = Some(currency.clone());
            db::update_customer(&mut tx, scope, &customer).await?;
        }
    }
    let trial_days = req.trial_days.or(items[0].terms.trial_days).unwrap_or(0);
    if !(0..=730).contains(&trial_days) {
        return Err(ApiError::validation("trial_days", "must be 0 to 730"));
    }
    let now = now_for(&mut tx, &state, scope, &customer).await?;
    let trial_end = (trial_days > 0).then(|| now + trial_days * DAY_MS);
    let mut sub = SubscriptionRow {
        id: SubscriptionId::generate().to_string(),
        customer_id: customer.id.clone(),
        status: TRIALING.into(),
        items: super::to_json(&items)?,
        currency,
        billing_cycle_anchor: trial_end.unwrap_or(now),
        periods: 0,
        current_period_start: now,
        current_period_end: trial_end.unwrap_or(now),
        trial_end,
        cancel_at_period_end: 0,
        canceled_at: None,
        created_at: now,
    };
    let actor: ActorRef = (&caller).into();
    db::insert_subscription(&mut tx, scope, &sub).await?;
    if trial_end.is_none() {
        start_next_period(
            &mut tx,
            scope,
            &actor,
            &mut sub,
            &items,
            customer.default_payment_method.as_deref(),
            now,
        )
        .await?;
        db::update_subscription(&mut tx, scope, &sub).await?;
    }
    audit::record(
        &mut tx,
        scope,
        actor,
        "subscription.created",
        ("subscription", &sub.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Subscription::from_row(sub)?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only this customer's subscriptions.
    pub customer: Option<String>,
}

/// List subscriptions, newest first.
#[utoipa::path(
    get, path = "/v1/subscriptions", tag = "subscriptions", operation_id = "subscriptions_list",
    params(SubscriptionQuery),
    responses(
        (status = 200, description = "A page of subscriptions", body = SubscriptionPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SubscriptionQuery>,
) -> ApiResult<axum::Json<SubscriptionPage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_subscriptions(
        &mut tx,
        &caller.scope,
        q.customer.as_deref(),
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.commit().await?;
    let page = Page::new(rows, fetch, |r| r.id.clone(), |r| r).try_map(Subscription::from_row)?;
    Ok(axum::Json(page.into()))
}

/// Get a subscription.
#[utoipa::path(
    get, path = "/v1/subscriptions/{id}", tag = "subscriptions", operation_id = "subscriptions_get",
    params(("id" = SubscriptionId, Path)),
    responses(
        (status = 200, description = "The subscription", body = Subscription),
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
    Path(id): Path<SubscriptionId>,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_subscription(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    tx.commit().await?;
    Ok(axum::Json(Subscription::from_row(row)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelSubscriptionRequest {
    /// End with the current period instead of now (default false).
    #[serde(default)]
    pub at_period_end: bool,
}

/// Cancel now, or at the end of the current period.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/cancel", tag = "subscriptions", operation_id = "subscriptions_cancel",
    params(("id" = SubscriptionId, Path)),
    request_body = CancelSubscriptionRequest,
    responses(
        (status = 200, description = "Canceled or scheduled to cancel", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
    Json(req): Json<CancelSubscriptionRequest>,
) -> ApiResult<axum::Json<Subscription>> {
    change(&state, &caller, &id, |sub, now| {
        if req.at_period_end {
            sub.cancel_at_period_end = 1;
        } else {
            sub.status = CANCELED.into();
            sub.canceled_at = Some(now);
        }
        "subscription.canceled"
    })
    .await
}

/// Resume a subscription scheduled to cancel at period end.
#[utoipa::path(
    post, path = "/v1/subscriptions/{id}/resume", tag = "subscriptions", operation_id = "subscriptions_resume",
    params(("id" = SubscriptionId, Path)),
    responses(
        (status = 200, description = "Resumed", body = Subscription),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SubscriptionId>,
) -> ApiResult<axum::Json<Subscription>> {
    change(&state, &caller, &id, |sub, _| {
        sub.cancel_at_period_end = 0;
        "subscription.resumed"
    })
    .await
}

/// Applies `edit` to a subscription that has not ended, with its audit event.
async fn change(
    state: &AppState,
    caller: &Caller,
    id: &SubscriptionId,
    edit: impl FnOnce(&mut SubscriptionRow, i64) -> &'static str,
) -> ApiResult<axum::Json<Subscription>> {
    caller.require(Permission::BillingWrite)?;
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut sub = db::get_subscription(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    if sub.status == CANCELED {
        return Err(ApiError::conflict(
            "subscription_canceled",
            "The subscription has ended.",
        ));
    }
    let customer = db::get_customer(&mut tx, &caller.scope, &sub.customer_id)
        .await?
        .ok_or(ApiError::NotFound("customer"))?;
    let now = now_for(&mut tx, state, &caller.scope, &customer).await?;
    let action = edit(&mut sub, now);
    db::update_subscription(&mut tx, &caller.scope, &sub).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        caller.into(),
        action,
        ("subscription", &sub.id),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(Subscription::from_row(sub)?))
}

page_type!(SubscriptionPage, Subscription);

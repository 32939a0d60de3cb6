//! `GET /v1/request_log` (the requests made with the environment's API keys) and
//! `GET /v1/request_log/analytics` (their counts, errors and latency over time). Entries
//! appear within about a second: they are written in batches.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{self, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::tenancy::Permission;
use domain::clock::timestamp;
use domain::ids::ApiKeyId;
use domain::request_log;
use store::request_log::{self as db, Filter, Row};

/// One API request made with a key of this environment.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestLogEntry {
    #[schema(example = "rlog_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e")]
    pub id: String,
    pub api_key: ApiKeyId,
    /// The request's `X-Request-Id`.
    pub request_id: String,
    #[schema(example = "GET")]
    pub method: String,
    /// The route template, not the concrete path.
    #[schema(example = "/v1/api_keys/{id}")]
    pub route: String,
    #[schema(example = 200)]
    pub status: u16,
    /// Time from the request's arrival to its response, in microseconds.
    #[schema(example = 1834)]
    pub duration_us: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl From<Row> for RequestLogEntry {
    fn from(r: Row) -> Self {
        RequestLogEntry {
            id: r.id,
            api_key: ApiKeyId::from_db(r.api_key_id),
            request_id: r.request_id,
            method: r.method,
            route: r.route,
            status: u16::try_from(r.status).unwrap_or(0),
            duration_us: r.duration_us,
            created_at: r.created_at,
        }
    }
}

/// A range of response statuses.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusClass {
    /// 2xx.
    Success,
    /// 3xx.
    Redirect,
    /// 4xx.
    ClientError,
    /// 5xx.
    ServerError,
    /// 4xx and 5xx.
    Error,
}

impl StatusClass {
    fn range(self) -> (i64, i64) {
        match self {
            StatusClass::Success => (200, 300),
            StatusClass::Redirect => (300, 400),
            StatusClass::ClientError => (400, 500),
            StatusClass::ServerError => (500, 600),
            StatusClass::Error => (400, 600),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestLogQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return entries after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
    /// Only requests made with this key.
    pub api_key: Option<String>,
    /// Only responses in this status range.
    pub status_class: Option<StatusClass>,
    /// Only this route template (`/v1/api_keys/{id}`).
    pub route: Option<String>,
    /// Only requests at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub created_gte: Option<String>,
    /// Only requests before this time (RFC 3339).
    #[param(format = DateTime)]
    pub created_lt: Option<String>,
}

/// List the requests made with this environment's API keys, newest first.
#[utoipa::path(
    get, path = "/v1/request_log", tag = "request_log", operation_id = "request_log_list",
    params(RequestLogQuery),
    responses(
        (status = 200, description = "A page of logged requests", body = RequestLogEntryPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["api_keys:read"]), ("session" = ["api_keys:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<RequestLogQuery>,
) -> ApiResult<axum::Json<RequestLogEntryPage>> {
    caller.require(Permission::ApiKeysRead)?;
    let fetch = fetch_limit(q.limit)?;
    let filter = Filter {
        api_key_id: q.api_key.as_deref(),
        status_range: q.status_class.map(StatusClass::range),
        route: q.route.as_deref(),
        created_gte: extract::timestamp("created_gte", q.created_gte.as_deref())?,
        created_lt: extract::timestamp("created_lt", q.created_lt.as_deref())?,
    };
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list(
        &mut tx,
        &caller.scope,
        &filter,
        q.starting_after.as_deref(),
        fetch,
    )
    .await?;
    tx.end();
    Ok(axum::Json(
        Page::new(rows, fetch, |r| r.id.clone(), RequestLogEntry::from).into(),
    ))
}

/// The width of an analytics bucket.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BucketWidth {
    Minute,
    #[default]
    Hour,
    Day,
}

impl BucketWidth {
    fn millis(self) -> i64 {
        match self {
            BucketWidth::Minute => 60_000,
            BucketWidth::Hour => 3_600_000,
            BucketWidth::Day => 86_400_000,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// Only requests made with this key (default: every key of the environment).
    pub api_key: Option<String>,
    /// Only this route template.
    pub route: Option<String>,
    /// Start of the series (RFC 3339; default: 24 hours before `created_lt`).
    #[param(format = DateTime)]
    pub created_gte: Option<String>,
    /// End of the series, exclusive (RFC 3339; default: now).
    #[param(format = DateTime)]
    pub created_lt: Option<String>,
    /// Bucket width (default `hour`). At most 1,440 buckets.
    pub interval: Option<BucketWidth>,
}

/// One bucket of the series.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsBucket {
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub start: i64,
    pub requests: i64,
    /// Requests answered with a status of 400 or more.
    pub errors: i64,
    /// Median duration in microseconds; null without requests.
    pub p50_us: Option<i64>,
    /// 95th percentile duration in microseconds; null without requests.
    pub p95_us: Option<i64>,
}

/// Requests, errors and latency percentiles per bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestAnalytics {
    pub interval: BucketWidth,
    /// True when the range held more than 100,000 requests and only the first were counted.
    pub truncated: bool,
    pub buckets: Vec<AnalyticsBucket>,
}

const MAX_BUCKETS: i64 = 1_440;
const MAX_SAMPLES: i64 = 100_000;

/// Requests, error count and p50/p95 latency over time, for one key or all of them.
#[utoipa::path(
    get, path = "/v1/request_log/analytics", tag = "request_log",
    operation_id = "request_log_analytics",
    params(AnalyticsQuery),
    responses(
        (status = 200, description = "The time series", body = RequestAnalytics),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["api_keys:read"]), ("session" = ["api_keys:read"]))
)]
pub async fn analytics(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AnalyticsQuery>,
) -> ApiResult<axum::Json<RequestAnalytics>> {
    caller.require(Permission::ApiKeysRead)?;
    let interval = q.interval.unwrap_or_default();
    let to = extract::timestamp("created_lt", q.created_lt.as_deref())?
        .unwrap_or_else(|| state.clock.now_ms());
    let from = extract::timestamp("created_gte", q.created_gte.as_deref())?
        .unwrap_or(to - BucketWidth::Day.millis());
    if from >= to {
        return Err(ApiError::validation(
            "created_gte",
            "must be before created_lt",
        ));
    }
    if (to - from) / interval.millis() >= MAX_BUCKETS {
        return Err(ApiError::validation(
            "interval",
            "too many buckets for the range (at most 1,440)",
        ));
    }
    let filter = Filter {
        api_key_id: q.api_key.as_deref(),
        route: q.route.as_deref(),
        created_gte: Some(from),
        created_lt: Some(to),
        ..Filter::default()
    };
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let samples = db::samples(&mut tx, &caller.scope, &filter, MAX_SAMPLES + 1).await?;
    tx.end();
    let truncated = i64::try_from(samples.len()).unwrap_or(i64::MAX) > MAX_SAMPLES;
    let counted = &samples[..samples.len().min(MAX_SAMPLES as usize)];
    let buckets = request_log::buckets(from, to, interval.millis(), counted)
        .into_iter()
        .map(|b| AnalyticsBucket {
            start: b.start,
            requests: b.requests,
            errors: b.errors,
            p50_us: b.p50_us,
            p95_us: b.p95_us,
        })
        .collect();
    Ok(axum::Json(RequestAnalytics {
        interval,
        truncated,
        buckets,
    }))
}

page_type!(RequestLogEntryPage, RequestLogEntry);

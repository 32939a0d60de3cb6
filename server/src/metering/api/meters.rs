//! Meters (`/v1/meters`) and their usage (`/v1/meters/{id}/usage`). What a meter counts
//! (event type, aggregation, value property, filters, group-by) never changes, since that
//! would rewrite history: define a new meter instead. Its name changes, and archiving stops
//! it counting new events. A meter counts events received after it is created.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, Time};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::audit;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::{Page, fetch_limit, page_type};
use crate::metering::usage::{self, Meter as StoredMeter};
use crate::tenancy::{Permission, Scope, check_name};
use domain::clock::timestamp;
use domain::ids::MeterId;
use domain::metering::{Aggregation, Condition, DAY, HOUR, MINUTE, MeterDef, floor_to};
use store::metering::{self as db, MeterRow, customers_named};

#[derive(Debug, Serialize, ToSchema)]
pub struct Meter {
    pub id: MeterId,
    #[schema(example = "API calls")]
    pub name: String,
    /// The event type it counts.
    #[schema(example = "api_call")]
    pub event_type: String,
    pub aggregation: Aggregation,
    /// The property path of the value (absent for count).
    #[schema(example = "tokens")]
    pub value_property: Option<String>,
    /// Conditions every counted event meets.
    pub filters: Vec<Condition>,
    /// Properties whose values split usage into groups.
    pub group_by: Vec<String>,
    /// `active`, or `archived` (counts no new events).
    #[schema(example = "active")]
    pub status: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl Meter {
    fn from_row(m: StoredMeter) -> Meter {
        Meter {
            id: MeterId::from_db(m.row.id),
            name: m.row.name,
            event_type: m.def.event_type,
            aggregation: m.def.aggregation,
            value_property: m.def.value_property,
            filters: m.def.filters,
            group_by: m.def.group_by,
            status: if m.row.archived_at.is_some() {
                "archived"
            } else {
                "active"
            }
            .into(),
            created_at: m.row.created_at,
        }
    }
}

fn shown(row: MeterRow) -> Meter {
    Meter::from_row(StoredMeter::from_row(row))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMeterRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "API calls"
    )]
    pub name: String,
    #[schema(example = "api_call")]
    pub event_type: String,
    pub aggregation: Aggregation,
    /// Required for every aggregation but count: a dot-separated property path whose value
    /// is a number or decimal string (any scalar for unique_count).
    #[schema(example = "tokens")]
    pub value_property: Option<String>,
    #[serde(default)]
    pub filters: Vec<Condition>,
    /// Up to 5 property paths.
    #[serde(default)]
    pub group_by: Vec<String>,
}

/// Create a meter.
#[utoipa::path(
    post, path = "/v1/meters", tag = "meters", operation_id = "meters_create",
    request_body = CreateMeterRequest,
    responses(
        (status = 201, description = "Created", body = Meter),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["usage:write"]), ("session" = ["usage:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateMeterRequest>,
) -> ApiResult<(StatusCode, axum::Json<Meter>)> {
    caller.require(Permission::UsageWrite)?;
    let def = MeterDef {
        event_type: req.event_type,
        aggregation: req.aggregation,
        value_property: req.value_property,
        filters: req.filters,
        group_by: req.group_by,
    };
    def.check()?;
    let now = state.clock.now_ms();
    let row = MeterRow {
        id: MeterId::generate().to_string(),
        name: check_name("name", &req.name)?,
        event_type: def.event_type.clone(),
        aggregation: def.aggregation.into(),
        value_property: def.value_property.clone(),
        filters: def.filters.clone().into(),
        group_by: def.group_by.clone().into(),
        created_at: now,
        updated_at: now,
        archived_at: None,
    };
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::insert_meter(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "meter.created",
        ("meter", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(shown(row))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MeterListQuery {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Return items after this id (the previous page's `next_cursor`).
    pub starting_after: Option<String>,
}

/// List meters, newest first.
#[utoipa::path(
    get, path = "/v1/meters", tag = "meters", operation_id = "meters_list",
    params(MeterListQuery),
    responses(
        (status = 200, description = "A page of meters", body = MeterPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["usage:read"]), ("session" = ["usage:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<MeterListQuery>,
) -> ApiResult<axum::Json<MeterPage>> {
    caller.require(Permission::UsageRead)?;
    let fetch = fetch_limit(q.limit)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows = db::list_meters(&mut tx, &caller.scope, q.starting_after.as_deref(), fetch).await?;
    tx.end();
    let meters = rows.into_iter().map(StoredMeter::from_row).collect();
    let page = Page::new(meters, fetch, |m| m.row.id.clone(), Meter::from_row);
    Ok(axum::Json(page.into()))
}

page_type!(MeterPage, Meter);

async fn load(c: &mut sqlx::AnyConnection, scope: &Scope, id: &str) -> ApiResult<MeterRow> {
    db::get_meter(c, scope, id)
        .await?
        .ok_or(ApiError::NotFound("meter"))
}

/// Get a meter.
#[utoipa::path(
    get, path = "/v1/meters/{id}", tag = "meters", operation_id = "meters_get",
    params(("id" = MeterId, Path)),
    responses(
        (status = 200, description = "The meter", body = Meter),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["usage:read"]), ("session" = ["usage:read"]))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<MeterId>,
) -> ApiResult<axum::Json<Meter>> {
    caller.require(Permission::UsageRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = load(&mut tx, &caller.scope, id.as_str()).await?;
    tx.end();
    Ok(axum::Json(shown(row)))
}

/// Only the name and the status change: what a meter counts is fixed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeterRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "API requests"
    )]
    pub name: Option<String>,
    /// `archived` stops counting new events (for good); `active` is accepted only on an
    /// active meter.
    #[schema(example = "archived")]
    pub status: Option<String>,
}

/// Rename or archive a meter.
#[utoipa::path(
    post, path = "/v1/meters/{id}", tag = "meters", operation_id = "meters_update",
    params(("id" = MeterId, Path)),
    request_body = UpdateMeterRequest,
    responses(
        (status = 200, description = "Updated", body = Meter),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(("api_key" = ["usage:write"]), ("session" = ["usage:write"]))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<MeterId>,
    Json(req): Json<UpdateMeterRequest>,
) -> ApiResult<axum::Json<Meter>> {
    caller.require(Permission::UsageWrite)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut row = load(&mut tx, &caller.scope, id.as_str()).await?;
    if let Some(name) = &req.name {
        row.name = check_name("name", name)?;
    }
    match (req.status.as_deref(), row.archived_at) {
        (None, _) | (Some("archived"), Some(_)) | (Some("active"), None) => {}
        (Some("archived"), None) => row.archived_at = Some(now),
        (Some("active"), Some(_)) => {
            return Err(ApiError::conflict(
                "meter_archived",
                "An archived meter stays archived: its history has a gap. Create a new meter.",
            ));
        }
        (Some(_), _) => return Err(ApiError::validation("status", "must be active or archived")),
    }
    row.updated_at = now;
    db::update_meter(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "meter.updated",
        ("meter", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(axum::Json(shown(row)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    Minute,
    Hour,
    Day,
    /// Calendar months, UTC.
    Month,
}

/// At most this many windows (times groups) in one answer.
const MAX_POINTS: usize = 10_000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// A customer's id or external id; absent: all customers together.
    pub customer: Option<String>,
    /// Start (RFC 3339), inclusive. With a window, moved back to the window's start.
    #[param(format = DateTime)]
    pub from: String,
    /// End (RFC 3339), exclusive. With a window, moved on to a window's end.
    #[param(format = DateTime)]
    pub to: String,
    /// Split the range into windows; absent: one value for exactly `[from, to)`.
    pub window: Option<Window>,
    /// Comma-separated dimensions of the meter's `group_by` to split the values by.
    pub group_by: Option<String>,
}

/// One value of a usage series.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsagePoint {
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub start: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub end: i64,
    /// The group's value of each requested dimension (null where the events lacked it).
    #[schema(value_type = Object)]
    pub group: BTreeMap<String, Option<String>>,
    /// An exact decimal; null for min, max and latest when the window has no events.
    #[schema(example = "1200")]
    pub value: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    pub meter: MeterId,
    /// The customer's id, when one was asked for.
    pub customer: Option<String>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub from: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub to: i64,
    pub window: Option<Window>,
    /// Per group, in window order.
    pub data: Vec<UsagePoint>,
}

fn instant(field: &str, raw: &str) -> ApiResult<i64> {
    timestamp::parse_rfc3339(raw)
        .ok_or_else(|| ApiError::validation(field, "must be an RFC 3339 timestamp"))
}

fn month_start(t: i64) -> ApiResult<i64> {
    let d = OffsetDateTime::from_unix_timestamp(t.div_euclid(1000))
        .map_err(|_| ApiError::validation("from", "is out of range"))?;
    let first = Date::from_calendar_date(d.year(), d.month(), 1)
        .map_err(|_| ApiError::validation("from", "is out of range"))?;
    Ok(first
        .with_time(Time::MIDNIGHT)
        .assume_utc()
        .unix_timestamp()
        * 1000)
}

fn next_month(t: i64) -> ApiResult<i64> {
    let d = OffsetDateTime::from_unix_timestamp(t.div_euclid(1000))
        .map_err(|_| ApiError::validation("to", "is out of range"))?;
    let (y, m) = match d.month() {
        Month::December => (d.year() + 1, Month::January),
        m => (d.year(), m.next()),
    };
    let first = Date::from_calendar_date(y, m, 1)
        .map_err(|_| ApiError::validation("to", "is out of range"))?;
    Ok(first
        .with_time(Time::MIDNIGHT)
        .assume_utc()
        .unix_timestamp()
        * 1000)
}

/// The window boundaries covering `[from, to)`, and the rollup width that tiles them.
fn windows(from: i64, to: i64, window: Option<Window>) -> ApiResult<(Vec<i64>, Option<i64>)> {
    let fixed = |w: i64| {
        let (a, b) = (floor_to(from, w), -floor_to(-to, w));
        let n = usize::try_from((b - a) / w).unwrap_or(usize::MAX);
        if n > MAX_POINTS {
            return Err(ApiError::validation(
                "window",
                format!("the range has more than {MAX_POINTS} windows"),
            ));
        }
        Ok(((0..=n).map(|i| a + i as i64 * w).collect(), Some(w)))
    };
    match window {
        None => Ok((vec![from, to], None)),
        Some(Window::Minute) => fixed(MINUTE),
        Some(Window::Hour) => fixed(HOUR),
        Some(Window::Day) => fixed(DAY),
        Some(Window::Month) => {
            let mut bounds = vec![month_start(from)?];
            while bounds.last().is_some_and(|&b| b < to) {
                let last = *bounds.last().unwrap_or(&to);
                bounds.push(next_month(last)?);
                if bounds.len() > MAX_POINTS {
                    return Err(ApiError::validation(
                        "window",
                        "the range has too many months",
                    ));
                }
            }
            Ok((bounds, Some(DAY)))
        }
    }
}

/// A meter's usage over a range, as one value or a series of windows, per group.
#[utoipa::path(
    get, path = "/v1/meters/{id}/usage", tag = "meters", operation_id = "meters_usage",
    params(("id" = MeterId, Path), UsageQuery),
    responses(
        (status = 200, description = "The usage", body = Usage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("api_key" = ["usage:read"]), ("session" = ["usage:read"]))
)]
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<MeterId>,
    Query(q): Query<UsageQuery>,
) -> ApiResult<axum::Json<Usage>> {
    caller.require(Permission::UsageRead)?;
    let (from, to) = (instant("from", &q.from)?, instant("to", &q.to)?);
    if from >= to {
        return Err(ApiError::validation("to", "must be after from"));
    }
    let (bounds, width) = windows(from, to, q.window)?;
    let mut c = state.db.read_scoped(&caller.scope).await?;
    let meter = StoredMeter::from_row(load(&mut c, &caller.scope, id.as_str()).await?);
    let group_by: Vec<String> = match &q.group_by {
        None => Vec::new(),
        Some(g) => g.split(',').map(|d| d.trim().to_owned()).collect(),
    };
    if let Some(d) = group_by.iter().find(|d| !meter.def.group_by.contains(d)) {
        return Err(ApiError::validation(
            "group_by",
            format!("{d:?} is not one of the meter's group_by dimensions"),
        ));
    }
    let customer = match &q.customer {
        None => None,
        Some(r) => Some(
            customers_named(&mut c, &caller.scope, &[r.as_str()])
                .await?
                .into_iter()
                .next()
                .ok_or(ApiError::NotFound("customer"))?
                .id,
        ),
    };
    let points = usage::series(
        &mut c,
        &caller.scope,
        &meter,
        &usage::Query {
            customer: customer.as_deref(),
            bounds: &bounds,
            width,
            group_by: &group_by,
        },
    )
    .await?;
    c.end();
    if points.len() > MAX_POINTS {
        return Err(ApiError::validation(
            "group_by",
            format!("more than {MAX_POINTS} values: narrow the range or the grouping"),
        ));
    }
    Ok(axum::Json(Usage {
        meter: id,
        customer,
        from: bounds[0],
        to: bounds[bounds.len() - 1],
        window: q.window,
        data: points
            .into_iter()
            .map(|p| UsagePoint {
                start: bounds[p.window],
                end: bounds[p.window + 1],
                group: p.group,
                value: p.value.map(|v| v.normalize().to_string()),
            })
            .collect(),
    }))
}

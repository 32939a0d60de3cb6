//! Test clocks (`/v1/test_clocks`, sandbox only): customers created on a clock live on its
//! time; advancing it runs their trials, renewals, invoices and cancellations, at once and
//! deterministically.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit;
use crate::billing::scheduler;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{self, Json, Path, Query};
use crate::http::pagination::{ListParams, Page, page_type};
use crate::tenancy::{Env, Permission, check_name};
use domain::clock::timestamp;
use domain::ids::TestClockId;
use store::billing::{self as db, TestClockRow};

#[derive(Debug, Serialize, ToSchema)]
pub struct TestClock {
    pub id: TestClockId,
    #[schema(example = "Annual renewal")]
    pub name: String,
    /// The clock's current time.
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub frozen_time: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl From<TestClockRow> for TestClock {
    fn from(r: TestClockRow) -> Self {
        TestClock {
            id: TestClockId::from_db(r.id),
            name: r.name,
            frozen_time: r.frozen_time,
            created_at: r.created_at,
        }
    }
}

pub(crate) fn sandbox_only(caller: &Caller) -> ApiResult<()> {
    if caller.scope.env != Env::Test {
        return Err(ApiError::forbidden(
            "Test clocks exist only in the sandbox: use a test key or NeoForge-Environment: test.",
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTestClockRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Annual renewal"
    )]
    pub name: String,
    /// Where the clock starts (default: now).
    #[schema(example = "2027-01-31T10:00:00Z", format = DateTime)]
    pub frozen_time: Option<String>,
}

/// Create a test clock (sandbox only).
#[utoipa::path(
    post, path = "/v1/test_clocks", tag = "test_clocks", operation_id = "test_clocks_create",
    request_body = CreateTestClockRequest,
    responses(
        (status = 201, description = "Created", body = TestClock),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateTestClockRequest>,
) -> ApiResult<(StatusCode, axum::Json<TestClock>)> {
    caller.require(Permission::BillingWrite)?;
    sandbox_only(&caller)?;
    let now = state.clock.now_ms();
    let row = TestClockRow {
        id: TestClockId::generate().to_string(),
        name: check_name("name", &req.name)?,
        frozen_time: extract::timestamp("frozen_time", req.frozen_time.as_deref())?.unwrap_or(now),
        created_at: now,
    };
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    db::insert_test_clock(&mut tx, &caller.scope, &row).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "test_clock.created",
        ("test_clock", &row.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

/// List test clocks, newest first.
#[utoipa::path(
    get, path = "/v1/test_clocks", tag = "test_clocks", operation_id = "test_clocks_list",
    params(ListParams),
    responses(
        (status = 200, description = "A page of test clocks", body = TestClockPage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("api_key" = ["billing:read"]), ("session" = ["billing:read"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListParams>,
) -> ApiResult<axum::Json<TestClockPage>> {
    caller.require(Permission::BillingRead)?;
    let fetch = q.fetch()?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let rows =
        db::list_test_clocks(&mut tx, &caller.scope, q.starting_after.as_deref(), fetch).await?;
    tx.end();
    Ok(axum::Json(
        Page::new(rows, fetch, |r| r.id.clone(), TestClock::from).into(),
    ))
}

/// Get a test clock.
#[utoipa::path(
    get, path = "/v1/test_clocks/{id}", tag = "test_clocks", operation_id = "test_clocks_get",
    params(("id" = TestClockId, Path)),
    responses(
        (status = 200, description = "The test clock", body = TestClock),
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
    Path(id): Path<TestClockId>,
) -> ApiResult<axum::Json<TestClock>> {
    caller.require(Permission::BillingRead)?;
    let mut tx = state.db.read_scoped(&caller.scope).await?;
    let row = db::get_test_clock(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("test_clock"))?;
    tx.end();
    Ok(axum::Json(row.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceTestClockRequest {
    /// The new time; later than the clock's current time.
    #[schema(example = "2027-03-01T00:00:00Z", format = DateTime)]
    pub frozen_time: String,
}

/// Move a test clock forward and run everything that falls due on its customers up to the
/// new time — renewals, trial ends, invoice finalization, payment retries — in time order,
/// each step at the time it falls due. Returns when the clock has caught up. One advance does
/// at most 1,000 billing steps: past that it stops, the clock at the time the work reached,
/// and answers `422 test_clock_advance_too_long`; advance again from there.
#[utoipa::path(
    post, path = "/v1/test_clocks/{id}/advance", tag = "test_clocks", operation_id = "test_clocks_advance",
    params(("id" = TestClockId, Path)),
    request_body = AdvanceTestClockRequest,
    responses(
        (status = 200, description = "Advanced", body = TestClock),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::Unprocessable),
    ),
    security(("api_key" = ["billing:write"]), ("session" = ["billing:write"]))
)]
pub async fn advance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<TestClockId>,
    Json(req): Json<AdvanceTestClockRequest>,
) -> ApiResult<axum::Json<TestClock>> {
    caller.require(Permission::BillingWrite)?;
    let to = extract::timestamp("frozen_time", Some(&req.frozen_time))?.unwrap_or_default();
    let mut tx = state.db.write_scoped(&caller.scope).await?;
    let mut clock = db::get_test_clock(&mut tx, &caller.scope, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("test_clock"))?;
    if to <= clock.frozen_time {
        return Err(ApiError::validation(
            "frozen_time",
            "must be later than the clock's current time",
        ));
    }
    clock.frozen_time = to;
    db::set_frozen_time(&mut tx, &caller.scope, &clock.id, to).await?;
    audit::record(
        &mut tx,
        &caller.scope,
        (&caller).into(),
        "test_clock.advanced",
        ("test_clock", &clock.id),
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    // Each step commits on its own; an interrupted advance resumes with the next one.
    scheduler::run_clock(&state, &caller.scope, &clock.id, to).await?;
    Ok(axum::Json(clock.into()))
}

page_type!(TestClockPage, TestClock);

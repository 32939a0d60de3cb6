//! Event ingestion. A request's events are checked where they arrive (shape, customer,
//! timestamp window, each meter's value), concurrently; then the request hands them to a
//! writer and waits. Writers commit the events of many requests in one transaction (group
//! commit): the raw events, deduplicated by id, and the rollups and distinct values of the
//! events that were new; then it tells `alerts` whose usage grew. A request is answered after
//! that commit, so an acknowledged event is durable, and a retried one is a duplicate, never
//! counted twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, mpsc, oneshot};
use utoipa::ToSchema;

use super::alerts::{Alerts, Touched};
use super::usage::Meter;
use crate::http::error::{ApiError, ApiResult};
use crate::tenancy::Scope;
use domain::clock::{Clock, timestamp};
use domain::metering::{
    Agg, HOUR, MAX_AGE_MS, MAX_AHEAD_MS, Measure, WIDTHS, check_event_type, floor_to,
};
use store::metering::{self as db, DistinctRow, EventRow, RollupKey, Written};
use store::{Backend, Db};

/// Events in one batch request.
pub const MAX_BATCH: usize = 1000;
/// Events committed in one transaction at most.
const MAX_GROUP: usize = 10_000;
/// Properties of one event, as JSON, at most.
const MAX_PROPERTIES_BYTES: usize = 8 * 1024;

/// An event as sent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Your id for the event, unique per environment: the idempotency key. 1 to 255
    /// characters.
    #[schema(example = "req_8f14e45f")]
    pub id: String,
    /// What happened; meters count events by type.
    #[serde(rename = "type")]
    #[schema(example = "api_call")]
    pub event_type: String,
    /// The customer's id (`cus_…`) or external id.
    #[schema(example = "acme-corp")]
    pub customer: String,
    /// When it happened (RFC 3339): at most 35 days ago and 5 minutes ahead of the customer's
    /// clock. Default: now.
    #[schema(example = "2027-01-15T10:00:00Z", format = DateTime)]
    pub timestamp: Option<String>,
    /// Up to 8 KiB of JSON that meters read values, filters and groups from.
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"tokens": 1200, "model": "gpt-4"}))]
    pub properties: Map<String, Value>,
}

/// Why an event was refused.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventError {
    /// The event's position in the request.
    pub index: usize,
    /// Its id, when it had one.
    pub id: Option<String>,
    /// `invalid_event`, `customer_not_found`, `timestamp_out_of_range` or `invalid_value`.
    #[schema(example = "customer_not_found")]
    pub code: &'static str,
    /// The field at fault.
    #[schema(example = "customer")]
    pub field: Option<String>,
    pub detail: String,
}

fn refuse(
    index: usize,
    id: Option<&str>,
    code: &'static str,
    field: &str,
    detail: String,
) -> EventError {
    EventError {
        index,
        id: id.map(str::to_owned),
        code,
        field: Some(field.to_owned()),
        detail,
    }
}

/// An event ready to write: its row and what it adds to each meter.
#[derive(Debug)]
pub struct Prepared {
    pub index: usize,
    pub row: EventRow,
    measures: Vec<(String, Measure)>,
}

/// Checks `raw` events against the scope's customers and active meters.
pub async fn prepare(
    db: &Db,
    clock: &Clock,
    scope: &Scope,
    raw: Vec<Value>,
) -> ApiResult<(Vec<Prepared>, Vec<EventError>)> {
    let received_at = clock.now_ms();
    let mut errors = Vec::new();
    let mut parsed = Vec::with_capacity(raw.len());
    for (index, v) in raw.into_iter().enumerate() {
        let id = v.get("id").and_then(Value::as_str).map(str::to_owned);
        match serde_json::from_value::<EventInput>(v) {
            Ok(e) => match check_shape(&e) {
                Ok(()) => parsed.push((index, e)),
                Err((field, detail)) => {
                    errors.push(refuse(index, id.as_deref(), "invalid_event", field, detail))
                }
            },
            Err(e) => errors.push(EventError {
                index,
                id,
                code: "invalid_event",
                field: None,
                detail: e.to_string(),
            }),
        }
    }
    let mut conn = db.read_scoped(scope).await?;
    let refs: Vec<&str> = {
        let set: HashSet<&str> = parsed.iter().map(|(_, e)| e.customer.as_str()).collect();
        set.into_iter().collect()
    };
    let mut customers: HashMap<String, db::EventCustomer> = HashMap::new();
    for c in db::customers_named(&mut conn, scope, &refs).await? {
        if let Some(ext) = &c.external_id {
            customers.insert(ext.clone(), c.clone());
        }
        customers.insert(c.id.clone(), c);
    }
    let meters = db::active_meters(&mut conn, scope)
        .await?
        .into_iter()
        .map(Meter::from_row)
        .collect::<Vec<_>>();
    conn.end();
    let mut ready = Vec::with_capacity(parsed.len());
    'events: for (index, e) in parsed {
        let id = Some(e.id.as_str());
        let Some(customer) = customers.get(&e.customer) else {
            errors.push(refuse(
                index,
                id,
                "customer_not_found",
                "customer",
                format!("no customer has the id or external id {:?}", e.customer),
            ));
            continue;
        };
        let now = customer.clock_time.unwrap_or(received_at);
        let ts = match &e.timestamp {
            None => now,
            Some(t) => match timestamp::parse_rfc3339(t) {
                Some(ts) if (now - MAX_AGE_MS..=now + MAX_AHEAD_MS).contains(&ts) => ts,
                Some(_) => {
                    errors.push(refuse(index, id, "timestamp_out_of_range", "timestamp", format!(
                        "must be between 35 days before and 5 minutes after the customer's now ({})",
                        timestamp::to_rfc3339(now)
                    )));
                    continue;
                }
                None => {
                    errors.push(refuse(
                        index,
                        id,
                        "invalid_event",
                        "timestamp",
                        "must be an RFC 3339 timestamp".into(),
                    ));
                    continue;
                }
            },
        };
        let mut measures = Vec::new();
        for m in &meters {
            match m.def.measure(&e.event_type, &e.properties) {
                None => {}
                Some(Ok(measure)) => measures.push((m.row.id.clone(), measure)),
                Some(Err(detail)) => {
                    errors.push(refuse(
                        index,
                        id,
                        "invalid_value",
                        "properties",
                        format!("meter {}: {detail}", m.row.id),
                    ));
                    continue 'events;
                }
            }
        }
        ready.push(Prepared {
            index,
            row: EventRow {
                id: e.id,
                event_type: e.event_type,
                customer_id: customer.id.clone(),
                ts,
                properties: serde_json::to_string(&e.properties)
                    .map_err(|e| ApiError::Internal(e.into()))?,
                received_at,
            },
            measures,
        });
    }
    errors.sort_by_key(|e| e.index);
    Ok((ready, errors))
}

fn check_shape(e: &EventInput) -> Result<(), (&'static str, String)> {
    if e.id.is_empty() || e.id.len() > 255 {
        return Err(("id", "must be 1 to 255 characters".into()));
    }
    check_event_type("type", &e.event_type).map_err(|_| {
        (
            "type",
            "must be 1 to 100 letters, digits, '_', '-', '.' or ':'".to_owned(),
        )
    })?;
    if e.customer.is_empty() || e.customer.len() > 255 {
        return Err(("customer", "must be 1 to 255 characters".into()));
    }
    let size = serde_json::to_string(&e.properties).map_or(usize::MAX, |s| s.len());
    if size > MAX_PROPERTIES_BYTES {
        return Err((
            "properties",
            format!("must be at most {MAX_PROPERTIES_BYTES} bytes of JSON"),
        ));
    }
    Ok(())
}

struct Job {
    scope: Scope,
    events: Vec<Prepared>,
    /// For each event: true when it was new, false when its id had been seen.
    reply: oneshot::Sender<ApiResult<Vec<bool>>>,
}

/// The door to the writers.
#[derive(Clone)]
pub struct Ingestor {
    jobs: mpsc::Sender<Job>,
    alerts: Arc<Alerts>,
}

impl Ingestor {
    /// Starts the writers (one on SQLite, which has one writer anyway, a few on PostgreSQL)
    /// and the usage alerts they feed. Fails when another server holds the SQLite file.
    pub fn start(db: Db, clock: Clock) -> anyhow::Result<Ingestor> {
        let writers = match db.backend() {
            Backend::Sqlite => vec![Some(Written::new(db.lock_sqlite_file()?))],
            Backend::Postgres => (0..4).map(|_| None).collect(),
        };
        let alerts = Alerts::start(db.clone(), clock);
        let (jobs, rx) = mpsc::channel(256);
        let rx = Arc::new(Mutex::new(rx));
        for written in writers {
            tokio::spawn(write_loop(db.clone(), rx.clone(), alerts.clone(), written));
        }
        Ok(Ingestor { jobs, alerts })
    }

    /// Returns once the usage alerts of everything written so far are checked.
    pub async fn settle_alerts(&self) {
        self.alerts.settle().await;
    }

    /// Writes the events; returns, for each, whether it was new. Returns once committed.
    pub async fn write(&self, scope: Scope, events: Vec<Prepared>) -> ApiResult<Vec<bool>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let unavailable = || ApiError::Unavailable;
        self.jobs
            .send(Job {
                scope,
                events,
                reply,
            })
            .await
            .map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }
}

/// `written`: the rollups this writer wrote last, when it is SQLite's only one.
async fn write_loop(
    db: Db,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    alerts: Arc<Alerts>,
    mut written: Option<Written>,
) {
    loop {
        let jobs = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut size = first.events.len();
            let mut jobs = vec![first];
            while size < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => {
                        size += job.events.len();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            jobs
        };
        let mut by_scope: Vec<(Scope, Vec<Job>)> = Vec::new();
        for job in jobs {
            match by_scope.iter_mut().find(|(s, _)| *s == job.scope) {
                Some((_, same)) => same.push(job),
                None => by_scope.push((job.scope.clone(), vec![job])),
            }
        }
        for (scope, jobs) in by_scope {
            match commit(&db, &scope, &jobs, written.as_mut()).await {
                Ok(done) => answer(&alerts, &scope, jobs, done),
                // One request's events (usage past the rollups' range) must not fail the
                // others of its group: each is tried again alone; a group of one has its
                // answer already.
                Err(e) => {
                    written.iter_mut().for_each(Written::forget);
                    let mut alone = (jobs.len() == 1).then_some(e);
                    for job in jobs {
                        let outcome = match alone.take() {
                            Some(e) => Err(e),
                            None => {
                                let one = std::slice::from_ref(&job);
                                commit(&db, &scope, one, written.as_mut()).await
                            }
                        };
                        match outcome {
                            Ok(done) => answer(&alerts, &scope, vec![job], done),
                            Err(e) => {
                                written.iter_mut().for_each(Written::forget);
                                let _ = job.reply.send(Err(for_request(e)));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What a request whose events could not be written is told: its own fault as it is (a
/// 4xx), anything else as the database being unavailable (logged here), which it may retry.
fn for_request(e: ApiError) -> ApiError {
    if e.status().is_client_error() {
        e
    } else {
        tracing::error!(error = %e, "writing events failed");
        ApiError::Unavailable
    }
}

/// Answers the jobs of a committed group, each with its events' new/duplicate flags.
fn answer(
    alerts: &Alerts,
    scope: &Scope,
    jobs: Vec<Job>,
    (mut fresh, touched): (Vec<bool>, Touched),
) {
    alerts.note(scope, touched);
    for job in jobs {
        let rest = fresh.split_off(job.events.len());
        let _ = job.reply.send(Ok(fresh));
        fresh = rest;
    }
}

/// One transaction for the jobs of one scope; returns new/duplicate for every event in order,
/// and whose usage grew.
async fn commit(
    db: &Db,
    scope: &Scope,
    jobs: &[Job],
    written: Option<&mut Written>,
) -> ApiResult<(Vec<bool>, Touched)> {
    let events: Vec<&Prepared> = jobs.iter().flat_map(|j| &j.events).collect();
    let mut seen = HashSet::with_capacity(events.len());
    let mut first: Vec<&EventRow> = events
        .iter()
        .map(|e| &e.row)
        .filter(|r| seen.insert(r.id.as_str()))
        .collect();
    // In id order: PostgreSQL writers inserting the same ids then wait rather than deadlock.
    first.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let mut tx = db.write_scoped(scope).await?;
    let mut known_ids = db::insert_events(&mut tx, scope, &first).await?;
    let mut fresh = Vec::with_capacity(events.len());
    let mut rollups: BTreeMap<RollupKey, Agg> = BTreeMap::new();
    let mut distinct: Vec<DistinctRow> = Vec::new();
    for e in &events {
        // New when its id was not stored before and is the group's first with it.
        let new = known_ids.insert(e.row.id.clone());
        fresh.push(new);
        if !new {
            continue;
        }
        for (meter, m) in &e.measures {
            for width in WIDTHS {
                let bucket = floor_to(e.row.ts, width);
                let key = RollupKey {
                    meter_id: meter.clone(),
                    customer_id: e.row.customer_id.clone(),
                    width,
                    bucket,
                    group_key: m.group_key.clone(),
                };
                rollups
                    .entry(key)
                    .or_default()
                    .add(e.row.ts, m.value, bucket + width)
                    .map_err(db::overflow)?;
            }
            if let Some(v) = &m.distinct {
                distinct.push(DistinctRow {
                    meter_id: meter.clone(),
                    customer_id: e.row.customer_id.clone(),
                    bucket: floor_to(e.row.ts, HOUR),
                    group_key: m.group_key.clone(),
                    value: v.clone(),
                });
            }
        }
    }
    let stored = match &written {
        Some(w) => Some(db::merge_rollups(&mut tx, scope, &rollups, w).await?),
        None => {
            db::add_rollups(&mut tx, scope, &rollups).await?;
            None
        }
    };
    distinct.sort();
    distinct.dedup();
    db::insert_distinct(&mut tx, scope, &distinct.iter().collect::<Vec<_>>()).await?;
    tx.commit().await?;
    if let (Some(w), Some(rows)) = (written, stored) {
        w.keep(scope, rows);
    }
    let mut touched = Touched::new();
    for k in rollups.keys() {
        touched
            .entry(k.customer_id.clone())
            .or_default()
            .insert(k.meter_id.clone());
    }
    Ok((fresh, touched))
}

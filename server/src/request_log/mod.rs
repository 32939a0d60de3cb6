//! The request log: the platform's own API traffic, one entry per request made with an API
//! key (request id, method, route template, status, duration, key, tenant, environment).
//!
//! Recording never touches the request's path: the middleware hands a finished entry to a
//! bounded channel (`try_send`; when the channel is full the entry is dropped and counted in
//! a warning) and a background task writes what arrived in multi-row inserts, every
//! `FLUSH_EVERY` or `MAX_BATCH` entries. A crash loses at most the unflushed second.

pub mod api;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::http::request_id;
use crate::tenancy::Scope;
use domain::ids::{ApiKeyId, RequestLogId};
use domain::request_log::Entry;
use store::Db;

const FLUSH_EVERY: Duration = Duration::from_secs(1);
const MAX_BATCH: usize = 500;
const CHANNEL_CAPACITY: usize = 10_000;

enum Message {
    Entry(Entry),
    Flush(oneshot::Sender<()>),
}

/// The sending side, kept in `AppState`.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Message>,
}

impl Recorder {
    /// The recorder and its writer task, which ends when every `Recorder` is dropped.
    pub fn start(db: Db) -> (Recorder, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        (Recorder { tx }, tokio::spawn(write_batches(db, rx)))
    }

    fn record(&self, entry: Entry) {
        if self.tx.try_send(Message::Entry(entry)).is_err() {
            tracing::warn!("request log channel full or closed; entry dropped");
        }
    }

    /// Writes everything recorded so far (tests, and shutdown).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_batches(db: Db, mut rx: mpsc::Receiver<Message>) {
    let mut batch = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tokio::select! {
            message = rx.recv() => match message {
                Some(Message::Entry(entry)) => {
                    batch.push(entry);
                    if batch.len() >= MAX_BATCH {
                        write(&db, &mut batch).await;
                    }
                }
                Some(Message::Flush(done)) => {
                    write(&db, &mut batch).await;
                    let _ = done.send(());
                }
                None => {
                    write(&db, &mut batch).await;
                    return;
                }
            },
            _ = tick.tick() => write(&db, &mut batch).await,
        }
    }
}

async fn write(db: &Db, batch: &mut Vec<Entry>) {
    if batch.is_empty() {
        return;
    }
    let entries = std::mem::take(batch);
    if let Err(e) = store::request_log::insert(db, &entries).await {
        tracing::warn!(error = %e, dropped = entries.len(), "could not write the request log");
    }
}

/// Who made the request, filled by the `Caller` extractor when an API key authenticates.
#[derive(Debug, Clone)]
pub struct KeyUse {
    pub api_key_id: ApiKeyId,
    pub scope: Scope,
}

tokio::task_local! {
    static KEY_USE: RefCell<Option<KeyUse>>;
}

/// Marks the current request as made with this key (no-op outside the middleware).
pub fn note_key_use(key: KeyUse) {
    let _ = KEY_USE.try_with(|slot| *slot.borrow_mut() = Some(key));
}

/// Times the request and, when an API key made it, records an entry after the response.
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let (response, key) = KEY_USE
        .scope(RefCell::new(None), async {
            let response = next.run(req).await;
            let key = KEY_USE.with(|slot| slot.borrow_mut().take());
            (response, key)
        })
        .await;
    if let (Some(key), Some(route)) = (key, route) {
        state.request_log.record(Entry {
            id: RequestLogId::generate().to_string(),
            tenant_id: key.scope.org_id.to_string(),
            env: key.scope.env.as_str(),
            api_key_id: key.api_key_id.to_string(),
            request_id: request_id::current(),
            method,
            route,
            status: response.status().as_u16(),
            duration_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
            created_at: state.clock.now_ms(),
        });
    }
    response
}

//! Test-only fault injection, for the SDKs' retry tests. Off unless the server runs with
//! `--inject-faults`; then a request carrying `NeoForge-Fault: <status>` (429 or 5xx),
//! `NeoForge-Fault-Key: <any id>` and `NeoForge-Fault-Times: <n>` fails with that status the
//! first n times its key is seen, and passes through after. 429 and 503 answers carry
//! `Retry-After` (`NeoForge-Fault-Retry-After`, default 1 second).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// How many times each fault key has fired.
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<HashMap<String, u32>>>);

struct Fault {
    status: StatusCode,
    key: String,
    times: u32,
    retry_after: u32,
}

fn parse(headers: &HeaderMap) -> Option<Fault> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let status = StatusCode::from_u16(get("neoforge-fault")?.parse().ok()?).ok()?;
    if !(status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()) {
        return None;
    }
    Some(Fault {
        status,
        key: get("neoforge-fault-key")?.to_owned(),
        times: get("neoforge-fault-times")
            .and_then(|t| t.parse().ok())
            .unwrap_or(1),
        retry_after: get("neoforge-fault-retry-after")
            .and_then(|t| t.parse().ok())
            .unwrap_or(1),
    })
}

pub async fn middleware(State(faults): State<Faults>, req: Request, next: Next) -> Response {
    let Some(fault) = parse(req.headers()) else {
        return next.run(req).await;
    };
    let fire = match faults.0.lock() {
        Ok(mut seen) => {
            let n = seen.entry(fault.key).or_insert(0);
            *n += 1;
            *n <= fault.times
        }
        Err(_) => false,
    };
    if !fire {
        return next.run(req).await;
    }
    let mut response = ApiError::Injected(fault.status).into_response();
    if matches!(
        fault.status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(fault.retry_after));
    }
    response
}

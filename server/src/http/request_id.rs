//! `X-Request-Id` in and out. The id lives in a task-local for the request's lifetime so that
//! error bodies and log lines can carry it without threading it through every call.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled, or `""` outside a request.
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// A caller-supplied id is kept when it is short printable ASCII; otherwise one is minted.
fn accept(value: Option<&HeaderValue>) -> Option<String> {
    let s = value?.to_str().ok()?;
    let ok = !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| s.to_owned())
}

pub async fn middleware(mut req: Request, next: Next) -> Response {
    let id = accept(req.headers().get(HEADER))
        .unwrap_or_else(|| format!("req_{}", uuid::Uuid::now_v7().simple()));
    let header = HeaderValue::from_str(&id).expect("request ids are printable ASCII");
    req.headers_mut().insert(HEADER, header.clone());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = std::time::Instant::now();
    let mut response = REQUEST_ID
        .scope(id, next.run(req))
        .instrument(span.clone())
        .await;
    span.in_scope(|| {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        tracing::info!(
            status = response.status().as_u16(),
            micros,
            "request finished"
        );
    });
    response.headers_mut().insert(HEADER, header);
    response
}

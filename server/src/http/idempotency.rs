//! `Idempotency-Key` on every POST. The first request with a key runs and its response is
//! stored; a replay with the same body gets that response back (`Idempotent-Replayed: true`);
//! the same key with another body is refused (422 `idempotency_key_reused`); a replay while
//! the first is still running gets 409 `idempotency_key_in_use`.
//!
//! Keys are scoped by the caller's credential and live 24 hours. A stored response is sealed
//! with a key derived from the credential, the idempotency key and the request (which a
//! replay must present again) and never stored, so the secrets some responses carry (a new
//! API key, a session token) do not rest readable in the table. 5xx responses are not stored,
//! so the client may retry them. A claim whose request never finished (the process died
//! between the change and storing the response) is given up after 5 minutes.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::raw_credential;
use super::error::ApiError;
use crate::app::AppState;
use domain::crypto::MasterKey;
use domain::secret;
use store::idempotency::{self as db, Record};

pub const HEADER: &str = "idempotency-key";
const TTL_MS: i64 = 24 * 3600 * 1000;
const ABANDONED_MS: i64 = 5 * 60 * 1000;

/// How a stored response is sealed and opened.
struct Seal {
    key: MasterKey,
    context: String,
}

enum Claim {
    Fresh,
    Replay(Record),
}

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(HEADER) else {
        return next.run(req).await;
    };
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 => k.to_owned(),
        _ => {
            return ApiError::validation("Idempotency-Key", "must be 1 to 255 ASCII characters")
                .into_response();
        }
    };
    let credential = raw_credential(req.headers())
        .unwrap_or(b"anonymous")
        .to_vec();
    let scope = secret::digest(&[&credential]);
    let (parts, body) = req.into_parts();
    let body = match to_bytes(body, state.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => return ApiError::PayloadTooLarge.into_response(),
    };
    let target = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let fingerprint = secret::digest(&[parts.method.as_str().as_bytes(), target.as_bytes(), &body]);
    let seal = Seal {
        key: MasterKey::derived(&[&credential, key.as_bytes(), &body]),
        context: format!("idempotency/{scope}/{key}"),
    };

    match claim(&state, &scope, &key, &fingerprint).await {
        Err(e) => e.into_response(),
        Ok(Claim::Replay(record)) => replay(record, &fingerprint, &seal),
        Ok(Claim::Fresh) => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            store(&state, &scope, &key, &seal, response).await
        }
    }
}

async fn claim(
    state: &AppState,
    scope: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Claim, ApiError> {
    let now = state.clock.now_ms();
    // Two rounds: the second follows the removal of an expired or abandoned claim.
    for _ in 0..2 {
        if db::claim(state.db.writer(), scope, key, fingerprint, now).await? {
            return Ok(Claim::Fresh);
        }
        let Some(record) = db::get(state.db.writer(), scope, key).await? else {
            continue;
        };
        let age = now - record.created_at;
        if age > TTL_MS || (record.status.is_none() && age > ABANDONED_MS) {
            db::release(state.db.writer(), scope, key, record.created_at).await?;
            continue;
        }
        return Ok(Claim::Replay(record));
    }
    Err(ApiError::conflict(
        "idempotency_key_in_use",
        "The idempotency key is being claimed by another request; retry.",
    ))
}

fn replay(record: Record, fingerprint: &str, seal: &Seal) -> Response {
    if record.fingerprint != fingerprint {
        return ApiError::Unprocessable {
            code: "idempotency_key_reused",
            detail: "This idempotency key was used with a different request; use a new key.".into(),
        }
        .into_response();
    }
    let (Some(status), Some(body)) = (record.status, record.body) else {
        return ApiError::conflict(
            "idempotency_key_in_use",
            "A request with this idempotency key is still in progress; retry later.",
        )
        .into_response();
    };
    let body = match seal.key.open(&seal.context, &body) {
        Ok(b) => b,
        Err(e) => return ApiError::Internal(e).into_response(),
    };
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Some(ct) = record
        .content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
    {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

async fn store(
    state: &AppState,
    scope: &str,
    key: &str,
    seal: &Seal,
    response: Response,
) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return ApiError::Internal(anyhow::anyhow!("response body unreadable")).into_response();
    };
    let sealed = seal
        .key
        .seal(&seal.context, &String::from_utf8_lossy(&bytes));
    let outcome = match sealed {
        Ok(sealed) if !parts.status.is_server_error() => {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let status = i64::from(parts.status.as_u16());
            db::finish(state.db.writer(), scope, key, status, content_type, &sealed).await
        }
        // A 5xx may be retried; so may what could not be sealed (never seen: the cipher
        // only refuses messages of gigabytes).
        _ => db::forget(state.db.writer(), scope, key).await,
    };
    if let Err(e) = outcome {
        // The change itself is committed; only replays of it are affected.
        tracing::error!(error = %e, "failed to record the idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}

//! A fake Stripe on 127.0.0.1, speaking Stripe's wire format: form-encoded requests with
//! `a[b]=c` brackets, `Authorization: Bearer sk_…`, `Idempotency-Key` (same key, same
//! answer), Stripe-shaped JSON objects and errors (402 `card_error` with the PaymentIntent).
//! Payment methods decline like Stripe's test cards. Every request is recorded. Also signs
//! webhook payloads the way Stripe does, independently of the server's own code.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Form fields by their raw (bracketed) names, e.g. `metadata[neoforge_invoice]`.
    pub form: BTreeMap<String, String>,
    pub idempotency_key: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    replies: HashMap<(String, String), (u16, Value)>,
    setup_intents: HashMap<String, Value>,
    /// Checkout Sessions, and the form each was made from.
    sessions: HashMap<String, (Value, BTreeMap<String, String>)>,
    subscriptions: HashMap<String, Value>,
    payment_intents: HashMap<String, Value>,
    /// Coupons' `amount_off`.
    coupons: HashMap<String, i64>,
    next: u64,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

pub struct FakeStripe {
    /// What `--stripe-api-base` should be.
    pub base: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let shared = Shared::default();
        let app = Router::new()
            .route("/v1/customers", axum::routing::post(handle))
            .route("/v1/checkout/sessions", axum::routing::post(handle))
            .route("/v1/checkout/sessions/{id}", axum::routing::get(handle))
            .route(
                "/v1/checkout/sessions/{id}/expire",
                axum::routing::post(handle),
            )
            .route("/v1/subscriptions/{id}", axum::routing::post(handle))
            .route("/v1/coupons", axum::routing::post(handle))
            .route("/v1/payment_intents", axum::routing::post(handle))
            .route("/v1/refunds", axum::routing::post(handle))
            .route(
                "/v1/setup_intents/{id}",
                axum::routing::get(get_setup_intent),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake stripe");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeStripe {
            base: format!("http://{addr}/"),
            shared,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.0.lock().expect("lock").requests.clone()
    }

    /// Requests to `path` (e.g. `/v1/payment_intents`).
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// The SetupIntents made for Checkout Sessions, oldest first.
    pub fn setup_intent_ids(&self) -> Vec<String> {
        let inner = self.shared.0.lock().expect("lock");
        let mut ids: Vec<String> = inner.setup_intents.keys().cloned().collect();
        ids.sort_by_key(|id| {
            id.trim_start_matches("seti_fake")
                .parse::<u64>()
                .unwrap_or(0)
        });
        ids
    }

    /// The customer pays a Checkout Session on Stripe's page with `pm`: what it made
    /// (customer, subscription and invoice, PaymentIntent or SetupIntent) exists, and the
    /// session is returned as `checkout.session.completed` carries it. None if the session
    /// is not open.
    pub fn pay_checkout(&self, session: &str, pm: &str, email: &str) -> Option<Value> {
        let mut inner = self.shared.0.lock().expect("lock");
        inner.next += 1;
        let n = inner.next;
        let (mut object, form) = inner.sessions.get(session).cloned()?;
        if object["status"] != "open" {
            return None;
        }
        let mut total: i64 = (0..)
            .map_while(|i| {
                let amount = form.get(&format!("line_items[{i}][price_data][unit_amount]"))?;
                let quantity = form
                    .get(&format!("line_items[{i}][quantity]"))
                    .map_or(1, |q| q.parse().expect("quantity"));
                Some(amount.parse::<i64>().expect("unit_amount") * quantity)
            })
            .sum();
        let trial = form.contains_key("subscription_data[trial_period_days]");
        if let Some(coupon) = form.get("discounts[0][coupon]") {
            total -= inner.coupons[coupon];
        }
        if trial {
            total = 0;
        }
        let customer = object["customer"]
            .as_str()
            .map_or_else(|| format!("cus_fake{n}"), str::to_owned);
        object["customer"] = json!(customer);
        object["customer_details"] = json!({"email": email});
        object["status"] = json!("complete");
        object["amount_total"] = json!(total);
        object["payment_status"] = json!(if total == 0 {
            "no_payment_required"
        } else {
            "paid"
        });
        match object["mode"].as_str() {
            Some("subscription") => {
                let id = format!("sub_fake{n}");
                inner.subscriptions.insert(
                    id.clone(),
                    json!({"id": id, "object": "subscription", "customer": customer,
                           "default_payment_method": pm, "cancel_at_period_end": false,
                           "status": if trial { "trialing" } else { "active" },
                           "metadata": sub_map(&form, "subscription_data[metadata]")}),
                );
                object["subscription"] = json!(id);
                object["invoice"] = json!(format!("in_fake{n}"));
            }
            Some("payment") => {
                let id = format!("pi_fake{n}");
                inner.payment_intents.insert(
                    id.clone(),
                    json!({"id": id, "object": "payment_intent", "amount": total,
                           "customer": customer, "payment_method": pm, "status": "succeeded",
                           "metadata": sub_map(&form, "payment_intent_data[metadata]")}),
                );
                object["payment_intent"] = json!(id);
            }
            _ => {
                let si = object["setup_intent"]
                    .as_str()
                    .expect("setup intent")
                    .to_owned();
                if let Some(intent) = inner.setup_intents.get_mut(&si) {
                    intent["status"] = json!("succeeded");
                    intent["payment_method"] = json!(pm);
                }
            }
        }
        inner
            .sessions
            .insert(session.to_owned(), (object.clone(), form));
        Some(object)
    }

    /// A subscription as the fake holds it.
    pub fn subscription(&self, id: &str) -> Option<Value> {
        self.shared
            .0
            .lock()
            .expect("lock")
            .subscriptions
            .get(id)
            .cloned()
    }

    /// The customer finishes Checkout: the session's SetupIntent succeeds with `pm`.
    pub fn complete_setup(&self, setup_intent: &str, pm: &str) {
        let mut inner = self.shared.0.lock().expect("lock");
        if let Some(si) = inner.setup_intents.get_mut(setup_intent) {
            si["status"] = json!("succeeded");
            si["payment_method"] = json!(pm);
        }
    }
}

/// `Stripe-Signature` for `payload` at `t` (unix seconds): `t=…,v1=hex(HMAC-SHA256(secret, "t.payload"))`.
pub fn sign(payload: &str, secret: &str, t: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(format!("{t}.{payload}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A Stripe event around `object`.
pub fn event(id: &str, kind: &str, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": 1_700_000_000,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
        "data": {"object": object},
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_form(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `prefix[key]=value` fields as an object (`metadata[…]`).
fn sub_map(form: &BTreeMap<String, String>, prefix: &str) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in form {
        if let Some(key) = k
            .strip_prefix(&format!("{prefix}["))
            .and_then(|rest| rest.strip_suffix(']'))
            && !key.contains('[')
        {
            m.insert(key.to_owned(), json!(v));
        }
    }
    Value::Object(m)
}

fn error(status: u16, kind: &str, message: &str) -> (u16, Value) {
    (status, json!({"error": {"type": kind, "message": message}}))
}

fn reply((status, body): (u16, Value)) -> Response {
    (
        StatusCode::from_u16(status).expect("status"),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn authorized(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?.to_owned();
    let key = auth.strip_prefix("Bearer ")?;
    (key.starts_with("sk_test_") || key.starts_with("sk_live_") || key.starts_with("rk_"))
        .then_some(auth)
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match method {
        Method::GET => parse_form(uri.query().unwrap_or("")),
        _ => parse_form(&String::from_utf8_lossy(&body)),
    };
    let idem = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = uri.path().to_owned();
    let mut inner = shared.0.lock().expect("lock");
    inner.requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        form: form.clone(),
        idempotency_key: idem.clone(),
        authorization: auth.clone(),
    });
    let Some(auth) = authorized(&headers) else {
        return reply(error(
            401,
            "invalid_request_error",
            "Invalid API Key provided: sk_****",
        ));
    };
    let livemode = auth.contains("_live_");
    if let Some(key) = &idem
        && let Some(stored) = inner.replies.get(&(auth.clone(), key.clone()))
    {
        return reply(stored.clone());
    }
    inner.next += 1;
    let n = inner.next;
    let created = 1_700_000_000 + n as i64;
    let metadata = sub_map(&form, "metadata");
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    let answer = match segments.as_slice() {
        ["checkout", "sessions", id] => match inner.sessions.get(*id) {
            Some((session, _)) => (200, expanded(&inner, session.clone(), &form)),
            None => error(404, "invalid_request_error", "No such checkout.session"),
        },
        ["checkout", "sessions", id, "expire"] => match inner.sessions.get_mut(*id) {
            Some((session, _)) if session["status"] == "open" => {
                session["status"] = json!("expired");
                (200, session.clone())
            }
            Some(_) => error(
                400,
                "invalid_request_error",
                "Only Checkout Sessions with a status in [\"open\"] can be expired.",
            ),
            None => error(404, "invalid_request_error", "No such checkout.session"),
        },
        ["subscriptions", id] => match inner.subscriptions.get_mut(*id) {
            Some(sub) => {
                if let Some(end) = form.get("cancel_at_period_end") {
                    sub["cancel_at_period_end"] = json!(end == "true");
                }
                (200, sub.clone())
            }
            None => error(404, "invalid_request_error", "No such subscription"),
        },
        ["coupons"] => {
            let id = format!("coupon_fake{n}");
            let amount: i64 = form["amount_off"].parse().expect("amount_off");
            inner.coupons.insert(id.clone(), amount);
            (
                200,
                json!({"id": id, "object": "coupon", "amount_off": amount,
                       "currency": form.get("currency"), "duration": form.get("duration"),
                       "max_redemptions": 1, "valid": true}),
            )
        }
        ["customers"] => (
            200,
            json!({
                "id": format!("cus_fake{n}"), "object": "customer", "created": created,
                "livemode": livemode, "metadata": metadata,
                "name": form.get("name"), "email": form.get("email"),
            }),
        ),
        ["checkout", "sessions"] => {
            let setup = form.get("mode").map(String::as_str) == Some("setup");
            let si = format!("seti_fake{n}");
            if setup {
                let si_metadata = sub_map(&form, "setup_intent_data[metadata]");
                inner.setup_intents.insert(
                    si.clone(),
                    json!({
                        "id": si, "object": "setup_intent", "created": created,
                        "livemode": livemode, "payment_method_types": ["card"],
                        "status": "requires_payment_method", "usage": "off_session",
                        "customer": form.get("customer"), "metadata": si_metadata,
                        "payment_method": null,
                    }),
                );
            }
            let id = format!("cs_test_fake{n}");
            let expires_at = form
                .get("expires_at")
                .map_or(created + 86_400, |e| e.parse().expect("expires_at"));
            let session = json!({
                "id": id, "object": "checkout.session", "created": created,
                "expires_at": expires_at, "livemode": livemode,
                "mode": form.get("mode"), "currency": form.get("currency"),
                "customer": form.get("customer"), "customer_email": form.get("customer_email"),
                "client_reference_id": form.get("client_reference_id"),
                "success_url": form.get("success_url"), "cancel_url": form.get("cancel_url"),
                "metadata": metadata, "setup_intent": if setup { json!(si) } else { json!(null) },
                "subscription": null, "payment_intent": null, "invoice": null,
                "status": "open", "payment_status": "unpaid", "payment_method_types": ["card"],
                "automatic_tax": {"enabled": false}, "custom_fields": [], "custom_text": {},
                "shipping_options": [],
                "url": format!("https://checkout.stripe.com/c/pay/{id}"),
            });
            inner.sessions.insert(id, (session.clone(), form.clone()));
            (200, session)
        }
        ["payment_intents"] => payment_intent(&form, n, created, livemode, metadata),
        ["refunds"] => (
            200,
            json!({
                "id": format!("re_fake{n}"), "object": "refund", "created": created,
                "amount": form.get("amount").and_then(|a| a.parse::<i64>().ok()).unwrap_or(0),
                "currency": "usd", "payment_intent": form.get("payment_intent"),
                "status": "succeeded", "metadata": metadata,
            }),
        ),
        _ => error(404, "invalid_request_error", "Unrecognized request URL"),
    };
    if let Some(key) = idem {
        inner.replies.insert((auth, key), answer.clone());
    }
    reply(answer)
}

/// A session with the objects `expand[…]` names in place of their ids.
fn expanded(inner: &Inner, mut session: Value, form: &BTreeMap<String, String>) -> Value {
    for field in form
        .iter()
        .filter(|(k, _)| k.starts_with("expand["))
        .map(|(_, v)| v)
    {
        let Some(id) = session[field.as_str()].as_str() else {
            continue;
        };
        let object = match field.as_str() {
            "subscription" => inner.subscriptions.get(id),
            "payment_intent" => inner.payment_intents.get(id),
            "setup_intent" => inner.setup_intents.get(id),
            _ => None,
        };
        if let Some(object) = object {
            session[field.as_str()] = object.clone();
        }
    }
    session
}

fn payment_intent(
    form: &BTreeMap<String, String>,
    n: u64,
    created: i64,
    livemode: bool,
    metadata: Value,
) -> (u16, Value) {
    let amount: i64 = form.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    let pm = form.get("payment_method").cloned().unwrap_or_default();
    let id = format!("pi_fake{n}");
    let mut pi = json!({
        "id": id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
        "amount_received": 0, "capture_method": "automatic", "confirmation_method": "automatic",
        "created": created, "currency": form.get("currency"), "customer": form.get("customer"),
        "livemode": livemode, "metadata": metadata, "payment_method": pm,
        "payment_method_types": ["card"], "status": "requires_confirmation",
        "latest_charge": null,
    });
    let decline = match pm.as_str() {
        "pm_card_chargeDeclined" => Some(("card_declined", "generic_decline")),
        "pm_card_chargeDeclinedInsufficientFunds" => Some(("card_declined", "insufficient_funds")),
        "pm_card_authenticationRequired" => {
            Some(("authentication_required", "authentication_required"))
        }
        _ => None,
    };
    if let Some((code, decline_code)) = decline {
        pi["status"] = json!("requires_payment_method");
        pi["latest_charge"] = json!(format!("ch_fake{n}"));
        pi["last_payment_error"] = json!({
            "type": "card_error", "code": code, "decline_code": decline_code,
            "message": "Your card was declined.",
        });
        return (
            402,
            json!({"error": {
                "type": "card_error", "code": code, "decline_code": decline_code,
                "message": "Your card was declined.", "charge": format!("ch_fake{n}"),
                "payment_intent": pi,
            }}),
        );
    }
    if pm == "pm_card_threeDSecureRequired" {
        pi["status"] = json!("requires_action");
    } else if pm == "pm_usBankAccount_processing" {
        pi["status"] = json!("processing");
    } else {
        pi["status"] = json!("succeeded");
        pi["amount_received"] = json!(amount);
        pi["latest_charge"] = json!(format!("ch_fake{n}"));
    }
    (200, pi)
}

async fn get_setup_intent(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = shared.0.lock().expect("lock");
    inner.requests.push(Recorded {
        method: "GET".into(),
        path: format!("/v1/setup_intents/{id}"),
        form: BTreeMap::new(),
        idempotency_key: None,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    if authorized(&headers).is_none() {
        return reply(error(
            401,
            "invalid_request_error",
            "Invalid API Key provided",
        ));
    }
    match inner.setup_intents.get(&id) {
        Some(si) => reply((200, si.clone())),
        None => reply(error(
            404,
            "invalid_request_error",
            &format!("No such setupintent: '{id}'"),
        )),
    }
}

#[test]
fn forms_parse_like_stripes() {
    let f = parse_form(
        "metadata%5Bneoforge_invoice%5D=inv_1&amount=100&success_url=https%3A%2F%2Fa.example%2Fok%3Fx%3D1&name=Ada+L",
    );
    assert_eq!(f["metadata[neoforge_invoice]"], "inv_1");
    assert_eq!(f["success_url"], "https://a.example/ok?x=1");
    assert_eq!(f["name"], "Ada L");
    assert_eq!(
        sub_map(&f, "metadata"),
        json!({"neoforge_invoice": "inv_1"})
    );
}

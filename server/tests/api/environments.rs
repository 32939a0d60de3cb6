//! The sandbox and live mode never cross: every operation of the spec that names an
//! environment-owned resource by id, called with a test credential on a live id (and a live
//! credential on a test id), answers 404 and changes nothing; every list shows only its own
//! environment. The walk is driven by openapi/v1.json, so a new kind of resource must either
//! be made here or be declared organization-wide.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Account, Backend, TestApp, spawn_app_configured};

/// Collections shared by both environments (like team members in Stripe): the organization,
/// its people and roles, its verified domains. `sso/saml` and `stripe/webhooks` are called by
/// providers, by connection or organization id, without a tenant credential.
const ORGANIZATION_WIDE: &[&str] = &[
    "members",
    "roles",
    "invitations",
    "organization",
    "organizations",
    "users",
    "sessions",
    "sso/domains",
    "sso/saml",
    "sso/authorize",
    "sso/oidc",
    "stripe/webhooks",
];

/// Ids of one environment's resources, by collection (`customers`, `scim/tokens`…).
struct Made {
    env: &'static str,
    ids: Vec<(String, String)>,
}

impl Made {
    fn id(&self, collection: &str) -> Option<&str> {
        self.ids
            .iter()
            .find(|(c, _)| c == collection)
            .map(|(_, id)| id.as_str())
    }

    fn contains_any(&self, text: &str) -> Option<&str> {
        self.ids
            .iter()
            .map(|(_, id)| id.as_str())
            .find(|id| text.contains(id))
    }
}

async fn call(
    app: &TestApp,
    who: &Account,
    env: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> crate::helpers::Reply {
    app.call_with(
        method,
        path,
        Some(&who.session),
        body,
        &[("NeoForge-Environment", env)],
    )
    .await
}

/// One of each environment-owned kind in `env`, made through the API.
async fn make(app: &TestApp, who: &Account, env: &'static str) -> Made {
    let mut ids = Vec::new();
    let post = async |ids: &mut Vec<(String, String)>, collection: &str, body: Value| -> Value {
        let r = call(
            app,
            who,
            env,
            Method::POST,
            &format!("/v1/{collection}"),
            Some(body),
        )
        .await;
        assert!(r.status.is_success(), "{env} {collection}: {}", r.body);
        let made = r.body.clone();
        if let Some(id) = made["id"].as_str() {
            ids.push((collection.to_owned(), id.to_owned()));
        }
        made
    };
    post(&mut ids, "api_keys", json!({"name": "probe"})).await;
    post(&mut ids, "scim/tokens", json!({"name": "directory"})).await;
    let product = post(&mut ids, "products", json!({"name": "Team"})).await;
    let price = post(
        &mut ids,
        "prices",
        json!({"product": product["id"], "currency": "usd", "model": "flat", "unit_amount": 1000,
            "recurring": {"interval": "month"}}),
    )
    .await;
    let coupon = post(
        &mut ids,
        "coupons",
        json!({"percent_off": "10", "duration": "forever"}),
    )
    .await;
    post(
        &mut ids,
        "promotion_codes",
        json!({"coupon": coupon["id"], "code": format!("PROBE{env}")}),
    )
    .await;
    post(
        &mut ids,
        "tax_rates",
        json!({"display_name": "VAT", "percentage": "20", "inclusive": false}),
    )
    .await;
    post(
        &mut ids,
        "meters",
        json!({"name": "Calls", "event_type": "call", "aggregation": "count"}),
    )
    .await;
    post(
        &mut ids,
        "webhook_endpoints",
        json!({"url": "https://hooks.example.com/neoforge", "enabled_events": ["*"]}),
    )
    .await;
    if env == "test" {
        post(&mut ids, "test_clocks", json!({"name": "probe"})).await;
    }
    let customer = post(
        &mut ids,
        "customers",
        json!({"email": format!("buyer-{env}@example.com"), "default_payment_method": "pm_card_visa"}),
    )
    .await;
    let sub = post(
        &mut ids,
        "subscriptions",
        json!({"customer": customer["id"], "items": [{"price": price["id"]}]}),
    )
    .await;
    let invoices = call(
        app,
        who,
        env,
        Method::GET,
        &format!(
            "/v1/invoices?subscription={}",
            sub["id"].as_str().expect("sub")
        ),
        None,
    )
    .await;
    let invoice = invoices.expect(200)["data"][0].clone();
    let invoice_id = invoice["id"].as_str().expect("an invoice").to_owned();
    ids.push(("invoices".into(), invoice_id.clone()));
    if invoice["status"] != "paid" {
        let paid = call(
            app,
            who,
            env,
            Method::POST,
            &format!("/v1/invoices/{invoice_id}/pay"),
            None,
        )
        .await;
        assert_eq!(paid.expect(200)["status"], "paid", "{env}");
    }
    post(
        &mut ids,
        "credit_notes",
        json!({"invoice": invoice_id, "credit_amount": 1}),
    )
    .await;
    ids.push((
        "sso/connections".into(),
        sso_connection(app, who, env).await,
    ));
    post(
        &mut ids,
        "checkout/sessions",
        json!({"mode": "subscription", "line_items": [{"price": price["id"]}],
               "success_url": "https://example.com/ok", "cancel_url": "https://example.com/no"}),
    )
    .await;
    post(
        &mut ids,
        "pricing_tables",
        json!({"name": "Plans", "plans": [{"product": product["id"], "monthly_price": price["id"]}],
               "success_url": "https://example.com/ok", "cancel_url": "https://example.com/no"}),
    )
    .await;
    let emails = call(app, who, env, Method::GET, "/v1/emails", None).await;
    let email = emails.expect(200)["data"][0]["id"]
        .as_str()
        .expect("an email to the buyer")
        .to_owned();
    ids.push(("emails".into(), email));
    let events = call(app, who, env, Method::GET, "/v1/webhook_events", None).await;
    let event = events.expect(200)["data"][0]["id"]
        .as_str()
        .expect("an event")
        .to_owned();
    ids.push(("webhook_events".into(), event));
    Made { env, ids }
}

/// A single sign-on connection, written straight to the database: through the API, a live
/// one needs a public https identity provider, which this machine cannot reach.
async fn sso_connection(app: &TestApp, who: &Account, env: &str) -> String {
    let id = format!("conn_{}", uuid::Uuid::now_v7().simple());
    let db = &app.server.as_ref().expect("running").state.db;
    sqlx::query(
        "INSERT INTO sso_connections (id, tenant_id, env, kind, name, status, settings,
             secret_sealed, default_role, role_mappings, created_at, updated_at)
         VALUES ($1, $2, $3, 'oidc', 'Okta', 'active', $4, 'sealed', 'viewer', '[]', 0, 0)",
    )
    .bind(&id)
    .bind(&who.org_id)
    .bind(env)
    .bind(r#"{"issuer":"https://idp.example.com","client_id":"neoforge"}"#)
    .execute(db.writer())
    .await
    .expect("connection");
    id
}

/// A body the operation accepts, so that the answer is about the id, not the body.
fn body_for(method: &Method, path: &str) -> Option<Value> {
    if *method == Method::GET || *method == Method::DELETE {
        return None;
    }
    Some(match path {
        "/v1/test_clocks/{id}/advance" => json!({"frozen_time": "2100-01-01T00:00:00Z"}),
        "/v1/customers/{id}/checkout_sessions" => json!({
            "success_url": "https://example.com/ok", "cancel_url": "https://example.com/no"}),
        "/v1/webhook_endpoints/{id}" => json!({"description": "crossed"}),
        _ => json!({}),
    })
}

/// The operation's required query parameters, with the other environment's customer where
/// one is named; and whether one was.
fn required_query(op: &Value, theirs: &Made) -> (String, bool) {
    let mut names_theirs = false;
    let pairs: Vec<String> = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        // Required ones, and `to` beside a `from` (it defaults to now).
        .filter(|p| p["in"] == "query" && (p["required"] == true || p["name"] == "to"))
        .map(|p| {
            let name = p["name"].as_str().expect("name");
            let value = match name {
                "customer" => {
                    names_theirs = true;
                    theirs.id("customers").expect("a customer")
                }
                "from" => "2027-01-01T00:00:00Z",
                "to" => "2027-01-02T00:00:00Z",
                "currency" => "usd",
                _ => "x",
            };
            format!("{name}={value}")
        })
        .collect();
    let query = if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    };
    (query, names_theirs)
}

/// `customers` for `/v1/customers/{id}/usage`, `sso/connections` for
/// `/v1/sso/connections/{id}`: the part of the path before its first parameter.
fn collection(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/")?;
    let end = rest.find("/{").unwrap_or(rest.len());
    Some(rest[..end].trim_end_matches('/'))
}

async fn environments_never_cross(b: Backend) {
    let app = spawn_app_configured(b, |args| {
        args.payments.encryption_key = Some(domain::crypto::MasterKey::from_bytes([9; 32]));
    })
    .await;
    let ada = app.signup("ada@example.com").await;
    let live = make(&app, &ada, "live").await;
    let test = make(&app, &ada, "test").await;
    let spec: Value = serde_json::from_str(include_str!("../../../openapi/v1.json")).expect("spec");
    let paths = spec["paths"].as_object().expect("paths");

    let mut probed = 0;
    for (caller, theirs) in [(&test, &live), (&live, &test)] {
        for (path, ops) in paths {
            let Some(kind) = collection(path) else {
                continue;
            };
            let shared = |c: &&str| kind == *c || kind.starts_with(&format!("{c}/"));
            if ORGANIZATION_WIDE.iter().any(shared) {
                continue;
            }
            let has_id = path.contains('{');
            // Test clocks exist only in the sandbox: there is no live one to reach.
            if has_id && kind == "test_clocks" && theirs.env == "live" {
                continue;
            }
            let id = has_id.then(|| {
                theirs.id(kind).unwrap_or_else(|| {
                    panic!("{path}: no {} {kind} is made for the probe; make one in `make`, or list the collection in ORGANIZATION_WIDE", theirs.env)
                })
            });
            for (method, op) in ops.as_object().expect("operations") {
                let method: Method = method.to_uppercase().parse().expect("method");
                let mut target = match id {
                    Some(id) => {
                        let at = path.find('{').expect("a parameter");
                        let close = path[at..].find('}').expect("closed") + at;
                        format!("{}{id}{}", &path[..at], &path[close + 1..])
                    }
                    None if method == Method::GET => path.clone(),
                    None => continue,
                };
                let (query, names_theirs) = required_query(op, theirs);
                target.push_str(&query);
                let r = call(
                    &app,
                    &ada,
                    caller.env,
                    method.clone(),
                    &target,
                    body_for(&method, path),
                )
                .await;
                if has_id || names_theirs {
                    r.expect_problem(404, "resource_not_found");
                } else {
                    r.expect(200);
                    let text = r.body.to_string();
                    assert_eq!(
                        theirs.contains_any(&text),
                        None,
                        "{} {target} lists another environment's ids",
                        caller.env
                    );
                }
                probed += 1;
            }
        }
    }
    assert!(probed > 80, "only {probed} probes");

    // What the crossing calls tried to change is untouched: the live SCIM token still works,
    // and nothing was archived, revoked or deleted.
    for made in [&live, &test] {
        for (kind, id) in &made.ids {
            if [
                "customers",
                "products",
                "prices",
                "meters",
                "coupons",
                "tax_rates",
                "webhook_endpoints",
                "api_keys",
            ]
            .contains(&kind.as_str())
            {
                let r = call(
                    &app,
                    &ada,
                    made.env,
                    Method::GET,
                    &format!("/v1/{kind}/{id}"),
                    None,
                )
                .await;
                let body = r.expect(200);
                assert_ne!(body["status"], "archived", "{kind} {id}");
                assert!(body["revoked_at"].is_null(), "{kind} {id}");
                assert_ne!(body["description"], "crossed", "{kind} {id}");
            }
        }
    }
    let tokens = call(&app, &ada, "live", Method::GET, "/v1/scim/tokens", None).await;
    assert!(tokens.expect(200)["data"][0]["revoked_at"].is_null());
    app.stop().await;
}

crate::on_both_backends!(environments_never_cross);

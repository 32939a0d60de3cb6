//! Stripe as the payment provider, against the fake Stripe (`fake_stripe.rs`): configuration
//! sealed at rest, Checkout in setup mode, charges with idempotency, and the signed webhook.

use base64::Engine;
use domain::billing::payments::Outcome;
use domain::billing::stripe::signature::TOLERANCE_SECS;
use domain::ids::OrgId;
use neoforge_server::billing::stripe::{ProviderError, StripeProvider};
use neoforge_server::tenancy::{Env, Scope};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_stripe::{self, FakeStripe};
use crate::helpers::{Account, Backend, Reply, TestApp, spawn_app_configured};

pub(crate) const SK: &str = "sk_test_51FakeKeyForNeoForge4242";
pub(crate) const WHSEC: &str = "whsec_fake_signing_secret_a";

fn master_key() -> String {
    base64::engine::general_purpose::STANDARD.encode([42u8; 32])
}

/// The server's clock is stopped: webhooks are signed relative to it (`now_secs`), so a
/// signature's age is what the test says it is, however slowly the test runs.
pub(crate) async fn spawn(b: Backend, fake: &FakeStripe, with_key: bool) -> TestApp {
    let base = fake.base.clone();
    let app = spawn_app_configured(b, move |args| {
        args.payments.stripe_api_base = base;
        if with_key {
            args.payments.encryption_key =
                Some(domain::crypto::MasterKey::parse(&master_key()).expect("key"));
        }
    })
    .await;
    app.clock().stop();
    app
}

/// A tenant with Stripe connected to its sandbox, against a fresh fake Stripe.
pub(crate) async fn connected(b: Backend) -> (FakeStripe, TestApp, Account) {
    let fake = FakeStripe::start().await;
    let app = spawn(b, &fake, true).await;
    let ada = app.signup("ada@example.com").await;
    configure(&app, &ada.session, SK, WHSEC).await.expect(200);
    (fake, app, ada)
}

pub(crate) async fn configure(app: &TestApp, session: &str, sk: &str, whsec: &str) -> Reply {
    app.call(
        Method::PUT,
        "/v1/payment_provider",
        Some(session),
        Some(json!({"stripe_secret_key": sk, "webhook_secret": whsec})),
    )
    .await
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// Secrets go in, only a hint comes out; the database holds them sealed.
async fn provider_secrets_are_sealed_and_never_shown(b: Backend) {
    let fake = FakeStripe::start().await;
    let app = spawn(b, &fake, true).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;

    let none = app.get("/v1/payment_provider", s).await;
    assert_eq!(none.expect(200)["provider"], "simulated");

    let put = configure(&app, s, SK, WHSEC).await;
    let body = put.expect(200).clone();
    assert_eq!(body["provider"], "stripe");
    assert_eq!(body["environment"], "test");
    assert_eq!(body["key_hint"], "sk_test_…4242");
    let url = body["webhook_url"].as_str().expect("url");
    assert!(
        url.ends_with(&format!("/v1/stripe/webhooks/{}/test", ada.org_id)),
        "{url}"
    );
    let text = body.to_string();
    assert!(!text.contains(SK) && !text.contains(WHSEC), "{text}");
    let got = app.get("/v1/payment_provider", s).await;
    assert_eq!(got.expect(200)["key_hint"], "sk_test_…4242");
    assert!(!got.body.to_string().contains(SK));

    // At rest: sealed, versioned, and not the plaintext.
    let db = &app.server.as_ref().expect("server").state.db;
    let (sk_sealed, wh_sealed): (String, String) =
        sqlx::query_as("SELECT secret_key_sealed, webhook_secret_sealed FROM payment_providers")
            .fetch_one(db.reader())
            .await
            .expect("row");
    for sealed in [&sk_sealed, &wh_sealed] {
        assert!(sealed.starts_with("v1."), "{sealed}");
        assert!(!sealed.contains(SK) && !sealed.contains(WHSEC));
        assert!(!sealed.contains("4242"));
    }

    // Keys must match the environment; secrets must look like Stripe's.
    configure(&app, s, "sk_live_51Whatever9999", WHSEC)
        .await
        .expect_problem(400, "validation_error");
    let live = app
        .call_with(
            Method::PUT,
            "/v1/payment_provider",
            Some(s),
            Some(json!({"stripe_secret_key": SK, "webhook_secret": WHSEC})),
            &[("NeoForge-Environment", "live")],
        )
        .await;
    live.expect_problem(400, "validation_error");
    assert_eq!(live.body["errors"][0]["field"], "stripe_secret_key");
    configure(&app, s, "pk_test_123456", WHSEC)
        .await
        .expect_problem(400, "validation_error");
    let bad_whsec = configure(&app, s, SK, "not-a-secret").await;
    bad_whsec.expect_problem(400, "validation_error");
    assert_eq!(bad_whsec.body["errors"][0]["field"], "webhook_secret");
    app.call(
        Method::PUT,
        "/v1/payment_provider",
        Some(s),
        Some(json!({"stripe_secret_key": SK, "webhook_secret": WHSEC, "extra": 1})),
    )
    .await
    .expect(400);

    // Only owners and admins (organization:write) configure it.
    let (_, billing_key) = app
        .create_key(
            s,
            json!({"name": "billing", "scopes": ["billing:write", "organization:read"]}),
            false,
        )
        .await;
    configure(&app, &billing_key, SK, WHSEC)
        .await
        .expect_problem(403, "forbidden");
    app.get("/v1/payment_provider", &billing_key)
        .await
        .expect(200);

    // Deleting goes back to the simulated provider.
    let deleted = app
        .call(Method::DELETE, "/v1/payment_provider", Some(s), None)
        .await;
    assert_eq!(deleted.expect(200)["provider"], "simulated");
    assert_eq!(
        app.get("/v1/payment_provider", s).await.expect(200)["provider"],
        "simulated"
    );
    let audit = app
        .get("/v1/audit_events?action=payment_provider.updated", s)
        .await;
    assert_eq!(audit.expect(200)["data"].as_array().map_or(0, Vec::len), 1);
    app.stop().await;
}

/// Without the master key the server refuses to keep Stripe secrets; without Stripe there is
/// no Checkout.
async fn stripe_needs_the_encryption_key(b: Backend) {
    let fake = FakeStripe::start().await;
    let app = spawn(b, &fake, false).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    configure(&app, s, SK, WHSEC)
        .await
        .expect_problem(409, "encryption_key_missing");
    let customer = app
        .post("/v1/customers", s, json!({"currency": "usd"}))
        .await;
    let cid = id(customer.expect(201));
    app.post(
        &format!("/v1/customers/{cid}/checkout_sessions"),
        s,
        json!({"success_url": "https://a.example/ok", "cancel_url": "https://a.example/no"}),
    )
    .await
    .expect_problem(409, "payment_provider_not_configured");
    assert!(fake.requests().is_empty());
    app.stop().await;
}

/// Checkout in setup mode: the Stripe customer is made once, with NeoForge's ids in metadata.
async fn checkout_sessions_create_the_stripe_customer_once(b: Backend) {
    let (fake, app, ada) = connected(b).await;
    let s = &ada.session;
    let customer = app
        .post(
            "/v1/customers",
            s,
            json!({"name": "Globex", "email": "billing@globex.example", "currency": "eur"}),
        )
        .await;
    let cid = id(customer.expect(201));
    let path = format!("/v1/customers/{cid}/checkout_sessions");
    let body = json!({"success_url": "https://app.example/done?x=1", "cancel_url": "https://app.example/billing"});

    let first = app.post(&path, s, body.clone()).await;
    let first = first.expect(201).clone();
    assert!(first["id"].as_str().expect("id").starts_with("cs_test_"));
    assert!(
        first["url"]
            .as_str()
            .expect("url")
            .starts_with("https://checkout.stripe.com/")
    );
    assert_eq!(first["customer"], cid.as_str());
    let second = app.post(&path, s, body).await;
    assert_ne!(second.expect(201)["id"], first["id"]);

    let customers = fake.requests_to("/v1/customers");
    assert_eq!(customers.len(), 1, "one Stripe customer");
    let c = &customers[0].form;
    assert_eq!(c["metadata[neoforge_customer]"], cid);
    assert_eq!(c["metadata[neoforge_tenant]"], ada.org_id);
    assert_eq!(c["metadata[neoforge_env]"], "test");
    assert_eq!(c["name"], "Globex");
    assert_eq!(c["email"], "billing@globex.example");
    assert_eq!(
        customers[0].authorization.as_deref(),
        Some(format!("Bearer {SK}").as_str())
    );
    assert!(customers[0].idempotency_key.is_some());

    let sessions = fake.requests_to("/v1/checkout/sessions");
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].method, "POST");
    let f = &sessions[0].form;
    assert_eq!(f["mode"], "setup");
    assert_eq!(f["customer"], "cus_fake1");
    assert_eq!(f["currency"], "eur");
    assert_eq!(f["success_url"], "https://app.example/done?x=1");
    assert_eq!(f["cancel_url"], "https://app.example/billing");
    assert_eq!(f["client_reference_id"], cid);
    assert_eq!(f["setup_intent_data[metadata][neoforge_customer]"], cid);

    let db = &app.server.as_ref().expect("server").state.db;
    let mapped: Vec<(String, String)> =
        sqlx::query_as("SELECT customer_id, stripe_customer_id FROM stripe_customers")
            .fetch_all(db.reader())
            .await
            .expect("rows");
    assert_eq!(mapped, vec![(cid.clone(), "cus_fake1".to_owned())]);

    // Validation and scoping.
    app.post(
        &path,
        s,
        json!({"success_url": "javascript:alert(1)", "cancel_url": "https://a.example"}),
    )
    .await
    .expect_problem(400, "validation_error");
    let no_currency = app.post("/v1/customers", s, json!({})).await;
    let nc = id(no_currency.expect(201));
    app.post(
        &format!("/v1/customers/{nc}/checkout_sessions"),
        s,
        json!({"success_url": "https://a.example/ok", "cancel_url": "https://a.example/no"}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.post(
        "/v1/customers/cus_0190aaaaaaaaaaaaaaaaaaaaaaaaaaaa/checkout_sessions",
        s,
        json!({"success_url": "https://a.example/ok", "cancel_url": "https://a.example/no"}),
    )
    .await
    .expect(404);
    app.stop().await;
}

fn scope() -> Scope {
    Scope {
        org_id: OrgId::generate(),
        env: Env::Test,
    }
}

/// Charges: one PaymentIntent per idempotency key, confirmed off-session with NeoForge's
/// metadata; declines come back as Stripe's decline codes.
#[tokio::test]
async fn charges_are_idempotent_and_declines_map_to_codes() {
    let fake = FakeStripe::start().await;
    let scope = scope();
    let stripe = StripeProvider::new(scope.clone(), SK, &fake.base).expect("provider");

    let first = stripe
        .charge(
            "inv_1",
            "cus_1",
            "pm_card_visa",
            2500,
            "usd",
            "inv_1-attempt-1",
        )
        .await
        .expect("charge");
    let again = stripe
        .charge(
            "inv_1",
            "cus_1",
            "pm_card_visa",
            2500,
            "usd",
            "inv_1-attempt-1",
        )
        .await
        .expect("charge");
    let Outcome::Paid { reference } = &first else {
        panic!("not paid: {first:?}")
    };
    assert!(reference.starts_with("pi_"));
    assert_eq!(first, again, "the retry answers the same PaymentIntent");
    let calls = fake.requests_to("/v1/payment_intents");
    assert_eq!(calls.len(), 2);
    assert!(
        calls
            .iter()
            .all(|c| c.idempotency_key.as_deref() == Some("inv_1-attempt-1"))
    );
    let f = &calls[0].form;
    assert_eq!(f["amount"], "2500");
    assert_eq!(f["currency"], "usd");
    assert_eq!(f["customer"], "cus_1");
    assert_eq!(f["payment_method"], "pm_card_visa");
    assert_eq!(f["confirm"], "true");
    assert_eq!(f["off_session"], "true");
    assert_eq!(f["metadata[neoforge_invoice]"], "inv_1");
    assert_eq!(f["metadata[neoforge_tenant]"], scope.org_id.as_str());
    assert_eq!(f["metadata[neoforge_env]"], "test");

    for (pm, code) in [
        ("pm_card_chargeDeclined", "generic_decline"),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
        ),
        ("pm_card_authenticationRequired", "authentication_required"),
    ] {
        let outcome = stripe
            .charge("inv_2", "cus_1", pm, 900, "usd", &format!("k-{pm}"))
            .await
            .expect("an outcome, not an error");
        assert_eq!(outcome, Outcome::Failed { code: code.into() }, "{pm}");
    }
    for pm in [
        "pm_card_threeDSecureRequired",
        "pm_usBankAccount_processing",
    ] {
        let outcome = stripe
            .charge("inv_3", "cus_1", pm, 900, "usd", &format!("k-{pm}"))
            .await
            .expect("charge");
        assert!(
            matches!(outcome, Outcome::Pending { .. }),
            "{pm}: {outcome:?}"
        );
    }

    let Outcome::Paid { reference } = first else {
        unreachable!()
    };
    let refund = stripe
        .refund(&reference, Some(500), "refund-1")
        .await
        .expect("refund");
    assert!(refund.starts_with("re_"));
    let r = &fake.requests_to("/v1/refunds")[0];
    assert_eq!(r.form["payment_intent"], reference);
    assert_eq!(r.form["amount"], "500");

    // A key Stripe refuses is a configuration error; an unreachable Stripe is transient.
    let bad = StripeProvider::new(scope.clone(), "sk_bogus_1", &fake.base).expect("provider");
    let refused = bad
        .charge("inv_4", "cus_1", "pm_card_visa", 100, "usd", "k-bad")
        .await;
    assert!(
        matches!(refused, Err(ProviderError::Rejected { status: 401, .. })),
        "{refused:?}"
    );
    let gone = StripeProvider::new(scope, SK, "http://127.0.0.1:9/").expect("provider");
    let down = gone
        .charge("inv_5", "cus_1", "pm_card_visa", 100, "usd", "k-down")
        .await;
    assert!(matches!(down, Err(ProviderError::Transient(_))), "{down:?}");
}

struct Billing {
    customer: String,
    invoice: String,
}

/// A customer without a payment method subscribed to a monthly price: one open invoice.
async fn open_invoice(app: &TestApp, s: &str) -> Billing {
    let product = app.post("/v1/products", s, json!({"name": "Team"})).await;
    let pid = id(product.expect(201));
    let price = app
        .post(
            "/v1/prices",
            s,
            json!({"product": pid, "currency": "usd", "model": "flat", "unit_amount": 2500, "recurring": {"interval": "month"}}),
        )
        .await;
    let price = id(price.expect(201));
    let customer = app
        .post(
            "/v1/customers",
            s,
            json!({"name": "No card", "currency": "usd"}),
        )
        .await;
    let customer = id(customer.expect(201));
    let sub = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": customer, "items": [{"price": price}]}),
        )
        .await;
    let sub = id(sub.expect(201));
    let invoices = app
        .get(&format!("/v1/invoices?subscription={sub}"), s)
        .await;
    let invoice = invoices.expect(200)["data"][0].clone();
    assert_eq!(invoice["status"], "open");
    Billing {
        customer,
        invoice: id(&invoice),
    }
}

impl TestApp {
    pub(crate) async fn deliver(
        &self,
        account: &Account,
        env: &str,
        event: &Value,
        secret: &str,
        t: i64,
    ) -> Reply {
        let payload = event.to_string();
        let sig = fake_stripe::sign(&payload, secret, t);
        let resp = self
            .client
            .post(self.url(&format!("/v1/stripe/webhooks/{}/{env}", account.org_id)))
            .header("content-type", "application/json")
            .header("stripe-signature", sig)
            .body(payload)
            .send()
            .await
            .expect("sent");
        crate::helpers::read(resp).await
    }

    pub(crate) fn now_secs(&self) -> i64 {
        self.clock().now_ms() / 1000
    }
}

fn meta(account: &Account, extra: Value) -> Value {
    let mut m = json!({"neoforge_tenant": account.org_id, "neoforge_env": "test"});
    if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            m.insert(k.clone(), v.clone());
        }
    }
    m
}

async fn invoice(app: &TestApp, s: &str, id: &str) -> Value {
    app.get(&format!("/v1/invoices/{id}"), s)
        .await
        .expect(200)
        .clone()
}

async fn default_pm(app: &TestApp, s: &str, id: &str) -> Value {
    app.get(&format!("/v1/customers/{id}"), s).await.expect(200)["default_payment_method"].clone()
}

/// Signed events drive NeoForge: payment methods from setup, invoices paid; redeliveries do
/// nothing; a late failure never un-pays; bad or stale signatures change nothing.
async fn webhooks_drive_payment_methods_and_invoices(b: Backend) {
    let (_fake, app, ada) = connected(b).await;
    let s = &ada.session;
    let billing = open_invoice(&app, s).await;
    let now = app.now_secs();

    // setup_intent.succeeded sets the default payment method; a redelivery does nothing.
    let si = |evt: &str, pm: &str| {
        fake_stripe::event(
            evt,
            "setup_intent.succeeded",
            json!({"id": "seti_1", "object": "setup_intent", "status": "succeeded", "customer": "cus_x",
                   "payment_method": pm, "metadata": meta(&ada, json!({"neoforge_customer": billing.customer}))}),
        )
    };
    let r = app
        .deliver(&ada, "test", &si("evt_si_1", "pm_first"), WHSEC, now)
        .await;
    assert_eq!(r.expect(200)["duplicate"], false);
    assert_eq!(default_pm(&app, s, &billing.customer).await, "pm_first");
    app.deliver(&ada, "test", &si("evt_si_2", "pm_second"), WHSEC, now)
        .await
        .expect(200);
    let again = app
        .deliver(&ada, "test", &si("evt_si_1", "pm_first"), WHSEC, now)
        .await;
    assert_eq!(again.expect(200)["duplicate"], true);
    assert_eq!(
        default_pm(&app, s, &billing.customer).await,
        "pm_second",
        "the redelivered event had no effect"
    );

    // payment_intent.succeeded pays the invoice; a failure arriving afterwards does not
    // un-pay it.
    let pi = json!({"id": "pi_42", "object": "payment_intent", "status": "succeeded", "amount": 2500,
                    "currency": "usd", "latest_charge": "ch_42",
                    "metadata": meta(&ada, json!({"neoforge_invoice": billing.invoice}))});
    app.deliver(
        &ada,
        "test",
        &fake_stripe::event("evt_pi_ok", "payment_intent.succeeded", pi.clone()),
        WHSEC,
        now,
    )
    .await
    .expect(200);
    let paid = invoice(&app, s, &billing.invoice).await;
    assert_eq!(paid["status"], "paid");
    assert!(paid["paid_at"].is_string());
    let mut failed = pi.clone();
    failed["status"] = json!("requires_payment_method");
    failed["last_payment_error"] = json!({"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"});
    app.deliver(
        &ada,
        "test",
        &fake_stripe::event("evt_pi_late_fail", "payment_intent.payment_failed", failed),
        WHSEC,
        now,
    )
    .await
    .expect(200);
    let still = invoice(&app, s, &billing.invoice).await;
    assert_eq!(still["status"], "paid");
    assert_eq!(still["paid_at"], paid["paid_at"]);
    assert!(still["payment_error"].is_null());
    let dup = app
        .deliver(
            &ada,
            "test",
            &fake_stripe::event("evt_pi_ok", "payment_intent.succeeded", pi),
            WHSEC,
            now,
        )
        .await;
    assert_eq!(dup.expect(200)["duplicate"], true);

    // Charges and disputes find the invoice through the PaymentIntent.
    let charge = json!({"id": "ch_42", "object": "charge", "payment_intent": "pi_42", "amount": 2500,
                        "amount_refunded": 1000, "refunded": false, "metadata": {}});
    app.deliver(
        &ada,
        "test",
        &fake_stripe::event("evt_refund", "charge.refunded", charge),
        WHSEC,
        now,
    )
    .await
    .expect(200);
    let dispute = json!({"id": "dp_1", "object": "dispute", "charge": "ch_42", "payment_intent": "pi_42",
                         "amount": 1500, "status": "needs_response", "metadata": {}});
    app.deliver(
        &ada,
        "test",
        &fake_stripe::event("evt_dispute", "charge.dispute.created", dispute),
        WHSEC,
        now,
    )
    .await
    .expect(200);
    let refunded = invoice(&app, s, &billing.invoice).await;
    assert_eq!(
        (&refunded["status"], &refunded["amount_refunded"]),
        (&json!("paid"), &json!(1000))
    );
    for action in ["invoice.paid", "invoice.refunded", "invoice.disputed"] {
        let events = app
            .get(
                &format!(
                    "/v1/audit_events?action={action}&target_id={}",
                    billing.invoice
                ),
                s,
            )
            .await;
        assert_eq!(
            events.expect(200)["data"].as_array().map_or(0, Vec::len),
            1,
            "{action}"
        );
    }

    // Failures on an open invoice are recorded.
    let other = open_invoice(&app, s).await;
    let declined = json!({"id": "pi_43", "object": "payment_intent", "status": "requires_payment_method",
                          "last_payment_error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"},
                          "metadata": meta(&ada, json!({"neoforge_invoice": other.invoice}))});
    app.deliver(
        &ada,
        "test",
        &fake_stripe::event("evt_pi_fail", "payment_intent.payment_failed", declined),
        WHSEC,
        now,
    )
    .await
    .expect(200);
    let open = invoice(&app, s, &other.invoice).await;
    assert_eq!(
        (open["status"].as_str(), open["payment_error"].as_str()),
        (Some("open"), Some("insufficient_funds"))
    );

    // Bad, stale or missing signatures: 400, nothing changes, the event is not consumed.
    let evil = si("evt_evil", "pm_evil");
    app.deliver(&ada, "test", &evil, "whsec_someone_else", now)
        .await
        .expect_problem(400, "invalid_signature");
    // A second stale or early beyond the tolerance.
    app.deliver(&ada, "test", &evil, WHSEC, now - TOLERANCE_SECS - 1)
        .await
        .expect_problem(400, "invalid_signature");
    app.deliver(&ada, "test", &evil, WHSEC, now + TOLERANCE_SECS + 1)
        .await
        .expect_problem(400, "invalid_signature");
    let unsigned = app
        .client
        .post(app.url(&format!("/v1/stripe/webhooks/{}/test", ada.org_id)))
        .body(evil.to_string())
        .send()
        .await
        .expect("sent");
    crate::helpers::read(unsigned)
        .await
        .expect_problem(400, "invalid_signature");
    let payload = evil.to_string();
    let tampered = app
        .client
        .post(app.url(&format!("/v1/stripe/webhooks/{}/test", ada.org_id)))
        .header("stripe-signature", fake_stripe::sign(&payload, WHSEC, now))
        .body(payload.replace("pm_evil", "pm_evil2"))
        .send()
        .await
        .expect("sent");
    crate::helpers::read(tampered)
        .await
        .expect_problem(400, "invalid_signature");
    assert_eq!(default_pm(&app, s, &billing.customer).await, "pm_second");
    // Signed properly, at the edge of the tolerance, the same event id still works:
    // rejections are not recorded.
    app.deliver(&ada, "test", &evil, WHSEC, now - TOLERANCE_SECS)
        .await
        .expect(200);
    assert_eq!(default_pm(&app, s, &billing.customer).await, "pm_evil");

    // The server's clock decides staleness: move it 10 minutes on.
    app.clock().advance(std::time::Duration::from_secs(600));
    app.deliver(&ada, "test", &si("evt_si_late", "pm_late"), WHSEC, now)
        .await
        .expect_problem(400, "invalid_signature");
    app.deliver(
        &ada,
        "test",
        &si("evt_si_late", "pm_late"),
        WHSEC,
        app.now_secs(),
    )
    .await
    .expect(200);
    app.stop().await;
}

/// `checkout.session.completed` (setup mode): the payment method comes from the session's
/// SetupIntent, fetched from Stripe.
async fn completed_checkout_sets_the_default_payment_method(b: Backend) {
    let (fake, app, ada) = connected(b).await;
    let s = &ada.session;
    let customer = app
        .post("/v1/customers", s, json!({"currency": "usd"}))
        .await;
    let cid = id(customer.expect(201));
    let session = app
        .post(
            &format!("/v1/customers/{cid}/checkout_sessions"),
            s,
            json!({"success_url": "https://a.example/ok", "cancel_url": "https://a.example/no"}),
        )
        .await;
    let cs = id(session.expect(201));
    let seti = fake.setup_intent_ids().pop().expect("setup intent");
    fake.complete_setup(&seti, "pm_from_checkout");
    let completed = fake_stripe::event(
        "evt_cs_done",
        "checkout.session.completed",
        json!({"id": cs, "object": "checkout.session", "mode": "setup", "status": "complete",
               "customer": "cus_fake1", "setup_intent": seti, "metadata": meta(&ada, json!({"neoforge_customer": cid}))}),
    );
    app.deliver(&ada, "test", &completed, WHSEC, app.now_secs())
        .await
        .expect(200);
    assert_eq!(default_pm(&app, s, &cid).await, "pm_from_checkout");
    assert_eq!(
        fake.requests_to(&format!("/v1/setup_intents/{seti}")).len(),
        1
    );
    app.stop().await;
}

/// One tenant's secret cannot drive another; configurations are per organization and
/// environment.
async fn stripe_is_isolated_between_tenants_and_environments(b: Backend) {
    let fake = FakeStripe::start().await;
    let app = spawn(b, &fake, true).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    configure(&app, &ada.session, SK, WHSEC).await.expect(200);
    configure(
        &app,
        &bob.session,
        "sk_test_51BobsKey7777",
        "whsec_bobs_secret_b",
    )
    .await
    .expect(200);
    let billing = open_invoice(&app, &ada.session).await;
    let now = app.now_secs();

    // Bob's view is Bob's; neither sees the other's hint. Live mode has nothing configured.
    let bobs = app.get("/v1/payment_provider", &bob.session).await;
    assert_eq!(bobs.expect(200)["key_hint"], "sk_test_…7777");
    let live = app
        .call_with(
            Method::GET,
            "/v1/payment_provider",
            Some(&ada.session),
            None,
            &[("NeoForge-Environment", "live")],
        )
        .await;
    assert_eq!(live.expect(200)["provider"], "simulated");
    let (_, live_key) = app
        .create_key(&ada.session, json!({"name": "live"}), true)
        .await;
    assert_eq!(
        app.get("/v1/payment_provider", &live_key).await.expect(200)["provider"],
        "simulated"
    );

    let pay = |evt: &str, tenant: &Account| {
        fake_stripe::event(
            evt,
            "payment_intent.succeeded",
            json!({"id": "pi_x", "object": "payment_intent", "status": "succeeded",
                   "metadata": {"neoforge_invoice": billing.invoice, "neoforge_tenant": tenant.org_id, "neoforge_env": "test"}}),
        )
    };
    // Bob's secret on Ada's endpoint: rejected.
    app.deliver(
        &ada,
        "test",
        &pay("evt_a", &ada),
        "whsec_bobs_secret_b",
        now,
    )
    .await
    .expect_problem(400, "invalid_signature");
    // Bob's own endpoint naming Ada's invoice: accepted, no effect on Ada.
    app.deliver(
        &bob,
        "test",
        &pay("evt_b", &ada),
        "whsec_bobs_secret_b",
        now,
    )
    .await
    .expect(200);
    app.deliver(
        &bob,
        "test",
        &pay("evt_c", &bob),
        "whsec_bobs_secret_b",
        now,
    )
    .await
    .expect(200);
    // Ada's test secret on her live endpoint (nothing configured there); unknown tenants.
    app.deliver(&ada, "live", &pay("evt_d", &ada), WHSEC, now)
        .await
        .expect_problem(400, "invalid_signature");
    let ghost = Account {
        org_id: "org_0190aaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
        ..ada.clone()
    };
    app.deliver(&ghost, "test", &pay("evt_e", &ada), WHSEC, now)
        .await
        .expect_problem(400, "invalid_signature");
    let bogus = Account {
        org_id: "not-an-org".into(),
        ..ada.clone()
    };
    app.deliver(&bogus, "test", &pay("evt_f", &ada), WHSEC, now)
        .await
        .expect_problem(400, "invalid_signature");
    assert_eq!(
        invoice(&app, &ada.session, &billing.invoice).await["status"],
        "open"
    );

    // Ada's own, properly signed: paid.
    app.deliver(&ada, "test", &pay("evt_g", &ada), WHSEC, now)
        .await
        .expect(200);
    assert_eq!(
        invoice(&app, &ada.session, &billing.invoice).await["status"],
        "paid"
    );
    app.stop().await;
}

/// With Stripe configured, invoices are charged off-session through PaymentIntents, once per
/// attempt (an idempotency key per attempt), and refunded through Stripe.
async fn invoices_are_collected_and_refunded_through_stripe(b: Backend) {
    let (fake, app, ada) = connected(b).await;
    let s = &ada.session;
    let product = app.post("/v1/products", s, json!({"name": "Team"})).await;
    let price = app
        .post(
            "/v1/prices",
            s,
            json!({"product": id(product.expect(201)), "currency": "usd", "model": "flat", "unit_amount": 2500, "recurring": {"interval": "month"}}),
        )
        .await;
    let price = id(price.expect(201));
    let subscribe = |pm: &'static str| {
        let (app, price) = (&app, price.clone());
        async move {
            let customer = app
                .post("/v1/customers", s, json!({"default_payment_method": pm}))
                .await;
            let customer = id(customer.expect(201));
            let sub = app
                .post(
                    "/v1/subscriptions",
                    s,
                    json!({"customer": customer, "items": [{"price": price}]}),
                )
                .await;
            let sub = sub.expect(201).clone();
            let invoices = app
                .get(&format!("/v1/invoices?subscription={}", id(&sub)), s)
                .await;
            (sub, invoices.expect(200)["data"][0].clone())
        }
    };

    let (sub, paid) = subscribe("pm_card_visa").await;
    assert_eq!(sub["status"], "active");
    assert_eq!(paid["status"], "paid");
    let reference = paid["payment_reference"].as_str().expect("reference");
    assert!(reference.starts_with("pi_"), "{reference}");
    let intents = fake.requests_to("/v1/payment_intents");
    assert_eq!(intents.len(), 1);
    let form = &intents[0].form;
    assert_eq!(form.get("amount").map(String::as_str), Some("2500"));
    assert_eq!(form.get("off_session").map(String::as_str), Some("true"));
    assert_eq!(
        form.get("payment_method").map(String::as_str),
        Some("pm_card_visa")
    );
    assert_eq!(
        form.get("metadata[neoforge_invoice]"),
        paid["id"].as_str().map(str::to_owned).as_ref()
    );
    assert_eq!(
        intents[0].idempotency_key.as_deref(),
        Some(format!("{}-1", id(&paid)).as_str())
    );

    let (sub, declined) = subscribe("pm_card_chargeDeclined").await;
    assert_eq!(sub["status"], "incomplete");
    assert_eq!(
        (&declined["status"], &declined["payment_error"]),
        (&json!("open"), &json!("generic_decline"))
    );

    // A card that needs 3-D Secure: the invoice waits for Stripe's webhook, which pays it
    // and activates the subscription.
    let (sub, pending) = subscribe("pm_card_threeDSecureRequired").await;
    assert_eq!(sub["status"], "incomplete");
    assert_eq!(
        (&pending["status"], &pending["next_action_at"]),
        (&json!("open"), &json!(null))
    );
    let pi = pending["payment_reference"]
        .as_str()
        .expect("the PaymentIntent");
    let succeeded = json!({"id": pi, "object": "payment_intent", "status": "succeeded",
        "metadata": meta(&ada, json!({"neoforge_invoice": id(&pending)}))});
    app.deliver(
        &ada,
        "test",
        &fake_stripe::event("evt_3ds_ok", "payment_intent.succeeded", succeeded),
        WHSEC,
        app.now_secs(),
    )
    .await
    .expect(200);
    assert_eq!(invoice(&app, s, &id(&pending)).await["status"], "paid");
    let sub = app.get(&format!("/v1/subscriptions/{}", id(&sub)), s).await;
    assert_eq!(sub.expect(200)["status"], "active");

    // Credit notes refund through Stripe, never more than was paid.
    let credit = |body: Value| {
        let mut body = body;
        body["invoice"] = json!(id(&paid));
        app.post("/v1/credit_notes", s, body)
    };
    let part = credit(json!({"refund_amount": 1000, "reason": "order_change"})).await;
    assert_eq!(
        (&part.expect(201)["refund_amount"], &part.body["number"]),
        (&json!(1000), &json!("CN-000001"))
    );
    credit(json!({"refund_amount": 1501}))
        .await
        .expect_problem(400, "validation_error");
    let rest = credit(json!({})).await;
    assert_eq!(rest.expect(201)["refund_amount"], 1500);
    assert_eq!(invoice(&app, s, &id(&paid)).await["amount_refunded"], 2500);
    credit(json!({}))
        .await
        .expect_problem(400, "validation_error");
    let refunds = fake.requests_to("/v1/refunds");
    let amounts: Vec<_> = refunds
        .iter()
        .map(|r| r.form.get("amount").cloned())
        .collect();
    assert_eq!(amounts, [Some("1000".to_owned()), Some("1500".to_owned())]);
    assert_eq!(
        refunds[0].form.get("payment_intent").map(String::as_str),
        Some(reference)
    );
    app.stop().await;
}

crate::on_both_backends!(
    invoices_are_collected_and_refunded_through_stripe,
    provider_secrets_are_sealed_and_never_shown,
    stripe_needs_the_encryption_key,
    checkout_sessions_create_the_stripe_customer_once,
    webhooks_drive_payment_methods_and_invoices,
    completed_checkout_sets_the_default_payment_method,
    stripe_is_isolated_between_tenants_and_environments,
);

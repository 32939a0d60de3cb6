//! Subscriptions: the test clock drives the lifecycle, prices are validated, declined
//! payments make a subscription past due (or, on the first invoice, expire it), the
//! scheduler renews exactly once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};

async fn price(app: &TestApp, s: &str, product: &str, body: Value) -> String {
    let mut body = body;
    body["product"] = json!(product);
    body["currency"] = json!("usd");
    let r = app.post("/v1/prices", s, body).await;
    r.expect(201)["id"].as_str().expect("id").to_owned()
}

fn list_len(v: &Value) -> usize {
    v["data"].as_array().map_or(0, Vec::len)
}

/// Trials end, periods renew on the anchor day, invoices follow the prices, and scheduled
/// cancellations happen, all by advancing a test clock.
async fn test_clock_drives_the_subscription_lifecycle(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let product = app.post("/v1/products", s, json!({"name": "Team"})).await;
    let pid = product.expect(201)["id"].as_str().expect("id").to_owned();
    let base = price(&app, s, &pid, json!({"model": "flat", "unit_amount": 4900, "recurring": {"interval": "month"}, "trial_days": 14})).await;
    let seats = price(
        &app,
        s,
        &pid,
        json!({"model": "per_unit", "unit_amount": 1200, "recurring": {"interval": "month"}}),
    )
    .await;

    let clock = app
        .post(
            "/v1/test_clocks",
            s,
            json!({"name": "renewals", "frozen_time": "2027-01-31T10:00:00Z"}),
        )
        .await;
    let clock_id = clock.expect(201)["id"].as_str().expect("id").to_owned();
    let payer = app.post("/v1/customers", s, json!({"name": "Payer", "test_clock": clock_id, "default_payment_method": "pm_card_visa"})).await;
    let payer = payer.expect(201)["id"].as_str().expect("id").to_owned();
    let no_card = app
        .post(
            "/v1/customers",
            s,
            json!({"name": "No card", "test_clock": clock_id}),
        )
        .await;
    let no_card = no_card.expect(201)["id"].as_str().expect("id").to_owned();

    let sub = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": payer, "items": [{"price": base}, {"price": seats, "quantity": 5}]}),
        )
        .await;
    let sub = sub.expect(201).clone();
    let sub_id = sub["id"].as_str().expect("id").to_owned();
    assert_eq!(sub["status"], "trialing");
    assert_eq!(sub["trial_end"], "2027-02-14T10:00:00Z");
    let other = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": no_card, "items": [{"price": base}]}),
        )
        .await;
    let other_id = other.expect(201)["id"].as_str().expect("id").to_owned();
    // A trial starts with a 0.00 invoice of its licensed items, paid without a card.
    let trials = app.get("/v1/invoices", s).await;
    assert_eq!(list_len(trials.expect(200)), 2, "one per trial");
    for invoice in trials.body["data"].as_array().expect("list") {
        assert_eq!(invoice["total"], 0);
        assert_eq!(invoice["status"], "paid");
        assert_eq!(invoice["billing_reason"], "subscription_create");
        assert_eq!(invoice["period_end"], "2027-02-14T10:00:00Z");
    }
    let trial_lines = &trials.body["data"][1]["lines"];
    assert_eq!(trial_lines.as_array().map(Vec::len), Some(2), "both items");
    assert_eq!(trial_lines[1]["quantity"], 5);
    assert_eq!(trial_lines[1]["amount"], 0);

    // The trial ends: the payer converts and is invoiced; the customer without a card is canceled.
    app.post(
        &format!("/v1/test_clocks/{clock_id}/advance"),
        s,
        json!({"frozen_time": "2027-02-14T11:00:00Z"}),
    )
    .await
    .expect(200);
    let after_trial = app.get(&format!("/v1/subscriptions/{sub_id}"), s).await;
    assert_eq!(after_trial.expect(200)["status"], "active");
    assert_eq!(
        after_trial.body["current_period_end"],
        "2027-03-14T10:00:00Z"
    );
    let canceled = app.get(&format!("/v1/subscriptions/{other_id}"), s).await;
    assert_eq!(canceled.expect(200)["status"], "canceled");
    let invoices = app
        .get(&format!("/v1/invoices?subscription={sub_id}"), s)
        .await;
    let first = invoices.expect(200)["data"][0].clone();
    assert_eq!(first["total"], 4900 + 5 * 1200);
    assert_eq!(first["number"], "INV-000003", "after the trials' two");
    assert_eq!(first["status"], "paid", "charged to pm_card_visa");
    assert!(first["paid_at"].is_string());
    assert_eq!(first["lines"].as_array().map(Vec::len), Some(2));

    // Two more months: two renewals, each a period anchored on the 14th.
    app.post(
        &format!("/v1/test_clocks/{clock_id}/advance"),
        s,
        json!({"frozen_time": "2027-04-20T00:00:00Z"}),
    )
    .await
    .expect(200);
    let invoices = app
        .get(&format!("/v1/invoices?subscription={sub_id}"), s)
        .await;
    let data = invoices.expect(200)["data"]
        .as_array()
        .expect("data")
        .clone();
    let numbers: Vec<&str> = data.iter().filter_map(|i| i["number"].as_str()).collect();
    assert_eq!(
        numbers,
        ["INV-000005", "INV-000004", "INV-000003", "INV-000001"],
        "the renewals after its trial's (INV-000002 is the other trial's)"
    );
    assert_eq!(data[0]["period_start"], "2027-04-14T10:00:00Z");
    assert_eq!(data[0]["period_end"], "2027-05-14T10:00:00Z");
    // A clock cannot go back.
    app.post(
        &format!("/v1/test_clocks/{clock_id}/advance"),
        s,
        json!({"frozen_time": "2027-01-01T00:00:00Z"}),
    )
    .await
    .expect_problem(400, "validation_error");

    // Cancel at period end, change your mind, then cancel for good.
    let scheduled = app
        .post(
            &format!("/v1/subscriptions/{sub_id}/cancel"),
            s,
            json!({"at_period_end": true}),
        )
        .await;
    assert_eq!(scheduled.expect(200)["cancel_at_period_end"], true);
    let resumed = app
        .call(
            Method::POST,
            &format!("/v1/subscriptions/{sub_id}/resume"),
            Some(s),
            None,
        )
        .await;
    assert_eq!(resumed.expect(200)["cancel_at_period_end"], false);
    app.post(
        &format!("/v1/subscriptions/{sub_id}/cancel"),
        s,
        json!({"at_period_end": true}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/v1/test_clocks/{clock_id}/advance"),
        s,
        json!({"frozen_time": "2027-06-01T00:00:00Z"}),
    )
    .await
    .expect(200);
    let ended = app.get(&format!("/v1/subscriptions/{sub_id}"), s).await;
    assert_eq!(ended.expect(200)["status"], "canceled");
    assert_eq!(ended.body["canceled_at"], "2027-05-14T10:00:00Z");
    assert_eq!(
        list_len(
            app.get(&format!("/v1/invoices?subscription={sub_id}"), s)
                .await
                .expect(200)
        ),
        4,
        "no invoice after the end"
    );
    app.post(&format!("/v1/subscriptions/{sub_id}/cancel"), s, json!({}))
        .await
        .expect_problem(409, "subscription_canceled");
    app.stop().await;
}

async fn subscriptions_validate_their_prices(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let product = app.post("/v1/products", s, json!({"name": "Team"})).await;
    let pid = product.expect(201)["id"].as_str().expect("id").to_owned();
    let monthly = price(
        &app,
        s,
        &pid,
        json!({"model": "flat", "unit_amount": 1000, "recurring": {"interval": "month"}}),
    )
    .await;
    let yearly = price(
        &app,
        s,
        &pid,
        json!({"model": "flat", "unit_amount": 9000, "recurring": {"interval": "year"}}),
    )
    .await;
    let one_off = price(&app, s, &pid, json!({"model": "flat", "unit_amount": 500})).await;
    let customer = app.post("/v1/customers", s, json!({"name": "C"})).await;
    let cid = customer.expect(201)["id"].as_str().expect("id").to_owned();

    // No trial: the first period is invoiced and collected at once, and the customer takes
    // the currency. Without a payment method it stays incomplete until that invoice is paid.
    let sub = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": cid, "items": [{"price": monthly, "quantity": 2}]}),
        )
        .await;
    assert_eq!(sub.expect(201)["status"], "incomplete");
    let invoices = app.get("/v1/invoices", s).await;
    let first = &invoices.expect(200)["data"][0];
    assert_eq!(
        (&first["total"], &first["status"], &first["payment_error"]),
        (
            &json!(1000),
            &json!("open"),
            &json!("payment_method_missing")
        )
    );
    assert_eq!(
        app.get(&format!("/v1/customers/{cid}"), s)
            .await
            .expect(200)["currency"],
        "usd"
    );

    for (items, field) in [
        (json!([{"price": one_off}]), "items[0].price"),
        (
            json!([{"price": monthly}, {"price": yearly}]),
            "items[1].price",
        ),
        (
            json!([{"price": monthly, "quantity": 0}]),
            "items[0].quantity",
        ),
        (json!([]), "items"),
    ] {
        let r = app
            .post(
                "/v1/subscriptions",
                s,
                json!({"customer": cid, "items": items}),
            )
            .await;
        r.expect_problem(400, "validation_error");
        assert_eq!(r.body["errors"][0]["field"], field);
    }
    app.post(&format!("/v1/prices/{yearly}/archive"), s, json!({}))
        .await
        .expect(200);
    app.post(
        "/v1/subscriptions",
        s,
        json!({"customer": cid, "items": [{"price": yearly}]}),
    )
    .await
    .expect_problem(409, "price_archived");
    let eur = app.post("/v1/prices", s, json!({"product": pid, "currency": "eur", "model": "flat", "unit_amount": 1, "recurring": {"interval": "month"}})).await;
    let eur = eur.expect(201)["id"].as_str().expect("id").to_owned();
    app.post(
        "/v1/subscriptions",
        s,
        json!({"customer": cid, "items": [{"price": eur}]}),
    )
    .await
    .expect_problem(409, "currency_mismatch");

    // Without a payment method invoices stay open; they can be voided or written off once.
    let open = app.get("/v1/invoices?limit=1", s).await;
    let open_id = open.expect(200)["data"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(open.body["data"][0]["status"], "open");
    app.call(
        Method::POST,
        &format!("/v1/invoices/{open_id}/pay"),
        Some(s),
        None,
    )
    .await
    .expect_problem(409, "no_payment_method");
    let written_off = app
        .call(
            Method::POST,
            &format!("/v1/invoices/{open_id}/mark_uncollectible"),
            Some(s),
            None,
        )
        .await;
    assert_eq!(written_off.expect(200)["status"], "uncollectible");
    app.call(
        Method::POST,
        &format!("/v1/invoices/{open_id}/void"),
        Some(s),
        None,
    )
    .await
    .expect_problem(409, "invoice_not_open");

    // Test clocks are sandbox-only; live keys see no sandbox subscriptions.
    let (_, live) = app.create_key(s, json!({"name": "live"}), true).await;
    app.post("/v1/test_clocks", &live, json!({"name": "x"}))
        .await
        .expect_problem(403, "forbidden");
    assert_eq!(
        list_len(app.get("/v1/subscriptions", &live).await.expect(200)),
        0
    );
    let other = app.signup("b@example.com").await;
    assert_eq!(
        list_len(app.get("/v1/invoices", &other.session).await.expect(200)),
        0
    );
    app.stop().await;
}

/// A monthly 25.00 subscription, started on 2027-03-01 on a test clock, of a customer whose
/// card declines: `(clock, customer, subscription)` ids.
async fn declined_subscription(app: &TestApp, s: &str) -> (String, String, String) {
    let product = app.post("/v1/products", s, json!({"name": "Team"})).await;
    let pid = product.expect(201)["id"].as_str().expect("id").to_owned();
    let monthly = price(
        app,
        s,
        &pid,
        json!({"model": "flat", "unit_amount": 2500, "recurring": {"interval": "month"}}),
    )
    .await;
    let clock = app
        .post(
            "/v1/test_clocks",
            s,
            json!({"name": "dunning", "frozen_time": "2027-03-01T00:00:00Z"}),
        )
        .await;
    let clock_id = clock.expect(201)["id"].as_str().expect("id").to_owned();
    let customer = app
        .post("/v1/customers", s, json!({"test_clock": clock_id, "default_payment_method": "pm_card_chargeDeclinedInsufficientFunds"}))
        .await;
    let cid = customer.expect(201)["id"].as_str().expect("id").to_owned();
    let sub = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": cid, "items": [{"price": monthly}]}),
        )
        .await;
    let sub_id = sub.expect(201)["id"].as_str().expect("id").to_owned();
    assert_eq!(sub.body["status"], "incomplete");
    (clock_id, cid, sub_id)
}

/// A declined first invoice leaves the invoice open with the decline code and the
/// subscription incomplete; paying it with a working card activates the subscription, and
/// renewals go on.
async fn declined_payments_make_a_subscription_past_due(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let (clock_id, cid, sub_id) = declined_subscription(&app, s).await;
    let invoice = app
        .get(&format!("/v1/invoices?subscription={sub_id}"), s)
        .await;
    let first = invoice.expect(200)["data"][0].clone();
    assert_eq!(
        (first["status"].as_str(), first["payment_error"].as_str()),
        (Some("open"), Some("insufficient_funds"))
    );
    assert_eq!(first["paid_at"], json!(null));

    let first_id = first["id"].as_str().expect("id").to_owned();
    let retried = app
        .call(
            Method::POST,
            &format!("/v1/invoices/{first_id}/pay"),
            Some(s),
            None,
        )
        .await;
    assert_eq!(
        retried.expect(200)["status"],
        "open",
        "the same card declines again"
    );
    app.post(
        &format!("/v1/customers/{cid}"),
        s,
        json!({"default_payment_method": "pm_card_visa"}),
    )
    .await
    .expect(200);
    let paid = app
        .call(
            Method::POST,
            &format!("/v1/invoices/{first_id}/pay"),
            Some(s),
            None,
        )
        .await;
    assert_eq!(paid.expect(200)["status"], "paid");
    assert_eq!(paid.body["payment_error"], json!(null));
    assert_eq!(
        app.get(&format!("/v1/subscriptions/{sub_id}"), s)
            .await
            .expect(200)["status"],
        "active"
    );
    app.call(
        Method::POST,
        &format!("/v1/invoices/{first_id}/void"),
        Some(s),
        None,
    )
    .await
    .expect_problem(409, "invoice_not_open");
    app.post(
        &format!("/v1/test_clocks/{clock_id}/advance"),
        s,
        json!({"frozen_time": "2027-04-01T01:00:00Z"}),
    )
    .await
    .expect(200);
    let recovered = app.get(&format!("/v1/subscriptions/{sub_id}"), s).await;
    assert_eq!(recovered.expect(200)["status"], "active");
    let latest = app
        .get(&format!("/v1/invoices?subscription={sub_id}"), s)
        .await;
    assert_eq!(latest.expect(200)["data"][0]["status"], "paid");
    app.stop().await;
}

/// A live key, and `n` customers with a card each subscribed to a monthly price on real
/// time (their subscriptions as created).
async fn live_subscriptions(app: &TestApp, n: usize) -> (String, Vec<Value>) {
    let ada = app.signup("ada@example.com").await;
    let (_, live) = app
        .create_key(&ada.session, json!({"name": "live"}), true)
        .await;
    let product = app
        .post("/v1/products", &live, json!({"name": "Team"}))
        .await;
    let pid = product.expect(201)["id"].as_str().expect("id").to_owned();
    let monthly = price(
        app,
        &live,
        &pid,
        json!({"model": "flat", "unit_amount": 990, "recurring": {"interval": "month"}}),
    )
    .await;
    let mut subs = Vec::new();
    for _ in 0..n {
        let customer = app
            .post(
                "/v1/customers",
                &live,
                json!({"default_payment_method": "pm_card_visa"}),
            )
            .await;
        let cid = customer.expect(201)["id"].as_str().expect("id").to_owned();
        let sub = app
            .post(
                "/v1/subscriptions",
                &live,
                json!({"customer": cid, "items": [{"price": monthly}]}),
            )
            .await;
        subs.push(sub.expect(201).clone());
    }
    (live, subs)
}

/// Two scheduler runs at once (two replicas), then runs until nothing is due: the pieces
/// of work done. A renewal's draft is due an hour after its period began, long past here:
/// collected by whichever run sees it (at most one), or the next.
async fn race_schedulers(state: &neoforge_server::app::AppState) -> usize {
    let (a, b) = tokio::join!(
        neoforge_server::billing::scheduler::tick(state),
        neoforge_server::billing::scheduler::tick(state)
    );
    let mut done = a.expect("tick") + b.expect("tick");
    loop {
        match neoforge_server::billing::scheduler::tick(state).await {
            Ok(0) => return done,
            n => done += n.expect("tick"),
        }
    }
}

/// On real time the scheduler renews due subscriptions exactly once, even when two runs race
/// (two replicas), and leaves test-clock customers to their clock.
async fn the_scheduler_renews_on_real_time_exactly_once(b: Backend) {
    let app = spawn_app(b).await;
    let (live, subs) = live_subscriptions(&app, 1).await;
    let sub_id = subs[0]["id"].as_str().expect("id").to_owned();
    let first_end = subs[0]["current_period_end"].clone();

    let state = &app.server.as_ref().expect("running").state;
    assert_eq!(
        neoforge_server::billing::scheduler::tick(state)
            .await
            .expect("tick"),
        0,
        "nothing due yet"
    );
    app.clock()
        .advance(std::time::Duration::from_secs(32 * 24 * 3600));
    let done = race_schedulers(state).await;
    assert_eq!(done, 2, "one renewal and one collection between the runs");
    let invoices = app
        .get(&format!("/v1/invoices?subscription={sub_id}"), &live)
        .await;
    let data = invoices.expect(200)["data"]
        .as_array()
        .expect("data")
        .clone();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["period_start"], first_end);
    assert_eq!(data[0]["status"], "paid");
    assert_eq!(data[0]["attempt_count"], 1, "charged once");
    let audit = app
        .get("/v1/audit_events?actor_id=billing_scheduler", &live)
        .await;
    assert_eq!(audit.expect(200)["data"][0]["actor_type"], "system");
    app.stop().await;
}

/// Renewals done together (one scheduler batch, two racing runs) take consecutive invoice
/// numbers after the first invoices, none skipped or repeated.
async fn renewals_in_one_batch_are_numbered_in_sequence(b: Backend) {
    let app = spawn_app(b).await;
    let (live, _) = live_subscriptions(&app, 3).await;
    let state = &app.server.as_ref().expect("running").state;
    app.clock()
        .advance(std::time::Duration::from_secs(32 * 24 * 3600));
    let done = race_schedulers(state).await;
    assert_eq!(done, 6, "three renewals and their collections");
    let invoices = app.get("/v1/invoices?limit=100", &live).await;
    let mut numbers: Vec<String> = invoices.expect(200)["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|i| i["number"].as_str().expect("number").to_owned())
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1..=6).map(|n| format!("INV-{n:06}")).collect();
    assert_eq!(numbers, expected);
    app.stop().await;
}

/// A declined first invoice leaves the subscription `incomplete` for 23 hours, as Stripe
/// does; then the invoice is voided and the subscription is `incomplete_expired`, which
/// takes no more changes.
async fn an_unpaid_first_invoice_expires_its_subscription(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let (clock_id, _, sub_id) = declined_subscription(&app, s).await;
    let state = async |to: &str| {
        app.post(
            &format!("/v1/test_clocks/{clock_id}/advance"),
            s,
            json!({"frozen_time": to}),
        )
        .await
        .expect(200);
        let sub = app.get(&format!("/v1/subscriptions/{sub_id}"), s).await;
        let sub = sub.expect(200)["status"].clone();
        let invoices = app
            .get(&format!("/v1/invoices?subscription={sub_id}"), s)
            .await;
        let invoices = invoices.expect(200)["data"]
            .as_array()
            .expect("data")
            .clone();
        let statuses: Vec<Value> = invoices.iter().map(|i| i["status"].clone()).collect();
        (sub, statuses)
    };
    assert_eq!(
        state("2027-03-01T22:59:00Z").await,
        (json!("incomplete"), vec![json!("open")])
    );
    assert_eq!(
        state("2027-03-01T23:00:00Z").await,
        (json!("incomplete_expired"), vec![json!("void")])
    );
    app.post(&format!("/v1/subscriptions/{sub_id}/cancel"), s, json!({}))
        .await
        .expect_problem(409, "subscription_canceled");
    // No renewal follows: the subscription never started.
    assert_eq!(
        state("2027-04-02T00:00:00Z").await,
        (json!("incomplete_expired"), vec![json!("void")])
    );
    let events = app.get("/v1/webhook_events?type=invoice.voided", s).await;
    assert_eq!(list_len(events.expect(200)), 1);
    app.stop().await;
}

/// A trial that ends without a payment method does what its subscription's
/// `trial_settings.end_behavior.missing_payment_method` says: cancel (the default), pause,
/// or renew with an invoice that then fails to collect.
async fn trial_end_without_a_payment_method(b: Backend) {
    let app = spawn_app(b).await;
    let s = &app.signup("ada@example.com").await.session;
    let product = app.post("/v1/products", s, json!({"name": "Team"})).await;
    let pid = product.expect(201)["id"].as_str().expect("id").to_owned();
    let base = price(&app, s, &pid, json!({"model": "flat", "unit_amount": 4900, "recurring": {"interval": "month"}, "trial_days": 7})).await;
    let clock = app
        .post(
            "/v1/test_clocks",
            s,
            json!({"name": "trials", "frozen_time": "2027-05-01T00:00:00Z"}),
        )
        .await;
    let clock = clock.expect(201)["id"].as_str().expect("id").to_owned();
    let mut subs = Vec::new();
    for behavior in [None, Some("cancel"), Some("pause"), Some("create_invoice")] {
        let customer = app
            .post("/v1/customers", s, json!({"test_clock": clock}))
            .await;
        let customer = customer.expect(201)["id"].as_str().expect("id").to_owned();
        let mut body = json!({"customer": customer, "items": [{"price": base}]});
        if let Some(b) = behavior {
            body["trial_settings"] = json!({"end_behavior": {"missing_payment_method": b}});
        }
        let sub = app.post("/v1/subscriptions", s, body).await;
        let sub = sub.expect(201).clone();
        assert_eq!(sub["status"], "trialing");
        assert_eq!(
            sub["trial_settings"]["end_behavior"]["missing_payment_method"],
            behavior.unwrap_or("cancel")
        );
        subs.push(sub["id"].as_str().expect("id").to_owned());
    }
    app.post(
        "/v1/subscriptions",
        s,
        json!({"customer": "cus_x", "items": [{"price": base}], "trial_settings": {"end_behavior": {"missing_payment_method": "ignore"}}}),
    )
    .await
    .expect_problem(400, "validation_error");

    app.post(
        &format!("/v1/test_clocks/{clock}/advance"),
        s,
        json!({"frozen_time": "2027-05-08T01:00:00Z"}),
    )
    .await
    .expect(200);
    let status = |id: String| {
        let app = &app;
        async move {
            let r = app.get(&format!("/v1/subscriptions/{id}"), s).await;
            r.expect(200)["status"].clone()
        }
    };
    assert_eq!(status(subs[0].clone()).await, "canceled");
    assert_eq!(status(subs[1].clone()).await, "canceled");
    assert_eq!(status(subs[2].clone()).await, "paused");
    assert_eq!(status(subs[3].clone()).await, "past_due");
    let paused = app
        .get("/v1/webhook_events?type=subscription.paused", s)
        .await;
    assert_eq!(
        paused.expect(200)["data"][0]["data"]["id"],
        subs[2].as_str()
    );
    let invoiced = app
        .get(&format!("/v1/invoices?subscription={}", subs[3]), s)
        .await;
    let renewal = invoiced.expect(200)["data"][0].clone();
    assert_eq!(renewal["billing_reason"], "subscription_cycle");
    assert_eq!(renewal["status"], "open");
    assert_eq!(renewal["payment_error"], "payment_method_missing");
    for paused_or_canceled in &subs[..3] {
        let r = app
            .get(
                &format!("/v1/invoices?subscription={paused_or_canceled}"),
                s,
            )
            .await;
        let only_trial: Vec<&Value> = r.expect(200)["data"]
            .as_array()
            .expect("list")
            .iter()
            .collect();
        assert_eq!(only_trial.len(), 1, "only the trial's 0.00 invoice");
        assert_eq!(only_trial[0]["total"], 0);
    }
    app.stop().await;
}

/// A preview shows what an update will charge, to the cent, and changes nothing: the
/// invoice the upgrade makes now equals the preview's, and the next renewal equals the
/// preview's next invoice.
async fn previews_match_what_the_update_and_renewal_charge(b: Backend) {
    let app = spawn_app(b).await;
    let s = &app.signup("ada@example.com").await.session;
    let product = app.post("/v1/products", s, json!({"name": "Team"})).await;
    let pid = product.expect(201)["id"].as_str().expect("id").to_owned();
    let monthly = |amount: i64| json!({"model": "flat", "unit_amount": amount, "recurring": {"interval": "month"}});
    let basic = price(&app, s, &pid, monthly(2000)).await;
    let pro = price(&app, s, &pid, monthly(5000)).await;
    let seat = price(
        &app,
        s,
        &pid,
        json!({"model": "per_unit", "unit_amount": 700, "recurring": {"interval": "month"}}),
    )
    .await;
    let coupon = app
        .post(
            "/v1/coupons",
            s,
            json!({"percent_off": "10", "duration": "forever"}),
        )
        .await;
    let coupon = coupon.expect(201)["id"].as_str().expect("id").to_owned();
    let vat = app
        .post(
            "/v1/tax_rates",
            s,
            json!({"display_name": "VAT", "percentage": "19", "inclusive": false}),
        )
        .await;
    let vat = vat.expect(201)["id"].as_str().expect("id").to_owned();
    let clock = app
        .post(
            "/v1/test_clocks",
            s,
            json!({"name": "preview", "frozen_time": "2027-01-01T00:00:00Z"}),
        )
        .await;
    let clock = clock.expect(201)["id"].as_str().expect("id").to_owned();
    let customer = app
        .post(
            "/v1/customers",
            s,
            json!({"test_clock": clock, "default_payment_method": "pm_card_visa"}),
        )
        .await;
    let customer = customer.expect(201)["id"].as_str().expect("id").to_owned();
    let sub = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": customer, "items": [{"price": basic}],
            "coupon": coupon, "default_tax_rates": [vat]}),
        )
        .await;
    let sub = sub.expect(201)["id"].as_str().expect("id").to_owned();
    app.post(
        &format!("/v1/test_clocks/{clock}/advance"),
        s,
        json!({"frozen_time": "2027-01-11T07:13:00Z"}),
    )
    .await
    .expect(200);

    let upgrade = json!({"items": [{"price": pro}, {"price": seat, "quantity": 3}], "proration_behavior": "always_invoice"});
    let preview = app
        .post(
            &format!("/v1/subscriptions/{sub}/preview"),
            s,
            upgrade.clone(),
        )
        .await;
    let preview = preview.expect(200).clone();
    let now = preview["invoice_now"].clone();
    assert_eq!(now["billing_reason"], "subscription_update");
    assert_eq!(
        now["lines"].as_array().map(Vec::len),
        Some(3),
        "a credit, two charges"
    );
    assert!(now["amount_due"].as_i64() > Some(0), "{now}");
    assert_eq!(preview["subscription"]["items"][1]["quantity"], 3);
    // Nothing changed.
    let unchanged = app.get(&format!("/v1/subscriptions/{sub}"), s).await;
    assert_eq!(
        unchanged.expect(200)["items"],
        json!([{"price": basic, "quantity": 1}])
    );
    let invoices = async || -> Vec<Value> {
        let r = app
            .get(&format!("/v1/invoices?subscription={sub}&limit=100"), s)
            .await;
        r.expect(200)["data"].as_array().expect("list").clone()
    };
    assert_eq!(invoices().await.len(), 1, "only the first invoice");

    app.post(&format!("/v1/subscriptions/{sub}"), s, upgrade)
        .await
        .expect(200);
    let made = invoices().await[0].clone();
    assert_eq!(made["billing_reason"], "subscription_update");
    assert_eq!(made["status"], "paid");
    for field in [
        "subtotal",
        "discount_amount",
        "tax_amount",
        "total",
        "starting_balance",
        "amount_due",
        "period_start",
        "period_end",
        "created_at",
    ] {
        assert_eq!(made[field], now[field], "{field}");
    }
    assert_eq!(made["lines"], now["lines"]);

    let next = app
        .post(&format!("/v1/subscriptions/{sub}/preview"), s, json!({}))
        .await;
    let next = next.expect(200)["next_invoice"].clone();
    assert_eq!(next["period_start"], "2027-02-01T00:00:00Z");
    app.post(
        &format!("/v1/test_clocks/{clock}/advance"),
        s,
        json!({"frozen_time": "2027-02-01T02:00:00Z"}),
    )
    .await
    .expect(200);
    let renewal = invoices().await[0].clone();
    assert_eq!(renewal["billing_reason"], "subscription_cycle");
    for field in [
        "subtotal",
        "discount_amount",
        "tax_amount",
        "total",
        "amount_due",
        "period_start",
        "period_end",
        "created_at",
    ] {
        assert_eq!(renewal[field], next[field], "{field}");
    }
    assert_eq!(renewal["lines"], next["lines"]);
    assert_eq!(
        renewal["total"],
        (5000 + 3 * 700) * 9 / 10 * 119 / 100,
        "discounted, then taxed"
    );

    // A read-only key may preview; another tenant cannot.
    let (_, reader) = app
        .create_key(s, json!({"name": "r", "scopes": ["billing:read"]}), false)
        .await;
    app.post(
        &format!("/v1/subscriptions/{sub}/preview"),
        &reader,
        json!({}),
    )
    .await
    .expect(200);
    app.post(&format!("/v1/subscriptions/{sub}"), &reader, json!({}))
        .await
        .expect_problem(403, "forbidden");
    let eve = app.signup("eve@example.com").await;
    app.post(
        &format!("/v1/subscriptions/{sub}/preview"),
        &eve.session,
        json!({}),
    )
    .await
    .expect_problem(404, "resource_not_found");
    app.stop().await;
}

crate::on_both_backends!(
    previews_match_what_the_update_and_renewal_charge,
    trial_end_without_a_payment_method,
    renewals_in_one_batch_are_numbered_in_sequence,
    an_unpaid_first_invoice_expires_its_subscription,
    the_scheduler_renews_on_real_time_exactly_once,
    test_clock_drives_the_subscription_lifecycle,
    subscriptions_validate_their_prices,
    declined_payments_make_a_subscription_past_due,
);

//! Mid-period changes (upgrades, downgrades, quantities) with prorations, dunning, pause and
//! resume, and billing settings, driven by sandbox test clocks.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};

struct Sandbox<'a> {
    app: &'a TestApp,
    s: String,
    clock: String,
    product: String,
}

impl<'a> Sandbox<'a> {
    async fn new(app: &'a TestApp, email: &str, start: &str) -> Sandbox<'a> {
        let s = app.signup(email).await.session;
        let clock = app
            .post(
                "/v1/test_clocks",
                &s,
                json!({"name": "c", "frozen_time": start}),
            )
            .await;
        let clock = clock.expect(201)["id"].as_str().expect("id").to_owned();
        let product = app.post("/v1/products", &s, json!({"name": "Team"})).await;
        let product = product.expect(201)["id"].as_str().expect("id").to_owned();
        Sandbox {
            app,
            s,
            clock,
            product,
        }
    }

    async fn price(&self, model: &str, unit_amount: i64) -> String {
        let body = json!({"product": self.product, "currency": "usd", "model": model,
            "unit_amount": unit_amount, "recurring": {"interval": "month"}});
        let r = self.app.post("/v1/prices", &self.s, body).await;
        r.expect(201)["id"].as_str().expect("id").to_owned()
    }

    async fn customer(&self, payment_method: &str) -> String {
        let body = json!({"test_clock": self.clock, "default_payment_method": payment_method});
        let r = self.app.post("/v1/customers", &self.s, body).await;
        r.expect(201)["id"].as_str().expect("id").to_owned()
    }

    async fn subscribe(&self, customer: &str, items: Value) -> Value {
        let body = json!({"customer": customer, "items": items});
        let r = self.app.post("/v1/subscriptions", &self.s, body).await;
        r.expect(201).clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.app.post(path, &self.s, body).await.expect(200).clone()
    }

    async fn advance(&self, to: &str) {
        let path = format!("/v1/test_clocks/{}/advance", self.clock);
        self.post(&path, json!({"frozen_time": to})).await;
    }

    async fn get(&self, path: &str) -> Value {
        self.app.get(path, &self.s).await.expect(200).clone()
    }

    /// The subscription's invoices, oldest first.
    async fn invoices(&self, sub: &str) -> Vec<Value> {
        let page = self.get(&format!("/v1/invoices?subscription={sub}")).await;
        let mut all = page["data"].as_array().expect("data").clone();
        all.reverse();
        all
    }
}

fn amounts(invoice: &Value) -> Vec<(String, i64)> {
    invoice["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["price"].as_str().expect("price").to_owned(),
                l["amount"].as_i64().expect("amount"),
            )
        })
        .collect()
}

/// Stripe's example to the cent: 10 USD → 20 USD halfway through the period is −5 + 10; a
/// downgrade later in the period waits, as prorations, for the renewal invoice.
async fn changes_prorate_to_the_cent(b: Backend) {
    let app = spawn_app(b).await;
    // March has 31 days: halfway is the 16th at noon.
    let sb = Sandbox::new(&app, "ada@example.com", "2027-03-01T00:00:00Z").await;
    let (basic, pro) = (sb.price("flat", 1000).await, sb.price("flat", 2000).await);
    let seats = sb.price("per_unit", 1200).await;
    let cus = sb.customer("pm_card_visa").await;
    let sub = sb.subscribe(&cus, json!([{"price": basic}])).await;
    assert_eq!(sub["status"], "active", "first invoice paid at once");
    let id = sub["id"].as_str().expect("id").to_owned();

    sb.advance("2027-03-16T12:00:00Z").await;
    let upgraded = sb
        .post(
            &format!("/v1/subscriptions/{id}"),
            json!({"items": [{"price": pro}], "proration_behavior": "always_invoice"}),
        )
        .await;
    assert_eq!(upgraded["items"][0]["price"], json!(pro));
    let invoices = sb.invoices(&id).await;
    let proration = &invoices[1];
    assert_eq!(
        amounts(proration),
        [(basic.clone(), -500), (pro.clone(), 1000)]
    );
    assert_eq!(
        (
            &proration["total"],
            &proration["status"],
            &proration["billing_reason"]
        ),
        (&json!(500), &json!("paid"), &json!("subscription_update"))
    );
    assert!(
        proration["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .all(|l| l["proration"] == true)
    );

    // 8 of 31 days left: −20.00 × 8/31 = −5.16, +10.00 × 8/31 = 2.58 (rounded per line).
    sb.advance("2027-03-24T00:00:00Z").await;
    let downgraded = sb
        .post(
            &format!("/v1/subscriptions/{id}"),
            json!({"items": [{"price": basic}]}),
        )
        .await;
    let pending: Vec<i64> = downgraded["pending_lines"]
        .as_array()
        .expect("pending")
        .iter()
        .map(|l| l["amount"].as_i64().expect("amount"))
        .collect();
    assert_eq!(pending, [-516, 258], "create_prorations is the default");
    assert_eq!(sb.invoices(&id).await.len(), 2, "nothing invoiced yet");

    // No prorations: the seats bill from the next period only.
    let with_seats = sb
        .post(
            &format!("/v1/subscriptions/{id}"),
            json!({"items": [{"price": basic}, {"price": seats, "quantity": 3}], "proration_behavior": "none"}),
        )
        .await;
    assert_eq!(
        with_seats["pending_lines"].as_array().map(Vec::len),
        Some(2)
    );

    // The renewal carries the prorations, then the new period; it is collected an hour on.
    sb.advance("2027-04-01T00:30:00Z").await;
    let renewal = sb.invoices(&id).await[2].clone();
    assert_eq!(renewal["status"], "draft");
    assert_eq!(renewal["next_action_at"], "2027-04-01T01:00:00Z");
    sb.advance("2027-04-01T01:00:00Z").await;
    let renewal = sb.invoices(&id).await[2].clone();
    assert_eq!(
        amounts(&renewal),
        [
            (pro.clone(), -516),
            (basic.clone(), 258),
            (basic.clone(), 1000),
            (seats.clone(), 3600)
        ]
    );
    assert_eq!(
        (
            &renewal["total"],
            &renewal["amount_due"],
            &renewal["status"]
        ),
        (&json!(4342), &json!(4342), &json!("paid"))
    );
    let sub = sb.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(sub["pending_lines"], json!([]));

    // A downgrade invoiced at once is a credit: it goes to the customer's balance and pays
    // the next invoice first.
    sb.advance("2027-04-16T00:00:00Z").await;
    sb.post(
        &format!("/v1/subscriptions/{id}"),
        json!({"items": [{"price": basic}], "proration_behavior": "always_invoice"}),
    )
    .await;
    let credit = sb.invoices(&id).await[3].clone();
    // 15 of 30 April days left: −36.00 / 2 = −18.00 for the seats.
    assert_eq!(amounts(&credit), [(seats.clone(), -1800)]);
    assert_eq!(
        (&credit["amount_due"], &credit["status"]),
        (&json!(0), &json!("paid"))
    );
    let customer = sb.get(&format!("/v1/customers/{cus}")).await;
    assert_eq!(customer["balance"], -1800);
    sb.advance("2027-05-01T01:00:00Z").await;
    let next = sb.invoices(&id).await[4].clone();
    assert_eq!(
        (
            &next["total"],
            &next["starting_balance"],
            &next["amount_due"]
        ),
        (&json!(1000), &json!(-1800), &json!(0))
    );
    let customer = sb.get(&format!("/v1/customers/{cus}")).await;
    assert_eq!(customer["balance"], -800, "the rest of the credit stays");

    // Changes are checked: another interval or currency, or an unknown price.
    let yearly = app
        .post(
            "/v1/prices",
            &sb.s,
            json!({"product": sb.product, "currency": "usd", "model": "flat", "unit_amount": 9000, "recurring": {"interval": "year"}}),
        )
        .await;
    let yearly = yearly.expect(201)["id"].as_str().expect("id").to_owned();
    app.post(
        &format!("/v1/subscriptions/{id}"),
        &sb.s,
        json!({"items": [{"price": yearly}]}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.post(
        &format!("/v1/subscriptions/{id}"),
        &sb.s,
        json!({"items": [{"price": basic}], "proration_behavior": "sometimes"}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.stop().await;
}

/// A declined renewal is retried 3, 7 and 14 days after finalization, the subscription past
/// due meanwhile; after the fourth try it is canceled. With `mark_unpaid` it becomes unpaid
/// instead, and paying the invoice brings it back.
async fn dunning_retries_then_applies_the_final_action(b: Backend) {
    let app = spawn_app(b).await;
    let sb = Sandbox::new(&app, "ada@example.com", "2027-01-01T00:00:00Z").await;
    let monthly = sb.price("flat", 2500).await;
    let cus = sb.customer("pm_card_visa").await;
    let sub = sb.subscribe(&cus, json!([{"price": monthly}])).await;
    let id = sub["id"].as_str().expect("id").to_owned();
    sb.post(
        &format!("/v1/customers/{cus}"),
        json!({"default_payment_method": "pm_card_chargeDeclined"}),
    )
    .await;

    sb.advance("2027-02-01T01:00:00Z").await;
    let renewal = sb.invoices(&id).await[1].clone();
    assert_eq!(
        (
            &renewal["status"],
            &renewal["attempt_count"],
            &renewal["payment_error"]
        ),
        (&json!("open"), &json!(1), &json!("card_declined"))
    );
    assert_eq!(renewal["next_action_at"], "2027-02-04T01:00:00Z");
    let sub = sb.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(sub["status"], "past_due");

    sb.advance("2027-02-08T01:00:00Z").await;
    let renewal = sb.invoices(&id).await[1].clone();
    assert_eq!(renewal["attempt_count"], 3);
    assert_eq!(renewal["next_action_at"], "2027-02-15T01:00:00Z");

    sb.advance("2027-03-01T00:00:00Z").await;
    let renewal = sb.invoices(&id).await[1].clone();
    assert_eq!(
        (&renewal["attempt_count"], &renewal["next_action_at"]),
        (&json!(4), &json!(null))
    );
    let sub = sb.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(
        (&sub["status"], &sub["canceled_at"]),
        (&json!("canceled"), &json!("2027-02-15T01:00:00Z"))
    );
    assert_eq!(
        sb.invoices(&id).await.len(),
        2,
        "a canceled subscription renews no more"
    );

    // mark_unpaid after one retry the next day.
    sb.post(
        "/v1/billing_settings",
        json!({"dunning": {"retry_days": [1], "final_action": "mark_unpaid"}}),
    )
    .await;
    let cus = sb.customer("pm_card_visa").await;
    let sub = sb.subscribe(&cus, json!([{"price": monthly}])).await;
    let id = sub["id"].as_str().expect("id").to_owned();
    sb.post(
        &format!("/v1/customers/{cus}"),
        json!({"default_payment_method": "pm_card_chargeDeclinedInsufficientFunds"}),
    )
    .await;
    sb.advance("2027-04-05T00:00:00Z").await;
    let sub = sb.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(sub["status"], "unpaid");
    let renewal = sb.invoices(&id).await[1].clone();
    assert_eq!(renewal["attempt_count"], 2);
    sb.post(
        &format!("/v1/customers/{cus}"),
        json!({"default_payment_method": "pm_card_visa"}),
    )
    .await;
    let rid = renewal["id"].as_str().expect("id");
    let paid = sb.post(&format!("/v1/invoices/{rid}/pay"), json!({})).await;
    assert_eq!(paid["status"], "paid");
    let sub = sb.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(sub["status"], "active");
    app.stop().await;
}

/// A paused subscription bills nothing; resuming starts a new period from that moment.
async fn pause_and_resume_collection(b: Backend) {
    let app = spawn_app(b).await;
    let sb = Sandbox::new(&app, "ada@example.com", "2027-01-10T00:00:00Z").await;
    let monthly = sb.price("flat", 1500).await;
    let cus = sb.customer("pm_card_visa").await;
    let sub = sb.subscribe(&cus, json!([{"price": monthly}])).await;
    let id = sub["id"].as_str().expect("id").to_owned();
    let paused = sb
        .post(&format!("/v1/subscriptions/{id}/pause"), json!({}))
        .await;
    assert_eq!(paused["status"], "paused");
    app.post(
        &format!("/v1/subscriptions/{id}"),
        &sb.s,
        json!({"items": [{"price": monthly, "quantity": 2}]}),
    )
    .await
    .expect_problem(409, "subscription_not_billing");
    sb.advance("2027-03-20T00:00:00Z").await;
    assert_eq!(
        sb.invoices(&id).await.len(),
        1,
        "nothing billed while paused"
    );

    let resumed = sb
        .post(&format!("/v1/subscriptions/{id}/resume"), json!({}))
        .await;
    assert_eq!(
        (
            &resumed["status"],
            &resumed["billing_cycle_anchor"],
            &resumed["current_period_end"]
        ),
        (
            &json!("active"),
            &json!("2027-03-20T00:00:00Z"),
            &json!("2027-04-20T00:00:00Z")
        )
    );
    let invoices = sb.invoices(&id).await;
    assert_eq!(
        (&invoices[1]["status"], &invoices[1]["billing_reason"]),
        (&json!("paid"), &json!("subscription_resume"))
    );
    sb.post(&format!("/v1/subscriptions/{id}/cancel"), json!({}))
        .await;
    app.post(&format!("/v1/subscriptions/{id}/pause"), &sb.s, json!({}))
        .await
        .expect_problem(409, "subscription_canceled");
    app.stop().await;
}

/// Billing settings are checked, and belong to one organization and environment; other
/// tenants cannot change or read each other's subscriptions.
async fn billing_settings_and_changes_stay_in_their_tenant(b: Backend) {
    let app = spawn_app(b).await;
    let sb = Sandbox::new(&app, "ada@example.com", "2027-01-10T00:00:00Z").await;
    let monthly = sb.price("flat", 1500).await;
    let cus = sb.customer("pm_card_visa").await;
    let sub = sb.subscribe(&cus, json!([{"price": monthly}])).await;
    let id = sub["id"].as_str().expect("id").to_owned();

    let defaults = sb.get("/v1/billing_settings").await;
    assert_eq!(
        defaults["dunning"],
        json!({"retry_days": [3, 7, 14], "final_action": "cancel"})
    );
    for bad in [
        json!({"dunning": {"retry_days": [7, 3], "final_action": "cancel"}}),
        json!({"dunning": {"retry_days": [0], "final_action": "cancel"}}),
        json!({"dunning": {"retry_days": [3], "final_action": "explode"}}),
        json!({"dunning": {"retry_days": [3]}}),
    ] {
        app.post("/v1/billing_settings", &sb.s, bad)
            .await
            .expect_problem(400, "validation_error");
    }
    sb.post(
        "/v1/billing_settings",
        json!({"dunning": {"retry_days": [2, 4], "final_action": "mark_unpaid"}}),
    )
    .await;
    // The live environment keeps its own settings.
    let (_, live) = app.create_key(&sb.s, json!({"name": "live"}), true).await;
    let live_settings = app.get("/v1/billing_settings", &live).await;
    assert_eq!(
        live_settings.expect(200)["dunning"]["retry_days"],
        json!([3, 7, 14])
    );
    let attempts = [
        ("", json!({"items": [{"price": monthly}]})),
        ("/pause", json!({})),
        ("/resume", json!({})),
        ("/cancel", json!({})),
    ];
    for (path, body) in &attempts {
        app.post(
            &format!("/v1/subscriptions/{id}{path}"),
            &live,
            body.clone(),
        )
        .await
        .expect_problem(404, "resource_not_found");
    }

    let other = app.signup("mallory@example.com").await;
    let theirs = app.get("/v1/billing_settings", &other.session).await;
    assert_eq!(
        theirs.expect(200)["dunning"]["retry_days"],
        json!([3, 7, 14])
    );
    for (path, body) in &attempts {
        app.post(
            &format!("/v1/subscriptions/{id}{path}"),
            &other.session,
            body.clone(),
        )
        .await
        .expect_problem(404, "resource_not_found");
    }
    let unchanged = sb.get(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(unchanged["status"], "active");
    app.stop().await;
}

/// An invoice renders as a page: amounts in major units, the customer's text escaped. Credit
/// notes give money back (refunded or to the balance), never more than was paid. Other
/// tenants get 404 for all of it.
async fn invoices_render_as_escaped_html(b: Backend) {
    let app = spawn_app(b).await;
    let sb = Sandbox::new(&app, "ada@example.com", "2027-01-10T00:00:00Z").await;
    let monthly = sb.price("flat", 1999).await;
    let body = json!({"test_clock": sb.clock, "default_payment_method": "pm_card_visa",
        "name": "<script>alert(1)</script> & Co",
        "address": {"line1": "1 Rue de la Paix", "postal_code": "75002", "city": "Paris", "country": "FR"}});
    let cus = app.post("/v1/customers", &sb.s, body).await;
    let cus = cus.expect(201)["id"].as_str().expect("id").to_owned();
    let sub = sb.subscribe(&cus, json!([{"price": monthly}])).await;
    let invoice = sb.invoices(sub["id"].as_str().expect("id")).await[0].clone();
    let path = format!("/v1/invoices/{}/html", invoice["id"].as_str().expect("id"));

    let page = app.get(&path, &sb.s).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.body.as_str().expect("a page");
    for expected in [
        invoice["number"].as_str().expect("number"),
        "19.99 USD",
        "75002 Paris",
        "&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; Co",
        "paid",
    ] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
    assert!(!html.contains("<script>"), "escaped");
    let other = app.signup("mallory@example.com").await;
    app.get(&path, &other.session)
        .await
        .expect_problem(404, "resource_not_found");
    let id = invoice["id"].as_str().expect("id");
    for action in ["pay", "void", "mark_uncollectible"] {
        app.post(
            &format!("/v1/invoices/{id}/{action}"),
            &other.session,
            json!({}),
        )
        .await
        .expect_problem(404, "resource_not_found");
    }
    // Credit notes: another tenant can neither credit this invoice nor see the notes.
    app.post("/v1/credit_notes", &other.session, json!({"invoice": id}))
        .await
        .expect_problem(404, "resource_not_found");
    let refund = sb
        .app
        .post(
            "/v1/credit_notes",
            &sb.s,
            json!({"invoice": id, "refund_amount": 999}),
        )
        .await;
    let refund = refund.expect(201).clone();
    let note = refund["id"].as_str().expect("id");
    app.get(&format!("/v1/credit_notes/{note}"), &other.session)
        .await
        .expect_problem(404, "resource_not_found");
    let theirs = app.get("/v1/credit_notes", &other.session).await;
    assert_eq!(theirs.expect(200)["data"], json!([]));
    // The rest goes to the customer's balance, and pays their next invoice first.
    let credit = sb
        .app
        .post(
            "/v1/credit_notes",
            &sb.s,
            json!({"invoice": id, "credit_amount": 1000}),
        )
        .await;
    assert_eq!(credit.expect(201)["number"], "CN-000002");
    app.post(
        "/v1/credit_notes",
        &sb.s,
        json!({"invoice": id, "credit_amount": 1}),
    )
    .await
    .expect_problem(400, "validation_error");
    let customer = sb.get(&format!("/v1/customers/{cus}")).await;
    assert_eq!(customer["balance"], -1000);
    let refreshed = sb.get(&format!("/v1/invoices/{id}")).await;
    assert_eq!(
        refreshed["amount_refunded"], 999,
        "the simulated provider refunds too"
    );
    let listed = sb.get(&format!("/v1/credit_notes?invoice={id}")).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2));
    let open = sb
        .app
        .post(
            "/v1/credit_notes",
            &sb.s,
            json!({"invoice": "in_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e"}),
        )
        .await;
    open.expect_problem(404, "resource_not_found");
    app.stop().await;
}

crate::on_both_backends!(
    invoices_render_as_escaped_html,
    changes_prorate_to_the_cent,
    dunning_retries_then_applies_the_final_action,
    pause_and_resume_collection,
    billing_settings_and_changes_stay_in_their_tenant,
);

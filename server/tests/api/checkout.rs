//! Hosted checkout and pricing tables over real HTTP: a session shows its order, takes a
//! promotion code, refuses a declined card and stays open, completes once with a working
//! one (the customer made from the email, the subscription active, the event sent), then
//! opens no more; sessions expire; a pricing table's page and embed start sessions; and
//! nothing crosses tenants.

use serde_json::{Value, json};

use crate::billing_portal::Browser;
use crate::helpers::{Backend, TestApp, spawn_app};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// A product with a monthly and a yearly price per seat: (product, monthly, yearly).
async fn plans(app: &TestApp, s: &str) -> (String, String, String) {
    let product = app
        .post(
            "/v1/products",
            s,
            json!({"name": "Team", "description": "For teams", "features": [{"key": "api_calls", "limit": 10000}, {"key": "sso"}]}),
        )
        .await;
    let product = id(product.expect(201));
    let price = |amount: i64, interval: &str| json!({"product": product, "currency": "usd", "model": "per_unit", "unit_amount": amount, "recurring": {"interval": interval}});
    let monthly = id(app
        .post("/v1/prices", s, price(2500, "month"))
        .await
        .expect(201));
    let yearly = id(app
        .post("/v1/prices", s, price(25000, "year"))
        .await
        .expect(201));
    (product, monthly, yearly)
}

async fn a_checkout_sells_a_subscription_once(b: Backend) {
    let app = spawn_app(b).await;
    let s = &app.signup("ada@example.com").await.session;
    let (_, monthly, _) = plans(&app, s).await;
    let coupon = app
        .post(
            "/v1/coupons",
            s,
            json!({"percent_off": "20", "duration": "forever"}),
        )
        .await;
    let coupon = id(coupon.expect(201));
    app.post(
        "/v1/promotion_codes",
        s,
        json!({"coupon": coupon, "code": "LAUNCH20"}),
    )
    .await
    .expect(201);
    let session = app
        .post(
            "/v1/checkout/sessions",
            s,
            json!({"mode": "subscription", "line_items": [{"price": monthly, "quantity": 2}],
                   "allow_promotion_codes": true,
                   "success_url": "https://app.example.com/welcome?session={CHECKOUT_SESSION_ID}",
                   "cancel_url": "https://app.example.com/pricing"}),
        )
        .await;
    let session = session.expect(201).clone();
    assert_eq!(session["status"], "open");
    let url = session["url"].as_str().expect("url").to_owned();
    assert!(
        url.starts_with(&format!("{}/checkout/cst_", app.base)),
        "{url}"
    );
    let sid = id(&session);
    let again = app.get(&format!("/v1/checkout/sessions/{sid}"), s).await;
    assert!(
        again.expect(200)["url"].is_null(),
        "the URL holds the secret: shown once"
    );

    let mut browser = Browser::new();
    let page = browser.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert_eq!(page.text_of("total-today"), "50.00 USD");
    assert_eq!(page.text_of("per-period"), "50.00 USD");
    let bad = browser
        .post(&format!("{url}/promotion"), &[("code", "NOPE")])
        .await;
    assert_eq!(bad.status, 402, "the page again, saying why");
    assert!(
        bad.html.contains("That code does not apply"),
        "{}",
        bad.html
    );
    let applied = browser
        .post(&format!("{url}/promotion"), &[("code", "launch20")])
        .await;
    assert_eq!(applied.status, 303);
    let page = browser.get(&url).await;
    assert_eq!(page.text_of("total-today"), "40.00 USD");
    assert_eq!(page.text_of("per-period"), "40.00 USD", "a forever coupon");

    let declined = browser
        .post(
            &format!("{url}/pay"),
            &[
                ("email", "grace@example.com"),
                ("payment_method", "pm_card_chargeDeclined"),
            ],
        )
        .await;
    assert_eq!(declined.status, 402);
    assert!(declined.html.contains("card_declined"), "{}", declined.html);
    let open = app.get(&format!("/v1/checkout/sessions/{sid}"), s).await;
    assert_eq!(
        open.expect(200)["status"],
        "open",
        "a declined card leaves it open"
    );
    assert!(
        app.get("/v1/subscriptions", s).await.expect(200)["data"]
            .as_array()
            .expect("list")
            .is_empty()
    );

    let paid = browser
        .post(
            &format!("{url}/pay"),
            &[
                ("email", "grace@example.com"),
                ("payment_method", "pm_card_visa"),
            ],
        )
        .await;
    assert_eq!(
        paid.location,
        Some(format!("https://app.example.com/welcome?session={sid}"))
    );
    let done = app.get(&format!("/v1/checkout/sessions/{sid}"), s).await;
    let done = done.expect(200).clone();
    assert_eq!(done["status"], "complete");
    let customer = app
        .get(
            &format!(
                "/v1/customers/{}",
                done["customer"].as_str().expect("customer")
            ),
            s,
        )
        .await;
    assert_eq!(customer.expect(200)["email"], "grace@example.com");
    assert_eq!(customer.body["default_payment_method"], "pm_card_visa");
    let sub = app
        .get(
            &format!(
                "/v1/subscriptions/{}",
                done["subscription"].as_str().expect("subscription")
            ),
            s,
        )
        .await;
    assert_eq!(sub.expect(200)["status"], "active");
    assert_eq!(sub.body["items"][0]["quantity"], 2);
    let invoice = app
        .get(
            &format!(
                "/v1/invoices/{}",
                done["invoice"].as_str().expect("invoice")
            ),
            s,
        )
        .await;
    assert_eq!(
        (
            invoice.expect(200)["status"].clone(),
            invoice.body["amount_due"].clone()
        ),
        (json!("paid"), json!(4000))
    );
    let events = app
        .get("/v1/webhook_events?type=checkout.session.completed", s)
        .await;
    assert_eq!(events.expect(200)["data"][0]["data"]["id"], sid.as_str());

    // Single use: the page and its form are closed now.
    assert_eq!(browser.get(&url).await.status, 409);
    let twice = browser
        .post(
            &format!("{url}/pay"),
            &[
                ("email", "grace@example.com"),
                ("payment_method", "pm_card_visa"),
            ],
        )
        .await;
    assert_eq!(twice.status, 409);
    assert_eq!(
        app.get("/v1/subscriptions", s).await.expect(200)["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    app.post(&format!("/v1/checkout/sessions/{sid}/expire"), s, json!({}))
        .await
        .expect_problem(409, "checkout_session_not_open");

    // Another tenant sees none of it.
    let eve = app.signup("eve@example.com").await;
    app.get(&format!("/v1/checkout/sessions/{sid}"), &eve.session)
        .await
        .expect_problem(404, "resource_not_found");
    app.stop().await;
}

async fn sessions_expire_and_are_checked(b: Backend) {
    let app = spawn_app(b).await;
    let s = &app.signup("ada@example.com").await.session;
    let (_, monthly, _) = plans(&app, s).await;
    let one_time = app
        .post("/v1/prices", s, json!({"product": app.get("/v1/products", s).await.body["data"][0]["id"], "currency": "usd", "model": "per_unit", "unit_amount": 900}))
        .await;
    let one_time = id(one_time.expect(201));
    let urls = json!({"success_url": "https://a.example/ok", "cancel_url": "https://a.example/no"});
    let with = |extra: Value| {
        let mut body = urls.clone();
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    for (body, field) in [
        (
            with(json!({"mode": "setup", "line_items": [{"price": monthly}]})),
            "line_items",
        ),
        (with(json!({"mode": "subscription"})), "line_items"),
        (
            with(json!({"mode": "payment", "line_items": [{"price": monthly}]})),
            "line_items[0].price",
        ),
        (
            with(
                json!({"mode": "subscription", "line_items": [{"price": monthly}], "expires_at": "2100-01-01T00:00:00Z"}),
            ),
            "expires_at",
        ),
        (
            with(json!({"mode": "payment", "line_items": [{"price": one_time}], "trial_days": 7})),
            "trial_days",
        ),
        (
            json!({"mode": "setup", "success_url": "javascript:x", "cancel_url": "https://a.example/no"}),
            "success_url",
        ),
    ] {
        let r = app.post("/v1/checkout/sessions", s, body.clone()).await;
        r.expect_problem(400, "validation_error");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}");
    }

    // A one-time payment: an invoice, paid.
    let pay = app
        .post("/v1/checkout/sessions", s, with(json!({"mode": "payment", "line_items": [{"price": one_time, "quantity": 3}], "customer_email": "p@example.com"})))
        .await;
    let url = pay.expect(201)["url"].as_str().expect("url").to_owned();
    let mut browser = Browser::new();
    assert_eq!(browser.get(&url).await.text_of("total-today"), "27.00 USD");
    let paid = browser
        .post(&format!("{url}/pay"), &[("payment_method", "pm_card_visa")])
        .await;
    assert_eq!(
        paid.location.as_deref(),
        Some("https://a.example/ok"),
        "{}",
        paid.html
    );
    let invoice = app
        .get(
            &format!(
                "/v1/invoices/{}",
                app.get(&format!("/v1/checkout/sessions/{}", id(&pay.body)), s)
                    .await
                    .body["invoice"]
                    .as_str()
                    .expect("invoice")
            ),
            s,
        )
        .await;
    assert_eq!(
        (
            invoice.expect(200)["status"].clone(),
            invoice.body["total"].clone()
        ),
        (json!("paid"), json!(2700))
    );

    // Setup: the card saved on an existing customer, nothing charged.
    let customer = app
        .post("/v1/customers", s, json!({"email": "c@example.com"}))
        .await;
    let customer = id(customer.expect(201));
    let setup = app
        .post(
            "/v1/checkout/sessions",
            s,
            with(json!({"mode": "setup", "customer": customer})),
        )
        .await;
    let url = setup.expect(201)["url"].as_str().expect("url").to_owned();
    browser
        .post(&format!("{url}/pay"), &[("payment_method", "pm_card_visa")])
        .await;
    let saved = app.get(&format!("/v1/customers/{customer}"), s).await;
    assert_eq!(saved.expect(200)["default_payment_method"], "pm_card_visa");

    // Expired through the API, and by time.
    let first = app
        .post(
            "/v1/checkout/sessions",
            s,
            with(json!({"mode": "subscription", "line_items": [{"price": monthly}]})),
        )
        .await;
    let (first_id, first_url) = (
        id(first.expect(201)),
        first.body["url"].as_str().expect("url").to_owned(),
    );
    let expired = app
        .post(
            &format!("/v1/checkout/sessions/{first_id}/expire"),
            s,
            json!({}),
        )
        .await;
    assert_eq!(expired.expect(200)["status"], "expired");
    assert_eq!(browser.get(&first_url).await.status, 409);
    let later = app
        .post(
            "/v1/checkout/sessions",
            s,
            with(json!({"mode": "subscription", "line_items": [{"price": monthly}]})),
        )
        .await;
    let (later_id, later_url) = (
        id(later.expect(201)),
        later.body["url"].as_str().expect("url").to_owned(),
    );
    // (Read with a key: a day ends the dashboard session.)
    let (_, key) = app.create_key(s, json!({"name": "k"}), false).await;
    app.clock()
        .advance(std::time::Duration::from_secs(24 * 3600));
    assert_eq!(browser.get(&later_url).await.status, 409);
    let shown = app
        .get(&format!("/v1/checkout/sessions/{later_id}"), &key)
        .await;
    assert_eq!(shown.expect(200)["status"], "expired");
    assert_eq!(
        browser
            .get(&format!("{}/checkout/cst_unknown", app.base))
            .await
            .status,
        404
    );
    app.stop().await;
}

async fn pricing_tables_start_checkout(b: Backend) {
    let app = spawn_app(b).await;
    let s = &app.signup("ada@example.com").await.session;
    let (product, monthly, yearly) = plans(&app, s).await;
    let table = app
        .post(
            "/v1/pricing_tables",
            s,
            json!({"name": "Plans", "plans": [{"product": product, "monthly_price": monthly, "yearly_price": yearly, "highlight": true}],
                   "trial_days": 14, "success_url": "https://a.example/ok", "cancel_url": "https://a.example/no"}),
        )
        .await;
    let table = table.expect(201).clone();
    let page_url = table["url"].as_str().expect("url").to_owned();
    assert!(
        table["embed"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("{page_url}/embed.js")))
    );
    app.post(
        "/v1/pricing_tables",
        s,
        json!({"name": "Bad", "plans": [{"product": product, "monthly_price": "price_nope"}], "success_url": "https://a.example/ok", "cancel_url": "https://a.example/no"}),
    )
    .await
    .expect_problem(400, "validation_error");

    let mut browser = Browser::new();
    let page = browser.get(&page_url).await;
    assert_eq!(page.status, 200);
    for shown in [
        "Team",
        "For teams",
        "25.00 USD",
        "250.00 USD",
        "10000 api calls",
        "sso",
        "Start 14-day trial",
        "Most popular",
    ] {
        assert!(page.html.contains(shown), "{shown} in {}", page.html);
    }
    let embed = browser.get(&format!("{page_url}/embed.js")).await;
    assert!(
        embed.html.contains("iframe") && embed.html.contains(&page_url),
        "{}",
        embed.html
    );
    let started = browser
        .post(&format!("{page_url}/checkout"), &[("price", &yearly)])
        .await;
    let checkout = started.location.expect("to checkout");
    assert!(
        checkout.starts_with(&format!("{}/checkout/", app.base)),
        "{checkout}"
    );
    let order = browser.get(&checkout).await;
    assert_eq!(order.text_of("total-today"), "0.00 USD", "a trial");
    assert_eq!(order.text_of("per-period"), "250.00 USD");
    let refused = browser
        .post(&format!("{page_url}/checkout"), &[("price", "price_other")])
        .await;
    assert_eq!(refused.status, 400);
    app.stop().await;
}

crate::on_both_backends!(
    a_checkout_sells_a_subscription_once,
    sessions_expire_and_are_checked,
    pricing_tables_start_checkout,
);

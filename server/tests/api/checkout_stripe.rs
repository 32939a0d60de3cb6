//! Hosted checkout through Stripe Checkout, against the fake Stripe: the page sends the
//! customer to a Checkout Session in subscription mode carrying NeoForge's own amounts (the
//! lines, the tax, the first invoice's discount), only the latest session can be paid, and
//! the signed `checkout.session.completed` completes the checkout once: the customer linked
//! to Stripe's with the card it saved, the subscription active, its first invoice paid by
//! what Stripe took, Stripe's own subscription ending with its first period, and the renewal
//! charged by NeoForge through Stripe. The customer portal changes cards through Stripe too.

use serde_json::{Value, json};

use crate::billing_portal::Browser;
use crate::fake_stripe;
use crate::helpers::Backend;
use crate::stripe::{WHSEC, connected};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

async fn stripe_checkout_completes_once_through_the_webhook(b: Backend) {
    let (fake, app, ada) = connected(b).await;
    let s = &ada.session;
    let product = app.post("/v1/products", s, json!({"name": "Team"})).await;
    let product = id(product.expect(201));
    let price = app
        .post(
            "/v1/prices",
            s,
            json!({"product": product, "currency": "usd", "model": "per_unit", "unit_amount": 2500, "recurring": {"interval": "month"}}),
        )
        .await;
    let price = id(price.expect(201));
    let tax = app
        .post(
            "/v1/tax_rates",
            s,
            json!({"display_name": "VAT", "percentage": "10"}),
        )
        .await;
    let tax = id(tax.expect(201));
    let coupon = app
        .post(
            "/v1/coupons",
            s,
            json!({"percent_off": "20", "duration": "once"}),
        )
        .await;
    let coupon = id(coupon.expect(201));
    app.post(
        "/v1/promotion_codes",
        s,
        json!({"coupon": coupon, "code": "FIRST20"}),
    )
    .await
    .expect(201);
    let clock = app
        .post(
            "/v1/test_clocks",
            s,
            json!({"name": "checkout", "frozen_time": "2027-03-01T00:00:00Z"}),
        )
        .await;
    let clock = id(clock.expect(201));
    let session = app
        .post(
            "/v1/checkout/sessions",
            s,
            json!({"mode": "subscription", "line_items": [{"price": price, "quantity": 2}],
                   "tax_rates": [tax], "allow_promotion_codes": true, "test_clock": clock,
                   "customer_email": "grace@example.com",
                   "success_url": "https://app.example.com/welcome?session={CHECKOUT_SESSION_ID}",
                   "cancel_url": "https://app.example.com/pricing"}),
        )
        .await;
    let session = session.expect(201).clone();
    assert_eq!(session["tax_rates"], json!([tax]));
    let sid = id(&session);
    let url = session["url"].as_str().expect("url").to_owned();

    // The page shows NeoForge's order and offers Stripe, not the sandbox's test cards.
    let mut browser = Browser::new();
    let page = browser.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert_eq!(page.text_of("per-period"), "55.00 USD", "50.00 and 10% VAT");
    assert!(
        page.html
            .contains(&format!("{}/stripe", url.trim_start_matches(&app.base)))
    );
    assert!(!page.html.contains("pm_card_visa"), "no test cards");
    let cards = browser
        .post(&format!("{url}/pay"), &[("payment_method", "pm_card_visa")])
        .await;
    assert_eq!(cards.status, 409);
    assert!(
        cards.html.contains("collects through Stripe"),
        "{}",
        cards.html
    );
    let applied = browser
        .post(&format!("{url}/promotion"), &[("code", "FIRST20")])
        .await;
    assert_eq!(applied.status, 303);
    let page = browser.get(&url).await;
    assert_eq!(
        page.text_of("total-today"),
        "44.00 USD",
        "50.00, less 20% once, plus 10% VAT"
    );

    // On to Stripe; going again expires the first session, so only the latest is payable.
    let first = browser.post(&format!("{url}/stripe"), &[]).await;
    assert_eq!(first.status, 303, "{}", first.html);
    let second = browser.post(&format!("{url}/stripe"), &[]).await;
    let location = second.location.clone().expect("to Stripe");
    let cs = location
        .strip_prefix("https://checkout.stripe.com/c/pay/")
        .expect("Stripe's page")
        .to_owned();
    let created = fake.requests_to("/v1/checkout/sessions");
    assert_eq!(created.len(), 2);
    let old = first
        .location
        .as_deref()
        .and_then(|l| l.rsplit('/').next())
        .expect("first session")
        .to_owned();
    assert_eq!(
        fake.requests_to(&format!("/v1/checkout/sessions/{old}/expire"))
            .len(),
        1
    );
    assert!(
        fake.pay_checkout(&old, "pm_card_visa", "x@example.com")
            .is_none()
    );
    let form = &created[1].form;
    let field = |k: &str| form.get(k).map(String::as_str);
    assert_eq!(field("mode"), Some("subscription"));
    assert_eq!(field("metadata[neoforge_checkout]"), Some(sid.as_str()));
    assert_eq!(
        field("subscription_data[metadata][neoforge_checkout]"),
        Some(sid.as_str())
    );
    assert_eq!(field("customer_email"), Some("grace@example.com"));
    assert_eq!(
        field("success_url"),
        Some(format!("https://app.example.com/welcome?session={sid}").as_str())
    );
    assert_eq!(
        field("line_items[0][price_data][unit_amount]"),
        Some("2500")
    );
    assert_eq!(field("line_items[0][quantity]"), Some("2"));
    assert_eq!(
        field("line_items[0][price_data][recurring][interval]"),
        Some("month")
    );
    assert_eq!(
        field("line_items[0][price_data][product_data][name]"),
        Some("Team")
    );
    assert_eq!(
        field("line_items[1][price_data][unit_amount]"),
        Some("400"),
        "the tax"
    );
    let coupons = fake.requests_to("/v1/coupons");
    assert_eq!(
        coupons.len(),
        2,
        "one per session, under one idempotency key"
    );
    assert!(coupons[0].idempotency_key.is_some());
    assert_eq!(coupons[0].idempotency_key, coupons[1].idempotency_key);
    assert_eq!(
        created[0].form.get("discounts[0][coupon]"),
        field("discounts[0][coupon]").map(str::to_owned).as_ref(),
        "so one coupon"
    );
    assert_eq!(
        coupons[0].form.get("amount_off").map(String::as_str),
        Some("1000")
    );
    assert_eq!(
        coupons[0].form.get("duration").map(String::as_str),
        Some("once")
    );

    // The customer pays on Stripe's page; Stripe reports it, signed.
    let paid = fake
        .pay_checkout(&cs, "pm_card_visa", "grace@example.com")
        .expect("open");
    assert_eq!(paid["amount_total"], 4400, "Stripe takes NeoForge's total");
    let stripe_customer = paid["customer"].as_str().map(str::to_owned);
    let event = fake_stripe::event(
        "evt_checkout_done",
        "checkout.session.completed",
        paid.clone(),
    );
    let receipt = app
        .deliver(&ada, "test", &event, WHSEC, app.now_secs())
        .await;
    assert_eq!(
        receipt.expect(200)["duplicate"],
        false,
        "{:?}",
        receipt.body
    );

    let done = app.get(&format!("/v1/checkout/sessions/{sid}"), s).await;
    let done = done.expect(200).clone();
    assert_eq!(done["status"], "complete");
    let customer = done["customer"].as_str().expect("customer").to_owned();
    let c = app.get(&format!("/v1/customers/{customer}"), s).await;
    assert_eq!(c.expect(200)["email"], "grace@example.com");
    assert_eq!(c.body["default_payment_method"], "pm_card_visa");
    let sub = done["subscription"]
        .as_str()
        .expect("subscription")
        .to_owned();
    let got = app.get(&format!("/v1/subscriptions/{sub}"), s).await;
    assert_eq!(got.expect(200)["status"], "active");
    let invoice = done["invoice"].as_str().expect("invoice").to_owned();
    let inv = app.get(&format!("/v1/invoices/{invoice}"), s).await;
    let inv = inv.expect(200).clone();
    assert_eq!(
        (&inv["status"], &inv["amount_due"], &inv["tax_amount"]),
        (&json!("paid"), &json!(4400), &json!(400))
    );
    assert_eq!(inv["payment_reference"], paid["invoice"]);
    let stripe_sub = paid["subscription"].as_str().expect("Stripe subscription");
    assert_eq!(
        fake.subscription(stripe_sub).expect("made")["cancel_at_period_end"],
        true,
        "NeoForge renews: Stripe's subscription ends with its first period"
    );
    let events = app
        .get("/v1/webhook_events?type=checkout.session.completed", s)
        .await;
    assert_eq!(events.expect(200)["data"][0]["data"]["id"], sid.as_str());

    // Once: a redelivery, and the same completion under another event id, change nothing.
    let again = app
        .deliver(&ada, "test", &event, WHSEC, app.now_secs())
        .await;
    assert_eq!(again.expect(200)["duplicate"], true);
    let other = fake_stripe::event("evt_checkout_again", "checkout.session.completed", paid);
    app.deliver(&ada, "test", &other, WHSEC, app.now_secs())
        .await
        .expect(200);
    let subs = app.get("/v1/subscriptions", s).await;
    assert_eq!(subs.expect(200)["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(browser.get(&url).await.status, 409, "the page is closed");

    // The renewal is NeoForge's: charged off-session to Stripe's customer and card, without
    // the once-only discount.
    app.post(
        &format!("/v1/test_clocks/{clock}/advance"),
        s,
        json!({"frozen_time": "2027-04-02T00:00:00Z"}),
    )
    .await
    .expect(200);
    let charges = fake.requests_to("/v1/payment_intents");
    assert_eq!(charges.len(), 1, "one renewal");
    let charge = |k: &str| charges[0].form.get(k).cloned();
    assert_eq!(charge("amount").as_deref(), Some("5500"));
    assert_eq!(charge("payment_method").as_deref(), Some("pm_card_visa"));
    assert_eq!(charge("customer"), stripe_customer);
    app.stop().await;
}

/// With Stripe connected, the customer portal changes the card through a Stripe Checkout
/// Session in setup mode, and Stripe's webhook makes the saved card the default.
async fn the_portal_changes_cards_through_stripe(b: Backend) {
    let (fake, app, ada) = connected(b).await;
    let s = &ada.session;
    let customer = app
        .post(
            "/v1/customers",
            s,
            json!({"email": "grace@example.com", "currency": "usd", "default_payment_method": "pm_card_visa"}),
        )
        .await;
    let customer = id(customer.expect(201));
    let link = app
        .post(
            "/v1/billing_portal/sessions",
            s,
            json!({"customer": customer, "return_url": "https://app.example.com/account"}),
        )
        .await;
    let link = link.expect(201)["url"].as_str().expect("url").to_owned();
    let mut browser = Browser::new();
    assert_eq!(
        browser.get(&link).await.status,
        303,
        "into the portal's session"
    );
    let home = browser.get(&app.url("/billing/")).await;
    assert_eq!(home.status, 200, "{}", home.html);
    assert!(home.html.contains("/billing/payment_method/stripe"));
    assert!(
        !home.html.contains("Test card"),
        "no test cards with Stripe"
    );
    let csrf = home.csrf();
    let portal = format!("{}/billing/payment_method/stripe", app.base);
    let forged = browser.post(&portal, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);
    let to_stripe = browser.post(&portal, &[("csrf", &csrf)]).await;
    let location = to_stripe.location.clone().expect("to Stripe");
    let cs = location
        .strip_prefix("https://checkout.stripe.com/c/pay/")
        .expect("Stripe's page")
        .to_owned();
    let made = fake.requests_to("/v1/checkout/sessions");
    let form = &made.last().expect("a session").form;
    assert_eq!(form.get("mode").map(String::as_str), Some("setup"));
    assert_eq!(
        form.get("success_url").cloned(),
        Some(format!("{}/billing/?done=payment_method", app.base))
    );
    assert_eq!(
        form.get("metadata[neoforge_customer]").map(String::as_str),
        Some(customer.as_str())
    );
    let saved = fake
        .pay_checkout(&cs, "pm_card_mastercard", "grace@example.com")
        .expect("open");
    let event = fake_stripe::event("evt_card_saved", "checkout.session.completed", saved);
    app.deliver(&ada, "test", &event, WHSEC, app.now_secs())
        .await
        .expect(200);
    let got = app.get(&format!("/v1/customers/{customer}"), s).await;
    assert_eq!(
        got.expect(200)["default_payment_method"],
        "pm_card_mastercard"
    );
    app.stop().await;
}

crate::on_both_backends!(
    stripe_checkout_completes_once_through_the_webhook,
    the_portal_changes_cards_through_stripe,
);

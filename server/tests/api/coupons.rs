//! Coupons, promotion codes and tax rates on subscriptions' invoices, to the cent, through
//! sandbox test clocks; their limits, validation and isolation.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};

struct Sandbox<'a> {
    app: &'a TestApp,
    s: String,
    clock: String,
    product: String,
}

impl<'a> Sandbox<'a> {
    async fn new(app: &'a TestApp, email: &str) -> Sandbox<'a> {
        let s = app.signup(email).await.session;
        let body = json!({"name": "c", "frozen_time": "2027-01-01T00:00:00Z"});
        let clock = app.post("/v1/test_clocks", &s, body).await;
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

    async fn price(&self, currency: &str, unit_amount: i64) -> String {
        let body = json!({"product": self.product, "currency": currency, "model": "flat",
            "unit_amount": unit_amount, "recurring": {"interval": "month"}});
        self.create("/v1/prices", body).await
    }

    /// Creates and returns the id.
    async fn create(&self, path: &str, body: Value) -> String {
        let r = self.app.post(path, &self.s, body).await;
        r.expect(201)["id"].as_str().expect("id").to_owned()
    }

    async fn customer(&self) -> String {
        let body = json!({"test_clock": self.clock, "default_payment_method": "pm_card_visa"});
        self.create("/v1/customers", body).await
    }

    /// Subscribes a new customer to `price` with `extra` request fields.
    async fn subscribe(&self, price: &str, extra: Value) -> crate::helpers::Reply {
        let mut body = json!({"customer": self.customer().await, "items": [{"price": price}]});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.app.post("/v1/subscriptions", &self.s, body).await
    }

    async fn advance(&self, to: &str) {
        let path = format!("/v1/test_clocks/{}/advance", self.clock);
        let r = self
            .app
            .post(&path, &self.s, json!({"frozen_time": to}))
            .await;
        r.expect(200);
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

    /// (subtotal, discount_amount, tax_amount, total) of each invoice, oldest first.
    async fn amounts(&self, sub: &str) -> Vec<(i64, i64, i64, i64)> {
        let n = |v: &Value| v.as_i64().expect("number");
        self.invoices(sub)
            .await
            .iter()
            .map(|i| {
                (
                    n(&i["subtotal"]),
                    n(&i["discount_amount"]),
                    n(&i["tax_amount"]),
                    n(&i["total"]),
                )
            })
            .collect()
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// 20.00 a month with 25% off once, 5.00 off for 2 months, 12.5% off forever, over the
/// first invoice and 4 renewals.
async fn durations_across_renewals(b: Backend) {
    let app = spawn_app(b).await;
    let sb = Sandbox::new(&app, "ada@example.com").await;
    let price = sb.price("usd", 2000).await;
    let once = sb
        .create(
            "/v1/coupons",
            json!({"name": "Welcome", "percent_off": "25", "duration": "once"}),
        )
        .await;
    let repeating = sb
        .create(
            "/v1/coupons",
            json!({"amount_off": 500, "currency": "usd", "duration": "repeating", "duration_in_months": 2}),
        )
        .await;
    let forever = sb
        .create(
            "/v1/coupons",
            json!({"percent_off": "12.50", "duration": "forever"}),
        )
        .await;
    let coupon = sb.get(&format!("/v1/coupons/{forever}")).await;
    assert_eq!(
        (
            &coupon["percent_off"],
            &coupon["amount_off"],
            &coupon["active"]
        ),
        (&json!("12.5"), &json!(null), &json!(true))
    );

    let s_once = sb.subscribe(&price, json!({"coupon": once})).await;
    let s_once = s_once.expect(201).clone();
    assert_eq!(s_once["status"], "active");
    assert_eq!(
        s_once["discount"],
        json!(null),
        "used up by the first invoice"
    );
    let s_rep = sb.subscribe(&price, json!({"coupon": repeating})).await;
    let s_rep = s_rep.expect(201).clone();
    assert_eq!(s_rep["discount"]["coupon"], json!(repeating));
    assert_eq!(s_rep["discount"]["start"], "2027-01-01T00:00:00Z");
    assert_eq!(s_rep["discount"]["end"], "2027-03-01T00:00:00Z");
    let s_for = sb.subscribe(&price, json!({"coupon": forever})).await;
    let s_for = s_for.expect(201).clone();
    assert_eq!(s_for["discount"]["end"], json!(null));

    for month in ["02", "03", "04", "05"] {
        sb.advance(&format!("2027-{month}-01T01:00:00Z")).await;
    }
    let full = (2000, 0, 0, 2000);
    // 25% of 20.00 = 5.00 off the first invoice only.
    assert_eq!(
        sb.amounts(&id(&s_once)).await,
        [(2000, 500, 0, 1500), full, full, full, full]
    );
    // Periods starting Jan 1 and Feb 1 are before Mar 1; Mar 1 is not.
    assert_eq!(
        sb.amounts(&id(&s_rep)).await,
        [(2000, 500, 0, 1500), (2000, 500, 0, 1500), full, full, full]
    );
    // 12.5% of 20.00 = 2.50 off every invoice.
    assert_eq!(sb.amounts(&id(&s_for)).await, [(2000, 250, 0, 1750); 5]);
    let invoices = sb.invoices(&id(&s_for)).await;
    let last = invoices.last().expect("invoice");
    assert_eq!(
        (&last["status"], &last["amount_due"]),
        (&json!("paid"), &json!(1750))
    );
    assert_eq!(
        last["discounts"],
        json!([{"coupon": forever, "promotion_code": null, "amount": 250}])
    );
    let sub = sb.get(&format!("/v1/subscriptions/{}", id(&s_rep))).await;
    assert_eq!(sub["discount"], json!(null), "expired and removed");
    let coupon = sb.get(&format!("/v1/coupons/{once}")).await;
    assert_eq!(coupon["times_redeemed"], 1);
    app.stop().await;
}

/// Sales tax 8.25% on 49.99 with 25% off: 12.4975 → 12.50 off; 37.49 × 8.25% = 3.0929… →
/// 3.09 of tax; 40.58 due.
async fn tax_on_a_discounted_subtotal(b: Backend) {
    let app = spawn_app(b).await;
    let sb = Sandbox::new(&app, "ada@example.com").await;
    let price = sb.price("usd", 4999).await;
    let coupon = sb
        .create(
            "/v1/coupons",
            json!({"percent_off": "25", "duration": "forever"}),
        )
        .await;
    let tax = sb
        .create(
            "/v1/tax_rates",
            json!({"display_name": "Sales tax", "percentage": "8.25", "jurisdiction": "US-TX"}),
        )
        .await;
    let sub = sb
        .subscribe(
            &price,
            json!({"coupon": coupon, "default_tax_rates": [tax]}),
        )
        .await;
    let sub = sub.expect(201).clone();
    assert_eq!(sub["default_tax_rates"], json!([tax]));
    assert_eq!(sb.amounts(&id(&sub)).await, [(4999, 1250, 309, 4058)]);
    let invoice = sb.invoices(&id(&sub)).await[0].clone();
    assert_eq!(
        invoice["taxes"],
        json!([{"tax_rate": tax, "display_name": "Sales tax", "percentage": "8.25",
            "taxable_amount": 3749, "amount": 309}])
    );
    assert_eq!(
        (&invoice["amount_due"], &invoice["status"]),
        (&json!(4058), &json!("paid"))
    );

    // Removing the coupon's effect is not possible, but the taxes can go: the next
    // renewal is 49.99 − 12.50 = 37.49 with no tax.
    let path = format!("/v1/subscriptions/{}", id(&sub));
    let updated = app
        .post(&path, &sb.s, json!({"default_tax_rates": []}))
        .await;
    assert_eq!(updated.expect(200)["default_tax_rates"], json!([]));
    sb.advance("2027-02-01T01:00:00Z").await;
    assert_eq!(
        sb.amounts(&id(&sub)).await,
        [(4999, 1250, 309, 4058), (4999, 1250, 0, 3749)]
    );

    // An inactive rate is added to no new subscription; inclusive rates are refused.
    let r = app
        .post(
            &format!("/v1/tax_rates/{tax}"),
            &sb.s,
            json!({"active": false, "display_name": "TX sales tax"}),
        )
        .await;
    assert_eq!(
        (&r.expect(200)["active"], &r.body["display_name"]),
        (&json!(false), &json!("TX sales tax"))
    );
    sb.subscribe(&price, json!({"default_tax_rates": [tax]}))
        .await
        .expect_problem(409, "tax_rate_inactive");
    let inactive = sb.get("/v1/tax_rates?active=false").await;
    assert_eq!(inactive["data"].as_array().map(Vec::len), Some(1));
    for bad in [
        json!({"display_name": "VAT", "percentage": "20", "inclusive": true}),
        json!({"display_name": "VAT", "percentage": "100.5"}),
        json!({"display_name": "VAT", "percentage": "-1"}),
    ] {
        app.post("/v1/tax_rates", &sb.s, bad)
            .await
            .expect_problem(400, "validation_error");
    }
    app.post(
        "/v1/tax_rates",
        &sb.s,
        json!({"display_name": "VAT", "percentage": "20", "rate": 3}),
    )
    .await
    .expect_problem(400, "unknown_parameter");
    app.stop().await;
}

/// Promotion codes are found by code in any case and respect their limits and their
/// coupon's; a failed redemption counts nothing.
async fn promotion_codes_and_limits(b: Backend) {
    let app = spawn_app(b).await;
    let sb = Sandbox::new(&app, "ada@example.com").await;
    let price = sb.price("usd", 1000).await;
    let coupon = sb
        .create(
            "/v1/coupons",
            json!({"percent_off": "10", "duration": "forever", "max_redemptions": 3}),
        )
        .await;
    let promo = sb
        .create(
            "/v1/promotion_codes",
            json!({"coupon": coupon, "code": "launch25", "max_redemptions": 1}),
        )
        .await;
    let shown = sb.get(&format!("/v1/promotion_codes/{promo}")).await;
    assert_eq!(
        (&shown["code"], &shown["active"]),
        (&json!("LAUNCH25"), &json!(true))
    );
    app.post(
        "/v1/promotion_codes",
        &sb.s,
        json!({"coupon": coupon, "code": "Launch25"}),
    )
    .await
    .expect_problem(409, "promotion_code_exists");
    let found = sb.get("/v1/promotion_codes?code=lAuNcH25").await;
    assert_eq!(found["data"][0]["id"], json!(promo));

    let sub = sb
        .subscribe(&price, json!({"promotion_code": "Launch25"}))
        .await;
    let sub = sub.expect(201).clone();
    assert_eq!(sub["discount"]["promotion_code"], json!(promo));
    assert_eq!(sb.amounts(&id(&sub)).await, [(1000, 100, 0, 900)]);
    sb.subscribe(&price, json!({"promotion_code": "LAUNCH25"}))
        .await
        .expect_problem(409, "promotion_code_max_redemptions");
    sb.subscribe(&price, json!({"promotion_code": "NOPE"}))
        .await
        .expect_problem(404, "resource_not_found");
    sb.subscribe(
        &price,
        json!({"promotion_code": "LAUNCH25", "coupon": coupon}),
    )
    .await
    .expect_problem(400, "validation_error");

    // Expired (on the customer's clock) and inactive codes.
    let expiring = sb
        .create(
            "/v1/promotion_codes",
            json!({"coupon": coupon, "code": "JANUARY", "expires_at": "2027-01-15T00:00:00Z"}),
        )
        .await;
    let paused = sb
        .create(
            "/v1/promotion_codes",
            json!({"coupon": coupon, "code": "PAUSED"}),
        )
        .await;
    let r = app
        .post(
            &format!("/v1/promotion_codes/{paused}"),
            &sb.s,
            json!({"active": false}),
        )
        .await;
    assert_eq!(r.expect(200)["active"], false);
    let inactive = sb.get("/v1/promotion_codes?active=false").await;
    assert_eq!(inactive["data"][0]["id"], json!(paused));
    sb.subscribe(&price, json!({"promotion_code": "paused"}))
        .await
        .expect_problem(409, "promotion_code_inactive");
    sb.advance("2027-01-20T00:00:00Z").await;
    sb.subscribe(&price, json!({"promotion_code": "january"}))
        .await
        .expect_problem(409, "promotion_code_expired");
    let shown = sb.get(&format!("/v1/promotion_codes/{expiring}")).await;
    assert_eq!(shown["times_redeemed"], 0);

    // The coupon's own limit: 1 redeemed so far, 2 more, then no more.
    for _ in 0..2 {
        sb.subscribe(&price, json!({"coupon": coupon}))
            .await
            .expect(201);
    }
    sb.subscribe(&price, json!({"coupon": coupon}))
        .await
        .expect_problem(409, "coupon_max_redemptions");
    assert_eq!(
        sb.get(&format!("/v1/coupons/{coupon}")).await["times_redeemed"],
        3
    );

    // An archived coupon redeems no more, directly or by code, and takes no new codes; it
    // can be renamed.
    let other = sb
        .create(
            "/v1/coupons",
            json!({"amount_off": 300, "currency": "usd", "duration": "once"}),
        )
        .await;
    sb.create(
        "/v1/promotion_codes",
        json!({"coupon": other, "code": "OTHER"}),
    )
    .await;
    let archived = app
        .post(&format!("/v1/coupons/{other}/archive"), &sb.s, json!({}))
        .await;
    assert_eq!(archived.expect(200)["active"], false);
    sb.subscribe(&price, json!({"coupon": other}))
        .await
        .expect_problem(409, "coupon_archived");
    sb.subscribe(&price, json!({"promotion_code": "other"}))
        .await
        .expect_problem(409, "coupon_archived");
    app.post(
        "/v1/promotion_codes",
        &sb.s,
        json!({"coupon": other, "code": "LATE"}),
    )
    .await
    .expect_problem(409, "coupon_archived");
    let renamed = app
        .post(
            &format!("/v1/coupons/{other}"),
            &sb.s,
            json!({"name": "Old deal"}),
        )
        .await;
    assert_eq!(renamed.expect(200)["name"], "Old deal");
    app.post(
        &format!("/v1/coupons/{other}"),
        &sb.s,
        json!({"percent_off": "50"}),
    )
    .await
    .expect_problem(400, "unknown_parameter");

    // A coupon added by an update applies from the next invoice.
    let plain = sb.subscribe(&price, json!({})).await.expect(201).clone();
    let fresh = sb
        .create(
            "/v1/coupons",
            json!({"percent_off": "50", "duration": "once"}),
        )
        .await;
    let path = format!("/v1/subscriptions/{}", id(&plain));
    let r = app.post(&path, &sb.s, json!({"coupon": fresh})).await;
    assert_eq!(r.expect(200)["discount"]["coupon"], json!(fresh));
    sb.advance("2027-02-20T01:00:00Z").await;
    assert_eq!(
        sb.amounts(&id(&plain)).await,
        [(1000, 0, 0, 1000), (1000, 500, 0, 500)]
    );
    app.stop().await;
}

async fn coupons_are_validated(b: Backend) {
    let app = spawn_app(b).await;
    let sb = Sandbox::new(&app, "ada@example.com").await;
    for bad in [
        json!({"percent_off": "0", "duration": "once"}),
        json!({"percent_off": "100.01", "duration": "once"}),
        json!({"percent_off": "ten", "duration": "once"}),
        json!({"percent_off": "10", "amount_off": 100, "currency": "usd", "duration": "once"}),
        json!({"duration": "once"}),
        json!({"amount_off": 100, "duration": "once"}),
        json!({"amount_off": 0, "currency": "usd", "duration": "once"}),
        json!({"percent_off": "10", "duration": "repeating"}),
        json!({"percent_off": "10", "duration": "repeating", "duration_in_months": 121}),
        json!({"percent_off": "10", "duration": "forever", "duration_in_months": 3}),
        json!({"percent_off": "10", "duration": "once", "redeem_by": "2001-01-01T00:00:00Z"}),
        json!({"percent_off": "10", "duration": "once", "max_redemptions": 0}),
        json!({"percent_off": "10", "duration": "sometimes"}),
    ] {
        app.post("/v1/coupons", &sb.s, bad.clone())
            .await
            .expect_problem(400, "validation_error");
    }
    app.post(
        "/v1/coupons",
        &sb.s,
        json!({"percent_off": "10", "duration": "once", "applies_to": []}),
    )
    .await
    .expect_problem(400, "unknown_parameter");
    let full = sb
        .create(
            "/v1/coupons",
            json!({"percent_off": "100", "duration": "once", "redeem_by": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        sb.get(&format!("/v1/coupons/{full}")).await["redeem_by"],
        "2099-01-01T00:00:00Z"
    );
    // An amount coupon in euros does not apply to a subscription in dollars.
    let eur = sb
        .create(
            "/v1/coupons",
            json!({"amount_off": 500, "currency": "EUR", "duration": "forever"}),
        )
        .await;
    let price = sb.price("usd", 1000).await;
    sb.subscribe(&price, json!({"coupon": eur}))
        .await
        .expect_problem(409, "coupon_currency_mismatch");
    let coupons = sb.get("/v1/coupons").await;
    assert_eq!(coupons["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(coupons["data"][0]["currency"], "eur");
    app.stop().await;
}

/// Another organization, and the live environment, see none of these resources and
/// cannot apply them.
async fn isolation(b: Backend) {
    let app = spawn_app(b).await;
    let sb = Sandbox::new(&app, "ada@example.com").await;
    let coupon = sb
        .create(
            "/v1/coupons",
            json!({"percent_off": "10", "duration": "forever"}),
        )
        .await;
    let promo = sb
        .create(
            "/v1/promotion_codes",
            json!({"coupon": coupon, "code": "SECRET"}),
        )
        .await;
    let tax = sb
        .create(
            "/v1/tax_rates",
            json!({"display_name": "VAT", "percentage": "20"}),
        )
        .await;

    let eve = Sandbox::new(&app, "eve@example.com").await;
    let (_, live) = app
        .create_key(&sb.s, json!({"name": "production"}), true)
        .await;
    for token in [eve.s.as_str(), live.as_str()] {
        for path in [
            format!("/v1/coupons/{coupon}"),
            format!("/v1/promotion_codes/{promo}"),
            format!("/v1/tax_rates/{tax}"),
        ] {
            app.get(&path, token)
                .await
                .expect_problem(404, "resource_not_found");
        }
        for (path, body) in [
            (format!("/v1/coupons/{coupon}"), json!({"name": "x"})),
            (format!("/v1/coupons/{coupon}/archive"), json!({})),
            (
                format!("/v1/promotion_codes/{promo}"),
                json!({"active": false}),
            ),
            (format!("/v1/tax_rates/{tax}"), json!({"active": false})),
            (
                "/v1/promotion_codes".to_owned(),
                json!({"coupon": coupon, "code": "MINE"}),
            ),
        ] {
            app.post(&path, token, body)
                .await
                .expect_problem(404, "resource_not_found");
        }
        for list in ["/v1/coupons", "/v1/promotion_codes", "/v1/tax_rates"] {
            let page = app.get(list, token).await;
            assert_eq!(page.expect(200)["data"], json!([]), "{list}");
        }
    }
    let price = eve.price("usd", 1000).await;
    for extra in [
        json!({"coupon": coupon}),
        json!({"promotion_code": "SECRET"}),
        json!({"default_tax_rates": [tax]}),
    ] {
        eve.subscribe(&price, extra)
            .await
            .expect_problem(404, "resource_not_found");
    }
    let mine = sb.get(&format!("/v1/coupons/{coupon}")).await;
    assert_eq!(mine["times_redeemed"], 0);
    app.stop().await;
}

crate::on_both_backends!(
    durations_across_renewals,
    tax_on_a_discounted_subtotal,
    promotion_codes_and_limits,
    coupons_are_validated,
    isolation,
);

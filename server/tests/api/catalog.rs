//! The catalog: products and prices round trip, bad prices refused naming the field,
//! tenants isolated and roles enforced.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, spawn_app};

async fn products_and_prices_round_trip(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let product = app
        .post("/v1/products", s, json!({"name": "Pro", "description": "For teams",
            "features": [{"key": "api_calls", "limit": 10000}, {"key": "sso"}], "metadata": {"tier": "2"}}))
        .await;
    let product = product.expect(201).clone();
    let pid = product["id"].as_str().expect("id").to_owned();
    assert!(pid.starts_with("prod_"));
    assert_eq!(
        product["features"][0],
        json!({"key": "api_calls", "limit": 10000})
    );
    assert_eq!(product["features"][1]["limit"], json!(null));
    assert_eq!(product["active"], true);

    let cases = [
        json!({"model": "flat", "unit_amount": 4900, "recurring": {"interval": "month"}, "trial_days": 14}),
        json!({"model": "per_unit", "unit_amount_decimal": "12.50", "recurring": {"interval": "year"}}),
        json!({"model": "graduated", "recurring": {"interval": "month"},
            "tiers": [{"up_to": 1000, "unit_amount_decimal": "0"}, {"up_to": 10000, "unit_amount_decimal": "0.5"}, {"unit_amount_decimal": "0.25", "flat_amount": 100}]}),
        json!({"model": "volume", "recurring": {"interval": "week", "interval_count": 2},
            "tiers": [{"up_to": 10, "unit_amount_decimal": "100"}, {"unit_amount_decimal": "80"}]}),
        json!({"model": "package", "package": {"size": 1000, "amount": 500}, "recurring": {"interval": "month"}}),
        json!({"model": "flat", "unit_amount": 19900}),
    ];
    let mut ids = Vec::new();
    for mut case in cases {
        case["product"] = json!(pid);
        case["currency"] = json!("USD");
        let r = app.post("/v1/prices", s, case.clone()).await;
        let price = r.expect(201);
        assert_eq!(price["currency"], "usd");
        assert_eq!(price["model"], case["model"]);
        ids.push(price["id"].as_str().expect("id").to_owned());
    }
    let per_unit = app.get(&format!("/v1/prices/{}", ids[1]), s).await;
    assert_eq!(
        per_unit.expect(200)["unit_amount_decimal"],
        "12.5",
        "decimals are normalised, exactly"
    );
    assert_eq!(
        per_unit.body["recurring"],
        json!({"interval": "year", "interval_count": 1})
    );
    let one_off = app.get(&format!("/v1/prices/{}", ids[5]), s).await;
    assert_eq!(one_off.expect(200)["recurring"], json!(null));

    // Quotes price a quantity with the price's model, exactly.
    for (i, quantity, amount) in [
        (0, 3, 4900),
        (1, 3, 38),
        (2, 12_000, 5100),
        (3, 11, 880),
        (4, 1001, 1000),
    ] {
        let q = app
            .get(
                &format!("/v1/prices/{}/quote?quantity={quantity}", ids[i]),
                s,
            )
            .await;
        assert_eq!(
            q.expect(200)["amount"],
            amount,
            "price {i}, quantity {quantity}"
        );
        assert_eq!(q.body["currency"], "usd");
    }
    app.get(&format!("/v1/prices/{}/quote?quantity=-1", ids[1]), s)
        .await
        .expect_problem(400, "validation_error");

    // Prices list by product, newest first; archived ones filter out.
    app.post(&format!("/v1/prices/{}/archive", ids[0]), s, json!({}))
        .await
        .expect(200);
    let active = app
        .get(
            &format!("/v1/prices?product={pid}&active=true&limit=100"),
            s,
        )
        .await;
    let listed: Vec<_> = active.expect(200)["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|p| p["id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(listed.len(), 5);
    assert!(!listed.contains(&ids[0]));
    assert_eq!(listed[0], ids[5]);

    // Only the nickname of a price changes; a product's fields all do.
    let renamed = app
        .post(
            &format!("/v1/prices/{}", ids[1]),
            s,
            json!({"nickname": "Seats (annual)"}),
        )
        .await;
    assert_eq!(renamed.expect(200)["nickname"], "Seats (annual)");
    app.post(
        &format!("/v1/prices/{}", ids[1]),
        s,
        json!({"unit_amount": 1}),
    )
    .await
    .expect_problem(400, "unknown_parameter");
    let updated = app
        .post(
            &format!("/v1/products/{pid}"),
            s,
            json!({"name": "Pro 2", "features": []}),
        )
        .await;
    assert_eq!(updated.expect(200)["name"], "Pro 2");
    assert_eq!(updated.body["features"], json!([]));
    assert_eq!(updated.body["metadata"], json!({"tier": "2"}));

    // An archived product takes no new prices; its existing prices stay.
    app.post(&format!("/v1/products/{pid}/archive"), s, json!({}))
        .await
        .expect(200);
    app.post(
        "/v1/prices",
        s,
        json!({"product": pid, "currency": "usd", "model": "flat", "unit_amount": 1}),
    )
    .await
    .expect_problem(409, "product_archived");
    app.get(&format!("/v1/prices/{}", ids[2]), s)
        .await
        .expect(200);
    let archived = app.get("/v1/products?active=false", s).await;
    assert_eq!(
        archived.expect(200)["data"].as_array().map(Vec::len),
        Some(1)
    );
    let audit = app
        .get("/v1/audit_events?action=price.created&limit=100", s)
        .await;
    assert_eq!(audit.expect(200)["data"].as_array().map(Vec::len), Some(6));
    app.stop().await;
}

async fn bad_prices_are_refused_with_the_field(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let product = app.post("/v1/products", s, json!({"name": "Basic"})).await;
    let pid = product.expect(201)["id"].as_str().expect("id").to_owned();
    // ISO 4217 codes with minor units only: not a word, an unassigned code, gold.
    for currency in ["dollars", "xyz", "xau"] {
        let body = json!({"product": pid, "currency": currency, "model": "flat", "unit_amount": 1});
        let r = app.post("/v1/prices", s, body).await;
        r.expect_problem(400, "invalid_currency");
        assert_eq!(r.body["errors"][0]["field"], "currency", "{currency}");
    }
    let cases = [
        (json!({"currency": "usd", "model": "flat"}), "unit_amount"),
        (
            json!({"currency": "usd", "model": "flat", "unit_amount": -5}),
            "unit_amount",
        ),
        (
            json!({"currency": "usd", "model": "per_unit", "unit_amount_decimal": "0.0000000000001"}),
            "unit_amount_decimal",
        ),
        (
            json!({"currency": "usd", "model": "per_unit", "unit_amount_decimal": "1e3"}),
            "unit_amount_decimal",
        ),
        (
            json!({"currency": "usd", "model": "flat", "unit_amount": 1, "tiers": [{"unit_amount_decimal": "1"}]}),
            "tiers",
        ),
        (
            json!({"currency": "usd", "model": "graduated", "tiers": [{"up_to": 10, "unit_amount_decimal": "1"}]}),
            "tiers[0].up_to",
        ),
        (
            json!({"currency": "usd", "model": "volume", "tiers": [{"up_to": 10, "flat_amount": 1}, {"up_to": 5, "flat_amount": 1}, {"flat_amount": 1}]}),
            "tiers[1].up_to",
        ),
        (
            json!({"currency": "usd", "model": "package", "package": {"size": 0, "amount": 1}}),
            "package.size",
        ),
        (
            json!({"currency": "usd", "model": "flat", "unit_amount": 1, "trial_days": 7}),
            "trial_days",
        ),
        (
            json!({"currency": "usd", "model": "flat", "unit_amount": 1, "recurring": {"interval": "month", "interval_count": 13}}),
            "recurring.interval_count",
        ),
    ];
    for (mut body, field) in cases {
        body["product"] = json!(pid);
        let r = app.post("/v1/prices", s, body.clone()).await;
        r.expect_problem(400, "validation_error");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}");
    }
    app.post(
        "/v1/prices",
        s,
        json!({"product": pid, "currency": "usd", "model": "hourly", "unit_amount": 1}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.post(
        "/v1/products",
        s,
        json!({"name": "X", "features": [{"key": "Bad Key"}]}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.post(
        "/v1/products",
        s,
        json!({"name": "X", "features": [{"key": "a"}, {"key": "a"}]}),
    )
    .await
    .expect_problem(400, "validation_error");
    app.stop().await;
}

/// Amounts show with their currency's ISO 4217 decimals: three for the dinars, none for
/// the yen.
async fn invoices_show_each_currencys_decimals(b: Backend) {
    let app = spawn_app(b).await;
    let s = &app.signup("ada@example.com").await.session;
    let product = app.post("/v1/products", s, json!({"name": "Basic"})).await;
    let pid = product.expect(201)["id"].as_str().expect("id").to_owned();
    for (currency, amount, shown) in [
        ("kwd", 5124, "5.124 KWD"),
        ("bhd", 1005, "1.005 BHD"),
        ("jpy", 500, "500 JPY"),
        ("eur", 1999, "19.99 EUR"),
    ] {
        let price = app
            .post(
                "/v1/prices",
                s,
                json!({"product": pid, "currency": currency, "model": "flat", "unit_amount": amount, "recurring": {"interval": "month"}}),
            )
            .await;
        let price = price.expect(201)["id"].as_str().expect("id").to_owned();
        let customer = app
            .post(
                "/v1/customers",
                s,
                json!({"name": currency, "default_payment_method": "pm_card_visa"}),
            )
            .await;
        let customer = customer.expect(201)["id"].as_str().expect("id").to_owned();
        let sub = app
            .post(
                "/v1/subscriptions",
                s,
                json!({"customer": customer, "items": [{"price": price}]}),
            )
            .await;
        let sub = sub.expect(201)["id"].as_str().expect("id").to_owned();
        let invoices = app
            .get(&format!("/v1/invoices?subscription={sub}"), s)
            .await;
        let invoice = invoices.expect(200)["data"][0]["id"]
            .as_str()
            .expect("invoice")
            .to_owned();
        let page = app
            .client
            .get(app.url(&format!("/v1/invoices/{invoice}/html")))
            .bearer_auth(s)
            .send()
            .await
            .expect("html")
            .text()
            .await
            .expect("text");
        assert!(page.contains(shown), "{currency}: {shown} in {page}");
    }
    app.stop().await;
}

/// The catalog is per tenant and per environment, and needs billing permissions.
async fn catalog_is_isolated_and_permissioned(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.signup("a@example.com").await;
    let other = app.signup("b@example.com").await;
    let (_, a_test) = app
        .create_key(&a.session, json!({"name": "t"}), false)
        .await;
    let (_, a_live) = app.create_key(&a.session, json!({"name": "l"}), true).await;
    let (_, b_key) = app
        .create_key(&other.session, json!({"name": "b"}), false)
        .await;
    let product = app
        .post("/v1/products", &a_test, json!({"name": "Sandbox plan"}))
        .await;
    let pid = product.expect(201)["id"].as_str().expect("id").to_owned();
    let price = app
        .post(
            "/v1/prices",
            &a_test,
            json!({"product": pid, "currency": "usd", "model": "flat", "unit_amount": 100}),
        )
        .await;
    let price_id = price.expect(201)["id"].as_str().expect("id").to_owned();
    for key in [&a_live, &b_key] {
        app.get(&format!("/v1/products/{pid}"), key)
            .await
            .expect_problem(404, "resource_not_found");
        app.get(&format!("/v1/prices/{price_id}"), key)
            .await
            .expect_problem(404, "resource_not_found");
        app.post(&format!("/v1/products/{pid}/archive"), key, json!({}))
            .await
            .expect_problem(404, "resource_not_found");
        // A price cannot be hung on someone else's product.
        app.post(
            "/v1/prices",
            key,
            json!({"product": pid, "currency": "usd", "model": "flat", "unit_amount": 1}),
        )
        .await
        .expect_problem(404, "resource_not_found");
        let list = app.get("/v1/products", key).await;
        assert_eq!(list.expect(200)["data"].as_array().map(Vec::len), Some(0));
    }
    let (_, reader) = app
        .create_key(
            &a.session,
            json!({"name": "r", "scopes": ["billing:read"]}),
            false,
        )
        .await;
    app.get(&format!("/v1/products/{pid}"), &reader)
        .await
        .expect(200);
    app.post("/v1/products", &reader, json!({"name": "nope"}))
        .await
        .expect_problem(403, "forbidden");
    app.call(Method::GET, "/v1/prices", None, None)
        .await
        .expect_problem(401, "authentication_required");
    app.stop().await;
}

crate::on_both_backends!(
    products_and_prices_round_trip,
    bad_prices_are_refused_with_the_field,
    invoices_show_each_currencys_decimals,
    catalog_is_isolated_and_permissioned
);

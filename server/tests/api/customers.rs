//! Customers round trip: normalised emails and addresses, updates, listing.

use serde_json::json;

use crate::helpers::{Backend, spawn_app};

async fn customers_round_trip(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let created = app
        .post("/v1/customers", s, json!({
            "name": "Globex GmbH", "email": " Billing@Globex.Example ",
            "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "de"},
            "tax_ids": [{"type": "eu_vat", "value": "DE123456789"}],
            "metadata": {"crm_id": "42"}, "currency": "EUR", "balance": -500,
            "default_payment_method": "pm_card_visa"
        }))
        .await;
    let c = created.expect(201).clone();
    let id = c["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("cus_"));
    assert_eq!(c["email"], "billing@globex.example");
    assert_eq!(c["address"]["country"], "DE");
    assert_eq!(c["tax_ids"][0]["type"], "eu_vat");
    assert_eq!(
        (c["currency"].as_str(), c["balance"].as_i64()),
        (Some("eur"), Some(-500))
    );

    let updated = app
        .post(
            &format!("/v1/customers/{id}"),
            s,
            json!({"name": "Globex AG", "balance": 1200}),
        )
        .await;
    assert_eq!(updated.expect(200)["name"], "Globex AG");
    assert_eq!(updated.body["balance"], 1200);
    assert_eq!(
        updated.body["tax_ids"], c["tax_ids"],
        "absent fields are kept"
    );

    let bare = app.post("/v1/customers", s, json!({})).await;
    assert_eq!(bare.expect(201)["balance"], 0);
    let by_email = app
        .get("/v1/customers?email=BILLING@globex.example", s)
        .await;
    let found = by_email.expect(200)["data"]
        .as_array()
        .expect("data")
        .clone();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"].as_str(), Some(id.as_str()));
    let all = app.get("/v1/customers?limit=1", s).await;
    assert_eq!(all.expect(200)["has_more"], true);

    for (body, field) in [
        (json!({"email": "nope"}), "email"),
        (
            json!({"address": {"country": "Germany"}}),
            "address.country",
        ),
        (
            json!({"tax_ids": [{"type": "EU VAT", "value": "x"}]}),
            "tax_ids[0].type",
        ),
        (json!({"balance": 10}), "balance"),
    ] {
        let r = app.post("/v1/customers", s, body).await;
        r.expect_problem(400, "validation_error");
        assert_eq!(r.body["errors"][0]["field"], field);
    }
    let r = app
        .post("/v1/customers", s, json!({"currency": "euro"}))
        .await;
    r.expect_problem(400, "invalid_currency");
    assert_eq!(r.body["errors"][0]["field"], "currency");
    // Another tenant, or the live environment, cannot see the sandbox customer.
    let other = app.signup("b@example.com").await;
    app.get(&format!("/v1/customers/{id}"), &other.session)
        .await
        .expect_problem(404, "resource_not_found");
    let (_, live) = app.create_key(s, json!({"name": "live"}), true).await;
    app.get(&format!("/v1/customers/{id}"), &live)
        .await
        .expect_problem(404, "resource_not_found");
    app.post(&format!("/v1/customers/{id}"), &live, json!({"name": "x"}))
        .await
        .expect_problem(404, "resource_not_found");
    app.stop().await;
}

crate::on_both_backends!(customers_round_trip);

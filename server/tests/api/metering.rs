//! Usage metering: exact aggregation, quotas with threshold alerts and invoiced usage,
//! isolation, rollups across commits, late events at a period's edge.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, eventually, spawn_app};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

async fn clock_and_customer(app: &TestApp, s: &str, at: &str, ext: &str) -> (String, String) {
    let clock = app
        .post(
            "/v1/test_clocks",
            s,
            json!({"name": "usage", "frozen_time": at}),
        )
        .await;
    let clock = id(clock.expect(201));
    let customer = app
        .post(
            "/v1/customers",
            s,
            json!({"name": ext, "external_id": ext, "test_clock": clock, "default_payment_method": "pm_card_visa"}),
        )
        .await;
    (clock, id(customer.expect(201)))
}

/// Events are validated one by one, deduplicated by id, late ones land in their own bucket,
/// and every aggregation reads back exactly what was sent.
async fn events_aggregate_exactly(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let (_, cus) = clock_and_customer(&app, s, "2027-01-15T12:00:00Z", "acme").await;
    let meter = |body: Value| {
        let app = &app;
        async move { id(app.post("/v1/meters", s, body).await.expect(201)) }
    };
    let tokens = meter(json!({"name": "Tokens", "event_type": "completion", "aggregation": "sum", "value_property": "usage.tokens", "group_by": ["model"]})).await;
    let calls = meter(json!({"name": "Calls", "event_type": "completion", "aggregation": "count", "filters": [{"property": "model", "operator": "neq", "value": "free"}]})).await;
    let users = meter(json!({"name": "Users", "event_type": "completion", "aggregation": "unique_count", "value_property": "user"})).await;
    let peak = meter(json!({"name": "Peak", "event_type": "completion", "aggregation": "max", "value_property": "usage.tokens"})).await;
    let seats = meter(json!({"name": "Seats", "event_type": "seats", "aggregation": "weighted_sum", "value_property": "delta"})).await;

    let ev = |id: &str, ts: &str, model: &str, tokens: Value, user: &str| {
        json!({"id": id, "type": "completion", "customer": "acme", "timestamp": ts,
               "properties": {"model": model, "user": user, "usage": {"tokens": tokens}}})
    };
    let batch = app
        .post(
            "/v1/events/batch",
            s,
            json!({"events": [
                ev("e1", "2027-01-15T10:00:00Z", "gpt", json!(100), "u1"),
                ev("e2", "2027-01-15T10:30:00Z", "gpt", json!("0.5"), "u2"),
                ev("e3", "2027-01-15T11:59:59Z", "free", json!(7), "u1"),
                ev("e1", "2027-01-15T10:00:00Z", "gpt", json!(100), "u1"),
                ev("e4", "2027-01-15T12:06:00Z", "gpt", json!(1), "u1"),
                ev("e5", "2026-12-01T00:00:00Z", "gpt", json!(1), "u1"),
                ev("e6", "2027-01-15T10:00:00Z", "gpt", json!("lots"), "u1"),
                {"id": "e7", "type": "completion", "customer": "nobody"},
                {"type": "completion", "customer": "acme"},
            ]}),
        )
        .await;
    let r = batch.expect(200);
    assert_eq!(
        (
            r["accepted"].as_u64(),
            r["duplicates"].as_u64(),
            r["rejected"].as_u64()
        ),
        (Some(3), Some(1), Some(5))
    );
    let codes: Vec<(u64, &str)> = r["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().expect("index"),
                e["code"].as_str().expect("code"),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (4, "timestamp_out_of_range"),
            (5, "timestamp_out_of_range"),
            (6, "invalid_value"),
            (7, "customer_not_found"),
            (8, "invalid_event")
        ]
    );

    // One at a time: a late event (yesterday) and a retry of an acknowledged one.
    let late = app
        .post(
            "/v1/events",
            s,
            ev("e8", "2027-01-14T09:00:00Z", "claude", json!(40), "u3"),
        )
        .await;
    assert_eq!(late.expect(200)["status"], "accepted");
    let again = app
        .post(
            "/v1/events",
            s,
            ev("e2", "2027-01-15T10:30:00Z", "gpt", json!("0.5"), "u2"),
        )
        .await;
    assert_eq!(again.expect(200)["status"], "duplicate");
    app.post(
        "/v1/events",
        s,
        json!({"id": "x", "type": "completion", "customer": "nobody"}),
    )
    .await
    .expect_problem(422, "customer_not_found");
    app.post(
        "/v1/events",
        s,
        json!({"id": "", "type": "completion", "customer": "acme"}),
    )
    .await
    .expect_problem(400, "validation_error");

    let usage = |meter: &str, query: &str| {
        let app = &app;
        let path = format!(
            "/v1/meters/{meter}/usage?customer=acme&from=2027-01-14T00:00:00Z&to=2027-01-16T00:00:00Z{query}"
        );
        async move { app.get(&path, s).await.expect(200).clone() }
    };
    let total = |v: &Value| v["data"][0]["value"].as_str().map(str::to_owned);
    assert_eq!(total(&usage(&tokens, "").await).as_deref(), Some("147.5"));
    assert_eq!(
        total(&usage(&calls, "").await).as_deref(),
        Some("3"),
        "the free model is filtered out"
    );
    assert_eq!(total(&usage(&users, "").await).as_deref(), Some("3"));
    assert_eq!(total(&usage(&peak, "").await).as_deref(), Some("100"));

    // An unaligned range reads raw events at its edges: 10:00:00.001 to 11:59:59.500 holds
    // e2 (from a minute rollup) and e3 (raw, at 11:59:59).
    let edge = app
        .get(&format!("/v1/meters/{tokens}/usage?customer=acme&from=2027-01-15T10:00:00.001Z&to=2027-01-15T11:59:59.500Z"), s)
        .await;
    assert_eq!(total(edge.expect(200)).as_deref(), Some("7.5"));

    let hourly = usage(&tokens, "&window=hour&group_by=model").await;
    let points: Vec<(&str, &str, &str)> = hourly["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|p| p["value"] != "0")
        .map(|p| {
            (
                p["start"].as_str().expect("start"),
                p["group"]["model"].as_str().expect("model"),
                p["value"].as_str().expect("value"),
            )
        })
        .collect();
    assert_eq!(
        points,
        [
            ("2027-01-14T09:00:00Z", "claude", "40"),
            ("2027-01-15T11:00:00Z", "free", "7"),
            ("2027-01-15T10:00:00Z", "gpt", "100.5"),
        ]
    );
    assert_eq!(
        hourly["data"].as_array().map(Vec::len),
        Some(3 * 48),
        "every hour of every group"
    );
    let daily = usage(&users, "&window=day").await;
    let per_day: Vec<&str> = daily["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|p| p["value"].as_str().expect("v"))
        .collect();
    assert_eq!(per_day, ["1", "2"]);
    app.get(&format!("/v1/meters/{users}/usage?from=2027-01-14T00:00:00Z&to=2027-01-16T00:00:00Z&group_by=region"), s)
        .await
        .expect_problem(400, "validation_error");

    // Seats: 10 from midnight, 20 more from noon, so 20 on average over the day.
    for (i, (ts, delta)) in [("2027-01-15T00:00:00Z", 10), ("2027-01-15T12:00:00Z", 20)]
        .iter()
        .enumerate()
    {
        let e = json!({"id": format!("s{i}"), "type": "seats", "customer": cus, "timestamp": ts, "properties": {"delta": delta}});
        app.post("/v1/events", s, e).await.expect(200);
    }
    let avg = app
        .get(&format!("/v1/meters/{seats}/usage?from=2027-01-15T00:00:00Z&to=2027-01-16T00:00:00Z&window=day"), s)
        .await;
    assert_eq!(avg.expect(200)["data"][0]["value"], "20");

    // What a meter counts is fixed; archiving is for good.
    app.post(
        &format!("/v1/meters/{tokens}"),
        s,
        json!({"aggregation": "max"}),
    )
    .await
    .expect_problem(400, "unknown_parameter");
    let archived = app
        .post(
            &format!("/v1/meters/{tokens}"),
            s,
            json!({"status": "archived"}),
        )
        .await;
    assert_eq!(archived.expect(200)["status"], "archived");
    app.post(
        &format!("/v1/meters/{tokens}"),
        s,
        json!({"status": "active"}),
    )
    .await
    .expect_problem(409, "meter_archived");
    app.post(
        "/v1/events",
        s,
        ev("e9", "2027-01-15T11:00:00Z", "gpt", json!(5), "u1"),
    )
    .await
    .expect(200);
    assert_eq!(
        total(&usage(&tokens, "").await).as_deref(),
        Some("147.5"),
        "an archived meter counts no new events"
    );
    app.stop().await;
}

/// A metered limit: alerts at 50/80/100 % once per period, a hard limit denies, and the
/// period's usage is invoiced at its end, less the included quantity.
async fn quotas_alert_and_usage_is_invoiced(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let (clock, cus) = clock_and_customer(&app, s, "2027-03-01T00:00:00Z", "acme").await;
    let meter = app
        .post(
            "/v1/meters",
            s,
            json!({"name": "API calls", "event_type": "api_call", "aggregation": "count"}),
        )
        .await;
    let meter = id(meter.expect(201));
    let product = app
        .post(
            "/v1/products",
            s,
            json!({"name": "API", "features": [
            {"key": "api_calls", "limit": 10, "meter": meter},
            {"key": "sso"}]}),
        )
        .await;
    let product = id(product.expect(201));
    app.post("/v1/products", s, json!({"name": "Bad", "features": [{"key": "x", "limit": 1, "meter": "mtr_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e"}]}))
        .await
        .expect_problem(400, "validation_error");
    let base = app
        .post("/v1/prices", s, json!({"product": product, "currency": "usd", "model": "flat", "unit_amount": 1000, "recurring": {"interval": "month"}}))
        .await;
    let base = id(base.expect(201));
    let overage = app
        .post("/v1/prices", s, json!({"product": product, "currency": "usd", "model": "per_unit", "unit_amount_decimal": "2.5",
            "recurring": {"interval": "month"}, "meter": meter, "included_quantity": 4}))
        .await;
    let overage = overage.expect(201).clone();
    assert_eq!(overage["included_quantity"], 4);
    let sub = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": cus, "items": [{"price": base}, {"price": id(&overage)}]}),
        )
        .await;
    let sub = id(sub.expect(201));
    let first = app
        .get(&format!("/v1/invoices?subscription={sub}"), s)
        .await;
    assert_eq!(
        first.expect(200)["data"][0]["total"],
        1000,
        "metered items bill in arrears"
    );

    let check = |feature: &str| {
        let app = &app;
        let path = format!("/v1/entitlements/check?customer=acme&feature={feature}");
        async move { app.get(&path, s).await.expect(200).clone() }
    };
    let sso = check("sso").await;
    assert_eq!(
        (sso["allowed"].as_bool(), sso["limit"].is_null()),
        (Some(true), true)
    );
    assert_eq!(check("audit_log").await["allowed"], false);
    let calls = |from: usize, to: usize| {
        json!({"events": (from..to).map(|i| json!({"id": format!("c{i}"), "type": "api_call", "customer": cus,
            "timestamp": format!("2027-03-01T00:00:{i:02}Z")})).collect::<Vec<_>>()})
    };
    app.post("/v1/events/batch", s, calls(0, 6))
        .await
        .expect(200);
    let mid = check("api_calls").await;
    assert_eq!(
        (
            mid["allowed"].as_bool(),
            mid["usage"].as_str(),
            mid["remaining"].as_str()
        ),
        (Some(true), Some("6"), Some("4"))
    );
    app.post("/v1/events/batch", s, calls(6, 11))
        .await
        .expect(200);
    let over = check("api_calls").await;
    assert_eq!(
        (
            over["allowed"].as_bool(),
            over["usage"].as_str(),
            over["remaining"].as_str()
        ),
        (Some(false), Some("11"), Some("0"))
    );
    assert_eq!(over["enforcement"], "hard");
    let so_far = app.get(&format!("/v1/subscriptions/{sub}/usage"), s).await;
    let line = &so_far.expect(200)["lines"][0];
    assert_eq!(
        (
            line["usage"].as_str(),
            line["quantity"].as_i64(),
            line["amount"].as_i64()
        ),
        (Some("11"), Some(7), Some(18))
    );

    // Alerts follow the commit by moments, from the alerts' own task: wait for the last one,
    // let any round still due run, then check that each threshold came once.
    let thresholds = || async {
        let alerts = app
            .get(
                "/v1/webhook_events?type=usage.threshold_reached&limit=100",
                s,
            )
            .await;
        let mut thresholds: Vec<i64> = alerts.expect(200)["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|e| e["data"]["threshold"].as_i64().expect("threshold"))
            .collect();
        thresholds.sort_unstable();
        thresholds
    };
    eventually("the alert at 100 %", || async {
        thresholds().await.contains(&100)
    })
    .await;
    app.settle_alerts().await;
    let thresholds = thresholds().await;
    assert_eq!(thresholds, [50, 80, 100], "each threshold once");

    // The period ends: its 11 calls, 4 included, bill 7 × 2.5 = 17.5 → 18 cents.
    app.post(
        &format!("/v1/test_clocks/{clock}/advance"),
        s,
        json!({"frozen_time": "2027-04-01T02:00:00Z"}),
    )
    .await
    .expect(200);
    let invoices = app
        .get(&format!("/v1/invoices?subscription={sub}"), s)
        .await;
    let renewal = invoices.expect(200)["data"][0].clone();
    let usage_line = renewal["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| !l["usage"].is_null())
        .expect("a usage line")
        .clone();
    assert_eq!(
        (
            usage_line["usage"].as_str(),
            usage_line["quantity"].as_i64(),
            usage_line["amount"].as_i64()
        ),
        (Some("11"), Some(7), Some(18))
    );
    assert_eq!(usage_line["period_start"], "2027-03-01T00:00:00Z");
    assert_eq!(renewal["total"], 1018);
    // A new period, a fresh quota.
    assert_eq!(check("api_calls").await["usage"], "0");
    app.stop().await;
}

/// Another tenant, or the other environment, sees none of it.
async fn metering_is_isolated(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let (_, ada_key) = app
        .create_key(&ada.session, json!({"name": "k"}), false)
        .await;
    let (_, ada_live) = app
        .create_key(&ada.session, json!({"name": "live"}), true)
        .await;
    let (_, bob_key) = app
        .create_key(&bob.session, json!({"name": "k"}), false)
        .await;
    let customer = app
        .post("/v1/customers", &ada_key, json!({"external_id": "acme"}))
        .await;
    let customer = id(customer.expect(201));
    let meter = app
        .post(
            "/v1/meters",
            &ada_key,
            json!({"name": "Calls", "event_type": "api_call", "aggregation": "count"}),
        )
        .await;
    let meter = id(meter.expect(201));
    app.post(
        "/v1/events",
        &ada_key,
        json!({"id": "a1", "type": "api_call", "customer": "acme"}),
    )
    .await
    .expect(200);
    let range = "from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z";
    for other in [&bob_key, &ada_live] {
        app.get(&format!("/v1/meters/{meter}"), other)
            .await
            .expect_problem(404, "resource_not_found");
        app.get(&format!("/v1/meters/{meter}/usage?{range}"), other)
            .await
            .expect_problem(404, "resource_not_found");
        app.post(&format!("/v1/meters/{meter}"), other, json!({"name": "x"}))
            .await
            .expect_problem(404, "resource_not_found");
        assert_eq!(
            app.get("/v1/meters", other).await.expect(200)["data"],
            json!([])
        );
        for c in ["acme", customer.as_str()] {
            app.post(
                "/v1/events",
                other,
                json!({"id": "a2", "type": "api_call", "customer": c}),
            )
            .await
            .expect_problem(422, "customer_not_found");
            app.get(
                &format!("/v1/entitlements/check?customer={c}&feature=x"),
                other,
            )
            .await
            .expect_problem(404, "resource_not_found");
        }
    }
    // The same event id in another tenant is another event.
    let bob_customer = app
        .post("/v1/customers", &bob_key, json!({"external_id": "acme"}))
        .await;
    bob_customer.expect(201);
    let r = app
        .post(
            "/v1/events",
            &bob_key,
            json!({"id": "a1", "type": "api_call", "customer": "acme"}),
        )
        .await;
    assert_eq!(r.expect(200)["status"], "accepted");
    let usage = app
        .get(&format!("/v1/meters/{meter}/usage?{range}"), &ada_key)
        .await;
    assert_eq!(usage.expect(200)["data"][0]["value"], "1");
    // Scopes: a key without usage:write cannot send events.
    let (_, reader) = app
        .create_key(
            &ada.session,
            json!({"name": "r", "scopes": ["usage:read"]}),
            false,
        )
        .await;
    app.post(
        "/v1/events",
        &reader,
        json!({"id": "a3", "type": "api_call", "customer": "acme"}),
    )
    .await
    .expect_problem(403, "forbidden");
    app.stop().await;
}

/// Rollups add up across commits as within one: every aggregation of one minute's events,
/// sent one request each and out of order, reads back as if sent together. (PostgreSQL adds
/// in SQL, SQLite in Rust.)
async fn rollups_merge_across_commits(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    clock_and_customer(&app, s, "2027-01-15T12:00:00Z", "acme").await;
    let mut meters = Vec::new();
    for aggregation in ["sum", "min", "max", "latest", "count"] {
        let body = json!({"name": aggregation, "event_type": "level", "aggregation": aggregation,
                          "value_property": (aggregation != "count").then_some("v")});
        meters.push((
            aggregation,
            id(app.post("/v1/meters", s, body).await.expect(201)),
        ));
    }
    // The two at 10:00:20 tie on time: the larger value is the latest.
    for (i, (at, v)) in [
        ("10:00:10", "2.50"),
        ("10:00:20", "-1.25"),
        ("10:00:20", "7"),
        ("10:00:05", "100"),
    ]
    .into_iter()
    .enumerate()
    {
        let event = json!({"id": format!("l{i}"), "type": "level", "customer": "acme",
                           "timestamp": format!("2027-01-15T{at}Z"), "properties": {"v": v}});
        app.post("/v1/events", s, event).await.expect(200);
    }
    for (aggregation, meter) in &meters {
        let path = format!(
            "/v1/meters/{meter}/usage?customer=acme&from=2027-01-15T10:00:00Z&to=2027-01-15T11:00:00Z"
        );
        let usage = app.get(&path, s).await;
        let expected = match *aggregation {
            "sum" => "108.25",
            "min" => "-1.25",
            "max" => "100",
            "latest" => "7",
            _ => "4",
        };
        assert_eq!(
            usage.expect(200)["data"][0]["value"],
            expected,
            "{aggregation}"
        );
    }
    app.stop().await;
}

/// A period that starts mid-minute has a raw edge, which repeated checks remember while its
/// minute is unchanged: late events into that minute, inside the period or before it, read
/// back exactly on the next check.
async fn a_period_edge_counts_late_events(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let (_, cus) = clock_and_customer(&app, s, "2027-03-01T00:00:30.500Z", "acme").await;
    let meter = app
        .post(
            "/v1/meters",
            s,
            json!({"name": "Tokens", "event_type": "completion",
            "aggregation": "sum", "value_property": "tokens", "group_by": ["model"]}),
        )
        .await;
    let meter = id(meter.expect(201));
    let product = app
        .post(
            "/v1/products",
            s,
            json!({"name": "AI", "features": [
            {"key": "tokens", "limit": 1000, "meter": meter, "enforcement": "soft"}]}),
        )
        .await;
    let price = app
        .post(
            "/v1/prices",
            s,
            json!({"product": id(product.expect(201)), "currency": "usd",
            "model": "flat", "unit_amount": 1000, "recurring": {"interval": "month"}}),
        )
        .await;
    app.post(
        "/v1/subscriptions",
        s,
        json!({"customer": cus, "items": [{"price": id(price.expect(201))}]}),
    )
    .await
    .expect(201);
    let send = |id: &str, at: &str, tokens: &str, model: &str| {
        let body = json!({"id": id, "type": "completion", "customer": "acme",
            "timestamp": format!("2027-03-01T00:0{at}Z"), "properties": {"tokens": tokens, "model": model}});
        let app = &app;
        async move { app.post("/v1/events", s, body).await.expect(200).clone() }
    };
    let usage = || async {
        let check = app
            .get("/v1/entitlements/check?customer=acme&feature=tokens", s)
            .await;
        check.expect(200)["usage"]
            .as_str()
            .expect("usage")
            .to_owned()
    };
    send("before", "0:10", "1000", "a").await; // the period's minute, before it starts
    send("edge1", "0:40", "1.5", "a").await;
    send("edge2", "0:50", "2", "b").await;
    send("later", "3:00", "10", "a").await;
    assert_eq!(usage().await, "13.5");
    assert_eq!(usage().await, "13.5", "the same, remembered");
    send("late", "0:45.250", "0.25", "b").await;
    assert_eq!(usage().await, "13.75", "a late event in the edge");
    send("late-before", "0:20", "500", "a").await;
    assert_eq!(usage().await, "13.75", "a late event before the period");
    assert_eq!(
        send("late", "0:45.250", "0.25", "b").await["status"],
        "duplicate"
    );
    assert_eq!(usage().await, "13.75");
    app.stop().await;
}

/// Every accepted event is billed: events sent on time, after their period's draft was made,
/// after it was finalized, and two weeks late all end up on invoices, the late ones as
/// adjustment lines for their period on the next renewal, and none twice.
async fn late_usage_is_billed(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let (clock, cus) = clock_and_customer(&app, s, "2027-03-01T00:00:00Z", "acme").await;
    let meter = app
        .post(
            "/v1/meters",
            s,
            json!({"name": "Calls", "event_type": "call", "aggregation": "count"}),
        )
        .await;
    let meter = id(meter.expect(201));
    let product = app.post("/v1/products", s, json!({"name": "API"})).await;
    let price = app
        .post("/v1/prices", s, json!({"product": id(product.expect(201)), "currency": "usd",
            "model": "per_unit", "unit_amount": 1, "recurring": {"interval": "month"}, "meter": meter}))
        .await;
    let price = id(price.expect(201));
    let sub = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": cus, "items": [{"price": price}]}),
        )
        .await;
    let sub = id(sub.expect(201));
    let advance = async |to: &str| app.advance_clock(s, &clock, to).await;
    let mut sent = 0;
    let mut send = async |n: usize, at: &str| {
        let events: Vec<Value> = (0..n)
            .map(|i| {
                sent += 1;
                json!({"id": format!("e{sent}-{i}"), "type": "call", "customer": cus, "timestamp": at})
            })
            .collect();
        let r = app
            .post("/v1/events/batch", s, json!({"events": events}))
            .await;
        assert_eq!(r.expect(200)["accepted"], n, "all accepted");
    };
    let invoices = async || -> Vec<Value> {
        let list = app
            .get(&format!("/v1/invoices?subscription={sub}&limit=100"), s)
            .await;
        list.expect(200)["data"].as_array().expect("data").clone()
    };
    // (invoices, quantity billed for the period starting `start` over all of them)
    let billed = async |start: &str| -> (usize, i64) {
        let all = invoices().await;
        let lines = all
            .iter()
            .flat_map(|i| i["lines"].as_array().expect("lines").clone());
        let quantity = lines
            .filter(|l| l["price"] == price.as_str() && l["period_start"] == start)
            .map(|l| l["quantity"].as_i64().expect("quantity"))
            .sum();
        (all.len(), quantity)
    };

    advance("2027-03-15T00:00:00Z").await;
    send(3, "2027-03-10T00:00:00Z").await;
    // March ends: its usage joins April's draft, finalized an hour later.
    advance("2027-04-01T00:30:00Z").await;
    let draft = invoices().await[0].clone();
    assert_eq!(draft["status"], "draft");
    assert_eq!(billed("2027-03-01T00:00:00Z").await, (2, 3));
    send(2, "2027-03-20T00:00:00Z").await; // after the draft
    advance("2027-04-01T02:00:00Z").await;
    assert_ne!(invoices().await[0]["status"], "draft");
    send(4, "2027-03-25T00:00:00Z").await; // after finalization
    advance("2027-04-15T00:00:00Z").await;
    send(5, "2027-03-31T12:00:00Z").await; // two weeks late
    send(6, "2027-04-14T00:00:00Z").await; // April's, on time
    assert_eq!(billed("2027-03-01T00:00:00Z").await, (2, 3), "not yet");

    advance("2027-05-01T02:00:00Z").await;
    let may = invoices().await[0].clone();
    let adjustment = may["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["period_start"] == "2027-03-01T00:00:00Z")
        .expect("an adjustment for March")
        .clone();
    assert_eq!(
        (
            adjustment["usage"].as_str(),
            adjustment["quantity"].as_i64(),
            adjustment["amount"].as_i64(),
            adjustment["period_end"].as_str()
        ),
        (Some("14"), Some(11), Some(11), Some("2027-04-01T00:00:00Z"))
    );
    assert_eq!(
        billed("2027-03-01T00:00:00Z").await,
        (3, 14),
        "March: 3 + 2 + 4 + 5"
    );
    assert_eq!(billed("2027-04-01T00:00:00Z").await, (3, 6));
    assert_eq!(may["total"], 17, "April's 6 and March's 11, at a cent each");

    // Nothing arrived since: the next renewal bills no period twice.
    advance("2027-06-01T02:00:00Z").await;
    assert_eq!(billed("2027-03-01T00:00:00Z").await, (4, 14));
    assert_eq!(billed("2027-04-01T00:00:00Z").await, (4, 6));
    assert_eq!(invoices().await[0]["total"], 0, "May had no usage");
    app.stop().await;
}

/// A percentage price (Lago's model: 1.2% of the payments plus 10 cents per payment, the
/// first 3 payments or 500.00 free) bills each period's payments, late ones included, and
/// its terms are checked.
async fn percentage_prices_bill_each_transaction(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;
    let (clock, cus) = clock_and_customer(&app, s, "2027-03-01T00:00:00Z", "acme").await;
    let meter = |aggregation: &str| {
        json!({"name": "Payments", "event_type": "payment", "aggregation": aggregation,
               "value_property": "amount"})
    };
    let sum = id(app.post("/v1/meters", s, meter("sum")).await.expect(201));
    let max = id(app.post("/v1/meters", s, meter("max")).await.expect(201));
    let product = app
        .post("/v1/products", s, json!({"name": "Payments"}))
        .await;
    let product = id(product.expect(201));
    let price = |meter: &str, percentage: Value| {
        json!({"product": product, "currency": "usd", "model": "percentage",
               "recurring": {"interval": "month"}, "meter": meter, "percentage": percentage})
    };
    let lago = json!({"rate": "1.2", "fixed_amount": 10, "free_units_per_events": 3,
                      "free_units_per_total_aggregation": "50000"});
    for (body, field) in [
        (price(&max, lago.clone()), "meter"),
        (price(&sum, json!({"rate": "101"})), "percentage.rate"),
        (
            price(
                &sum,
                json!({"rate": "1", "per_transaction_min_amount": 9, "per_transaction_max_amount": 5}),
            ),
            "percentage.per_transaction_max_amount",
        ),
        (
            json!({"product": product, "currency": "usd", "model": "percentage",
                   "recurring": {"interval": "month"}, "percentage": lago}),
            "meter",
        ),
    ] {
        let r = app.post("/v1/prices", s, body).await;
        r.expect_problem(400, "validation_error");
        assert_eq!(r.body["errors"][0]["field"], field, "{}", r.body);
    }
    let price_of = |percentage: Value| price(&sum, percentage);
    let created = app.post("/v1/prices", s, price_of(lago.clone())).await;
    let price = id(created.expect(201));
    assert_eq!(created.body["percentage"]["rate"], "1.2");
    let quote = async |price: &str| {
        let q = app
            .get(&format!("/v1/prices/{price}/quote?quantity=10000"), s)
            .await;
        q.expect(200)["amount"].clone()
    };
    assert_eq!(
        quote(&price).await,
        0,
        "one payment is within the free units"
    );
    let card = app
        .post(
            "/v1/prices",
            s,
            price_of(json!({"rate": "2.9", "fixed_amount": 30})),
        )
        .await;
    assert_eq!(
        quote(&id(card.expect(201))).await,
        320,
        "100.00 at 2.9% + 0.30"
    );
    let sub = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": cus, "items": [{"price": price}]}),
        )
        .await;
    let sub = id(sub.expect(201));
    let mut n = 0;
    let mut pay = async |amounts: &[i64], at: &str| {
        let events: Vec<Value> = amounts
            .iter()
            .map(|amount| {
                n += 1;
                json!({"id": format!("pay{n}"), "type": "payment", "customer": cus,
                       "timestamp": at, "properties": {"amount": amount}})
            })
            .collect();
        let r = app
            .post("/v1/events/batch", s, json!({"events": events}))
            .await;
        assert_eq!(r.expect(200)["accepted"], amounts.len());
    };
    let advance = async |to: &str| app.advance_clock(s, &clock, to).await;
    let usage_lines = async |start: &str| -> Vec<(i64, i64)> {
        let list = app
            .get(&format!("/v1/invoices?subscription={sub}&limit=100"), s)
            .await;
        let mut all = list.expect(200)["data"].as_array().expect("data").clone();
        all.reverse();
        all.iter()
            .flat_map(|i| i["lines"].as_array().expect("lines").clone())
            .filter(|l| l["price"] == price.as_str() && l["period_start"] == start)
            .map(|l| {
                (
                    l["quantity"].as_i64().expect("q"),
                    l["amount"].as_i64().expect("a"),
                )
            })
            .collect()
    };
    let march = "2027-03-01T00:00:00Z";
    advance("2027-03-25T00:00:00Z").await;
    pay(&[20000, 10000], "2027-03-05T00:00:00Z").await;
    pay(&[10000, 5000], "2027-03-20T00:00:00Z").await;
    advance("2027-04-01T02:00:00Z").await;
    assert_eq!(
        usage_lines(march).await,
        [(45000, 70)],
        "Lago's example: only the fourth payment pays, 0.60 + 0.10"
    );
    // After March was invoiced: a payment of 100.00 and one of 0 (it pays the fixed fee).
    advance("2027-04-15T00:00:00Z").await;
    pay(&[10000, 0], "2027-03-30T00:00:00Z").await;
    pay(&[30000], "2027-04-10T00:00:00Z").await;
    advance("2027-05-01T02:00:00Z").await;
    assert_eq!(
        usage_lines(march).await,
        [(45000, 70), (10000, 140)],
        "March's adjustment: 1.20 + 0.10, and 0.10"
    );
    assert_eq!(
        usage_lines("2027-04-01T00:00:00Z").await,
        [(30000, 0)],
        "April's one payment is within its free units"
    );
    app.stop().await;
}

crate::on_both_backends!(
    events_aggregate_exactly,
    percentage_prices_bill_each_transaction,
    late_usage_is_billed,
    a_period_edge_counts_late_events,
    rollups_merge_across_commits,
    quotas_alert_and_usage_is_invoiced,
    metering_is_isolated,
);

//! Revenue analytics on a sandbox test clock: customers subscribe (monthly, yearly, a trial,
//! a coupon, a declined first payment), expand, contract, churn and come back; every month's
//! MRR, movements, rates and cohorts match tables worked out by hand, each month's movements
//! add up to its change of MRR, a past month reads the same later, CSV says the same, and
//! nothing crosses tenants or environments.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

struct Shop<'a> {
    app: &'a TestApp,
    s: String,
    clock: String,
}

impl Shop<'_> {
    async fn create(&self, path: &str, body: Value) -> String {
        id(self.app.post(path, &self.s, body).await.expect(201))
    }

    async fn customer(&self, name: &str, card: &str) -> String {
        let body = json!({"name": name, "test_clock": self.clock, "default_payment_method": card});
        self.create("/v1/customers", body).await
    }

    async fn subscribe(&self, customer: &str, price: &str, extra: Value) -> String {
        let mut body = json!({"customer": customer, "items": [{"price": price}]});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.create("/v1/subscriptions", body).await
    }

    async fn quantity(&self, sub: &str, price: &str, quantity: i64) {
        let body = json!({"items": [{"price": price, "quantity": quantity}]});
        let path = format!("/v1/subscriptions/{sub}");
        self.app.post(&path, &self.s, body).await.expect(200);
    }

    async fn advance(&self, to: &str) {
        self.app.advance_clock(&self.s, &self.clock, to).await;
    }

    async fn mrr(&self, query: &str) -> Value {
        let path = format!("/v1/analytics/mrr?currency=usd&{query}");
        self.app.get(&path, &self.s).await.expect(200).clone()
    }
}

/// (mrr_start, new, expansion, contraction, churn, reactivation, mrr, customers)
type Month = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
);

/// A cohort's month: (customers, MRR, customer retention, revenue retention).
type Cell = (i64, String, String, String);

fn row(w: &Value) -> (String, String, String, String, String, String, String, i64) {
    let s = |k: &str| w[k].as_str().expect(k).to_owned();
    (
        s("mrr_start"),
        s("new"),
        s("expansion"),
        s("contraction"),
        s("churn"),
        s("reactivation"),
        s("mrr"),
        w["customers"].as_i64().expect("customers"),
    )
}

async fn movements_follow_the_subscriptions(b: Backend) {
    let app = spawn_app(b).await;
    let s = app.signup("ada@example.com").await.session;
    let clock = app
        .post(
            "/v1/test_clocks",
            &s,
            json!({"name": "revenue", "frozen_time": "2027-01-01T00:00:00Z"}),
        )
        .await;
    let shop = Shop {
        app: &app,
        s: s.clone(),
        clock: id(clock.expect(201)),
    };
    let team = shop.create("/v1/products", json!({"name": "Team"})).await;
    let price = |model: &str, amount: i64, interval: &str| {
        json!({"product": team, "currency": "usd", "model": model, "unit_amount": amount,
               "recurring": {"interval": interval}})
    };
    let seat = shop
        .create("/v1/prices", price("per_unit", 5000, "month"))
        .await;
    let yearly = shop
        .create("/v1/prices", price("flat", 60000, "year"))
        .await;
    let pro = shop
        .create("/v1/prices", price("flat", 10000, "month"))
        .await;
    let coupon = shop
        .create(
            "/v1/coupons",
            json!({"percent_off": "20", "duration": "forever"}),
        )
        .await;

    // January: four customers start paying; one's trial converts mid-month; one's first
    // payment is declined and never recovered.
    let a = shop.customer("a", "pm_card_visa").await;
    let a_sub = shop.subscribe(&a, &seat, json!({})).await;
    let b_cus = shop.customer("b", "pm_card_visa").await;
    shop.subscribe(&b_cus, &yearly, json!({})).await;
    let c = shop.customer("c", "pm_card_visa").await;
    shop.subscribe(
        &c,
        &seat,
        json!({"items": [{"price": seat, "quantity": 2}], "trial_days": 14}),
    )
    .await;
    let d = shop.customer("d", "pm_card_visa").await;
    let d_sub = shop.subscribe(&d, &seat, json!({"coupon": coupon})).await;
    let e = shop.customer("e", "pm_card_chargeDeclined").await;
    shop.subscribe(&e, &seat, json!({})).await;
    shop.advance("2027-01-20T00:00:00Z").await;

    // February: A goes to 3 seats; D cancels at the end of its period (March 1).
    shop.advance("2027-02-10T00:00:00Z").await;
    shop.quantity(&a_sub, &seat, 3).await;
    let r = app
        .post(
            &format!("/v1/subscriptions/{d_sub}/cancel"),
            &s,
            json!({"at_period_end": true}),
        )
        .await;
    r.expect(200);

    // March: D's cancellation takes effect; F starts on Pro; A drops to 2 seats.
    shop.advance("2027-03-05T00:00:00Z").await;
    let f = shop.customer("f", "pm_card_visa").await;
    shop.subscribe(&f, &pro, json!({})).await;
    shop.advance("2027-03-20T00:00:00Z").await;
    shop.quantity(&a_sub, &seat, 2).await;

    // April: D comes back, without the coupon.
    shop.advance("2027-04-10T00:00:00Z").await;
    shop.subscribe(&d, &seat, json!({})).await;
    shop.advance("2027-04-30T00:00:00Z").await;

    let report = shop
        .mrr("from=2027-01-01T00:00:00Z&to=2027-05-01T00:00:00Z&interval=month")
        .await;
    let got: Vec<_> = report["data"]
        .as_array()
        .expect("windows")
        .iter()
        .map(row)
        .collect();
    // By hand, in cents: A 50.00 → 150.00 → 100.00; B 600.00 a year = 50.00; C 2 × 50.00
    // from its trial's end; D 50.00 less 20% = 40.00, churned March 1, back at 50.00; E
    // never paid; F 100.00.
    let want: [Month; 4] = [
        ("0", "24000", "0", "0", "0", "0", "24000", 4),
        ("24000", "0", "10000", "0", "0", "0", "34000", 4),
        ("34000", "10000", "0", "-5000", "-4000", "0", "35000", 4),
        ("35000", "0", "0", "0", "0", "5000", "40000", 5),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|w| {
            (
                w.0.to_owned(),
                w.1.to_owned(),
                w.2.to_owned(),
                w.3.to_owned(),
                w.4.to_owned(),
                w.5.to_owned(),
                w.6.to_owned(),
                w.7,
            )
        })
        .collect();
    assert_eq!(got, want);
    for w in report["data"].as_array().expect("windows") {
        let n = |k: &str| w[k].as_str().expect(k).parse::<i64>().expect("whole cents");
        let moved: i64 = ["new", "expansion", "contraction", "churn", "reactivation"]
            .iter()
            .map(|k| n(k))
            .sum();
        assert_eq!(moved, n("mrr") - n("mrr_start"), "movements add up: {w}");
        assert_eq!(n("net"), moved);
        assert_eq!(n("arr"), 12 * n("mrr"));
    }

    // The rates, by hand: February lost nothing and grew by 10000 of 24000; March lost
    // 9000 of 34000 and one customer of four, and won 10000.
    let rates = |w: &Value| {
        [
            "arpa",
            "customer_churn_rate",
            "gross_mrr_churn_rate",
            "net_mrr_churn_rate",
            "net_revenue_retention",
            "gross_revenue_retention",
            "quick_ratio",
            "ltv",
        ]
        .map(|k| w[k].as_str().map(str::to_owned))
    };
    let some = |v: &str| Some(v.to_owned());
    assert_eq!(
        rates(&report["data"][0]),
        [some("6000"), None, None, None, None, None, None, None],
        "January starts from nothing"
    );
    assert_eq!(
        rates(&report["data"][1]),
        [
            some("8500"),
            some("0"),
            some("0"),
            some("-0.4167"),
            some("1.4167"),
            some("1"),
            None,
            None
        ]
    );
    assert_eq!(
        rates(&report["data"][2]),
        [
            some("8750"),
            some("0.25"),
            some("0.2647"),
            some("0.2647"),
            some("0.7353"),
            some("0.7353"),
            some("1.1111"),
            some("35000")
        ]
    );

    // Cohorts by first paid month: January's four (C from its trial's end), March's F; E
    // never paid. (customers, MRR, customer retention, revenue retention) at each month's end.
    let cohorts = app
        .get(
            "/v1/analytics/cohorts?currency=usd&from=2027-01-01T00:00:00Z&to=2027-05-01T00:00:00Z",
            &s,
        )
        .await;
    let cohorts = cohorts.expect(200)["data"]
        .as_array()
        .expect("data")
        .clone();
    let table: Vec<(String, i64, Vec<Cell>)> = cohorts
        .iter()
        .map(|c| {
            let cells = c["windows"]
                .as_array()
                .expect("windows")
                .iter()
                .map(|w| {
                    let t = |k: &str| w[k].as_str().expect(k).to_owned();
                    (
                        w["customers"].as_i64().expect("customers"),
                        t("mrr"),
                        t("customer_retention"),
                        t("revenue_retention"),
                    )
                })
                .collect();
            (
                c["start"].as_str().expect("start")[..7].to_owned(),
                c["customers"].as_i64().expect("n"),
                cells,
            )
        })
        .collect();
    let cell = |n: i64, mrr: &str, logo: &str, revenue: &str| {
        (n, mrr.to_owned(), logo.to_owned(), revenue.to_owned())
    };
    assert_eq!(
        table,
        [
            (
                "2027-01".to_owned(),
                4,
                vec![
                    cell(4, "24000", "1", "1"),
                    cell(4, "34000", "1", "1.4167"),
                    cell(3, "25000", "0.75", "1.0417"),
                    cell(4, "30000", "1", "1.25"),
                ]
            ),
            (
                "2027-03".to_owned(),
                1,
                vec![cell(1, "10000", "1", "1"), cell(1, "10000", "1", "1")]
            ),
        ]
    );

    // Each movement names its customer and cause.
    let list = app
        .get(
            "/v1/analytics/movements?currency=usd&from=2027-03-01T00:00:00Z&to=2027-04-01T00:00:00Z",
            &s,
        )
        .await;
    let list = list.expect(200)["data"].as_array().expect("data").clone();
    let named: Vec<_> = list
        .iter()
        .map(|m| {
            (
                m["customer"].as_str().expect("customer").to_owned(),
                m["kind"].as_str().expect("kind").to_owned(),
                m["delta"].as_str().expect("delta").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (d.clone(), "churn".to_owned(), "-4000".to_owned()),
            (f.clone(), "new".to_owned(), "10000".to_owned()),
            (a.clone(), "contraction".to_owned(), "-5000".to_owned()),
        ]
    );
    assert_eq!(list[0]["cause"], "subscription.canceled");
    let only_e = app
        .get(
            &format!("/v1/analytics/movements?currency=usd&from=2027-01-01T00:00:00Z&to=2027-06-01T00:00:00Z&customer={e}"),
            &s,
        )
        .await;
    assert_eq!(only_e.expect(200)["data"], json!([]), "E never paid");

    // Health at the end of April: A contracted in March (15 off), the others are whole; E,
    // which never started, is not scored.
    let health = app
        .get("/v1/analytics/health?at=2027-04-30T00:00:00Z", &s)
        .await;
    let health = health.expect(200)["data"].as_array().expect("data").clone();
    let scores: Vec<_> = health
        .iter()
        .map(|h| {
            (
                h["customer"].as_str().expect("customer").to_owned(),
                h["score"].as_i64().expect("score"),
            )
        })
        .collect();
    assert_eq!(scores.len(), 5, "{scores:?}");
    assert_eq!(scores[0], (a.clone(), 85), "worst first");
    assert_eq!(
        health[0]["deductions"],
        json!([{"signal": "contraction", "points": 15}])
    );
    assert_eq!(health[0]["mrr"], "10000");
    assert!(
        scores[1..]
            .iter()
            .all(|(c, score)| *score == 100 && *c != e)
    );
    let at_risk = app
        .get(
            "/v1/analytics/health?at=2027-04-30T00:00:00Z&band=at_risk",
            &s,
        )
        .await;
    assert_eq!(at_risk.expect(200)["data"], json!([]));

    // A past month reads the same after more happens; CSV says the same.
    shop.advance("2027-06-15T00:00:00Z").await;
    let again = shop
        .mrr("from=2027-01-01T00:00:00Z&to=2027-05-01T00:00:00Z&interval=month")
        .await;
    assert_eq!(again, report);
    let csv = app
        .call_with(
            reqwest::Method::GET,
            "/v1/analytics/mrr?currency=usd&from=2027-03-01T00:00:00Z&to=2027-04-01T00:00:00Z",
            Some(&s),
            None,
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let lines: Vec<&str> = csv.expect(200).as_str().expect("text").lines().collect();
    assert!(lines[0].starts_with("start,end,currency,mrr_start,mrr,"));
    assert_eq!(
        lines[1],
        "2027-03-01T00:00:00Z,2027-04-01T00:00:00Z,usd,34000,35000,420000,4,4,10000,0,-5000,\
         -4000,0,1000,1,1,0,8750,0.25,0.2647,0.2647,0.7353,0.7353,1.1111,35000"
    );

    // Bad ranges are refused; another tenant and the live environment see none of it.
    app.get(
        "/v1/analytics/mrr?currency=usd&from=2027-02-01T00:00:00Z&to=2027-01-01T00:00:00Z",
        &s,
    )
    .await
    .expect_problem(400, "validation_error");
    app.get(
        "/v1/analytics/mrr?currency=zzz&from=2027-01-01T00:00:00Z",
        &s,
    )
    .await
    .expect_problem(400, "invalid_currency");
    let eve = app.signup("eve@example.com").await.session;
    let (_, live) = app.create_key(&s, json!({"name": "live"}), true).await;
    for token in [&eve, &live] {
        let other = app
            .get(
                "/v1/analytics/mrr?currency=usd&from=2027-01-01T00:00:00Z&to=2027-05-01T00:00:00Z",
                token,
            )
            .await;
        let windows = other.expect(200)["data"].as_array().expect("data").clone();
        assert!(
            windows
                .iter()
                .all(|w| w["mrr"] == "0" && w["customers"] == 0)
        );
        let moves = app
            .get(
                "/v1/analytics/movements?currency=usd&from=2027-01-01T00:00:00Z&to=2027-06-01T00:00:00Z",
                token,
            )
            .await;
        assert_eq!(moves.expect(200)["data"], json!([]));
        let cohorts = app
            .get(
                "/v1/analytics/cohorts?currency=usd&from=2027-01-01T00:00:00Z&to=2027-06-01T00:00:00Z",
                token,
            )
            .await;
        assert_eq!(cohorts.expect(200)["data"], json!([]));
        let health = app
            .get("/v1/analytics/health?at=2027-04-30T00:00:00Z", token)
            .await;
        assert_eq!(health.expect(200)["data"], json!([]));
    }
    app.stop().await;
}

crate::on_both_backends!(movements_follow_the_subscriptions);

//! The customer portal over real HTTP, as a browser without scripts uses it: a link that
//! opens once into one customer's pages, forms with the session's CSRF token, a plan change
//! whose preview is what it charges, a card replaced and what was owed paid, a cancellation
//! with a reason after the retention offer, and no way into another customer's, tenant's
//! or environment's billing.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// A browser: one cookie, no redirects followed (each is checked).
pub(crate) struct Browser {
    client: reqwest::Client,
    cookie: Option<String>,
}

/// A page: its status, where it redirects, its HTML.
pub(crate) struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub html: String,
}

impl Page {
    /// The CSRF token its forms carry.
    pub fn csrf(&self) -> String {
        value_after(&self.html, "name=\"csrf\" value=\"")
    }

    /// The text of the element with `id`.
    pub fn text_of(&self, id: &str) -> String {
        let at = self
            .html
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("#{id} in {}", self.html));
        let rest = &self.html[at..];
        let start = rest.find('>').expect("tag end") + 1;
        let end = rest[start..].find('<').expect("text end") + start;
        rest[start..end].trim().to_owned()
    }
}

fn value_after(html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"))
        + marker.len();
    html[at..].split('"').next().expect("a value").to_owned()
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookie: None,
        }
    }

    async fn read(&mut self, r: reqwest::RequestBuilder) -> Page {
        let r = match &self.cookie {
            Some(c) => r.header(COOKIE, c),
            None => r,
        };
        let resp = r.send().await.expect("request");
        if let Some(set) = resp.headers().get(SET_COOKIE) {
            let set = set.to_str().expect("cookie");
            assert!(
                set.contains("HttpOnly")
                    && set.contains("SameSite=Lax")
                    && set.contains("Path=/billing"),
                "{set}"
            );
            self.cookie = Some(set.split(';').next().expect("pair").to_owned());
        }
        Page {
            status: resp.status().as_u16(),
            location: resp
                .headers()
                .get(LOCATION)
                .map(|l| l.to_str().expect("location").to_owned()),
            html: resp.text().await.expect("body"),
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let r = self.client.get(url);
        self.read(r).await
    }

    /// A download: its content type, disposition and bytes.
    async fn download(&mut self, url: &str) -> (String, String, Vec<u8>) {
        let mut r = self.client.get(url);
        if let Some(c) = &self.cookie {
            r = r.header(COOKIE, c);
        }
        let resp = r.send().await.expect("request");
        assert_eq!(resp.status(), 200, "{url}");
        let header = |name| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().expect("header").to_owned())
                .unwrap_or_default()
        };
        let (kind, disposition) = (
            header(reqwest::header::CONTENT_TYPE),
            header(reqwest::header::CONTENT_DISPOSITION),
        );
        (
            kind,
            disposition,
            resp.bytes().await.expect("body").to_vec(),
        )
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let r = self
            .client
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        self.read(r).await
    }
}

/// A tenant with two monthly plans and, on a test clock, a customer subscribed to the
/// cheaper one with a working card: (clock, customer, subscription, basic, pro).
async fn tenant(app: &TestApp, s: &str, name: &str) -> (String, String, String, String, String) {
    let product = app.post("/v1/products", s, json!({"name": "Team"})).await;
    let product = id(product.expect(201));
    let monthly = |amount: i64| json!({"product": product, "currency": "usd", "model": "flat", "unit_amount": amount, "recurring": {"interval": "month"}});
    let basic = id(app.post("/v1/prices", s, monthly(2000)).await.expect(201));
    let pro = id(app.post("/v1/prices", s, monthly(5000)).await.expect(201));
    let clock = app
        .post(
            "/v1/test_clocks",
            s,
            json!({"name": "portal", "frozen_time": "2027-01-01T00:00:00Z"}),
        )
        .await;
    let clock = id(clock.expect(201));
    let customer = app
        .post("/v1/customers", s, json!({"name": name, "email": format!("{name}@example.com"), "test_clock": clock, "default_payment_method": "pm_card_visa"}))
        .await;
    let customer = id(customer.expect(201));
    let sub = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": customer, "items": [{"price": basic}]}),
        )
        .await;
    (clock, customer, id(sub.expect(201)), basic, pro)
}

async fn portal_link(app: &TestApp, s: &str, customer: &str) -> String {
    let r = app
        .post(
            "/v1/billing_portal/sessions",
            s,
            json!({"customer": customer, "return_url": "https://app.example.com/account"}),
        )
        .await;
    r.expect(201)["url"].as_str().expect("url").to_owned()
}

/// Upgrade with the preview's amount, a failing card fixed in the portal, a cancellation
/// with a reason after declining the retention offer: each as the API then shows it.
async fn a_customer_manages_their_billing(b: Backend) {
    let app = spawn_app(b).await;
    let s = &app.signup("ada@example.com").await.session;
    let (clock, customer, sub, basic, pro) = tenant(&app, s, "grace").await;
    let coupon = app
        .post(
            "/v1/coupons",
            s,
            json!({"percent_off": "20", "duration": "repeating", "duration_in_months": 3}),
        )
        .await;
    let coupon = id(coupon.expect(201));
    app.post(
        "/v1/billing_portal/settings",
        s,
        json!({"plan_change": {"prices": [basic, pro]}, "cancellation": {"reasons": ["too_expensive", "unused"], "retention_coupon": coupon}}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/v1/test_clocks/{clock}/advance"),
        s,
        json!({"frozen_time": "2027-01-11T00:00:00Z"}),
    )
    .await
    .expect(200);

    let mut browser = Browser::new();
    let link = portal_link(&app, s, &customer).await;
    let opened = browser.get(&link).await;
    assert_eq!(
        (opened.status, opened.location.as_deref()),
        (303, Some("/billing/"))
    );
    let home = browser.get(&app.url("/billing/")).await;
    assert_eq!(home.status, 200, "{}", home.html);
    assert!(
        home.html.contains("Team: 20.00 USD &#x2f; month"),
        "{}",
        home.html
    );
    assert!(
        home.html.contains("app.example.com&#x2f;account"),
        "the way back"
    );
    assert_eq!(home.text_of(&format!("status-{sub}")), "active");
    let csrf = home.csrf();

    // The link opened once.
    let mut other = Browser::new();
    assert_eq!(other.get(&link).await.status, 403);
    assert_eq!(other.get(&app.url("/billing/")).await.status, 403);

    // Preview the upgrade, then confirm: the invoice is what the preview said.
    let preview_url = app.url(&format!("/billing/subscriptions/{sub}/preview"));
    let preview = browser
        .post(
            &preview_url,
            &[("csrf", &csrf), ("price", &pro), ("quantity", "1")],
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.html);
    let due = preview.text_of("amount-due-now");
    let forged = browser
        .post(&preview_url, &[("csrf", "forged"), ("price", &pro)])
        .await;
    assert_eq!(forged.status, 403, "a form without the session's token");
    let update = app.url(&format!("/billing/subscriptions/{sub}/update"));
    let done = browser
        .post(
            &update,
            &[("csrf", &csrf), ("price", &pro), ("quantity", "1")],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/billing/?done=plan"));
    let invoices = app
        .get(&format!("/v1/invoices?subscription={sub}&limit=1"), s)
        .await;
    let invoice = invoices.expect(200)["data"][0].clone();
    assert_eq!(invoice["billing_reason"], "subscription_update");
    assert_eq!(invoice["status"], "paid");
    let charged = format!(
        "{}.{:02} USD",
        invoice["amount_due"].as_i64().expect("due") / 100,
        invoice["amount_due"].as_i64().expect("due") % 100
    );
    assert_eq!(due, charged, "the preview is what was charged");
    let upgraded = app.get(&format!("/v1/subscriptions/{sub}"), s).await;
    assert_eq!(upgraded.expect(200)["items"][0]["price"], pro.as_str());
    let audit = app
        .get("/v1/audit_events?action=subscription.updated&limit=100", s)
        .await;
    assert!(
        audit.expect(200)["data"]
            .as_array()
            .expect("list")
            .iter()
            .any(|e| e["actor_type"] == "customer" && e["actor_id"] == customer.as_str()),
        "audited as the customer: {}",
        audit.body
    );

    // A plan the settings do not list is refused.
    let refused = browser
        .post(
            &preview_url,
            &[
                ("csrf", &csrf),
                ("price", "price_unlisted"),
                ("quantity", "1"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);

    // The card starts declining; the renewal fails; the customer fixes the card here and
    // what is owed is paid at once.
    app.post(
        &format!("/v1/customers/{customer}"),
        s,
        json!({"default_payment_method": "pm_card_chargeDeclined"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/v1/test_clocks/{clock}/advance"),
        s,
        json!({"frozen_time": "2027-02-01T02:00:00Z"}),
    )
    .await
    .expect(200);
    let past_due = app.get(&format!("/v1/subscriptions/{sub}"), s).await;
    assert_eq!(past_due.expect(200)["status"], "past_due");
    let fixed = browser
        .post(
            &app.url("/billing/payment_method"),
            &[("csrf", &csrf), ("payment_method", "pm_card_visa")],
        )
        .await;
    assert_eq!(
        fixed.location.as_deref(),
        Some("/billing/?done=payment_method")
    );
    let active = app.get(&format!("/v1/subscriptions/{sub}"), s).await;
    assert_eq!(active.expect(200)["status"], "active");
    let renewal = app
        .get(&format!("/v1/invoices?subscription={sub}&limit=1"), s)
        .await;
    assert_eq!(renewal.expect(200)["data"][0]["status"], "paid");

    // Cancel: the retention offer first, declined; then the cancellation, with its reason.
    let cancel = app.url(&format!("/billing/subscriptions/{sub}/cancel"));
    let offer = browser
        .post(&cancel, &[("csrf", &csrf), ("reason", "too_expensive")])
        .await;
    assert_eq!(offer.status, 200);
    assert!(
        offer.html.contains("20% off for 3 months"),
        "{}",
        offer.html
    );
    let bad_reason = browser
        .post(
            &cancel,
            &[
                ("csrf", &csrf),
                ("reason", "bored"),
                ("declined_offer", "1"),
            ],
        )
        .await;
    assert_eq!(bad_reason.status, 400);
    let declined = browser
        .post(
            &cancel,
            &[
                ("csrf", &csrf),
                ("reason", "too_expensive"),
                ("declined_offer", "1"),
            ],
        )
        .await;
    assert_eq!(
        declined.location.as_deref(),
        Some("/billing/?done=cancel_scheduled")
    );
    let ending = app.get(&format!("/v1/subscriptions/{sub}"), s).await;
    let ending = ending.expect(200).clone();
    assert_eq!(ending["cancel_at_period_end"], true);
    assert_eq!(ending["cancellation_reason"], "too_expensive");
    assert!(ending["discount"].is_null(), "the offer was declined");
    let home = browser
        .get(&app.url("/billing/?done=cancel_scheduled"))
        .await;
    assert_eq!(
        home.text_of("notice"),
        "Your subscription will end at the end of the period."
    );
    // Resume it again from the portal.
    let resumed = browser
        .post(
            &app.url(&format!("/billing/subscriptions/{sub}/resume")),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(resumed.location.as_deref(), Some("/billing/?done=resumed"));
    let kept = app.get(&format!("/v1/subscriptions/{sub}"), s).await;
    assert_eq!(kept.expect(200)["cancel_at_period_end"], false);
    let invoice_page = browser
        .get(&app.url(&format!(
            "/billing/invoices/{}",
            invoice["id"].as_str().expect("id")
        )))
        .await;
    assert_eq!(invoice_page.status, 200);
    let number = invoice["number"].as_str().expect("number");
    assert!(invoice_page.html.contains(number));
    // The PDF, as a PDF reader (pypdf) reads it.
    let pdf_url = app.url(&format!(
        "/billing/invoices/{}/pdf",
        invoice["id"].as_str().expect("id")
    ));
    let (kind, disposition, pdf) = browser.download(&pdf_url).await;
    assert_eq!(kind, "application/pdf");
    assert_eq!(
        disposition,
        format!("attachment; filename=\"{number}.pdf\"")
    );
    let text = pdf_text(&pdf).await;
    for expected in [
        format!("Invoice {number}"),
        "Amount due".into(),
        charged.clone(),
        "Status: paid".into(),
    ] {
        assert!(text.contains(&expected), "{expected} in {text}");
    }
    assert_eq!(
        Browser::new().get(&pdf_url).await.status,
        403,
        "only with the session"
    );
    app.stop().await;
}

/// A portal session reaches its own customer only: not another customer of the tenant, not
/// another tenant's, not the other environment's; and its link expires.
async fn a_portal_session_sees_one_customer_only(b: Backend) {
    let app = spawn_app(b).await;
    let s = &app.signup("ada@example.com").await.session;
    let (_, a, sub_a, _, pro) = tenant(&app, s, "a").await;
    let b_customer = app
        .post(
            "/v1/customers",
            s,
            json!({"name": "b", "default_payment_method": "pm_card_visa"}),
        )
        .await;
    let b_customer = id(b_customer.expect(201));
    let sub_b = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": b_customer, "items": [{"price": pro}]}),
        )
        .await;
    let sub_b = id(sub_b.expect(201));
    let invoices_b = app
        .get(&format!("/v1/invoices?subscription={sub_b}"), s)
        .await;
    let invoice_b = invoices_b.expect(200)["data"][0]["id"]
        .as_str()
        .expect("invoice")
        .to_owned();

    let mut browser = Browser::new();
    browser.get(&portal_link(&app, s, &a).await).await;
    let home = browser.get(&app.url("/billing/")).await;
    assert!(home.html.contains(&sub_a) && !home.html.contains(&sub_b));
    let csrf = home.csrf();
    for path in [
        format!("/billing/subscriptions/{sub_b}/preview"),
        format!("/billing/subscriptions/{sub_b}/update"),
        format!("/billing/subscriptions/{sub_b}/cancel"),
        format!("/billing/subscriptions/{sub_b}/resume"),
    ] {
        let r = browser
            .post(
                &app.url(&path),
                &[
                    ("csrf", &csrf),
                    ("price", &pro),
                    ("reason", "other"),
                    ("declined_offer", "1"),
                ],
            )
            .await;
        assert_eq!(r.status, 404, "{path}: {}", r.html);
    }
    assert_eq!(
        browser
            .get(&app.url(&format!("/billing/invoices/{invoice_b}")))
            .await
            .status,
        404
    );
    let untouched = app.get(&format!("/v1/subscriptions/{sub_b}"), s).await;
    assert_eq!(untouched.expect(200)["cancel_at_period_end"], false);

    // Another tenant cannot make a session for this tenant's customer, nor the live
    // environment for a sandbox one.
    let eve = app.signup("eve@example.com").await;
    app.post(
        "/v1/billing_portal/sessions",
        &eve.session,
        json!({"customer": a}),
    )
    .await
    .expect_problem(404, "resource_not_found");
    let (live, _) = app.live_and_test_keys(s).await;
    app.post("/v1/billing_portal/sessions", &live, json!({"customer": a}))
        .await
        .expect_problem(404, "resource_not_found");
    app.post(
        "/v1/billing_portal/sessions",
        s,
        json!({"customer": a, "return_url": "javascript:alert(1)"}),
    )
    .await
    .expect_problem(400, "validation_error");
    let created = app
        .get("/v1/webhook_events?type=billing_portal.session.created", s)
        .await;
    assert_eq!(
        created.expect(200)["data"][0]["data"]["customer"],
        a.as_str()
    );

    // A link not opened within five minutes no longer opens.
    let late = portal_link(&app, s, &a).await;
    app.clock().advance(std::time::Duration::from_secs(301));
    assert_eq!(Browser::new().get(&late).await.status, 403);
    // The open session ends an hour after it opened.
    app.clock().advance(std::time::Duration::from_secs(3600));
    assert_eq!(browser.get(&app.url("/billing/")).await.status, 403);
    app.stop().await;
}

/// The text a PDF reader (pypdf, from the test virtualenv) finds in `pdf`.
async fn pdf_text(pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("nf_{}.pdf", uuid::Uuid::now_v7().simple()));
    std::fs::write(&path, pdf).expect("write the PDF");
    let out = tokio::process::Command::new(crate::tools::python())
        .args([
            "-c",
            "import sys, pypdf; print(''.join(p.extract_text() for p in pypdf.PdfReader(sys.argv[1]).pages))",
        ])
        .arg(&path)
        .output()
        .await
        .expect("python runs");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "pypdf: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

crate::on_both_backends!(
    a_customer_manages_their_billing,
    a_portal_session_sees_one_customer_only,
);

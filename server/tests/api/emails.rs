//! Transactional email: billing events write branded emails to the customers they are
//! about, as the tenant's settings say; the sandbox captures them; a real SMTP server
//! (aiosmtpd, tests/email/smtp_sink.py) receives them; and after kill -9 of the server with
//! emails waiting, each arrives exactly once.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::process::Command;

use crate::helpers::{
    Backend, Binary, TestApp, eventually, post, scratch_database, spawn_app, spawn_app_configured,
};
use crate::tools::{Running, python, start, workspace};

/// Runs the email worker once.
async fn send_emails(app: &TestApp) -> usize {
    let state = &app.server.as_ref().expect("running").state;
    neoforge_server::email::delivery::tick(state)
        .await
        .expect("email tick")
}

fn data(v: &Value) -> Vec<Value> {
    v["data"].as_array().cloned().unwrap_or_default()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// A monthly flat price of 49.00 USD.
async fn plan(app: &TestApp, s: &str) -> String {
    let product = app.post("/v1/products", s, json!({"name": "Team"})).await;
    let price = app
        .post(
            "/v1/prices",
            s,
            json!({"product": id(product.expect(201)), "currency": "usd", "model": "flat",
                   "unit_amount": 4900, "recurring": {"interval": "month"}}),
        )
        .await;
    id(price.expect(201))
}

async fn customer(app: &TestApp, s: &str, body: Value) -> String {
    id(app.post("/v1/customers", s, body).await.expect(201))
}

async fn subscribe(app: &TestApp, s: &str, customer: &str, price: &str) -> Value {
    let r = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": customer, "items": [{"price": price}]}),
        )
        .await;
    r.expect(201).clone()
}

/// An SMTP server writing what it receives into a directory of its own.
struct Sink {
    _process: Running,
    port: u16,
    dir: PathBuf,
}

impl Sink {
    async fn start(port: Option<u16>) -> Sink {
        let dir = std::env::temp_dir().join(format!("nf_smtp_{}", uuid::Uuid::now_v7().simple()));
        let mut command = Command::new(python());
        command
            .arg(workspace().join("tests/email/smtp_sink.py"))
            .arg(&dir);
        if let Some(port) = port {
            command.arg("--port").arg(port.to_string());
        }
        let process = start(command).await;
        let ready: Value = serde_json::from_str(&process.ready).expect("the sink's port");
        Sink {
            port: u16::try_from(ready["port"].as_u64().expect("port")).expect("a port"),
            _process: process,
            dir,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far.
    fn received(&self) -> Vec<Value> {
        received_in(&self.dir)
    }
}

fn received_in(dir: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("a message");
            serde_json::from_str(&text).expect("JSON")
        })
        .collect()
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Settings shape what is sent: kinds switched off send nothing, the sender name, reply-to
/// and brand show in every email, a customer without an address gets none, and in the
/// sandbox without SMTP the emails are captured with their content.
async fn billing_events_email_customers_as_settings_say(b: Backend) {
    let app = spawn_app(b).await;
    let ada = app.signup("ada@example.com").await;
    let s = &ada.session;

    let defaults = app.get("/v1/email_settings", s).await;
    let defaults = defaults.expect(200).clone();
    assert_eq!(defaults["enabled"].as_array().map(Vec::len), Some(6));
    assert_eq!(defaults["brand"]["primary_color"], "#4f46e5");
    assert!(defaults["brand"]["name"].is_string());

    let bad = app
        .post(
            "/v1/email_settings",
            s,
            json!({"brand": {"name": "Acme", "primary_color": "red"}}),
        )
        .await;
    bad.expect_problem(400, "validation_error");
    assert_eq!(bad.body["errors"][0]["field"], "brand.primary_color");
    let injected = app
        .post(
            "/v1/email_settings",
            s,
            json!({"sender_name": "Acme\r\nBcc: all@example.com", "brand": {"name": "Acme"}}),
        )
        .await;
    injected.expect_problem(400, "validation_error");

    let settings = json!({
        "sender_name": "Acme Billing",
        "reply_to": "Billing@Acme.example",
        "enabled": ["invoice_paid", "payment_failed", "subscription_canceled"],
        "brand": {"name": "Acme", "primary_color": "#112233"},
    });
    let saved = app.post("/v1/email_settings", s, settings).await;
    assert_eq!(saved.expect(200)["reply_to"], "billing@acme.example");

    let price = plan(&app, s).await;
    let payer = customer(
        &app,
        s,
        json!({"name": "Grace <Hopper>", "email": "grace@example.com", "default_payment_method": "pm_card_visa"}),
    )
    .await;
    let declined = customer(
        &app,
        s,
        json!({"email": "lin@example.com", "default_payment_method": "pm_card_chargeDeclined"}),
    )
    .await;
    let silent = customer(
        &app,
        s,
        json!({"name": "No address", "default_payment_method": "pm_card_visa"}),
    )
    .await;
    for c in [&payer, &declined, &silent] {
        subscribe(&app, s, c, &price).await;
    }

    let listed = app.get("/v1/emails?limit=100", s).await;
    let emails = data(listed.expect(200));
    let kinds: Vec<(&str, &str)> = emails
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().expect("kind"),
                e["to"].as_str().expect("to"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("payment_failed", "lin@example.com"),
            ("invoice_paid", "grace@example.com")
        ],
        "invoice_finalized is off; the customer without an address gets none"
    );
    assert_eq!(emails[1]["status"], "pending");
    assert!(emails[1]["content"].is_null(), "rendered when first sent");

    // The sandbox has no SMTP server here: the worker renders and captures them.
    assert_eq!(send_emails(&app).await, 2);
    let receipt = app.get(&format!("/v1/emails/{}", id(&emails[1])), s).await;
    let receipt = receipt.expect(200).clone();
    assert_eq!(receipt["status"], "captured");
    assert_eq!(receipt["attempts"], 1);
    assert!(receipt["sent_at"].is_null());
    assert_eq!(receipt["customer"], payer.as_str());
    let content = &receipt["content"];
    assert_eq!(content["sender_name"], "Acme Billing");
    assert_eq!(content["reply_to"], "billing@acme.example");
    let subject = content["subject"].as_str().expect("subject");
    assert!(subject.starts_with("Receipt for invoice INV-"), "{subject}");
    let html = content["html"].as_str().expect("html");
    assert!(html.contains("#112233"), "branded: {html}");
    assert!(html.contains("Grace &lt;Hopper&gt;"), "escaped: {html}");
    let text = content["text"].as_str().expect("text");
    assert!(text.contains("Hello Grace <Hopper>,"), "{text}");
    assert!(text.contains("49.00 USD"), "{text}");
    let failed = app.get(&format!("/v1/emails/{}", id(&emails[0])), s).await;
    let failed = failed.expect(200)["content"]["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(
        failed.contains("We could not collect 49.00 USD"),
        "{failed}"
    );
    let link = failed
        .split_whitespace()
        .find(|w| w.contains("/billing/bpl_"))
        .unwrap_or_else(|| panic!("a portal link in {failed}"));
    assert!(link.starts_with(&app.base), "{link}");
    assert_eq!(
        send_emails(&app).await,
        0,
        "settled emails are not sent again"
    );

    let of_payer = app.get(&format!("/v1/emails?customer={payer}"), s).await;
    assert_eq!(data(of_payer.expect(200)).len(), 1);

    // Another tenant, and the live environment, see none of them.
    let eve = app.signup("eve@example.com").await;
    app.get(&format!("/v1/emails/{}", id(&receipt)), &eve.session)
        .await
        .expect_problem(404, "resource_not_found");
    assert!(data(app.get("/v1/emails", &eve.session).await.expect(200)).is_empty());
    let (live, _) = app.live_and_test_keys(s).await;
    app.get(&format!("/v1/emails/{}", id(&receipt)), &live)
        .await
        .expect_problem(404, "resource_not_found");
    assert!(data(app.get("/v1/emails", &live).await.expect(200)).is_empty());
}

/// Every kind previews with made-up data and the tenant's brand.
async fn previews_render_every_kind_with_the_brand(b: Backend) {
    let app = spawn_app(b).await;
    let s = &app.signup("ada@example.com").await.session;
    app.post(
        "/v1/email_settings",
        s,
        json!({"brand": {"name": "Acme", "primary_color": "#abcdef", "logo_url": "https://acme.example/logo.png"}}),
    )
    .await
    .expect(200);
    let kinds = [
        "invoice_finalized",
        "invoice_paid",
        "payment_failed",
        "trial_will_end",
        "subscription_canceled",
        "usage_threshold_reached",
    ];
    let mut subjects = Vec::new();
    for kind in kinds {
        let r = app
            .post("/v1/email_previews", s, json!({"kind": kind}))
            .await;
        let body = r.expect(200);
        let html = body["html"].as_str().expect("html");
        assert!(html.contains("#abcdef"), "{kind}: {html}");
        assert!(
            html.contains("acme.example&#x2f;logo.png"),
            "{kind}: {html}"
        );
        assert!(
            body["text"]
                .as_str()
                .is_some_and(|t| t.contains("Hello Ada Lovelace,") && !t.contains('<')),
            "{kind}: {body}"
        );
        subjects.push(body["subject"].as_str().expect("subject").to_owned());
    }
    subjects.dedup();
    assert_eq!(subjects.len(), kinds.len(), "each kind says its own");
    app.post("/v1/email_previews", s, json!({"kind": "newsletter"}))
        .await
        .expect_problem(400, "validation_error");
    assert!(
        data(app.get("/v1/emails", s).await.expect(200)).is_empty(),
        "a preview is not an email"
    );
}

/// Three days before a trial ends, `subscription.trial_will_end` goes out with its email.
async fn trial_will_end_is_sent_three_days_before(b: Backend) {
    let app = spawn_app(b).await;
    let s = &app.signup("ada@example.com").await.session;
    let price = plan(&app, s).await;
    let clock = app
        .post(
            "/v1/test_clocks",
            s,
            json!({"name": "trial", "frozen_time": "2027-03-01T00:00:00Z"}),
        )
        .await;
    let clock = id(clock.expect(201));
    let c = customer(
        &app,
        s,
        json!({"email": "t@example.com", "test_clock": clock}),
    )
    .await;
    let sub = app
        .post(
            "/v1/subscriptions",
            s,
            json!({"customer": c, "items": [{"price": price}], "trial_days": 14}),
        )
        .await;
    let sub = id(sub.expect(201));
    let advance = |to: &'static str| {
        let path = format!("/v1/test_clocks/{clock}/advance");
        let app = &app;
        async move {
            app.post(&path, s, json!({"frozen_time": to}))
                .await
                .expect(200);
        }
    };
    let reminders = || async {
        let events = app
            .get("/v1/webhook_events?type=subscription.trial_will_end", s)
            .await;
        data(events.expect(200))
    };
    advance("2027-03-11T23:00:00Z").await;
    assert!(
        reminders().await.is_empty(),
        "not yet: 3 days and an hour left"
    );
    advance("2027-03-12T00:00:00Z").await;
    let sent = reminders().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["data"]["id"], sub.as_str());
    advance("2027-03-14T00:00:00Z").await;
    assert_eq!(reminders().await.len(), 1, "once");
    let emails = app.get("/v1/emails", s).await;
    let trial: Vec<Value> = data(emails.expect(200))
        .into_iter()
        .filter(|e| e["kind"] == "trial_will_end")
        .collect();
    assert_eq!(trial.len(), 1);
    send_emails(&app).await;
    let trial = app.get(&format!("/v1/emails/{}", id(&trial[0])), s).await;
    let subject = trial.expect(200)["content"]["subject"]
        .as_str()
        .expect("subject")
        .to_owned();
    assert!(subject.ends_with("trial ends on 2027-03-15"), "{subject}");
}

/// With a sandbox SMTP server configured, emails go to it: text and HTML, the sender's
/// name, reply-to and the email's id as Message-ID.
async fn emails_arrive_at_the_smtp_server(b: Backend) {
    let sink = Sink::start(None).await;
    let url = sink.url();
    let app = spawn_app_configured(b, |args| args.email.sandbox_smtp_url = Some(url)).await;
    let s = &app.signup("ada@example.com").await.session;
    app.post(
        "/v1/email_settings",
        s,
        json!({"sender_name": "Acme Billing", "reply_to": "help@acme.example", "brand": {"name": "Acme"}}),
    )
    .await
    .expect(200);
    let price = plan(&app, s).await;
    let c = customer(
        &app,
        s,
        json!({"name": "Grace", "email": "grace@example.com", "default_payment_method": "pm_card_visa"}),
    )
    .await;
    subscribe(&app, s, &c, &price).await;
    assert_eq!(send_emails(&app).await, 2, "finalized and paid");
    let got = sink.received();
    assert_eq!(got.len(), 2);
    let emails = data(app.get("/v1/emails", s).await.expect(200));
    for email in &emails {
        assert_eq!(email["status"], "sent", "{email}");
        assert!(email["sent_at"].is_string());
        let message = got
            .iter()
            .find(|m| {
                m["message_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with(&format!("<{}@", id_of(email))))
            })
            .unwrap_or_else(|| panic!("{} arrived: {got:?}", email["id"]));
        let content = &email["content"];
        assert_eq!(message["subject"], content["subject"]);
        assert_eq!(message["rcpt_tos"], json!(["grace@example.com"]));
        assert_eq!(message["from"], "Acme Billing <billing@neoforge.localhost>");
        assert_eq!(message["reply_to"], "help@acme.example");
        assert_eq!(
            message["text"].as_str().map(str::trim_end),
            content["text"].as_str().map(str::trim_end)
        );
        assert!(
            message["html"]
                .as_str()
                .is_some_and(|h| h.contains("49.00 USD"))
        );
    }
}

fn id_of(email: &Value) -> &str {
    email["id"].as_str().expect("id")
}

/// Emails waiting while the SMTP server is down, the server killed with -9 and restarted
/// once it is up: each arrives exactly once.
async fn waiting_emails_arrive_once_after_kill_9(b: Backend) {
    // A port with nothing listening, for now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let smtp = format!("smtp://127.0.0.1:{port}");
    let args = ["--sandbox-smtp-url", &smtp, "--email-interval-ms", "50"];
    let db = scratch_database(b).await;
    let url = db.url.clone();
    let client = reqwest::Client::new();
    let server = Binary::start(&url, &args).await;
    let base = server.base.clone();
    let signup = post(
        &client,
        &base,
        "",
        "/v1/users",
        &json!({"email": "k@example.com", "password": "correct horse battery"}),
    )
    .await
    .expect("sign up");
    let session = signup["session"]["token"]
        .as_str()
        .expect("session")
        .to_owned();
    let call = |path: &'static str, body: Value| {
        let (client, base, session) = (client.clone(), base.clone(), session.clone());
        async move {
            post(&client, &base, &session, path, &body)
                .await
                .unwrap_or_else(|| panic!("POST {path}"))
        }
    };
    let product = call("/v1/products", json!({"name": "Team"})).await;
    let price = call(
        "/v1/prices",
        json!({"product": id(&product), "currency": "usd", "model": "flat", "unit_amount": 4900,
               "recurring": {"interval": "month"}}),
    )
    .await;
    const CUSTOMERS: usize = 5;
    for n in 0..CUSTOMERS {
        let c = call(
            "/v1/customers",
            json!({"email": format!("c{n}@example.com"), "default_payment_method": "pm_card_visa"}),
        )
        .await;
        call(
            "/v1/subscriptions",
            json!({"customer": id(&c), "items": [{"price": id(&price)}]}),
        )
        .await;
    }
    let list = |base: String| {
        let (client, session) = (client.clone(), session.clone());
        async move {
            let r = client
                .get(format!("{base}/v1/emails?limit=100"))
                .bearer_auth(&session)
                .send()
                .await
                .expect("list emails");
            data(&r.json::<Value>().await.expect("JSON"))
        }
    };
    let emails = 2 * CUSTOMERS;
    eventually(
        "every email tried once against the dead SMTP port",
        || async {
            let listed = list(base.clone()).await;
            listed.len() == emails
                && listed
                    .iter()
                    .all(|e| e["status"] == "pending" && e["attempts"].as_i64() >= Some(1))
        },
    )
    .await;
    server.kill_9();

    let sink = Sink::start(Some(port)).await;
    let server = Binary::start(&url, &args).await;
    let base = server.base.clone();
    eventually("every email sent after the restart", || async {
        list(base.clone())
            .await
            .iter()
            .all(|e| e["status"] == "sent")
    })
    .await;
    let listed = list(base.clone()).await;
    let got = sink.received();
    let mut ids: Vec<&str> = got
        .iter()
        .map(|m| m["message_id"].as_str().expect("Message-ID"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(got.len(), emails, "each once: {got:?}");
    assert_eq!(ids.len(), emails, "no email twice");
    for email in &listed {
        assert!(
            ids.iter()
                .any(|m| m.starts_with(&format!("<{}@", id_of(email)))),
            "{} arrived",
            email["id"]
        );
    }
    drop(server);
    drop(db);
}

crate::on_both_backends!(
    billing_events_email_customers_as_settings_say,
    previews_render_every_kind_with_the_brand,
    trial_will_end_is_sent_three_days_before,
    emails_arrive_at_the_smtp_server,
    waiting_emails_arrive_once_after_kill_9,
);

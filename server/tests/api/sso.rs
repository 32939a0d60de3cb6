//! Single sign-on against a real OpenID provider (panva's oidc-provider, tests/identity), a
//! real DNS server for domain verification (dnslib), and a cookie-keeping client that clicks
//! through the provider's login and consent pages like a browser.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::helpers::{Account, Backend, Reply, TestApp, read, spawn_app_configured};
use crate::tools::{self, Running};

const CLIENT_ID: &str = "neoforge-test";
const CLIENT_SECRET: &str = "provider-secret";

pub async fn spawn(b: Backend, dns: Option<&Dns>) -> TestApp {
    let dns = dns.map(|d| d.addr);
    spawn_app_configured(b, move |args| {
        args.payments.encryption_key = Some(domain::crypto::MasterKey::from_bytes([9; 32]));
        args.dns_server = dns;
    })
    .await
}

struct Provider {
    issuer: String,
    /// The provider process, when the run shares none (`NEOFORGE_TEST_OIDC`).
    _own: Option<Running>,
}

/// An OpenID provider whose one client redirects to `app`; `groups` maps logins to groups.
/// It lives in the run's shared provider process (`cargo xtask test` starts one), else in
/// one this test starts.
async fn provider(app: &TestApp, groups: Value) -> Provider {
    let (base, own) = match std::env::var("NEOFORGE_TEST_OIDC") {
        Ok(base) => (base, None),
        Err(_) => {
            let mut command = Command::new("node");
            command
                .arg("oidc_provider.mjs")
                .current_dir(tools::node_modules().parent().expect("tests/identity"));
            let process = tools::start(command).await;
            let ready: Value = serde_json::from_str(&process.ready).expect("ready line");
            let base = ready["base"].as_str().expect("base").to_owned();
            (base, Some(process))
        }
    };
    let created = reqwest::Client::new()
        .post(format!("{base}/providers"))
        .body(
            json!({
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": app.url("/v1/sso/oidc/callback"),
                "groups": groups,
            })
            .to_string(),
        )
        .send()
        .await
        .expect("create a provider");
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.expect("provider json");
    Provider {
        issuer: created["issuer"].as_str().expect("issuer").to_owned(),
        _own: own,
    }
}

impl Provider {
    /// Makes the token endpoint hand out spoiled ID tokens from now on.
    async fn spoil(&self, how: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/__spoil", self.issuer))
            .body(how.to_owned())
            .send()
            .await
            .expect("spoil");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
}

/// A DNS server answering TXT queries from a zone file of the test's own: the run's shared
/// server (`NEOFORGE_TEST_DNS`, reading `NEOFORGE_TEST_DNS_ZONES`), else one this test starts.
pub struct Dns {
    addr: std::net::SocketAddr,
    zone: std::path::PathBuf,
    own: Option<Running>,
}

pub async fn dns() -> Dns {
    let shared = std::env::var("NEOFORGE_TEST_DNS").ok();
    let zones = match std::env::var_os("NEOFORGE_TEST_DNS_ZONES") {
        Some(dir) if shared.is_some() => std::path::PathBuf::from(dir),
        _ => std::env::temp_dir().join(format!("nf_zones_{}", uuid::Uuid::now_v7())),
    };
    std::fs::create_dir_all(&zones).expect("zones");
    let (port, own) = match shared {
        Some(port) => (port, None),
        None => {
            let mut command = Command::new(tools::python());
            command
                .arg(tools::workspace().join("tests/identity/dns_server.py"))
                .arg(&zones);
            let process = tools::start(command).await;
            (process.ready.trim().to_owned(), Some(process))
        }
    };
    Dns {
        addr: ([127, 0, 0, 1], port.parse().expect("port")).into(),
        zone: zones.join(format!("{}.json", uuid::Uuid::now_v7())),
        own,
    }
}

impl Dns {
    pub fn publish(&self, name: &str, value: &str) {
        let mut zone: BTreeMap<String, Vec<String>> = match std::fs::read_to_string(&self.zone) {
            Ok(text) => serde_json::from_str(&text).expect("zone json"),
            Err(_) => BTreeMap::new(),
        };
        zone.entry(format!("{name}."))
            .or_default()
            .push(value.to_owned());
        // Renamed into place, so that the server, reading it on every query, never sees half.
        let next = self.zone.with_extension("next");
        std::fs::write(&next, serde_json::to_string(&zone).expect("json")).expect("zone");
        std::fs::rename(&next, &self.zone).expect("zone");
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.zone);
        if self.own.is_some() {
            let _ = std::fs::remove_dir(self.zone.parent().expect("the zones"));
        }
    }
}

/// Follows redirects by hand, keeping the provider's cookies, and fills in its login form
/// (as `login`) and consent form. Returns the app's answer to the provider's callback.
async fn browser_login(app: &TestApp, provider: &Provider, start: &str, login: &str) -> Reply {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    let first = client.get(app.url(start)).send().await.expect("authorize");
    assert_eq!(first.status(), StatusCode::FOUND, "authorize redirects");
    let mut url = location(&first);
    assert!(url.starts_with(&provider.issuer), "to the provider: {url}");
    for _ in 0..20 {
        if url.starts_with(&app.base) {
            return read(client.get(&url).send().await.expect("callback")).await;
        }
        let cookies_sent = cookie_header(&cookies);
        let resp = client
            .get(&url)
            .header("cookie", cookies_sent)
            .send()
            .await
            .expect("provider page");
        keep_cookies(&resp, &mut cookies);
        if resp.status().is_redirection() {
            url = location(&resp);
            continue;
        }
        assert_eq!(resp.status(), StatusCode::OK, "a provider page at {url}");
        let page = resp.text().await.expect("page");
        let form: Vec<(&str, &str)> = if page.contains("name=\"login\"") {
            vec![("prompt", "login"), ("login", login), ("password", "any")]
        } else {
            vec![("prompt", "consent")]
        };
        let cookies_sent = cookie_header(&cookies);
        let resp = client
            .post(&url)
            .header("cookie", cookies_sent)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&form))
            .send()
            .await
            .expect("submit");
        keep_cookies(&resp, &mut cookies);
        assert!(
            resp.status().is_redirection(),
            "{} after a form",
            resp.status()
        );
        url = location(&resp);
    }
    panic!("the login did not come back to the app");
}

fn cookie_header(jar: &BTreeMap<String, String>) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Where a redirect goes, resolved against the URL that answered it.
fn location(resp: &reqwest::Response) -> String {
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location");
    resp.url().join(loc).expect("a URL").to_string()
}

fn keep_cookies(resp: &reqwest::Response, jar: &mut BTreeMap<String, String>) {
    for v in resp.headers().get_all("set-cookie") {
        let pair = v.to_str().unwrap_or("").split(';').next().unwrap_or("");
        if let Some((k, v)) = pair.split_once('=') {
            if v.is_empty() {
                jar.remove(k);
            } else {
                jar.insert(k.to_owned(), v.to_owned());
            }
        }
    }
}

/// The session token in a login's `Set-Cookie`.
pub fn session_of(reply: &Reply) -> String {
    let cookie = reply.header("set-cookie").expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    cookie
        .split(';')
        .next()
        .and_then(|p| p.strip_prefix("nf_session="))
        .expect("nf_session")
        .to_owned()
}

async fn as_org(
    app: &TestApp,
    token: &str,
    org: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    app.call_with(
        method,
        path,
        Some(token),
        body,
        &[("NeoForge-Organization", org)],
    )
    .await
}

async fn create_connection(
    app: &TestApp,
    owner: &Account,
    provider: &Provider,
    body: Value,
) -> Value {
    let mut req = json!({
        "name": "Acme IdP",
        "kind": "oidc",
        "oidc": {"issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    });
    if let (Some(req), Some(extra)) = (req.as_object_mut(), body.as_object()) {
        req.extend(extra.clone());
    }
    as_org(
        app,
        &owner.session,
        &owner.org_id,
        Method::POST,
        "/v1/sso/connections",
        Some(req),
    )
    .await
    .expect(201)
    .clone()
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

async fn oidc_login_provisions_a_member_with_a_bound_session(b: Backend) {
    let app = spawn(b, None).await;
    let owner = app.signup("owner@acme.test").await;
    let other = app.signup("owner@globex.test").await;
    let provider = provider(&app, json!({"ada@acme.test": ["eng"]})).await;
    let conn = create_connection(
        &app,
        &owner,
        &provider,
        json!({"role_mappings": [{"group": "eng", "role": "developer"}]}),
    )
    .await;
    assert_eq!(
        conn["oidc"]["redirect_uri"],
        app.url("/v1/sso/oidc/callback")
    );
    assert!(conn.get("client_secret").is_none() && !conn.to_string().contains(CLIENT_SECRET));
    let start = format!(
        "/v1/sso/authorize?connection={}&redirect_to=/portal/keys",
        id(&conn)
    );

    let landed = browser_login(&app, &provider, &start, "ada@acme.test").await;
    assert_eq!(landed.status, StatusCode::SEE_OTHER, "{}", landed.body);
    assert_eq!(landed.header("location"), Some("/portal/keys"));
    let ada = session_of(&landed);

    // Provisioned just in time, with the mapped role, in the connection's organization only.
    let me = app.get("/v1/users/me", &ada).await.expect(200).clone();
    assert_eq!(me["user"]["email"], "ada@acme.test");
    let members = app.get("/v1/members", &owner.session).await;
    let ada_member = members.expect(200)["data"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["email"] == "ada@acme.test")
        .cloned()
        .expect("ada is a member");
    assert_eq!(ada_member["role"], "developer");
    let keys = app.get("/v1/api_keys", &ada).await;
    keys.expect(200);

    // The session is bound: not another organization, not the other environment.
    as_org(&app, &ada, &other.org_id, Method::GET, "/v1/members", None)
        .await
        .expect_problem(403, "forbidden");
    app.call_with(
        Method::GET,
        "/v1/api_keys",
        Some(&ada),
        None,
        &[("NeoForge-Environment", "live")],
    )
    .await
    .expect_problem(403, "forbidden");
    // Provisioned users have no password.
    app.call(
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({"email": "ada@acme.test", "password": ""})),
    )
    .await
    .expect_problem(401, "invalid_credentials");

    // A second login finds the same user; the connection shows it; the audit log has both.
    let again = browser_login(&app, &provider, &start, "ada@acme.test").await;
    let ada2 = session_of(&again);
    let me2 = app.get("/v1/users/me", &ada2).await;
    assert_eq!(me2.expect(200)["user"]["id"], me["user"]["id"]);
    let shown = app
        .get(
            &format!("/v1/sso/connections/{}", id(&conn)),
            &owner.session,
        )
        .await;
    assert!(shown.expect(200)["last_login_at"].is_string());
    let audit = app.get("/v1/audit_events?limit=100", &owner.session).await;
    let actions: Vec<&str> = audit.expect(200)["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "sso.login_succeeded")
            .count(),
        2
    );
    assert!(actions.contains(&"member.provisioned"));

    // The other organization gained no member.
    let theirs = app.get("/v1/members", &other.session).await;
    assert_eq!(
        theirs.expect(200)["data"]
            .as_array()
            .expect("members")
            .len(),
        1
    );
    app.stop().await;
}

async fn spoiled_id_tokens_and_replayed_states_are_refused(b: Backend) {
    let app = spawn(b, None).await;
    let owner = app.signup("owner@acme.test").await;
    let provider = provider(&app, json!({})).await;
    let conn = create_connection(&app, &owner, &provider, json!({})).await;
    let start = format!("/v1/sso/authorize?connection={}", id(&conn));

    for how in ["tamper", "audience", "nonce", "expired", "foreign_key"] {
        provider.spoil(how).await;
        let refused = browser_login(&app, &provider, &start, "eve@acme.test").await;
        refused.expect_problem(401, "oidc_invalid_id_token");
        assert!(refused.header("set-cookie").is_none(), "{how}: no session");
    }
    let shown = app
        .get(
            &format!("/v1/sso/connections/{}", id(&conn)),
            &owner.session,
        )
        .await;
    let shown = shown.expect(200);
    assert!(shown["last_login_at"].is_null());
    assert!(
        shown["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("oidc_invalid_id_token")),
        "{shown}"
    );
    let members = app.get("/v1/members", &owner.session).await;
    assert_eq!(
        members.expect(200)["data"].as_array().expect("m").len(),
        1,
        "nobody provisioned"
    );

    // A good login's callback works once; replayed, its state is spent.
    provider.spoil("none").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let ok = browser_login(&app, &provider, &start, "eve@acme.test").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let bogus = client
        .get(app.url("/v1/sso/oidc/callback?state=nf_sso_unknown&code=x"))
        .send()
        .await
        .expect("callback");
    read(bogus).await.expect_problem(401, "sso_state_invalid");
    app.stop().await;
}

async fn connections_are_checked_and_isolated(b: Backend) {
    let app = spawn(b, None).await;
    let acme = app.signup("owner@acme.test").await;
    let globex = app.signup("owner@globex.test").await;
    let provider = provider(&app, json!({})).await;
    let post = |account: &Account, body: Value| {
        let app = &app;
        let account = account.clone();
        async move {
            as_org(
                app,
                &account.session,
                &account.org_id,
                Method::POST,
                "/v1/sso/connections",
                Some(body),
            )
            .await
        }
    };
    // No discovery document there.
    post(&acme, json!({"name": "x", "kind": "oidc", "oidc": {"issuer": format!("{}/nowhere", provider.issuer), "client_id": "a", "client_secret": "b"}}))
        .await
        .expect_problem(422, "oidc_discovery_failed");
    post(&acme, json!({"name": "x", "kind": "oidc"}))
        .await
        .expect_problem(400, "validation_error");
    post(&acme, json!({"name": "x", "kind": "oidc", "default_role": "owner", "oidc": {"issuer": provider.issuer, "client_id": "a", "client_secret": "b"}}))
        .await
        .expect_problem(400, "validation_error");
    // Live connections need https on a public host.
    app.call_with(
        Method::POST,
        "/v1/sso/connections",
        Some(&acme.session),
        Some(json!({"name": "x", "kind": "oidc", "oidc": {"issuer": provider.issuer, "client_id": "a", "client_secret": "b"}})),
        &[("NeoForge-Environment", "live")],
    )
    .await
    .expect_problem(400, "validation_error");

    let conn = create_connection(&app, &acme, &provider, json!({})).await;
    let path = format!("/v1/sso/connections/{}", id(&conn));
    // Another organization, or the live environment, cannot see or change it.
    app.get(&path, &globex.session)
        .await
        .expect_problem(404, "resource_not_found");
    app.call(Method::DELETE, &path, Some(&globex.session), None)
        .await
        .expect_problem(404, "resource_not_found");
    app.call_with(
        Method::GET,
        &path,
        Some(&acme.session),
        None,
        &[("NeoForge-Environment", "live")],
    )
    .await
    .expect_problem(404, "resource_not_found");
    let (_, viewer_key) = app
        .create_key(
            &acme.session,
            json!({"name": "ro", "scopes": ["identity:read"]}),
            false,
        )
        .await;
    app.get(&path, &viewer_key).await.expect(200);
    app.call(
        Method::PATCH,
        &path,
        Some(&viewer_key),
        Some(json!({"status": "inactive"})),
    )
    .await
    .expect_problem(403, "forbidden");

    // Inactive connections refuse logins; routing by organization finds none active.
    app.call(
        Method::PATCH,
        &path,
        Some(&acme.session),
        Some(json!({"status": "inactive"})),
    )
    .await
    .expect(200);
    app.call(
        Method::GET,
        &format!("/v1/sso/authorize?connection={}", id(&conn)),
        None,
        None,
    )
    .await
    .expect_problem(409, "connection_inactive");
    app.call(
        Method::GET,
        &format!("/v1/sso/authorize?organization={}", acme.org_id),
        None,
        None,
    )
    .await
    .expect_problem(404, "resource_not_found");
    app.call(
        Method::GET,
        "/v1/sso/authorize?connection=x&redirect_to=https://evil.test/",
        None,
        None,
    )
    .await
    .expect_problem(400, "validation_error");
    app.call(Method::DELETE, &path, Some(&acme.session), None)
        .await
        .expect(204);
    app.get(&path, &acme.session)
        .await
        .expect_problem(404, "resource_not_found");
    app.stop().await;
}

async fn connections_need_the_encryption_key(b: Backend) {
    let app = spawn_app_configured(b, |_| {}).await;
    let acme = app.signup("owner@acme.test").await;
    app.post(
        "/v1/sso/connections",
        &acme.session,
        json!({"name": "x", "kind": "oidc", "oidc": {"issuer": "https://idp.example", "client_id": "a", "client_secret": "b"}}),
    )
    .await
    .expect_problem(409, "encryption_key_missing");
    app.stop().await;
}

async fn verified_domains_route_logins_and_can_require_sso(b: Backend) {
    let dns = dns().await;
    let app = spawn(b, Some(&dns)).await;
    let acme = app.signup("owner@acme.test").await;
    let globex = app.signup("owner@globex.test").await;
    let bob = app.signup("bob@acme.test").await;
    let provider = provider(&app, json!({})).await;
    create_connection(&app, &acme, &provider, json!({})).await;

    let domain = app
        .post(
            "/v1/sso/domains",
            &acme.session,
            json!({"domain": "ACME.test"}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(domain["domain"], "acme.test");
    assert_eq!(domain["status"], "pending");
    let record = &domain["verification"];
    assert_eq!(record["name"], "_neoforge-verification.acme.test");
    let verify = format!("/v1/sso/domains/{}/verify", id(&domain));
    app.post(&verify, &acme.session, json!({}))
        .await
        .expect_problem(422, "domain_verification_failed");
    // Enforcement needs a verified domain.
    let domain_path = format!("/v1/sso/domains/{}", id(&domain));
    app.call(
        Method::PATCH,
        &domain_path,
        Some(&acme.session),
        Some(json!({"sso_required": true})),
    )
    .await
    .expect_problem(409, "domain_unverified");
    // Before verification, email routing finds nothing.
    app.call(
        Method::GET,
        "/v1/sso/authorize?email=ada@acme.test",
        None,
        None,
    )
    .await
    .expect_problem(404, "resource_not_found");

    dns.publish(
        record["name"].as_str().expect("name"),
        record["value"].as_str().expect("value"),
    );
    let verified = app.post(&verify, &acme.session, json!({})).await;
    assert_eq!(verified.expect(200)["status"], "verified");

    // Globex can claim the name but not verify it, even with its own record published.
    let theirs = app
        .post(
            "/v1/sso/domains",
            &globex.session,
            json!({"domain": "acme.test"}),
        )
        .await
        .expect(201)
        .clone();
    dns.publish(
        theirs["verification"]["name"].as_str().expect("name"),
        theirs["verification"]["value"].as_str().expect("value"),
    );
    app.post(
        &format!("/v1/sso/domains/{}/verify", id(&theirs)),
        &globex.session,
        json!({}),
    )
    .await
    .expect_problem(409, "domain_taken");
    app.get(&domain_path, &globex.session)
        .await
        .expect_problem(404, "resource_not_found");

    // Routed by email; then required: passwords stop working for the domain.
    let routed = browser_login(
        &app,
        &provider,
        "/v1/sso/authorize?email=ada@acme.test",
        "ada@acme.test",
    )
    .await;
    assert_eq!(routed.status, StatusCode::SEE_OTHER, "{}", routed.body);
    app.call(
        Method::PATCH,
        &domain_path,
        Some(&acme.session),
        Some(json!({"sso_required": true})),
    )
    .await
    .expect(200);
    app.call(
        Method::POST,
        "/v1/sessions",
        None,
        Some(json!({"email": "bob@acme.test", "password": "correct horse battery"})),
    )
    .await
    .expect_problem(403, "sso_required");
    app.call(
        Method::POST,
        "/v1/users",
        None,
        Some(json!({"email": "carol@acme.test", "password": "correct horse battery"})),
    )
    .await
    .expect_problem(403, "sso_required");
    // Enforcement ended the domain's password sessions, but the caller's own and nobody else's.
    app.get("/v1/users/me", &bob.session)
        .await
        .expect_problem(401, "invalid_session");
    app.get("/v1/users/me", &acme.session).await.expect(200);
    app.get("/v1/users/me", &globex.session).await.expect(200);

    // A provider of another organization cannot speak for acme.test addresses.
    let globex_conn = create_connection(&app, &globex, &provider, json!({})).await;
    let crossed = browser_login(
        &app,
        &provider,
        &format!("/v1/sso/authorize?connection={}", id(&globex_conn)),
        "mallory@acme.test",
    )
    .await;
    crossed.expect_problem(401, "sso_domain_mismatch");
    app.stop().await;
}

async fn directory_deactivation_stops_sso_logins(b: Backend) {
    let app = spawn(b, None).await;
    let owner = app.signup("owner@acme.test").await;
    let provider = provider(&app, json!({})).await;
    let conn = create_connection(&app, &owner, &provider, json!({})).await;
    let start = format!("/v1/sso/authorize?connection={}", id(&conn));
    let first = browser_login(&app, &provider, &start, "ada@acme.test").await;
    let ada = session_of(&first);

    // The directory provisions Ada (linking her account), then deactivates her.
    let (_, token) = crate::scim::scim_token(&app, &owner.session).await;
    let user = crate::scim::scim(
        &app,
        Method::POST,
        "/Users",
        &token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@acme.test",
            "emails": [{"value": "ada@acme.test", "type": "work", "primary": true}],
            "active": true,
        })),
    )
    .await;
    let scim_id = user.expect(201)["id"].as_str().expect("id").to_owned();
    crate::scim::scim(
        &app,
        Method::PATCH,
        &format!("/Users/{scim_id}"),
        &token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        })),
    )
    .await
    .expect(200);

    // Her session is gone, and single sign-on cannot bring her back.
    app.get("/v1/api_keys", &ada)
        .await
        .expect_problem(401, "invalid_session");
    let again = browser_login(&app, &provider, &start, "ada@acme.test").await;
    again.expect_problem(401, "membership_suspended");
    app.stop().await;
}

/// A provider links an existing account only once its organization has verified the
/// address's domain; what its directory does later ends only the sessions bound to it.
async fn jit_links_only_accounts_the_organization_may(b: Backend) {
    let dns = dns().await;
    let app = spawn(b, Some(&dns)).await;
    let alice = app.signup("alice@corp.test").await;
    let globex = app.signup("owner@globex.test").await;
    let provider = provider(&app, json!({})).await;
    let conn = create_connection(&app, &globex, &provider, json!({})).await;
    let start = format!("/v1/sso/authorize?connection={}", id(&conn));
    let refused = browser_login(&app, &provider, &start, "alice@corp.test").await;
    refused.expect_problem(401, "sso_account_not_linked");
    let members = app.get("/v1/members", &globex.session).await;
    assert_eq!(
        members.expect(200)["data"].as_array().map(Vec::len),
        Some(1)
    );

    let domain = app
        .post(
            "/v1/sso/domains",
            &globex.session,
            json!({"domain": "corp.test"}),
        )
        .await
        .expect(201)
        .clone();
    let record = &domain["verification"];
    dns.publish(
        record["name"].as_str().expect("name"),
        record["value"].as_str().expect("value"),
    );
    let verify = format!("/v1/sso/domains/{}/verify", id(&domain));
    app.post(&verify, &globex.session, json!({}))
        .await
        .expect(200);
    let landed = browser_login(&app, &provider, &start, "alice@corp.test").await;
    assert_eq!(landed.status, StatusCode::SEE_OTHER, "{}", landed.body);
    let bound = session_of(&landed);

    // Globex's directory deactivates her: her Globex session ends, nothing of hers elsewhere.
    let (_, token) = crate::scim::scim_token(&app, &globex.session).await;
    let user = crate::scim::scim(
        &app,
        Method::POST,
        "/Users",
        &token,
        Some(json!({"userName": "alice@corp.test", "active": false})),
    )
    .await;
    user.expect(201);
    app.get("/v1/users/me", &bound)
        .await
        .expect_problem(401, "invalid_session");
    app.get("/v1/users/me", &alice.session).await.expect(200);
    as_org(
        &app,
        &alice.session,
        &alice.org_id,
        Method::GET,
        "/v1/api_keys",
        None,
    )
    .await
    .expect(200);
    app.stop().await;
}

crate::on_both_backends!(
    jit_links_only_accounts_the_organization_may,
    oidc_login_provisions_a_member_with_a_bound_session,
    directory_deactivation_stops_sso_logins,
    spoiled_id_tokens_and_replayed_states_are_refused,
    connections_are_checked_and_isolated,
    connections_need_the_encryption_key,
    verified_domains_route_logins_and_can_require_sso,
);

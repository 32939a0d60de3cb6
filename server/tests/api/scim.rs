//! SCIM 2.0 provisioning: tokens, Users and Groups over `/scim/v2` as Entra ID and Okta send
//! them, what deactivation does to a member's access, the `directory.*` events, isolation
//! between organizations, and the python-scim project's compliance checker (scim2-tester)
//! run against the live server.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, Reply, TestApp, spawn_app};

const SCIM_JSON: &str = "application/scim+json";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Creates a SCIM token with the session; returns (id, token).
pub async fn scim_token(app: &TestApp, session: &str) -> (String, String) {
    let r = app
        .post("/v1/scim/tokens", session, json!({"name": "Entra ID"}))
        .await;
    let b = r.expect(201);
    assert_eq!(b["env"], "test");
    let token = b["secret"].as_str().expect("secret").to_owned();
    assert!(token.starts_with("nf_scim_"));
    assert_eq!(b["prefix"], &token[..12]);
    (b["id"].as_str().expect("id").to_owned(), token)
}

pub async fn scim(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let mut req = app
        .client
        .request(method, app.url(&format!("/scim/v2{path}")))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.header("content-type", SCIM_JSON).body(b.to_string());
    }
    crate::helpers::read(req.send().await.expect("request sent")).await
}

/// Asserts a SCIM error document.
#[track_caller]
fn expect_scim_error(r: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "body: {}", r.body);
    assert_eq!(r.header("content-type"), Some(SCIM_JSON));
    assert_eq!(r.body["schemas"], json!([ERROR]));
    assert_eq!(r.body["status"], status.to_string());
    assert!(r.body["detail"].is_string());
    match scim_type {
        Some(t) => assert_eq!(r.body["scimType"], t, "body: {}", r.body),
        None => assert!(r.body.get("scimType").is_none(), "body: {}", r.body),
    }
}

async fn create_user(app: &TestApp, token: &str, body: Value) -> Value {
    let r = scim(app, Method::POST, "/Users", token, Some(body)).await;
    assert_eq!(r.header("content-type"), Some(SCIM_JSON));
    let b = r.expect(201).clone();
    assert_eq!(
        r.header("location"),
        b["meta"]["location"].as_str(),
        "Location is meta.location"
    );
    assert_eq!(r.header("etag"), b["meta"]["version"].as_str());
    b
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

async fn list(app: &TestApp, token: &str, path: &str) -> Value {
    scim(app, Method::GET, path, token, None)
        .await
        .expect(200)
        .clone()
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// PATCHes the SCIM user at `path` to `active: false`.
async fn deactivate(app: &TestApp, token: &str, path: &str) -> Reply {
    let ops = json!([{"op": "replace", "path": "active", "value": false}]);
    scim(app, Method::PATCH, path, token, Some(patch(ops))).await
}

async fn tokens_are_managed_and_revocable(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let (token_id, token) = scim_token(&app, &owner.session).await;
    let listed = app.get("/v1/scim/tokens", &owner.session).await;
    let listed = listed.expect(200);
    assert_eq!(listed["data"][0]["id"], token_id.as_str());
    assert!(listed["data"][0].get("secret").is_none(), "shown once");
    scim(&app, Method::GET, "/Users", &token, None)
        .await
        .expect(200);

    // A key without identity:write cannot make tokens.
    let (_, key) = app
        .create_key(
            &owner.session,
            json!({"name": "ro", "scopes": ["identity:read"]}),
            false,
        )
        .await;
    app.post("/v1/scim/tokens", &key, json!({"name": "x"}))
        .await
        .expect_problem(403, "forbidden");
    app.get("/v1/scim/tokens", &key).await.expect(200);

    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/scim/tokens/{token_id}"),
            Some(&owner.session),
            None,
        )
        .await;
    r.expect(204);
    let r = scim(&app, Method::GET, "/Users", &token, None).await;
    expect_scim_error(&r, 401, None);
    let audit = app
        .get("/v1/audit_events?action=scim_token.revoked", &owner.session)
        .await;
    assert_eq!(audit.expect(200)["data"][0]["target_id"], token_id.as_str());
    app.stop().await;
}

async fn users_crud_filters_and_paging(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let (_, token) = scim_token(&app, &owner.session).await;
    let mut ids = Vec::new();
    for (i, name) in ["ada", "grace", "alan"].iter().enumerate() {
        let u = create_user(
            &app,
            &token,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "userName": format!("{name}@corp.example"),
                "externalId": format!("ext-{i}"),
                "displayName": name.to_uppercase(),
                "name": {"givenName": name, "familyName": "Example"},
                "emails": [{"value": format!("{name}@work.example"), "type": "work", "primary": true}],
                "active": true,
                "password": "never stored or returned",
                ENTERPRISE: {"department": if i == 1 { "Navy" } else { "Math" }},
            }),
        )
        .await;
        assert_eq!(u["meta"]["resourceType"], "User");
        assert_eq!(u["meta"]["version"], "W/\"1\"");
        assert!(u.get("password").is_none());
        assert_eq!(u["schemas"][1], ENTERPRISE);
        ids.push(id(&u));
    }
    let got = scim(
        &app,
        Method::GET,
        &format!("/Users/{}", ids[0]),
        &token,
        None,
    )
    .await;
    assert_eq!(got.expect(200)["userName"], "ada@corp.example");
    assert_eq!(got.header("etag"), Some("W/\"1\""));

    // userName is unique, case-insensitively.
    let dup = scim(
        &app,
        Method::POST,
        "/Users",
        &token,
        Some(json!({"userName": "ADA@corp.example"})),
    )
    .await;
    expect_scim_error(&dup, 409, Some("uniqueness"));

    let total = |v: &Value| v["totalResults"].as_u64().expect("totalResults");
    let filter = |f: &str| format!("/Users?filter={}", urlencode(f));
    assert_eq!(total(&list(&app, &token, "/Users").await), 3);
    let by_name = list(&app, &token, &filter(r#"userName eq "GRACE@corp.example""#)).await;
    assert_eq!(total(&by_name), 1);
    assert_eq!(by_name["Resources"][0]["id"], ids[1].as_str());
    let department = format!(r#"{ENTERPRISE}:department eq "math""#);
    for (f, expected) in [
        (r#"externalId eq "ext-2""#, 1),
        (r#"externalId eq "EXT-2""#, 0), // externalId is case-exact
        (r#"displayName eq "ADA""#, 1),
        (r#"emails[type eq "work"].value eq "alan@work.example""#, 1),
        (r#"userName sw "a" and name.givenName co "la""#, 1),
        (
            r#"userName eq "ada@corp.example" or externalId eq "ext-1""#,
            2,
        ),
        (department.as_str(), 2),
        ("title pr", 0),
    ] {
        assert_eq!(
            total(&list(&app, &token, &filter(f)).await),
            expected,
            "{f}"
        );
    }
    let work = list(
        &app,
        &token,
        &filter(r#"emails[type eq "work"].value eq "alan@work.example""#),
    )
    .await;
    assert_eq!(work["Resources"][0]["id"], ids[2].as_str());
    // Paging is 1-based; totalResults counts every match.
    let page = list(&app, &token, "/Users?startIndex=2&count=1").await;
    assert_eq!(
        (
            total(&page),
            page["startIndex"].as_u64(),
            page["itemsPerPage"].as_u64()
        ),
        (3, Some(2), Some(1))
    );
    assert_eq!(page["Resources"][0]["id"], ids[1].as_str());
    let none = list(&app, &token, "/Users?count=0").await;
    assert_eq!(
        (total(&none), none["Resources"].as_array().map(Vec::len)),
        (3, Some(0))
    );
    let trimmed = list(
        &app,
        &token,
        &format!("{}&attributes=userName", filter(r#"externalId eq "ext-0""#)),
    )
    .await;
    assert_eq!(
        trimmed["Resources"][0],
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE], "id": ids[0], "userName": "ada@corp.example"})
    );
    let searched = scim(
        &app,
        Method::POST,
        "/Users/.search",
        &token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName ew \"corp.example\"", "startIndex": 1, "count": 2,
        })),
    )
    .await;
    let searched = searched.expect(200);
    assert_eq!(
        (total(searched), searched["itemsPerPage"].as_u64()),
        (3, Some(2))
    );

    // PUT replaces; a stale If-Match is refused.
    let put = scim(
        &app,
        Method::PUT,
        &format!("/Users/{}", ids[0]),
        &token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": ids[0], "userName": "ada@corp.example", "title": "Countess", "active": true,
        })),
    )
    .await;
    let put = put.expect(200);
    assert_eq!(
        (put["title"].as_str(), put["meta"]["version"].as_str()),
        (Some("Countess"), Some("W/\"2\""))
    );
    assert!(
        put.get("name").is_none() && put.get(ENTERPRISE).is_none(),
        "replaced whole"
    );
    let stale = app
        .client
        .patch(app.url(&format!("/scim/v2/Users/{}", ids[0])))
        .bearer_auth(&token)
        .header("if-match", "W/\"1\"")
        .json(&patch(
            json!([{"op": "replace", "path": "title", "value": "x"}]),
        ))
        .send()
        .await
        .expect("sent");
    expect_scim_error(&crate::helpers::read(stale).await, 412, None);

    let del = scim(
        &app,
        Method::DELETE,
        &format!("/Users/{}", ids[2]),
        &token,
        None,
    )
    .await;
    assert_eq!(del.status.as_u16(), 204);
    let gone = scim(
        &app,
        Method::GET,
        &format!("/Users/{}", ids[2]),
        &token,
        None,
    )
    .await;
    expect_scim_error(&gone, 404, None);
    assert_eq!(total(&list(&app, &token, "/Users").await), 2);
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn entra_id_and_okta_patches(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let (_, token) = scim_token(&app, &owner.session).await;
    // Entra ID's provisioning, verbatim in shape: a user, then its attribute updates.
    let u = create_user(&app, &token, json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@contoso.example",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@contoso.example"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    })).await;
    let path = format!("/Users/{}", id(&u));
    let r = scim(&app, Method::PATCH, &path, &token, Some(json!({
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@contoso.example"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "title", "value": "Manager"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "2819c223-7f76-453a-919d-413861904646"},
            {"op": "Replace", "value": {"displayName": "Updated Name", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales"}},
            {"op": "Replace", "path": "active", "value": "False"},
        ],
    }))).await;
    let r = r.expect(200);
    assert_eq!(
        r["emails"],
        json!([{"primary": true, "type": "work", "value": "updatedEmail@contoso.example"}])
    );
    assert_eq!(r["name"]["familyName"], "updatedFamilyName");
    assert_eq!(r["name"]["givenName"], "givenName");
    assert_eq!(r["title"], "Manager");
    assert_eq!(
        r["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    assert_eq!(
        r[ENTERPRISE],
        json!({"manager": {"value": "2819c223-7f76-453a-919d-413861904646"}, "department": "Sales"})
    );
    assert_eq!(r["displayName"], "Updated Name");
    assert_eq!(r["active"], false);
    assert_eq!(r["meta"]["version"], "W/\"2\"");
    let r = scim(&app, Method::PATCH, &path, &token, Some(patch(json!([
        {"op": "Replace", "path": "active", "value": "True"},
        {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},
    ])))).await;
    let r = r.expect(200);
    assert_eq!(r["active"], true);
    assert_eq!(r[ENTERPRISE], json!({"department": "Sales"}));

    // Okta: a user, deactivation without a path, then profile updates by PUT.
    let o = create_user(
        &app,
        &token,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "isabella.chen@okta.example",
            "name": {"givenName": "Isabella", "familyName": "Chen"},
            "emails": [{"primary": true, "value": "isabella.chen@okta.example", "type": "work"}],
            "displayName": "Isabella Chen", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [], "password": "1mz050nq", "active": true,
        }),
    )
    .await;
    let found = list(
        &app,
        &token,
        &format!(
            "/Users?filter={}&startIndex=1&count=100",
            urlencode("userName eq \"isabella.chen@okta.example\"")
        ),
    )
    .await;
    assert_eq!(found["Resources"][0]["id"], id(&o).as_str());
    let opath = format!("/Users/{}", id(&o));
    let r = scim(
        &app,
        Method::PATCH,
        &opath,
        &token,
        Some(patch(
            json!([{"op": "replace", "value": {"active": false}}]),
        )),
    )
    .await;
    assert_eq!(r.expect(200)["active"], false);
    let r = scim(&app, Method::PUT, &opath, &token, Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": id(&o),
        "userName": "isabella.chen@okta.example", "name": {"givenName": "Isabella", "familyName": "Wong"},
        "emails": [{"primary": true, "value": "isabella.chen@okta.example", "type": "work"}],
        "displayName": "Isabella Wong", "active": true, "groups": [],
        "meta": {"resourceType": "User"},
    }))).await;
    let r = r.expect(200);
    assert_eq!(
        (r["name"]["familyName"].as_str(), r["active"].as_bool()),
        (Some("Wong"), Some(true))
    );
    app.stop().await;
}

async fn groups_and_members(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let (_, token) = scim_token(&app, &owner.session).await;
    let a = id(&create_user(&app, &token, json!({"userName": "a@corp.example"})).await);
    let b_ = id(&create_user(&app, &token, json!({"userName": "b@corp.example"})).await);
    let r = scim(
        &app,
        Method::POST,
        "/Groups",
        &token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering", "externalId": "eng",
            "members": [{"value": a, "display": "A"}],
        })),
    )
    .await;
    let g = r.expect(201).clone();
    let gid = id(&g);
    assert_eq!(g["members"][0]["value"], a.as_str());
    assert_eq!(g["members"][0]["type"], "User");
    assert!(
        g["members"][0]["$ref"]
            .as_str()
            .is_some_and(|r| r.ends_with(&format!("/scim/v2/Users/{a}")))
    );
    let user_a = scim(&app, Method::GET, &format!("/Users/{a}"), &token, None).await;
    assert_eq!(
        user_a.expect(200)["groups"],
        json!([{
            "value": gid, "$ref": g["meta"]["location"], "display": "Engineering", "type": "direct",
        }])
    );
    // Entra ID adds and removes members one operation at a time.
    let gpath = format!("/Groups/{gid}");
    let r = scim(
        &app,
        Method::PATCH,
        &gpath,
        &token,
        Some(patch(json!([
            {"op": "Add", "path": "members", "value": [{"value": b_}]},
        ]))),
    )
    .await;
    assert_eq!(r.expect(200)["members"].as_array().map(Vec::len), Some(2));
    let r = scim(
        &app,
        Method::PATCH,
        &gpath,
        &token,
        Some(patch(json!([
            {"op": "Remove", "path": format!("members[value eq \"{a}\"]")},
        ]))),
    )
    .await;
    assert_eq!(
        r.expect(200)["members"],
        json!([{"value": b_, "$ref": r.body["members"][0]["$ref"], "type": "User"}])
    );
    let r = scim(
        &app,
        Method::PATCH,
        &gpath,
        &token,
        Some(patch(json!([
            {"op": "Remove", "path": "members", "value": [{"value": b_}]},
            {"op": "Replace", "path": "displayName", "value": "Eng"},
        ]))),
    )
    .await;
    let r = r.expect(200);
    assert!(r.get("members").is_none());
    assert_eq!(r["displayName"], "Eng");
    let unknown = scim(&app, Method::PATCH, &gpath, &token, Some(patch(json!([
        {"op": "add", "path": "members", "value": [{"value": "scimusr_0192f1c4e6a87b3c9d0e1f2a3b4c5d6e"}]},
    ])))).await;
    expect_scim_error(&unknown, 400, Some("invalidValue"));
    let by_name = list(
        &app,
        &token,
        &format!(
            "/Groups?filter={}&excludedAttributes=members",
            urlencode("displayName eq \"eng\"")
        ),
    )
    .await;
    assert_eq!(by_name["Resources"][0]["id"], gid.as_str());

    // A search across resource types reads each with the attributes it has.
    for (filter, expected) in [
        ("externalId eq \"eng\"", json!([gid])),
        ("userName sw \"a@\"", json!([a])),
        ("externalId pr or userName pr", json!([a, b_, gid])),
    ] {
        let r = scim(
            &app,
            Method::POST,
            "/.search",
            &token,
            Some(json!({"filter": filter, "attributes": ["externalId", "userName"]})),
        )
        .await;
        let found: Vec<&Value> = r.expect(200)["Resources"]
            .as_array()
            .expect("Resources")
            .iter()
            .map(|r| &r["id"])
            .collect();
        assert_eq!(json!(found), expected, "{filter}");
    }

    // Deleting a user takes it out of its groups.
    scim(
        &app,
        Method::PATCH,
        &gpath,
        &token,
        Some(patch(
            json!([{"op": "add", "path": "members", "value": [{"value": a}]}]),
        )),
    )
    .await
    .expect(200);
    assert_eq!(
        scim(&app, Method::DELETE, &format!("/Users/{a}"), &token, None)
            .await
            .status
            .as_u16(),
        204
    );
    let g = scim(&app, Method::GET, &gpath, &token, None).await;
    assert!(g.expect(200).get("members").is_none());
    assert_eq!(
        scim(&app, Method::DELETE, &gpath, &token, None)
            .await
            .status
            .as_u16(),
        204
    );
    expect_scim_error(
        &scim(&app, Method::GET, &gpath, &token, None).await,
        404,
        None,
    );
    app.stop().await;
}

async fn deactivation_cuts_a_members_access(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let (_, token) = scim_token(&app, &owner.session).await;
    // Bob has his own account and organization, and joined this one by invitation: SCIM
    // links his account, since he is a member.
    let bob = app.signup("bob@corp.example").await;
    let invitation = app
        .post(
            "/v1/invitations",
            &owner.session,
            json!({"email": "bob@corp.example", "role": "viewer"}),
        )
        .await;
    let invitation = invitation.expect(201)["token"]
        .as_str()
        .expect("token")
        .to_owned();
    app.post(
        "/v1/invitations/accept",
        &bob.session,
        json!({"token": invitation}),
    )
    .await
    .expect(200);
    let u = create_user(
        &app,
        &token,
        json!({
            "userName": "bob", "emails": [{"value": "Bob@corp.example", "type": "work"}],
        }),
    )
    .await;
    let member = app
        .get(&format!("/v1/members/{}", bob.user_id), &owner.session)
        .await;
    assert_eq!(member.expect(200)["role"], "viewer");
    app.post(
        &format!("/v1/members/{}", bob.user_id),
        &owner.session,
        json!({"role": "developer"}),
    )
    .await
    .expect(200);
    let in_org = [("NeoForge-Organization", owner.org_id.as_str())];
    let bobs_key = app
        .call_with(
            Method::POST,
            "/v1/api_keys",
            Some(&bob.session),
            Some(json!({"name": "bob"})),
            &in_org,
        )
        .await;
    let bobs_key = bobs_key.expect(201)["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    app.get("/v1/api_keys", &bobs_key).await.expect(200);

    let path = format!("/Users/{}", id(&u));
    scim(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(patch(
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )),
    )
    .await
    .expect(200);
    app.get("/v1/api_keys", &bobs_key)
        .await
        .expect_problem(401, "invalid_api_key");
    // His session is not bound to this organization, so it lives on, but no longer reaches
    // it; his own organization still works.
    let session = bob.session.clone();
    app.call_with(
        Method::GET,
        "/v1/organization",
        Some(&session),
        None,
        &in_org,
    )
    .await
    .expect_problem(403, "forbidden");
    let own = app.get("/v1/organization", &session).await;
    assert_eq!(
        own.expect(200)["id"],
        bob.org_id.as_str(),
        "his own organization still works"
    );
    let members = app.get("/v1/members", &owner.session).await;
    assert!(
        !members.expect(200)["data"]
            .as_array()
            .expect("data")
            .iter()
            .any(|m| m["user_id"] == bob.user_id.as_str())
    );

    // Reactivation restores the membership, not the key.
    scim(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(patch(json!([{"op": "replace", "value": {"active": true}}]))),
    )
    .await
    .expect(200);
    app.call_with(
        Method::GET,
        "/v1/organization",
        Some(&session),
        None,
        &in_org,
    )
    .await
    .expect(200);
    app.get("/v1/api_keys", &bobs_key)
        .await
        .expect_problem(401, "invalid_api_key");

    // A user the directory made has no password that works.
    create_user(&app, &token, json!({"userName": "carol@corp.example"})).await;
    for password in ["", "!unusable", "correct horse battery"] {
        app.call(
            Method::POST,
            "/v1/sessions",
            None,
            Some(json!({"email": "carol@corp.example", "password": password})),
        )
        .await
        .expect_problem(401, "invalid_credentials");
    }

    // DELETE removes the membership; the last owner is kept.
    assert_eq!(
        scim(&app, Method::DELETE, &path, &token, None)
            .await
            .status
            .as_u16(),
        204
    );
    app.get(&format!("/v1/members/{}", bob.user_id), &owner.session)
        .await
        .expect_problem(404, "resource_not_found");
    let me = create_user(&app, &token, json!({"userName": "owner@example.com"})).await;
    let r = deactivate(&app, &token, &format!("/Users/{}", id(&me))).await;
    expect_scim_error(&r, 409, None);
    app.get("/v1/organization", &owner.session)
        .await
        .expect(200);
    app.stop().await;
}

async fn directory_events_are_emitted(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let (_, token) = scim_token(&app, &owner.session).await;
    let u = id(&create_user(&app, &token, json!({"userName": "dee@corp.example"})).await);
    scim(
        &app,
        Method::PATCH,
        &format!("/Users/{u}"),
        &token,
        Some(patch(
            json!([{"op": "add", "path": "title", "value": "CTO"}]),
        )),
    )
    .await
    .expect(200);
    let g = scim(
        &app,
        Method::POST,
        "/Groups",
        &token,
        Some(json!({"displayName": "G", "members": [{"value": u}]})),
    )
    .await;
    let g = id(g.expect(201));
    scim(
        &app,
        Method::PATCH,
        &format!("/Groups/{g}"),
        &token,
        Some(patch(json!([{"op": "remove", "path": "members"}]))),
    )
    .await
    .expect(200);
    scim(&app, Method::DELETE, &format!("/Groups/{g}"), &token, None).await;
    scim(&app, Method::DELETE, &format!("/Users/{u}"), &token, None).await;
    let events = app
        .get("/v1/webhook_events?limit=100", &owner.session)
        .await;
    let types: Vec<&str> = events.expect(200)["data"]
        .as_array()
        .expect("data")
        .iter()
        .rev()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        [
            "directory.user_created",
            "directory.user_updated",
            "directory.group_created",
            "directory.group_member_added",
            "directory.group_updated",
            "directory.group_member_removed",
            "directory.group_deleted",
            "directory.user_deleted",
        ]
    );
    let created = app
        .get(
            "/v1/webhook_events?type=directory.user_created",
            &owner.session,
        )
        .await;
    assert_eq!(
        created.expect(200)["data"][0]["data"]["userName"],
        "dee@corp.example"
    );
    // The events are in the token's environment: none in live.
    let live = app
        .call_with(
            Method::GET,
            "/v1/webhook_events",
            Some(&owner.session),
            None,
            &[("NeoForge-Environment", "live")],
        )
        .await;
    assert_eq!(live.expect(200)["data"], json!([]));
    let audit = app
        .get("/v1/audit_events?action=scim_user.created", &owner.session)
        .await;
    let audit = audit.expect(200);
    assert_eq!(
        (
            audit["data"][0]["actor_type"].as_str(),
            audit["data"][0]["target_id"].as_str()
        ),
        (Some("scim_token"), Some(u.as_str()))
    );
    app.stop().await;
}

async fn errors_are_scim_errors(b: Backend) {
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let (_, token) = scim_token(&app, &owner.session).await;
    let u = id(&create_user(&app, &token, json!({"userName": "e@corp.example"})).await);
    let path = format!("/Users/{u}");
    let ops = |ops: Value| Some(patch(ops));
    let cases = [
        (
            Method::GET,
            "/Users?filter=userName%20zz%20%22x%22".to_owned(),
            None,
            400,
            Some("invalidFilter"),
        ),
        (
            Method::POST,
            "/Users".to_owned(),
            Some(json!({"displayName": "no userName"})),
            400,
            Some("invalidValue"),
        ),
        (
            Method::POST,
            "/Users".to_owned(),
            Some(json!({"userName": "x", "active": "perhaps"})),
            400,
            Some("invalidValue"),
        ),
        (
            Method::PATCH,
            path.clone(),
            ops(json!([{"op": "replace", "path": "id", "value": "x"}])),
            400,
            Some("mutability"),
        ),
        (
            Method::PATCH,
            path.clone(),
            ops(json!([{"op": "replace", "path": "bogus", "value": "x"}])),
            400,
            Some("invalidPath"),
        ),
        (
            Method::PATCH,
            path.clone(),
            ops(json!([{"op": "remove"}])),
            400,
            Some("noTarget"),
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"Operations": "nope"})),
            400,
            Some("invalidSyntax"),
        ),
        (Method::GET, "/Users/nope".to_owned(), None, 404, None),
        (Method::GET, "/Nothing/here".to_owned(), None, 404, None),
        (
            Method::PUT,
            "/ServiceProviderConfig".to_owned(),
            None,
            405,
            None,
        ),
        (
            Method::POST,
            "/.search".to_owned(),
            Some(json!({"filter": "userName eq"})),
            400,
            Some("invalidFilter"),
        ),
    ];
    for (method, at, body, status, scim_type) in cases {
        expect_scim_error(
            &scim(&app, method, &at, &token, body).await,
            status,
            scim_type,
        );
    }
    let bad_json = app
        .client
        .post(app.url("/scim/v2/Users"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("sent");
    expect_scim_error(
        &crate::helpers::read(bad_json).await,
        400,
        Some("invalidSyntax"),
    );
    let spc = scim(&app, Method::GET, "/ServiceProviderConfig", &token, None).await;
    assert_eq!(spc.expect(200)["patch"]["supported"], true);
    app.stop().await;
}

async fn organizations_are_isolated(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.signup("a@example.com").await;
    let other = app.signup("b@example.com").await;
    let (_, token_a) = scim_token(&app, &a.session).await;
    let (_, token_b) = scim_token(&app, &other.session).await;
    let theirs = id(&create_user(&app, &token_b, json!({"userName": "shared@corp.example"})).await);
    let group = scim(
        &app,
        Method::POST,
        "/Groups",
        &token_b,
        Some(json!({"displayName": "B's"})),
    )
    .await;
    let group = id(group.expect(201));
    for (method, path, body) in [
        (Method::GET, format!("/Users/{theirs}"), None),
        (
            Method::PUT,
            format!("/Users/{theirs}"),
            Some(json!({"userName": "x"})),
        ),
        (
            Method::PATCH,
            format!("/Users/{theirs}"),
            Some(patch(
                json!([{"op": "replace", "path": "title", "value": "x"}]),
            )),
        ),
        (Method::DELETE, format!("/Users/{theirs}"), None),
        (Method::GET, format!("/Groups/{group}"), None),
        (Method::DELETE, format!("/Groups/{group}"), None),
    ] {
        expect_scim_error(&scim(&app, method, &path, &token_a, body).await, 404, None);
    }
    let mine = scim(
        &app,
        Method::POST,
        "/Groups",
        &token_a,
        Some(json!({"displayName": "A's", "members": [{"value": theirs}]})),
    )
    .await;
    expect_scim_error(&mine, 400, Some("invalidValue"));
    assert_eq!(list(&app, &token_a, "/Users").await["totalResults"], 0);
    // The same userName is free in another organization.
    create_user(&app, &token_a, json!({"userName": "shared@corp.example"})).await;
    scim(
        &app,
        Method::GET,
        &format!("/Users/{theirs}"),
        &token_b,
        None,
    )
    .await
    .expect(200);

    let (_, key) = app
        .create_key(&a.session, json!({"name": "k"}), false)
        .await;
    for credential in [key.as_str(), a.session.as_str(), "nf_scim_unknown"] {
        expect_scim_error(
            &scim(&app, Method::GET, "/Users", credential, None).await,
            401,
            None,
        );
    }
    let anonymous = app.call(Method::GET, "/scim/v2/Users", None, None).await;
    expect_scim_error(&anonymous, 401, None);
    // A SCIM token opens nothing outside /scim/v2.
    app.get("/v1/organization", &token_a)
        .await
        .expect_problem(401, "invalid_api_key");
    app.stop().await;
}

/// A directory speaks for its own organization only: another organization's member, on a
/// domain this organization has not verified, is never linked, so the directory's changes
/// reach neither their account nor their sessions.
async fn a_directory_cannot_take_another_organizations_people(b: Backend) {
    let app = spawn_app(b).await;
    let alice = app.signup("alice@corp.example").await;
    let globex = app.signup("owner@globex.example").await;
    let (_, token) = scim_token(&app, &globex.session).await;
    let user = create_user(
        &app,
        &token,
        json!({"userName": "alice@corp.example", "active": true,
            "emails": [{"value": "alice@corp.example", "primary": true}]}),
    )
    .await;
    let path = format!("/Users/{}", id(&user));
    let members = app.get("/v1/members", &globex.session).await;
    let members = members.expect(200)["data"]
        .as_array()
        .expect("members")
        .clone();
    assert_eq!(members.len(), 1, "{members:?}");
    deactivate(&app, &token, &path).await.expect(200);
    scim(&app, Method::DELETE, &path, &token, None)
        .await
        .expect(204);
    // Alice's session, organization and membership are as they were.
    app.get("/v1/users/me", &alice.session).await.expect(200);
    let hers = app.get("/v1/members", &alice.session).await;
    assert_eq!(hers.expect(200)["data"][0]["role"], "owner");
    app.get("/v1/api_keys", &alice.session).await.expect(200);
    app.stop().await;
}

/// scim2-tester against the live server: every check must pass.
async fn passes_the_scim2_tester_compliance_checks(b: Backend) {
    let python = crate::tools::python();
    let app = spawn_app(b).await;
    let owner = app.signup("owner@example.com").await;
    let (_, token) = scim_token(&app, &owner.session).await;
    let script = crate::tools::workspace().join("tests/identity/scim_check.py");
    let out = tokio::process::Command::new(&python)
        .arg(script)
        .args([&app.url("/scim/v2"), &token])
        .output()
        .await
        .expect("the checker runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "scim2-tester found failures:\n{}\n{}",
        stdout
            .lines()
            .filter(|l| l.starts_with("ERROR")
                || l.starts_with("CRITICAL")
                || l.starts_with("FAILED")
                || l.trim_start().starts_with("data:"))
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    app.stop().await;
}

crate::on_both_backends!(
    a_directory_cannot_take_another_organizations_people,
    tokens_are_managed_and_revocable,
    users_crud_filters_and_paging,
    entra_id_and_okta_patches,
    groups_and_members,
    deactivation_cuts_a_members_access,
    directory_events_are_emitted,
    organizations_are_isolated,
);
crate::on_sqlite_only!(
    errors_are_scim_errors,
    passes_the_scim2_tester_compliance_checks,
);

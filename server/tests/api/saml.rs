//! SAML 2.0 service provider (src/identity/saml) against pysaml2 as the identity provider
//! (tests/identity/saml_idp.py): every response verified here was made and signed by pysaml2
//! and xmlsec1, never by our code. Library-level: no server, no database.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use neoforge_server::identity::saml::{
    self, Assertion, CLOCK_SKEW_MS, IdpMetadata, SamlError, ServiceProvider,
};
use serde_json::Value;

use crate::tools::python as test_python;

pub const IDP: &str = "https://idp.acme.test/saml";
pub const IDP_SSO: &str = "https://idp.acme.test/saml/sso";
const SP: &str = "https://neoforge.test/sso/saml/conn_1";
const ACS: &str = "https://neoforge.test/sso/saml/conn_1/acs";

/// Keys and metadata, shared by every test process of a day: they take four Python runs
/// and an RSA key, seconds that each of nextest's processes would otherwise spend again. The
/// certificates are valid for 30 days.
struct Fixture {
    dir: PathBuf,
    sp: ServiceProvider,
    idp: IdpMetadata,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let day = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            / 86_400;
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("saml-fixture-{day}"));
        if !dir.exists() {
            make_fixture(&dir);
        }
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("fixture file");
        let sp = ServiceProvider {
            entity_id: SP.to_owned(),
            acs_url: ACS.to_owned(),
            key_pem: read("sp.key"),
            cert_pem: read("sp.crt"),
        };
        let idp = saml::parse_idp_metadata(&read("idp.xml")).expect("pysaml2's metadata parses");
        Fixture { dir, sp, idp }
    })
}

/// Makes the fixture in a directory of this process and renames it to `dir`: a reader never
/// sees half a fixture, and of two processes racing, the first rename wins.
fn make_fixture(dir: &Path) {
    let own = dir.with_extension(format!("{}", std::process::id()));
    std::fs::create_dir_all(&own).expect("temp dir");
    for (key, cert) in [("idp.key", "idp.crt"), ("other.key", "other.crt")] {
        harness_in(&own, &["keypair", "--key", key, "--cert", cert]);
    }
    let (key_pem, cert_pem) = saml::generate_sp_credentials(SP).expect("sp credentials");
    let sp = ServiceProvider {
        entity_id: SP.to_owned(),
        acs_url: ACS.to_owned(),
        key_pem,
        cert_pem,
    };
    let metadata = harness_in(&own, &idp_args("metadata", "idp", &["--sso-url", IDP_SSO]));
    for (name, text) in [
        ("sp.key", sp.key_pem.clone()),
        ("sp.crt", sp.cert_pem.clone()),
        ("sp.xml", saml::sp_metadata_xml(&sp).expect("sp metadata")),
        ("idp.xml", metadata),
    ] {
        std::fs::write(own.join(name), text).expect("write fixture file");
    }
    if std::fs::rename(&own, dir).is_err() {
        assert!(
            dir.exists(),
            "cannot move the SAML fixture into {}",
            dir.display()
        );
        std::fs::remove_dir_all(&own).expect("remove the losing fixture");
    }
}

/// Runs a command of the harness (tests/identity/saml_idp.py) in `dir`; its output. In the
/// run's shared IdP process (`NEOFORGE_TEST_SAML_IDP`, which `cargo xtask test` starts), else
/// in a Python of its own.
pub fn harness_in(dir: &Path, args: &[&str]) -> String {
    let (ok, out) = match std::env::var("NEOFORGE_TEST_SAML_IDP") {
        Ok(url) => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let request = serde_json::json!({"cwd": dir, "args": args}).to_string();
            let mut response = agent
                .post(&url)
                .send(&request)
                .expect("the SAML IdP answers");
            let out = response.body_mut().read_to_string().expect("its answer");
            (response.status() == 200, out)
        }
        Err(_) => {
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/identity/saml_idp.py");
            let out = Command::new(test_python())
                .arg(script)
                .args(args)
                .current_dir(dir)
                .output()
                .expect("run tests/identity/saml_idp.py");
            let ok = out.status.success();
            let text = if ok { out.stdout } else { out.stderr };
            (ok, String::from_utf8_lossy(&text).into_owned())
        }
    };
    assert!(ok, "saml_idp.py {args:?} failed: {out}");
    out.trim().to_owned()
}

fn harness(args: &[&str]) -> String {
    harness_in(&fixture().dir, args)
}

/// The arguments naming an IdP whose key files start with `key`.
fn idp_args<'a>(command: &'a str, key: &str, rest: &[&'a str]) -> Vec<&'a str> {
    let (key, cert) = match key {
        "idp" => ("idp.key", "idp.crt"),
        _ => ("other.key", "other.crt"),
    };
    [command, "--key", key, "--cert", cert, "--entity-id", IDP]
        .into_iter()
        .chain(rest.iter().copied())
        .collect()
}

/// A SAMLResponse from pysaml2 for user ada, answering request `id-req-1`.
fn response(key: &str, extra: &[&str]) -> String {
    let mut rest = vec![
        "--sp-entity-id",
        SP,
        "--acs-url",
        ACS,
        "--name-id",
        "ada",
        "--in-response-to",
        "id-req-1",
        "--attr",
        "email=ada@acme.test",
        "--attr",
        "groups=eng",
        "--attr",
        "groups=ops",
    ];
    rest.extend_from_slice(extra);
    harness(&idp_args("response", key, &rest))
}

/// A file of the fixture's directory, as an argument.
fn fixture_file(name: &str) -> String {
    fixture()
        .dir
        .join(name)
        .to_str()
        .expect("utf-8 path")
        .to_owned()
}

/// A response in `mode`, encrypted (if it is) to the key pysaml2 reads from our SP metadata.
fn response_to_our_metadata(key: &str, mode: &str) -> String {
    response(
        key,
        &["--mode", mode, "--sp-metadata", &fixture_file("sp.xml")],
    )
}

/// What pysaml2, as the IdP, reads from our SP metadata (and `extra`), as JSON.
fn pysaml2_reads(command: &str, extra: &[&str]) -> Value {
    let sp_metadata = fixture_file("sp.xml");
    let mut rest = vec!["--sso-url", IDP_SSO, "--sp-metadata", &sp_metadata];
    rest.extend_from_slice(extra);
    serde_json::from_str(&harness(&idp_args(command, "idp", &rest))).expect("json")
}

/// The base64 DER of a PEM certificate.
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms")
}

fn verify(b64: &str) -> Result<Assertion, SamlError> {
    verify_at(b64, now_ms())
}

fn verify_at(b64: &str, now_ms: i64) -> Result<Assertion, SamlError> {
    let f = fixture();
    saml::verify_response(&f.sp, &f.idp, b64, now_ms)
}

fn refused(result: Result<Assertion, SamlError>) -> &'static str {
    match result {
        Ok(assertion) => panic!("accepted: {assertion:?}"),
        Err(e) => e.code(),
    }
}

fn decode(b64: &str) -> String {
    String::from_utf8(STANDARD.decode(b64).expect("base64")).expect("utf-8")
}

fn encode(xml: &str) -> String {
    STANDARD.encode(xml)
}

fn assert_is_ada(assertion: &Assertion) {
    assert_eq!(assertion.name_id, "ada");
    assert_eq!(assertion.issuer, IDP);
    assert_eq!(assertion.in_response_to.as_deref(), Some("id-req-1"));
    assert_eq!(assertion.attributes["email"], ["ada@acme.test"]);
    assert_eq!(assertion.attributes["groups"], ["eng", "ops"]);
    assert!(assertion.id.starts_with("id-"), "{}", assertion.id);
    // pysaml2's assertions live an hour.
    let left = assertion.not_on_or_after_ms - now_ms();
    assert!((3_000_000..=3_600_000).contains(&left), "{left}");
}

#[test]
fn idp_metadata_from_pysaml2_parses() {
    let f = fixture();
    assert_eq!(f.idp.entity_id, IDP);
    assert_eq!(f.idp.sso_url, IDP_SSO);
    let pem = std::fs::read_to_string(f.dir.join("idp.crt")).expect("idp cert");
    assert_eq!(f.idp.signing_certs, [pem_body(&pem)]);
}

#[test]
fn idp_metadata_without_redirect_sso_or_certs_is_invalid() {
    let f = fixture();
    let metadata = harness(&idp_args("metadata", "idp", &["--sso-url", IDP_SSO]));
    let post_only = metadata.replace(
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
    );
    let body = &f.idp.signing_certs[0];
    let no_cert = metadata.replace(body.as_str(), "bm90IGEgY2VydGlmaWNhdGU=");
    for xml in [post_only.as_str(), no_cert.as_str(), "<oops", "<a/>"] {
        let err = saml::parse_idp_metadata(xml).expect_err(xml);
        assert_eq!(err.code(), "saml_metadata_invalid", "{err}");
    }
}

#[test]
fn sp_metadata_is_read_by_pysaml2() {
    let f = fixture();
    let xml = std::fs::read_to_string(f.dir.join("sp.xml")).expect("sp metadata");
    let read = pysaml2_reads("sp-metadata", &[]);
    assert_eq!(read["entity_id"], SP, "{xml}");
    assert_eq!(
        read["acs"],
        serde_json::json!([["urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", ACS]])
    );
    let certs = read["encryption_certs"].as_array().expect("certs");
    assert_eq!(certs.len(), 1, "{xml}");
    let advertised: String = certs[0]
        .as_str()
        .expect("cert")
        .split_whitespace()
        .collect();
    assert_eq!(advertised, pem_body(&f.sp.cert_pem));
}

#[test]
fn authn_request_url_is_read_by_pysaml2() {
    let f = fixture();
    let url =
        saml::authn_request_url(&f.sp, &f.idp, "id-req-7", "state/7?x=1&y", now_ms()).expect("url");
    assert!(url.starts_with(&format!("{IDP_SSO}?SAMLRequest=")), "{url}");
    let read = pysaml2_reads("authn-request", &["--url", &url]);
    assert_eq!(read["destination"], IDP_SSO);
    assert_eq!(read["id"], "id-req-7");
    assert_eq!(read["issuer"], SP);
    assert_eq!(read["acs_url"], ACS);
    assert_eq!(
        read["protocol_binding"],
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    );
    assert_eq!(read["relay_state"], "state/7?x=1&y");
}

#[test]
fn signed_assertion_verifies() {
    let assertion = verify(&response("idp", &[])).expect("verifies");
    assert_is_ada(&assertion);
    // pysaml2 names attributes by OID and gives the friendly name beside it.
    assert_eq!(
        assertion.attributes["urn:oid:1.2.840.113549.1.9.1.1"],
        ["ada@acme.test"]
    );
}

#[test]
fn signed_response_verifies() {
    assert_is_ada(&verify(&response("idp", &["--mode", "signed-response"])).expect("verifies"));
}

#[test]
fn encrypted_assertion_decrypts() {
    // pysaml2 encrypts to the key it reads from our metadata.
    let b64 = response_to_our_metadata("idp", "encrypted");
    assert!(decode(&b64).contains("EncryptedAssertion"));
    assert!(!decode(&b64).contains("ada@acme.test"));
    assert_is_ada(&verify(&b64).expect("decrypts and verifies"));
}

#[test]
fn encrypted_assertion_in_a_signed_response_decrypts() {
    let b64 = response_to_our_metadata("idp", "encrypted-signed-response");
    assert_is_ada(&verify(&b64).expect("decrypts and verifies"));
    // The response's signature covers the ciphertext.
    let xml = decode(&b64);
    let cipher = xml
        .split("CipherValue>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("cipher value");
    let flipped: String = cipher.chars().rev().collect();
    let tampered = xml.replacen(cipher, &flipped, 1);
    assert_eq!(refused(verify(&encode(&tampered))), "saml_bad_signature");
}

#[test]
fn assertion_encrypted_to_another_key_is_refused() {
    let other = fixture_file("other.crt");
    let b64 = response("idp", &["--mode", "encrypted", "--sp-cert", &other]);
    assert_eq!(refused(verify(&b64)), "saml_decryption_failed");
}

#[test]
fn unsigned_response_is_refused() {
    assert_eq!(
        refused(verify(&response("idp", &["--mode", "unsigned"]))),
        "saml_unsigned"
    );
}

#[test]
fn response_signed_by_a_key_not_in_the_metadata_is_refused() {
    assert_eq!(
        refused(verify(&response("other", &[]))),
        "saml_bad_signature"
    );
    for mode in ["signed-response", "encrypted", "encrypted-signed-response"] {
        let b64 = response_to_our_metadata("other", mode);
        assert_eq!(refused(verify(&b64)), "saml_bad_signature", "{mode}");
    }
}

#[test]
fn sha1_signature_is_refused() {
    assert_eq!(
        refused(verify(&response("idp", &["--sha1"]))),
        "saml_bad_signature"
    );
}

#[test]
fn validity_window_allows_the_clock_skew_and_no_more() {
    let b64 = response("idp", &[]);
    let assertion = verify(&b64).expect("verifies");
    let end = assertion.not_on_or_after_ms;
    assert!(verify_at(&b64, end + CLOCK_SKEW_MS - 1).is_ok());
    assert_eq!(
        refused(verify_at(&b64, end + CLOCK_SKEW_MS)),
        "saml_expired"
    );
    // The start of the window is the Conditions' NotBefore, as pysaml2 wrote it.
    let xml = decode(&b64);
    let not_before = xml
        .split("NotBefore=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a NotBefore");
    let start =
        time::OffsetDateTime::parse(not_before, &time::format_description::well_known::Rfc3339)
            .expect("an RFC 3339 NotBefore")
            .unix_timestamp_nanos()
            / 1_000_000;
    let start = i64::try_from(start).expect("ms");
    assert!(verify_at(&b64, start - CLOCK_SKEW_MS).is_ok());
    assert_eq!(
        refused(verify_at(&b64, start - CLOCK_SKEW_MS - 1)),
        "saml_not_yet_valid"
    );
}

#[test]
fn assertion_for_another_audience_is_refused() {
    let b64 = harness(&idp_args(
        "response",
        "idp",
        &[
            "--sp-entity-id",
            "https://other.test/sp",
            "--acs-url",
            ACS,
            "--name-id",
            "ada",
        ],
    ));
    assert_eq!(refused(verify(&b64)), "saml_wrong_audience");
}

#[test]
fn response_for_another_acs_is_refused() {
    let b64 = harness(&idp_args(
        "response",
        "idp",
        &[
            "--sp-entity-id",
            SP,
            "--acs-url",
            "https://evil.test/acs",
            "--name-id",
            "ada",
        ],
    ));
    assert_eq!(refused(verify(&b64)), "saml_wrong_recipient");
}

#[test]
fn response_from_another_issuer_is_refused() {
    let f = fixture();
    let idp = IdpMetadata {
        entity_id: "https://other-idp.test".to_owned(),
        ..f.idp.clone()
    };
    let err = saml::verify_response(&f.sp, &idp, &response("idp", &[]), now_ms())
        .expect_err("other issuer");
    assert_eq!(err.code(), "saml_wrong_issuer");
}

#[test]
fn idp_refusal_is_reported_as_status() {
    let err = verify(&response("idp", &["--mode", "denied"])).expect_err("denied");
    assert_eq!(err.code(), "saml_status");
    assert!(err.to_string().contains("Responder"), "{err}");
}

#[test]
fn garbage_is_malformed() {
    let signed = decode(&response("idp", &[]));
    let body = signed.split_once("?>").expect("declaration").1;
    let with_doctype = format!("<!DOCTYPE r [<!ENTITY a \"ada\">]>{body}");
    for xml in ["not xml", "<Response/>", &with_doctype] {
        assert_eq!(refused(verify(&encode(xml))), "saml_malformed", "{xml}");
    }
    assert_eq!(refused(verify("%%%")), "saml_malformed");
}

#[test]
fn attribute_changed_after_signing_is_refused() {
    for mode in ["signed", "signed-response"] {
        let xml = decode(&response("idp", &["--mode", mode]));
        let tampered = xml.replace("ada@acme.test", "eve@evil.test");
        assert_ne!(tampered, xml);
        assert_eq!(
            refused(verify(&encode(&tampered))),
            "saml_bad_signature",
            "{mode}"
        );
    }
}

/// The element `<{prefix}:{name} ...>...</{prefix}:{name}>` of `xml` (pysaml2 writes no nested
/// element of the same name).
fn element<'a>(xml: &'a str, prefixed_name: &str) -> &'a str {
    let start = xml.find(&format!("<{prefixed_name} ")).expect("start tag");
    let close = format!("</{prefixed_name}>");
    let end = xml[start..].find(&close).expect("end tag") + start + close.len();
    &xml[start..end]
}

/// pysaml2's prefixes: ns0 protocol, ns1 assertion, ns2 xmldsig.
fn without_signature(element_xml: &str) -> String {
    element_xml.replace(element(element_xml, "ns2:Signature"), "")
}

#[test]
fn signature_wrapping_of_the_assertion_is_refused() {
    let xml = decode(&response("idp", &[]));
    let signed = element(&xml, "ns1:Assertion");
    let forged = without_signature(signed).replace(">ada<", ">eve<");
    let id = signed
        .split("ID=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("ID");

    // The forged assertion where the signed one was, the signed one hidden in Extensions.
    let hidden = format!("<ns0:Extensions>{signed}</ns0:Extensions>");
    let forged_new_id = forged.replace(id, "id-forged");
    let moved = xml.replace(signed, &format!("{hidden}{forged_new_id}"));
    // The same, with the forged assertion taking the signed one's ID.
    let same_id = xml.replace(signed, &format!("{hidden}{forged}"));
    // The signed assertion stays in place, a forged one is added after it.
    let appended = xml.replace(signed, &format!("{signed}{forged_new_id}"));
    for (case, attack) in [
        ("moved", moved),
        ("same id", same_id),
        ("appended", appended),
    ] {
        let code = refused(verify(&encode(&attack)));
        assert!(
            ["saml_bad_signature", "saml_malformed"].contains(&code),
            "{case}: {code}"
        );
    }
}

#[test]
fn signature_wrapping_of_the_response_is_refused() {
    let xml = decode(&response("idp", &["--mode", "signed-response"]));
    let body = xml
        .trim_start_matches(|c| c != '>')
        .trim_start_matches('>')
        .trim_start();
    let signed = element(body, "ns0:Response");
    let forged = without_signature(signed)
        .replace(">ada<", ">eve<")
        .replacen("ID=\"", "ID=\"forged-", 1);
    // The signed response hidden inside the forged one's Extensions.
    let wrapped = forged.replacen(
        "<ns0:Status>",
        &format!("<ns0:Extensions>{signed}</ns0:Extensions><ns0:Status>"),
        1,
    );
    let code = refused(verify(&encode(&wrapped)));
    assert!(
        ["saml_bad_signature", "saml_malformed"].contains(&code),
        "{code}"
    );
}

// ---------- the whole login over HTTP, on both backends ----------

mod login {
    use reqwest::{Method, StatusCode};
    use serde_json::{Value, json};

    use super::{IDP, IDP_SSO, harness_in};
    use crate::helpers::{Backend, Reply, TestApp, read};
    use crate::sso::{id, session_of, spawn};

    /// An IdP (pysaml2) with its keys in a fresh directory, and our connection to it.
    struct Setup {
        app: TestApp,
        dir: std::path::PathBuf,
        conn: Value,
        owner: String,
    }

    /// How the connection gets the IdP's metadata.
    enum Given {
        Inline,
        /// Served by Python's http.server from the IdP's directory.
        ByUrl,
    }

    impl Setup {
        async fn new(b: Backend, allow_idp_initiated: bool, given: Given) -> Setup {
            let app = spawn(b, None).await;
            let owner = app.signup("owner@acme.test").await;
            let dir = std::env::temp_dir().join(format!("neoforge-saml-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&dir).expect("dir");
            for (key, cert) in [("idp.key", "idp.crt"), ("other.key", "other.crt")] {
                harness_in(&dir, &["keypair", "--key", key, "--cert", cert]);
            }
            let metadata = harness_in(
                &dir,
                &[
                    "metadata",
                    "--key",
                    "idp.key",
                    "--cert",
                    "idp.crt",
                    "--entity-id",
                    IDP,
                    "--sso-url",
                    IDP_SSO,
                ],
            );
            let mut _server = None;
            let saml = match given {
                Given::Inline => {
                    json!({"idp_metadata_xml": metadata, "allow_idp_initiated": allow_idp_initiated})
                }
                Given::ByUrl => {
                    std::fs::write(dir.join("idp.xml"), &metadata).expect("write");
                    let mut command = tokio::process::Command::new(crate::tools::python());
                    command
                        .args([
                            "-u",
                            "-m",
                            "http.server",
                            "0",
                            "--bind",
                            "127.0.0.1",
                            "--directory",
                        ])
                        .arg(&dir);
                    let running = crate::tools::start(command).await;
                    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
                    let url = running
                        .ready
                        .split(['(', ')'])
                        .nth(1)
                        .expect("the server's URL")
                        .to_owned();
                    _server = Some(running);
                    let unreachable = app
                        .post(
                            "/v1/sso/connections",
                            &owner.session,
                            json!({"name": "x", "kind": "saml", "saml": {"idp_metadata_url": format!("{url}missing.xml")}}),
                        )
                        .await;
                    unreachable.expect_problem(422, "saml_metadata_unreachable");
                    let not_metadata = app
                        .post(
                            "/v1/sso/connections",
                            &owner.session,
                            json!({"name": "x", "kind": "saml", "saml": {"idp_metadata_url": format!("{url}idp.key")}}),
                        )
                        .await;
                    not_metadata.expect_problem(422, "saml_metadata_invalid");
                    json!({"idp_metadata_url": format!("{url}idp.xml"), "allow_idp_initiated": allow_idp_initiated})
                }
            };
            let conn = app
                .post(
                    "/v1/sso/connections",
                    &owner.session,
                    json!({
                        "name": "Acme SAML",
                        "kind": "saml",
                        "saml": saml,
                        "role_mappings": [{"group": "eng", "role": "developer"}],
                    }),
                )
                .await
                .expect(201)
                .clone();
            assert_eq!(conn["saml"]["idp_sso_url"], IDP_SSO);
            // pysaml2 learns our ACS and encryption key from our metadata endpoint.
            let sp_metadata = app
                .client
                .get(conn["saml"]["sp_entity_id"].as_str().expect("entity id"))
                .send()
                .await
                .expect("metadata");
            assert_eq!(sp_metadata.status(), StatusCode::OK);
            assert_eq!(
                sp_metadata.headers()["content-type"],
                "application/samlmetadata+xml"
            );
            std::fs::write(dir.join("sp.xml"), sp_metadata.text().await.expect("xml"))
                .expect("write");
            Setup {
                app,
                dir,
                conn,
                owner: owner.session,
            }
        }

        fn acs(&self) -> String {
            self.conn["saml"]["acs_url"]
                .as_str()
                .expect("acs")
                .to_owned()
        }

        /// Starts a login at our server; the AuthnRequest's ID, as pysaml2 reads it.
        async fn start(&self) -> String {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client");
            let r = client
                .get(self.app.url(&format!(
                    "/v1/sso/authorize?connection={}&redirect_to=/portal/keys",
                    id(&self.conn)
                )))
                .send()
                .await
                .expect("authorize");
            assert_eq!(r.status(), StatusCode::FOUND);
            let url = r.headers()["location"]
                .to_str()
                .expect("location")
                .to_owned();
            assert!(url.starts_with(IDP_SSO), "{url}");
            let read: Value = serde_json::from_str(&harness_in(
                &self.dir,
                &[
                    "authn-request",
                    "--key",
                    "idp.key",
                    "--cert",
                    "idp.crt",
                    "--entity-id",
                    IDP,
                    "--sso-url",
                    IDP_SSO,
                    "--sp-metadata",
                    "sp.xml",
                    "--url",
                    &url,
                ],
            ))
            .expect("json");
            assert_eq!(read["acs_url"], self.acs().as_str());
            read["id"].as_str().expect("id").to_owned()
        }

        /// pysaml2's response for `email`, signed by `key`, answering `request` (if any).
        fn response(
            &self,
            key: &str,
            email: &str,
            request: Option<&str>,
            extra: &[&str],
        ) -> String {
            let (key, cert) = (format!("{key}.key"), format!("{key}.crt"));
            let acs = self.acs();
            let audience = self.conn["saml"]["sp_entity_id"]
                .as_str()
                .expect("entity id")
                .to_owned();
            let email_attr = format!("email={email}");
            let mut args = vec![
                "response",
                "--key",
                &key,
                "--cert",
                &cert,
                "--entity-id",
                IDP,
                "--sp-entity-id",
                &audience,
                "--acs-url",
                &acs,
                "--name-id",
                email,
                "--attr",
                &email_attr,
                "--attr",
                "groups=eng",
                "--sp-metadata",
                "sp.xml",
            ];
            if let Some(r) = request {
                args.extend(["--in-response-to", r]);
            }
            // Later flags win in argparse: callers override the audience or the mode.
            args.extend_from_slice(extra);
            harness_in(&self.dir, &args)
        }

        async fn post(&self, saml_response: &str) -> Reply {
            let body = format!(
                "SAMLResponse={}",
                saml_response
                    .replace('+', "%2B")
                    .replace('/', "%2F")
                    .replace('=', "%3D")
            );
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client");
            read(
                client
                    .post(self.acs())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .expect("acs"),
            )
            .await
        }
    }

    async fn saml_login_completes_once(b: Backend) {
        let s = Setup::new(b, false, Given::Inline).await;
        let request = s.start().await;
        let response = s.response(
            "idp",
            "ada@acme.test",
            Some(&request),
            &["--mode", "encrypted"],
        );
        let landed = s.post(&response).await;
        assert_eq!(landed.status, StatusCode::SEE_OTHER, "{}", landed.body);
        assert_eq!(landed.header("location"), Some("/portal/keys"));
        let ada = session_of(&landed);
        let me = s.app.get("/v1/users/me", &ada).await;
        assert_eq!(me.expect(200)["user"]["email"], "ada@acme.test");
        let members = s.app.get("/v1/members", &s.owner).await;
        let role = members.expect(200)["data"]
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["email"] == "ada@acme.test")
            .map(|m| m["role"].clone());
        assert_eq!(
            role,
            Some(json!("developer")),
            "mapped from the groups attribute"
        );

        // The same assertion again is a replay.
        s.post(&response).await.expect_problem(401, "saml_replayed");
        // A response to a login nobody started, and one the IdP starts unasked, are refused.
        let stray = s.response("idp", "ada@acme.test", Some("id-never-sent"), &[]);
        s.post(&stray)
            .await
            .expect_problem(401, "saml_unknown_request");
        let unsolicited = s.response("idp", "ada@acme.test", None, &[]);
        s.post(&unsolicited)
            .await
            .expect_problem(401, "saml_unsolicited");
        s.app.stop().await;
    }

    async fn bad_assertions_are_refused(b: Backend) {
        let s = Setup::new(b, true, Given::ByUrl).await;
        let cases: [(&str, Vec<&str>, &str); 4] = [
            ("idp", vec!["--mode", "unsigned"], "saml_unsigned"),
            ("other", vec![], "saml_bad_signature"),
            (
                "idp",
                vec!["--sp-entity-id", "https://other.test/sp"],
                "saml_wrong_audience",
            ),
            (
                "idp",
                vec!["--acs-url", "https://evil.test/acs"],
                "saml_wrong_recipient",
            ),
        ];
        for (key, extra, code) in cases {
            let request = s.start().await;
            let response = s.response(key, "eve@acme.test", Some(&request), &extra);
            let refused = s.post(&response).await;
            refused.expect_problem(401, code);
            assert!(refused.header("set-cookie").is_none(), "{code}: no session");
        }
        // Expired: an IdP-initiated response (allowed here) held for two hours.
        let late = s.response("idp", "eve@acme.test", None, &[]);
        s.app.clock().advance(std::time::Duration::from_secs(7200));
        s.post(&late).await.expect_problem(401, "saml_expired");
        let shown = s
            .app
            .get(&format!("/v1/sso/connections/{}", id(&s.conn)), &s.owner)
            .await;
        let shown = shown.expect(200);
        assert!(
            shown["last_error"]
                .as_str()
                .is_some_and(|e| e.starts_with("saml_expired")),
            "{shown}"
        );
        assert!(shown["last_login_at"].is_null());
        let members = s.app.get("/v1/members", &s.owner).await;
        assert_eq!(
            members.expect(200)["data"].as_array().expect("m").len(),
            1,
            "nobody provisioned"
        );
        // Another organization cannot read the connection; its SP metadata is public.
        let other = s.app.signup("owner@globex.test").await;
        s.app
            .call(
                Method::GET,
                &format!("/v1/sso/connections/{}", id(&s.conn)),
                Some(&other.session),
                None,
            )
            .await
            .expect_problem(404, "resource_not_found");
        s.app.stop().await;
    }

    crate::on_both_backends!(saml_login_completes_once,);
    crate::on_sqlite_only!(bad_assertions_are_refused,);
}

//! The Rust SDK against a live server (started in-process on an ephemeral port, SQLite, with
//! fault injection on).

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use neoforge_sdk::header::{HeaderMap, HeaderName, HeaderValue};
use neoforge_sdk::{
    ApiKeysListParams, ClientOptions, ErrorKind, NeoForge, Webhook, WebhookError, types,
};
use neoforge_server::app::{self, Server};
use neoforge_server::config::{DbArgs, EmailArgs, LogFormat, ServeArgs};

struct Live {
    server: Server,
    base_url: String,
    _db: std::path::PathBuf,
}

async fn live() -> Live {
    let db = std::env::temp_dir().join(format!("nf_sdk_{}.db", uuid::Uuid::now_v7().simple()));
    let args = ServeArgs {
        listen: "127.0.0.1:0".parse().expect("addr"),
        db: DbArgs {
            database_url: format!("sqlite:{}", db.display()),
            max_connections: 4,
        },
        log_format: LogFormat::Human,
        max_body_bytes: 1 << 20,
        session_ttl_hours: 1,
        inject_faults: true,
        billing_interval_secs: 0,
        webhook_interval_ms: 0,
        dns_server: None,
        shutdown_grace_secs: 5,
        payments: Default::default(),
        email: EmailArgs {
            email_interval_ms: 0,
            ..Default::default()
        },
    };
    let server = app::start(&args).await.expect("server starts");
    Live {
        base_url: format!("http://{}", server.addr),
        server,
        _db: db,
    }
}

impl Live {
    fn client(&self, key: &str) -> NeoForge {
        self.client_with(key, |_| {})
    }

    fn client_with(&self, key: &str, configure: impl FnOnce(&mut ClientOptions)) -> NeoForge {
        let mut options = ClientOptions::new(key);
        options.base_url = self.base_url.clone();
        configure(&mut options);
        NeoForge::with_options(options).expect("client")
    }

    /// Signs up a fresh user; returns a client acting with a new sandbox API key.
    async fn keyed_client(&self) -> NeoForge {
        let anonymous = self.client("none");
        let email = format!("sdk-{}@example.com", uuid::Uuid::now_v7().simple());
        let signup = anonymous
            .users()
            .create(types::SignupRequest {
                email,
                password: "correct horse battery".try_into().expect("password"),
                organization_name: None,
            })
            .await
            .expect("sign up");
        let session = self.client(&signup.session.token);
        let key = session
            .api_keys()
            .create(types::CreateApiKeyRequest {
                name: "sdk".into(),
                scopes: None,
                expires_at: None,
            })
            .await
            .expect("key");
        self.client(&key.secret)
    }

    async fn stop(self) {
        self.server.stop().await.expect("stops");
    }
}

/// Headers asking the server to fail the first `times` requests with `status`.
fn fault(status: &str, times: &str, retry_after: &str) -> HeaderMap {
    let key = uuid::Uuid::now_v7().to_string();
    [
        ("neoforge-fault", status),
        ("neoforge-fault-times", times),
        ("neoforge-fault-retry-after", retry_after),
        ("neoforge-fault-key", &key),
    ]
    .into_iter()
    .map(|(name, value)| {
        (
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("header"),
        )
    })
    .collect()
}

#[tokio::test]
async fn auth_failure_is_a_typed_error_with_the_request_id() {
    let live = live().await;
    let err = live
        .client("nf_test_nope")
        .api_keys()
        .list(ApiKeysListParams::default())
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Authentication);
    assert_eq!(err.status, Some(401));
    assert_eq!(err.code.as_deref(), Some("invalid_api_key"));
    assert!(
        err.request_id
            .as_deref()
            .is_some_and(|id| id.starts_with("req_"))
    );
    live.stop().await;
}

#[tokio::test]
async fn creates_are_idempotent_and_responses_carry_request_ids() {
    let live = live().await;
    let client = live.keyed_client().await;
    let created = client
        .api_keys()
        .create(types::CreateApiKeyRequest {
            name: "twice".into(),
            scopes: None,
            expires_at: None,
        })
        .await
        .expect("create");
    assert!(created.request_id.is_some());
    assert!(created.secret.starts_with("nf_test_"));
    let fetched = client
        .api_keys()
        .get(created.id.as_str())
        .await
        .expect("get");
    assert_eq!(fetched.name, "twice");
    assert_ne!(fetched.request_id, created.request_id);

    // The same Idempotency-Key replays the first response; another body is refused.
    let keyed = live.client_with(&created.secret, |o| {
        o.headers
            .insert("idempotency-key", "fixed-key-1".parse().expect("header"));
    });
    let body = || types::CreateApiKeyRequest {
        name: "once".into(),
        scopes: None,
        expires_at: None,
    };
    let a = keyed.api_keys().create(body()).await.expect("first");
    let b = keyed.api_keys().create(body()).await.expect("replay");
    assert_eq!(a.id, b.id);
    let err = keyed
        .api_keys()
        .create(types::CreateApiKeyRequest {
            name: "different".into(),
            scopes: None,
            expires_at: None,
        })
        .await
        .expect_err("reused key");
    assert_eq!(err.kind, ErrorKind::UnprocessableEntity);
    assert_eq!(err.code.as_deref(), Some("idempotency_key_reused"));
    live.stop().await;
}

#[tokio::test]
async fn retries_recover_from_injected_503_and_429() {
    let live = live().await;
    let client = live.keyed_client().await;
    let secret = client
        .api_keys()
        .create(types::CreateApiKeyRequest {
            name: "r".into(),
            scopes: None,
            expires_at: None,
        })
        .await
        .expect("key")
        .secret
        .clone();

    let flaky = live.client_with(&secret, |o| o.headers = fault("503", "2", "0"));
    flaky
        .api_keys()
        .list(ApiKeysListParams::default())
        .await
        .expect("recovered after two 503s");

    let no_retries = live.client_with(&secret, |o| {
        o.headers = fault("503", "1", "0");
        o.max_retries = 0;
    });
    let err = no_retries
        .api_keys()
        .list(ApiKeysListParams::default())
        .await
        .expect_err("surfaced");
    assert_eq!((err.kind, err.status), (ErrorKind::Server, Some(503)));

    // Retry-After is honoured: one 429 that asks for a second costs at least a second.
    let limited = live.client_with(&secret, |o| o.headers = fault("429", "1", "1"));
    let started = Instant::now();
    let created = limited
        .api_keys()
        .create(types::CreateApiKeyRequest {
            name: "after 429".into(),
            scopes: None,
            expires_at: None,
        })
        .await;
    assert!(created.is_ok(), "{created:?}");
    assert!(started.elapsed() >= Duration::from_millis(950));
    live.stop().await;
}

#[tokio::test]
async fn auto_paging_walks_every_page() {
    let live = live().await;
    let client = live.keyed_client().await;
    let mut made = Vec::new();
    for i in 0..5 {
        let k = client
            .api_keys()
            .create(types::CreateApiKeyRequest {
                name: format!("p{i}"),
                scopes: None,
                expires_at: None,
            })
            .await
            .expect("create");
        made.push(k.id.to_string());
    }
    let seen: Vec<String> = client
        .api_keys()
        .list_auto_paging(ApiKeysListParams {
            limit: Some(2),
            starting_after: None,
        })
        .map_ok(|k| k.id.to_string())
        .try_collect()
        .await
        .expect("pages");
    for id in &made {
        assert_eq!(seen.iter().filter(|s| *s == id).count(), 1, "{id} once");
    }
    assert_eq!(seen.len(), 6, "five new keys and the one the client uses");
    live.stop().await;
}

#[test]
fn webhook_helper_checks_signatures() {
    use base64::Engine;
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(b"a test secret of enough length!!")
    );
    let signer = standardwebhooks::Webhook::new(&secret).expect("reference signer");
    let ours = Webhook::new(&secret).expect("secret");
    let payload = br#"{"type":"api_key.created","data":{"id":"key_1"}}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let verify = |body: &[u8], timestamp: i64| {
        let signature = signer.sign("msg_1", timestamp, payload).expect("sign");
        let headers = std::collections::HashMap::from([
            ("webhook-id", "msg_1".to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ]);
        ours.verify(body, |name| headers.get(name).map(String::as_str))
    };
    let verified = verify(payload, now).expect("good signature");
    assert_eq!(verified["type"], "api_key.created");
    let tampered = br#"{"type":"api_key.created","data":{"id":"key_2"}}"#;
    assert_eq!(verify(tampered, now), Err(WebhookError::BadSignature));
    assert_eq!(verify(payload, now - 3600), Err(WebhookError::Stale));
}

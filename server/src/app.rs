//! Wiring: the router with its OpenAPI document, the shared state, the middleware stack and
//! the server's lifecycle. The one place where the parts meet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::metering::api::{entitlements, events, meters};
use crate::metering::ingest::Ingestor;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::analytics;
use crate::audit;
use crate::billing::api::{
    coupons, credit_notes, customers, invoices, payment_provider, prices, products,
    promotion_codes, settings, stripe_webhooks, subscriptions, tax_rates, test_clocks,
};
use crate::billing::checkout::api as checkout_api;
use crate::billing::portal::api as portal_api;
use crate::config::{PaymentArgs, ServeArgs, redact_url};
use crate::email::{self, Mailer};
use crate::http::error::ApiError;
use crate::http::faults::{self, Faults};
use crate::http::{health, idempotency, request_id};
use crate::identity::api::{connections, domains, saml, sso};
use crate::identity::scim;
use crate::openapi::ApiDoc;
use crate::outbound::Outbound;
use crate::tenancy::api::{api_keys, invitations, members, organizations, roles, sessions, users};
use crate::tenancy::key_cache::KeyCache;
use crate::webhooks;
use crate::{portal, request_log};
use domain::clock::Clock;
use store::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: Clock,
    pub session_ttl_ms: i64,
    pub max_body_bytes: usize,
    pub keys: Arc<KeyCache>,
    /// The master key for provider secrets, Stripe's API base, the public URL.
    pub payments: Arc<PaymentArgs>,
    /// Where usage events go to be committed in groups.
    pub ingest: Ingestor,
    pub request_log: request_log::Recorder,
    /// Every call out to an address a tenant gave: webhooks, identity providers, DNS.
    pub outbound: Outbound,
    /// The SMTP servers of customer emails.
    pub mail: Arc<Mailer>,
    /// This server's base URL for links that leave it without a request to go by (emails,
    /// customer portal links): `--public-url`, else the address it listens on.
    pub public_base: String,
}

/// Every route, and the OpenAPI document built from the same handlers.
pub fn router_and_spec() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut spec) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(users::create))
        .routes(routes!(users::me))
        .routes(routes!(sessions::create))
        .routes(routes!(sessions::delete))
        .routes(routes!(organizations::create))
        .routes(routes!(organizations::get, organizations::update))
        .routes(routes!(organizations::transfer_ownership))
        .routes(routes!(members::list))
        .routes(routes!(members::get, members::update, members::delete))
        .routes(routes!(roles::list, roles::create))
        .routes(routes!(roles::get, roles::update, roles::delete))
        .routes(routes!(invitations::list, invitations::create))
        .routes(routes!(invitations::get))
        .routes(routes!(invitations::revoke))
        .routes(routes!(invitations::accept))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::get))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(api_keys::roll))
        .routes(routes!(request_log::api::list))
        .routes(routes!(request_log::api::analytics))
        .routes(routes!(analytics::api::mrr))
        .routes(routes!(analytics::api::movements))
        .routes(routes!(analytics::api::cohort_table))
        .routes(routes!(analytics::health::list))
        .routes(routes!(audit::api::list))
        .routes(routes!(products::list, products::create))
        .routes(routes!(products::get, products::update))
        .routes(routes!(products::archive))
        .routes(routes!(prices::list, prices::create))
        .routes(routes!(prices::get, prices::update))
        .routes(routes!(prices::archive))
        .routes(routes!(prices::quote))
        .routes(routes!(coupons::list, coupons::create))
        .routes(routes!(coupons::get, coupons::update))
        .routes(routes!(coupons::archive))
        .routes(routes!(promotion_codes::list, promotion_codes::create))
        .routes(routes!(promotion_codes::get, promotion_codes::update))
        .routes(routes!(tax_rates::list, tax_rates::create))
        .routes(routes!(tax_rates::get, tax_rates::update))
        .routes(routes!(customers::list, customers::create))
        .routes(routes!(customers::get, customers::update))
        .routes(routes!(test_clocks::list, test_clocks::create))
        .routes(routes!(test_clocks::get))
        .routes(routes!(test_clocks::advance))
        .routes(routes!(subscriptions::list, subscriptions::create))
        .routes(routes!(subscriptions::get, subscriptions::update))
        .routes(routes!(subscriptions::cancel))
        .routes(routes!(subscriptions::pause))
        .routes(routes!(subscriptions::resume))
        .routes(routes!(subscriptions::usage))
        .routes(routes!(subscriptions::preview))
        .routes(routes!(portal_api::create_session))
        .routes(routes!(checkout_api::create))
        .routes(routes!(checkout_api::get))
        .routes(routes!(checkout_api::expire))
        .routes(routes!(checkout_api::create_pricing_table))
        .routes(routes!(checkout_api::get_pricing_table))
        .routes(routes!(
            portal_api::get_settings,
            portal_api::update_settings
        ))
        .routes(routes!(invoices::list))
        .routes(routes!(invoices::get))
        .routes(routes!(invoices::pay))
        .routes(routes!(invoices::void))
        .routes(routes!(invoices::mark_uncollectible))
        .routes(routes!(credit_notes::list, credit_notes::create))
        .routes(routes!(credit_notes::get))
        .routes(routes!(invoices::html))
        .routes(routes!(meters::list, meters::create))
        .routes(routes!(meters::get, meters::update))
        .routes(routes!(meters::usage))
        .routes(routes!(events::create))
        .routes(routes!(events::batch))
        .routes(routes!(entitlements::check))
        .routes(routes!(settings::get, settings::update))
        .routes(routes!(email::api::list))
        .routes(routes!(email::api::get))
        .routes(routes!(
            email::api::get_settings,
            email::api::update_settings
        ))
        .routes(routes!(email::api::preview))
        .routes(routes!(webhooks::api::list, webhooks::api::create))
        .routes(routes!(
            webhooks::api::get,
            webhooks::api::update,
            webhooks::api::delete
        ))
        .routes(routes!(webhooks::api::rotate_secret))
        .routes(routes!(webhooks::api::list_attempts))
        .routes(routes!(webhooks::api::list_events))
        .routes(routes!(webhooks::api::get_event))
        .routes(routes!(webhooks::api::replay))
        .routes(routes!(
            payment_provider::get,
            payment_provider::put,
            payment_provider::delete
        ))
        .routes(routes!(payment_provider::create_checkout_session))
        .routes(routes!(stripe_webhooks::receive))
        .routes(routes!(connections::list, connections::create))
        .routes(routes!(
            connections::get,
            connections::update,
            connections::delete
        ))
        .routes(routes!(domains::list, domains::create))
        .routes(routes!(domains::get, domains::update, domains::delete))
        .routes(routes!(domains::verify))
        .routes(routes!(sso::authorize))
        .routes(routes!(sso::oidc_callback))
        .routes(routes!(saml::metadata))
        .routes(routes!(saml::acs))
        .routes(routes!(scim::tokens::list, scim::tokens::create))
        .routes(routes!(scim::tokens::revoke))
        .routes(routes!(scim::discovery::service_provider_config))
        .routes(routes!(scim::discovery::resource_types))
        .routes(routes!(scim::discovery::resource_type_by_id))
        .routes(routes!(scim::discovery::schemas_list))
        .routes(routes!(scim::discovery::schema_by_id))
        .routes(routes!(scim::endpoints::search_all))
        .routes(routes!(
            scim::endpoints::users::list,
            scim::endpoints::users::create
        ))
        .routes(routes!(scim::endpoints::users::search))
        .routes(routes!(
            scim::endpoints::users::get,
            scim::endpoints::users::replace,
            scim::endpoints::users::patch,
            scim::endpoints::users::delete
        ))
        .routes(routes!(
            scim::endpoints::groups::list,
            scim::endpoints::groups::create
        ))
        .routes(routes!(scim::endpoints::groups::search))
        .routes(routes!(
            scim::endpoints::groups::get,
            scim::endpoints::groups::replace,
            scim::endpoints::groups::patch,
            scim::endpoints::groups::delete
        ))
        .split_for_parts();
    crate::openapi::document_common_errors(&mut spec);
    (router, spec)
}

/// The complete application: routes, error fallbacks and middleware.
pub fn app(state: AppState, inject_faults: bool) -> Router {
    let (router, spec) = router_and_spec();
    let spec = Arc::new(spec);
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || async move { axum::Json(spec.as_ref().clone()) }),
        )
        .merge(portal::routes())
        .merge(crate::billing::portal::pages::routes())
        .merge(crate::billing::checkout::pages::routes())
        .fallback(|uri: Uri| async move {
            scim::unrouted(&uri, StatusCode::NOT_FOUND, ApiError::RouteNotFound)
        })
        .method_not_allowed_fallback(|uri: Uri| async move {
            scim::unrouted(
                &uri,
                StatusCode::METHOD_NOT_ALLOWED,
                ApiError::MethodNotAllowed,
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::middleware,
        ))
        // Outside idempotency, so an injected failure never becomes a stored response.
        .layer(tower::util::option_layer(inject_faults.then(|| {
            axum::middleware::from_fn_with_state(Faults::default(), faults::middleware)
        })))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_log::middleware,
        ))
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(state)
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    /// The background loops: billing, webhook delivery, email.
    workers: Vec<JoinHandle<()>>,
    request_log_writer: JoinHandle<()>,
}

/// Connects to the database, migrates, binds and starts serving in the background.
pub async fn start(args: &ServeArgs) -> anyhow::Result<Server> {
    tracing::info!(database = %redact_url(&args.db.database_url), "opening database");
    let db = Db::connect(&args.db.database_url, args.db.max_connections).await?;
    db.migrate().await?;
    let clock = Clock::default();
    let ingest = Ingestor::start(db.clone(), clock.clone())?;
    tokio::spawn(db.clone().keep_wal_short());
    let (request_log, request_log_writer) = request_log::Recorder::start(db.clone());
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let public_base = match &args.payments.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{addr}"),
    };
    let state = AppState {
        clock: clock.clone(),
        session_ttl_ms: i64::from(args.session_ttl_hours) * 3600 * 1000,
        max_body_bytes: args.max_body_bytes,
        keys: Arc::default(),
        payments: Arc::new(args.payments.clone()),
        ingest,
        db,
        request_log,
        outbound: Outbound::new(args.dns_server)?,
        mail: Arc::new(Mailer::new(&args.email)?),
        public_base,
    };
    let (shutdown, mut stopping) = watch::channel(false);
    let service =
        app(state.clone(), args.inject_faults).into_make_service_with_connect_info::<SocketAddr>();
    let grace = Duration::from_secs(args.shutdown_grace_secs);
    let task = tokio::spawn(async move {
        let mut stopping_too = stopping.clone();
        let serve = axum::serve(listener, service).with_graceful_shutdown(async move {
            let _ = stopping.wait_for(|s| *s).await;
        });
        tokio::select! {
            result = serve => result,
            _ = async {
                let _ = stopping_too.wait_for(|s| *s).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!("shutdown grace period over; dropping remaining connections");
                Ok(())
            }
        }
    });
    // Billing on real time; tests turn it off and call `scheduler::tick` themselves.
    let scheduler = (args.billing_interval_secs > 0).then(|| {
        let every = Duration::from_secs(args.billing_interval_secs);
        tokio::spawn(crate::billing::scheduler::run(state.clone(), every))
    });
    // Webhook delivery likewise; tests call `webhooks::delivery::tick`.
    let webhooks = (args.webhook_interval_ms > 0).then(|| {
        let every = Duration::from_millis(args.webhook_interval_ms);
        tokio::spawn(webhooks::delivery::run(state.clone(), every))
    });
    // Email likewise; tests call `email::delivery::tick`.
    let emails = (args.email.email_interval_ms > 0).then(|| {
        let every = Duration::from_millis(args.email.email_interval_ms);
        tokio::spawn(email::delivery::run(state.clone(), every))
    });
    tracing::info!(%addr, "listening");
    Ok(Server {
        addr,
        state,
        shutdown,
        task,
        workers: [scheduler, webhooks, emails]
            .into_iter()
            .flatten()
            .collect(),
        request_log_writer,
    })
}

impl Server {
    /// Stops accepting connections, lets in-flight requests finish, closes the database.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        for worker in &self.workers {
            worker.abort();
        }
        self.task.await??;
        self.state.request_log.flush().await;
        self.request_log_writer.abort();
        self.state.db.close().await;
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// The server's master key, or the 409 that says it has none (`--encryption-key`), without
/// which it cannot keep tenants' secrets (Stripe keys, single sign-on credentials).
pub fn master_key(state: &AppState) -> crate::http::error::ApiResult<&domain::crypto::MasterKey> {
    state.payments.encryption_key.as_ref().ok_or_else(|| {
        ApiError::conflict(
            "encryption_key_missing",
            "This server has no encryption key (--encryption-key / NEOFORGE_ENCRYPTION_KEY), so it cannot keep tenants' secrets such as payment-provider keys and single sign-on credentials.",
        )
    })
}

//! The OpenAPI document: info, security schemes and the shared problem responses. Paths are
//! collected from the handlers' `#[utoipa::path]` by the router (app.rs), so a route cannot
//! exist without its documentation.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

use crate::http::error::{FieldError, Problem};

macro_rules! problem_responses {
    ($($name:ident => $description:literal),* $(,)?) => {$(
        #[derive(ToResponse)]
        #[response(description = $description, content_type = "application/problem+json")]
        pub struct $name(#[allow(dead_code)] Problem);
    )*};
}

problem_responses! {
    BadRequest => "Malformed or invalid request (`malformed_json`, `validation_error`, `unknown_parameter`, …).",
    Unauthorized => "Missing, unknown, revoked or expired credentials (`authentication_required`, `invalid_api_key`, `invalid_session`).",
    Forbidden => "The role or key scopes lack the permission (`forbidden`).",
    NotFound => "No such resource in this organization and environment (`resource_not_found`).",
    Conflict => "The request conflicts with the current state, or its idempotency key is in use.",
    Unprocessable => "Understood but refused (`idempotency_key_reused`, …).",
    PayloadTooLarge => "The body is larger than the server accepts (`payload_too_large`).",
    UnsupportedMediaType => "The body is not `application/json` (`unsupported_media_type`).",
    BadGateway => "The payment provider (Stripe) failed or refused the call (`payment_provider_error`).",
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("nf_live_… or nf_test_…")
                    .description(Some(
                        "An API key. `nf_test_` keys act in the sandbox, `nf_live_` keys in live mode.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "scim_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("nf_scim_…")
                    .description(Some(
                        "A SCIM token of the organization (`POST /v1/scim/tokens`), for its directory. Accepted only under `/scim/v2`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "nf_session",
                "A dashboard session (also accepted as `Authorization: Bearer nf_sess_…`). \
                 Choose the organization with `NeoForge-Organization` and the environment with \
                 `NeoForge-Environment` (default `test`).",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "NeoForge API",
        version = "1.0.0",
        description = "Billing, usage metering and tenancy for B2B SaaS.\n\n\
            Errors are RFC 9457 `application/problem+json` documents with a stable `code`. \
            Lists are cursor-paginated. Every POST accepts an `Idempotency-Key` header. \
            Times are RFC 3339, from 1970-01-01T00:00:00Z to before 2200-01-01T00:00:00Z.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:8080", description = "Local server")),
    modifiers(&SecuritySchemes),
    components(
        // StatusClass is only a query parameter's type, which utoipa does not collect.
        schemas(Problem, FieldError, crate::request_log::api::StatusClass),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unprocessable, BadGateway, PayloadTooLarge, UnsupportedMediaType),
    ),
    tags(
        (name = "users", description = "Sign-up and the signed-in user."),
        (name = "sessions", description = "Dashboard log-in and log-out."),
        (name = "organizations", description = "Organizations (tenants)."),
        (name = "members", description = "Members of an organization and their roles."),
        (name = "roles", description = "Built-in and custom roles."),
        (name = "invitations", description = "Invitations to join an organization."),
        (name = "api_keys", description = "API keys, live and test."),
        (name = "request_log", description = "The requests made with your API keys, and their error rates and latency over time."),
        (name = "audit_events", description = "The audit log."),
        (name = "products", description = "What you sell, and the features its plans grant."),
        (name = "customers", description = "Your customers: who you bill."),
        (name = "subscriptions", description = "Customers subscribed to prices: trials, renewals, cancellation."),
        (name = "invoices", description = "What a customer owes for a period."),
        (name = "analytics", description = "Revenue analytics from the recorded history of subscription changes: MRR, ARR and customers per window, with the movements that moved them (new, expansion, contraction, churn, reactivation), each attributed to its customer and the subscription event that caused it. Exact decimals in minor units of one currency at a time."),
        (name = "credit_notes", description = "Money given back on a paid invoice: refunded, or credited to the customer's balance."),
        (name = "checkout", description = "Hosted checkout on this server: sessions that show the order (items, trial, discount, taxes, totals today and per period) and take payment once before they expire, and pricing tables (a public page and an embeddable snippet) whose buttons start them. The sandbox takes the simulated provider's test cards by name; with Stripe connected, the page sends the customer on to Stripe Checkout."),
        (name = "billing_portal", description = "The customer portal: a single-use link per customer where they see their plan, usage and invoices, switch plan with a preview of the charge, replace their card and cancel (with a reason, and a retention offer if you set one), as your settings allow. Every action is audited with the customer as the actor and sends the usual webhook events."),
        (name = "emails", description = "Emails to your customers (invoices, receipts, failed payments, trials ending, cancellations, usage alerts): your sender name, reply-to and branding, previews, and every email with its content and delivery. Captured, not sent, where no SMTP server is configured (the sandbox by default)."),
        (name = "billing_settings", description = "Dunning: how failed payments are retried, and what happens after the last retry."),
        (name = "payment_provider", description = "Your Stripe account per environment, Checkout for payment methods, and Stripe's webhooks."),
        (name = "test_clocks", description = "Sandbox clocks: advance time and watch billing happen."),
        (name = "prices", description = "How products are charged: flat, per unit, tiered or by package."),
        (name = "coupons", description = "Percentages or amounts off a subscription's invoices: once, for some months, or forever."),
        (name = "promotion_codes", description = "Customer-facing codes for coupons, with their own limits."),
        (name = "tax_rates", description = "Manual tax rates added to invoices (exclusive)."),
        (name = "events", description = "Usage events in: one or a batch of up to 1,000, deduplicated by id, committed before the answer."),
        (name = "meters", description = "How usage events aggregate (count, sum, max, min, unique_count, latest, weighted_sum), and the usage they measured."),
        (name = "entitlements", description = "Whether a customer may use a feature now: its plans, and for a metered limit, its usage this period."),
        (name = "webhooks", description = "Webhook endpoints, the events sent to them (signed the Standard Webhooks way), delivery attempts and replays."),
        (name = "sso_connections", description = "Single sign-on: an organization's OpenID Connect or SAML identity provider, the roles its users get, and the outcome of its last login."),
        (name = "sso_domains", description = "Email domains an organization proves it owns (DNS TXT), routes logins by, and may require single sign-on for."),
        (name = "sso", description = "The browser's single sign-on flow: to the identity provider and back to a session."),
        (name = "scim", description = "SCIM 2.0 provisioning (RFC 7643, RFC 7644): tokens for your directory (Entra ID, Okta…), and the `/scim/v2` endpoints it calls to create, update and deactivate your organization's users and groups. Deactivated users lose access at once; changes arrive as `directory.*` webhook events."),
        (name = "health", description = "Liveness and readiness."),
    )
)]
pub struct ApiDoc;

/// Documents, on every `/v1` operation, the errors any such operation can answer: 400 (a
/// parameter or body the server refuses), 401 and 403 where it needs a credential, 404 where
/// it names a resource by id (in its path or its body), 413 and 415 where it takes a body.
/// Handlers document the rest (409, 422, 502…). SCIM operations keep their own errors.
pub fn document_common_errors(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Ref, RefOr};
    for (path, item) in api.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        let named = path.contains('{');
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let body = op.request_body.is_some();
            let common = [
                ("400", "BadRequest", true),
                ("401", "Unauthorized", secured),
                ("403", "Forbidden", secured),
                ("404", "NotFound", named || body),
                ("413", "PayloadTooLarge", body),
                ("415", "UnsupportedMediaType", body),
            ];
            for (status, name, applies) in common {
                if applies {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
        }
    }
}

/// The document as committed to openapi/v1.json: pretty JSON with a trailing newline.
pub fn render() -> String {
    let (_, api) = crate::app::router_and_spec();
    let mut json = api
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

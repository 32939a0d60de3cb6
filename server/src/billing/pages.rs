//! What the billing pages for customers share (the portal, checkout, pricing tables): their
//! templates (`server/templates/billing/`, HTML-escaped), their headers, and errors shown as
//! pages, since these answer people, not programs.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment};
use serde_json::{Value, json};

use crate::http::error::ApiError;

/// Nothing loads from elsewhere; styles are inline, logos are https images.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self'; base-uri 'none'";

macro_rules! templates {
    ($env:ident, $($name:literal),* $(,)?) => {
        $(
            $env.add_template($name, include_str!(concat!("../../templates/billing/", $name)))
                .unwrap_or_else(|e| panic!("template {}: {e}", $name));
        )*
    };
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    templates!(
        env,
        "layout.html",
        "message.html",
        "home.html",
        "preview.html",
        "offer.html",
        "checkout.html",
        "pricing.html",
    );
    env
});

/// Who may show a page in a frame: only the pricing table is made to be embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Nobody,
    Anyone,
}

/// `template` rendered with `ctx`, with the headers every billing page has.
pub fn html(status: StatusCode, template: &str, ctx: &Value, framing: Framing) -> Response {
    let body = TEMPLATES
        .get_template(template)
        .and_then(|t| t.render(Serde(ctx)));
    let mut response = match body {
        Ok(body) => (status, body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, template, "billing page template");
            (StatusCode::INTERNAL_SERVER_ERROR, "error").into_response()
        }
    };
    let ancestors = match framing {
        Framing::Nobody => "'none'",
        Framing::Anyone => "*",
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(csp) = HeaderValue::from_str(&format!("{CSP}; frame-ancestors {ancestors}")) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// A page, or what went wrong as one: the error's status and what it says (a fault's
/// details are logged, not shown).
pub struct Page(pub Response);

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        self.0
    }
}

impl<E> From<E> for Page
where
    ApiError: From<E>,
{
    fn from(e: E) -> Self {
        let e = ApiError::from(e);
        let status = e.status();
        let detail = match status.is_server_error() {
            true => {
                tracing::error!(error = %e, "billing page");
                "Something went wrong on our side. Please try again in a moment.".to_owned()
            }
            false => e.to_string(),
        };
        let ctx = json!({"title": "Something went wrong", "detail": detail});
        Page(html(status, "message.html", &ctx, Framing::Nobody))
    }
}

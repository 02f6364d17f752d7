//! The web console: server-rendered pages under `/console` for the compliance officer,
//! the floor manager and the engineer on call, served by `dunner serve` itself.
//!
//! A shell like `http`: it reads through `service` and the store and never decides
//! anything itself (the verdicts, windows and plans are the engine's and the planner's,
//! the reports and the audit are `report`'s and `audit`'s). Every template, the style
//! sheet included, is compiled into the binary (`include_str!`): no CDN, no build step,
//! nothing fetched, so it works offline. The pages need no JavaScript.
//!
//! Sign-in exchanges an API key for a session (`session.rs`): a random id in an
//! HttpOnly, SameSite=Strict cookie, only its hash in the ledger, the key re-checked
//! on every request so a revoked or expired key's sessions die at once. Every form
//! carries the session's CSRF token. Looking needs `decide`, acting (retrying a notice)
//! `record`, administering keys and legal holds `admin`. Personal data appears only on the pages of a
//! signed-in person, never in a URL: an account is found by phone or email through a
//! POSTed form, matched exactly.
//!
//! The routes are not part of the OpenAPI document (they are not the API); they are
//! merged into the router by `app.rs` through [`crate::http::Server::bind_with`].

mod actions;
mod pages;
mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{Environment, Value, context};

use crate::auth::Scope;
use crate::http::AppState;
use crate::store::StoreError;

pub use session::SESSION_COOKIE;

/// How the console behaves, from `[console]` in the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a session lasts after sign-in.
    pub session_ttl: Duration,
    /// Mark the session cookie `Secure` (the daemon is reached over HTTPS, directly or
    /// through a proxy). Also set for a request a proxy says came over HTTPS.
    pub secure_cookie: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            session_ttl: Duration::from_secs(8 * 3600),
            secure_cookie: false,
        }
    }
}

/// What the console's handlers share besides the [`AppState`]: the settings and the
/// compiled templates.
#[derive(Debug)]
pub struct Console {
    settings: Settings,
    templates: Environment<'static>,
}

/// The templates, each compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("accounts.html", include_str!("templates/accounts.html")),
    ("account.html", include_str!("templates/account.html")),
    ("policy.html", include_str!("templates/policy.html")),
    ("decisions.html", include_str!("templates/decisions.html")),
    ("outbox.html", include_str!("templates/outbox.html")),
    ("reports.html", include_str!("templates/reports.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("keys.html", include_str!("templates/keys.html")),
    ("records.html", include_str!("templates/records.html")),
    (
        "decision_rows.html",
        include_str!("templates/decision_rows.html"),
    ),
];

/// The style sheet, served at `/console/assets/console.css`.
const STYLE: &str = include_str!("assets/console.css");

impl Console {
    /// Compiles the templates; a template that does not compile is a bug caught by the
    /// first test that renders it, and answers a plain 500 meanwhile.
    pub fn new(settings: Settings) -> Console {
        let mut templates = Environment::new();
        templates.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        templates.add_filter("urlencode", |text: String| url_part(&text));
        for (name, source) in TEMPLATES {
            if let Err(error) = templates.add_template(name, source) {
                tracing::error!(%error, template = name, "a console template does not compile");
            }
        }
        Console {
            settings,
            templates,
        }
    }

    /// Renders a page; a failure to render is logged and answers an opaque 500.
    fn render(&self, name: &str, context: Value) -> Response {
        match self
            .templates
            .get_template(name)
            .and_then(|template| template.render(context))
        {
            Ok(page) => Html(page).into_response(),
            Err(error) => {
                tracing::error!(%error, template = name, "failed to render a console page");
                // A template error is a bug: debug builds (the tests) say which.
                let detail = if cfg!(debug_assertions) {
                    format!(": {error:#}")
                } else {
                    String::new()
                };
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the page could not be rendered{detail}"),
                )
                    .into_response()
            }
        }
    }
}

/// Text percent-encoded for a path segment or a query value.
fn url_part(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The console's routes, for [`crate::http::Server::bind_with`]. `/` leads to the
/// console.
pub fn routes(settings: Settings) -> Router<AppState> {
    let console = Arc::new(Console::new(settings));
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(pages::overview))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/assets/console.css", get(style))
        .route(
            "/console/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/accounts", get(pages::accounts))
        .route("/console/accounts/find", post(actions::find_account))
        .route("/console/accounts/{id}", get(pages::account))
        .route("/console/policy", get(pages::policy))
        .route("/console/decisions", get(pages::decisions))
        .route("/console/outbox", get(pages::outbox))
        .route("/console/outbox/{id}/retry", post(actions::retry_notice))
        .route("/console/reports", get(pages::reports))
        .route("/console/reports/shadow", get(pages::shadow_report))
        .route("/console/reports/{name}", get(pages::report))
        .route("/console/audit", get(pages::audit))
        .route("/console/keys", get(pages::keys))
        .route("/console/keys/{id}/revoke", post(actions::revoke_key))
        .route("/console/records", get(pages::records))
        .route("/console/records/holds", post(actions::place_hold))
        .route(
            "/console/records/holds/{id}/release",
            post(actions::release_hold),
        )
        .layer(axum::Extension(console))
}

async fn style() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

/// Why a console request is not served: each answers a page saying so (or, for a
/// signed-out look, the way to sign in).
#[derive(Debug)]
pub enum Refusal {
    /// A signed-out GET: to the sign-in page.
    SignIn,
    /// A signed-out (or expired, or revoked) POST.
    SignedOut,
    /// The key lacks the scope.
    Forbidden(Scope),
    /// The key is limited to clients and the page covers the whole ledger.
    OutsideClients,
    /// A form without this session's CSRF token, or from another site.
    Forgery,
    /// Nothing here by that name.
    NotFound(String),
    /// A form or query that does not hold together, naming the field.
    Invalid(String),
    /// The ledger failed.
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Refusal {
        Refusal::Store(error)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            Refusal::SignIn => return Redirect::to("/console/sign-in").into_response(),
            Refusal::SignedOut => (
                StatusCode::UNAUTHORIZED,
                "Signed out",
                "Sign in with an API key first.".to_string(),
            ),
            Refusal::Forbidden(scope) => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                format!("This needs an API key with the `{}` scope.", scope.as_str()),
            ),
            Refusal::OutsideClients => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "This API key is limited to clients: this page covers every client's accounts."
                    .to_string(),
            ),
            Refusal::Forgery => (
                StatusCode::FORBIDDEN,
                "Form refused",
                "The form did not carry this session's token (open the page again and resubmit)."
                    .to_string(),
            ),
            Refusal::NotFound(what) => (StatusCode::NOT_FOUND, "Not found", what),
            Refusal::Invalid(why) => (StatusCode::BAD_REQUEST, "Not understood", why),
            Refusal::Store(error) => {
                tracing::error!(error = %crate::redact::redact(&error.to_string()), "the console failed to read the ledger");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Ledger unavailable",
                    "The ledger could not be read; try again shortly.".to_string(),
                )
            }
        };
        let page = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · dunner console</title>\
             <link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head>\
             <body><main id=\"main\" class=\"narrow\"><h1>{title}</h1><p role=\"alert\">{}</p>\
             <p><a href=\"/console\">Back to the console</a> · <a href=\"/console/sign-in\">Sign in</a></p>\
             </main></body></html>",
            minijinja::HtmlEscape(&message)
        );
        (status, Html(page)).into_response()
    }
}

/// The context every page shares: who is signed in and what they may do, the CSRF
/// token for its forms, and which section of the navigation is current.
fn page_context(viewer: &session::Viewer, section: &str, page: Value) -> Value {
    context! {
        viewer => context! {
            name => viewer.name.clone(),
            key_id => viewer.key_id.clone(),
            scopes => viewer.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            can_record => viewer.may(Scope::Record),
            is_admin => viewer.may(Scope::Admin),
        },
        csrf => viewer.csrf.clone(),
        section => section,
        ..page
    }
}

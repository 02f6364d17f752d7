//! The HTTP JSON API (`/v1`), a thin shell around the store and the engine.
//!
//! Handlers extract, call, respond; errors have one JSON shape (`error.rs`); bodies
//! over [`body::MAX_BODY_BYTES`] get 413; a panic becomes an opaque 500. Every request
//! is counted and timed for `GET /metrics` (`metrics.rs`).
//!
//! One resource per file (`accounts`, `events`, `attempts`, `decisions`, `evaluate`,
//! `windows`, `policy`, `notices`, `reports`, `audit`, `plans`, `health`), the wire types they
//! speak in `dto`. The routes are listed once, in `route_list`: the router and the OpenAPI
//! document are both built from that list.

mod accounts;
mod attempts;
mod audit;
mod auth;
mod body;
mod decisions;
mod dto;
mod error;
mod evaluate;
mod events;
mod health;
mod metrics;
mod notices;
pub mod openapi;
mod outcomes;
mod plans;
mod policy;
mod records;
mod reports;
mod responses;
mod windows;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use crate::metrics::Metrics;
pub use error::ApiError;

use crate::auth::Scope;
use crate::clock::Clock;
use crate::config::ConfiguredKey;
use crate::reload::LivePolicy;
use crate::store::Store;

/// What every handler shares, behind one `Arc`: axum clones the state for each layer a
/// request passes, so one count to raise beats one per part.
#[derive(Debug, Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    /// The state over its parts.
    pub fn new(parts: SharedState) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Debug, Clone)]
pub struct SharedState {
    /// The ledger.
    pub store: Store,
    /// The policy that decides, swapped on reload.
    pub policy: Arc<LivePolicy>,
    /// The clock (the only source of "now").
    pub clock: Arc<dyn Clock>,
    /// Leave `POST /v1/evaluate` open without a key (for local use only).
    pub open_evaluate: bool,
    /// API keys from the configuration file (hashed), accepted besides stored ones.
    pub config_keys: Arc<[ConfiguredKey]>,
    /// Stored keys read less than `service::KEY_CACHE_TTL` ago; emptied when a key is
    /// revoked through this daemon.
    pub key_cache: Arc<crate::service::KeyCache>,
    /// The counters `GET /metrics` exposes.
    pub metrics: Arc<Metrics>,
    /// Rung when a notice is queued, to wake the outbox worker.
    pub notices_wake: Arc<tokio::sync::Notify>,
    /// Who can deliver notices (a notice nobody can deliver is refused when asked for).
    pub notice_senders: Arc<crate::domain::NoticeSenders>,
    /// The strategies of `[scheduler]`, for `GET /v1/accounts/{id}/plan`.
    pub strategies: Arc<crate::strategy::StrategySet>,
    /// The background tasks' health, for `/readyz`.
    pub tasks: Arc<crate::tasks::TaskHealth>,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_retention: Duration,
    /// How long after an attempt its outcome may still be reported.
    pub outcome_grace: Duration,
    /// How long records are kept (`[retention]`), for `POST /v1/purges`.
    pub retention: Arc<crate::records::RetentionConfig>,
}

/// The API's routes, each with its OpenAPI operation: the one list both the router
/// ([`router`]) and the document ([`openapi::document`]) are built from, so that no
/// route can be served undocumented or documented unserved.
///
/// To add a route: write the handler with `#[utoipa::path(…)]` (method, path, tag,
/// parameters, body, responses, and `security(("bearer" = ["<scope>"]))` for a `/v1`
/// route) in its resource's file, and add one line here:
/// `.routes(record(routes!(file::handler)))` for a write, `decide(…)` for a read, no
/// guard for an open route. utoipa-axum's `routes!` reads the method and path from the
/// attribute; handlers of one path may share a line when they share a scope, and two
/// lines on one path are merged (as `PUT` and `GET /v1/accounts/{id}` are; the same
/// method twice panics at startup). A body type that is not the domain's goes in
/// `dto.rs`. Then `DUNNER_UPDATE_OPENAPI=1 cargo test --test it
/// openapi` and review the diff of `openapi.json`.
///
/// With `state`, each `/v1` route is behind an API key with its scope (`decide` to ask
/// and read, `record` to write), and `/v1/evaluate` is open when `open_evaluate` is
/// set; without (the document alone) no guard is applied, which changes no operation:
/// each attribute names its scope. The guard leaves the key's [`crate::auth::Access`]
/// (the clients it reaches) in the request: `AccountIdPath` checks it for every account
/// a path names, and handlers that list or take an account in a body extract it.
fn route_list(state: Option<&AppState>) -> OpenApiRouter<AppState> {
    let guard = |scope: Scope| {
        move |routes: UtoipaMethodRouter<AppState>| match state {
            Some(state) => routes.map(|method_router| {
                method_router.route_layer(axum::middleware::from_fn_with_state(
                    (state.clone(), scope),
                    auth::authorize,
                ))
            }),
            None => routes,
        }
    };
    let (decide, record, admin) = (
        guard(Scope::Decide),
        guard(Scope::Record),
        guard(Scope::Admin),
    );
    let open_evaluate = state.is_some_and(|state| state.open_evaluate);
    let evaluate = routes!(evaluate::evaluate);
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        // Open: probes, metrics, this document.
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::scrape))
        .routes(routes!(openapi::serve))
        // Accounts.
        .routes(record(routes!(accounts::put_account)))
        .routes(decide(routes!(accounts::get_account)))
        .routes(record(routes!(accounts::put_accounts)))
        // The ledger.
        .routes(record(routes!(events::append_event)))
        .routes(decide(routes!(events::list_events)))
        .routes(record(routes!(attempts::record_attempt)))
        .routes(record(routes!(outcomes::report_outcome)))
        // Decisions.
        .routes(decide(routes!(
            decisions::decide_stored,
            decisions::list_decisions
        )))
        .routes(if open_evaluate {
            evaluate.map(|method_router| {
                method_router.route_layer(axum::middleware::from_fn(auth::open_access))
            })
        } else {
            decide(evaluate)
        })
        .routes(decide(routes!(windows::windows)))
        .routes(decide(routes!(audit::audit)))
        .routes(decide(routes!(audit::verify)))
        .routes(decide(routes!(policy::policy)))
        .routes(decide(routes!(policy::policy_texts)))
        // Notices.
        .routes(record(routes!(notices::request_notice)))
        .routes(decide(routes!(notices::list_notices)))
        .routes(decide(routes!(notices::get_notice)))
        .routes(record(routes!(notices::retry_notice)))
        // Reports and plans.
        .routes(decide(routes!(reports::shadow)))
        .routes(decide(routes!(reports::report)))
        .routes(decide(routes!(plans::account_plan)))
        // Records: legal holds and purges.
        .routes(admin(routes!(records::place_hold, records::list_holds)))
        .routes(admin(routes!(records::release_hold)))
        .routes(admin(routes!(records::purge, records::purge_report)))
}

/// The API's router: the routes of `route_list` with their guards, the JSON 404 and
/// 405, and the layers. Health probes, `/metrics` (no label carries personal data) and
/// `/openapi.json` are open, and so is `/v1/evaluate` when `open_evaluate` is set. No
/// route is added here: every one comes from `route_list`, so it is documented.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// [`router`] with more routes that are not the API and not in its document (the web
/// console's pages), behind the same layers: logged, timed, counted, caught.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let (routes, _document) = route_list(Some(&state)).split_for_parts();
    routes
        .merge(extra)
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        // Outermost, so that timeouts and caught panics are counted with their status.
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.metrics),
            metrics::track,
        ))
        .with_state(state)
}

/// The OpenAPI document of every route of [`route_list`] (for [`openapi::document`]).
fn documented() -> utoipa::openapi::OpenApi {
    route_list(None).into_openapi()
}

/// 404 for a path no route serves, in the one error shape.
async fn unknown_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route for `{}`",
        crate::logging::redact_uri(uri.path())
    ))
}

/// 405 for a method a route does not serve, in the one error shape.
async fn wrong_method(method: axum::http::Method) -> ApiError {
    ApiError::method_not_allowed(&method)
}

/// A panic in a handler (a bug) answers an opaque 500 in the one error shape; the
/// cause is logged.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::internal(crate::tasks::panic_message(panic.as_ref())).into_response()
}

/// The span around each request: method and URI (percent-decoded, with phone numbers
/// and email addresses masked; account ids stay), never headers or bodies. Debug level,
/// like tower-http's default: `DUNNER_LOG=info,tower_http=debug` logs every request.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %crate::logging::redact_uri(&request.uri().to_string()),
        version = ?request.version(),
    )
}

/// How long a client may take to send a request's headers before the connection is
/// closed: a connection that never finishes its headers would otherwise hold a socket
/// (and a file descriptor) for ever.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The most connections served at once; further ones wait in the listen backlog, so a
/// flood of idle sockets cannot exhaust the process's file descriptors.
pub const MAX_CONNECTIONS: usize = 1024;

/// A bound, not yet running server: `local_addr` works before `run`, so tests can use
/// port 0.
pub struct Server {
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    max_connections: usize,
}

impl Server {
    /// Binds the listener.
    pub async fn bind(address: SocketAddr, state: AppState) -> std::io::Result<Server> {
        Server::bind_with(address, state, Router::new()).await
    }

    /// Binds the listener, serving `extra` routes besides the API (see [`router_with`]).
    pub async fn bind_with(
        address: SocketAddr,
        state: AppState,
        extra: Router<AppState>,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(address).await?;
        Ok(Server {
            listener,
            router: router_with(state, extra),
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        })
    }

    /// Sets the header-read timeout (tests use a short one).
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Server {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets the most connections served at once.
    pub fn with_max_connections(mut self, max: usize) -> Server {
        self.max_connections = max.max(1);
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then drains in-flight requests. Each connection
    /// must send its headers within the header-read timeout (HTTP/1) and holds one of
    /// `max_connections` permits while open.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
        use hyper_util::server::conn::auto::Builder;
        use hyper_util::server::graceful::GracefulShutdown;
        use hyper_util::service::TowerToHyperService;

        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let permits = Arc::new(tokio::sync::Semaphore::new(self.max_connections));
        let graceful = GracefulShutdown::new();
        let service = TowerToHyperService::new(self.router);
        tokio::pin!(shutdown);
        loop {
            // A permit first: at the cap, new connections wait in the kernel's backlog.
            let permit = tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let stream = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // Out of descriptors and the like: wait, never spin or stop.
                        tracing::warn!(%error, "failed to accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service.clone())
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(error = %error, "connection ended with an error");
                }
                drop(permit);
            });
        }
        drop(self.listener);
        graceful.shutdown().await;
        Ok(())
    }
}

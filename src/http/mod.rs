//! The HTTP JSON API (`/v1`), a thin shell around the store and the engine.
//!
//! Handlers extract, call, respond; errors have one JSON shape (`error.rs`); bodies
//! over [`body::MAX_BODY_BYTES`] get 413; a panic becomes an opaque 500. Every request
//! is counted and timed for `GET /metrics` (`metrics.rs`).

mod auth;
mod body;
mod error;
mod metrics;
mod notices;
pub mod openapi;
mod plans;
mod reports;
mod responses;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post, put};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use crate::metrics::Metrics;
pub use error::ApiError;

use crate::auth::Scope;
use crate::clock::Clock;
use crate::config::ConfiguredKey;
use crate::reload::LivePolicy;
use crate::store::Store;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
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
}

/// The API's routes and layers. Every `/v1` route needs an API key with its scope
/// (`decide` to ask and read, `record` to write); health probes, `/metrics` (no label
/// carries personal data) and `/openapi.json` are open, and so is `/v1/evaluate` when
/// `open_evaluate` is set.
pub fn router(state: AppState) -> Router {
    let guard = |scope: Scope| {
        axum::middleware::from_fn_with_state((state.clone(), scope), auth::authorize)
    };
    let evaluate = if state.open_evaluate {
        post(routes::evaluate)
    } else {
        post(routes::evaluate).route_layer(guard(Scope::Decide))
    };
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(metrics::scrape))
        .route("/openapi.json", get(openapi::serve))
        .route(
            "/v1/accounts/{id}",
            put(routes::put_account)
                .route_layer(guard(Scope::Record))
                .merge(get(routes::get_account).route_layer(guard(Scope::Decide))),
        )
        .route(
            "/v1/accounts/bulk",
            post(routes::put_accounts).route_layer(guard(Scope::Record)),
        )
        .route(
            "/v1/accounts/{id}/events",
            post(routes::append_event)
                .route_layer(guard(Scope::Record))
                .merge(get(routes::list_events).route_layer(guard(Scope::Decide))),
        )
        .route(
            "/v1/accounts/{id}/attempts",
            post(routes::record_attempt).route_layer(guard(Scope::Record)),
        )
        .route(
            "/v1/decisions",
            post(routes::decide_stored)
                .get(routes::list_decisions)
                .route_layer(guard(Scope::Decide)),
        )
        .route("/v1/evaluate", evaluate)
        .route(
            "/v1/policy",
            get(routes::policy).route_layer(guard(Scope::Decide)),
        )
        .route(
            "/v1/notices",
            post(notices::request_notice)
                .route_layer(guard(Scope::Record))
                .merge(get(notices::list_notices).route_layer(guard(Scope::Decide))),
        )
        .route(
            "/v1/notices/{id}",
            get(notices::get_notice).route_layer(guard(Scope::Decide)),
        )
        .route(
            "/v1/notices/{id}/retry",
            post(notices::retry_notice).route_layer(guard(Scope::Record)),
        )
        .route(
            "/v1/accounts/{id}/windows",
            get(routes::windows).route_layer(guard(Scope::Decide)),
        )
        .route(
            "/v1/reports/{name}",
            get(reports::report).route_layer(guard(Scope::Decide)),
        )
        .route(
            "/v1/accounts/{id}/plan",
            get(plans::account_plan).route_layer(guard(Scope::Decide)),
        )
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
    ApiError::internal(&crate::tasks::panic_message(panic.as_ref())).into_response()
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
        let listener = TcpListener::bind(address).await?;
        Ok(Server {
            listener,
            router: router(state),
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

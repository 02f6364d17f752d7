//! `GET /metrics`: the daemon's counters in the OpenMetrics text format Prometheus
//! scrapes.
//!
//! The counters are [`crate::metrics`]; one [`Metrics`] value per app, held by
//! [`AppState`] (no process-global recorder, so every app a test builds counts on its
//! own). The request layer ([`track`])
//! labels requests by the matched route *template* (`/v1/accounts/{id}/attempts`),
//! never the concrete path, so the label set stays small and carries no account ids;
//! decisions are counted by outcome and by refusing rule id. No label holds personal
//! data, which is why the route is open like the health probes.
//!
//! Cost per request: two clock reads, two label lookups under a read lock and a
//! histogram observation — well under a microsecond next to the engine's work.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::metrics::Metrics;

/// The media type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of requests no route matched (a 404 from the fallback), so that
/// arbitrary paths cannot grow the label set.
const UNMATCHED: &str = "unmatched";

/// The request header (and response header) that carries a request's id.
pub const REQUEST_ID: &str = "x-request-id";

/// The request layer: gives every request an id (the caller's `X-Request-Id` when it is a
/// short token, else a fresh UUID), runs it inside a span carrying that id (so every log
/// line of the request, a 5xx's cause included, names it), answers with the id in
/// `X-Request-Id`, counts and times the request by its matched route, and logs one line
/// per request at `info`: method, route template, status, latency, id. No URI, header or
/// body is logged, so no personal data is.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(Cow::Borrowed(UNMATCHED), |path| {
            Cow::Owned(path.as_str().to_owned())
        });
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            (1..=64).contains(&value.len())
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_string);
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    let latency = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            method,
            route = %route,
            status = status.as_u16(),
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request"
        );
    });
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    metrics.observe_request(method, route, status, started);
    response
}

/// Standard methods by name; anything else is `other` (the label set stays bounded).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "health",
    description = "Counters and latencies in the OpenMetrics text format, for Prometheus. Open (no API key): no label carries personal data.",
    responses(
        (status = 200, description = "The metrics", body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 500, response = super::responses::Internal)))]
pub async fn scrape(State(state): State<AppState>) -> Response {
    // The outbox gauges come from one aggregate query: right across every daemon on a
    // shared ledger, and nothing to keep in step. Without the ledger they keep their
    // last value and the failure is logged; the counters are still served.
    let now = state.clock.now();
    match state.store.outbox_gauges(now).await {
        Ok(gauges) => state.metrics.set_outbox_gauges(&gauges, now),
        Err(error) => tracing::warn!(%error, "the outbox gauges could not be read"),
    }
    state
        .metrics
        .set_history_cache_rows(state.store.held_history_rows());
    match state.metrics.encode() {
        Ok(text) => ([(CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(error) => ApiError::internal(error).into_response(),
    }
}

//! The probes: `GET /healthz` (the process answers) and `GET /readyz` (the ledger and
//! every background task are up). Open, like `/metrics` and `/openapi.json`.

use axum::extract::State;

use super::AppState;
use super::error::ApiError;
use super::responses::Unavailable;

#[utoipa::path(get, path = "/healthz", tag = "health",
    description = "Liveness: the process answers. Open (no API key).",
    responses((status = 200, description = "Alive", body = String, content_type = "text/plain", example = "ok")))]
pub async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "health",
    description = "Readiness: the ledger is reachable and every background task (the ledger's writer, the outbox worker, the scheduler) is running; 503 while one is restarting after a failure. Open (no API key).",
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain", example = "ready"),
        (status = 503, response = Unavailable)))]
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.ping().await.map_err(ApiError::unavailable)?;
    let problems = state.tasks.problems();
    if !problems.is_empty() {
        return Err(ApiError::unavailable(problems.join("; ")));
    }
    Ok("ready")
}

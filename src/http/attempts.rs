//! `POST /v1/accounts/{id}/attempts`: the atomic check-and-record: the attempt is
//! decided from the ledger and recorded only if allowed; the decision is logged either
//! way.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::body::{AccountIdPath, JsonBody};
use super::dto::{AttemptBody, AttemptResult};
use super::error::ApiError;
use super::responses::{
    BadRequest, Forbidden, Internal, NotFound, TooLarge, Unauthorized, Unavailable, Unprocessable,
};
use crate::service;
use crate::store::Attempt;

#[utoipa::path(post, path = "/v1/accounts/{id}/attempts", tag = "ledger",
    description = "Atomic check-and-record: decides the attempt from the ledger and records it only if allowed; the decision is logged either way. With an `Idempotency-Key` header, a repeat of the same request within the retention period (24 h by default) answers the first response (with `Idempotent-Replayed: true`) and writes nothing; the same key with another request is a 422. Needs the `record` scope.",
    params(("id" = String, Path, description = "The account's identifier", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried attempt count once: 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$")), request_body = AttemptBody, security(("bearer" = ["record"])),
    responses(
        (status = 201, description = "Allowed and recorded", body = AttemptResult),
        (status = 409, description = "Refused, not recorded (`recorded` is false; the decision says why)", body = AttemptResult),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 422, response = Unprocessable),
        (status = 413, response = TooLarge), (status = 500, response = Internal),
        (status = 503, response = Unavailable)))]
pub async fn record_attempt(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<AttemptBody>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let idempotency = super::body::idempotency_key(
        &headers,
        &("attempts", &id, &body),
        now,
        state.idempotency_retention,
    )?;
    let attempt = Attempt {
        account_id: id,
        at: body.at.unwrap_or(now),
        channel: body.channel,
        purpose: body.purpose,
        contact_point: body.contact_point,
        outcome: body.outcome,
        idempotency,
    };
    let recorded = service::check_and_record_with(
        &state.store,
        &state.policy.current(),
        state.policy.shadow().as_ref(),
        &attempt,
        now,
    )
    .await?;
    if !recorded.replayed {
        state.metrics.observe_decision(&recorded.decision);
        if let Some(divergence) = &recorded.shadow {
            state.metrics.observe_shadow_divergence(divergence);
        }
        if recorded.event_id.is_some() {
            state.metrics.observe_attempt_recorded();
        }
    }
    let status = if recorded.event_id.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::CONFLICT
    };
    let replayed = recorded.replayed;
    let body = AttemptResult {
        recorded: recorded.event_id.is_some(),
        event_id: recorded.event_id,
        decision_id: recorded.decision_id,
        decision: recorded.logged,
    };
    let mut response = (status, Json(body)).into_response();
    if replayed {
        super::body::mark_replayed(&mut response);
    }
    Ok(response)
}

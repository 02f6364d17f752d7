//! The stateful question (`POST /v1/decisions`), answered from the stored account and
//! ledger and logged, and the log of those answers (`GET /v1/decisions`).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::body::{JsonBody, QueryParams, idempotency_key, mark_replayed, page_limit};
use super::dto::{Answer, DecisionsQuery, QuestionBody};
use super::error::ApiError;
use super::responses::{
    BadRequest, Forbidden, Internal, NotFound, TooLarge, Unauthorized, Unavailable, Unprocessable,
};
use crate::service::{self, LoggedDecision};
use crate::store::Attempt;

#[utoipa::path(post, path = "/v1/decisions", tag = "decisions",
    description = "The stateful question, answered from the stored account and ledger and logged. With an `Idempotency-Key` header, a repeat of the same question within the retention period answers the first decision (same `decision_id`, with `Idempotent-Replayed: true`) and logs nothing; the same key with another question is a 422. Needs the `decide` scope.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried question logged once: 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$")),
    request_body = QuestionBody, security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "The logged decision", body = Answer),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 413, response = TooLarge), (status = 422, response = Unprocessable),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn decide_stored(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<QuestionBody>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let idempotency = idempotency_key(
        &headers,
        &("decisions", &body),
        now,
        state.idempotency_retention,
    )?;
    let question = Attempt {
        account_id: body.account_id,
        at: body.at.unwrap_or(now),
        channel: body.channel,
        purpose: body.purpose,
        contact_point: body.contact_point,
        outcome: None,
        idempotency,
    };
    let answered = service::decide_and_log_with(
        &state.store,
        &state.policy.current(),
        state.policy.shadow().as_ref(),
        &question,
        now,
    )
    .await?;
    if !answered.replayed {
        state.metrics.observe_decision(&answered.decision);
        if let Some(divergence) = &answered.shadow {
            state.metrics.observe_shadow_divergence(divergence);
        }
    }
    let replayed = answered.replayed;
    let mut response = Json(Answer {
        decision_id: answered.decision_id,
        decision: answered.decision,
    })
    .into_response();
    if replayed {
        mark_replayed(&mut response);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/v1/decisions", tag = "decisions",
    description = "The most recent decisions logged for an account (`limit`, default 100), oldest first. Needs the `decide` scope.",
    params(DecisionsQuery), security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "Logged decisions", body = Vec<LoggedDecision>),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 500, response = Internal)))]
pub async fn list_decisions(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<DecisionsQuery>,
) -> Result<Json<Vec<LoggedDecision>>, ApiError> {
    crate::domain::check_account_id(&query.account_id)
        .map_err(|message| ApiError::invalid("account_id", message))?;
    let limit = page_limit(query.limit, 100)?;
    Ok(Json(
        service::list_decisions(&state.store, &query.account_id, limit).await?,
    ))
}

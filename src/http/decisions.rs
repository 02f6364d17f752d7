//! The stateful question (`POST /v1/decisions`), answered from the stored account and
//! ledger and logged, and the log of those answers (`GET /v1/decisions`).

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::body::{JsonBody, QueryParams, page_limit};
use super::dto::{Answer, DecisionsQuery, QuestionBody};
use super::error::ApiError;
use super::responses::{
    BadRequest, Forbidden, Internal, NotFound, TooLarge, Unauthorized, Unavailable,
};
use crate::service::{self, LoggedDecision};
use crate::store::Attempt;

#[utoipa::path(post, path = "/v1/decisions", tag = "decisions",
    description = "The stateful question, answered from the stored account and ledger and logged. Needs the `decide` scope.",
    request_body = QuestionBody, security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "The logged decision", body = Answer),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 413, response = TooLarge), (status = 500, response = Internal),
        (status = 503, response = Unavailable)))]
pub async fn decide_stored(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<QuestionBody>,
) -> Result<Json<Answer>, ApiError> {
    let now = state.clock.now();
    let question = Attempt {
        account_id: body.account_id,
        at: body.at.unwrap_or(now),
        channel: body.channel,
        purpose: body.purpose,
        contact_point: body.contact_point,
        outcome: None,
        idempotency: None,
    };
    let answered =
        service::decide_and_log(&state.store, &state.policy.current(), &question, now).await?;
    state.metrics.observe_decision(&answered.decision);
    Ok(Json(Answer {
        decision_id: answered.decision_id,
        decision: answered.decision,
    }))
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

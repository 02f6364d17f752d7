//! The attempt's lifecycle over HTTP: a dialer records the attempt when it dials
//! (`POST …/attempts`, answered with the attempt's id) and reports how it ended later,
//! against that id. The ledger keeps both facts; the engine counts the attempt the strict
//! way until the outcome arrives.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::body::{JsonBody, idempotency_key, mark_replayed};
use super::error::ApiError;
use super::responses::{
    BadRequest, Conflict, Forbidden, Internal, NotFound, TooLarge, Unauthorized, Unavailable,
    Unprocessable,
};
use crate::domain::Outcome;
use crate::service;

/// How an attempt ended.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    /// The outcome (`no_answer`, `voicemail`, `busy`, `conversation`, …).
    outcome: Outcome,
}

/// The ledger entry that records a reported outcome.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OutcomeRecorded {
    /// The id of the new `outcome_reported` ledger event (UUID v7).
    id: String,
    /// The attempt it is about.
    attempt_id: String,
}

/// `{id}` and `{attempt_id}` of an outcome route: the account id checked like every
/// account id, the attempt id a UUID (anything else names no attempt: 404).
pub struct AttemptPath {
    account_id: String,
    attempt_id: String,
}

impl axum::extract::FromRequestParts<AppState> for AttemptPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let axum::extract::Path((account_id, attempt_id)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|rejection| ApiError::invalid("id", rejection.body_text()))?;
        crate::domain::check_account_id(&account_id)
            .map_err(|message| ApiError::invalid("id", message))?;
        // As every account route: another client's account is a missing one.
        let access = crate::auth::Access::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        crate::service::visible_account(&state.store, &access, &account_id).await?;
        if uuid::Uuid::try_parse(&attempt_id).is_err() {
            return Err(ApiError::not_found(format!(
                "account `{account_id}` has no attempt `{}`",
                crate::domain::excerpt(&attempt_id)
            )));
        }
        Ok(AttemptPath {
            account_id,
            attempt_id,
        })
    }
}

#[utoipa::path(post, path = "/v1/accounts/{id}/attempts/{attempt_id}/outcome", tag = "ledger",
    description = "Reports how an attempt recorded without an outcome ended (`attempt_id` is the `event_id` that recording the attempt answered). Append-only: the attempt stays as recorded and an `outcome_reported` event is added; from then on the engine counts the attempt with this outcome. Until it arrives the attempt counts as any outcome would (a possible conversation). Refused with 409 when the outcome is already known (recorded with the attempt or reported before) or when it comes later than `[server] outcome_grace` (2 h by default) after the attempt, which then stays counted the strict way. With an `Idempotency-Key` header, a repeat answers the first response. Needs the `record` scope.",
    params(
        ("id" = String, Path, description = "The account's identifier", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"),
        ("attempt_id" = String, Path, description = "The attempt's ledger event id (a UUID)", pattern = "^[0-9a-fA-F-]{32,36}$"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried report count once: 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$")),
    request_body = OutcomeBody, security(("bearer" = ["record"])),
    responses(
        (status = 201, description = "Recorded", body = OutcomeRecorded),
        (status = 409, response = Conflict),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 413, response = TooLarge), (status = 422, response = Unprocessable),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn report_outcome(
    State(state): State<AppState>,
    path: AttemptPath,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<OutcomeBody>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let key = idempotency_key(
        &headers,
        &("outcome", &path.account_id, &path.attempt_id, &body),
        now,
        state.idempotency_retention,
    )?;
    let (id, replayed) = service::report_outcome(
        &state.store,
        &path.account_id,
        &path.attempt_id,
        body.outcome,
        state.outcome_grace,
        now,
        key.as_ref(),
    )
    .await?;
    let answer = OutcomeRecorded {
        id,
        attempt_id: path.attempt_id,
    };
    let mut response = (StatusCode::CREATED, Json(answer)).into_response();
    if replayed {
        mark_replayed(&mut response);
    }
    Ok(response)
}

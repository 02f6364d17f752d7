//! The outbox over HTTP: ask for a notice (checked against the policy, queued in the
//! same transaction), look at one, list the dead letters, replay one.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::body::{IDEMPOTENCY_KEY, JsonBody, NoticeIdPath, QueryParams, page_limit};
use super::dto::{NoticeAnswer, NoticeRefused, NoticesQuery};
use super::error::ApiError;
use super::responses::{
    BadRequest, Forbidden, Internal, NotFound, TooLarge, Unauthorized, Unavailable,
};
use crate::auth::Access;
use crate::store::{Notice, NoticeRequest};

#[utoipa::path(post, path = "/v1/notices", tag = "notices",
    description = "Asks for an email or a webhook. The policy is checked: allowed now, due now (or at `not_before`); deferred, due at `next_allowed_at`; stopped by a hold, 422 with the decision and nothing queued. An `Idempotency-Key` header makes the request safe to repeat: a repeat gets the first notice (200). Needs the `record` scope.",
    request_body = NoticeRequest, security(("bearer" = ["record"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeats with the same key queue one notice")),
    responses(
        (status = 201, description = "Queued", body = NoticeAnswer),
        (status = 200, description = "Queued by an earlier request with the same key", body = NoticeAnswer),
        (status = 422, description = "Stopped by the policy (or a field that cannot apply, or no courier for its channel: `[smtp]`, `[[webhooks]]`); nothing queued", body = NoticeRefused),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn request_notice(
    State(state): State<AppState>,
    access: Access,
    headers: HeaderMap,
    JsonBody(request): JsonBody<NoticeRequest>,
) -> Result<Response, ApiError> {
    crate::service::visible_account(&state.store, &access, &request.account_id).await?;
    request
        .validate()
        .map_err(|error| ApiError::invalid(error.field, error.message))?;
    let key = match headers.get(IDEMPOTENCY_KEY) {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .filter(|key| !key.is_empty() && key.len() <= 255)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "Idempotency-Key",
                        "must be 1 to 255 visible ASCII characters",
                    )
                })?,
        ),
        None => None,
    };
    let enqueued = crate::service::request_notice(
        &state.store,
        &state.policy.current(),
        state.policy.shadow().as_ref(),
        &state.notice_senders,
        &request,
        key,
        state.clock.now(),
    )
    .await?;
    if let Some(decision) = &enqueued.decision {
        state.metrics.observe_decision(decision);
    }
    if let Some(divergence) = &enqueued.shadow {
        state.metrics.observe_shadow_divergence(divergence);
    }
    let status = match (&enqueued.notice, enqueued.replayed) {
        (Some(_), true) => StatusCode::OK,
        (Some(_), false) => {
            state.notices_wake.notify_one();
            StatusCode::CREATED
        }
        (None, _) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let answer = NoticeAnswer {
        queued: enqueued.notice.is_some(),
        notice: enqueued.notice,
        decision: enqueued.decision,
    };
    Ok((status, Json(answer)).into_response())
}

#[utoipa::path(get, path = "/v1/notices/{id}", tag = "notices",
    description = "A notice: its status, tries and last error. Needs the `decide` scope.",
    params(("id" = String, Path, description = "The notice's id (a UUID)")), security(("bearer" = ["decide"])),
    responses(
        (status = 400, response = BadRequest), (status = 200, description = "The notice", body = Notice),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn get_notice(
    State(state): State<AppState>,
    access: Access,
    NoticeIdPath(id): NoticeIdPath,
) -> Result<Json<Notice>, ApiError> {
    crate::service::visible_notice(&state.store, &access, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("notice `{id}` does not exist")))
}

#[utoipa::path(get, path = "/v1/notices", tag = "notices",
    description = "Notices, oldest first; `?status=dead` lists the dead letters. Needs the `decide` scope.",
    params(NoticesQuery), security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "The notices", body = Vec<Notice>),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn list_notices(
    State(state): State<AppState>,
    access: Access,
    QueryParams(query): QueryParams<NoticesQuery>,
) -> Result<Json<Vec<Notice>>, ApiError> {
    let limit = page_limit(query.limit, 100)?;
    if let Some(client) = &query.client {
        crate::domain::check_client_id(client)
            .map_err(|message| ApiError::invalid("client", message))?;
    }
    let clients = crate::service::listed_clients(&access, query.client.as_deref());
    Ok(Json(
        state
            .store
            .list_notices_within(query.status, limit, clients.as_deref())
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/notices/{id}/retry", tag = "notices",
    description = "Replays a dead or cancelled notice: pending again, due now, with a fresh retry schedule; the policy is still checked before it leaves. Needs the `record` scope.",
    params(("id" = String, Path, description = "The notice's id (a UUID)")), security(("bearer" = ["record"])),
    responses(
        (status = 400, response = BadRequest), (status = 200, description = "Pending again", body = Notice),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, description = "The notice is pending or delivered", body = super::error::ErrorBody),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn retry_notice(
    State(state): State<AppState>,
    access: Access,
    NoticeIdPath(id): NoticeIdPath,
) -> Result<Json<Notice>, ApiError> {
    if crate::service::visible_notice(&state.store, &access, &id)
        .await?
        .is_none()
    {
        return Err(crate::store::StoreError::NoticeNotFound(id).into());
    }
    let notice = crate::service::retry_notice(&state.store, &id, state.clock.now()).await?;
    state.notices_wake.notify_one();
    Ok(Json(notice))
}

//! The ledger's events: append one (with an optional `Idempotency-Key`), list them in
//! pages.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::body::{AccountIdPath, JsonBody, QueryParams, page_limit};
use super::dto::{Appended, EventPage, EventsQuery};
use super::error::ApiError;
use super::responses::{
    BadRequest, Forbidden, Internal, NotFound, TooLarge, Unauthorized, Unavailable, Unprocessable,
};
use crate::domain::LedgerEvent;
use crate::service;
use crate::store::EventQuery;

#[utoipa::path(post, path = "/v1/accounts/{id}/events", tag = "ledger",
    description = "Appends a ledger event; the account is updated in the same transaction. With an `Idempotency-Key` header, a repeat of the same request within the retention period answers the first event's id (with `Idempotent-Replayed: true`) and writes nothing; the same key with another request is a 422. Needs the `record` scope.",
    params(("id" = String, Path, description = "The account's identifier", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried append count once: 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$")), request_body = LedgerEvent, security(("bearer" = ["record"])),
    responses(
        (status = 201, description = "Appended", body = Appended),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 413, response = TooLarge), (status = 422, response = Unprocessable),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn append_event(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
    headers: axum::http::HeaderMap,
    JsonBody(event): JsonBody<LedgerEvent>,
) -> Result<Response, ApiError> {
    event
        .validate()
        .map_err(|error| ApiError::invalid(error.field, error.message))?;
    let now = state.clock.now();
    let key = super::body::idempotency_key(
        &headers,
        &("events", &id, &event),
        now,
        state.idempotency_retention,
    )?;
    let (event_id, replayed) =
        service::append_event_once(&state.store, &id, &event, now, key.as_ref()).await?;
    let mut response = (StatusCode::CREATED, Json(Appended { id: event_id })).into_response();
    if replayed {
        super::body::mark_replayed(&mut response);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/v1/accounts/{id}/events", tag = "ledger",
    description = "Lists the account's ledger events in pages, oldest first. Needs the `decide` scope.",
    params(("id" = String, Path, description = "The account's identifier", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"), EventsQuery), security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "One page of events", body = EventPage),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 500, response = Internal)))]
pub async fn list_events(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
    QueryParams(query): QueryParams<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    if !state.store.account_exists(&id).await? {
        return Err(ApiError::not_found(format!(
            "account `{id}` does not exist"
        )));
    }
    let limit = page_limit(query.limit, 100)?;
    let events = state
        .store
        .list_events(
            &id,
            &EventQuery {
                since: query.since,
                until: query.until,
                after_seq: query.after,
                limit: Some(limit),
            },
        )
        .await?;
    let next_after = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    Ok(Json(EventPage { events, next_after }))
}

//! Records management: legal holds placed, released and listed; purges planned, run and
//! reported. Admin routes, over the whole ledger: a key limited to clients is refused
//! (403), as for the other whole-ledger answers. Thin: check the body, call
//! `service::records`, answer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::body::{JsonBody, QueryParams};
use super::dto::{HoldList, HoldRequest, HoldsQuery, PurgeReport, PurgeRequest, PurgeResponse};
use super::error::ApiError;
use super::reports::every_client;
use super::responses::{
    BadRequest, Conflict, Forbidden, Internal, NotFound, TooLarge, Unauthorized, Unavailable,
    Unprocessable,
};
use crate::auth::Access;
use crate::records::{Hold, HoldScope};
use crate::service::records::{self, RecordsError};

impl From<RecordsError> for ApiError {
    fn from(error: RecordsError) -> ApiError {
        match error {
            RecordsError::Invalid { field, message } => ApiError::unprocessable(field, message),
            RecordsError::HoldNotFound(_) => ApiError::not_found(error.to_string()),
            RecordsError::HoldReleased(_) => ApiError::conflict(error.to_string()),
            RecordsError::Store(error) => error.into(),
        }
    }
}

#[utoipa::path(post, path = "/v1/holds", tag = "records",
    description = "Places a legal hold (litigation, dispute, regulator) on one account (`account_id`, which must exist) or on every account of a client (`client`): nothing it covers is purged until it is released. Recorded in the records log, which `GET /v1/audit/verify` checks. Needs the `admin` scope and a key not limited to clients (the answer covers every client).",
    request_body = HoldRequest, security(("bearer" = ["admin"])),
    responses(
        (status = 201, description = "Placed", body = Hold),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 413, response = TooLarge), (status = 422, response = Unprocessable),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn place_hold(
    State(state): State<AppState>,
    access: Access,
    JsonBody(request): JsonBody<HoldRequest>,
) -> Result<Response, ApiError> {
    every_client(&access)?;
    let (scope, target) = match (request.account_id, request.client) {
        (Some(account), None) => (HoldScope::Account, account),
        (None, Some(client)) => (HoldScope::Client, client),
        _ => {
            return Err(ApiError::unprocessable(
                "account_id",
                "give exactly one of `account_id` and `client`",
            ));
        }
    };
    let hold = records::place_hold(
        &state.store,
        scope,
        &target,
        request.kind,
        &request.reason,
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(hold)).into_response())
}

#[utoipa::path(get, path = "/v1/holds", tag = "records",
    description = "The legal holds in force, newest first (`all=true`: released ones too). Needs the `admin` scope and a key not limited to clients (the answer covers every client).",
    params(HoldsQuery), security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The holds", body = HoldList),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 500, response = Internal)))]
pub async fn list_holds(
    State(state): State<AppState>,
    access: Access,
    QueryParams(query): QueryParams<HoldsQuery>,
) -> Result<Json<HoldList>, ApiError> {
    every_client(&access)?;
    let holds = state.store.holds(query.all.unwrap_or(false)).await?;
    Ok(Json(HoldList { holds }))
}

#[utoipa::path(post, path = "/v1/holds/{id}/release", tag = "records",
    description = "Releases a legal hold: what it covered may be purged again once retention allows. Recorded in the records log. A hold released before is a 409. Needs the `admin` scope and a key not limited to clients (the answer covers every client).",
    params(("id" = String, Path, description = "The hold's id")),
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "Released", body = Hold),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn release_hold(
    State(state): State<AppState>,
    access: Access,
    Path(id): Path<String>,
) -> Result<Json<Hold>, ApiError> {
    every_client(&access)?;
    Ok(Json(
        records::release_hold(&state.store, &id, state.clock.now()).await?,
    ))
}

#[utoipa::path(post, path = "/v1/purges", tag = "records",
    description = "Plans a purge (`dry_run`, the default) or runs it (`\"dry_run\": false`): accounts past retention (the configuration's `[retention]`, never under 3 years after the last collection activity, 12 CFR 1006.100(a)) that are closed, paid or a deceased consumer's, and under no legal hold, have their personal data removed, each in its own transaction; the facts the caps and reports count and the hash chains stay. Idempotent. Needs the `admin` scope and a key not limited to clients (the answer covers every client).",
    request_body = PurgeRequest, security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "What the purge would do, or did", body = PurgeResponse),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 413, response = TooLarge),
        (status = 422, response = Unprocessable), (status = 500, response = Internal),
        (status = 503, response = Unavailable)))]
pub async fn purge(
    State(state): State<AppState>,
    access: Access,
    JsonBody(request): JsonBody<PurgeRequest>,
) -> Result<Json<PurgeResponse>, ApiError> {
    every_client(&access)?;
    let now = state.clock.now();
    let as_of = request.as_of.unwrap_or(now);
    if request.dry_run.unwrap_or(true) {
        let plan = records::plan_purge(&state.store, &state.retention, as_of).await?;
        return Ok(Json(PurgeResponse {
            dry_run: true,
            as_of: plan.as_of,
            selected: plan.selected,
            held: plan.held,
            purged: Vec::new(),
            skipped: Vec::new(),
        }));
    }
    let run = records::run_purge(&state.store, &state.retention, as_of, now).await?;
    Ok(Json(PurgeResponse {
        dry_run: false,
        as_of: run.plan.as_of,
        selected: run.plan.selected,
        held: run.plan.held,
        purged: run.purged,
        skipped: run.skipped,
    }))
}

#[utoipa::path(get, path = "/v1/purges", tag = "records",
    description = "The purge report: every account purged, when, under which rule and retention, and how many of its entries were scrubbed; nothing personal (account ids are the agency's references). Needs the `admin` scope and a key not limited to clients (the answer covers every client).",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The purge report", body = PurgeReport),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 500, response = Internal)))]
pub async fn purge_report(
    State(state): State<AppState>,
    access: Access,
) -> Result<Json<PurgeReport>, ApiError> {
    every_client(&access)?;
    Ok(Json(PurgeReport {
        purges: state.store.purge_report().await?,
    }))
}

//! The handlers: extract, call the store or the engine, respond. Thin on purpose.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::body::{AccountIdPath, JsonBody, MAX_BULK_BODY_BYTES, QueryParams, page_limit};
use super::error::ApiError;
use super::responses::{
    BadRequest, Forbidden, Internal, NotFound, TooLarge, Unauthorized, Unavailable, Unprocessable,
};
use crate::domain::{Account, Channel, LedgerEvent, Outcome, Purpose};
use crate::engine::{DecideRequest, Decision, decide};
use crate::service::{self, LoggedDecision};
use crate::store::{Attempt, EventQuery, StoredEvent};

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
    state
        .store
        .ping()
        .await
        .map_err(|error| ApiError::unavailable(&error))?;
    let problems = state.tasks.problems();
    if !problems.is_empty() {
        return Err(ApiError::unavailable(&problems.join("; ")));
    }
    Ok("ready")
}

#[utoipa::path(put, path = "/v1/accounts/{id}", tag = "accounts",
    description = "Creates or replaces an account. Needs the `record` scope.",
    params(("id" = String, Path, description = "The account's identifier", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")), request_body = Account, security(("bearer" = ["record"])),
    responses(
        (status = 200, description = "Stored; the account as stored", body = Account),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 413, response = TooLarge),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn put_account(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
    JsonBody(account): JsonBody<Account>,
) -> Result<Response, ApiError> {
    if account.id != id {
        return Err(ApiError::invalid(
            "id",
            format!(
                "the body's id `{}` differs from the path's `{id}`",
                account.id
            ),
        ));
    }
    state.store.put_account(&account, state.clock.now()).await?;
    Ok((StatusCode::OK, Json(account)).into_response())
}

/// The most accounts one bulk request carries.
pub const MAX_BULK_ACCOUNTS: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct BulkAccounts {
    /// The accounts, each with a distinct `id` (at most 10,000).
    accounts: Vec<Account>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkUpserted {
    /// How many accounts were created or replaced.
    upserted: usize,
}

/// Creates or replaces many accounts at once (onboarding a placement file): all or
/// none.
#[utoipa::path(post, path = "/v1/accounts/bulk", tag = "accounts",
    description = "Creates or replaces up to 10,000 accounts at once, all or none (body limit 32 MiB). Needs the `record` scope.",
    request_body = BulkAccounts, security(("bearer" = ["record"])),
    responses(
        (status = 200, description = "Every account stored", body = BulkUpserted),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 413, response = TooLarge),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn put_accounts(
    State(state): State<AppState>,
    JsonBody(bulk): JsonBody<BulkAccounts, MAX_BULK_BODY_BYTES>,
) -> Result<Json<BulkUpserted>, ApiError> {
    if bulk.accounts.len() > MAX_BULK_ACCOUNTS {
        return Err(ApiError::invalid(
            "accounts",
            format!(
                "{} accounts in one request; send at most {MAX_BULK_ACCOUNTS} at a time",
                bulk.accounts.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (index, account) in bulk.accounts.iter().enumerate() {
        if !seen.insert(account.id.as_str()) {
            return Err(ApiError::invalid(
                format!("accounts[{index}].id"),
                format!("account `{}` appears twice", account.id),
            ));
        }
    }
    state
        .store
        .put_accounts(&bulk.accounts, state.clock.now())
        .await?;
    Ok(Json(BulkUpserted {
        upserted: bulk.accounts.len(),
    }))
}

#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts",
    description = "Reads an account. Needs the `decide` scope.",
    params(("id" = String, Path, description = "The account's identifier", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")), security(("bearer" = ["decide"])),
    responses(
        (status = 400, response = BadRequest), (status = 200, description = "The account", body = Account),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 500, response = Internal)))]
pub async fn get_account(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
) -> Result<Json<Account>, ApiError> {
    state
        .store
        .get_account(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("account `{id}` does not exist")))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Appended {
    /// The id of the new ledger event (UUID v7).
    id: String,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events at or after this instant.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[param(value_type = Option<crate::domain::instant::InstantSchema>)]
    since: Option<DateTime<Utc>>,
    /// Only events before this instant.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[param(value_type = Option<crate::domain::instant::InstantSchema>)]
    until: Option<DateTime<Utc>>,
    /// Only events after this ledger position (the previous page's `next_after`).
    after: Option<i64>,
    /// Page size: 1-1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventPage {
    /// The events of the page, in ledger order.
    events: Vec<StoredEvent>,
    /// Pass as `after` for the next page; absent on the last page.
    next_after: Option<i64>,
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

/// An attempt or a stateful question, as callers send it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(Serialize, utoipa::ToSchema)]
pub struct AttemptBody {
    /// When the attempt is made; defaults to now.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[schema(value_type = Option<crate::domain::instant::InstantSchema>)]
    at: Option<DateTime<Utc>>,
    /// The channel.
    channel: Channel,
    /// Why; `collection` when absent.
    #[serde(default)]
    purpose: Purpose,
    /// The phone number or email address used.
    contact_point: Option<String>,
    /// How it ended, when recorded after the fact; unknown counts as any outcome would.
    outcome: Option<Outcome>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttemptResult {
    /// Whether the attempt was allowed and recorded.
    recorded: bool,
    /// The id of the recorded event; `null` when refused.
    event_id: Option<String>,
    /// The id of the logged decision.
    decision_id: String,
    /// The decision.
    decision: Decision,
}

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
    let recorded =
        service::check_and_record(&state.store, &state.policy.current(), &attempt, now).await?;
    if !recorded.replayed {
        state.metrics.observe_decision(&recorded.decision);
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
        decision: recorded.decision,
    };
    let mut response = (status, Json(body)).into_response();
    if replayed {
        super::body::mark_replayed(&mut response);
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct QuestionBody {
    /// The stored account.
    #[serde(deserialize_with = "crate::domain::deserialize_account_id")]
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    account_id: String,
    /// The instant asked about; defaults to now.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[schema(value_type = Option<crate::domain::instant::InstantSchema>)]
    at: Option<DateTime<Utc>>,
    /// The channel.
    channel: Channel,
    /// Why; `collection` when absent.
    #[serde(default)]
    purpose: Purpose,
    /// The phone number or email address to be used, when known.
    contact_point: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Answer {
    /// The id of the logged decision.
    decision_id: String,
    /// The decision.
    decision: Decision,
}

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

#[utoipa::path(post, path = "/v1/evaluate", tag = "decisions",
    description = "The stateless `dunner decide` contract: the account and its history in, a decision out; nothing is stored. Needs the `decide` scope, unless the daemon runs with `open_evaluate`.",
    request_body = DecideRequest, security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "The decision", body = Decision),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 413, response = TooLarge)))]
pub async fn evaluate(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<DecideRequest>,
) -> Result<Json<Decision>, ApiError> {
    request
        .validate()
        .map_err(|error| ApiError::invalid(error.field, error.message))?;
    let decision = decide(&state.policy.current(), &request);
    state.metrics.observe_decision(&decision);
    Ok(Json(decision))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DecisionsQuery {
    /// The account.
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    account_id: String,
    /// How many of the most recent decisions: 1-1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyView {
    /// The digest of the policy in force (decisions carry it as `policy_digest`).
    digest: String,
    /// The loaded packs, in policy order.
    packs: Vec<PackView>,
    /// When the current policy was loaded.
    loaded_at: Option<DateTime<Utc>>,
    /// Why the last reload was refused (the current policy was kept); `null` if it wasn't.
    last_reload_error: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PackView {
    /// The pack id.
    id: String,
    /// The pack's title.
    title: String,
    /// The pack's version.
    version: String,
    /// Law as enacted, or a draft (still enforced).
    status: crate::policy::PackStatus,
    /// How many rules the pack has.
    rules: usize,
}

#[utoipa::path(get, path = "/v1/policy", tag = "policy",
    description = "The digest of the policy in force, its packs and the state of the last reload. Needs the `decide` scope.",
    security(("bearer" = ["decide"])),
    responses(
        (status = 400, response = BadRequest), (status = 200, description = "The policy in force", body = PolicyView),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn policy(State(state): State<AppState>) -> Json<PolicyView> {
    let policy = state.policy.current();
    let status = state.policy.status();
    let packs = policy
        .packs()
        .iter()
        .enumerate()
        .map(|(index, pack)| PackView {
            id: pack.id.clone(),
            title: pack.title.clone(),
            version: pack.version.clone(),
            status: pack.status,
            rules: policy
                .rules()
                .iter()
                .filter(|rule| rule.pack == index)
                .count(),
        })
        .collect();
    Json(PolicyView {
        digest: policy.digest().to_string(),
        packs,
        loaded_at: status.loaded_at,
        last_reload_error: status.last_error,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowsQuery {
    /// The channel.
    channel: Channel,
    /// Why; `collection` when absent.
    #[serde(default)]
    purpose: Purpose,
    /// The phone number or email address to be used, when known.
    contact_point: Option<String>,
    /// How many days ahead (1-14, default 7).
    #[param(minimum = 1, maximum = 14)]
    days: Option<u32>,
    /// Defaults to now.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[param(value_type = Option<crate::domain::instant::InstantSchema>)]
    from: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WindowsView {
    /// The start of the range.
    from: DateTime<Utc>,
    /// The end of the range (`from` plus `days`).
    until: DateTime<Utc>,
    /// The permitted intervals in the range.
    intervals: Vec<crate::engine::Interval>,
    /// The budget left at `from` in every cap (and warning) that governs the question.
    caps: Vec<crate::engine::CapBudget>,
}

/// The permitted intervals ahead for a channel and the budget left in every cap at
/// `from`, from the stored account and ledger.
#[utoipa::path(get, path = "/v1/accounts/{id}/windows", tag = "decisions",
    description = "The permitted intervals ahead for a channel and the budget left in every cap, from the stored account and ledger. Needs the `decide` scope.",
    params(("id" = String, Path, description = "The account's identifier", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"), WindowsQuery), security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "Intervals and cap budgets", body = WindowsView),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 500, response = Internal)))]
pub async fn windows(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
    QueryParams(query): QueryParams<WindowsQuery>,
) -> Result<Json<WindowsView>, ApiError> {
    const MAX_DAYS: u32 = 14;
    let days = query.days.unwrap_or(7);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::invalid(
            "days",
            format!("must be between 1 and {MAX_DAYS}, not {days}"),
        ));
    }
    let from = query.from.unwrap_or_else(|| state.clock.now());
    let until = from + chrono::TimeDelta::days(i64::from(days));
    let (account, history) = state
        .store
        .account_with_history(&id, crate::store::lookback_start(from))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account `{id}` does not exist")))?;
    let policy = state.policy.current();
    let subject = crate::engine::Subject::new(&policy, &account, &history);
    let question = crate::engine::Question {
        at: from,
        channel: query.channel,
        purpose: query.purpose,
        contact_point: query.contact_point.as_deref(),
        horizon_days: None,
    };
    Ok(Json(WindowsView {
        from,
        until,
        intervals: subject.permitted_intervals(&question, until),
        caps: subject.cap_budgets(&question),
    }))
}

//! The handlers: extract, call the store or the engine, respond. Thin on purpose.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::body::{JsonBody, MAX_BULK_BODY_BYTES, QueryParams};
use super::error::ApiError;
use crate::domain::{Account, Channel, LedgerEvent, Outcome, Purpose};
use crate::engine::{DecideRequest, Decision, decide};
use crate::store::{Attempt, EventQuery, LoggedDecision, StoredEvent};

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|error| ApiError::unavailable(&error))?;
    Ok("ready")
}

pub async fn put_account(
    State(state): State<AppState>,
    Path(id): Path<String>,
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
pub struct BulkAccounts {
    accounts: Vec<Account>,
}

#[derive(Serialize)]
pub struct BulkUpserted {
    upserted: usize,
}

/// Creates or replaces many accounts at once (onboarding a placement file): all or
/// none.
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

pub async fn get_account(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Account>, ApiError> {
    state
        .store
        .get_account(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("account `{id}` does not exist")))
}

#[derive(Serialize)]
pub struct Appended {
    id: String,
}

pub async fn append_event(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(event): JsonBody<LedgerEvent>,
) -> Result<Response, ApiError> {
    event
        .validate()
        .map_err(|error| ApiError::invalid(error.field, error.message))?;
    let event_id = state
        .store
        .append_event(&id, &event, state.clock.now())
        .await?;
    Ok((StatusCode::CREATED, Json(Appended { id: event_id })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    after: Option<i64>,
    limit: Option<u32>,
}

#[derive(Serialize)]
pub struct EventPage {
    events: Vec<StoredEvent>,
    /// Pass as `after` for the next page; absent on the last page.
    next_after: Option<i64>,
}

pub async fn list_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    if state.store.get_account(&id).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "account `{id}` does not exist"
        )));
    }
    let limit = query.limit.unwrap_or(100).clamp(1, crate::store::MAX_PAGE);
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
pub struct AttemptBody {
    /// Defaults to now.
    at: Option<DateTime<Utc>>,
    channel: Channel,
    #[serde(default)]
    purpose: Purpose,
    contact_point: Option<String>,
    outcome: Option<Outcome>,
}

#[derive(Serialize)]
pub struct AttemptResult {
    recorded: bool,
    event_id: Option<String>,
    decision_id: String,
    decision: Decision,
}

pub async fn record_attempt(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AttemptBody>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let attempt = Attempt {
        account_id: id,
        at: body.at.unwrap_or(now),
        channel: body.channel,
        purpose: body.purpose,
        contact_point: body.contact_point,
        outcome: body.outcome,
    };
    let recorded = state
        .store
        .check_and_record(&state.policy.current(), &attempt, now)
        .await?;
    state.metrics.observe_decision(&recorded.decision);
    if recorded.event_id.is_some() {
        state.metrics.observe_attempt_recorded();
    }
    let status = if recorded.event_id.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::CONFLICT
    };
    let body = AttemptResult {
        recorded: recorded.event_id.is_some(),
        event_id: recorded.event_id,
        decision_id: recorded.decision_id,
        decision: recorded.decision,
    };
    Ok((status, Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionBody {
    account_id: String,
    at: Option<DateTime<Utc>>,
    channel: Channel,
    #[serde(default)]
    purpose: Purpose,
    contact_point: Option<String>,
}

#[derive(Serialize)]
pub struct Answer {
    decision_id: String,
    decision: Decision,
}

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
    };
    let answered = state
        .store
        .decide_and_log(&state.policy.current(), &question, now)
        .await?;
    state.metrics.observe_decision(&answered.decision);
    Ok(Json(Answer {
        decision_id: answered.decision_id,
        decision: answered.decision,
    }))
}

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
pub struct DecisionsQuery {
    account_id: String,
    limit: Option<u32>,
}

pub async fn list_decisions(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<DecisionsQuery>,
) -> Result<Json<Vec<LoggedDecision>>, ApiError> {
    Ok(Json(
        state
            .store
            .list_decisions(&query.account_id, query.limit.unwrap_or(100))
            .await?,
    ))
}

#[derive(Serialize)]
pub struct PolicyView {
    digest: String,
    packs: Vec<PackView>,
    /// When the current policy was loaded.
    loaded_at: Option<DateTime<Utc>>,
    /// Why the last reload was refused (the current policy was kept); `null` if it wasn't.
    last_reload_error: Option<String>,
}

#[derive(Serialize)]
pub struct PackView {
    id: String,
    title: String,
    version: String,
    status: crate::policy::PackStatus,
    rules: usize,
}

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
pub struct WindowsQuery {
    channel: Channel,
    #[serde(default)]
    purpose: Purpose,
    contact_point: Option<String>,
    /// How many days ahead (1-14, default 7).
    days: Option<u32>,
    /// Defaults to now.
    from: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
pub struct WindowsView {
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    intervals: Vec<crate::engine::Interval>,
    /// The budget left at `from` in every cap (and warning) that governs the question.
    caps: Vec<crate::engine::CapBudget>,
}

/// The permitted intervals ahead for a channel and the budget left in every cap at
/// `from`, from the stored account and ledger.
pub async fn windows(
    State(state): State<AppState>,
    Path(id): Path<String>,
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

//! `GET /v1/accounts/{id}/windows`: the permitted intervals ahead for a channel and
//! the budget left in every cap, from the stored account and ledger.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::body::{AccountIdPath, QueryParams};
use super::dto::{WindowsQuery, WindowsView};
use super::error::ApiError;
use super::responses::{BadRequest, Forbidden, Internal, NotFound, Unauthorized};

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

//! `GET /v1/accounts/{id}/plan`: what the strategies plan next for an account and why —
//! the account planned with its consumer's other debts, under the strategy the
//! scheduler would use, against the stored ledger and the live policy.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::body::{AccountIdPath, QueryParams};
use super::dto::{PlanQuery, PlanView, StrategyRef};
use super::error::ApiError;
use super::responses::{BadRequest, Forbidden, Internal, NotFound, Unauthorized, Unprocessable};
use crate::planner::{Horizon, plan_under_set};

/// The most days one plan covers.
const MAX_PLAN_DAYS: u32 = 31;

#[utoipa::path(get, path = "/v1/accounts/{id}/plan", tag = "plans",
    description = "What the configured strategies plan for the account over the next `days` local days \
                   and why: the account is planned with its consumer's other debts (their contacts count \
                   toward caps per consumer), under the first strategy of `[scheduler] strategies` whose \
                   segment covers it, against the stored ledger and the live policy. 422 when no strategy \
                   is configured or none covers the account. Needs the `decide` scope.",
    params(("id" = String, Path, description = "The account's identifier", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"), PlanQuery),
    security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "The plan", body = PlanView),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 422, response = Unprocessable), (status = 500, response = Internal)))]
pub async fn account_plan(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
    QueryParams(query): QueryParams<PlanQuery>,
) -> Result<Json<PlanView>, ApiError> {
    let days = query.days.unwrap_or(7);
    if !(1..=MAX_PLAN_DAYS).contains(&days) {
        return Err(ApiError::invalid(
            "days",
            format!("must be between 1 and {MAX_PLAN_DAYS}, not {days}"),
        ));
    }
    let strategies = &state.strategies;
    if strategies.strategies().is_empty() {
        return Err(ApiError::unprocessable(
            "",
            "no strategy is configured: list strategy files under `[scheduler] strategies` in dunner.toml",
        ));
    }
    let debts = state
        .store
        .consumer_ledgers(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account `{id}` does not exist")))?;
    let from = state.clock.now();
    let horizon = Horizon {
        not_before: from,
        first_day: None,
        days,
    };
    let policy = state.policy.current();
    let planned = plan_under_set(strategies, &debts, &policy, &horizon)
        .into_iter()
        .zip(&debts)
        .find(|(_, debt)| debt.account.id == id)
        .and_then(|(planned, _)| planned);
    let Some((strategy, plan)) =
        planned.and_then(|(index, plan)| Some((strategies.strategies().get(index)?, plan)))
    else {
        let tried: Vec<String> = strategies
            .strategies()
            .iter()
            .map(|s| format!("`{}`", s.id))
            .collect();
        return Err(ApiError::unprocessable(
            "",
            format!(
                "no configured strategy's segment covers account `{id}` (tried {})",
                tried.join(", ")
            ),
        ));
    };
    Ok(Json(PlanView {
        strategy: StrategyRef {
            id: strategy.id.clone(),
            title: strategy.title.clone(),
            version: strategy.version.clone(),
        },
        policy_digest: policy.digest().to_string(),
        from,
        days,
        scheduler_enabled: strategies.executed,
        plan,
    }))
}

//! `GET /v1/accounts/{id}/plan`: what the strategies plan next for an account and why —
//! the account planned with its consumer's other debts, under the strategy the
//! scheduler would use, against the stored ledger and the live policy.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::body::{AccountIdPath, QueryParams};
use super::error::ApiError;
use super::responses::{BadRequest, Forbidden, Internal, NotFound, Unauthorized, Unprocessable};
use crate::planner::{AccountPlan, Horizon, plan_under_set};

/// The most days one plan covers.
const MAX_PLAN_DAYS: u32 = 31;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// How many of the consumer's local days, from today (1-31, default 7).
    #[param(minimum = 1, maximum = 31)]
    days: Option<u32>,
}

/// The strategy a plan follows.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StrategyRef {
    /// Its id (`standard-consumer`).
    id: String,
    /// Its title.
    title: String,
    /// The version its file gives.
    version: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PlanView {
    /// The strategy the account follows: the first configured one whose segment covers it.
    strategy: StrategyRef,
    /// The digest of the policy that decided every planned contact.
    policy_digest: String,
    /// Nothing is planned before this instant (now).
    from: DateTime<Utc>,
    /// The local days planned.
    days: u32,
    /// Whether the daemon's scheduler executes plans (`[scheduler] enabled`): if not,
    /// this is what it would do.
    scheduler_enabled: bool,
    /// The plan: contacts and escalations in time order, each contact with the decision
    /// that allows it; steps that cannot be placed with the refusing rules; steps not
    /// taken because a stop condition holds; the legal holds.
    plan: AccountPlan,
}

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

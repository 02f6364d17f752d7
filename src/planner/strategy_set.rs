//! A consumer's debts planned under a [`StrategySet`]: each debt under the strategy it
//! follows. Pure.

use super::{AccountLedger, AccountPlan, Horizon, local_day, plan_consumer};
use crate::policy::Policy;
use crate::strategy::{Strategy, StrategySet};

/// Plans a consumer's debts, each under the strategy it follows in `set` (`None` for a
/// debt no strategy covers). Every debt's ledger counts toward the caps per consumer of
/// the others, whichever strategy they follow.
pub fn plan_under_set(
    set: &StrategySet,
    debts: &[AccountLedger],
    policy: &Policy,
    horizon: &Horizon,
) -> Vec<Option<(usize, AccountPlan)>> {
    plan_under(set.strategies(), set, debts, policy, horizon)
}

/// [`plan_under_set`] with the escalations only, judged on the ledger.
pub fn escalate_under_set(
    set: &StrategySet,
    debts: &[AccountLedger],
    policy: &Policy,
    horizon: &Horizon,
) -> Vec<Option<(usize, AccountPlan)>> {
    plan_under(set.escalations(), set, debts, policy, horizon)
}

fn plan_under(
    strategies: &[Strategy],
    set: &StrategySet,
    debts: &[AccountLedger],
    policy: &Policy,
    horizon: &Horizon,
) -> Vec<Option<(usize, AccountPlan)>> {
    let chosen: Vec<Option<usize>> = debts
        .iter()
        .map(|debt| set.choose(&debt.account, local_day(&debt.account, horizon.not_before)))
        .collect();
    let mut used: Vec<usize> = chosen.iter().flatten().copied().collect();
    used.sort_unstable();
    used.dedup();
    let all: Vec<&AccountLedger> = debts.iter().collect();
    let mut plans: Vec<Option<(usize, AccountPlan)>> = vec![None; debts.len()];
    for index in used {
        let Some(strategy) = strategies.get(index) else {
            continue;
        };
        // The whole consumer is planned, so that the other debts' contacts count; only
        // the plans of the debts that follow this strategy are kept.
        let planned = plan_consumer(&all, strategy, policy, horizon);
        for ((plan, choice), slot) in planned.into_iter().zip(&chosen).zip(&mut plans) {
            if *choice == Some(index) {
                *slot = Some((index, plan));
            }
        }
    }
    plans
}

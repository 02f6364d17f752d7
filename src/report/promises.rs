//! Promises kept: the promises to pay made in the period, each judged kept, broken or
//! pending on the report's last day by [`Arrangements::from_ledger`], with their
//! amounts per currency; and the payment plans agreed in the period by state.
//!
//! Pure: each account's arrangement entries (promises, payments, plans,
//! cancellations) in, counts out. Payments after the report's instant are not read,
//! so a promise due later is pending however it turns out.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::Period;
use super::aging::{MoneyTotal, Totals};
use super::contacts::ratio;
use crate::domain::arrangements::{Arrangements, PlanState, PromiseState};
use crate::domain::{LedgerEvent, LedgerEventType};
use crate::store::reports::Unreadable;

/// Promises made in the period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PromisesSection {
    /// Promises to pay made in the period.
    pub made: u64,
    /// Kept, broken and pending, with their amounts.
    pub by_state: Vec<PromiseCount>,
    /// `kept / (kept + broken)`: pending promises are not judged yet; `null` when none
    /// is kept or broken.
    pub kept_rate: Option<f64>,
    /// Payment plans agreed in the period, by where they stand.
    pub plans: Vec<PlanCount>,
}

/// The promises in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PromiseCount {
    /// `kept`, `broken` or `pending`.
    #[schema(value_type = String, example = "kept")]
    pub state: PromiseState,
    /// How many.
    pub promises: u64,
    /// What they promised, per currency.
    pub amounts: Vec<MoneyTotal>,
}

/// The plans in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PlanCount {
    /// `active`, `broken`, `completed` or `cancelled`.
    #[schema(value_type = String, example = "active")]
    pub state: PlanState,
    /// How many.
    pub plans: u64,
}

const PROMISE_STATES: [PromiseState; 3] = [
    PromiseState::Kept,
    PromiseState::Broken,
    PromiseState::Pending,
];
const PLAN_STATES: [PlanState; 4] = [
    PlanState::Active,
    PlanState::Broken,
    PlanState::Completed,
    PlanState::Cancelled,
];

/// Whether a ledger entry is one the arrangements read.
pub fn is_arrangement(kind: LedgerEventType) -> bool {
    matches!(
        kind,
        LedgerEventType::PromiseToPay
            | LedgerEventType::PaymentPosted
            | LedgerEventType::PaymentPlan
            | LedgerEventType::PaymentPlanCancelled
    )
}

/// The fold: each account's arrangement entries from the start of the period (a
/// promise made in it is kept only by payments from then on).
#[derive(Debug, Clone, Default)]
pub struct PromiseTally {
    since: Option<DateTime<Utc>>,
    ledgers: HashMap<String, Vec<LedgerEvent>>,
}

impl PromiseTally {
    /// An empty tally keeping the entries from `since` on.
    pub fn new(since: DateTime<Utc>) -> PromiseTally {
        PromiseTally {
            since: Some(since),
            ledgers: HashMap::new(),
        }
    }

    /// Keeps one entry of an account, if it is an arrangement entry from the period.
    pub fn add(
        &mut self,
        account_id: &str,
        at: DateTime<Utc>,
        kind: LedgerEventType,
        body: &str,
    ) -> Result<(), Unreadable> {
        if !is_arrangement(kind) || self.since.is_some_and(|since| at < since) {
            return Ok(());
        }
        let event: LedgerEvent = serde_json::from_str(body).map_err(|error| Unreadable {
            what: "arrangement event",
            reason: error.to_string(),
        })?;
        match self.ledgers.get_mut(account_id) {
            Some(ledger) => ledger.push(event),
            None => {
                self.ledgers.insert(account_id.to_string(), vec![event]);
            }
        }
        Ok(())
    }

    /// Adds another partition's entries.
    pub fn merge(&mut self, other: PromiseTally) {
        for (account, events) in other.ledgers {
            self.ledgers.entry(account).or_default().extend(events);
        }
    }

    /// The section: promises and plans made in `period`, judged on `today`.
    pub fn finish(&self, period: &Period, today: NaiveDate) -> PromisesSection {
        let mut promises: [(u64, Totals); 3] = Default::default();
        let mut plans = [0_u64; 4];
        let in_period = |day: NaiveDate| period.day_index(day).is_some();
        for ledger in self.ledgers.values() {
            let arrangements = Arrangements::from_ledger(ledger, today);
            for promise in arrangements
                .promises
                .iter()
                .filter(|p| in_period(p.made_on))
            {
                let slot = PROMISE_STATES.iter().position(|s| *s == promise.state);
                if let Some((count, amounts)) = slot.and_then(|slot| promises.get_mut(slot)) {
                    *count += 1;
                    amounts.add(&promise.amount);
                }
            }
            if let Some(plan) = arrangements.plan.filter(|plan| in_period(plan.agreed_on)) {
                let slot = PLAN_STATES.iter().position(|s| *s == plan.state);
                if let Some(count) = slot.and_then(|slot| plans.get_mut(slot)) {
                    *count += 1;
                }
            }
        }
        let [(kept, _), (broken, _), _] = &promises;
        let kept_rate = ratio(*kept, kept + broken);
        PromisesSection {
            made: promises.iter().map(|(count, _)| count).sum(),
            kept_rate,
            by_state: PROMISE_STATES
                .into_iter()
                .zip(&promises)
                .map(|(state, (count, amounts))| PromiseCount {
                    state,
                    promises: *count,
                    amounts: amounts.to_vec(),
                })
                .collect(),
            plans: PLAN_STATES
                .into_iter()
                .zip(plans)
                .map(|(state, plans)| PlanCount { state, plans })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(tally: &mut PromiseTally, account: &str, json: serde_json::Value) {
        let body = json.to_string();
        let kind = super::super::facts::EventFacts::parse(&body).unwrap().kind;
        let at = json["at"].as_str().unwrap().parse().unwrap();
        tally.add(account, at, kind, &body).unwrap();
    }

    fn usd(amount: &str) -> serde_json::Value {
        serde_json::json!({"amount": amount, "currency": "USD"})
    }

    fn promise(at: &str, amount: &str, due_on: &str) -> serde_json::Value {
        serde_json::json!({"at": at, "type": "promise_to_pay", "amount": usd(amount), "due_on": due_on})
    }

    fn payment(at: &str, amount: &str) -> serde_json::Value {
        serde_json::json!({"at": at, "type": "payment_posted", "amount": usd(amount)})
    }

    #[test]
    fn promises_made_in_the_period_are_kept_broken_or_pending_on_its_last_day() {
        let period = Period {
            from: "2026-04-01".parse().unwrap(),
            to: "2026-04-30".parse().unwrap(),
        };
        let mut tally = PromiseTally::new(period.start());
        // Kept: paid in full by the due day, in two payments.
        add(
            &mut tally,
            "A-1",
            promise("2026-04-02T15:00:00Z", "100.00", "2026-04-10"),
        );
        add(&mut tally, "A-1", payment("2026-04-05T15:00:00Z", "60.00"));
        add(&mut tally, "A-1", payment("2026-04-10T23:00:00Z", "40.00"));
        // Broken: due before the last day, half paid.
        add(
            &mut tally,
            "A-2",
            promise("2026-04-03T15:00:00Z", "50.25", "2026-04-20"),
        );
        add(&mut tally, "A-2", payment("2026-04-04T15:00:00Z", "25.00"));
        // Pending: due after the last day.
        let mut other = PromiseTally::new(period.start());
        add(
            &mut other,
            "A-3",
            promise("2026-04-29T15:00:00Z", "10.00", "2026-05-05"),
        );
        // Made before the period: not counted, though broken.
        add(
            &mut other,
            "A-3",
            promise("2026-03-01T15:00:00Z", "99.00", "2026-03-05"),
        );
        // Contacts are not arrangements and are not kept.
        add(
            &mut other,
            "A-4",
            serde_json::json!({"at": "2026-04-02T15:00:00Z", "channel": "call"}),
        );
        tally.merge(other);
        let section = tally.finish(&period, period.to);
        assert_eq!(section.made, 3);
        let state = |s: PromiseState| section.by_state.iter().find(|c| c.state == s).unwrap();
        assert_eq!(state(PromiseState::Kept).promises, 1);
        assert_eq!(
            state(PromiseState::Kept).amounts[0].amount.to_string(),
            "100.00"
        );
        assert_eq!(state(PromiseState::Broken).promises, 1);
        assert_eq!(
            state(PromiseState::Broken).amounts[0].amount.to_string(),
            "50.25"
        );
        assert_eq!(state(PromiseState::Pending).promises, 1);
        assert_eq!(section.kept_rate, Some(0.5));
        assert!(!tally.ledgers.contains_key("A-4"));
    }

    #[test]
    fn plans_agreed_in_the_period_count_by_state_and_no_promise_means_no_rate() {
        let period = Period {
            from: "2026-04-01".parse().unwrap(),
            to: "2026-04-30".parse().unwrap(),
        };
        let mut tally = PromiseTally::new(period.start());
        add(
            &mut tally,
            "A-1",
            serde_json::json!({"at": "2026-04-01T12:00:00Z", "type": "payment_plan",
                "installments": [{"due_on": "2026-04-15", "amount": usd("50.00")},
                                 {"due_on": "2026-05-15", "amount": usd("50.00")}]}),
        );
        add(&mut tally, "A-1", payment("2026-04-14T12:00:00Z", "50.00"));
        add(
            &mut tally,
            "A-2",
            serde_json::json!({"at": "2026-04-01T12:00:00Z", "type": "payment_plan",
                "installments": [{"due_on": "2026-04-15", "amount": usd("50.00")}]}),
        );
        let section = tally.finish(&period, period.to);
        assert_eq!(section.made, 0);
        assert_eq!(section.kept_rate, None);
        let plans = |s: PlanState| section.plans.iter().find(|c| c.state == s).unwrap().plans;
        assert_eq!((plans(PlanState::Active), plans(PlanState::Broken)), (1, 1));
    }
}

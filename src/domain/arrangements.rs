//! Payment arrangements read back from the ledger: promises to pay and payment plans,
//! and whether the payments posted keep them.
//!
//! Pure: the ledger and the day to judge on in, the state out. The planner stops a
//! cadence while a plan is kept and escalates a broken promise; the reports count
//! promises kept. A payment counts on its UTC date.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{Installment, LedgerEvent, LedgerEventType, Money};

/// Where a promise to pay stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromiseState {
    /// Not due yet, not paid yet.
    Pending,
    /// Payments posted from the promise to its due day cover it.
    Kept,
    /// The due day passed without enough paid.
    Broken,
}

/// One promise to pay and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promise {
    /// The day the promise was made.
    pub made_on: NaiveDate,
    /// How much was promised.
    pub amount: Money,
    /// By when.
    pub due_on: NaiveDate,
    /// Kept, broken or pending.
    pub state: PromiseState,
}

/// Where a payment plan stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    /// Every installment due so far is paid and some are still to come.
    Active,
    /// An installment is past due and unpaid.
    Broken,
    /// Every installment is paid.
    Completed,
    /// Cancelled by a `payment_plan_cancelled` entry.
    Cancelled,
}

/// The payment plan in force (the latest agreed) and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentPlan {
    /// The day it was agreed.
    pub agreed_on: NaiveDate,
    /// Its installments by due day, each with whether payments cover it.
    pub installments: Vec<(Installment, bool)>,
    /// Active, broken, completed or cancelled.
    pub state: PlanState,
}

impl PaymentPlan {
    /// The first installment not yet covered by payments.
    pub fn next_unpaid(&self) -> Option<&Installment> {
        self.installments
            .iter()
            .find(|(_, paid)| !paid)
            .map(|(installment, _)| installment)
    }

    /// The day the plan broke: the day after the first unpaid installment fell due.
    pub fn broken_on(&self) -> Option<NaiveDate> {
        (self.state == PlanState::Broken)
            .then(|| self.next_unpaid())
            .flatten()
            .and_then(|installment| installment.due_on.succ_opt())
    }
}

/// Every arrangement of one account, judged on one day.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Arrangements {
    /// Promises to pay, in ledger order.
    pub promises: Vec<Promise>,
    /// The latest payment plan, if one was ever agreed.
    pub plan: Option<PaymentPlan>,
}

impl Arrangements {
    /// Reads the arrangements of one account's ledger (in any order) as they stand on
    /// `today`.
    pub fn from_ledger(ledger: &[LedgerEvent], today: NaiveDate) -> Arrangements {
        let payments: Vec<(NaiveDate, &Money)> = ledger
            .iter()
            .filter(|e| e.event_type == LedgerEventType::PaymentPosted)
            .filter_map(|e| Some((e.at.date_naive(), e.amount.as_ref()?)))
            .collect();
        let paid_between = |from: NaiveDate, to: NaiveDate, currency: &Money| -> Decimal {
            payments
                .iter()
                .filter(|(day, money)| {
                    (from..=to).contains(day) && money.currency == currency.currency
                })
                .map(|(_, money)| money.amount)
                .sum()
        };
        let promises = ledger
            .iter()
            .filter(|e| e.event_type == LedgerEventType::PromiseToPay)
            .filter_map(|e| {
                let amount = e.amount.clone()?;
                let due_on = e.due_on?;
                let made_on = e.at.date_naive();
                let state = if paid_between(made_on, due_on, &amount) >= amount.amount {
                    PromiseState::Kept
                } else if today > due_on {
                    PromiseState::Broken
                } else {
                    PromiseState::Pending
                };
                Some(Promise {
                    made_on,
                    amount,
                    due_on,
                    state,
                })
            })
            .collect();
        let latest = |kind: LedgerEventType| {
            ledger
                .iter()
                .filter(|e| e.event_type == kind)
                .max_by_key(|e| e.at)
        };
        let plan = latest(LedgerEventType::PaymentPlan).map(|agreed| {
            let agreed_on = agreed.at.date_naive();
            let cancelled = latest(LedgerEventType::PaymentPlanCancelled)
                .is_some_and(|cancel| cancel.at >= agreed.at);
            let mut installments = agreed.installments.clone();
            installments.sort_by_key(|i| i.due_on);
            // Payments since the plan was agreed cover installments in due order.
            let mut covered = installments.first().map_or(Decimal::ZERO, |first| {
                paid_between(agreed_on, NaiveDate::MAX, &first.amount)
            });
            let installments: Vec<(Installment, bool)> = installments
                .into_iter()
                .map(|installment| {
                    let paid = covered >= installment.amount.amount;
                    covered -= installment.amount.amount.min(covered);
                    (installment, paid)
                })
                .collect();
            let state = if cancelled {
                PlanState::Cancelled
            } else if installments.iter().all(|(_, paid)| *paid) {
                PlanState::Completed
            } else if installments
                .iter()
                .any(|(installment, paid)| !paid && installment.due_on < today)
            {
                PlanState::Broken
            } else {
                PlanState::Active
            };
            PaymentPlan {
                agreed_on,
                installments,
                state,
            }
        });
        Arrangements { promises, plan }
    }

    /// Whether a payment plan is in force and kept.
    pub fn plan_active(&self) -> bool {
        self.plan
            .as_ref()
            .is_some_and(|plan| plan.state == PlanState::Active)
    }

    /// The first day a promise or the plan was broken, if any is.
    pub fn broken_on(&self) -> Option<NaiveDate> {
        let promises = self
            .promises
            .iter()
            .filter(|p| p.state == PromiseState::Broken)
            .filter_map(|p| p.due_on.succ_opt());
        promises
            .chain(self.plan.as_ref().and_then(PaymentPlan::broken_on))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: serde_json::Value) -> LedgerEvent {
        serde_json::from_value(json).unwrap()
    }

    fn usd(amount: &str) -> serde_json::Value {
        serde_json::json!({"amount": amount, "currency": "USD"})
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_promise_is_kept_by_payments_up_to_its_due_day_and_broken_after_it() {
        let ledger = vec![
            entry(
                serde_json::json!({"at": "2026-11-01T15:00:00Z", "type": "promise_to_pay",
                "amount": usd("100.00"), "due_on": "2026-11-10"}),
            ),
            entry(
                serde_json::json!({"at": "2026-11-05T15:00:00Z", "type": "payment_posted",
                "amount": usd("60.00")}),
            ),
        ];
        let pending = Arrangements::from_ledger(&ledger, day("2026-11-10"));
        assert_eq!(pending.promises[0].state, PromiseState::Pending);
        assert_eq!(pending.broken_on(), None);
        let broken = Arrangements::from_ledger(&ledger, day("2026-11-11"));
        assert_eq!(broken.promises[0].state, PromiseState::Broken);
        assert_eq!(broken.broken_on(), Some(day("2026-11-11")));

        let mut kept = ledger.clone();
        kept.push(entry(serde_json::json!({"at": "2026-11-10T23:00:00Z",
            "type": "payment_posted", "amount": usd("40.00")})));
        let kept = Arrangements::from_ledger(&kept, day("2026-12-01"));
        assert_eq!(kept.promises[0].state, PromiseState::Kept);
    }

    #[test]
    fn payments_cover_installments_in_due_order_and_a_missed_one_breaks_the_plan() {
        let plan = entry(
            serde_json::json!({"at": "2026-10-01T12:00:00Z", "type": "payment_plan",
            "installments": [
                {"due_on": "2026-12-01", "amount": usd("50.00")},
                {"due_on": "2026-11-01", "amount": usd("50.00")},
            ]}),
        );
        let paid = entry(serde_json::json!({"at": "2026-10-30T12:00:00Z",
            "type": "payment_posted", "amount": usd("50.00")}));
        let active = Arrangements::from_ledger(&[plan.clone(), paid.clone()], day("2026-11-20"));
        assert!(active.plan_active());
        let next = active.plan.as_ref().and_then(PaymentPlan::next_unpaid);
        assert_eq!(next.map(|i| i.due_on), Some(day("2026-12-01")));

        let broken = Arrangements::from_ledger(std::slice::from_ref(&plan), day("2026-11-02"));
        assert_eq!(
            broken.plan.as_ref().map(|p| p.state),
            Some(PlanState::Broken)
        );
        assert_eq!(broken.broken_on(), Some(day("2026-11-02")));

        let cancel = entry(serde_json::json!({"at": "2026-11-03T12:00:00Z",
            "type": "payment_plan_cancelled"}));
        let cancelled = Arrangements::from_ledger(&[plan, paid, cancel], day("2026-11-20"));
        assert_eq!(
            cancelled.plan.as_ref().map(|p| p.state),
            Some(PlanState::Cancelled)
        );
        assert!(!cancelled.plan_active());
    }

    #[test]
    fn arrangement_entries_carry_what_they_need_and_nothing_else() {
        let no_due = entry(serde_json::json!({"at": "2026-11-01T15:00:00Z",
            "type": "promise_to_pay", "amount": usd("10.00")}));
        assert_eq!(no_due.validate().map_err(|e| e.field), Err("due_on"));
        let empty_plan = entry(serde_json::json!({"at": "2026-11-01T15:00:00Z",
            "type": "payment_plan"}));
        assert_eq!(
            empty_plan.validate().map_err(|e| e.field),
            Err("installments")
        );
        let stray = entry(serde_json::json!({"at": "2026-11-01T15:00:00Z",
            "type": "payment_posted", "amount": usd("10.00"), "due_on": "2026-12-01"}));
        assert_eq!(stray.validate().map_err(|e| e.field), Err("due_on"));
        let mixed = entry(
            serde_json::json!({"at": "2026-11-01T15:00:00Z", "type": "payment_plan",
            "installments": [{"due_on": "2026-12-01", "amount": usd("5.00")},
                             {"due_on": "2027-01-01", "amount": {"amount": "5.00", "currency": "EUR"}}]}),
        );
        assert_eq!(mixed.validate().map_err(|e| e.field), Err("installments"));
    }
}

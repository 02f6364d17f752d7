//! Planning one account: a small simulation in time order.
//!
//! Every wanted occurrence of a step becomes a candidate instant in a queue. The
//! earliest candidate is decided against the ledger plus the contacts already placed
//! (all of them earlier, because the queue runs in time order); allowed → placed;
//! refused → tried again at `next_allowed_at` (moved into the preferred hours when
//! there are some before the occurrence's deadline), or listed as unplaced when
//! nothing opens before it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{AccountLedger, AccountPlan, Horizon, ItemDispatch, PlannedItem, Stopped, Unplaced};
use crate::domain::arrangements::{Arrangements, PlanState, PromiseState};
use crate::domain::{
    Account, Channel, Event, EventType, InitiatedBy, LedgerEvent, LedgerEventType, Outcome,
    Purpose, Weekday,
};
use crate::engine::zones::{candidate_zones, instant_of_local, local_date, start_of_local_date};
use crate::engine::{Decision, Question, Reason, Subject, Verdict};
use crate::policy::Policy;
use crate::strategy::{Dispatch, Preference, Step, StopCondition, Strategy, Timing, Trigger};

/// How far back a broken promise is still news: the scheduler escalates it once (its
/// notice key names the day it broke), even after a few days' outage.
const BROKEN_PROMISE_LOOKBACK_DAYS: u64 = 7;

/// The event type of an escalation webhook.
pub const ESCALATION_EVENT: &str = "account.escalated";

/// One instant to try a step at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    at: DateTime<Utc>,
    /// The debt, by its place among the consumer's.
    member: usize,
    step: usize,
    /// The local day the occurrence was wanted on.
    day: NaiveDate,
    /// The occurrence lapses at this instant (exclusive).
    deadline: DateTime<Utc>,
    /// Still looking inside the preferred hours.
    preferred_only: bool,
}

/// What trying a candidate came to.
enum Tried {
    Placed(PlannedItem),
    Retry(Candidate),
    Unplaced(Unplaced),
}

/// What the planner knows of an account before placing anything.
struct Facts<'a> {
    account: &'a Account,
    zone: Tz,
    first_day: NaiveDate,
    last_day: NaiveDate,
    not_before: DateTime<Utc>,
    horizon_end: DateTime<Utc>,
    placed_on: NaiveDate,
    placed_at: DateTime<Utc>,
    arrangements: Arrangements,
    conversation: bool,
    on_hold: bool,
}

/// Plans one account (whose consumer has no other debt in the portfolio).
pub fn plan_account(
    input: &AccountLedger,
    strategy: &Strategy,
    policy: &Policy,
    horizon: &Horizon,
) -> AccountPlan {
    let mut plans = plan_consumer(&[input], strategy, policy, horizon);
    plans
        .pop()
        .unwrap_or_else(|| empty_plan(&input.account, horizon))
}

/// Plans the debts of one consumer together, in one simulation: a contact placed for
/// one debt counts toward the caps per consumer of the others.
pub fn plan_consumer(
    debts: &[&AccountLedger],
    strategy: &Strategy,
    policy: &Policy,
    horizon: &Horizon,
) -> Vec<AccountPlan> {
    let mut plans: Vec<AccountPlan> = Vec::with_capacity(debts.len());
    let mut facts: Vec<Option<Facts<'_>>> = Vec::with_capacity(debts.len());
    for input in debts {
        let (plan, fact) = prepare(input, strategy, horizon);
        plans.push(plan);
        facts.push(fact);
    }
    // Every event carries its debt, so that each debt's decisions tell its own
    // contacts from the consumer's other debts'.
    let mut events: Vec<Event> = debts
        .iter()
        .flat_map(|input| {
            input.ledger.iter().filter_map(move |e| {
                let mut event = e.history()?;
                event.account_id = Some(input.account.id.clone());
                Some(event)
            })
        })
        .collect();
    events.sort_by_key(|e| e.at);

    let mut queue = BinaryHeap::new();
    for (member, (input, fact)) in debts.iter().zip(&facts).enumerate() {
        let (Some(fact), Some(plan)) = (fact, plans.get_mut(member)) else {
            continue;
        };
        for (index, step) in strategy.steps.iter().enumerate() {
            if let Some(condition) = step.stop_when.iter().find(|c| fact.holds(**c)) {
                plan.stopped.push(Stopped {
                    step: step.id.clone(),
                    condition: *condition,
                });
                continue;
            }
            for (day, deadline) in first_occurrences(step, fact, &input.ledger) {
                if let Some(candidate) = fact.candidate(step, member, index, day, deadline) {
                    queue.push(Reverse(candidate));
                }
            }
        }
    }

    while let Some(Reverse(candidate)) = queue.pop() {
        let (Some(step), Some(Some(fact)), Some(plan)) = (
            strategy.steps.get(candidate.step),
            facts.get(candidate.member),
            plans.get_mut(candidate.member),
        ) else {
            continue;
        };
        let (member, index, wanted_day) = (candidate.member, candidate.step, candidate.day);
        let next_after = match try_candidate(policy, fact, step, &events, candidate) {
            Tried::Placed(item) => {
                if let Some(channel) = item.channel {
                    events.push(Event {
                        at: item.at,
                        event_type: EventType::Contact,
                        channel,
                        outcome: planned_outcome(channel),
                        initiated_by: InitiatedBy::Collector,
                        contact_point: item.contact_point.clone(),
                        account_id: Some(item.account_id.clone()),
                    });
                }
                let day = local_date(item.at, fact.zone);
                plan.items.push(item);
                Some(day)
            }
            Tried::Retry(candidate) => {
                queue.push(Reverse(candidate));
                None
            }
            Tried::Unplaced(unplaced) => {
                let held = unplaced.outcome == Verdict::Stop;
                plan.unplaced.push(unplaced);
                // A hold stops the step for the whole horizon; a full cap only this
                // occurrence.
                (!held).then_some(wanted_day)
            }
        };
        if let (
            Some(after),
            Timing::Every {
                days, until_day, ..
            },
        ) = (next_after, step.timing)
        {
            let next = add_days(after, u64::from(days));
            let limit = until_day.map_or(fact.last_day, |until| {
                fact.last_day
                    .min(add_days(fact.placed_on, u64::from(until)))
            });
            if next <= limit {
                let deadline = add_days(next, u64::from(days)).min(add_days(limit, 1));
                if let Some(candidate) = fact.candidate(step, member, index, next, deadline) {
                    queue.push(Reverse(candidate));
                }
            }
        }
    }

    for ((input, fact), plan) in debts.iter().zip(&facts).zip(&mut plans) {
        let Some(fact) = fact else { continue };
        for escalation in &strategy.escalations {
            let at = match escalation.trigger {
                Trigger::BrokenPromise => fact.broken_promise_at(),
                Trigger::NoConversation { attempts, days } => {
                    fact.no_conversation_at(&events, &input.ledger, attempts, days)
                }
            };
            if let Some(at) = at.filter(|at| *at < fact.horizon_end) {
                plan.items.push(PlannedItem {
                    account_id: input.account.id.clone(),
                    step: escalation.id.clone(),
                    day: local_date(at, fact.zone),
                    at,
                    channel: None,
                    purpose: Purpose::Collection,
                    contact_point: None,
                    dispatch: ItemDispatch::Webhook {
                        event: ESCALATION_EVENT.to_string(),
                    },
                    preferred: true,
                    escalate_to: Some(escalation.to.clone()),
                    decision: None,
                });
            }
        }
        plan.items.sort_by_key(|item| item.at);
    }
    plans
}

/// The plan's frame for one account, and what the planner knows of it when the
/// strategy's segment covers it.
fn prepare<'a>(
    input: &'a AccountLedger,
    strategy: &Strategy,
    horizon: &Horizon,
) -> (AccountPlan, Option<Facts<'a>>) {
    let account = &input.account;
    let mut plan = empty_plan(account, horizon);
    plan.in_segment = strategy.segment.contains(account, plan.first_day);
    if !plan.in_segment {
        return (plan, None);
    }
    let zone = primary_zone(account);
    let placed_on = account.placed_on.unwrap_or(plan.first_day);
    let placed_at = day_start(zone, placed_on);
    let facts = Facts {
        account,
        zone,
        first_day: plan.first_day,
        last_day: plan.last_day,
        not_before: horizon.not_before.max(day_start(zone, plan.first_day)),
        horizon_end: day_start(zone, add_days(plan.last_day, 1)),
        placed_on,
        placed_at,
        arrangements: Arrangements::from_ledger(&input.ledger, plan.first_day),
        conversation: input.ledger.iter().any(|e| {
            e.event_type == LedgerEventType::Contact
                && e.outcome == Some(Outcome::Conversation)
                && e.at >= placed_at
        }),
        on_hold: !plan.holds.is_empty(),
    };
    (plan, Some(facts))
}

/// The consumer's local day at `instant`, as the planner counts days (in the first
/// candidate zone): the "today" a strategy's segment is judged on, for callers that pick
/// a strategy before planning (the daemon's scheduler).
pub fn local_day(account: &Account, instant: DateTime<Utc>) -> NaiveDate {
    local_date(instant, primary_zone(account))
}

/// The zone preferences and local days are read in: the first candidate.
fn primary_zone(account: &Account) -> Tz {
    candidate_zones(&account.consumer)
        .first()
        .copied()
        .unwrap_or(chrono_tz::America::New_York)
}

/// An account's plan with nothing in it yet.
fn empty_plan(account: &Account, horizon: &Horizon) -> AccountPlan {
    let first_day = horizon
        .first_day
        .unwrap_or_else(|| local_date(horizon.not_before, primary_zone(account)));
    AccountPlan {
        account_id: account.id.clone(),
        in_segment: false,
        first_day,
        last_day: add_days(first_day, u64::from(horizon.days.max(1)) - 1),
        items: Vec::new(),
        unplaced: Vec::new(),
        stopped: Vec::new(),
        holds: account.flags.holds().map(|flag| flag.as_str()).collect(),
    }
}

impl Facts<'_> {
    fn holds(&self, condition: StopCondition) -> bool {
        match condition {
            StopCondition::Conversation => self.conversation,
            StopCondition::PaymentPlanActive => self.arrangements.plan_active(),
            StopCondition::PromisePending => self
                .arrangements
                .promises
                .iter()
                .any(|p| p.state == PromiseState::Pending),
            StopCondition::Paid => self
                .account
                .balance
                .as_ref()
                .is_some_and(|b| b.amount <= rust_decimal::Decimal::ZERO),
            StopCondition::Hold => self.on_hold,
        }
    }

    /// The first candidate of an occurrence wanted on `day`, lapsing at the start of
    /// `deadline_day`.
    fn candidate(
        &self,
        step: &Step,
        member: usize,
        index: usize,
        day: NaiveDate,
        deadline_day: NaiveDate,
    ) -> Option<Candidate> {
        let deadline = day_start(self.zone, deadline_day).min(self.horizon_end);
        let start = day_start(self.zone, day).max(self.not_before);
        let at = match &step.prefer {
            Some(prefer) => next_preferred(start, prefer, self.zone).unwrap_or(start),
            None => start,
        };
        let preferred_only = step.prefer.is_some() && at < deadline;
        let at = if at < deadline { at } else { start };
        (at < deadline).then_some(Candidate {
            at,
            member,
            step: index,
            day,
            deadline,
            preferred_only,
        })
    }

    fn broken_promise_at(&self) -> Option<DateTime<Utc>> {
        let broken = self.arrangements.broken_on()?;
        let recent = self
            .first_day
            .checked_sub_days(Days::new(BROKEN_PROMISE_LOOKBACK_DAYS))
            .unwrap_or(self.first_day);
        (broken >= recent && broken <= self.last_day)
            .then(|| day_start(self.zone, broken).max(self.not_before))
    }

    /// The first instant from `not_before` on at which the last `days` days hold at
    /// least `attempts` calls of ours to this debt and no conversation.
    fn no_conversation_at(
        &self,
        events: &[Event],
        ledger: &[LedgerEvent],
        attempts: u32,
        days: u32,
    ) -> Option<DateTime<Utc>> {
        let calls: Vec<DateTime<Utc>> = events
            .iter()
            .filter(|e| {
                e.event_type == EventType::Contact
                    && e.channel == Channel::Call
                    && e.initiated_by == InitiatedBy::Collector
                    && e.account_id.as_deref() == Some(self.account.id.as_str())
            })
            .map(|e| e.at)
            .collect();
        let conversations: Vec<DateTime<Utc>> = ledger
            .iter()
            .filter(|e| e.outcome == Some(Outcome::Conversation))
            .map(|e| e.at)
            .collect();
        let span = chrono::TimeDelta::days(i64::from(days));
        let holds_at = |t: DateTime<Utc>| {
            let from = t - span;
            let within = |at: &DateTime<Utc>| *at > from && *at <= t;
            calls.iter().filter(|at| within(at)).count() >= attempts as usize
                && !conversations.iter().any(within)
        };
        std::iter::once(self.not_before)
            .chain(calls.iter().copied().filter(|at| *at >= self.not_before))
            .find(|t| holds_at(*t))
    }
}

/// The occurrences of a step known before planning: `(day, deadline day)`.
fn first_occurrences(
    step: &Step,
    facts: &Facts<'_>,
    ledger: &[LedgerEvent],
) -> Vec<(NaiveDate, NaiveDate)> {
    let same_step = |e: &&LedgerEvent| match e.event_type {
        LedgerEventType::Contact => {
            e.channel == Some(step.channel)
                && e.initiated_by == InitiatedBy::Collector
                && e.purpose.unwrap_or_default() == step.purpose
        }
        // A webhook step's notice reached the vendor or the dialer.
        LedgerEventType::WebhookDelivered => {
            matches!(step.dispatch, Dispatch::Webhook { .. }) && e.purpose == Some(step.purpose)
        }
        _ => false,
    };
    let after_horizon = add_days(facts.last_day, 1);
    match step.timing {
        Timing::OnDay(day) => {
            let done = ledger
                .iter()
                .filter(same_step)
                .any(|e| e.at >= facts.placed_at);
            let due = add_days(facts.placed_on, u64::from(day)).max(facts.first_day);
            if done || due > facts.last_day {
                Vec::new()
            } else {
                vec![(due, after_horizon)]
            }
        }
        Timing::Every {
            days,
            from_day,
            until_day,
        } => {
            let last = ledger
                .iter()
                .filter(same_step)
                .map(|e| e.at)
                .max()
                .map(|at| local_date(at, facts.zone));
            let due = add_days(facts.placed_on, u64::from(from_day))
                .max(last.map_or(facts.first_day, |l| add_days(l, u64::from(days))))
                .max(facts.first_day);
            let limit = until_day.map_or(facts.last_day, |until| {
                facts
                    .last_day
                    .min(add_days(facts.placed_on, u64::from(until)))
            });
            if due > limit {
                Vec::new()
            } else {
                vec![(due, add_days(due, u64::from(days)).min(add_days(limit, 1)))]
            }
        }
        Timing::BeforeInstallment(before) => {
            let Some(plan) = &facts.arrangements.plan else {
                return Vec::new();
            };
            if !matches!(plan.state, PlanState::Active | PlanState::Broken) {
                return Vec::new();
            }
            plan.installments
                .iter()
                .filter(|(installment, paid)| !paid && installment.due_on >= facts.first_day)
                .filter_map(|(installment, _)| {
                    let day = installment
                        .due_on
                        .checked_sub_days(Days::new(u64::from(before)))?
                        .max(facts.first_day);
                    let reminded = ledger
                        .iter()
                        .filter(same_step)
                        .any(|e| local_date(e.at, facts.zone) >= day);
                    (day <= facts.last_day && !reminded)
                        .then(|| (day, add_days(installment.due_on, 1)))
                })
                .collect()
        }
    }
}

/// Decides one candidate against the ledger and the contacts placed so far.
fn try_candidate(
    policy: &Policy,
    facts: &Facts<'_>,
    step: &Step,
    events: &[Event],
    candidate: Candidate,
) -> Tried {
    let account = facts.account;
    let points: Vec<Option<&str>> = match step.channel {
        Channel::Call | Channel::Sms => account
            .consumer
            .phones
            .iter()
            .map(|p| Some(p.number.as_str()))
            .collect(),
        Channel::Email => account
            .consumer
            .emails
            .iter()
            .map(|e| Some(e.address.as_str()))
            .collect(),
        Channel::Letter | Channel::Visit => vec![None],
    };
    let unplaced = |outcome, reasons, next_allowed_at| {
        Tried::Unplaced(Unplaced {
            account_id: account.id.clone(),
            step: step.id.clone(),
            day: candidate.day,
            outcome,
            reasons,
            next_allowed_at,
        })
    };
    if points.is_empty() {
        let reason = Reason {
            rule: "no-contact-point".to_string(),
            pack: "strategy".to_string(),
            citation: String::new(),
            message: format!("the account has no {} contact point", step.channel),
        };
        return unplaced(Verdict::Stop, vec![reason], None);
    }
    let subject = Subject::new(policy, account, events);
    let days_left = (candidate.deadline - candidate.at).num_days() + 1;
    let horizon_days = u32::try_from(days_left.clamp(1, 366)).unwrap_or(1);
    let mut refusal: Option<Decision> = None;
    let mut next: Option<DateTime<Utc>> = None;
    let mut all_stopped = true;
    for point in &points {
        let decision = subject.decide(&Question {
            at: candidate.at,
            channel: step.channel,
            purpose: step.purpose,
            contact_point: *point,
            horizon_days: Some(horizon_days),
        });
        if decision.allowed {
            return Tried::Placed(PlannedItem {
                account_id: account.id.clone(),
                step: step.id.clone(),
                day: candidate.day,
                at: candidate.at,
                channel: Some(step.channel),
                purpose: step.purpose,
                contact_point: point.map(str::to_string),
                dispatch: match &step.dispatch {
                    Dispatch::Email { template } => ItemDispatch::Email {
                        template: template.clone(),
                    },
                    Dispatch::Webhook { event } => ItemDispatch::Webhook {
                        event: (*event).to_string(),
                    },
                },
                preferred: step
                    .prefer
                    .as_ref()
                    .is_none_or(|p| in_preferred(candidate.at, p, facts.zone)),
                escalate_to: None,
                decision: Some(decision),
            });
        }
        if decision.outcome != Verdict::Stop {
            all_stopped = false;
            next = match (next, decision.next_allowed_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let keep = refusal
            .as_ref()
            .is_none_or(|kept| kept.outcome == Verdict::Stop && decision.outcome != Verdict::Stop);
        if keep {
            refusal = Some(decision);
        }
    }
    let (outcome, reasons, next_allowed_at) = refusal
        .map(|d| (d.outcome, d.reasons, d.next_allowed_at))
        .unwrap_or((Verdict::Stop, Vec::new(), None));
    if all_stopped {
        return unplaced(Verdict::Stop, reasons, None);
    }
    let Some(next) = next.filter(|n| *n < candidate.deadline && *n > candidate.at) else {
        return unplaced(outcome, reasons, next_allowed_at);
    };
    let preferred = match (&step.prefer, candidate.preferred_only) {
        (Some(prefer), true) => {
            next_preferred(next, prefer, facts.zone).filter(|p| *p < candidate.deadline)
        }
        _ => None,
    };
    Tried::Retry(Candidate {
        at: preferred.unwrap_or(next),
        preferred_only: preferred.is_some(),
        ..candidate
    })
}

/// The first instant at or after `from` inside the preferred hours (within a week).
fn next_preferred(from: DateTime<Utc>, prefer: &Preference, zone: Tz) -> Option<DateTime<Utc>> {
    let first = local_date(from, zone);
    (0..8).find_map(|offset| {
        let day = add_days(first, offset);
        if !prefer.days.contains(Weekday::from_chrono(day.weekday())) {
            return None;
        }
        let open = instant_of_local(zone, day, prefer.from.minutes(), DateTime::<Utc>::MIN_UTC)?;
        let close = instant_of_local(zone, day, prefer.to.minutes(), DateTime::<Utc>::MIN_UTC)?;
        (from < close).then(|| from.max(open))
    })
}

/// Whether an instant is inside the preferred hours.
fn in_preferred(at: DateTime<Utc>, prefer: &Preference, zone: Tz) -> bool {
    next_preferred(at, prefer, zone) == Some(at)
}

/// What the plan assumes of its own contacts: a call is an attempt that reaches nobody
/// (were it to reach the consumer, the `conversation` stop condition ends the cadence
/// and the outbox re-checks every `contact.due` against the real ledger before it
/// leaves); a message is sent. Anything else counts wherever any outcome would.
fn planned_outcome(channel: Channel) -> Option<Outcome> {
    match channel {
        Channel::Call => Some(Outcome::NoAnswer),
        Channel::Email | Channel::Sms => Some(Outcome::Sent),
        Channel::Letter | Channel::Visit => None,
    }
}

fn day_start(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    start_of_local_date(zone, day).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn add_days(day: NaiveDate, days: u64) -> NaiveDate {
    day.checked_add_days(Days::new(days))
        .unwrap_or(NaiveDate::MAX)
}

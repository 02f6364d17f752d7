//! Planning one account: a small simulation in time order.
//!
//! Every wanted occurrence of a step becomes a candidate instant in a queue. The
//! earliest candidate is decided against the ledger plus the contacts already placed
//! (all of them earlier, because the queue runs in time order); allowed → placed;
//! refused → tried again at the first preferred instant the policy allows before the
//! occurrence's deadline, or, when there is none, at `next_allowed_at` (the
//! preference gives way); or listed as unplaced, with the rule that kept it out
//! first and when it would next be allowed, when nothing opens before the deadline.

use std::cell::OnceCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use smallvec::{SmallVec, smallvec};

use super::{AccountLedger, AccountPlan, Horizon, ItemDispatch, PlannedItem, Stopped, Unplaced};
use crate::domain::arrangements::{Arrangements, PlanState, PromiseState};
use crate::domain::{
    Account, Channel, Event, EventType, InitiatedBy, LedgerEvent, LedgerEventType, Outcome,
    Purpose, Weekday,
};
use crate::engine::zones::{candidate_zones, instant_of_local, local_date, start_of_local_date};
use crate::engine::{DEFAULT_HORIZON_DAYS, Decision, Question, Reason, Standing, Subject, Verdict};
use crate::policy::Policy;
use crate::policy::model::RuleKind;
use crate::strategy::{Dispatch, Preference, Step, StopCondition, Strategy, Timing, Trigger};

/// How far back a broken promise is still news: the scheduler escalates it once (its
/// notice key names the day it broke), even after a few days' outage.
const BROKEN_PROMISE_LOOKBACK_DAYS: u64 = 7;

/// How late a one-off step (`on_day`) is still taken: a day-0 notice missed over a
/// weekend or an outage goes out on the first planned day; one due months ago is not
/// news any more.
const ON_DAY_CATCH_UP_DAYS: u64 = 7;

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
    /// The account's standing under the policy (its zones and the packs covering it),
    /// the same for every question about it: worked out at the first and kept.
    standing: OnceCell<Standing>,
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
    // With other debts, every event carries its debt, so that each debt's decisions
    // tell its own contacts from the consumer's other debts'. A consumer's only debt
    // owns every event, which an event without a debt says as well (and costs no copy
    // of the id per event).
    let several = debts.len() > 1;
    let mut events: Vec<Event> = debts
        .iter()
        .flat_map(|input| {
            input.ledger.iter().filter_map(move |e| {
                let mut event = e.history()?;
                event.account_id = several.then(|| input.account.id.clone());
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
                        account_id: several.then(|| item.account_id.clone()),
                        purpose: Some(item.purpose),
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
        // Handing over a debt under a legal hold (a bankruptcy stay, an attorney, a
        // dispute) or one already paid would be collecting it by other means.
        if fact.holds(StopCondition::Hold) || fact.holds(StopCondition::Paid) {
            continue;
        }
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
                    client: input.account.client.clone(),
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
        standing: OnceCell::new(),
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

/// The day the broken promise (or payment plan) that a `broken_promise` escalation
/// planned over `first_day..=last_day` is about broke: the earliest within the
/// lookback. The scheduler names the escalation's notice after it, so that each broken
/// promise is escalated once.
pub fn broken_promise_day(
    arrangements: &Arrangements,
    first_day: NaiveDate,
    last_day: NaiveDate,
) -> Option<NaiveDate> {
    let recent = first_day
        .checked_sub_days(Days::new(BROKEN_PROMISE_LOOKBACK_DAYS))
        .unwrap_or(first_day);
    // Each promise is its own: one broken long ago (escalated when it broke) does not
    // hide one broken this week. A plan breaks once, on its first missed installment.
    let promises = arrangements
        .promises
        .iter()
        .filter(|p| p.state == PromiseState::Broken)
        .filter_map(|p| p.due_on.succ_opt());
    let plan = arrangements.plan.as_ref().and_then(|p| p.broken_on());
    promises
        .chain(plan)
        .filter(|broken| *broken >= recent && *broken <= last_day)
        .min()
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
        client: account.client.clone(),
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
        let broken = broken_promise_day(&self.arrangements, self.first_day, self.last_day)?;
        Some(day_start(self.zone, broken).max(self.not_before))
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
                    && e.is_about_debt(&self.account.id)
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
        // The earliest such instant: `events` holds the ledger (which may reach past
        // `not_before`) before the plan's own calls, so it is not in time order.
        std::iter::once(self.not_before)
            .chain(calls.iter().copied().filter(|at| *at >= self.not_before))
            .filter(|t| holds_at(*t))
            .min()
    }
}

/// The occurrences of a step known before planning, inline (at most one but for
/// installment reminders; asked for every step of every account).
type Occurrences = SmallVec<[(NaiveDate, NaiveDate); 2]>;

/// The occurrences of a step known before planning: `(day, deadline day)`.
fn first_occurrences(step: &Step, facts: &Facts<'_>, ledger: &[LedgerEvent]) -> Occurrences {
    let same_step = |e: &&LedgerEvent| match e.event_type {
        LedgerEventType::Contact => {
            e.channel == Some(step.channel)
                && e.initiated_by == InitiatedBy::Collector
                && e.purpose.unwrap_or_default() == step.purpose
        }
        // A webhook step's notice reached the vendor or the dialer.
        LedgerEventType::WebhookDelivered => match &step.dispatch {
            Dispatch::Webhook { event } => {
                e.purpose == Some(step.purpose)
                    && e.webhook_event.as_deref().is_none_or(|sent| sent == *event)
            }
            Dispatch::Email { .. } => false,
        },
        _ => false,
    };
    let after_horizon = add_days(facts.last_day, 1);
    match step.timing {
        Timing::OnDay(day) => {
            let done = ledger
                .iter()
                .filter(same_step)
                .any(|e| e.at >= facts.placed_at);
            let wanted = add_days(facts.placed_on, u64::from(day));
            let stale = add_days(wanted, ON_DAY_CATCH_UP_DAYS) < facts.first_day;
            let due = wanted.max(facts.first_day);
            if done || stale || due > facts.last_day {
                Occurrences::new()
            } else {
                smallvec![(due, after_horizon)]
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
                Occurrences::new()
            } else {
                smallvec![(due, add_days(due, u64::from(days)).min(add_days(limit, 1)))]
            }
        }
        Timing::BeforeInstallment(before) => {
            let Some(plan) = &facts.arrangements.plan else {
                return Occurrences::new();
            };
            if !matches!(plan.state, PlanState::Active | PlanState::Broken) {
                return Occurrences::new();
            }
            plan.installments
                .iter()
                .filter(|(installment, paid)| !paid && installment.due_on >= facts.first_day)
                .filter_map(|(installment, _)| {
                    let lead = installment
                        .due_on
                        .checked_sub_days(Days::new(u64::from(before)))?;
                    let day = lead.max(facts.first_day);
                    // Reminded already when a reminder went out since the lead day, even
                    // if that was before the first day planned.
                    let reminded = ledger
                        .iter()
                        .filter(same_step)
                        .any(|e| local_date(e.at, facts.zone) >= lead);
                    (day <= facts.last_day && !reminded)
                        .then(|| (day, add_days(installment.due_on, 1)))
                })
                .collect()
        }
    }
}

/// What the policy says of a step's contact at one instant, over its contact points.
enum Asked {
    /// Allowed through the contact point at this place in the step's list.
    Allowed(usize, Decision),
    /// Refused through every one.
    Refused {
        /// The earliest instant any contact point not on hold is allowed, within the
        /// search.
        next: Option<DateTime<Utc>>,
        /// The refusal to report: a deferral rather than a hold when there is one.
        refusal: Option<Decision>,
        /// Every contact point is on hold.
        stopped: bool,
    },
}

/// Decides a step's contact at `at` through each contact point until one is allowed.
fn ask(
    subject: &Subject<'_>,
    step: &Step,
    points: &[Option<&str>],
    at: DateTime<Utc>,
    horizon_days: u32,
) -> Asked {
    let mut refusal: Option<Decision> = None;
    let mut next: Option<DateTime<Utc>> = None;
    let mut stopped = true;
    for (index, point) in points.iter().enumerate() {
        let decision = subject.decide(&Question {
            at,
            channel: step.channel,
            purpose: step.purpose,
            contact_point: *point,
            horizon_days: Some(horizon_days),
        });
        if decision.allowed {
            return Asked::Allowed(index, decision);
        }
        if decision.outcome != Verdict::Stop {
            stopped = false;
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
    Asked::Refused {
        next,
        refusal,
        stopped,
    }
}

/// How many preferred instants the look-ahead tries before it gives up on the
/// preference; the occurrence's deadline ends it long before in practice.
const MAX_PREFERRED_TRIES: usize = 64;

/// The first instant at or after `from`, inside the preferred hours and before
/// `deadline`, at which the policy allows the contact given what is placed so far
/// (contacts placed before it can only take it away; it is decided again when tried).
fn first_preferred(
    subject: &Subject<'_>,
    step: &Step,
    points: &[Option<&str>],
    (from, deadline): (DateTime<Utc>, DateTime<Utc>),
    (prefer, zone): (&Preference, Tz),
    horizon_days: u32,
) -> Option<DateTime<Utc>> {
    let mut from = from;
    for _ in 0..MAX_PREFERRED_TRIES {
        let at = next_preferred(from, prefer, zone).filter(|at| *at < deadline)?;
        match ask(subject, step, points, at, horizon_days) {
            Asked::Allowed(..) => return Some(at),
            Asked::Refused { next, .. } => from = next.filter(|n| *n > at && *n < deadline)?,
        }
    }
    None
}

/// The refusing rules of an occurrence that could not be placed, holds first, then
/// the other rules that last (caps, cooldowns), then those of the time of day
/// (calling hours, the consumer's inconvenient times): the first reason is what kept
/// the step out, not the night the search started in.
fn lasting_first(policy: &Policy, mut reasons: Vec<Reason>) -> Vec<Reason> {
    let rank = |reason: &Reason| match policy.rules().iter().find(|r| r.id == reason.rule) {
        Some(rule) => match rule.kind {
            RuleKind::Hold(_) => 0,
            RuleKind::Window(_) | RuleKind::ConsumerTimes => 2,
            _ => 1,
        },
        None => 1,
    };
    reasons.sort_by_key(rank);
    reasons
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
    // Inline: a try per candidate, and rarely more than four contact points.
    let points: SmallVec<[Option<&str>; 4]> = match step.channel {
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
        Channel::Letter | Channel::Visit => smallvec![None],
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
        let reason = Reason::new(
            "no-contact-point",
            super::STRATEGY_PACK,
            "",
            format!("the account has no {} contact point", step.channel),
        );
        return unplaced(Verdict::Stop, vec![reason], None);
    }
    let standing = facts
        .standing
        .get_or_init(|| Standing::new(policy, account));
    let subject = Subject::with_standing(policy, account, events, standing);
    let days_left = (candidate.deadline - candidate.at).num_days() + 1;
    let horizon_days = u32::try_from(days_left.clamp(1, 366)).unwrap_or(1);
    // The search for the next allowed instant runs past the deadline, so that an
    // occurrence that cannot be placed says when it could be; it stops at the first
    // allowed instant, so the longer search costs only where nothing opens before.
    let wide = horizon_days.max(DEFAULT_HORIZON_DAYS);
    let (next, refusal) = match ask(&subject, step, &points, candidate.at, wide) {
        Asked::Allowed(index, decision) => {
            let point = points.get(index).copied().flatten();
            return Tried::Placed(PlannedItem {
                account_id: account.id.clone(),
                client: account.client.clone(),
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
        Asked::Refused {
            stopped: true,
            refusal,
            ..
        } => {
            let reasons = refusal.map(|d| d.reasons.into_vec()).unwrap_or_default();
            return unplaced(Verdict::Stop, lasting_first(policy, reasons), None);
        }
        Asked::Refused { next, refusal, .. } => (next, refusal),
    };
    let Some(next) = next.filter(|n| *n < candidate.deadline && *n > candidate.at) else {
        let (outcome, reasons) = refusal
            .map(|d| (d.outcome, d.reasons.into_vec()))
            .unwrap_or((Verdict::Stop, Vec::new()));
        return unplaced(outcome, lasting_first(policy, reasons), next);
    };
    // Still after the preferred hours: the first preferred instant the policy allows
    // before the occurrence lapses; when there is none, the preference gives way and
    // the contact goes at the earliest allowed instant.
    let preferred = match (&step.prefer, candidate.preferred_only) {
        (Some(prefer), true) => first_preferred(
            &subject,
            step,
            &points,
            (next, candidate.deadline),
            (prefer, facts.zone),
            horizon_days,
        ),
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

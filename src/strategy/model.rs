//! A strategy as the planner reads it: checked, with names resolved to values.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::{Account, Channel, Purpose, TimeOfDay, Weekday};
use crate::policy::model::Set;

/// What an agency wants to do with the accounts of one segment.
#[derive(Debug, Clone)]
pub struct Strategy {
    /// A stable identifier (`standard-consumer`).
    pub id: String,
    /// A title for people.
    pub title: String,
    /// The version the compliance officer gave it.
    pub version: String,
    /// What it is for, in prose.
    pub description: Option<String>,
    /// Which accounts it applies to.
    pub segment: Segment,
    /// The steps, in file order.
    pub steps: Vec<Step>,
    /// When to hand an account to someone else.
    pub escalations: Vec<Escalation>,
}

/// Which accounts a strategy applies to. An absent bound means "any".
#[derive(Debug, Clone, Default)]
pub struct Segment {
    /// Debt types (`credit_card`, `medical`, …).
    pub debt_types: Option<Vec<String>>,
    /// Two-letter state codes of the consumer's address.
    pub states: Option<Vec<String>>,
    /// The least balance, inclusive.
    pub balance_min: Option<Decimal>,
    /// The greatest balance, inclusive.
    pub balance_max: Option<Decimal>,
    /// The fewest days since placement, inclusive.
    pub min_days_since_placement: Option<i64>,
    /// The most days since placement, inclusive.
    pub max_days_since_placement: Option<i64>,
}

impl Segment {
    /// Whether the account is in the segment on `today`. A bound the account has no
    /// value for (no balance, no placement date) excludes it: a strategy meant for
    /// balances over $500 says nothing about an account whose balance is unknown.
    pub fn contains(&self, account: &Account, today: NaiveDate) -> bool {
        let listed = |list: &Option<Vec<String>>, value: Option<&str>| {
            list.as_ref().is_none_or(|list| {
                value.is_some_and(|value| list.iter().any(|item| item.eq_ignore_ascii_case(value)))
            })
        };
        let state = account.consumer.state();
        let balance = account.balance.as_ref().map(|b| b.amount);
        let within = |min: Option<Decimal>, max: Option<Decimal>| {
            (min.is_none() && max.is_none())
                || balance.is_some_and(|b| min.is_none_or(|m| b >= m) && max.is_none_or(|m| b <= m))
        };
        let days = account.placed_on.map(|placed| (today - placed).num_days());
        let aged = (self.min_days_since_placement.is_none()
            && self.max_days_since_placement.is_none())
            || days.is_some_and(|d| {
                self.min_days_since_placement.is_none_or(|m| d >= m)
                    && self.max_days_since_placement.is_none_or(|m| d <= m)
            });
        listed(&self.debt_types, account.debt_type.as_deref())
            && listed(&self.states, state)
            && within(self.balance_min, self.balance_max)
            && aged
    }
}

/// One thing the agency wants done, again and again or once.
#[derive(Debug, Clone)]
pub struct Step {
    /// A stable identifier within the strategy (`evening-call`).
    pub id: String,
    /// How.
    pub channel: Channel,
    /// Why.
    pub purpose: Purpose,
    /// What leaves the building when the step is due.
    pub dispatch: Dispatch,
    /// When.
    pub timing: Timing,
    /// Local hours the agency prefers, in the consumer's first candidate zone.
    pub prefer: Option<Preference>,
    /// Conditions under which the step is not taken.
    pub stop_when: Vec<StopCondition>,
}

/// What the daemon sends when a step is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// An email rendered from the template of that name.
    Email {
        /// The template.
        template: String,
    },
    /// A webhook of that event type (`contact.due` to a dialer, `notice.requested` to
    /// a letter vendor).
    Webhook {
        /// The event type.
        event: &'static str,
    },
}

impl Dispatch {
    /// The template or the event type, for people and files.
    pub fn name(&self) -> &str {
        match self {
            Dispatch::Email { template } => template,
            Dispatch::Webhook { event } => event,
        }
    }
}

/// When a step falls due, in the consumer's local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// Once, on day N after placement (day 0 is the placement day); overdue steps are
    /// taken on the first day planned.
    OnDay(u32),
    /// Every N days after the last contact of the same channel and purpose, from day
    /// `from_day` after placement until `until_day`.
    Every {
        /// N.
        days: u32,
        /// The first day after placement.
        from_day: u32,
        /// The last day after placement, when bounded.
        until_day: Option<u32>,
    },
    /// N days before each unpaid installment of the payment plan in force.
    BeforeInstallment(u32),
}

/// Preferred local hours: `from` to `to` on `days`.
#[derive(Debug, Clone, Copy)]
pub struct Preference {
    /// The weekdays.
    pub days: Set<Weekday>,
    /// From (inclusive).
    pub from: TimeOfDay,
    /// To (exclusive).
    pub to: TimeOfDay,
}

/// A reason to leave an account alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum StopCondition {
    /// A conversation with the consumer is on record since placement.
    Conversation,
    /// A payment plan is in force and kept.
    PaymentPlanActive,
    /// A promise to pay is pending.
    PromisePending,
    /// The balance is paid (zero or less).
    Paid,
    /// The account is on a legal hold: cease and desist, attorney, dispute,
    /// bankruptcy, deceased or identity theft.
    Hold,
}

impl StopCondition {
    /// Every condition, in a stable order.
    pub const ALL: [StopCondition; 5] = [
        StopCondition::Conversation,
        StopCondition::PaymentPlanActive,
        StopCondition::PromisePending,
        StopCondition::Paid,
        StopCondition::Hold,
    ];

    /// The name used in strategy files.
    pub fn as_str(self) -> &'static str {
        match self {
            StopCondition::Conversation => "conversation",
            StopCondition::PaymentPlanActive => "payment_plan_active",
            StopCondition::PromisePending => "promise_pending",
            StopCondition::Paid => "paid",
            StopCondition::Hold => "hold",
        }
    }
}

/// Handing an account to someone else: an `account.escalated` webhook.
#[derive(Debug, Clone)]
pub struct Escalation {
    /// A stable identifier within the strategy.
    pub id: String,
    /// When.
    pub trigger: Trigger,
    /// To whom (`attorney`, `client_credit_department`): told to the receiver.
    pub to: String,
}

/// What sets off an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// At least `attempts` call attempts and no conversation within `days` days.
    NoConversation {
        /// Attempts.
        attempts: u32,
        /// Days.
        days: u32,
    },
    /// A promise to pay or a payment plan installment went unpaid.
    BrokenPromise,
}

//! The planner: fits a strategy (what the agency wants) into the policy (what the law
//! permits), account by account, over a horizon of local days.
//!
//! Pure: accounts, their ledgers, the strategy, the policy and the horizon in; a plan
//! out. No clock, no I/O. Each account is planned as a small simulation in time order:
//! a step's candidate instants are tried earliest first, each decided by the engine
//! against the ledger plus the contacts the plan has already placed before it, so the
//! plan as a whole keeps every cap; each placed item carries the decision that allowed
//! it. What cannot be placed within the horizon is listed with the reasons.

mod account;
mod strategy_set;
mod summary;

use chrono::{DateTime, NaiveDate, Utc};
use rayon::prelude::*;
use serde::Serialize;

pub use account::{ESCALATION_EVENT, broken_promise_day, local_day, plan_account, plan_consumer};
pub use strategy_set::{escalate_under_set, plan_under_set};
pub use summary::Summary;

pub use crate::domain::AccountLedger;
use crate::domain::{Channel, Purpose};
use crate::engine::{Decision, Reason, Verdict};
use crate::policy::Policy;
use crate::strategy::{StopCondition, Strategy};

/// The `pack` of a reason the strategy gives rather than the policy (no contact point
/// on the step's channel).
pub const STRATEGY_PACK: &str = "strategy";

/// The days to plan.
#[derive(Debug, Clone, Copy)]
pub struct Horizon {
    /// Nothing is planned before this instant.
    pub not_before: DateTime<Utc>,
    /// The first local day to plan; `None` means the consumer's local day at
    /// `not_before`.
    pub first_day: Option<NaiveDate>,
    /// How many local days.
    pub days: u32,
}

/// What leaves the building for a planned item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[derive(utoipa::ToSchema)]
pub enum ItemDispatch {
    /// An email notice rendered from a template.
    Email {
        /// The template.
        template: String,
    },
    /// A webhook (`contact.due`, `notice.requested`, `account.escalated`).
    Webhook {
        /// The event type.
        event: String,
    },
}

impl ItemDispatch {
    /// `email` or `webhook`.
    pub fn kind(&self) -> &'static str {
        match self {
            ItemDispatch::Email { .. } => "email",
            ItemDispatch::Webhook { .. } => "webhook",
        }
    }

    /// The template or event type.
    pub fn name(&self) -> &str {
        match self {
            ItemDispatch::Email { template } => template,
            ItemDispatch::Webhook { event } => event,
        }
    }
}

/// One planned contact or escalation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlannedItem {
    /// The account.
    pub account_id: String,
    /// The account's client, when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The step or escalation of the strategy.
    pub step: String,
    /// The consumer's local day it was planned for.
    pub day: NaiveDate,
    /// When.
    pub at: DateTime<Utc>,
    /// The channel of a contact; `None` for an escalation.
    pub channel: Option<Channel>,
    /// Why.
    pub purpose: Purpose,
    /// The phone number or email address to use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_point: Option<String>,
    /// What the daemon sends.
    pub dispatch: ItemDispatch,
    /// Whether the instant is within the step's preferred hours.
    pub preferred: bool,
    /// Whom an escalation goes to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<String>,
    /// The decision that allowed a contact; `None` for an escalation, which contacts
    /// nobody.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// A step that could not be placed within the horizon, and why.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Unplaced {
    /// The account.
    pub account_id: String,
    /// The step.
    pub step: String,
    /// The local day it was wanted on.
    pub day: NaiveDate,
    /// `defer` (caps or windows fill the horizon) or `stop` (a hold).
    pub outcome: Verdict,
    /// The refusing rules (or the strategy's own reason, e.g. no email address).
    pub reasons: Vec<Reason>,
    /// When the same contact would next be allowed, if within the search.
    pub next_allowed_at: Option<DateTime<Utc>>,
}

/// Why a step was not taken at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Stopped {
    /// The step.
    pub step: String,
    /// The stop condition that holds.
    pub condition: StopCondition,
}

/// The plan of one account.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AccountPlan {
    /// The account.
    pub account_id: String,
    /// The account's client, when it names one (the creditor the agency collects for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Whether the strategy's segment covers the account (if not, nothing is planned).
    pub in_segment: bool,
    /// The local days planned.
    pub first_day: NaiveDate,
    /// The last local day planned.
    pub last_day: NaiveDate,
    /// Planned contacts and escalations, in time order.
    pub items: Vec<PlannedItem>,
    /// Steps that could not be placed.
    pub unplaced: Vec<Unplaced>,
    /// Steps not taken because a stop condition holds.
    pub stopped: Vec<Stopped>,
    /// The legal holds on the account (by flag name); the engine refuses every
    /// contact they cover.
    #[schema(value_type = Vec<String>)]
    pub holds: Vec<&'static str>,
}

/// The plan of a portfolio.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The strategy's id.
    pub strategy: String,
    /// The digest of the policy that decided.
    pub policy_digest: String,
    /// Every account's plan, a consumer's debts together.
    pub accounts: Vec<AccountPlan>,
    /// Counts over all accounts.
    pub summary: Summary,
}

/// Plans every account, on every core; a consumer's debts together.
pub fn plan(
    accounts: &[AccountLedger],
    strategy: &Strategy,
    policy: &Policy,
    horizon: &Horizon,
) -> Plan {
    let accounts: Vec<AccountPlan> = by_consumer(accounts)
        .par_iter()
        .flat_map_iter(|debts| plan_consumer(debts, strategy, policy, horizon))
        .collect();
    let mut summary = Summary::default();
    for account in &accounts {
        summary.add(account);
    }
    Plan {
        strategy: strategy.id.clone(),
        policy_digest: policy.digest().to_string(),
        accounts,
        summary,
    }
}

/// Groups accounts by consumer, in the order of each consumer's first account; an
/// account without a `consumer.id` is a consumer of its own.
pub fn by_consumer(accounts: &[AccountLedger]) -> Vec<Vec<&AccountLedger>> {
    group_by_consumer(
        accounts
            .iter()
            .map(|account| (account.account.consumer.id.as_deref(), account)),
    )
}

/// Groups items by their consumer key, in the order of each key's first item; an item
/// without a key is a group of its own.
pub fn group_by_consumer<K: std::hash::Hash + Eq, T>(
    items: impl IntoIterator<Item = (Option<K>, T)>,
) -> Vec<Vec<T>> {
    let mut groups: Vec<Vec<T>> = Vec::new();
    let mut by_key: std::collections::HashMap<K, usize> = std::collections::HashMap::new();
    for (key, item) in items {
        let Some(key) = key else {
            groups.push(vec![item]);
            continue;
        };
        match by_key.get(&key).and_then(|&index| groups.get_mut(index)) {
            Some(group) => group.push(item),
            None => {
                by_key.insert(key, groups.len());
                groups.push(vec![item]);
            }
        }
    }
    groups
}

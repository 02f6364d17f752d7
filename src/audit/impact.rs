//! Impact of a rule change (`dunner rules impact --candidate DIR`): what a candidate
//! policy would have decided differently, before it goes live.
//!
//! Three looks, each comparing the live policy with the candidate on the same facts:
//!
//! - **The logged decisions** of the period (by when they were made), each replayed
//!   under both on its recorded question, against the account and the history as they
//!   stood at its place in the ledger (the audit's walk, [`judge::walk_consumer`]): the
//!   flips allow → refuse, refuse → allow, and refusals whose next allowed instant moved,
//!   by rule, state, channel and purpose, with examples. The live policy is the one in
//!   force when each decision was made (its digest, compiled from the pack texts kept
//!   for it), or one rules directory for all (`--rules DIR`).
//! - **The recorded contacts**, judged by the candidate as the audit judges them
//!   ([`super::run`] with a candidate): which it would have refused.
//! - **The plan ahead**: the stored portfolio planned over the next days under each
//!   policy (the daemon's strategies): items added, removed and moved.
//!
//! A candidate **loosens** when it allows something the live policy refused: a
//! refuse → allow flip, or a planned item the live plan does not have. The comparison
//! ([`replay_consumer`], [`compare_plans`], [`summarise`]) is pure; [`run`] reads the
//! store a page of consumers at a time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;

use super::judge::{self, Probe};
use super::{AuditError, RuleTotal, Violation, kept_policy};
use crate::domain::{AccountEntries, AccountLedger, Channel, Purpose};
use crate::engine::{Decision, Question, Subject, Verdict};
use crate::planner::{Horizon, PlannedItem, plan_under_set};
use crate::policy::Policy;
use crate::report::Period;
use crate::store::{DecisionRow, Store};
use crate::strategy::StrategySet;

/// Examples kept of each kind of change.
pub const EXAMPLES: usize = 5;

/// Accounts anchoring each page read from the store.
const PAGE: u32 = 2_000;

/// How a replayed decision changed under the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flip {
    /// Live allowed it; the candidate refuses it.
    AllowToRefuse,
    /// Live refused it; the candidate allows it (a loosening).
    RefuseToAllow,
    /// Both refuse, but the same contact would next be allowed at another instant.
    NextAllowedMoved,
}

impl Flip {
    pub(super) const ALL: [Flip; 3] = [
        Flip::AllowToRefuse,
        Flip::RefuseToAllow,
        Flip::NextAllowedMoved,
    ];

    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Flip::AllowToRefuse => "allow_to_refuse",
            Flip::RefuseToAllow => "refuse_to_allow",
            Flip::NextAllowedMoved => "next_allowed_moved",
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Flip::AllowToRefuse => "allow → refuse",
            Flip::RefuseToAllow => "refuse → allow",
            Flip::NextAllowedMoved => "next allowed instant moved",
        }
    }
}

/// How one decision compares: `None` when the candidate decides as live did.
pub fn compare_decision(live: &Decision, candidate: &Decision) -> Option<Flip> {
    match (live.allowed, candidate.allowed) {
        (true, false) => Some(Flip::AllowToRefuse),
        (false, true) => Some(Flip::RefuseToAllow),
        (false, false) if live.next_allowed_at != candidate.next_allowed_at => {
            Some(Flip::NextAllowedMoved)
        }
        _ => None,
    }
}

/// Flips counted by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FlipCounts {
    /// Allowed live, refused by the candidate.
    pub allow_to_refuse: u64,
    /// Refused live, allowed by the candidate.
    pub refuse_to_allow: u64,
    /// Refused by both, the next allowed instant moved.
    pub next_allowed_moved: u64,
}

impl FlipCounts {
    fn add(&mut self, flip: Flip) {
        match flip {
            Flip::AllowToRefuse => self.allow_to_refuse += 1,
            Flip::RefuseToAllow => self.refuse_to_allow += 1,
            Flip::NextAllowedMoved => self.next_allowed_moved += 1,
        }
    }

    fn merge(&mut self, other: FlipCounts) {
        self.allow_to_refuse += other.allow_to_refuse;
        self.refuse_to_allow += other.refuse_to_allow;
        self.next_allowed_moved += other.next_allowed_moved;
    }

    /// Every flip.
    pub fn total(&self) -> u64 {
        self.allow_to_refuse + self.refuse_to_allow + self.next_allowed_moved
    }
}

/// Flips under one name (a rule, a state, a channel, a purpose).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlipTotal {
    /// The rule id, state (`unknown` when the address has none), channel or purpose.
    pub name: String,
    /// The flips.
    #[serde(flatten)]
    pub flips: FlipCounts,
}

/// One decision that flipped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlipExample {
    /// How it flipped.
    pub flip: Flip,
    /// The logged decision's id.
    pub decision_id: String,
    /// The account.
    pub account_id: String,
    /// The question's instant.
    pub at: DateTime<Utc>,
    /// The channel.
    pub channel: Channel,
    /// The purpose.
    pub purpose: Purpose,
    /// The consumer's state, when known.
    pub state: Option<String>,
    /// The digest of the live policy that replayed it.
    pub live_digest: String,
    /// Live's verdict.
    pub live: Verdict,
    /// The candidate's verdict.
    pub candidate: Verdict,
    /// Live's next allowed instant.
    pub live_next_allowed_at: Option<DateTime<Utc>>,
    /// The candidate's next allowed instant.
    pub candidate_next_allowed_at: Option<DateTime<Utc>>,
    /// The rules refusing live.
    pub live_rules: Vec<String>,
    /// The rules refusing under the candidate.
    pub candidate_rules: Vec<String>,
}

/// The logged decisions replayed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DecisionsImpact {
    /// Logged decisions in the period.
    pub logged: u64,
    /// Of them, replayed (the others' accounts are gone).
    pub replayed: u64,
    /// Replayed and decided alike.
    pub unchanged: u64,
    /// The flips.
    #[serde(flatten)]
    pub flips: FlipCounts,
    /// Flips per rule: the candidate's refusing rules for allow → refuse, live's for
    /// refuse → allow, both for a moved instant.
    pub by_rule: Vec<FlipTotal>,
    /// Flips per state.
    pub by_state: Vec<FlipTotal>,
    /// Flips per channel.
    pub by_channel: Vec<FlipTotal>,
    /// Flips per purpose.
    pub by_purpose: Vec<FlipTotal>,
    /// A few flips of each kind.
    pub examples: Vec<FlipExample>,
}

/// What replaying some consumers found; merged into [`DecisionsImpact`].
#[derive(Debug, Default)]
pub struct Tally {
    /// Logged decisions in the period (set once, by the caller).
    pub logged: u64,
    replayed: u64,
    unchanged: u64,
    flips: FlipCounts,
    by_rule: BTreeMap<String, FlipCounts>,
    by_state: BTreeMap<String, FlipCounts>,
    by_channel: BTreeMap<String, FlipCounts>,
    by_purpose: BTreeMap<String, FlipCounts>,
    examples: Vec<FlipExample>,
}

impl Tally {
    /// Adds another tally; examples beyond [`EXAMPLES`] of a kind are dropped.
    pub fn merge(&mut self, other: Tally) {
        self.logged += other.logged;
        self.replayed += other.replayed;
        self.unchanged += other.unchanged;
        self.flips.merge(other.flips);
        for (mine, theirs) in [
            (&mut self.by_rule, other.by_rule),
            (&mut self.by_state, other.by_state),
            (&mut self.by_channel, other.by_channel),
            (&mut self.by_purpose, other.by_purpose),
        ] {
            for (name, counts) in theirs {
                mine.entry(name).or_default().merge(counts);
            }
        }
        for example in other.examples {
            self.keep(example);
        }
    }

    fn keep(&mut self, example: FlipExample) {
        let kept = self
            .examples
            .iter()
            .filter(|e| e.flip == example.flip)
            .count();
        if kept < EXAMPLES {
            self.examples.push(example);
        }
    }

    fn count(&mut self, example: FlipExample) {
        let flip = example.flip;
        self.flips.add(flip);
        let rules: Vec<&String> = match flip {
            Flip::AllowToRefuse => example.candidate_rules.iter().collect(),
            Flip::RefuseToAllow => example.live_rules.iter().collect(),
            Flip::NextAllowedMoved => {
                let mut both: Vec<&String> = example
                    .live_rules
                    .iter()
                    .chain(&example.candidate_rules)
                    .collect();
                both.sort();
                both.dedup();
                both
            }
        };
        for rule in rules {
            self.by_rule.entry(rule.clone()).or_default().add(flip);
        }
        self.by_state
            .entry(example.state.clone().unwrap_or_else(|| "unknown".into()))
            .or_default()
            .add(flip);
        self.by_channel
            .entry(example.channel.as_str().to_string())
            .or_default()
            .add(flip);
        self.by_purpose
            .entry(example.purpose.as_str().to_string())
            .or_default()
            .add(flip);
        self.keep(example);
    }
}

/// The live policy of each replayed decision.
pub struct Lives<'a> {
    /// One rules directory for every decision (`--rules DIR`).
    pub rules: Option<&'a Policy>,
    /// Else the policy in force when each was made, by digest.
    pub in_force: &'a HashMap<String, Arc<Policy>>,
}

impl Lives<'_> {
    fn of(&self, digest: &str) -> Option<&Policy> {
        self.rules
            .or_else(|| self.in_force.get(digest).map(|policy| &**policy))
    }
}

/// Replays one consumer's logged decisions under live and the candidate.
pub fn replay_consumer(
    debts: &[AccountEntries],
    logged: &[(DecisionRow, String)],
    lives: &Lives<'_>,
    candidate: &Policy,
) -> Tally {
    let mut tally = Tally::default();
    let probes: Vec<Probe<'_, &(DecisionRow, String)>> = logged
        .iter()
        .filter_map(|row| {
            let debt = debts
                .iter()
                .position(|debt| debt.account.id.as_str() == row.0.account_id)?;
            Some(Probe {
                debt,
                at: row.0.question.at,
                entry: row.0.event_id.as_deref(),
                item: row,
            })
        })
        .collect();
    judge::walk_consumer(debts, probes, |(row, digest), account, history| {
        let Some(live_policy) = lives.of(digest) else {
            return;
        };
        tally.replayed += 1;
        let asked = &row.question;
        let question = Question {
            at: asked.at,
            channel: asked.channel,
            purpose: asked.purpose,
            contact_point: asked.contact_point.as_deref(),
            horizon_days: None,
        };
        let live = Subject::new(live_policy, account, history).decide(&question);
        let decided = Subject::new(candidate, account, history).decide(&question);
        let Some(flip) = compare_decision(&live, &decided) else {
            tally.unchanged += 1;
            return;
        };
        let rules = |decision: &Decision| -> Vec<String> {
            decision
                .reasons
                .iter()
                .map(|r| r.rule.to_string())
                .collect()
        };
        tally.count(FlipExample {
            flip,
            decision_id: row.id.clone(),
            account_id: row.account_id.clone(),
            at: asked.at,
            channel: asked.channel,
            purpose: asked.purpose,
            state: account.consumer.state().map(str::to_ascii_uppercase),
            live_digest: live_policy.digest().to_string(),
            live: live.outcome,
            candidate: decided.outcome,
            live_next_allowed_at: live.next_allowed_at,
            candidate_next_allowed_at: decided.next_allowed_at,
            live_rules: rules(&live),
            candidate_rules: rules(&decided),
        });
    });
    tally
}

/// The recorded contacts judged by the candidate (the audit with `--rules`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactsImpact {
    /// Collector-initiated contacts judged.
    pub contacts: u64,
    /// Of them, the ones the candidate refuses.
    pub refused: u64,
    /// Refusals per rule.
    pub by_rule: Vec<RuleTotal>,
    /// The first few refused contacts.
    pub examples: Vec<Violation>,
}

impl From<super::Audit> for ContactsImpact {
    fn from(audit: super::Audit) -> ContactsImpact {
        ContactsImpact {
            contacts: audit.contacts,
            refused: audit.violations.len() as u64,
            by_rule: audit.by_rule,
            examples: audit.violations.into_iter().take(EXAMPLES * 2).collect(),
        }
    }
}

/// One planned item that differs between the plans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanChange {
    /// `added` (the candidate plans it, live does not), `removed` or `moved`.
    pub change: &'static str,
    /// The account.
    pub account_id: String,
    /// The strategy's step.
    pub step: String,
    /// The channel (`None` for an escalation).
    pub channel: Option<Channel>,
    /// When live plans it.
    pub live_at: Option<DateTime<Utc>>,
    /// When the candidate plans it.
    pub candidate_at: Option<DateTime<Utc>>,
}

/// The plan ahead under both policies.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ForwardImpact {
    /// Planned from this instant.
    pub from: Option<DateTime<Utc>>,
    /// Over this many days.
    pub days: u32,
    /// The strategies (ids) the accounts follow.
    pub strategies: Vec<String>,
    /// Accounts planned.
    pub accounts: u64,
    /// Items live plans.
    pub live_items: u64,
    /// Items the candidate plans.
    pub candidate_items: u64,
    /// Items the candidate plans that live does not (a loosening).
    pub added: u64,
    /// Items live plans that the candidate does not.
    pub removed: u64,
    /// Items both plan, at different instants.
    pub moved: u64,
    /// A few changes of each kind.
    pub examples: Vec<PlanChange>,
}

impl ForwardImpact {
    /// Adds another consumer's comparison.
    pub fn merge(&mut self, other: ForwardImpact) {
        self.accounts += other.accounts;
        self.live_items += other.live_items;
        self.candidate_items += other.candidate_items;
        self.added += other.added;
        self.removed += other.removed;
        self.moved += other.moved;
        for example in other.examples {
            if self
                .examples
                .iter()
                .filter(|e| e.change == example.change)
                .count()
                < EXAMPLES
            {
                self.examples.push(example);
            }
        }
    }
}

/// Compares two plans of the same accounts. The items of one step of one account are
/// paired in time order: an unpaired one was added or removed, a pair at two instants
/// moved — so a step pushed to a later day is one move, not a removal and an addition.
pub fn compare_plans(live: &[PlannedItem], candidate: &[PlannedItem]) -> ForwardImpact {
    // (account, step) → (live's items, the candidate's).
    type Sides<'p> = (Vec<&'p PlannedItem>, Vec<&'p PlannedItem>);
    let mut steps: BTreeMap<(&str, &str), Sides<'_>> = BTreeMap::new();
    for item in live {
        steps
            .entry((&item.account_id, &item.step))
            .or_default()
            .0
            .push(item);
    }
    for item in candidate {
        steps
            .entry((&item.account_id, &item.step))
            .or_default()
            .1
            .push(item);
    }
    let mut forward = ForwardImpact {
        live_items: live.len() as u64,
        candidate_items: candidate.len() as u64,
        ..ForwardImpact::default()
    };
    let mut changes = Vec::new();
    for ((account, step), (mut live, mut candidate)) in steps {
        live.sort_by_key(|item| item.at);
        candidate.sort_by_key(|item| item.at);
        for index in 0..live.len().max(candidate.len()) {
            let (l, c) = (live.get(index), candidate.get(index));
            let change = match (l, c) {
                (Some(l), Some(c)) if l.at != c.at => "moved",
                (Some(_), Some(_)) | (None, None) => continue,
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
            };
            match change {
                "added" => forward.added += 1,
                "removed" => forward.removed += 1,
                _ => forward.moved += 1,
            }
            changes.push(PlanChange {
                change,
                account_id: account.to_string(),
                step: step.to_string(),
                channel: l.or(c).and_then(|item| item.channel),
                live_at: l.map(|item| item.at),
                candidate_at: c.map(|item| item.at),
            });
        }
    }
    let mut kept = ForwardImpact::default();
    kept.merge(ForwardImpact {
        examples: changes,
        ..ForwardImpact::default()
    });
    forward.examples = kept.examples;
    forward
}

/// Plans one consumer under both policies and compares.
pub fn forward_consumer(
    debts: &[AccountLedger],
    strategies: &StrategySet,
    live: &Policy,
    candidate: &Policy,
    horizon: &Horizon,
) -> ForwardImpact {
    let items = |policy: &Policy| -> Vec<PlannedItem> {
        plan_under_set(strategies, debts, policy, horizon)
            .into_iter()
            .flatten()
            .flat_map(|(_, plan)| plan.items)
            .collect()
    };
    let mut forward = compare_plans(&items(live), &items(candidate));
    forward.accounts = debts.len() as u64;
    forward
}

/// Which policy counted as live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveBy {
    /// For each decision, the policy in force when it was made; for the plan ahead, the
    /// configured rules directory.
    InForce,
    /// The rules directory given with `--rules`.
    Rules,
}

/// The impact of a candidate policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// The UTC days whose decisions and contacts were replayed, both included.
    pub period: Period,
    /// Which policy counted as live.
    pub live_by: LiveBy,
    /// The digests of the live policies that replayed decisions.
    pub live_digests: Vec<String>,
    /// The candidate's digest.
    pub candidate_digest: String,
    /// Whether the candidate allows something live refused (a refuse → allow flip, or a
    /// planned item live does not plan): `dunner rules impact` then exits 4.
    pub loosens: bool,
    /// The logged decisions replayed.
    pub decisions: DecisionsImpact,
    /// The recorded contacts judged by the candidate.
    pub contacts: ContactsImpact,
    /// The plan ahead; `None` when no strategy was given or configured.
    pub forward: Option<ForwardImpact>,
}

/// The impact with its totals sorted (the most flips first).
pub fn summarise(
    period: Period,
    live_by: LiveBy,
    live_digests: Vec<String>,
    candidate_digest: String,
    tally: Tally,
    contacts: ContactsImpact,
    forward: Option<ForwardImpact>,
) -> Impact {
    let totals = |map: BTreeMap<String, FlipCounts>| {
        let mut totals: Vec<FlipTotal> = map
            .into_iter()
            .map(|(name, flips)| FlipTotal { name, flips })
            .collect();
        totals.sort_by_key(|total| std::cmp::Reverse(total.flips.total()));
        totals
    };
    let mut examples = tally.examples;
    examples.sort_by_key(|e| {
        (
            Flip::ALL.iter().position(|f| *f == e.flip),
            e.account_id.clone(),
            e.at,
        )
    });
    let loosens = tally.flips.refuse_to_allow > 0 || forward.as_ref().is_some_and(|f| f.added > 0);
    Impact {
        period,
        live_by,
        live_digests,
        candidate_digest,
        loosens,
        decisions: DecisionsImpact {
            logged: tally.logged,
            replayed: tally.replayed,
            unchanged: tally.unchanged,
            flips: tally.flips,
            by_rule: totals(tally.by_rule),
            by_state: totals(tally.by_state),
            by_channel: totals(tally.by_channel),
            by_purpose: totals(tally.by_purpose),
            examples,
        },
        contacts,
        forward,
    }
}

/// The plan ahead to compare: the strategies, the live policy, and the horizon.
pub struct Ahead {
    /// The strategies the accounts follow.
    pub strategies: Arc<StrategySet>,
    /// The live policy (the configured rules, or `--rules`).
    pub live: Arc<Policy>,
    /// From when and how many days.
    pub horizon: Horizon,
}

/// What to compare.
pub struct ImpactRequest {
    /// The candidate policy.
    pub candidate: Arc<Policy>,
    /// One live policy for every decision (`--rules DIR`); `None`: the policy in force
    /// when each was made.
    pub rules: Option<Arc<Policy>>,
    /// The period whose decisions and contacts are replayed.
    pub period: Period,
    /// The plan ahead, when there are strategies.
    pub ahead: Option<Ahead>,
}

/// A consumer's logged decisions, each with the digest of the policy that made it.
type Logged = Vec<(DecisionRow, String)>;

/// Measures the impact of a candidate on the stored ledger.
pub async fn run(store: &Store, request: ImpactRequest) -> Result<Impact, AuditError> {
    let ImpactRequest {
        candidate,
        rules,
        period,
        ahead,
    } = request;
    let (start, end) = (period.start(), period.end());
    let logged = store.decisions_logged(start, end).await?;
    let logged_count = logged.len() as u64;
    let mut in_force: HashMap<String, Arc<Policy>> = HashMap::new();
    if rules.is_none() {
        for (_, digest) in &logged {
            if in_force.contains_key(digest) {
                continue;
            }
            let policy = if digest.as_str() == candidate.digest() {
                Arc::clone(&candidate)
            } else {
                Arc::new(kept_policy(store, digest).await?)
            };
            in_force.insert(digest.clone(), policy);
        }
    }
    let mut live_digests: Vec<String> = match &rules {
        Some(rules) => vec![rules.digest().to_string()],
        None => in_force.keys().cloned().collect(),
    };
    live_digests.sort();
    let mut by_account: HashMap<String, Vec<(DecisionRow, String)>> = HashMap::new();
    for row in logged {
        by_account
            .entry(row.0.account_id.clone())
            .or_default()
            .push(row);
    }
    let in_force = Arc::new(in_force);
    let mut tally = Tally {
        logged: logged_count,
        ..Tally::default()
    };
    let mut after: Option<String> = None;
    while !by_account.is_empty() {
        let page = store.consumer_entries_page(after.as_deref(), PAGE).await?;
        after.clone_from(&page.next_after);
        let work: Vec<(Vec<AccountEntries>, Logged)> = page
            .consumers
            .into_iter()
            .filter_map(|debts| {
                let logged: Vec<(DecisionRow, String)> = debts
                    .iter()
                    .filter_map(|debt| by_account.remove(debt.account.id.as_str()))
                    .flatten()
                    .collect();
                (!logged.is_empty()).then_some((debts, logged))
            })
            .collect();
        let (rules, in_force, candidate) =
            (rules.clone(), Arc::clone(&in_force), Arc::clone(&candidate));
        let page_tally = tokio::task::spawn_blocking(move || {
            let lives = Lives {
                rules: rules.as_deref(),
                in_force: &in_force,
            };
            work.par_iter()
                .map(|(debts, logged)| replay_consumer(debts, logged, &lives, &candidate))
                .reduce(Tally::default, |mut a, b| {
                    a.merge(b);
                    a
                })
        })
        .await
        .map_err(|e| AuditError::Task(e.to_string()))?;
        tally.merge(page_tally);
        if after.is_none() {
            break;
        }
    }
    let contacts = super::run(store, Arc::clone(&candidate), true, period)
        .await?
        .into();
    let forward = match ahead {
        Some(ahead) => Some(forward(store, &ahead, &candidate).await?),
        None => None,
    };
    Ok(summarise(
        period,
        if rules.is_some() {
            LiveBy::Rules
        } else {
            LiveBy::InForce
        },
        live_digests,
        candidate.digest().to_string(),
        tally,
        contacts,
        forward,
    ))
}

/// The stored portfolio planned under live and the candidate, compared.
async fn forward(
    store: &Store,
    ahead: &Ahead,
    candidate: &Arc<Policy>,
) -> Result<ForwardImpact, AuditError> {
    let mut forward = ForwardImpact {
        from: Some(ahead.horizon.not_before),
        days: ahead.horizon.days,
        strategies: ahead
            .strategies
            .strategies()
            .iter()
            .map(|s| s.id.clone())
            .collect(),
        ..ForwardImpact::default()
    };
    let mut after: Option<String> = None;
    loop {
        let page = store.consumer_page(after.as_deref(), PAGE).await?;
        after.clone_from(&page.next_after);
        let (strategies, live, candidate, horizon) = (
            Arc::clone(&ahead.strategies),
            Arc::clone(&ahead.live),
            Arc::clone(candidate),
            ahead.horizon,
        );
        let consumers = page.consumers;
        let compared = tokio::task::spawn_blocking(move || {
            consumers
                .par_iter()
                .map(|debts| forward_consumer(debts, &strategies, &live, &candidate, &horizon))
                .reduce(ForwardImpact::default, |mut a, b| {
                    a.merge(b);
                    a
                })
        })
        .await
        .map_err(|e| AuditError::Task(e.to_string()))?;
        forward.merge(compared);
        if after.is_none() {
            return Ok(forward);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::planner::ItemDispatch;

    fn item(step: &str, at: &str) -> PlannedItem {
        let at: DateTime<Utc> = at.parse().unwrap();
        PlannedItem {
            account_id: "A-1".into(),
            client: None,
            step: step.into(),
            day: at.date_naive(),
            at,
            channel: Some(Channel::Call),
            purpose: Purpose::Collection,
            contact_point: None,
            dispatch: ItemDispatch::Webhook {
                event: "contact.due".into(),
            },
            preferred: true,
            escalate_to: None,
            decision: None,
        }
    }

    #[test]
    fn a_step_pushed_later_is_a_move_and_an_extra_one_an_addition() {
        let live = [
            item("call", "2026-04-21T22:00:00Z"),
            item("call", "2026-04-23T22:00:00Z"),
            item("letter", "2026-04-21T14:00:00Z"),
        ];
        let candidate = [
            item("call", "2026-04-21T22:00:00Z"),
            item("call", "2026-04-24T22:00:00Z"),
            item("call", "2026-04-26T22:00:00Z"),
        ];
        let forward = compare_plans(&live, &candidate);
        assert_eq!((forward.added, forward.removed, forward.moved), (1, 1, 1));
        assert_eq!((forward.live_items, forward.candidate_items), (3, 3));
        let moved = forward
            .examples
            .iter()
            .find(|c| c.change == "moved")
            .unwrap();
        assert_eq!(moved.live_at, Some("2026-04-23T22:00:00Z".parse().unwrap()));
        assert_eq!(
            moved.candidate_at,
            Some("2026-04-24T22:00:00Z".parse().unwrap())
        );
        let removed = forward
            .examples
            .iter()
            .find(|c| c.change == "removed")
            .unwrap();
        assert_eq!(removed.step, "letter");
    }
}

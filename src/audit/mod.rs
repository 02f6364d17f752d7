//! Audit of the past (`dunner audit`, `GET /v1/audit`): was every contact of a period
//! lawful under the rules then in force?
//!
//! Every collector-initiated contact recorded in the period is judged, in ledger order,
//! by the policy in force when it was made — the digest of the logged decision that
//! allowed it, compiled from the pack texts kept for that digest — or, for a contact no
//! decision allowed (imported, or appended as an event), by the fallback rules (the
//! live rules directory, or `--rules DIR`), and named as such (`decided: false`). With a
//! candidate (`--rules DIR`), every contact is judged by it. How the account and the
//! history are wound back to the contact's instant is in [`judge`].
//!
//! [`run`] reads (the store, a consumer at a time) and hands each page to the pure
//! [`judge::judge_consumer`], the consumers of a page in parallel; [`render`] writes JSON,
//! CSV or an HTML page. No personal data beyond account ids leaves here: no phone
//! numbers, no addresses.

pub mod impact;
mod impact_render;
pub mod judge;
mod render;
pub mod signing;
pub mod verify;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;

use crate::domain::{Channel, Purpose};
use crate::engine::Reason;
use crate::policy::{Policy, SourceFile};
use crate::report::Period;
use crate::store::{Store, StoreError};

pub use impact_render::{ImpactFormat, render_impact};
pub use render::render;

/// Accounts anchoring each page read from the store.
const PAGE: u32 = 2_000;

/// One contact the policy refuses.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Violation {
    /// The account.
    pub account_id: String,
    /// The contact's ledger id.
    pub event_id: String,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The channel.
    pub channel: Channel,
    /// Its purpose as recorded (`collection` when none was).
    pub purpose: Purpose,
    /// The consumer's state (the address's), when known.
    pub state: Option<String>,
    /// Whether a logged decision allowed the contact when it was made; `false` for a
    /// contact imported or appended as an event.
    pub decided: bool,
    /// The digest of the policy that judged it now.
    pub policy_digest: String,
    /// Every rule that refuses it, with its pack and citation.
    pub reasons: Vec<Reason>,
}

/// Violations of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleTotal {
    /// The rule id.
    pub rule: String,
    /// Its pack.
    pub pack: String,
    /// Its citation.
    pub citation: String,
    /// Contacts it refuses.
    pub violations: u64,
}

/// Violations under one name (a channel, a state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Total {
    /// The channel or the state (`unknown` when the address has none).
    pub name: String,
    /// Contacts refused.
    pub violations: u64,
}

/// Which rules judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JudgedBy {
    /// Each decided contact by the policy of its decision; the others by the live rules.
    InForce,
    /// Every contact by the candidate rules of `--rules DIR`.
    Candidate,
}

/// The audit of a period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Audit {
    /// The UTC days audited, both included.
    pub period: Period,
    /// Which rules judged.
    pub judged_by: JudgedBy,
    /// The digest of the rules that judged the contacts no decision allowed (with a
    /// candidate, every contact).
    pub fallback_digest: String,
    /// The digests of the policies in force that judged decided contacts.
    pub in_force_digests: Vec<String>,
    /// No contact was refused.
    pub clean: bool,
    /// Collector-initiated contacts judged.
    pub contacts: u64,
    /// Of them, the ones a logged decision allowed.
    pub decided_contacts: u64,
    /// The contacts refused, in account order, then ledger order.
    pub violations: Vec<Violation>,
    /// Violations per refusing rule (a contact refused by two rules counts for each).
    pub by_rule: Vec<RuleTotal>,
    /// Violations per channel.
    pub by_channel: Vec<Total>,
    /// Violations per state.
    pub by_state: Vec<Total>,
}

/// What can stop an audit.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A logged decision names a policy whose texts are not kept.
    #[error("the pack texts of policy {digest} are not in the ledger")]
    MissingPolicy {
        /// The digest.
        digest: String,
    },
    /// The kept texts of a policy no longer compile (a pack format this version refuses).
    #[error("the policy {digest} kept in the ledger no longer compiles: {reason}")]
    Policy {
        /// The digest.
        digest: String,
        /// Why.
        reason: String,
    },
    /// A judging task failed.
    #[error("an audit task failed: {0}")]
    Task(String),
}

/// Audits `period`: every collector-initiated contact, judged by the policy in force
/// when it was made (the contacts no decision allowed by `fallback`), or, with
/// `candidate`, every contact by `fallback`.
pub async fn run(
    store: &Store,
    fallback: Arc<Policy>,
    candidate: bool,
    period: Period,
) -> Result<Audit, AuditError> {
    run_with_progress(store, fallback, candidate, period, &|_| {}).await
}

/// [`run`], telling `progress` how many accounts each page read held once it is judged
/// (the command line's progress bar).
pub async fn run_with_progress(
    store: &Store,
    fallback: Arc<Policy>,
    candidate: bool,
    period: Period,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Audit, AuditError> {
    let (start, end) = (period.start(), period.end());
    let decisions = store.contact_decisions(start, end).await?;
    let mut in_force: HashMap<String, Arc<Policy>> = HashMap::new();
    if !candidate {
        for digest in decisions.values() {
            if in_force.contains_key(digest) {
                continue;
            }
            let policy = if digest.as_str() == fallback.digest() {
                Arc::clone(&fallback)
            } else {
                Arc::new(kept_policy(store, digest).await?)
            };
            in_force.insert(digest.clone(), policy);
        }
    }
    let shared = Arc::new((in_force, decisions, fallback));
    let mut totals = judge::Judged::default();
    let mut after: Option<String> = None;
    let mut pending: Option<(tokio::task::JoinHandle<judge::Judged>, u64)> = None;
    loop {
        let page = store.consumer_entries_page(after.as_deref(), PAGE).await?;
        after.clone_from(&page.next_after);
        // Judge this page while the next one is read.
        if let Some((previous, accounts)) = pending.take() {
            merge(
                &mut totals,
                previous
                    .await
                    .map_err(|e| AuditError::Task(e.to_string()))?,
            );
            progress(accounts);
        }
        let accounts = page.consumers.iter().map(|debts| debts.len() as u64).sum();
        let shared = Arc::clone(&shared);
        let task = tokio::task::spawn_blocking(move || {
            let (in_force, decisions, fallback) = &*shared;
            let policies = judge::Policies {
                in_force,
                decisions,
                fallback,
                candidate,
            };
            page.consumers
                .par_iter()
                .map(|debts| judge::judge_consumer(debts, start, end, &policies))
                .reduce(judge::Judged::default, |mut a, b| {
                    merge(&mut a, b);
                    a
                })
        });
        pending = Some((task, accounts));
        if after.is_none() {
            break;
        }
    }
    if let Some((previous, accounts)) = pending.take() {
        merge(
            &mut totals,
            previous
                .await
                .map_err(|e| AuditError::Task(e.to_string()))?,
        );
        progress(accounts);
    }
    let (in_force, _, fallback) = &*shared;
    let mut in_force_digests: Vec<String> = in_force.keys().cloned().collect();
    in_force_digests.sort();
    Ok(summarise(
        period,
        if candidate {
            JudgedBy::Candidate
        } else {
            JudgedBy::InForce
        },
        fallback.digest().to_string(),
        in_force_digests,
        totals,
    ))
}

/// The policy kept in the ledger for a digest.
async fn kept_policy(store: &Store, digest: &str) -> Result<Policy, AuditError> {
    let sources = store
        .policy_sources(digest)
        .await?
        .ok_or_else(|| AuditError::MissingPolicy {
            digest: digest.to_string(),
        })?;
    Policy::from_sources(
        sources
            .into_iter()
            .map(|(name, text)| SourceFile::new(name, text))
            .collect(),
    )
    .map_err(|error| AuditError::Policy {
        digest: digest.to_string(),
        reason: error.to_string(),
    })
}

fn merge(into: &mut judge::Judged, from: judge::Judged) {
    into.contacts += from.contacts;
    into.decided += from.decided;
    into.violations.extend(from.violations);
}

/// The audit with its totals; violations in account order, then ledger order.
pub fn summarise(
    period: Period,
    judged_by: JudgedBy,
    fallback_digest: String,
    in_force_digests: Vec<String>,
    judged: judge::Judged,
) -> Audit {
    let mut violations = judged.violations;
    violations.sort_by(|a, b| {
        (&a.account_id, a.at, &a.event_id).cmp(&(&b.account_id, b.at, &b.event_id))
    });
    let mut by_rule: BTreeMap<(String, String), (String, u64)> = BTreeMap::new();
    let mut by_channel: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    for violation in &violations {
        for reason in &violation.reasons {
            by_rule
                .entry((reason.rule.to_string(), reason.pack.to_string()))
                .or_insert_with(|| (reason.citation.to_string(), 0))
                .1 += 1;
        }
        *by_channel
            .entry(violation.channel.as_str().to_string())
            .or_default() += 1;
        *by_state
            .entry(violation.state.clone().unwrap_or_else(|| "unknown".into()))
            .or_default() += 1;
    }
    let mut by_rule: Vec<RuleTotal> = by_rule
        .into_iter()
        .map(|((rule, pack), (citation, violations))| RuleTotal {
            rule,
            pack,
            citation,
            violations,
        })
        .collect();
    by_rule.sort_by_key(|total| std::cmp::Reverse(total.violations));
    let totals = |map: BTreeMap<String, u64>| {
        let mut totals: Vec<Total> = map
            .into_iter()
            .map(|(name, violations)| Total { name, violations })
            .collect();
        totals.sort_by_key(|total| std::cmp::Reverse(total.violations));
        totals
    };
    Audit {
        period,
        judged_by,
        fallback_digest,
        in_force_digests,
        clean: violations.is_empty(),
        contacts: judged.contacts,
        decided_contacts: judged.decided,
        violations,
        by_rule,
        by_channel: totals(by_channel),
        by_state: totals(by_state),
    }
}

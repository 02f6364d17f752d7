//! The audit's judging: every collector-initiated contact of a period, judged by a
//! policy against the account and the history as they stood when it was made.
//!
//! Pure: accounts, ledgers and policies in, findings out; no I/O, no clock.
//!
//! - **The history** of a contact is every entry of the consumer's accounts before it
//!   in ledger order — by instant, and at the same instant by the order they were
//!   recorded in (`seq`) — through [`history_of`]; an `outcome_reported` entry recorded
//!   after the contact is not there, so an attempt whose outcome came later counts as
//!   the engine counted it then (the strict way).
//! - **The account** is the stored one with its flags and opt-outs wound back: a flag
//!   or an opt-out the ledger touches starts as the first touching entry found it (a
//!   `flag_set` found the flag clear) and follows the ledger up to the contact; one the
//!   ledger never touched keeps its stored value (set by a `PUT`, it is taken as it is
//!   now).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Violation;
use crate::domain::{
    Account, AccountEntries, Flag, InitiatedBy, LedgerEntry, LedgerEventType, OptOut, Purpose,
    StoredEntry, history_of,
};
use crate::engine::{Question, Subject};
use crate::policy::Policy;

/// Which policy judges which contact.
pub struct Policies<'a> {
    /// The policies in force when decided contacts were made, by digest.
    pub in_force: &'a HashMap<String, Arc<Policy>>,
    /// The decided contacts: ledger id → digest of the policy whose decision allowed it.
    pub decisions: &'a HashMap<String, String>,
    /// Judges the contacts no decision allowed (imported, or appended as events); with
    /// `candidate`, every contact.
    pub fallback: &'a Policy,
    /// Judge every contact by `fallback` (`--rules DIR`), not by the policy in force.
    pub candidate: bool,
}

impl Policies<'_> {
    /// The policy that judges a contact, and whether a logged decision allowed it.
    fn of(&self, entry_id: &str) -> (&Policy, bool) {
        let digest = self.decisions.get(entry_id);
        let policy = match digest {
            Some(digest) if !self.candidate => self
                .in_force
                .get(digest)
                .map_or(self.fallback, |policy| &**policy),
            _ => self.fallback,
        };
        (policy, digest.is_some())
    }
}

/// What judging one consumer found.
#[derive(Debug, Default)]
pub struct Judged {
    /// Collector-initiated contacts of the period judged.
    pub contacts: u64,
    /// Of them, the ones a logged decision allowed.
    pub decided: u64,
    /// The contacts the policy refuses, in ledger order.
    pub violations: Vec<Violation>,
}

/// Whether the audit judges an entry: a collector-initiated contact in `[start, end)`.
pub fn is_audited(entry: &LedgerEntry, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    entry.event.event_type == LedgerEventType::Contact
        && entry.event.initiated_by == InitiatedBy::Collector
        && entry.event.channel.is_some()
        && entry.event.at >= start
        && entry.event.at < end
}

/// Judges every audited contact of one consumer's debts.
pub fn judge_consumer(
    debts: &[AccountEntries],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    policies: &Policies<'_>,
) -> Judged {
    let mut judged = Judged::default();
    if !debts
        .iter()
        .any(|debt| debt.entries.iter().any(|e| is_audited(e, start, end)))
    {
        return judged;
    }
    // Every entry of the consumer in ledger order, with the debt it belongs to.
    let mut merged: Vec<(usize, &LedgerEntry)> = debts
        .iter()
        .enumerate()
        .flat_map(|(index, debt)| debt.entries.iter().map(move |entry| (index, entry)))
        .collect();
    merged.sort_by_key(|(_, entry)| (entry.event.at, entry.seq));
    let mut states: Vec<Account> = debts
        .iter()
        .enumerate()
        .map(|(index, debt)| {
            wound_back(
                &debt.account,
                merged.iter().filter(|(i, _)| *i == index).map(|(_, e)| *e),
            )
        })
        .collect();
    // Each debt's view of the consumer's ledger (the other debts' entries tagged), built
    // once: a contact's history is a prefix of it.
    let mut views: Vec<Option<Vec<StoredEntry>>> = vec![None; debts.len()];
    for (position, (index, entry)) in merged.iter().enumerate() {
        let (index, entry) = (*index, *entry);
        if is_audited(entry, start, end)
            && let (Some(state), Some(view)) = (states.get(index), views.get_mut(index))
        {
            let view = view.get_or_insert_with(|| view_of(debts, &merged, index));
            let prior = view.get(..position).unwrap_or_default();
            let history = history_of(
                &prior
                    .iter()
                    .filter(|stored| {
                        stored.event.event_type != LedgerEventType::OutcomeReported
                            || merged
                                .iter()
                                .find(|(_, e)| e.id == stored.id)
                                .is_some_and(|(_, e)| e.seq < entry.seq)
                    })
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            if let Some(violation) = judge_contact(state, entry, &history, policies, &mut judged) {
                judged.violations.push(violation);
            }
        }
        if let Some(state) = states.get_mut(index) {
            apply_account_change(entry, state);
        }
    }
    judged
}

/// One contact: the decision of its policy, a violation when it refuses.
fn judge_contact(
    account: &Account,
    entry: &LedgerEntry,
    history: &[crate::domain::Event],
    policies: &Policies<'_>,
    judged: &mut Judged,
) -> Option<Violation> {
    let channel = entry.event.channel?;
    let (policy, decided) = policies.of(&entry.id);
    judged.contacts += 1;
    judged.decided += u64::from(decided);
    let purpose = entry.event.purpose.unwrap_or(Purpose::Collection);
    let decision = Subject::new(policy, account, history).decide(&Question {
        at: entry.event.at,
        channel,
        purpose,
        contact_point: entry.event.contact_point.as_deref(),
        // Only the verdict at the instant matters: no search for a later one.
        horizon_days: Some(0),
    });
    if decision.allowed {
        return None;
    }
    Some(Violation {
        account_id: account.id.to_string(),
        event_id: entry.id.clone(),
        at: entry.event.at,
        channel,
        purpose,
        state: account
            .consumer
            .address
            .as_ref()
            .and_then(|address| address.state.as_deref())
            .map(str::to_ascii_uppercase),
        decided,
        policy_digest: policy.digest().to_string(),
        reasons: decision.reasons,
    })
}

/// The consumer's ledger as debt `index` sees it: the other debts' entries tagged with
/// their account.
fn view_of(
    debts: &[AccountEntries],
    merged: &[(usize, &LedgerEntry)],
    index: usize,
) -> Vec<StoredEntry> {
    merged
        .iter()
        .map(|(other, entry)| StoredEntry {
            id: entry.id.clone(),
            other_account: (*other != index)
                .then(|| debts.get(*other).map(|debt| debt.account.id.to_string()))
                .flatten(),
            event: entry.event.clone(),
        })
        .collect()
}

/// The opt-out an entry names.
fn opt_out_of(entry: &LedgerEntry) -> Option<OptOut> {
    match (entry.event.channel, &entry.event.contact_point) {
        (Some(channel), None) => Some(OptOut::Channel(channel)),
        (None, Some(point)) => Some(OptOut::ContactPoint(point.clone())),
        _ => None,
    }
}

/// The stored account with every flag and opt-out the ledger touches set back to what
/// the first touching entry found; the rest as stored.
fn wound_back<'e>(stored: &Account, entries: impl Iterator<Item = &'e LedgerEntry>) -> Account {
    let mut account = stored.clone();
    let mut flags_seen: Vec<Flag> = Vec::new();
    let mut opt_outs_seen: Vec<OptOut> = Vec::new();
    for entry in entries {
        match entry.event.event_type {
            LedgerEventType::FlagSet | LedgerEventType::FlagCleared => {
                let Some(flag) = entry.event.flag else {
                    continue;
                };
                if flags_seen.contains(&flag) {
                    continue;
                }
                flags_seen.push(flag);
                if let Some(value) = account.flags.get_mut(flag) {
                    *value = entry.event.event_type == LedgerEventType::FlagCleared;
                }
            }
            LedgerEventType::OptedOut | LedgerEventType::OptOutWithdrawn => {
                let Some(opt_out) = opt_out_of(entry) else {
                    continue;
                };
                if opt_outs_seen.contains(&opt_out) {
                    continue;
                }
                account.opted_out.retain(|existing| *existing != opt_out);
                if entry.event.event_type == LedgerEventType::OptOutWithdrawn {
                    account.opted_out.push(opt_out.clone());
                }
                opt_outs_seen.push(opt_out);
            }
            _ => {}
        }
    }
    account
}

/// Follows the ledger's flag and opt-out entries (payments are not replayed: no rule
/// reads the balance at the instant).
fn apply_account_change(entry: &LedgerEntry, account: &mut Account) {
    if matches!(
        entry.event.event_type,
        LedgerEventType::FlagSet
            | LedgerEventType::FlagCleared
            | LedgerEventType::OptedOut
            | LedgerEventType::OptOutWithdrawn
    ) {
        // An entry that no longer applies (a flag no longer kept) changes nothing.
        let _ = entry.event.apply(account);
    }
}

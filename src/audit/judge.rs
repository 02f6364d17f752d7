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
use crate::engine::{Question, Standing, Subject};
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
    let probes: Vec<Probe<(usize, &LedgerEntry)>> = debts
        .iter()
        .enumerate()
        .flat_map(|(debt, entries)| {
            entries
                .entries
                .iter()
                .filter(|entry| is_audited(entry, start, end))
                .map(move |entry| Probe {
                    debt,
                    at: entry.event.at,
                    entry: Some(entry.id.as_str()),
                    item: (debt, entry),
                })
        })
        .collect();
    // Each debt's standing under each policy that judges it, computed once: most debts
    // are judged by one policy at every contact.
    let mut standings: Vec<(usize, *const Policy, Standing)> = Vec::new();
    walk_consumer(debts, probes, |(debt, entry), account, history| {
        let (policy, decided) = policies.of(&entry.id);
        let key = (debt, std::ptr::from_ref(policy));
        let standing = match standings.iter().position(|(d, p, _)| (*d, *p) == key) {
            Some(index) => standings.get(index).map(|(_, _, standing)| standing),
            None => {
                standings.push((debt, key.1, Standing::new(policy, account)));
                standings.last().map(|(_, _, standing)| standing)
            }
        };
        let Some(standing) = standing else {
            return;
        };
        let contact = Contact {
            entry,
            policy,
            decided,
        };
        if let Some(violation) = judge_contact(account, &contact, history, standing, &mut judged) {
            judged.violations.push(violation);
        }
    });
    judged
}

/// A contact to judge and the policy that judges it.
struct Contact<'e> {
    entry: &'e LedgerEntry,
    policy: &'e Policy,
    /// Whether a logged decision allowed it.
    decided: bool,
}

/// A question replayed in a consumer's ledger: the debt it is about and where it
/// stands.
pub struct Probe<'e, T> {
    /// The debt, an index into the consumer's debts.
    pub debt: usize,
    /// The question's instant.
    pub at: DateTime<Utc>,
    /// The ledger entry the question recorded, when it did: its history is what was
    /// recorded before that entry. Without one (or when it is not in the ledger), every
    /// entry at or before `at`.
    pub entry: Option<&'e str>,
    /// What the caller replays there.
    pub item: T,
}

/// Walks a consumer's ledger in ledger order and calls `visit` for every probe with the
/// account (flags and opt-outs wound back) and the history as they stood at its place.
/// The audit judges its contacts through it; the impact replays logged decisions.
pub fn walk_consumer<T>(
    debts: &[AccountEntries],
    probes: Vec<Probe<'_, T>>,
    mut visit: impl FnMut(T, &Account, &[crate::domain::Event]),
) {
    if probes.is_empty() {
        return;
    }
    // Every entry of the consumer in ledger order, with the debt it belongs to.
    let mut merged: Vec<(usize, &LedgerEntry)> = debts
        .iter()
        .enumerate()
        .flat_map(|(index, debt)| debt.entries.iter().map(move |entry| (index, entry)))
        .collect();
    merged.sort_by_key(|(_, entry)| (entry.event.at, entry.seq));
    let positions: HashMap<&str, usize> = merged
        .iter()
        .enumerate()
        .map(|(position, (_, entry))| (entry.id.as_str(), position))
        .collect();
    // Each probe's place: before the entry it recorded, else after every entry up to
    // its instant; the seq of its own entry, for the outcomes reported after it.
    let mut placed: Vec<(usize, Option<i64>, Probe<'_, T>)> = probes
        .into_iter()
        .map(|probe| match probe.entry.and_then(|id| positions.get(id)) {
            Some(&position) => {
                let seq = merged.get(position).map(|(_, entry)| entry.seq);
                (position, seq, probe)
            }
            None => (
                merged.partition_point(|(_, entry)| entry.event.at <= probe.at),
                None,
                probe,
            ),
        })
        .collect();
    placed.sort_by_key(|(position, _, _)| *position);
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
    // Each debt's history, grown entry by entry as the walk goes: a probe's history is
    // all of it so far. Rebuilding it per probe made an account's walk quadratic in its
    // ledger's length.
    let mut histories: Vec<Option<Growing<'_>>> = (0..debts.len()).map(|_| None).collect();
    // The rare probe that needs a filtered prefix (an outcome recorded after it but placed
    // before it) builds its history from the debt's view, as `history_of` would.
    let mut views: Vec<Option<Vec<StoredEntry>>> = vec![None; debts.len()];
    // The highest seq of an outcome report placed before the current position.
    let mut latest_report: Option<i64> = None;
    let mut placed = placed.into_iter().peekable();
    for position in 0..=merged.len() {
        while let Some((_, seq, probe)) = placed.next_if(|(at, _, _)| *at == position) {
            let (Some(state), Some(history)) =
                (states.get(probe.debt), histories.get_mut(probe.debt))
            else {
                continue;
            };
            // An outcome reported after the recorded contact was not known when it was made.
            let reported_later = seq.filter(|seq| latest_report.is_some_and(|r| r > *seq));
            if let Some(seq) = reported_later {
                let Some(view) = views.get_mut(probe.debt) else {
                    continue;
                };
                let view = view.get_or_insert_with(|| view_of(debts, &merged, probe.debt));
                let known: Vec<StoredEntry> = view
                    .get(..position)
                    .unwrap_or_default()
                    .iter()
                    .zip(merged.iter())
                    .filter(|(_, (_, e))| {
                        e.event.event_type != LedgerEventType::OutcomeReported || e.seq < seq
                    })
                    .map(|(stored, _)| stored.clone())
                    .collect();
                visit(probe.item, state, &history_of(&known));
                continue;
            }
            let history = history.get_or_insert_with(|| Growing::new(probe.debt));
            history.advance(debts, merged.get(..position).unwrap_or_default());
            visit(probe.item, state, &history.events);
        }
        // Once every probe is placed, the rest of the ledger changes nothing.
        if placed.peek().is_some()
            && let Some((index, entry)) = merged.get(position)
        {
            if entry.event.event_type == LedgerEventType::OutcomeReported {
                latest_report = latest_report.max(Some(entry.seq));
            }
            if let Some(state) = states.get_mut(*index) {
                apply_account_change(entry, state);
            }
        }
    }
}

/// One debt's history of a consumer's merged ledger up to a place, grown entry by entry:
/// at every place the same events as [`history_of`] gives for the prefix (the other
/// debts' entries tagged, an outcome reported so far counted as its attempt's, the last
/// report winning).
struct Growing<'e> {
    /// The debt whose view this is.
    debt: usize,
    /// Merged entries taken in so far.
    taken: usize,
    events: Vec<crate::domain::Event>,
    /// Where each event recorded without an outcome is, by ledger id: a later report
    /// fills it in.
    awaiting: HashMap<&'e str, usize>,
    /// The outcomes reported so far, by attempt.
    reported: HashMap<&'e str, crate::domain::Outcome>,
}

impl<'e> Growing<'e> {
    fn new(debt: usize) -> Self {
        Growing {
            debt,
            taken: 0,
            events: Vec::new(),
            awaiting: HashMap::new(),
            reported: HashMap::new(),
        }
    }

    /// Takes in the entries of `prefix` not taken yet.
    fn advance(&mut self, debts: &[AccountEntries], prefix: &[(usize, &'e LedgerEntry)]) {
        for (other, entry) in prefix.get(self.taken..).unwrap_or_default() {
            if let Some(mut event) = entry.event.history() {
                event.account_id = (*other != self.debt)
                    .then(|| debts.get(*other).map(|debt| debt.account.id.to_string()))
                    .flatten();
                if event.outcome.is_none() {
                    event.outcome = self.reported.get(entry.id.as_str()).copied();
                    self.awaiting.insert(entry.id.as_str(), self.events.len());
                }
                self.events.push(event);
            }
            if entry.event.event_type == LedgerEventType::OutcomeReported
                && let (Some(attempt), Some(outcome)) =
                    (entry.event.attempt_id.as_deref(), entry.event.outcome)
            {
                self.reported.insert(attempt, outcome);
                if let Some(event) = self
                    .awaiting
                    .get(attempt)
                    .and_then(|index| self.events.get_mut(*index))
                {
                    event.outcome = Some(outcome);
                }
            }
        }
        self.taken = self.taken.max(prefix.len());
    }
}

/// One contact: the decision of its policy, a violation when it refuses.
fn judge_contact(
    account: &Account,
    contact: &Contact<'_>,
    history: &[crate::domain::Event],
    standing: &Standing,
    judged: &mut Judged,
) -> Option<Violation> {
    let Contact {
        entry,
        policy,
        decided,
    } = *contact;
    let channel = entry.event.channel?;
    judged.contacts += 1;
    judged.decided += u64::from(decided);
    let purpose = entry.event.purpose.unwrap_or(Purpose::Collection);
    let decision = Subject::with_standing(policy, account, history, standing).decide(&Question {
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
        state: account.consumer.state().map(str::to_ascii_uppercase),
        decided,
        policy_digest: policy.digest().to_string(),
        reasons: decision.reasons.into_vec(),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn policy() -> Policy {
        Policy::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap()
    }

    fn account() -> Account {
        serde_json::from_str(
            r#"{"id": "A-1", "consumer": {"address": {"state": "NY", "city": "Albany"},
                "time_zones": ["America/New_York"], "phones": [{"number": "+12125550100", "kind": "mobile"}]}}"#,
        )
        .unwrap()
    }

    fn entry(seq: i64, json: &str) -> LedgerEntry {
        LedgerEntry {
            id: format!("e{seq}"),
            seq,
            event: serde_json::from_str(json).unwrap(),
        }
    }

    fn judge(account: Account, entries: Vec<LedgerEntry>, policy: &Policy) -> Judged {
        let (in_force, decisions) = (HashMap::new(), HashMap::new());
        let policies = Policies {
            in_force: &in_force,
            decisions: &decisions,
            fallback: policy,
            candidate: false,
        };
        judge_consumer(
            &[AccountEntries { account, entries }],
            "2026-04-01T00:00:00Z".parse().unwrap(),
            "2026-05-01T00:00:00Z".parse().unwrap(),
            &policies,
        )
    }

    const DIAL: &str =
        r#"{"at": "2026-04-06T15:00:00Z", "channel": "call", "contact_point": "+12125550100"}"#;
    const NEXT_DAY: &str = r#"{"at": "2026-04-07T15:00:00Z", "channel": "call", "outcome": "no_answer", "contact_point": "+12125550100"}"#;

    #[test]
    fn an_outcome_reported_after_the_contact_was_not_known_to_it() {
        let policy = policy();
        // The first attempt's outcome (no answer) arrived only after the second call:
        // when the second was made, the first counted as a possible conversation.
        let late = judge(
            account(),
            vec![
                entry(1, DIAL),
                entry(2, NEXT_DAY),
                entry(
                    3,
                    r#"{"at": "2026-04-08T15:00:00Z", "type": "outcome_reported", "attempt_id": "e1", "outcome": "no_answer"}"#,
                ),
            ],
            &policy,
        );
        assert_eq!(late.contacts, 2);
        assert_eq!(late.violations.len(), 1);
        assert_eq!(
            late.violations[0].reasons[0].rule,
            "reg-f.after-conversation"
        );
        // Reported before the second call: known, and the second call is lawful.
        let early = judge(
            account(),
            vec![
                entry(1, DIAL),
                entry(
                    2,
                    r#"{"at": "2026-04-06T16:00:00Z", "type": "outcome_reported", "attempt_id": "e1", "outcome": "no_answer"}"#,
                ),
                entry(3, NEXT_DAY),
            ],
            &policy,
        );
        assert!(early.violations.is_empty(), "{:?}", early.violations);
    }

    #[test]
    fn the_grown_history_is_the_history_of_the_prefix_at_every_place() {
        // Two debts of one consumer; outcomes reported late, twice for one attempt, for
        // an attempt of the other debt, and one recorded after a contact it precedes.
        let mut other = account();
        other.id = "A-2".into();
        let debts = [
            AccountEntries {
                account: account(),
                entries: vec![
                    entry(1, DIAL),
                    entry(
                        4,
                        r#"{"at": "2026-04-06T16:00:00Z", "type": "outcome_reported", "attempt_id": "e1", "outcome": "no_answer"}"#,
                    ),
                    entry(5, NEXT_DAY),
                    entry(
                        6,
                        r#"{"at": "2026-04-07T16:00:00Z", "type": "outcome_reported", "attempt_id": "e1", "outcome": "conversation"}"#,
                    ),
                    entry(
                        8,
                        r#"{"at": "2026-04-08T16:00:00Z", "channel": "email", "contact_point": "a@example.com"}"#,
                    ),
                ],
            },
            AccountEntries {
                account: other,
                entries: vec![
                    entry(
                        2,
                        r#"{"at": "2026-04-06T15:30:00Z", "channel": "call", "contact_point": "+12125550100"}"#,
                    ),
                    entry(
                        7,
                        r#"{"at": "2026-04-06T17:00:00Z", "type": "outcome_reported", "attempt_id": "e2", "outcome": "wrong_party"}"#,
                    ),
                    entry(
                        3,
                        r#"{"at": "2026-04-09T15:00:00Z", "channel": "call", "contact_point": "+12125550100"}"#,
                    ),
                ],
            },
        ];
        let mut probes = Vec::new();
        for (debt, entries) in debts.iter().enumerate() {
            for entry in &entries.entries {
                probes.push(Probe {
                    debt,
                    at: entry.event.at,
                    entry: Some(entry.id.as_str()),
                    item: (debt, entry.id.clone()),
                });
            }
            probes.push(Probe {
                debt,
                at: "2026-04-30T00:00:00Z".parse().unwrap(),
                entry: None,
                item: (debt, "end".into()),
            });
        }
        let mut merged: Vec<(usize, &LedgerEntry)> = debts
            .iter()
            .enumerate()
            .flat_map(|(index, debt)| debt.entries.iter().map(move |entry| (index, entry)))
            .collect();
        merged.sort_by_key(|(_, entry)| (entry.event.at, entry.seq));
        let mut seen = 0;
        walk_consumer(&debts, probes, |(debt, id), _, history| {
            let view = view_of(&debts, &merged, debt);
            let place = view.iter().position(|e| e.id == id).unwrap_or(view.len());
            let seq = merged.get(place).map(|(_, e)| e.seq);
            let known: Vec<StoredEntry> = view[..place]
                .iter()
                .zip(merged.iter())
                .filter(|(_, (_, e))| {
                    e.event.event_type != LedgerEventType::OutcomeReported
                        || seq.is_none_or(|seq| e.seq < seq)
                })
                .map(|(stored, _)| stored.clone())
                .collect();
            assert_eq!(history, history_of(&known), "{id} of debt {debt}");
            seen += 1;
        });
        assert_eq!(seen, 10);
    }

    #[test]
    fn a_flag_is_wound_back_to_what_the_ledger_says_at_the_instant() {
        let policy = policy();
        let mut stored = account();
        // Stored now: the dispute was cleared, cease-and-desist set by a PUT (not the ledger).
        stored.flags.disputed = false;
        let judged = judge(
            stored.clone(),
            vec![
                entry(
                    1,
                    r#"{"at": "2026-04-02T12:00:00Z", "type": "flag_set", "flag": "disputed"}"#,
                ),
                entry(
                    2,
                    r#"{"at": "2026-04-03T15:00:00Z", "channel": "call", "outcome": "no_answer"}"#,
                ),
                entry(
                    3,
                    r#"{"at": "2026-04-04T12:00:00Z", "type": "flag_cleared", "flag": "disputed"}"#,
                ),
                entry(
                    4,
                    r#"{"at": "2026-04-05T15:00:00Z", "channel": "call", "outcome": "no_answer"}"#,
                ),
            ],
            &policy,
        );
        assert_eq!(judged.violations.len(), 1, "{:?}", judged.violations);
        assert_eq!(judged.violations[0].event_id, "e2");
        assert_eq!(
            judged.violations[0].reasons[0].rule,
            "reg-f.dispute-pending"
        );
        // A flag the ledger never touched is taken as stored.
        stored.flags.cease_and_desist = true;
        let judged = judge(
            stored,
            vec![entry(
                1,
                r#"{"at": "2026-04-03T15:00:00Z", "channel": "call", "outcome": "no_answer"}"#,
            )],
            &policy,
        );
        assert_eq!(
            judged.violations[0].reasons[0].rule,
            "reg-f.cease-communication"
        );
    }
}

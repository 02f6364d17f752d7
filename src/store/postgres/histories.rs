//! The PostgreSQL writers' kept histories: each debtor's history rows as a batch read
//! them, plus what the batch itself recorded, kept after its commit so that the next
//! attempt on the debtor reads nothing (the read and its rows were most of an attempt's
//! cost: BENCHMARKS.md, issue 15).
//!
//! Why a kept history cannot make an answer different: every account carries the
//! version of its history, `history_xid` — the transaction that last changed its events
//! or its notices — set by triggers in that transaction, whoever wrote (migration 0017).
//! A history is kept with the version of each of its debtor's accounts as of the batch
//! that kept it (the batch's own transaction id for the accounts it wrote), and is used
//! only when a later batch, holding the accounts' locks, finds the debtor made of exactly
//! those accounts at exactly those versions: a change by anyone since — another daemon,
//! the outbox, an import, an administrator's SQL — has moved a version, and a change
//! still in flight holds an account's lock, for which the batch waited. A batch takes
//! the histories it uses out of the store and puts them back only after its `COMMIT`
//! succeeded, so a failed batch (whose writes may or may not have been kept, or none)
//! leaves nothing behind; and a batch that cannot tell exactly what it wrote (a notice
//! whose idempotency key was already queued is not inserted) keeps nothing for that
//! debtor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::domain::LedgerEvent;
use crate::store::{HistoryRow, ParsedRow, StoreError, forget_past_bound, from_json};

/// A row of a consumer's history, parsed once, with the instant it is ordered by.
pub(super) struct Dated {
    pub at: DateTime<Utc>,
    pub id: String,
    pub account_id: String,
    pub event: Parsed,
}

/// A history row's event, or the body that could not be parsed (kept, so that every
/// attempt that reads the row meets the same error).
pub(super) enum Parsed {
    Event(LedgerEvent),
    Unreadable(String),
}

impl Dated {
    /// The row read (or written) with its body parsed.
    pub fn parse(at: DateTime<Utc>, row: HistoryRow) -> Dated {
        let event = match from_json::<LedgerEvent>("event", &row.body) {
            Ok(event) => Parsed::Event(event),
            Err(_) => Parsed::Unreadable(row.body),
        };
        Dated {
            at,
            id: row.id,
            account_id: row.account_id,
            event,
        }
    }

    /// The row for the judge; `None` for an unreadable one ([`Dated::error`]).
    pub fn parsed(&self) -> Option<ParsedRow<'_>> {
        match &self.event {
            Parsed::Event(event) => Some(ParsedRow {
                id: &self.id,
                account_id: &self.account_id,
                event,
            }),
            Parsed::Unreadable(_) => None,
        }
    }

    /// The error of parsing an unreadable row's body, as parsing it afresh gives.
    pub fn error(&self) -> Option<StoreError> {
        match &self.event {
            Parsed::Event(_) => None,
            Parsed::Unreadable(body) => from_json::<LedgerEvent>("event", body).err(),
        }
    }
}

/// A consumer's stored history: its events since an instant, and the places of its
/// pending notices, each list in the order the ledger's read returns them (the batch's
/// own rows after the rows read).
#[derive(Default)]
pub(super) struct DebtorHistory {
    pub events: Vec<Dated>,
    pub pending: Vec<Dated>,
}

impl DebtorHistory {
    fn rows(&self) -> usize {
        self.events.len() + self.pending.len()
    }
}

/// Each account of a debtor with the version of its history (`None`: never written), in
/// account id order.
pub(super) type Versions = Vec<(String, Option<String>)>;

/// A debtor's history as of its accounts' `versions`, complete from `since` on.
struct Kept {
    versions: Versions,
    since: DateTime<Utc>,
    history: DebtorHistory,
}

/// The histories the writers keep, shared by them (a debtor is in one batch at a time:
/// the accounts' locks see to that), within a bound on the rows held.
pub(super) struct Histories {
    max_rows: usize,
    debtors: HashMap<String, Kept>,
    rows: usize,
}

pub(super) type SharedHistories = Arc<Mutex<Histories>>;

impl std::fmt::Debug for Histories {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histories")
            .field("max_rows", &self.max_rows)
            .field("debtors", &self.debtors.len())
            .field("rows", &self.rows)
            .finish()
    }
}

impl Histories {
    /// An empty store of histories that keeps at most `max_rows` rows (0: none).
    pub fn shared(max_rows: usize) -> SharedHistories {
        Arc::new(Mutex::new(Histories {
            max_rows,
            debtors: HashMap::new(),
            rows: 0,
        }))
    }

    /// The store, emptied if a writer panicked while holding it (what it held may be
    /// half updated).
    pub fn lock(shared: &SharedHistories) -> MutexGuard<'_, Histories> {
        shared.lock().unwrap_or_else(|poisoned| {
            let mut histories = poisoned.into_inner();
            histories.debtors.clear();
            histories.rows = 0;
            shared.clear_poison();
            histories
        })
    }

    /// Takes the debtor's kept history out when it is still the ledger's: kept at exactly
    /// `versions` and complete from `since` on. Whatever was kept for the debtor is gone
    /// afterwards either way (a history at other versions is of no further use).
    pub fn take(
        &mut self,
        debtor: &str,
        versions: &Versions,
        since: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DebtorHistory)> {
        let kept = self.debtors.remove(debtor)?;
        self.rows = self.rows.saturating_sub(kept.history.rows());
        (kept.versions == *versions && kept.since <= since).then_some((kept.since, kept.history))
    }

    /// Keeps the debtor's history, as of `versions` and complete from `since` on, then
    /// keeps within the bound ([`forget_past_bound`], as the SQLite writer does).
    pub fn keep(
        &mut self,
        debtor: String,
        versions: Versions,
        since: DateTime<Utc>,
        history: DebtorHistory,
    ) {
        self.rows += history.rows();
        let kept = Kept {
            versions,
            since,
            history,
        };
        if let Some(replaced) = self.debtors.insert(debtor, kept) {
            self.rows = self.rows.saturating_sub(replaced.history.rows());
        }
        self.rows = forget_past_bound(&mut self.debtors, self.rows, self.max_rows, |kept| {
            kept.history.rows()
        });
    }

    /// The history rows held.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn history(events: usize) -> DebtorHistory {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        DebtorHistory {
            events: (0..events)
                .map(|i| {
                    Dated::parse(
                        at,
                        HistoryRow {
                            id: format!("e{i}"),
                            account_id: "A".into(),
                            body: "{}".into(),
                        },
                    )
                })
                .collect(),
            pending: Vec::new(),
        }
    }

    fn versions(version: &str) -> Versions {
        vec![("A".into(), Some(version.into())), ("B".into(), None)]
    }

    #[test]
    fn a_kept_history_is_used_only_at_the_same_versions_and_from_an_instant_it_covers() {
        let shared = Histories::shared(100);
        let mut histories = Histories::lock(&shared);
        let since = DateTime::<Utc>::UNIX_EPOCH;
        let later = since + chrono::TimeDelta::days(1);
        histories.keep("d".into(), versions("7"), later, history(3));
        assert_eq!(histories.rows(), 3);
        // Another version of one account: not used, and gone.
        assert!(histories.take("d", &versions("8"), later).is_none());
        assert_eq!(histories.rows(), 0);
        assert!(histories.take("d", &versions("7"), later).is_none());
        // An account more (or fewer) than kept: not used.
        histories.keep("d".into(), versions("7"), later, history(3));
        let mut more = versions("7");
        more.push(("C".into(), None));
        assert!(histories.take("d", &more, later).is_none());
        // Asked from before what it covers: not used.
        histories.keep("d".into(), versions("7"), later, history(3));
        assert!(histories.take("d", &versions("7"), since).is_none());
        // The same versions, from an instant it covers: used once.
        histories.keep("d".into(), versions("7"), since, history(3));
        let (kept_since, taken) = histories.take("d", &versions("7"), later).unwrap();
        assert_eq!((kept_since, taken.events.len()), (since, 3));
        assert!(histories.take("d", &versions("7"), later).is_none());
    }

    #[test]
    fn past_the_bound_debtors_are_forgotten_until_a_quarter_is_free() {
        let shared = Histories::shared(10);
        let mut histories = Histories::lock(&shared);
        let since = DateTime::<Utc>::UNIX_EPOCH;
        for debtor in 0..5 {
            histories.keep(format!("d{debtor}"), versions("1"), since, history(2));
        }
        assert_eq!(histories.rows(), 10);
        histories.keep("d5".into(), versions("1"), since, history(2));
        assert!(histories.rows() <= 8, "{}", histories.rows());
        assert_eq!(histories.rows(), 2 * histories.debtors.len());
        // Replacing a debtor counts its rows once.
        let before = histories.rows();
        let (debtor, _) = histories.debtors.iter().next().unwrap();
        let debtor = debtor.clone();
        histories.keep(debtor, versions("2"), since, history(2));
        assert_eq!(histories.rows(), before);
        // A bound of 0 keeps nothing.
        let none = Histories::shared(0);
        let mut none = Histories::lock(&none);
        none.keep("d".into(), versions("1"), since, history(2));
        assert_eq!(none.rows(), 0);
        assert!(none.take("d", &versions("1"), since).is_none());
    }
}

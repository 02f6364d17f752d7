//! The writer's decoded histories: each debtor's account and history rows, read once
//! and parsed once, then kept up to date by the writer's own inserts, so that an
//! attempt on a debtor seen before reads and parses nothing.
//!
//! Why it cannot make an answer different: the cache holds, for a debtor, exactly the
//! rows [`ACCOUNT_AND_HISTORY`] returned when it was loaded, plus the events and notices
//! the writer inserted for that debtor since, each put where that read orders it (the
//! read has a defined order: part, debt, instant, ledger position). The writer's
//! connection changes nothing else that read returns (it never updates an account, an
//! event or a notice's status). Every other change comes through another connection —
//! the pool's imports, redactions, account updates, notices sent or cancelled, another
//! process — and any commit by another connection changes `PRAGMA data_version`, which
//! the writer reads inside each group's `BEGIN IMMEDIATE` (no one else can commit while
//! the group holds the lock): when it moved, or a group failed and rolled back, the
//! whole cache is dropped and the next attempts read the file afresh.
//!
//! The accounts' chain heads are kept the same way: each as the writer last read it or
//! wrote it back in a committed group (a head moves only by the writer's own commits or
//! another connection's, which the version check sees).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{ACCOUNT_AND_HISTORY, parse_instant};
use crate::domain::chain::Head;
use crate::domain::{Account, LedgerEvent};
use crate::store::{
    EventRow, NoticeRow, ParsedRow, StoreError, forget_past_bound, from_json, instant_text,
    pending_notice_row, stored_account,
};

fn db(error: rusqlite::Error) -> StoreError {
    StoreError::CommitFailed(error.to_string())
}

fn from_sql(error: rusqlite::types::FromSqlError) -> StoreError {
    StoreError::CommitFailed(error.to_string())
}

/// Debtors' accounts and histories as the writer last knew them (see the module's doc).
pub(super) struct Histories {
    /// The most history rows kept ([`HISTORY_CACHE_ROWS`] unless configured).
    max_rows: usize,
    /// `PRAGMA data_version` when the cache was last checked against the file.
    version: Option<i64>,
    accounts: HashMap<String, Known>,
    debtors: HashMap<String, History>,
    /// Rows held across every debtor (the cache's bound).
    rows: usize,
    /// Chain heads by account (`None`: the account has no chain yet).
    heads: HashMap<String, Option<Head>>,
}

/// An account already parsed, with its debtor's key (`consumer:ID` or `account:ID`).
struct Known {
    account: Account,
    debtor: String,
}

/// A debtor's rows: every event of its debts at or after `since`, and the places of
/// their pending notices, each list in the read's order.
struct History {
    since: String,
    events: Vec<Row>,
    places: Vec<Row>,
}

impl History {
    /// How many rows it holds (what the cache's bound counts).
    fn rows(&self) -> usize {
        self.events.len() + self.places.len()
    }
}

/// A history row with the key the read orders it by: its debt, its instant as stored
/// (the event's `at`, the notice's `due_at`) and its ledger position.
struct Row {
    account_id: String,
    at: String,
    seq: i64,
    id: String,
    event: LedgerEvent,
}

impl Row {
    fn key(&self) -> (&str, &str, i64) {
        (&self.account_id, &self.at, self.seq)
    }
}

/// What the cache answers for an attempt's account.
pub(super) enum Lookup<'h> {
    /// No such account.
    Missing,
    /// The stored account or one of its history rows cannot be parsed: the attempt's
    /// error (nothing is kept, so every attempt on the debtor meets it).
    Unreadable(StoreError),
    Found(Read<'h>),
}

/// An account and its debtor's history since an instant, as the read would return it.
pub(super) struct Read<'h> {
    pub account: &'h Account,
    pub debtor: &'h str,
    history: &'h History,
    since: String,
}

impl<'h> Read<'h> {
    /// The history rows in the read's order: the events since the instant asked for,
    /// then the pending notices' places.
    pub fn rows(&self) -> impl Iterator<Item = ParsedRow<'h>> + '_ {
        self.history
            .events
            .iter()
            .filter(|row| row.at.as_str() >= self.since.as_str())
            .chain(&self.history.places)
            .map(|row| ParsedRow {
                id: &row.id,
                account_id: &row.account_id,
                event: &row.event,
            })
    }
}

/// The most history rows the writer keeps unless configured
/// (`[database] history_cache_rows`): at most ≈ 250 bytes each (the daemon's resident
/// memory, its mapped ledger file included, was 54 MB larger holding 221,000 than
/// holding none under `benches/http/attempts.sh`), so ≈ 100 MB at most.
pub(crate) const HISTORY_CACHE_ROWS: usize = 400_000;

impl Histories {
    /// The most chain heads kept (one short row each to read again).
    const MAX_HEADS: usize = 400_000;

    /// An empty cache that keeps at most `max_rows` history rows (0: none past the
    /// group that read them).
    pub fn bounded(max_rows: usize) -> Histories {
        Histories {
            max_rows,
            version: None,
            accounts: HashMap::new(),
            debtors: HashMap::new(),
            rows: 0,
            heads: HashMap::new(),
        }
    }

    /// Called inside each group's transaction, before its first read: drops everything
    /// when another connection has committed since the last check. (The bound is kept
    /// after each group, [`Histories::trim`]: nothing is added between the two.)
    pub fn check(&mut self, connection: &Connection) -> Result<(), StoreError> {
        let version: i64 = connection
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .map_err(db)?;
        if self.version != Some(version) {
            self.clear();
        }
        self.version = Some(version);
        Ok(())
    }

    /// Keeps the cache within its bounds: after each group, which may read past them.
    pub fn trim(&mut self) {
        self.bound(self.max_rows, Self::MAX_HEADS);
    }

    /// The history rows held.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Past `max_rows`, forgets debtors ([`forget_past_bound`]) and their accounts. Past
    /// `max_heads`, forgets the heads.
    fn bound(&mut self, max_rows: usize, max_heads: usize) {
        if self.rows > max_rows {
            self.rows = forget_past_bound(&mut self.debtors, self.rows, max_rows, History::rows);
            let debtors = &self.debtors;
            self.accounts
                .retain(|_, known| debtors.contains_key(&known.debtor));
        }
        if self.heads.len() > max_heads {
            self.heads.clear();
        }
    }

    /// Forgets everything (a group rolled back: what it added was never committed).
    pub fn clear(&mut self) {
        self.accounts.clear();
        self.debtors.clear();
        self.rows = 0;
        self.heads.clear();
    }

    /// The chain head of `account_id` as last read or committed, if kept.
    pub fn head(&self, account_id: &str) -> Option<&Option<Head>> {
        self.heads.get(account_id)
    }

    /// Keeps the head of `account_id` as read in this group's transaction, or as this
    /// group wrote it back (called only once the group has committed: a group that
    /// fails clears everything).
    pub fn keep_head(&mut self, account_id: &str, head: Option<Head>) {
        self.heads.insert(account_id.to_string(), head);
    }

    /// The account and its debtor's history from `since` on, read from the file unless
    /// the cache already holds them from that instant or an earlier one.
    pub fn read(
        &mut self,
        connection: &Connection,
        account_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Lookup<'_>, StoreError> {
        let since = instant_text(since);
        let held = self
            .accounts
            .get(account_id)
            .and_then(|known| self.debtors.get(&known.debtor))
            .is_some_and(|history| history.since <= since);
        if !held {
            match self.load(connection, account_id, &since)? {
                Loaded::Kept => {}
                Loaded::Missing => return Ok(Lookup::Missing),
                Loaded::Unreadable(error) => return Ok(Lookup::Unreadable(error)),
            }
        }
        let (Some(known), Some(history)) = (
            self.accounts.get(account_id),
            self.accounts
                .get(account_id)
                .and_then(|known| self.debtors.get(&known.debtor)),
        ) else {
            return Err(StoreError::Corrupt {
                what: "writer's history cache",
                reason: format!("`{account_id}` vanished after it was loaded"),
            });
        };
        Ok(Lookup::Found(Read {
            account: &known.account,
            debtor: &known.debtor,
            history,
            since,
        }))
    }

    /// Reads the account and its debtor's history from the file and keeps them.
    fn load(
        &mut self,
        connection: &Connection,
        account_id: &str,
        since: &str,
    ) -> Result<Loaded, StoreError> {
        let mut statement = connection.prepare_cached(ACCOUNT_AND_HISTORY).map_err(db)?;
        let mut rows = statement.query(params![account_id, since]).map_err(db)?;
        let mut account = None;
        let mut events = Vec::new();
        let mut places = Vec::new();
        let mut unreadable = None;
        while let Some(row) = rows.next().map_err(db)? {
            let part: i64 = row.get(0).map_err(db)?;
            let text = |index| -> Result<&str, StoreError> {
                row.get_ref(index).map_err(db)?.as_str().map_err(from_sql)
            };
            if part == 0 {
                account = Some((text(4)?.to_string(), text(3)?.to_string()));
                continue;
            }
            let key_at = text(5)?.to_string();
            let seq: i64 = row.get(6).map_err(db)?;
            let (id, of, body) = if part == 2 {
                let Some(place) =
                    pending_notice_row(text(1)?, text(2)?, parse_instant(text(3)?)?, text(4)?)?
                else {
                    continue;
                };
                (place.id, place.account_id, place.body)
            } else {
                (
                    text(1)?.to_string(),
                    text(2)?.to_string(),
                    text(4)?.to_string(),
                )
            };
            match from_json::<LedgerEvent>("event", &body) {
                Ok(event) => {
                    let row = Row {
                        account_id: of,
                        at: key_at,
                        seq,
                        id,
                        event,
                    };
                    if part == 2 {
                        places.push(row);
                    } else {
                        events.push(row);
                    }
                }
                Err(error) => {
                    unreadable.get_or_insert(error);
                }
            }
        }
        let Some((body, debtor)) = account else {
            return Ok(Loaded::Missing);
        };
        // The account is parsed before its history, as the PostgreSQL writer does: its error
        // is the one the attempt meets first.
        let account = match stored_account(account_id, &body) {
            Ok(account) => account,
            Err(error) => return Ok(Loaded::Unreadable(error)),
        };
        if let Some(error) = unreadable {
            return Ok(Loaded::Unreadable(error));
        }
        let held = events.len() + places.len();
        if let Some(old) = self.debtors.insert(
            debtor.clone(),
            History {
                since: since.to_string(),
                events,
                places,
            },
        ) {
            self.rows = self.rows.saturating_sub(old.rows());
        }
        self.rows += held;
        self.accounts
            .insert(account_id.to_string(), Known { account, debtor });
        Ok(Loaded::Kept)
    }

    /// The writer's own event, just inserted at ledger position `seq` for a debt of
    /// `debtor`: kept where the read would return it. It is parsed from the text
    /// written, as a read would parse it.
    pub fn recorded_event(&mut self, debtor: &str, row: &EventRow, seq: i64) {
        let Some(history) = self.debtors.get_mut(debtor) else {
            return;
        };
        match from_json::<LedgerEvent>("event", &row.body) {
            Ok(event) => {
                let row = Row {
                    account_id: row.account_id.clone(),
                    at: instant_text(row.at),
                    seq,
                    id: row.id.clone(),
                    event,
                };
                place(&mut history.events, row);
                self.rows += 1;
            }
            // What the writer wrote and cannot read back is left to the next read.
            Err(_) => self.forget(debtor),
        }
    }

    /// The writer's own notice, just inserted at position `seq` for a debt of `debtor`:
    /// its place kept where the read would return it (built as the read builds it).
    pub fn recorded_notice(&mut self, debtor: &str, notice: &NoticeRow, seq: i64) {
        if !self.debtors.contains_key(debtor) {
            return;
        }
        let due_at = instant_text(notice.due_at);
        let built = parse_instant(&due_at).and_then(|due| {
            pending_notice_row(&notice.id, &notice.account_id, due, &notice.request)
        });
        let row = match built {
            Ok(Some(place)) => match from_json::<LedgerEvent>("event", &place.body) {
                Ok(event) => Row {
                    account_id: place.account_id,
                    at: due_at,
                    seq,
                    id: place.id,
                    event,
                },
                Err(_) => return self.forget(debtor),
            },
            // A notice that reaches no consumer holds no place.
            Ok(None) => return,
            Err(_) => return self.forget(debtor),
        };
        if let Some(history) = self.debtors.get_mut(debtor) {
            place(&mut history.places, row);
            self.rows += 1;
        }
    }

    fn forget(&mut self, debtor: &str) {
        if let Some(old) = self.debtors.remove(debtor) {
            self.rows = self.rows.saturating_sub(old.rows());
        }
    }
}

/// What [`Histories::load`] found.
enum Loaded {
    Kept,
    Missing,
    Unreadable(StoreError),
}

/// Inserts `row` after every row the read orders before it.
fn place(rows: &mut Vec<Row>, row: Row) {
    let at = rows.partition_point(|kept| kept.key() <= row.key());
    rows.insert(at, row);
}

#[cfg(test)]
mod tests {
    use super::{Histories, History, Known, Row};
    use crate::domain::{Account, LedgerEvent};

    /// A cache of `debtors` debtors with `rows` rows and two accounts each.
    fn filled(debtors: usize, rows: usize) -> Histories {
        let mut histories = Histories::bounded(super::HISTORY_CACHE_ROWS);
        let event: LedgerEvent = serde_json::from_str(
            r#"{"at": "2026-04-07T15:00:00Z", "type": "contact", "channel": "letter"}"#,
        )
        .unwrap();
        for debtor in 0..debtors {
            let key = format!("consumer:{debtor}");
            let events = (0..rows)
                .map(|seq| Row {
                    account_id: format!("A-{debtor}"),
                    at: "2026-04-07T15:00:00.000000000Z".to_string(),
                    seq: i64::try_from(seq).unwrap(),
                    id: format!("E-{debtor}-{seq}"),
                    event: event.clone(),
                })
                .collect();
            histories.debtors.insert(
                key.clone(),
                History {
                    since: String::new(),
                    events,
                    places: Vec::new(),
                },
            );
            histories.rows += rows;
            for account in [format!("A-{debtor}"), format!("B-{debtor}")] {
                let parsed: Account =
                    serde_json::from_str(&format!(r#"{{"id": "{account}", "consumer": {{}}}}"#))
                        .unwrap();
                histories.accounts.insert(
                    account,
                    Known {
                        account: parsed,
                        debtor: key.clone(),
                    },
                );
            }
            histories.heads.insert(format!("A-{debtor}"), None);
        }
        histories
    }

    /// `[database] history_cache_rows`: the bound the writer was started with holds
    /// after each group (down to three quarters of it, in whole debtors; 0 keeps none),
    /// and the next group's check, with nobody else committing, keeps what is left.
    #[test]
    fn the_configured_bound_holds_after_each_group() {
        let connection = rusqlite::Connection::open_in_memory().unwrap();
        let version: i64 = connection
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .unwrap();
        for (max_rows, kept) in [(500, 370..=375), (0, 0..=0), (1_000, 1_000..=1_000)] {
            let mut histories = filled(100, 10);
            histories.max_rows = max_rows;
            histories.version = Some(version);
            histories.trim();
            histories.check(&connection).unwrap();
            assert!(
                kept.contains(&histories.rows),
                "{max_rows}: {} kept",
                histories.rows
            );
            assert_eq!(histories.accounts.len(), 2 * histories.debtors.len());
        }
    }

    #[test]
    fn within_its_bound_the_cache_keeps_everything() {
        let mut histories = filled(100, 10);
        histories.bound(1_000, 100);
        assert_eq!(histories.rows, 1_000);
        assert_eq!(histories.debtors.len(), 100);
        assert_eq!(histories.accounts.len(), 200);
        assert_eq!(histories.heads.len(), 100);
    }

    #[test]
    fn past_its_bound_the_cache_forgets_some_debtors_not_all() {
        let mut histories = filled(100, 10);
        histories.bound(999, 1_000);
        // Down to three quarters of the bound, in whole debtors.
        assert!(histories.rows <= 750, "{} rows kept", histories.rows);
        assert!(histories.rows >= 740, "{} rows kept", histories.rows);
        let counted: usize = histories.debtors.values().map(History::rows).sum();
        assert_eq!(histories.rows, counted);
        // Every account kept has its debtor's history; none of a forgotten debtor stays.
        assert_eq!(histories.accounts.len(), 2 * histories.debtors.len());
        assert!(
            histories
                .accounts
                .values()
                .all(|known| histories.debtors.contains_key(&known.debtor))
        );
        // The heads are bounded apart.
        assert_eq!(histories.heads.len(), 100);
        histories.bound(999, 99);
        assert!(histories.heads.is_empty());
        assert_eq!(histories.debtors.len() * 10, histories.rows);
    }
}

//! What the reports read from the ledger: every account, the events and the logged
//! decisions of a period, and the histories of chosen accounts.
//!
//! The store only reads: rows are handed one by one, borrowed from the database, to
//! folds the caller supplies — one fold per partition of the table, the partitions read
//! in parallel — and the folds come back to be merged. What a row means is the pure
//! report core's business (`crate::report`); nothing here parses a body.
//!
//! On SQLite the rows are read with rusqlite on blocking threads, each partition on its
//! own connection: sqlx's SQLite driver hands every row across a thread through a
//! channel, with a copy of each value, which costs about 4.5 µs a row (45 s for ten
//! million events); rusqlite reads rows in place for about 0.2 µs. On PostgreSQL the
//! partitions are sqlx streams, one per connection.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

/// One account as a report reads it.
#[derive(Debug, Clone, Copy)]
pub struct AccountScan<'a> {
    /// The account's id.
    pub id: &'a str,
    /// The consumer the account belongs to, when it names one.
    pub consumer_id: Option<&'a str>,
    /// The stored account (JSON).
    pub body: &'a str,
}

/// One ledger event as a report reads it.
#[derive(Debug, Clone, Copy)]
pub struct EventScan<'a> {
    /// The account it is about.
    pub account_id: &'a str,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The stored [`crate::domain::LedgerEvent`] (JSON).
    pub body: &'a str,
}

/// An attempt whose outcome never arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreportedAttempt {
    /// The attempt's ledger event id.
    pub attempt_id: String,
    /// The account.
    pub account_id: String,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The stored [`crate::domain::LedgerEvent`] (JSON).
    pub body: String,
}

/// One logged decision as a report reads it.
#[derive(Debug, Clone, Copy)]
pub struct DecisionScan<'a> {
    /// `allow`, `defer` or `stop`.
    pub outcome: &'a str,
    /// The stored [`crate::engine::Decision`] (JSON); absent for allowed decisions,
    /// which the reports only count.
    pub decision: Option<&'a str>,
}

/// The accounts whose history a report wants, with the debts to read for each: the
/// account itself and the consumer's other accounts (their contacts count for caps
/// `per = "consumer"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryWanted {
    /// The account.
    pub account_id: String,
    /// The accounts whose events make its history (the account first).
    pub debts: Vec<String>,
}

/// A row a fold could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// What was being read (`event`, `account`, `decision`).
    pub what: &'static str,
    /// Why it failed.
    pub reason: String,
}

impl From<Unreadable> for StoreError {
    fn from(error: Unreadable) -> StoreError {
        StoreError::Corrupt {
            what: error.what,
            reason: error.reason,
        }
    }
}

/// Takes the accounts of one partition.
pub trait AccountFold: Send + 'static {
    /// Takes one account.
    fn account(&mut self, row: AccountScan<'_>) -> Result<(), Unreadable>;
}

/// Takes the events of one partition, in no particular order.
pub trait EventFold: Send + 'static {
    /// Takes one event.
    fn event(&mut self, row: EventScan<'_>) -> Result<(), Unreadable>;

    /// Called once after the partition's last event, on the partition's own thread:
    /// the place for work that is cheaper once than per event (sorting).
    fn finish(&mut self) {}
}

/// Takes the logged decisions of one partition.
pub trait DecisionFold: Send + 'static {
    /// Takes one decision.
    fn decision(&mut self, row: DecisionScan<'_>) -> Result<(), Unreadable>;
}

/// Takes accounts with their histories.
pub trait HistoryFold: Send + 'static {
    /// Takes one wanted account and the events of its debts, oldest first; `None` when
    /// the account no longer exists.
    fn history(
        &mut self,
        wanted: &HistoryWanted,
        account: Option<AccountScan<'_>>,
        events: &[EventScan<'_>],
    ) -> Result<(), Unreadable>;
}

/// How many partitions to read in parallel: one per core.
pub fn partitions() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Splits `[min, max]` into `parts` half-open ranges `[start, end)` covering it.
pub(crate) fn seq_ranges(min: i64, max: i64, parts: usize) -> Vec<(i64, i64)> {
    let parts = i64::try_from(parts.max(1)).unwrap_or(1);
    let span = max.saturating_sub(min).saturating_add(1).max(0);
    (0..parts)
        .map(|part| {
            let start = min.saturating_add(span.saturating_mul(part) / parts);
            let end = min.saturating_add(span.saturating_mul(part + 1) / parts);
            (start, end)
        })
        .collect()
}

impl Store {
    /// Hands every account (of `clients`, when given) to the folds, one partition each.
    pub async fn fold_accounts<F: AccountFold>(
        &self,
        folds: Vec<F>,
        clients: Option<&[String]>,
    ) -> Result<Vec<F>, StoreError> {
        match self {
            Store::Sqlite(store) => store.fold_accounts(folds, clients).await,
            Store::Postgres(store) => store.fold_accounts(folds, clients).await,
        }
    }

    /// Hands every event with `since <= at < until` (about accounts of `clients`, when
    /// given) to the folds, one partition each.
    pub async fn fold_events<F: EventFold>(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        folds: Vec<F>,
        clients: Option<&[String]>,
    ) -> Result<Vec<F>, StoreError> {
        match self {
            Store::Sqlite(store) => store.fold_events(since, until, folds, clients).await,
            Store::Postgres(store) => store.fold_events(since, until, folds, clients).await,
        }
    }

    /// The attempts recorded through check-and-record (each linked to the decision that
    /// allowed it) with `since <= at < until`, recorded without an outcome and with none
    /// reported since, oldest first, at most `limit`: the calls the caps count the strict
    /// way for good once the grace has passed. Also how many there are in all.
    pub async fn unreported_attempts(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        clients: Option<&[String]>,
    ) -> Result<(Vec<UnreportedAttempt>, u64), StoreError> {
        match self {
            Store::Sqlite(store) => {
                store
                    .unreported_attempts(since, until, limit, clients)
                    .await
            }
            Store::Postgres(store) => {
                store
                    .unreported_attempts(since, until, limit, clients)
                    .await
            }
        }
    }

    /// Hands every decision logged with `since <= decided_at < until` (about accounts of
    /// `clients`, when given) to the folds, one partition each.
    pub async fn fold_decisions<F: DecisionFold>(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        folds: Vec<F>,
        clients: Option<&[String]>,
    ) -> Result<Vec<F>, StoreError> {
        match self {
            Store::Sqlite(store) => store.fold_decisions(since, until, folds, clients).await,
            Store::Postgres(store) => store.fold_decisions(since, until, folds, clients).await,
        }
    }

    /// Hands each wanted account with the events of its debts (`since <= at < until`)
    /// to its part's fold; the parts are read in parallel.
    pub async fn fold_histories<F: HistoryFold>(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        parts: Vec<(F, Vec<HistoryWanted>)>,
    ) -> Result<Vec<F>, StoreError> {
        match self {
            Store::Sqlite(store) => store.fold_histories(since, until, parts).await,
            Store::Postgres(store) => store.fold_histories(since, until, parts).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::seq_ranges;

    #[test]
    fn ranges_cover_every_position_once() {
        let ranges = seq_ranges(1, 10, 3);
        assert_eq!(ranges, vec![(1, 4), (4, 7), (7, 11)]);
        let covered: Vec<i64> = ranges.iter().flat_map(|(a, b)| *a..*b).collect();
        assert_eq!(covered, (1..=10).collect::<Vec<_>>());
        // An empty table (no min, no max) gives every fold an empty range.
        assert_eq!(seq_ranges(0, -1, 2), vec![(0, 0), (0, 0)]);
    }
}

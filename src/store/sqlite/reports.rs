//! The reports' reads of the embedded ledger (see [`crate::store::reports`]): rusqlite
//! on blocking threads, one connection per partition, rows read in place. Each partition
//! is one `SELECT`, so it reads one snapshot of the ledger; a report taken while the
//! daemon writes may see a few more events in one partition than another.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rusqlite::{Connection, OpenFlags, Row, params};

use super::{SqliteStore, clients_json};
use crate::store::reports::{
    AccountFold, AccountScan, DecisionFold, DecisionScan, EventFold, EventScan, HistoryFold,
    HistoryWanted, Unreadable, seq_ranges,
};
use crate::store::{StoreError, instant_text};

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        StoreError::ReportRead(error.to_string())
    }
}

impl From<rusqlite::types::FromSqlError> for StoreError {
    fn from(error: rusqlite::types::FromSqlError) -> StoreError {
        StoreError::ReportRead(error.to_string())
    }
}

impl SqliteStore {
    /// The database file, for the report readers' own connections.
    fn report_path(&self) -> PathBuf {
        self.pool.connect_options().get_filename().to_path_buf()
    }

    pub(in crate::store) async fn fold_accounts<F: AccountFold>(
        &self,
        folds: Vec<F>,
        clients: Option<&[String]>,
    ) -> Result<Vec<F>, StoreError> {
        let path = self.report_path();
        let clients = clients_json(clients)?;
        let ranges = bounds(
            &path,
            "SELECT min(rowid), max(rowid) FROM accounts",
            folds.len(),
        )
        .await?;
        let parts = folds
            .into_iter()
            .zip(ranges)
            .map(|(mut fold, (start, end))| {
                let (path, clients) = (path.clone(), clients.clone());
                move || {
                    let connection = open_reader(&path)?;
                    let mut statement = connection.prepare(
                    "SELECT id, consumer_id, body FROM accounts WHERE rowid >= ?1 AND rowid < ?2
                        AND (?3 IS NULL OR client IN (SELECT value FROM json_each(?3)))",
                )?;
                    let mut rows = statement.query(params![start, end, clients])?;
                    while let Some(row) = rows.next()? {
                        fold.account(account_scan(row)?)?;
                    }
                    Ok(fold)
                }
            });
        run_parts(parts).await
    }

    pub(in crate::store) async fn fold_events<F: EventFold>(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        folds: Vec<F>,
        clients: Option<&[String]>,
    ) -> Result<Vec<F>, StoreError> {
        let path = self.report_path();
        let clients = clients_json(clients)?;
        let ranges = bounds(&path, "SELECT min(seq), max(seq) FROM events", folds.len()).await?;
        let (since, until) = (instant_text(since), instant_text(until));
        let parts = folds
            .into_iter()
            .zip(ranges)
            .map(|(mut fold, (start, end))| {
                let (path, since, until) = (path.clone(), since.clone(), until.clone());
                let clients = clients.clone();
                move || {
                    let connection = open_reader(&path)?;
                    let mut statement = connection.prepare(&format!(
                        "SELECT account_id, at, body FROM events
                      WHERE seq >= ?1 AND seq < ?2 AND at >= ?3 AND at < ?4 {CLIENTS_5}"
                    ))?;
                    let mut rows = statement.query(params![start, end, since, until, clients])?;
                    while let Some(row) = rows.next()? {
                        fold.event(event_scan(row)?)?;
                    }
                    fold.finish();
                    Ok(fold)
                }
            });
        run_parts(parts).await
    }

    pub(in crate::store) async fn fold_decisions<F: DecisionFold>(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        folds: Vec<F>,
        clients: Option<&[String]>,
    ) -> Result<Vec<F>, StoreError> {
        let path = self.report_path();
        let clients = clients_json(clients)?;
        let ranges = bounds(
            &path,
            "SELECT min(seq), max(seq) FROM decisions",
            folds.len(),
        )
        .await?;
        let (since, until) = (instant_text(since), instant_text(until));
        let parts = folds
            .into_iter()
            .zip(ranges)
            .map(|(mut fold, (start, end))| {
                let (path, since, until) = (path.clone(), since.clone(), until.clone());
                let clients = clients.clone();
                move || {
                    let connection = open_reader(&path)?;
                    // Allowed decisions are only counted: their JSON is not read.
                    let mut statement = connection.prepare(&format!(
                        "SELECT outcome, CASE WHEN outcome = 'allow' THEN NULL ELSE decision END
                       FROM decisions
                      WHERE seq >= ?1 AND seq < ?2 AND decided_at >= ?3 AND decided_at < ?4 {CLIENTS_5}"
                    ))?;
                    let mut rows = statement.query(params![start, end, since, until, clients])?;
                    while let Some(row) = rows.next()? {
                        fold.decision(DecisionScan {
                            outcome: row.get_ref(0)?.as_str()?,
                            decision: row.get_ref(1)?.as_str_or_null()?,
                        })?;
                    }
                    Ok(fold)
                }
            });
        run_parts(parts).await
    }

    pub(in crate::store) async fn fold_histories<F: HistoryFold>(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        parts: Vec<(F, Vec<HistoryWanted>)>,
    ) -> Result<Vec<F>, StoreError> {
        let path = self.report_path();
        let (since, until) = (instant_text(since), instant_text(until));
        let parts = parts.into_iter().map(|(mut fold, wanted)| {
            let (path, since, until) = (path.clone(), since.clone(), until.clone());
            move || {
                let connection = open_reader(&path)?;
                let mut account = connection
                    .prepare("SELECT id, consumer_id, body FROM accounts WHERE id = ?1")?;
                let mut events = connection.prepare(
                    "SELECT account_id, at, body FROM events
                      WHERE account_id = ?1 AND at >= ?2 AND at < ?3",
                )?;
                for wanted in &wanted {
                    let stored: Option<(String, Option<String>, String)> = account
                        .query(params![wanted.account_id])?
                        .next()?
                        .map(|row| {
                            Ok::<_, rusqlite::Error>((row.get(0)?, row.get(1)?, row.get(2)?))
                        })
                        .transpose()?;
                    let mut history: Vec<(String, DateTime<Utc>, String)> = Vec::new();
                    for debt in &wanted.debts {
                        let mut rows = events.query(params![debt, since, until])?;
                        while let Some(row) = rows.next()? {
                            let scan = event_scan(row)?;
                            history.push((
                                scan.account_id.to_string(),
                                scan.at,
                                scan.body.to_string(),
                            ));
                        }
                    }
                    history.sort_by_key(|(_, at, _)| *at);
                    let scans: Vec<EventScan<'_>> = history
                        .iter()
                        .map(|(account_id, at, body)| EventScan {
                            account_id,
                            at: *at,
                            body,
                        })
                        .collect();
                    let account = stored.as_ref().map(|(id, consumer_id, body)| AccountScan {
                        id,
                        consumer_id: consumer_id.as_deref(),
                        body,
                    });
                    fold.history(wanted, account, &scans)?;
                }
                Ok(fold)
            }
        });
        run_parts(parts).await
    }
}

/// The rows about accounts of the clients in `?5` (a JSON array; NULL: every account).
const CLIENTS_5: &str = "AND (?5 IS NULL OR account_id IN
     (SELECT id FROM accounts WHERE client IN (SELECT value FROM json_each(?5))))";

/// A connection of its own for one partition. It only reads (`query_only`), and waits
/// for a writer's lock rather than failing.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(Duration::from_secs(30))?;
    connection.pragma_update(None, "query_only", true)?;
    Ok(connection)
}

/// The half-open key ranges of the partitions, from a `SELECT min(…), max(…)`.
async fn bounds(
    path: &Path,
    sql: &'static str,
    parts: usize,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let path = path.to_path_buf();
    let (min, max) = tokio::task::spawn_blocking(move || {
        let connection = open_reader(&path)?;
        let bounds = connection.query_row(sql, [], |row| {
            Ok((row.get::<_, Option<i64>>(0)?, row.get::<_, Option<i64>>(1)?))
        })?;
        Ok::<_, StoreError>(bounds)
    })
    .await
    .map_err(|error| StoreError::ReportRead(error.to_string()))??;
    Ok(match (min, max) {
        (Some(min), Some(max)) => seq_ranges(min, max, parts),
        _ => seq_ranges(0, -1, parts),
    })
}

/// Runs each partition on a blocking thread and gives the folds back in order.
async fn run_parts<F, P>(parts: impl Iterator<Item = P>) -> Result<Vec<F>, StoreError>
where
    F: Send + 'static,
    P: FnOnce() -> Result<F, StoreError> + Send + 'static,
{
    let handles: Vec<_> = parts.map(tokio::task::spawn_blocking).collect();
    let mut folds = Vec::with_capacity(handles.len());
    for handle in handles {
        folds.push(
            handle
                .await
                .map_err(|error| StoreError::ReportRead(error.to_string()))??,
        );
    }
    Ok(folds)
}

fn account_scan<'r>(row: &'r Row<'_>) -> Result<AccountScan<'r>, StoreError> {
    Ok(AccountScan {
        id: row.get_ref(0)?.as_str()?,
        consumer_id: row.get_ref(1)?.as_str_or_null()?,
        body: row.get_ref(2)?.as_str()?,
    })
}

fn event_scan<'r>(row: &'r Row<'_>) -> Result<EventScan<'r>, StoreError> {
    let at = row.get_ref(1)?.as_str()?;
    Ok(EventScan {
        account_id: row.get_ref(0)?.as_str()?,
        at: parse_instant_text(at).ok_or_else(|| Unreadable {
            what: "event instant",
            reason: format!("`{at}` is not an RFC 3339 instant"),
        })?,
        body: row.get_ref(2)?.as_str()?,
    })
}

/// Parses an instant as the store writes it (`2026-04-07T14:00:00.000000Z`, see
/// [`instant_text`]) without chrono's general parser, which costs a fifth of a
/// full scan; anything else goes through RFC 3339.
fn parse_instant_text(text: &str) -> Option<DateTime<Utc>> {
    fn number(bytes: &[u8], from: usize, to: usize) -> Option<u32> {
        bytes.get(from..to)?.iter().try_fold(0_u32, |value, byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + u32::from(byte - b'0'))
        })
    }
    let bytes = text.as_bytes();
    let shape = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ];
    let fast = bytes.len() == 27
        && shape
            .iter()
            .all(|(index, expected)| bytes.get(*index) == Some(expected));
    if fast {
        let year = i32::try_from(number(bytes, 0, 4)?).ok()?;
        let date = NaiveDate::from_ymd_opt(year, number(bytes, 5, 7)?, number(bytes, 8, 10)?)?;
        let time = NaiveTime::from_hms_micro_opt(
            number(bytes, 11, 13)?,
            number(bytes, 14, 16)?,
            number(bytes, 17, 19)?,
            number(bytes, 20, 26)?,
        )?;
        return Some(date.and_time(time).and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|instant| instant.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_instants_parse_like_rfc3339_does() {
        for text in [
            "2026-04-07T14:00:00.000000Z",
            "2026-12-31T23:59:59.999999Z",
            "2024-02-29T00:00:00.000001Z",
            "2026-04-07T14:00:00Z",
            "2026-04-07T10:00:00-04:00",
        ] {
            let expected = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc);
            assert_eq!(parse_instant_text(text), Some(expected), "{text}");
        }
        assert_eq!(parse_instant_text("2026-02-30T00:00:00.000000Z"), None);
        assert_eq!(parse_instant_text("2026-04-07T1x:00:00.000000Z"), None);
        assert_eq!(parse_instant_text(""), None);
    }
}

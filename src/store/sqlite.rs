//! The embedded SQLite ledger: one file, WAL, `synchronous = FULL` (a commit that
//! returned survives a crash).
//!
//! Check-and-record goes through one writer thread with its own connection (`writer`): it takes
//! the attempts waiting in its queue, decides and writes each in turn inside one
//! `BEGIN IMMEDIATE` transaction (an attempt that cannot be decided writes nothing; a
//! database failure rolls the whole group back) and commits them together. Each attempt
//! reads the ledger as the earlier ones left it, so racing dialers cannot break a cap;
//! one fsync serves the whole group, which is what makes durable commits fast. The
//! writer keeps the histories it has read (`histories`), dropped whenever another
//! connection commits. Other writes queue on SQLite's own lock.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use tokio::sync::mpsc;

mod chain;
mod histories;
mod records;
mod reports;
mod writer;

pub(super) use histories::HISTORY_CACHE_ROWS;

use super::chain::{Links, event_content_hash};
use super::consumers::{PageAccount, PageEvent, ShadowRow};
use super::{
    AccountHistoryRows, AccountRow, Attempt, AttemptJob, DecisionRow, DecisionSearch, EventQuery,
    EventRow, FinishRow, HistoryRow, IdempotencyKey, Judge, KeyClaim, KeyRow, MAX_PAGE, Notice,
    NoticeColumns, NoticeRow, PartitionClaim, QueuedNotice, RecordedRow, StoreError, StoreOptions,
    StoredEvent, from_json, instant_text, pending_notice_row, skip_unreadable_notices,
};
use crate::domain::chain::{Head, Link};

/// The most attempts one commit carries.
const MAX_GROUP: usize = 256;

/// Rows per multi-row `INSERT` when importing (5 columns, far below SQLite's limit of
/// bound parameters).
const IMPORT_CHUNK: usize = 500;

/// The SQLite implementation.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: mpsc::Sender<AttemptJob>,
    /// The audit's page readers' own connections (rusqlite), kept between pages: a
    /// fresh one would read the indexes' upper pages again into a fresh page cache.
    page_readers: Arc<std::sync::Mutex<Vec<rusqlite::Connection>>>,
    /// The history rows the writer holds decoded after its last group.
    held_history_rows: Arc<std::sync::atomic::AtomicUsize>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file of a `sqlite://PATH` URL.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(url, &StoreOptions::default()).await
    }

    /// [`SqliteStore::open`] with the daemon's settings.
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<SqliteStore, StoreError> {
        let history_cache_rows = options.history_cache_rows;
        let held_history_rows = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        let connection = writer::open(options.get_filename())?;
        let checkpointer = writer::open(options.get_filename())?;
        let (nudge, nudges) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("ledger-checkpointer".into())
            .spawn(move || writer::checkpoint(&checkpointer, &nudges))
            .map_err(|error| StoreError::CommitFailed(format!("no checkpoint thread: {error}")))?;
        let (writer, jobs) = mpsc::channel(4 * MAX_GROUP);
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn({
                let held = Arc::clone(&held_history_rows);
                move || writer::run(connection, history_cache_rows, &held, jobs, &nudge)
            })
            .map_err(|error| StoreError::CommitFailed(format!("no writer thread: {error}")))?;
        Ok(SqliteStore {
            pool,
            writer,
            page_readers: Arc::default(),
            held_history_rows,
        })
    }

    /// The history rows the ledger's writer holds decoded after its last group.
    pub fn held_history_rows(&self) -> usize {
        self.held_history_rows
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        // The rows of a ledger older than its chains are chained once, when the migration
        // that adds the chains is applied; a row that lacks its link later was written
        // outside dunner, and verification names it.
        let chained: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE version = 9 AND success",
        )
        .fetch_optional(&self.pool)
        .await
        .unwrap_or(None);
        sqlx::migrate!("src/store/migrations/sqlite")
            .run(&self.pool)
            .await?;
        if chained.is_none() {
            self.chain_unchained().await?;
        }
        Ok(())
    }

    pub(super) async fn account_bodies_after(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, body FROM accounts WHERE id > ?1 ORDER BY id LIMIT ?2")
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("body")?)))
            .collect()
    }

    pub(super) async fn account_client(
        &self,
        id: &str,
    ) -> Result<Option<Option<String>>, StoreError> {
        let row = sqlx::query("SELECT client FROM accounts WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| row.try_get("client"))
            .transpose()
            .map_err(Into::into)
    }

    pub(super) async fn get_account(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT body FROM accounts WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.get("body")))
    }

    pub(super) async fn put_accounts(
        &self,
        rows: &[AccountRow],
        now: DateTime<Utc>,
        claim: Option<&KeyClaim<'_>>,
        clients: Option<&[String]>,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(claim) = claim {
            if let Some(response) = first_response(&mut tx, claim.key).await? {
                return Ok(Some(response));
            }
            upsert_key(&mut tx, claim.key, &claim.response, claim.now).await?;
        }
        if let Some(clients) = clients {
            refuse_foreign_accounts(&mut tx, rows, clients).await?;
        }
        upsert_accounts(&mut tx, rows, now).await?;
        tx.commit().await?;
        Ok(None)
    }

    /// Appends events in one transaction; under a key already claimed by the same request,
    /// writes nothing and returns the first response (`BEGIN IMMEDIATE` serializes writers,
    /// so a concurrent repeat sees the first one's key).
    pub(super) async fn append_events(
        &self,
        rows: &[EventRow],
        claim: Option<&KeyClaim<'_>>,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(claim) = claim {
            if let Some(response) = first_response(&mut tx, claim.key).await? {
                return Ok(Some(response));
            }
            upsert_key(&mut tx, claim.key, &claim.response, claim.now).await?;
        }
        let mut links = Links::default();
        for row in rows {
            append_event(&mut tx, row, &mut links).await?;
        }
        save_heads(&mut tx, &links).await?;
        tx.commit().await?;
        Ok(None)
    }

    pub(super) async fn import(
        &self,
        accounts: &[AccountRow],
        events: &[EventRow],
        now: DateTime<Utc>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for chunk in accounts.chunks(IMPORT_CHUNK) {
            upsert_accounts(&mut tx, chunk, now).await?;
            progress(chunk.len() as u64);
        }
        let mut links = Links::default();
        for chunk in events.chunks(IMPORT_CHUNK) {
            if chunk.iter().any(|row| row.changes_account.is_some()) {
                for row in chunk {
                    append_event(&mut tx, row, &mut links).await?;
                }
            } else {
                insert_events(&mut tx, chunk, &mut links).await?;
            }
            progress(chunk.len() as u64);
        }
        save_heads(&mut tx, &links).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn insert_notice(&self, row: &NoticeRow) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        insert_notice(&mut tx, row).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn notice_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<Notice>, StoreError> {
        let sql = match column {
            "idempotency_key" => "SELECT * FROM notices WHERE idempotency_key = ?1",
            _ => "SELECT * FROM notices WHERE id = ?1",
        };
        let row = sqlx::query(sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| notice_from_row(&row)).transpose()
    }

    pub(super) async fn list_notices(
        &self,
        status: Option<&str>,
        limit: i64,
        clients: Option<&[String]>,
    ) -> Result<Vec<Notice>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM notices WHERE (?1 IS NULL OR status = ?1)
               AND (?3 IS NULL OR account_id IN (SELECT id FROM accounts WHERE client IN (SELECT value FROM json_each(?3))))
             ORDER BY seq LIMIT ?2",
        )
        .bind(status)
        .bind(limit)
        .bind(clients_json(clients)?)
        .fetch_all(&self.pool)
        .await?;
        Ok(skip_unreadable_notices(rows.iter().map(|row| {
            (row.try_get("id").unwrap_or_default(), notice_from_row(row))
        })))
    }

    pub(super) async fn lease_notices(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Notice>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(
            "UPDATE notices SET lease_until = ?2
              WHERE id IN (SELECT id FROM notices
                            WHERE status = 'pending' AND due_at <= ?1
                              AND (lease_until IS NULL OR lease_until <= ?1)
                            ORDER BY due_at LIMIT ?3)
              RETURNING *",
        )
        .bind(instant_text(now))
        .bind(instant_text(until))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(skip_unreadable_notices(rows.iter().map(|row| {
            (row.try_get("id").unwrap_or_default(), notice_from_row(row))
        })))
    }

    pub(super) async fn release_leases(&self) -> Result<u64, StoreError> {
        let released = sqlx::query(
            "UPDATE notices SET lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL",
        )
        .execute(&self.pool)
        .await?;
        Ok(released.rows_affected())
    }

    pub(super) async fn outbox_gauges(
        &self,
        now: DateTime<Utc>,
    ) -> Result<super::OutboxGauges, StoreError> {
        let rows = sqlx::query(
            "SELECT coalesce(json_extract(request, '$.channel'), 'unknown') AS channel,
                    coalesce(sum(status = 'pending' AND due_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)), 0) AS due,
                    coalesce(sum(status = 'pending' AND lease_until > ?1), 0) AS leased,
                    coalesce(sum(status = 'dead'), 0) AS dead,
                    min(CASE WHEN status = 'pending' AND due_at <= ?1 THEN due_at END) AS oldest
               FROM notices WHERE status IN ('pending', 'dead') GROUP BY 1",
        )
        .bind(instant_text(now))
        .fetch_all(&self.pool)
        .await?;
        let mut gauges = super::OutboxGauges::default();
        for row in rows {
            let oldest: Option<String> = row.try_get("oldest")?;
            if let Some(oldest) = oldest.as_deref().map(parse_instant).transpose()? {
                gauges.oldest_due = Some(gauges.oldest_due.map_or(oldest, |o| o.min(oldest)));
            }
            gauges.by_channel.push(super::OutboxCounts {
                channel: row.try_get("channel")?,
                due: row.try_get("due")?,
                leased: row.try_get("leased")?,
                dead: row.try_get("dead")?,
            });
        }
        Ok(gauges)
    }

    pub(super) async fn next_notice_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next: Option<String> = sqlx::query_scalar(
            "SELECT min(max(due_at, coalesce(lease_until, ''))) FROM notices WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        next.as_deref().map(parse_instant).transpose()
    }

    pub(super) async fn finish_notices(
        &self,
        rows: &[FinishRow<'_>],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut links = Links::default();
        for row in rows {
            let (status, attempts, due_at, error) = row.update.columns(now);
            let changed = sqlx::query(
                "UPDATE notices SET status = ?2, attempts = coalesce(?3, attempts), due_at = ?4,
                        last_error = ?5, lease_until = NULL, updated_at = ?6
                  WHERE id = ?1",
            )
            .bind(row.id)
            .bind(status.as_str())
            .bind(attempts.map(i64::from))
            .bind(instant_text(due_at))
            .bind(error)
            .bind(instant_text(now))
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() == 0 {
                return Err(StoreError::NoticeNotFound(row.id.to_string()));
            }
            if let Some(event) = &row.event {
                append_event(&mut tx, event, &mut links).await?;
            }
        }
        save_heads(&mut tx, &links).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn consumer_accounts(
        &self,
        consumer_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM accounts WHERE consumer_id = ?1 ORDER BY id")
            .bind(consumer_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|row| row.get("id")).collect())
    }

    pub(super) async fn list_events(
        &self,
        account_id: &str,
        query: &EventQuery,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, id, body, recorded_at FROM events
             WHERE account_id = ?1 AND at >= ?2 AND at < ?3 AND seq > ?4
             ORDER BY seq LIMIT ?5",
        )
        .bind(account_id)
        .bind(query.since.map_or_else(String::new, instant_text))
        .bind(query.until.map_or_else(|| "~".to_string(), instant_text))
        .bind(query.after_seq.unwrap_or(0))
        .bind(i64::from(query.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE)))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(StoredEvent {
                    id: row.get("id"),
                    seq: row.get("seq"),
                    account_id: account_id.to_string(),
                    event: from_json("event", row.get::<&str, _>("body"))?,
                    recorded_at: parse_instant(row.get("recorded_at"))?,
                })
            })
            .collect()
    }

    pub(super) async fn check_and_record(
        &self,
        judge: &Arc<dyn Judge>,
        attempt: &Attempt,
        now: DateTime<Utc>,
        notice: Option<QueuedNotice>,
        sending: Option<String>,
    ) -> Result<RecordedRow, StoreError> {
        AttemptJob::queue(&self.writer, judge, attempt, now, notice, sending).await
    }

    pub(super) async fn account_and_history(
        &self,
        account_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<AccountHistoryRows>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        account_and_history(&mut connection, account_id, since).await
    }

    pub(super) async fn unreported_attempts(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        clients: Option<&[String]>,
    ) -> Result<(Vec<super::reports::UnreportedAttempt>, u64), StoreError> {
        const UNREPORTED: &str = "FROM decisions d JOIN events e ON e.id = d.event_id
             WHERE d.event_id IS NOT NULL AND e.at >= ?1 AND e.at < ?2
               AND json_extract(e.body, '$.outcome') IS NULL
               AND NOT EXISTS (SELECT 1 FROM events r WHERE r.account_id = e.account_id
                               AND json_extract(r.body, '$.attempt_id') = e.id)
               AND (?3 IS NULL OR e.account_id IN
                    (SELECT id FROM accounts WHERE client IN (SELECT value FROM json_each(?3))))";
        let clients = clients_json(clients)?;
        let total: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) {UNREPORTED}")))
                .bind(instant_text(since))
                .bind(instant_text(until))
                .bind(&clients)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT e.id, e.account_id, e.at, e.body {UNREPORTED} ORDER BY e.at, e.seq LIMIT ?4"
        )))
        .bind(instant_text(since))
        .bind(instant_text(until))
        .bind(&clients)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let attempts = rows
            .iter()
            .map(|row| {
                Ok(super::reports::UnreportedAttempt {
                    attempt_id: row.try_get("id")?,
                    account_id: row.try_get("account_id")?,
                    at: parse_instant(row.try_get("at")?)?,
                    body: row.try_get("body")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((attempts, u64::try_from(total).unwrap_or(0)))
    }

    pub(super) async fn search_decisions(
        &self,
        search: &DecisionSearch,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT seq, id, account_id, decided_at, question, decision, event_id FROM decisions WHERE TRUE",
        );
        if let Some(account_id) = &search.account_id {
            query
                .push(" AND account_id = ")
                .push_bind(account_id.as_str());
        }
        if let Some(clients) = clients_json(search.clients.as_deref())? {
            query
                .push(" AND account_id IN (SELECT id FROM accounts WHERE client IN (SELECT value FROM json_each(")
                .push_bind(clients)
                .push(")))");
        }
        if let Some(from) = search.from {
            query
                .push(" AND decided_at >= ")
                .push_bind(instant_text(from));
        }
        if let Some(to) = search.to {
            query.push(" AND decided_at < ").push_bind(instant_text(to));
        }
        if let Some(outcome) = &search.outcome {
            query.push(" AND outcome = ").push_bind(outcome.as_str());
        }
        if let Some(rule) = &search.rule {
            query
                .push(" AND EXISTS (SELECT 1 FROM json_each(decision, '$.reasons') WHERE json_extract(value, '$.rule') = ")
                .push_bind(rule.as_str())
                .push(")");
        }
        if let Some(after) = search.after {
            query.push(" AND seq > ").push_bind(after);
        }
        let forward = search.forward();
        query
            .push(if forward {
                " ORDER BY seq LIMIT "
            } else {
                " ORDER BY seq DESC LIMIT "
            })
            .push_bind(i64::from(search.limit));
        let rows = query.build().fetch_all(&self.pool).await?;
        let mut decisions = rows
            .into_iter()
            .map(|row| {
                Ok(DecisionRow {
                    id: row.try_get("id")?,
                    seq: row.try_get("seq")?,
                    account_id: row.try_get("account_id")?,
                    decided_at: parse_instant(row.get("decided_at"))?,
                    question: from_json("logged question", row.try_get::<&str, _>("question")?)?,
                    decision: from_json("logged decision", row.try_get::<&str, _>("decision")?)?,
                    event_id: row.try_get("event_id")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if !forward {
            decisions.reverse();
        }
        Ok(decisions)
    }

    pub(super) async fn accounts_without_partition(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, consumer_id FROM accounts WHERE sched_partition IS NULL ORDER BY id LIMIT ?1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("consumer_id")?)))
            .collect()
    }

    pub(super) async fn set_partitions(&self, rows: &[(String, i64)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for (id, partition) in rows {
            sqlx::query("UPDATE accounts SET sched_partition = ?2 WHERE id = ?1")
                .bind(id)
                .bind(partition)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn claim_partition(
        &self,
        claim: &PartitionClaim<'_>,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO scheduler_claims (slot, part, owner, claimed_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (slot, part) DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at
             WHERE scheduler_claims.done_at IS NULL AND scheduler_claims.claimed_at < ?5",
        )
        .bind(claim.slot)
        .bind(claim.partition)
        .bind(claim.owner)
        .bind(instant_text(now))
        .bind(instant_text(stale_before))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn finish_partition(
        &self,
        claim: &PartitionClaim<'_>,
        planned: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE scheduler_claims SET done_at = ?4, planned = ?5 WHERE slot = ?1 AND part = ?2 AND owner = ?3",
        )
        .bind(claim.slot)
        .bind(claim.partition)
        .bind(claim.owner)
        .bind(instant_text(now))
        .bind(planned)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn forget_claims_before(&self, slot: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM scheduler_claims WHERE slot < ?1")
            .bind(slot)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn add_api_key(
        &self,
        id: &str,
        name: &str,
        secret_hash: &str,
        scopes: &str,
        clients: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO api_keys (id, name, secret_hash, scopes, created_at, clients) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .bind(id)
            .bind(name)
            .bind(secret_hash)
            .bind(scopes)
            .bind(instant_text(now))
            .bind(clients)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn api_key(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<KeyRow>, StoreError> {
        let row = sqlx::query(
            "SELECT secret_hash, scopes, last_used_at, clients, expires_at FROM api_keys WHERE id = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)",
        )
        .bind(id)
        .bind(instant_text(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let last_used = row
                .get::<Option<&str>, _>("last_used_at")
                .map(parse_instant)
                .transpose()?;
            let expires_at = row
                .get::<Option<&str>, _>("expires_at")
                .map(parse_instant)
                .transpose()?;
            Ok((
                row.get("secret_hash"),
                row.get("scopes"),
                last_used,
                row.try_get("clients")?,
                expires_at,
            ))
        })
        .transpose()
    }

    /// The pool, for the console's rows (`console.rs`).
    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        // Reachable is not enough: without its writer the ledger records nothing.
        if self.writer.is_closed() {
            return Err(StoreError::WriterStopped);
        }
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(super) async fn policy_sources(&self, digest: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT sources FROM policies WHERE digest = ?1")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.get("sources")))
    }
}

/// The response kept for a remembered key; a key sent with another request is refused.
async fn first_response(
    connection: &mut SqliteConnection,
    key: &IdempotencyKey,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query(
        "SELECT request_hash, response FROM idempotency_keys WHERE key = ?1 AND created_at >= ?2",
    )
    .bind(&key.key)
    .bind(instant_text(key.since))
    .fetch_optional(&mut *connection)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let hash: String = row.try_get("request_hash")?;
    if hash != key.request_hash {
        return Err(StoreError::IdempotencyMismatch(key.key.clone()));
    }
    Ok(Some(row.try_get("response")?))
}

/// Keeps a key with its response (replacing a forgotten one).
async fn upsert_key(
    connection: &mut SqliteConnection,
    key: &IdempotencyKey,
    response: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO idempotency_keys (key, request_hash, response, created_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash,
           response = excluded.response, created_at = excluded.created_at",
    )
    .bind(&key.key)
    .bind(&key.request_hash)
    .bind(response)
    .bind(instant_text(now))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// The one read of a check-and-record (the pool's and the writer's): the account's
/// body and consumer key (part 0), its consumer's events since `?2` (part 1) and the
/// places of their pending notices (part 2, the due instant in the `debtor` column).
/// The rows come in a defined order — by part, debt, instant, then ledger position —
/// so that the writer's cache of decoded histories (`histories::Histories`), which keeps
/// its rows in that order as it appends its own, hands the judge what this read would.
const ACCOUNT_AND_HISTORY: &str = "SELECT 0 AS part, id, id AS account_id, coalesce('consumer:' || consumer_id, 'account:' || id) AS debtor, body, NULL AS at, NULL AS seq
           FROM accounts WHERE id = ?1
         UNION ALL
         SELECT 1, id, account_id, NULL, body, at, seq FROM events
          WHERE at >= ?2 AND account_id IN (
                SELECT ?1
                UNION SELECT id FROM accounts
                 WHERE consumer_id = (SELECT consumer_id FROM accounts WHERE id = ?1))
         UNION ALL
         SELECT 2, id, account_id, due_at, request, due_at, seq FROM notices
          WHERE status = 'pending' AND account_id IN (
                SELECT ?1
                UNION SELECT id FROM accounts
                 WHERE consumer_id = (SELECT consumer_id FROM accounts WHERE id = ?1))
         ORDER BY part, account_id, at, seq";

/// An account's stored body, the key of its consumer (`consumer.id`, or the account's
/// own id when it names none) and its history from `since` on — with the events of
/// the consumer's other accounts and the places of their pending notices — in one
/// statement (one consistent read); `None` when the account does not exist.
async fn account_and_history(
    connection: &mut SqliteConnection,
    account_id: &str,
    since: DateTime<Utc>,
) -> Result<Option<AccountHistoryRows>, StoreError> {
    let rows = sqlx::query(ACCOUNT_AND_HISTORY)
        .bind(account_id)
        .bind(instant_text(since))
        .fetch_all(&mut *connection)
        .await?;
    let mut account = None;
    let mut history = Vec::with_capacity(rows.len());
    for row in rows {
        let part = row.get::<i64, _>("part");
        if part == 0 {
            account = Some(row.get("body"));
        } else if part == 2 {
            let due_at = parse_instant(&row.get::<String, _>("debtor"))?;
            history.extend(pending_notice_row(
                &row.get::<String, _>("id"),
                &row.get::<String, _>("account_id"),
                due_at,
                &row.get::<String, _>("body"),
            )?);
        } else {
            history.push(HistoryRow {
                id: row.get("id"),
                account_id: row.get("account_id"),
                body: row.get("body"),
            });
        }
    }
    Ok(account.map(|body| AccountHistoryRows { body, history }))
}

/// Writes events with their chain links. An imported entry already stored is not
/// written again and takes no place in its chain: such entries are left out first.
async fn insert_events(
    connection: &mut SqliteConnection,
    rows: &[EventRow],
    links: &mut Links,
) -> Result<(), StoreError> {
    let keys: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.import_key.as_deref())
        .collect();
    let mut stored = HashSet::new();
    if !keys.is_empty() {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT import_key FROM events WHERE import_key IS NOT NULL AND import_key IN (",
        );
        let mut list = query.separated(", ");
        for key in &keys {
            list.push_bind(*key);
        }
        query.push(")");
        for row in query.build().fetch_all(&mut *connection).await? {
            stored.insert(row.try_get::<String, _>("import_key")?);
        }
    }
    let rows: Vec<&EventRow> = rows
        .iter()
        .filter(|row| {
            row.import_key
                .as_ref()
                .is_none_or(|key| !stored.contains(key))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let accounts: Vec<&str> = rows.iter().map(|row| row.account_id.as_str()).collect();
    load_heads(connection, links, &accounts).await?;
    let chained: Vec<Link> = rows
        .iter()
        .map(|row| links.link(&row.account_id, event_content_hash(row)))
        .collect();
    let mut insert = QueryBuilder::<Sqlite>::new(
        "INSERT INTO events (id, account_id, at, body, recorded_at, import_key, chain_pos, content_hash, entry_hash) ",
    );
    insert.push_values(rows.iter().zip(&chained), |mut values, (row, link)| {
        values
            .push_bind(&row.id)
            .push_bind(&row.account_id)
            .push_bind(instant_text(row.at))
            .push_bind(&row.body)
            .push_bind(instant_text(row.recorded_at))
            .push_bind(&row.import_key)
            .push_bind(link.position)
            .push_bind(&link.content_hash)
            .push_bind(&link.entry_hash);
    });
    insert.build().execute(&mut *connection).await?;
    Ok(())
}

/// Loads the heads of the accounts not yet known to `links`.
async fn load_heads(
    connection: &mut SqliteConnection,
    links: &mut Links,
    accounts: &[&str],
) -> Result<(), StoreError> {
    let mut missing: Vec<&str> = accounts
        .iter()
        .copied()
        .filter(|id| !links.knows(id))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    for chunk in missing.chunks(IMPORT_CHUNK) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT account_id, position, head FROM chain_heads WHERE account_id IN (",
        );
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(")");
        for row in query.build().fetch_all(&mut *connection).await? {
            let id: String = row.try_get("account_id")?;
            links.loaded(
                &id,
                Some(Head {
                    position: row.try_get("position")?,
                    hash: row.try_get("head")?,
                }),
            );
        }
        for id in chunk {
            links.loaded(id, None);
        }
    }
    Ok(())
}

/// Writes back the heads a transaction moved.
async fn save_heads(connection: &mut SqliteConnection, links: &Links) -> Result<(), StoreError> {
    for chunk in links.changed().chunks(IMPORT_CHUNK) {
        let mut upsert =
            QueryBuilder::<Sqlite>::new("INSERT INTO chain_heads (account_id, position, head) ");
        upsert.push_values(chunk, |mut values, (id, head)| {
            values
                .push_bind(*id)
                .push_bind(head.position)
                .push_bind(&head.hash);
        });
        upsert.push(
            " ON CONFLICT (account_id) DO UPDATE SET position = excluded.position, head = excluded.head",
        );
        upsert.build().execute(&mut *connection).await?;
    }
    Ok(())
}

/// Appends one event, bringing its account up to date when the event changes it.
async fn append_event(
    connection: &mut SqliteConnection,
    row: &EventRow,
    links: &mut Links,
) -> Result<(), StoreError> {
    let account = sqlx::query("SELECT body FROM accounts WHERE id = ?1")
        .bind(&row.account_id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| StoreError::AccountNotFound(row.account_id.clone()))?;
    if let Some(outcome_of) = &row.outcome_of {
        let attempt: Option<String> =
            sqlx::query_scalar("SELECT body FROM events WHERE id = ?1 AND account_id = ?2")
                .bind(&outcome_of.attempt_id)
                .bind(&row.account_id)
                .fetch_optional(&mut *connection)
                .await?;
        outcome_of.check(attempt.as_deref(), &row.account_id)?;
        let reported: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM events WHERE account_id = ?1 AND json_extract(body, '$.attempt_id') = ?2 LIMIT 1",
        )
        .bind(&row.account_id)
        .bind(&outcome_of.attempt_id)
        .fetch_optional(&mut *connection)
        .await?;
        if reported.is_some() {
            return Err(StoreError::OutcomeKnown(outcome_of.attempt_id.clone()));
        }
    }
    if let Some(updated) = row.updated_account(account.get("body"))? {
        sqlx::query("UPDATE accounts SET body = ?2, updated_at = ?3 WHERE id = ?1")
            .bind(&row.account_id)
            .bind(updated)
            .bind(instant_text(row.recorded_at))
            .execute(&mut *connection)
            .await?;
    }
    insert_events(connection, std::slice::from_ref(row), links).await
}

async fn insert_notice(
    connection: &mut SqliteConnection,
    row: &NoticeRow,
) -> Result<(), StoreError> {
    let now = instant_text(row.now);
    sqlx::query(
        "INSERT INTO notices (id, account_id, idempotency_key, status, due_at, request, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?6)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.account_id)
    .bind(&row.idempotency_key)
    .bind(instant_text(row.due_at))
    .bind(&row.request)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

fn notice_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Notice, StoreError> {
    NoticeColumns {
        id: row.get("id"),
        account_id: row.get("account_id"),
        status: row.get("status"),
        due_at: parse_instant(row.get("due_at"))?,
        attempts: row.get("attempts"),
        last_error: row.get("last_error"),
        request: row.get("request"),
        created_at: parse_instant(row.get("created_at"))?,
        updated_at: parse_instant(row.get("updated_at"))?,
    }
    .into_notice()
}

/// The clients of a filter as the JSON array `json_each` reads (`None`: no filter).
fn clients_json(clients: Option<&[String]>) -> Result<Option<String>, StoreError> {
    clients.map(|clients| super::to_json(&clients)).transpose()
}

/// Fails with [`StoreError::AccountNotFound`] for the first of `rows` stored already
/// under a client not in `clients` (or under none).
async fn refuse_foreign_accounts(
    connection: &mut SqliteConnection,
    rows: &[AccountRow],
    clients: &[String],
) -> Result<(), StoreError> {
    let clients = super::to_json(&clients)?;
    for chunk in rows.chunks(IMPORT_CHUNK) {
        let mut query = QueryBuilder::<Sqlite>::new("SELECT id FROM accounts WHERE id IN (");
        let mut ids = query.separated(", ");
        for row in chunk {
            ids.push_bind(&row.id);
        }
        query
            .push(") AND (client IS NULL OR client NOT IN (SELECT value FROM json_each(")
            .push_bind(&clients)
            .push("))) ORDER BY id LIMIT 1");
        if let Some(row) = query.build().fetch_optional(&mut *connection).await? {
            return Err(StoreError::AccountNotFound(row.try_get("id")?));
        }
    }
    Ok(())
}

async fn upsert_accounts(
    connection: &mut SqliteConnection,
    rows: &[AccountRow],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now = instant_text(now);
    for chunk in rows.chunks(IMPORT_CHUNK) {
        let mut upsert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO accounts (id, consumer_id, body, created_at, updated_at, sched_partition, client) ",
        );
        upsert.push_values(chunk, |mut values, row| {
            values
                .push_bind(&row.id)
                .push_bind(&row.consumer_id)
                .push_bind(&row.body)
                .push_bind(&now)
                .push_bind(&now)
                .push_bind(row.partition)
                .push_bind(&row.client);
        });
        upsert.push(
            " ON CONFLICT (id) DO UPDATE SET consumer_id = excluded.consumer_id, body = excluded.body, updated_at = excluded.updated_at, sched_partition = excluded.sched_partition, client = excluded.client",
        );
        upsert.build().execute(&mut *connection).await?;
    }
    Ok(())
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|error| StoreError::Corrupt {
            what: "instant",
            reason: format!("`{text}`: {error}"),
        })
}

// --- consumer pages (the scheduler; see `consumers.rs`) -------------------------------

/// A page query's rows split into accounts and events.
fn page_rows(rows: Vec<sqlx::sqlite::SqliteRow>) -> (Vec<PageAccount>, Vec<PageEvent>) {
    let mut accounts = Vec::new();
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        if row.get::<i64, _>("part") == 0 {
            accounts.push(PageAccount {
                id: row.get("account_id"),
                consumer_id: row.get("consumer_id"),
                body: row.get("body"),
                anchor: row.get::<i64, _>("anchor") != 0,
            });
        } else {
            events.push(PageEvent {
                account_id: row.get("account_id"),
                id: row.get("event_id"),
                seq: row.get("seq"),
                body: row.get("body"),
            });
        }
    }
    (accounts, events)
}

/// The rows of one page query (`sqlite_consumer_page!(…, unordered)`), the accounts in
/// id order (SQLite's BINARY collation is byte order, as `str`'s: the first account of a
/// consumer decides its page); the events are put in ledger order when grouped.
fn page_range_rows<'p>(
    connection: &rusqlite::Connection,
    sql: &str,
    params: impl Iterator<Item = &'p String>,
) -> Result<(Vec<PageAccount>, Vec<PageEvent>), StoreError> {
    let mut statement = connection.prepare(sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(params))?;
    let (mut accounts, mut events) = (Vec::new(), Vec::new());
    while let Some(row) = rows.next()? {
        let text = |index: usize| -> Result<String, StoreError> {
            Ok(row.get_ref(index)?.as_str()?.to_string())
        };
        if row.get::<_, i64>(0)? == 0 {
            accounts.push(PageAccount {
                id: text(1)?,
                consumer_id: row.get_ref(2)?.as_str_or_null()?.map(str::to_string),
                body: text(3)?,
                anchor: row.get::<_, i64>(4)? != 0,
            });
        } else {
            events.push(PageEvent {
                account_id: text(1)?,
                id: text(6)?,
                seq: row.get(5)?,
                body: text(3)?,
            });
        }
    }
    accounts.sort_unstable_by(|a: &PageAccount, b: &PageAccount| a.id.cmp(&b.id));
    Ok((accounts, events))
}

/// One page of consumers: anchors are the next `limit` account ids (after the cursor,
/// when there is one); every account of their consumers comes along, then every event
/// of those accounts. One round trip, one snapshot.
macro_rules! sqlite_consumer_page {
    ($anchors:literal) => {
        concat!(sqlite_consumer_page!($anchors, unordered), " ORDER BY part, account_id, seq")
    };
    // The rows in no order (the audit's reader orders them: SQLite's sort would copy
    // every body once more).
    ($anchors:literal, unordered) => {
        concat!(
            "WITH anchors AS (", $anchors, "),
             members AS (SELECT id FROM anchors
                         UNION SELECT id FROM accounts
                          WHERE consumer_id IN (SELECT consumer_id FROM anchors WHERE consumer_id IS NOT NULL))
             SELECT 0 AS part, a.id AS account_id, a.consumer_id AS consumer_id, a.body AS body,
                    a.id IN (SELECT id FROM anchors) AS anchor, 0 AS seq, NULL AS event_id
               FROM accounts a WHERE a.id IN (SELECT id FROM members)
             UNION ALL
             SELECT 1, e.account_id, NULL, e.body, 0, e.seq, e.id
               FROM events e WHERE e.account_id IN (SELECT id FROM members)"
        )
    };
}

impl SqliteStore {
    pub(super) async fn consumer_page_bounds(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM accounts) AS numbered
              WHERE n % ?1 = 0 ORDER BY id",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// The rows of the consumers whose first account id is in `(after, upto]`, read with
    /// rusqlite on a blocking thread, on a connection of its own: sqlx would hand each
    /// row across threads (see `crate::store::reports`), the most of an audit's time.
    pub(super) async fn consumer_range(
        &self,
        after: Option<&str>,
        upto: Option<&str>,
    ) -> Result<(Vec<PageAccount>, Vec<PageEvent>), StoreError> {
        let (path, readers) = (self.report_path(), Arc::clone(&self.page_readers));
        let (after, upto) = (after.map(str::to_string), upto.map(str::to_string));
        tokio::task::spawn_blocking(move || {
            let sql = match (&after, &upto) {
                (None, None) => {
                    sqlite_consumer_page!("SELECT id, consumer_id FROM accounts", unordered)
                }
                (Some(_), None) => {
                    sqlite_consumer_page!(
                        "SELECT id, consumer_id FROM accounts WHERE id > ?1",
                        unordered
                    )
                }
                (None, Some(_)) => {
                    sqlite_consumer_page!(
                        "SELECT id, consumer_id FROM accounts WHERE id <= ?1",
                        unordered
                    )
                }
                (Some(_), Some(_)) => sqlite_consumer_page!(
                    "SELECT id, consumer_id FROM accounts WHERE id > ?1 AND id <= ?2",
                    unordered
                ),
            };
            let idle = readers.lock().ok().and_then(|mut idle| idle.pop());
            let connection = match idle {
                Some(connection) => connection,
                None => reports::open_reader(&path)?,
            };
            let rows = page_range_rows(&connection, sql, after.iter().chain(upto.iter()));
            if let Ok(mut idle) = readers.lock() {
                idle.push(connection);
            }
            rows
        })
        .await
        .map_err(|error| StoreError::ReportRead(error.to_string()))?
    }

    pub(super) async fn consumer_page(
        &self,
        after: Option<&str>,
        limit: i64,
        partition: Option<i64>,
    ) -> Result<(Vec<PageAccount>, Vec<PageEvent>), StoreError> {
        // An account written before its partition was known is in partition 0.
        let query = match after {
            Some(after) => sqlx::query(sqlite_consumer_page!(
                "SELECT id, consumer_id FROM accounts WHERE id > ?1 AND (?3 IS NULL OR coalesce(sched_partition, 0) = ?3) ORDER BY id LIMIT ?2"
            ))
            .bind(after.to_string())
            .bind(limit)
            .bind(partition),
            None => sqlx::query(sqlite_consumer_page!(
                "SELECT id, consumer_id FROM accounts WHERE (?2 IS NULL OR coalesce(sched_partition, 0) = ?2) ORDER BY id LIMIT ?1"
            ))
            .bind(limit)
            .bind(partition),
        };
        let rows = query.fetch_all(&self.pool).await?;
        Ok(page_rows(rows))
    }

    pub(super) async fn contact_decisions(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.event_id AS event_id, d.policy_digest AS policy_digest
               FROM decisions d JOIN events e ON e.id = d.event_id
              WHERE d.event_id IS NOT NULL AND e.at >= ?1 AND e.at < ?2",
        )
        .bind(instant_text(since))
        .bind(instant_text(until))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("event_id")?, row.try_get("policy_digest")?)))
            .collect()
    }

    pub(super) async fn decisions_logged(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DecisionRow, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, id, account_id, decided_at, policy_digest, question, decision, event_id
               FROM decisions WHERE decided_at >= ?1 AND decided_at < ?2 ORDER BY seq",
        )
        .bind(instant_text(since))
        .bind(instant_text(until))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let decision = DecisionRow {
                    id: row.get("id"),
                    seq: row.get("seq"),
                    account_id: row.get("account_id"),
                    decided_at: parse_instant(row.get("decided_at"))?,
                    question: from_json("logged question", row.get::<&str, _>("question"))?,
                    decision: from_json("logged decision", row.get::<&str, _>("decision"))?,
                    event_id: row.try_get("event_id")?,
                };
                Ok((decision, row.try_get("policy_digest")?))
            })
            .collect()
    }

    pub(super) async fn shadow_divergences(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<ShadowRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, account_id, decided_at, outcome, question, shadow FROM decisions
              WHERE shadow IS NOT NULL AND decided_at >= ?1 AND decided_at < ?2 ORDER BY seq",
        )
        .bind(instant_text(since))
        .bind(instant_text(until))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(ShadowRow {
                    decision_id: row.try_get("id")?,
                    account_id: row.try_get("account_id")?,
                    decided_at: parse_instant(row.get("decided_at"))?,
                    outcome: row.try_get("outcome")?,
                    question: from_json("logged question", row.get::<&str, _>("question"))?,
                    shadow: row.try_get("shadow")?,
                })
            })
            .collect()
    }

    pub(super) async fn pending_notice_keys(
        &self,
        prefix: &str,
    ) -> Result<Vec<String>, StoreError> {
        let keys = sqlx::query_scalar(
            "SELECT idempotency_key FROM notices
              WHERE status = 'pending' AND substr(idempotency_key, 1, length(?1)) = ?1",
        )
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        Ok(keys)
    }
}

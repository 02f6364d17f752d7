//! The PostgreSQL ledger, shared by several daemons: check-and-record locks the
//! account's row (`SELECT … FOR UPDATE`) for the length of its transaction, so two
//! dialers recording for one account are serialized while other accounts proceed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder, Row};

mod batch;
mod chain;
mod histories;
mod records;
mod reports;

use super::chain::{Links, event_content_hash};
use super::consumers::{PageAccount, PageEvent, ShadowRow};
use super::{
    AccountHistoryRows, AccountRow, Attempt, AttemptJob, DecisionRow, DecisionSearch, EventQuery,
    EventRow, FinishRow, HistoryRow, Judge, KeyClaim, KeyRow, MAX_PAGE, Notice, NoticeColumns,
    NoticeRow, PartitionClaim, QueuedNotice, RecordedRow, StoreError, StoreOptions, StoredEvent,
    from_json, pending_notice_row, skip_unreadable_notices,
};
use crate::domain::chain::{Head, Link};

/// Rows per statement when importing: a `VALUES` list of up to 7 columns stays well
/// below PostgreSQL's 65,535 bound parameters, and rows bound as arrays make a message
/// of moderate size.
const IMPORT_CHUNK: usize = 1000;

/// How a check-and-record transaction begins (one round trip, as a plain `BEGIN`). Its
/// statements look rows up by key (`= ANY($1)` over the batch's accounts) and must reach
/// them through their indexes whatever the tables' size when a plan is made: this server
/// may never analyze the ledger (autovacuum off, as on the bench machine), so a plan made
/// while a table was small kept scanning it whole as it grew (the history read 0.03 ms a
/// batch in the first second of a run, 0.7 ms by the fifth, the events table read whole
/// ≈ 1,900 times in 15 s, its rows compared with every account of the array). Scans are
/// priced out for these statements only, and their generic plans are kept, so that a
/// batch is not planned again (the lock statement's custom plan cost 0.15 ms a batch).
const BEGIN_CHECK_AND_RECORD: &str =
    "BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan";

/// The PostgreSQL implementation.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The queue of the group-commit writers of check-and-record (`batch.rs`).
    writer: tokio::sync::mpsc::Sender<AttemptJob>,
    /// The histories those writers keep between batches (`histories.rs`).
    histories: histories::SharedHistories,
}

impl PostgresStore {
    /// Connects to a `postgres://` URL.
    pub async fn open(url: &str, store: &StoreOptions) -> Result<PostgresStore, StoreError> {
        let options: PgConnectOptions = url.parse()?;
        PostgresStore::connect(options, store).await
    }

    /// Connects with explicit options (a test uses its own `search_path`).
    pub async fn connect(
        options: PgConnectOptions,
        store: &StoreOptions,
    ) -> Result<PostgresStore, StoreError> {
        // Sixteen connections for the reads and other writes, and one for each writer of
        // check-and-record, so that a burst of attempts never waits behind the reads.
        let pool = PgPoolOptions::new()
            .max_connections(16 + u32::try_from(batch::WRITERS).unwrap_or(16))
            .connect_with(options)
            .await?;
        let histories = histories::Histories::shared(store.history_cache_rows);
        let writer = batch::spawn_writers(pool.clone(), Arc::clone(&histories));
        Ok(PostgresStore {
            pool,
            writer,
            histories,
        })
    }

    /// The history rows the writers keep between batches.
    pub fn held_history_rows(&self) -> usize {
        histories::Histories::lock(&self.histories).rows()
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
        sqlx::migrate!("src/store/migrations/postgres")
            .run(&self.pool)
            .await?;
        if chained.is_none() {
            self.chain_unchained().await?;
        }
        Ok(())
    }

    /// The embedded migrations not yet applied to this database (all of them when the
    /// migrations table is missing).
    pub(super) async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let migrator = sqlx::migrate!("src/store/migrations/postgres");
        let applied: Vec<i64> =
            match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
            {
                Ok(applied) => applied,
                // 42P01: undefined_table, a database never migrated.
                Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P01") => {
                    Vec::new()
                }
                Err(error) => return Err(error.into()),
            };
        Ok(migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
            .count())
    }

    pub(super) async fn account_bodies_after(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body::text AS body FROM accounts WHERE id > $1 ORDER BY id LIMIT $2",
        )
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
        let row = sqlx::query("SELECT client FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| row.try_get("client"))
            .transpose()
            .map_err(Into::into)
    }

    pub(super) async fn get_account(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT body::text AS body FROM accounts WHERE id = $1")
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
        let mut tx = self.pool.begin().await?;
        // Accounts before the key, as every writer takes them (see `lock_accounts`).
        lock_accounts(&mut tx, rows.iter().map(|row| row.id.as_str())).await?;
        if let Some(claim) = claim
            && !claim_key(&mut tx, claim.key, &claim.response, claim.now).await?
        {
            return first_response(&mut tx, claim.key).await;
        }
        if let Some(clients) = clients {
            refuse_foreign_accounts(&mut tx, rows, clients).await?;
        }
        upsert_accounts(&mut tx, rows, now).await?;
        tx.commit().await?;
        Ok(None)
    }

    /// Appends events in one transaction; under a key already claimed by the same request,
    /// writes nothing and returns the first response. The accounts are locked, then the
    /// key claimed: a concurrent repeat waits on the account (or on the key's unique
    /// index) until the first commits, then finds it.
    pub(super) async fn append_events(
        &self,
        rows: &[EventRow],
        claim: Option<&KeyClaim<'_>>,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_accounts(&mut tx, rows.iter().map(|row| row.account_id.as_str())).await?;
        if let Some(claim) = claim
            && !claim_key(&mut tx, claim.key, &claim.response, claim.now).await?
        {
            return first_response(&mut tx, claim.key).await;
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
        let mut tx = self.pool.begin().await?;
        for chunk in accounts.chunks(IMPORT_CHUNK) {
            upsert_accounts(&mut tx, chunk, now).await?;
            progress(chunk.len() as u64);
        }
        // The chains of the events' accounts are appended to under their accounts' locks,
        // as every other write does.
        lock_accounts(&mut tx, events.iter().map(|row| row.account_id.as_str())).await?;
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
        let mut tx = self.pool.begin().await?;
        // The account first, as every writer of its history (a new notice marks it,
        // migration 0017).
        lock_accounts(&mut tx, std::iter::once(row.account_id.as_str())).await?;
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
            "idempotency_key" => {
                "SELECT *, request::text AS request_text FROM notices WHERE idempotency_key = $1"
            }
            _ => "SELECT *, request::text AS request_text FROM notices WHERE id = $1",
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
            "SELECT *, request::text AS request_text FROM notices
              WHERE ($1::text IS NULL OR status = $1)
                AND ($3::text[] IS NULL OR account_id IN (SELECT id FROM accounts WHERE client = ANY($3)))
              ORDER BY seq LIMIT $2",
        )
        .bind(status)
        .bind(limit)
        .bind(clients)
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
        // SKIP LOCKED: daemons sharing the ledger take different notices, none waits.
        let rows = sqlx::query(
            "UPDATE notices SET lease_until = $2
              WHERE id IN (SELECT id FROM notices
                            WHERE status = 'pending' AND due_at <= $1
                              AND (lease_until IS NULL OR lease_until <= $1)
                            ORDER BY due_at LIMIT $3
                            FOR UPDATE SKIP LOCKED)
              RETURNING *, request::text AS request_text",
        )
        .bind(now)
        .bind(until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(skip_unreadable_notices(rows.iter().map(|row| {
            (row.try_get("id").unwrap_or_default(), notice_from_row(row))
        })))
    }

    pub(super) async fn outbox_gauges(
        &self,
        now: DateTime<Utc>,
    ) -> Result<super::OutboxGauges, StoreError> {
        let rows = sqlx::query(
            "SELECT coalesce(request->>'channel', 'unknown') AS channel,
                    count(*) FILTER (WHERE status = 'pending' AND due_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)) AS due,
                    count(*) FILTER (WHERE status = 'pending' AND lease_until > $1) AS leased,
                    count(*) FILTER (WHERE status = 'dead') AS dead,
                    min(due_at) FILTER (WHERE status = 'pending' AND due_at <= $1) AS oldest
               FROM notices WHERE status IN ('pending', 'dead') GROUP BY 1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut gauges = super::OutboxGauges::default();
        for row in rows {
            let oldest: Option<DateTime<Utc>> = row.try_get("oldest")?;
            if let Some(oldest) = oldest {
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
        Ok(sqlx::query_scalar(
            "SELECT min(greatest(due_at, lease_until)) FROM notices WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub(super) async fn finish_notices(
        &self,
        rows: &[FinishRow<'_>],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // The notices' accounts first, in id order, as every writer of history locks
        // them (updating a notice marks its account's history, migration 0017): two
        // writers never wait on each other in a cycle.
        let ids: Vec<&str> = rows.iter().map(|row| row.id).collect();
        sqlx::query(
            "SELECT id FROM accounts
              WHERE id IN (SELECT account_id FROM notices WHERE id = ANY($1))
              ORDER BY id FOR UPDATE",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut links = Links::default();
        for row in rows {
            let (status, attempts, due_at, error) = row.update.columns(now);
            let changed = sqlx::query(
                "UPDATE notices SET status = $2, attempts = coalesce($3, attempts), due_at = $4,
                        last_error = $5, lease_until = NULL, updated_at = $6
                  WHERE id = $1",
            )
            .bind(row.id)
            .bind(status.as_str())
            .bind(
                attempts
                    .map(i64::from)
                    .map(|a| i32::try_from(a).unwrap_or(i32::MAX)),
            )
            .bind(due_at)
            .bind(error)
            .bind(now)
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
        let rows = sqlx::query("SELECT id FROM accounts WHERE consumer_id = $1 ORDER BY id")
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
            "SELECT seq, id, body::text AS body, recorded_at FROM events
             WHERE account_id = $1 AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at < $3) AND seq > $4
             ORDER BY seq LIMIT $5",
        )
        .bind(account_id)
        .bind(query.since)
        .bind(query.until)
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
                    recorded_at: row.try_get("recorded_at")?,
                })
            })
            .collect()
    }

    pub(super) async fn account_and_history(
        &self,
        account_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<AccountHistoryRows>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        account_and_history(&mut connection, account_id, since).await
    }

    /// Queues the attempt for the group-commit writers and waits for its answer.
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

    pub(super) async fn unreported_attempts(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
        clients: Option<&[String]>,
    ) -> Result<(Vec<super::reports::UnreportedAttempt>, u64), StoreError> {
        const UNREPORTED: &str = "FROM decisions d JOIN events e ON e.id = d.event_id
             WHERE d.event_id IS NOT NULL AND e.at >= $1 AND e.at < $2
               AND e.body->>'outcome' IS NULL
               AND NOT EXISTS (SELECT 1 FROM events r WHERE r.account_id = e.account_id
                               AND r.body->>'attempt_id' = e.id)
               AND ($3::text[] IS NULL OR e.account_id IN
                    (SELECT id FROM accounts WHERE client = ANY($3)))";
        let total: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) {UNREPORTED}")))
                .bind(since)
                .bind(until)
                .bind(clients)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT e.id, e.account_id, e.at, e.body::text AS body {UNREPORTED} ORDER BY e.at, e.seq LIMIT $4"
        )))
        .bind(since)
        .bind(until)
        .bind(clients)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let attempts = rows
            .iter()
            .map(|row| {
                Ok(super::reports::UnreportedAttempt {
                    attempt_id: row.try_get("id")?,
                    account_id: row.try_get("account_id")?,
                    at: row.try_get("at")?,
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
        let mut query = QueryBuilder::<Postgres>::new(
            "SELECT seq, id, account_id, decided_at, question::text AS question, decision::text AS decision, event_id FROM decisions WHERE TRUE",
        );
        if let Some(account_id) = &search.account_id {
            query
                .push(" AND account_id = ")
                .push_bind(account_id.as_str());
        }
        if let Some(clients) = &search.clients {
            query
                .push(" AND account_id IN (SELECT id FROM accounts WHERE client = ANY(")
                .push_bind(clients.clone())
                .push("))");
        }
        if let Some(from) = search.from {
            query.push(" AND decided_at >= ").push_bind(from);
        }
        if let Some(to) = search.to {
            query.push(" AND decided_at < ").push_bind(to);
        }
        if let Some(outcome) = &search.outcome {
            query.push(" AND outcome = ").push_bind(outcome.as_str());
        }
        if let Some(rule) = &search.rule {
            // Containment: some reason has exactly this rule.
            let reason = serde_json::json!([{ "rule": rule }]).to_string();
            query
                .push(" AND decision -> 'reasons' @> ")
                .push_bind(reason)
                .push("::jsonb");
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
                    decided_at: row.try_get("decided_at")?,
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
            "SELECT id, consumer_id FROM accounts WHERE sched_partition IS NULL ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("consumer_id")?)))
            .collect()
    }

    pub(super) async fn set_partitions(&self, rows: &[(String, i64)]) -> Result<(), StoreError> {
        let (ids, partitions): (Vec<&str>, Vec<i64>) =
            rows.iter().map(|(id, p)| (id.as_str(), *p)).unzip();
        sqlx::query(
            "UPDATE accounts SET sched_partition = u.part
               FROM UNNEST($1::text[], $2::bigint[]) AS u(id, part) WHERE accounts.id = u.id",
        )
        .bind(ids)
        .bind(partitions)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn claim_partition(
        &self,
        claim: &PartitionClaim<'_>,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO scheduler_claims (slot, part, owner, claimed_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (slot, part) DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at
             WHERE scheduler_claims.done_at IS NULL AND scheduler_claims.claimed_at < $5",
        )
        .bind(claim.slot)
        .bind(claim.partition)
        .bind(claim.owner)
        .bind(now)
        .bind(stale_before)
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
            "UPDATE scheduler_claims SET done_at = $4, planned = $5 WHERE slot = $1 AND part = $2 AND owner = $3",
        )
        .bind(claim.slot)
        .bind(claim.partition)
        .bind(claim.owner)
        .bind(now)
        .bind(planned)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn forget_claims_before(&self, slot: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM scheduler_claims WHERE slot < $1")
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
        sqlx::query("INSERT INTO api_keys (id, name, secret_hash, scopes, created_at, clients) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(name)
            .bind(secret_hash)
            .bind(scopes)
            .bind(now)
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
            "SELECT secret_hash, scopes, last_used_at, clients, expires_at FROM api_keys WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok((
                row.get("secret_hash"),
                row.get("scopes"),
                row.try_get("last_used_at")?,
                row.try_get("clients")?,
                row.try_get("expires_at")?,
            ))
        })
        .transpose()
    }

    /// The pool, for the console's rows (`console.rs`).
    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        // Reachable is not enough: without its writers the ledger records no attempt.
        if self.writer.is_closed() {
            return Err(StoreError::WriterStopped);
        }
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(super) async fn policy_sources(&self, digest: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT sources::text AS sources FROM policies WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.get("sources")))
    }
}

/// The history of accounts `$1` from `$2` on, without its order: their events (part 1),
/// then their pending notices (part 2). (A macro, so that the batch's read can add a
/// part to the same statement.)
macro_rules! history_parts {
    () => {
        "SELECT 1 AS part, id, account_id, body::text AS body, at, seq FROM events
  WHERE account_id = ANY($1) AND at >= $2
 UNION ALL
 SELECT 2, id, account_id, request::text, due_at, seq FROM notices
  WHERE account_id = ANY($1) AND status = 'pending'"
    };
}
use history_parts;

/// The history of accounts `$1` from `$2` on: their events (part 1), then their pending
/// notices (part 2), each in time order. One statement, one snapshot: a notice delivered
/// meanwhile (its place closed and its contact written in one transaction) is seen
/// either as pending or as sent, never as neither.
const HISTORY: &str = concat!(history_parts!(), " ORDER BY part, at, seq");

/// An account's stored body, the key of its consumer and its history from `since` on,
/// with the events of the consumer's other accounts; `None` when the account does not
/// exist. (Check-and-record reads the same under its locks, `batch.rs`.)
async fn account_and_history(
    connection: &mut sqlx::PgConnection,
    account_id: &str,
    since: DateTime<Utc>,
) -> Result<Option<AccountHistoryRows>, StoreError> {
    let debts = "SELECT id FROM accounts
          WHERE id = $1 OR consumer_id = (SELECT consumer_id FROM accounts WHERE id = $1)";
    let debts: Vec<String> = sqlx::query(debts)
        .bind(account_id)
        .fetch_all(&mut *connection)
        .await?
        .into_iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
    let Some(account) = sqlx::query(
        "SELECT body::text AS body, coalesce('consumer:' || consumer_id, 'account:' || id) AS debtor
           FROM accounts WHERE id = $1",
    )
    .bind(account_id)
    .fetch_optional(&mut *connection)
    .await?
    else {
        return Ok(None);
    };
    let history = sqlx::query(HISTORY)
        .bind(&debts)
        .bind(since)
        .fetch_all(&mut *connection)
        .await?
        .into_iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let account_id: String = row.try_get("account_id")?;
            let body: String = row.try_get("body")?;
            if row.try_get::<i32, _>("part")? == 2 {
                return pending_notice_row(&id, &account_id, row.try_get("at")?, &body);
            }
            Ok(Some(HistoryRow {
                id,
                account_id,
                body,
            }))
        })
        .filter_map(Result::transpose)
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(AccountHistoryRows {
        body: account.try_get("body")?,
        history,
    }))
}

/// Appends one event under the account's row lock, bringing the account up to date
/// when the event changes it.
async fn append_event(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    row: &EventRow,
    links: &mut Links,
) -> Result<(), StoreError> {
    let account = sqlx::query("SELECT body::text AS body FROM accounts WHERE id = $1 FOR UPDATE")
        .bind(&row.account_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::AccountNotFound(row.account_id.clone()))?;
    // The account's row is locked: a concurrent report of the same outcome waits, then
    // finds this one.
    if let Some(outcome_of) = &row.outcome_of {
        let attempt: Option<String> =
            sqlx::query_scalar("SELECT body::text FROM events WHERE id = $1 AND account_id = $2")
                .bind(&outcome_of.attempt_id)
                .bind(&row.account_id)
                .fetch_optional(&mut **tx)
                .await?;
        outcome_of.check(attempt.as_deref(), &row.account_id)?;
        let reported: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM events WHERE account_id = $1 AND body->>'attempt_id' = $2 LIMIT 1",
        )
        .bind(&row.account_id)
        .bind(&outcome_of.attempt_id)
        .fetch_optional(&mut **tx)
        .await?;
        if reported.is_some() {
            return Err(StoreError::OutcomeKnown(outcome_of.attempt_id.clone()));
        }
    }
    if let Some(updated) = row.updated_account(account.get("body"))? {
        sqlx::query("UPDATE accounts SET body = $2::jsonb, updated_at = $3 WHERE id = $1")
            .bind(&row.account_id)
            .bind(updated)
            .bind(row.recorded_at)
            .execute(&mut **tx)
            .await?;
    }
    insert_events(tx, std::slice::from_ref(row), links).await
}

/// Queues a notice; `false` when one with its idempotency key is already queued (the new
/// one is not).
async fn insert_notice(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    row: &NoticeRow,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO notices (id, account_id, idempotency_key, status, due_at, request, created_at, updated_at)
         VALUES ($1, $2, $3, 'pending', $4, $5::jsonb, $6, $6)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.account_id)
    .bind(&row.idempotency_key)
    .bind(row.due_at)
    .bind(&row.request)
    .bind(row.now)
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

fn notice_from_row(row: &sqlx::postgres::PgRow) -> Result<Notice, StoreError> {
    NoticeColumns {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        status: row.try_get("status")?,
        due_at: row.try_get("due_at")?,
        attempts: i64::from(row.try_get::<i32, _>("attempts")?),
        last_error: row.try_get("last_error")?,
        request: row.try_get("request_text")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    }
    .into_notice()
}

/// Fails with [`StoreError::AccountNotFound`] for the first of `rows` stored already
/// under a client not in `clients` (or under none).
async fn refuse_foreign_accounts(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    rows: &[AccountRow],
    clients: &[String],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(IMPORT_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(|row| row.id.as_str()).collect();
        let row = sqlx::query(
            "SELECT id FROM accounts WHERE id = ANY($1)
               AND (client IS NULL OR NOT client = ANY($2)) ORDER BY id LIMIT 1",
        )
        .bind(&ids)
        .bind(clients)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = row {
            return Err(StoreError::AccountNotFound(row.try_get("id")?));
        }
    }
    Ok(())
}

async fn upsert_accounts(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    rows: &[AccountRow],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(IMPORT_CHUNK) {
        let mut upsert = QueryBuilder::<Postgres>::new(
            "INSERT INTO accounts (id, consumer_id, body, created_at, updated_at, sched_partition, client) ",
        );
        upsert.push_values(chunk, |mut values, row| {
            values
                .push_bind(&row.id)
                .push_bind(&row.consumer_id)
                .push_bind(&row.body)
                .push_unseparated("::jsonb")
                .push_bind(now)
                .push_bind(now)
                .push_bind(row.partition)
                .push_bind(&row.client);
        });
        upsert.push(
            " ON CONFLICT (id) DO UPDATE SET consumer_id = excluded.consumer_id, body = excluded.body, updated_at = excluded.updated_at, sched_partition = excluded.sched_partition, client = excluded.client",
        );
        upsert.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Writes events with their chain links (under their accounts' locks). An imported
/// entry already stored is not written again and takes no place in its chain: such
/// entries are left out first.
async fn insert_events(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    rows: &[EventRow],
    links: &mut Links,
) -> Result<(), StoreError> {
    let keys: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.import_key.as_deref())
        .collect();
    let stored: std::collections::HashSet<String> = if keys.is_empty() {
        std::collections::HashSet::new()
    } else {
        sqlx::query_scalar(
            "SELECT import_key FROM events WHERE import_key IS NOT NULL AND import_key = ANY($1)",
        )
        .bind(&keys)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect()
    };
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
    load_heads(tx, links, &accounts).await?;
    let chained: Vec<Link> = rows
        .iter()
        .map(|row| links.link(&row.account_id, event_content_hash(row)))
        .collect();
    bind_event_columns(sqlx::query(insert_events_from_arrays!()), &rows, &chained)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Inserts events from the arrays `$1`–`$9` ([`bind_event_columns`]), in their order.
/// Arrays, not a `VALUES` list per number of rows: one statement text, so each
/// connection prepares and plans it once. (A macro, so that the batch's write can
/// include it.)
macro_rules! insert_events_from_arrays {
    () => {
        "INSERT INTO events (id, account_id, at, body, recorded_at, import_key, chain_pos, content_hash, entry_hash)
         SELECT id, account_id, at, body::jsonb, recorded_at, import_key, chain_pos, content_hash, entry_hash
           FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[],
                       $6::text[], $7::int8[], $8::text[], $9::text[])
                WITH ORDINALITY AS row (id, account_id, at, body, recorded_at, import_key,
                                        chain_pos, content_hash, entry_hash, n)
          ORDER BY n"
    };
}
use insert_events_from_arrays;

/// Upserts chain heads from the arrays of the three numbered parameters
/// ([`bind_head_columns`]): `upsert_heads_from_arrays!(1, 2, 3)` on its own, other
/// numbers within a statement that binds more.
macro_rules! upsert_heads_from_arrays {
    ($ids:literal, $positions:literal, $heads:literal) => {
        concat!(
            "INSERT INTO chain_heads (account_id, position, head)
             SELECT * FROM unnest($", $ids, "::text[], $", $positions, "::int8[], $", $heads, "::text[])
             ON CONFLICT (account_id) DO UPDATE SET position = excluded.position, head = excluded.head"
        )
    };
}
use upsert_heads_from_arrays;

type ArrayQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// One column of a multi-row statement's rows, bound as an array.
fn column<'a, T, V>(rows: &'a [T], value: impl Fn(&'a T) -> V) -> Vec<V> {
    rows.iter().map(value).collect()
}

/// Binds the columns of `rows` with their links as the next nine parameters.
fn bind_event_columns<'q>(
    query: ArrayQuery<'q>,
    rows: &[&'q EventRow],
    links: &'q [Link],
) -> ArrayQuery<'q> {
    query
        .bind(column(rows, |row| row.id.as_str()))
        .bind(column(rows, |row| row.account_id.as_str()))
        .bind(column(rows, |row| row.at))
        .bind(column(rows, |row| row.body.as_str()))
        .bind(column(rows, |row| row.recorded_at))
        .bind(column(rows, |row| row.import_key.as_deref()))
        .bind(column(links, |link| link.position))
        .bind(column(links, |link| link.content_hash.as_str()))
        .bind(column(links, |link| link.entry_hash.as_str()))
}

/// Binds the heads `changed` as the next three parameters.
fn bind_head_columns<'q>(query: ArrayQuery<'q>, changed: &[(&'q str, &'q Head)]) -> ArrayQuery<'q> {
    query
        .bind(column(changed, |(id, _)| *id))
        .bind(column(changed, |(_, head)| head.position))
        .bind(column(changed, |(_, head)| head.hash.as_str()))
}

/// Loads the heads of the accounts not yet known to `links`.
async fn load_heads(
    tx: &mut sqlx::Transaction<'static, Postgres>,
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
        let rows = sqlx::query(
            "SELECT account_id, position, head FROM chain_heads WHERE account_id = ANY($1)",
        )
        .bind(chunk)
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
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
async fn save_heads(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    links: &Links,
) -> Result<(), StoreError> {
    for chunk in links.changed().chunks(IMPORT_CHUNK) {
        bind_head_columns(sqlx::query(upsert_heads_from_arrays!(1, 2, 3)), chunk)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

// --- consumer pages (the scheduler; see `consumers.rs`) -------------------------------

/// A page query's rows split into accounts and events.
fn page_rows(rows: Vec<sqlx::postgres::PgRow>) -> (Vec<PageAccount>, Vec<PageEvent>) {
    let mut accounts = Vec::new();
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        if row.get::<i32, _>("part") == 0 {
            accounts.push(PageAccount {
                id: row.get("account_id"),
                consumer_id: row.get("consumer_id"),
                body: row.get("body"),
                anchor: row.get("anchor"),
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

/// One page of consumers: anchors are the next `limit` account ids (after the cursor,
/// when there is one); every account of their consumers comes along, then every event
/// of those accounts. One round trip, one snapshot.
macro_rules! postgres_consumer_page {
    ($anchors:literal) => {
        concat!(
            "WITH anchors AS (", $anchors, "),
             members AS (SELECT id FROM anchors
                         UNION SELECT id FROM accounts
                          WHERE consumer_id IN (SELECT consumer_id FROM anchors WHERE consumer_id IS NOT NULL))
             SELECT 0 AS part, a.id AS account_id, a.consumer_id AS consumer_id, a.body::text AS body,
                    a.id IN (SELECT id FROM anchors) AS anchor, 0::bigint AS seq, NULL::text AS event_id
               FROM accounts a WHERE a.id IN (SELECT id FROM members)
             UNION ALL
             SELECT 1, e.account_id, NULL, e.body::text, false, e.seq, e.id
               FROM events e WHERE e.account_id IN (SELECT id FROM members)
             ORDER BY part, account_id, seq"
        )
    };
}

impl PostgresStore {
    pub(super) async fn consumer_page_bounds(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM accounts) AS numbered
              WHERE n % $1 = 0 ORDER BY id",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// The rows of the consumers whose first account id is in `(after, upto]`.
    pub(super) async fn consumer_range(
        &self,
        after: Option<&str>,
        upto: Option<&str>,
    ) -> Result<(Vec<PageAccount>, Vec<PageEvent>), StoreError> {
        let query = match (after, upto) {
            (None, None) => sqlx::query(postgres_consumer_page!(
                "SELECT id, consumer_id FROM accounts"
            )),
            (Some(after), None) => sqlx::query(postgres_consumer_page!(
                "SELECT id, consumer_id FROM accounts WHERE id > $1"
            ))
            .bind(after.to_string()),
            (None, Some(upto)) => sqlx::query(postgres_consumer_page!(
                "SELECT id, consumer_id FROM accounts WHERE id <= $1"
            ))
            .bind(upto.to_string()),
            (Some(after), Some(upto)) => sqlx::query(postgres_consumer_page!(
                "SELECT id, consumer_id FROM accounts WHERE id > $1 AND id <= $2"
            ))
            .bind(after.to_string())
            .bind(upto.to_string()),
        };
        let rows = query.fetch_all(&self.pool).await?;
        Ok(page_rows(rows))
    }

    pub(super) async fn consumer_page(
        &self,
        after: Option<&str>,
        limit: i64,
        partition: Option<i64>,
    ) -> Result<(Vec<PageAccount>, Vec<PageEvent>), StoreError> {
        // An account written before its partition was known is in partition 0.
        let query = match after {
            Some(after) => sqlx::query(postgres_consumer_page!(
                "SELECT id, consumer_id FROM accounts WHERE id > $1 AND ($3::bigint IS NULL OR coalesce(sched_partition, 0) = $3) ORDER BY id LIMIT $2"
            ))
            .bind(after.to_string())
            .bind(limit)
            .bind(partition),
            None => sqlx::query(postgres_consumer_page!(
                "SELECT id, consumer_id FROM accounts WHERE ($2::bigint IS NULL OR coalesce(sched_partition, 0) = $2) ORDER BY id LIMIT $1"
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
              WHERE d.event_id IS NOT NULL AND e.at >= $1 AND e.at < $2",
        )
        .bind(since)
        .bind(until)
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
            "SELECT seq, id, account_id, decided_at, policy_digest, question::text AS question, decision::text AS decision, event_id
               FROM decisions WHERE decided_at >= $1 AND decided_at < $2 ORDER BY seq",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let decision = DecisionRow {
                    id: row.get("id"),
                    seq: row.get("seq"),
                    account_id: row.get("account_id"),
                    decided_at: row.try_get("decided_at")?,
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
            "SELECT id, account_id, decided_at, outcome, question::text AS question, shadow::text AS shadow FROM decisions
              WHERE shadow IS NOT NULL AND decided_at >= $1 AND decided_at < $2 ORDER BY seq",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(ShadowRow {
                    decision_id: row.try_get("id")?,
                    account_id: row.try_get("account_id")?,
                    decided_at: row.try_get("decided_at")?,
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
              WHERE status = 'pending' AND left(idempotency_key, length($1)) = $1",
        )
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        Ok(keys)
    }
}

/// Locks the stored accounts among `ids`, in id order. Every writer takes its accounts'
/// locks first and anything else (an idempotency key, the chain heads) after, and in id
/// order, so two writers never wait on each other in a cycle (PostgreSQL would end one
/// with "deadlock detected"). Ids not stored lock nothing.
async fn lock_accounts<'a>(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), StoreError> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(IMPORT_CHUNK) {
        sqlx::query("SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(chunk)
            .fetch_all(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Keeps a key with its response, unless a key of that name is still remembered (one older
/// than `since` is replaced); `false` when it is. A concurrent claim of the same key waits
/// on its unique index until the first commits.
async fn claim_key(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    key: &super::IdempotencyKey,
    response: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (key, request_hash, response, created_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash,
           response = excluded.response, created_at = excluded.created_at
         WHERE idempotency_keys.created_at < $5
         RETURNING key",
    )
    .bind(&key.key)
    .bind(&key.request_hash)
    .bind(response)
    .bind(now)
    .bind(key.since)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(claimed.is_some())
}

/// The response kept for a remembered key; a key sent with another request is refused.
async fn first_response(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    key: &super::IdempotencyKey,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query(
        "SELECT request_hash, response FROM idempotency_keys WHERE key = $1 AND created_at >= $2",
    )
    .bind(&key.key)
    .bind(key.since)
    .fetch_optional(&mut **tx)
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

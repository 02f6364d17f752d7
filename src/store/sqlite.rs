//! The embedded SQLite ledger: one file, WAL, `synchronous = FULL` (a commit that
//! returned survives a crash), `BEGIN IMMEDIATE` for check-and-record so that writers
//! queue instead of racing.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{
    Attempt, EventQuery, EventRow, LoggedDecision, MAX_PAGE, Recorded, StoreError, StoredEvent,
    decide_attempt, from_json, instant_text, lookback_start, outcome_name, sources_json,
};
use crate::policy::Policy;

/// The SQLite implementation.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file of a `sqlite://PATH` URL.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool })
    }

    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("src/store/migrations/sqlite")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn put_account(
        &self,
        id: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = instant_text(now);
        sqlx::query(
            "INSERT INTO accounts (id, body, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(body)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn get_account(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT body FROM accounts WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.get("body")))
    }

    pub(super) async fn append_event(&self, row: &EventRow) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists = sqlx::query("SELECT 1 FROM accounts WHERE id = ?1")
            .bind(&row.account_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::AccountNotFound(row.account_id.clone()));
        }
        insert_event(&mut tx, row).await?;
        tx.commit().await?;
        Ok(())
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
        policy: &Policy,
        attempt: &Attempt,
        now: DateTime<Utc>,
        record: bool,
    ) -> Result<Recorded, StoreError> {
        // IMMEDIATE takes the write lock before reading: a second writer waits here
        // until this one commits, so it reads the event this one adds.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let account = sqlx::query("SELECT body FROM accounts WHERE id = ?1")
            .bind(&attempt.account_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::AccountNotFound(attempt.account_id.clone()))?;
        let history: Vec<String> = sqlx::query(
            "SELECT body FROM events WHERE account_id = ?1 AND at >= ?2 ORDER BY at, seq",
        )
        .bind(&attempt.account_id)
        .bind(instant_text(lookback_start(attempt.at)))
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|row| row.get("body"))
        .collect();
        let rows = decide_attempt(policy, account.get("body"), &history, attempt, now, record)?;
        if let Some(event) = &rows.event {
            insert_event(&mut tx, event).await?;
        }
        sqlx::query(
            "INSERT INTO decisions (id, account_id, decided_at, outcome, policy_digest, question, decision)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(&rows.decision_id)
        .bind(&attempt.account_id)
        .bind(instant_text(now))
        .bind(outcome_name(&rows.decision))
        .bind(policy.digest())
        .bind(&rows.question)
        .bind(&rows.decision_json)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO policies (digest, sources, first_used_at) VALUES (?1, ?2, ?3) ON CONFLICT (digest) DO NOTHING")
            .bind(policy.digest())
            .bind(sources_json(policy)?)
            .bind(instant_text(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Recorded {
            decision: rows.decision,
            decision_id: rows.decision_id,
            event_id: rows.event.map(|e| e.id),
        })
    }

    pub(super) async fn list_decisions(
        &self,
        account_id: &str,
        limit: u32,
    ) -> Result<Vec<LoggedDecision>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM (SELECT seq, id, decided_at, question, decision FROM decisions WHERE account_id = ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
        )
        .bind(account_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(LoggedDecision {
                    id: row.get("id"),
                    seq: row.get("seq"),
                    account_id: account_id.to_string(),
                    decided_at: parse_instant(row.get("decided_at"))?,
                    question: from_json("logged question", row.get::<&str, _>("question"))?,
                    decision: from_json("logged decision", row.get::<&str, _>("decision"))?,
                })
            })
            .collect()
    }

    pub(super) async fn add_api_key(
        &self,
        id: &str,
        name: &str,
        secret_hash: &str,
        scopes: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO api_keys (id, name, secret_hash, scopes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .bind(id)
            .bind(name)
            .bind(secret_hash)
            .bind(scopes)
            .bind(instant_text(now))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn api_key(&self, id: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT secret_hash, scopes FROM api_keys WHERE id = ?1 AND revoked_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| (row.get("secret_hash"), row.get("scopes"))))
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
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

async fn insert_event(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    row: &EventRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO events (id, account_id, at, body, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(&row.id)
    .bind(&row.account_id)
    .bind(instant_text(row.at))
    .bind(&row.body)
    .bind(instant_text(row.recorded_at))
    .execute(&mut **tx)
    .await?;
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

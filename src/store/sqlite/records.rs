//! Legal holds, the records log and purges on the embedded ledger (see
//! [`crate::store::records`]).
//!
//! A purge runs under `BEGIN IMMEDIATE` (the database's write lock) with
//! `secure_delete` on, so the bytes of the rows it rewrites are zeroed in the file rather
//! than left in free space; after the commit the WAL is checkpointed and truncated, so no
//! old copy of a page survives there either.

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};

use super::{SqliteStore, parse_instant};
use crate::domain::chain::{self, RecordEntry};
use crate::records::{Hold, HoldKind, HoldScope, Selected};
use crate::store::records::{
    CandidateRow, PURGED_REASON, PurgeOutcome, PurgeRecord, PurgeRows, Release, digests_by_account,
    fact_text, hold_body, record_entry,
};
use crate::store::{StoreError, instant_text, new_id, stored_account, to_json};

impl SqliteStore {
    pub(in crate::store) async fn place_hold(&self, hold: &Hold) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if hold.scope == HoldScope::Account {
            let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM accounts WHERE id = ?1")
                .bind(&hold.target)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::AccountNotFound(hold.target.clone()));
            }
        }
        sqlx::query(
            "INSERT INTO legal_holds (id, scope, target, kind, reason, placed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&hold.id)
        .bind(hold.scope.as_str())
        .bind(&hold.target)
        .bind(hold.kind.as_str())
        .bind(&hold.reason)
        .bind(instant_text(hold.placed_at))
        .execute(&mut *tx)
        .await?;
        let account = (hold.scope == HoldScope::Account).then_some(hold.target.as_str());
        append_record(
            &mut tx,
            hold.placed_at,
            "hold_placed",
            account,
            hold_body(hold)?,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(in crate::store) async fn release_hold(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Release, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query("SELECT * FROM legal_holds WHERE id = ?1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(Release::NotFound);
        };
        let mut hold = hold_of(&row)?;
        if hold.released_at.is_some() {
            return Ok(Release::AlreadyReleased(hold));
        }
        sqlx::query("UPDATE legal_holds SET released_at = ?2 WHERE id = ?1")
            .bind(id)
            .bind(instant_text(now))
            .execute(&mut *tx)
            .await?;
        hold.released_at = Some(now);
        let account = (hold.scope == HoldScope::Account).then_some(hold.target.as_str());
        append_record(&mut tx, now, "hold_released", account, hold_body(&hold)?).await?;
        tx.commit().await?;
        Ok(Release::Released(hold))
    }

    pub(in crate::store) async fn holds(&self, released: bool) -> Result<Vec<Hold>, StoreError> {
        let sql = if released {
            "SELECT * FROM legal_holds ORDER BY placed_at DESC, id"
        } else {
            "SELECT * FROM legal_holds WHERE released_at IS NULL ORDER BY placed_at DESC, id"
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(hold_of).collect()
    }

    pub(in crate::store) async fn candidate_rows(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<CandidateRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.body, a.created_at,
                    a.purged_at IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM events
                                       WHERE account_id = a.id AND purged_at IS NULL)
                      AND NOT EXISTS (SELECT 1 FROM decisions
                                       WHERE account_id = a.id AND purged_at IS NULL) AS purged,
                    (SELECT max(at) FROM events WHERE account_id = a.id) AS last_event,
                    (SELECT max(decided_at) FROM decisions WHERE account_id = a.id) AS last_decision,
                    (SELECT max(updated_at) FROM notices WHERE account_id = a.id) AS last_notice
               FROM accounts a WHERE a.id > ?1 ORDER BY a.id LIMIT ?2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let optional = |name: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
                    row.try_get::<Option<String>, _>(name)?
                        .map(|text| parse_instant(&text))
                        .transpose()
                };
                Ok(CandidateRow {
                    id: row.try_get("id")?,
                    body: row.try_get("body")?,
                    stored_at: parse_instant(row.try_get("created_at")?)?,
                    purged: row.try_get("purged")?,
                    activity: [
                        optional("last_event")?,
                        optional("last_decision")?,
                        optional("last_notice")?,
                    ],
                })
            })
            .collect()
    }

    pub(in crate::store) async fn purge_account(
        &self,
        selected: &Selected,
        now: DateTime<Utc>,
    ) -> Result<PurgeOutcome, StoreError> {
        let mut connection = self.pool.acquire().await?;
        sqlx::query("PRAGMA secure_delete = ON")
            .execute(&mut *connection)
            .await?;
        let outcome = {
            let mut tx = sqlx::Connection::begin_with(&mut *connection, "BEGIN IMMEDIATE").await?;
            let outcome = purge_in(&mut tx, selected, now).await?;
            if matches!(outcome, PurgeOutcome::Purged(_)) {
                tx.commit().await?;
            }
            outcome
        };
        sqlx::query("PRAGMA secure_delete = OFF")
            .execute(&mut *connection)
            .await?;
        if matches!(outcome, PurgeOutcome::Purged(_)) {
            // Old copies of the rewritten pages live in the WAL until it is checkpointed.
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut *connection)
                .await;
        }
        Ok(outcome)
    }

    pub(in crate::store) async fn records_log(&self) -> Result<Vec<RecordEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM records_log ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(RecordEntry {
                    seq: row.try_get("seq")?,
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    action: row.try_get("action")?,
                    account_id: row.try_get("account_id")?,
                    body: row.try_get("body")?,
                    previous: row.try_get("previous")?,
                    hash: row.try_get("hash")?,
                })
            })
            .collect()
    }

    pub(in crate::store) async fn purged_facts(
        &self,
        account: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        facts_of(&mut connection, account).await
    }
}

/// The purge itself, inside the caller's write transaction.
async fn purge_in(
    tx: &mut SqliteConnection,
    selected: &Selected,
    now: DateTime<Utc>,
) -> Result<PurgeOutcome, StoreError> {
    let id = selected.account_id.as_str();
    // Purged, and nothing written since: nothing to do. Entries written after a purge
    // (a late payment) are purged in turn once their own retention has run.
    let row = sqlx::query(
        "SELECT body, purged_at IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM events WHERE account_id = ?1 AND purged_at IS NULL)
                  AND NOT EXISTS (SELECT 1 FROM decisions WHERE account_id = ?1 AND purged_at IS NULL)
                  AS purged
           FROM accounts WHERE id = ?1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(PurgeOutcome::Skipped("the account is gone"));
    };
    if row.try_get::<bool, _>("purged")? {
        return Ok(PurgeOutcome::Skipped("already purged"));
    }
    let account = stored_account(id, row.try_get("body")?)?;
    let held: Option<String> = sqlx::query_scalar(
        "SELECT id FROM legal_holds WHERE released_at IS NULL
            AND ((scope = 'account' AND target = ?1) OR (scope = 'client' AND target = ?2))
          LIMIT 1",
    )
    .bind(id)
    .bind(account.client.as_deref())
    .fetch_optional(&mut *tx)
    .await?;
    if held.is_some() {
        return Ok(PurgeOutcome::Skipped("a legal hold covers it"));
    }
    let latest: Option<String> = sqlx::query_scalar(
        "SELECT max(t) FROM (SELECT max(at) AS t FROM events WHERE account_id = ?1
           UNION ALL SELECT max(decided_at) FROM decisions WHERE account_id = ?1
           UNION ALL SELECT max(updated_at) FROM notices WHERE account_id = ?1)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if let Some(latest) = latest
        && parse_instant(&latest)? > selected.last_activity
    {
        return Ok(PurgeOutcome::Skipped(
            "collection activity newer than the selection",
        ));
    }
    let events = sqlx::query(
        "SELECT seq, body FROM events WHERE account_id = ?1 AND purged_at IS NULL ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("seq")?, r.try_get("body")?)))
    .collect::<Result<Vec<_>, StoreError>>()?;
    let decisions = sqlx::query(
        "SELECT seq, question, decision, shadow FROM decisions
          WHERE account_id = ?1 AND purged_at IS NULL ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("seq")?,
            r.try_get("question")?,
            r.try_get("decision")?,
            r.try_get("shadow")?,
        ))
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let notices =
        sqlx::query("SELECT seq, request FROM notices WHERE account_id = ?1 ORDER BY seq")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("seq")?, r.try_get("request")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
    let rows = PurgeRows {
        account,
        events,
        decisions,
        notices,
    };
    let scrubbed = rows.scrub()?;
    let at = instant_text(now);
    for (seq, body) in &scrubbed.events {
        sqlx::query("UPDATE events SET body = ?2, purged_at = ?3 WHERE seq = ?1")
            .bind(seq)
            .bind(body)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
    }
    for (seq, question, decision, shadow) in &scrubbed.decisions {
        sqlx::query(
            "UPDATE decisions SET question = ?2, decision = ?3, shadow = ?4, purged_at = ?5
              WHERE seq = ?1",
        )
        .bind(seq)
        .bind(question)
        .bind(decision)
        .bind(shadow)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    }
    for (seq, request) in &scrubbed.notices {
        sqlx::query(
            "UPDATE notices SET request = ?2, last_error = NULL,
                    status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END,
                    lease_until = NULL, updated_at = ?3
              WHERE seq = ?1",
        )
        .bind(seq)
        .bind(request)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    }
    let keys = sqlx::query("DELETE FROM idempotency_keys WHERE instr(response, ?1) > 0")
        .bind(serde_json::Value::String(id.to_string()).to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("UPDATE accounts SET body = ?2, purged_at = ?3 WHERE id = ?1")
        .bind(id)
        .bind(&scrubbed.account)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE legal_holds SET reason = ?2
          WHERE scope = 'account' AND target = ?1 AND released_at IS NOT NULL",
    )
    .bind(id)
    .bind(PURGED_REASON)
    .execute(&mut *tx)
    .await?;
    let facts = facts_of(&mut *tx, Some(id))
        .await?
        .into_iter()
        .next()
        .map_or_else(|| chain::facts_digest(&[]), |(_, digest)| digest);
    let record = PurgeRecord {
        account_id: id.to_string(),
        purged_at: now,
        rule: selected.rule,
        retention_years: selected.retention_years,
        last_activity: selected.last_activity,
        retention_end: selected.retention_end,
        events: scrubbed.events.len() as u64,
        decisions: scrubbed.decisions.len() as u64,
        notices: scrubbed.notices.len() as u64,
        idempotency_keys: keys,
        facts,
    };
    append_record(&mut *tx, now, "purge", Some(id), to_json(&record)?).await?;
    Ok(PurgeOutcome::Purged(record))
}

/// Appends an entry to the records log (the caller holds the write lock).
async fn append_record(
    tx: &mut SqliteConnection,
    at: DateTime<Utc>,
    action: &str,
    account_id: Option<&str>,
    body: String,
) -> Result<(), StoreError> {
    let previous: Option<String> =
        sqlx::query_scalar("SELECT hash FROM records_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    let entry = record_entry(previous, new_id(at), at, action, account_id, body);
    sqlx::query(
        "INSERT INTO records_log (id, at, action, account_id, body, previous, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(&entry.id)
    .bind(&entry.at)
    .bind(&entry.action)
    .bind(&entry.account_id)
    .bind(&entry.body)
    .bind(&entry.previous)
    .bind(&entry.hash)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The facts digest of every account with purged entries (or of one).
async fn facts_of(
    connection: &mut SqliteConnection,
    account: Option<&str>,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT account_id, chain_pos, 0 AS kind, id, at AS a, body AS b, NULL AS c, NULL AS d,
                NULL AS e
           FROM events WHERE purged_at IS NOT NULL AND (?1 IS NULL OR account_id = ?1)
         UNION ALL
         SELECT account_id, chain_pos, 1, id, decided_at, outcome, policy_digest, question, decision
           FROM decisions WHERE purged_at IS NOT NULL AND (?1 IS NULL OR account_id = ?1)
         ORDER BY 1, 2, 3, 4",
    )
    .bind(account)
    .fetch_all(&mut *connection)
    .await?;
    let mut texts = Vec::with_capacity(rows.len());
    for row in rows {
        let account_id: String = row.try_get("account_id")?;
        let kind: i64 = row.try_get("kind")?;
        let id: String = row.try_get("id")?;
        let columns: Vec<Option<String>> = vec![
            row.try_get("a")?,
            row.try_get("b")?,
            row.try_get("c")?,
            row.try_get("d")?,
            row.try_get("e")?,
        ];
        let columns: Vec<&str> = columns.iter().flatten().map(String::as_str).collect();
        let text = fact_text(if kind == 0 { "event" } else { "decision" }, &id, &columns);
        texts.push((account_id, text));
    }
    Ok(digests_by_account(texts))
}

fn hold_of(row: &sqlx::sqlite::SqliteRow) -> Result<Hold, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt {
        what: "legal hold",
        reason: format!("unknown {what}"),
    };
    let released: Option<String> = row.try_get("released_at")?;
    Ok(Hold {
        id: row.try_get("id")?,
        scope: HoldScope::parse(row.try_get("scope")?).ok_or_else(|| corrupt("scope"))?,
        target: row.try_get("target")?,
        kind: HoldKind::parse(row.try_get("kind")?).ok_or_else(|| corrupt("kind"))?,
        reason: row.try_get("reason")?,
        placed_at: parse_instant(row.try_get("placed_at")?)?,
        released_at: released.map(|t| parse_instant(&t)).transpose()?,
    })
}

//! The hash chains' reads and maintenance on the embedded ledger (see
//! [`crate::domain::chain`]): pages of chains for `dunner audit verify`, global
//! checkpoints, and the chaining of rows written before the chains existed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::{Row, SqliteConnection};

use super::{SqliteStore, load_heads, parse_instant, save_heads};
use crate::domain::chain::{
    self, AccountEntries, DecisionFields, EntryContent, EntryKind, Head, StoredEntry,
};
use crate::store::chain::{Checkpoint, Links, decision_content_hash};
use crate::store::{StoreError, instant_text};

impl SqliteStore {
    pub(in crate::store) async fn chain_page(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<AccountEntries>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        // One read transaction: the page's entries and heads are one snapshot.
        sqlx::query("BEGIN").execute(&mut *connection).await?;
        let page = read_page(&mut connection, after, limit).await;
        let _ = sqlx::query("COMMIT").execute(&mut *connection).await;
        page
    }

    pub(in crate::store) async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let rows = sqlx::query("SELECT * FROM chain_checkpoints ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Checkpoint {
                    seq: row.try_get("seq")?,
                    taken_at: parse_instant(row.try_get("taken_at")?)?,
                    accounts: row.try_get("accounts")?,
                    entries: row.try_get("entries")?,
                    digest: row.try_get("digest")?,
                    previous: row.try_get("previous")?,
                    hash: row.try_get("hash")?,
                    signature: row.try_get("signature")?,
                })
            })
            .collect()
    }

    pub(in crate::store) async fn sign_checkpoint(
        &self,
        seq: i64,
        signature: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE chain_checkpoints SET signature = ?2 WHERE seq = ?1")
            .bind(seq)
            .bind(signature)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The digest over the heads as of the latest checkpoint, as they are stored now.
    pub(in crate::store) async fn checkpoint_digest(
        &self,
    ) -> Result<(i64, i64, String), StoreError> {
        let mut heads = Vec::new();
        let mut rows = sqlx::query(
            "SELECT account_id, checkpoint_position, checkpoint_head FROM chain_heads
              WHERE checkpoint_position IS NOT NULL",
        )
        .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            heads.push((
                row.try_get("account_id")?,
                Head {
                    position: row.try_get("checkpoint_position")?,
                    hash: row
                        .try_get::<Option<String>, _>("checkpoint_head")?
                        .unwrap_or_default(),
                },
            ));
        }
        Ok(chain::checkpoint_digest(heads))
    }

    pub(in crate::store) async fn take_checkpoint(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Checkpoint, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE chain_heads SET checkpoint_position = position, checkpoint_head = head",
        )
        .execute(&mut *tx)
        .await?;
        let mut heads = Vec::new();
        {
            let mut rows =
                sqlx::query("SELECT account_id, position, head FROM chain_heads").fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                heads.push((
                    row.try_get("account_id")?,
                    Head {
                        position: row.try_get("position")?,
                        hash: row.try_get("head")?,
                    },
                ));
            }
        }
        let previous: Option<String> =
            sqlx::query_scalar("SELECT hash FROM chain_checkpoints ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let previous = previous.unwrap_or_else(|| chain::GENESIS.to_string());
        let (accounts, entries, digest) = chain::checkpoint_digest(heads);
        let taken_at = instant_text(now);
        let hash = chain::checkpoint_hash(&previous, &taken_at, accounts, entries, &digest);
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO chain_checkpoints (taken_at, accounts, entries, digest, previous, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING seq",
        )
        .bind(&taken_at)
        .bind(accounts)
        .bind(entries)
        .bind(&digest)
        .bind(&previous)
        .bind(&hash)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Checkpoint {
            seq,
            taken_at: parse_instant(&taken_at)?,
            accounts,
            entries,
            digest,
            previous,
            hash,
            signature: None,
        })
    }

    pub(in crate::store) async fn chain_unchained(&self) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let accounts: Vec<String> = sqlx::query_scalar(
            "SELECT account_id FROM events WHERE chain_pos IS NULL
             UNION SELECT account_id FROM decisions WHERE chain_pos IS NULL ORDER BY 1",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut links = Links::default();
        let mut chained = 0;
        for account in &accounts {
            load_heads(&mut tx, &mut links, &[account.as_str()]).await?;
            let events = sqlx::query(
                "SELECT seq, id, at, body, recorded_at FROM events
                  WHERE account_id = ?1 AND chain_pos IS NULL ORDER BY seq",
            )
            .bind(account)
            .fetch_all(&mut *tx)
            .await?;
            for row in events {
                let hash = chain::event_hash(
                    row.try_get("id")?,
                    account,
                    row.try_get("at")?,
                    row.try_get("body")?,
                    row.try_get("recorded_at")?,
                );
                let link = links.link(account, hash);
                set_link(&mut tx, "events", row.try_get("seq")?, &link).await?;
                chained += 1;
            }
            let decisions = sqlx::query(
                "SELECT seq, id, decided_at, outcome, policy_digest, question, decision, event_id
                   FROM decisions WHERE account_id = ?1 AND chain_pos IS NULL ORDER BY seq",
            )
            .bind(account)
            .fetch_all(&mut *tx)
            .await?;
            for row in decisions {
                let event_id: Option<String> = row.try_get("event_id")?;
                let hash = decision_content_hash(
                    row.try_get("id")?,
                    account,
                    &DecisionFields {
                        decided_at: row.try_get("decided_at")?,
                        outcome: row.try_get("outcome")?,
                        policy_digest: row.try_get("policy_digest")?,
                        question: row.try_get("question")?,
                        decision: row.try_get("decision")?,
                        event_id: event_id.as_deref(),
                    },
                );
                let link = links.link(account, hash);
                set_link(&mut tx, "decisions", row.try_get("seq")?, &link).await?;
                chained += 1;
            }
        }
        save_heads(&mut tx, &links).await?;
        tx.commit().await?;
        Ok(chained)
    }
}

async fn set_link(
    connection: &mut SqliteConnection,
    table: &'static str,
    seq: i64,
    link: &chain::Link,
) -> Result<(), StoreError> {
    let sql = match table {
        "events" => {
            "UPDATE events SET chain_pos = ?2, content_hash = ?3, entry_hash = ?4 WHERE seq = ?1"
        }
        _ => {
            "UPDATE decisions SET chain_pos = ?2, content_hash = ?3, entry_hash = ?4 WHERE seq = ?1"
        }
    };
    sqlx::query(sql)
        .bind(seq)
        .bind(link.position)
        .bind(&link.content_hash)
        .bind(&link.entry_hash)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

async fn read_page(
    connection: &mut SqliteConnection,
    after: &str,
    limit: i64,
) -> Result<Vec<AccountEntries>, StoreError> {
    let last: Option<String> = sqlx::query_scalar(
        "SELECT max(account_id) FROM (
           SELECT account_id FROM (
             SELECT account_id FROM (SELECT DISTINCT account_id FROM events WHERE account_id > ?1 ORDER BY account_id LIMIT ?2)
             UNION SELECT account_id FROM (SELECT DISTINCT account_id FROM decisions WHERE account_id > ?1 ORDER BY account_id LIMIT ?2)
             UNION SELECT account_id FROM (SELECT account_id FROM chain_heads WHERE account_id > ?1 ORDER BY account_id LIMIT ?2))
           ORDER BY account_id LIMIT ?2)",
    )
    .bind(after)
    .bind(limit)
    .fetch_one(&mut *connection)
    .await?;
    let Some(last) = last else {
        return Ok(Vec::new());
    };
    let mut page: BTreeMap<String, AccountEntries> = BTreeMap::new();
    let events = sqlx::query(
        "SELECT account_id, seq, id, chain_pos, content_hash, entry_hash, at, body, recorded_at, purged_at IS NOT NULL AS purged
           FROM events WHERE account_id > ?1 AND account_id <= ?2",
    )
    .bind(after)
    .bind(&last)
    .fetch_all(&mut *connection)
    .await?;
    for row in events {
        let entry = StoredEntry {
            kind: EntryKind::Event,
            id: row.try_get("id")?,
            seq: row.try_get("seq")?,
            position: row.try_get("chain_pos")?,
            content_hash: row.try_get("content_hash")?,
            entry_hash: row.try_get("entry_hash")?,
            content: if row.try_get::<bool, _>("purged")? {
                EntryContent::Purged
            } else {
                EntryContent::Event {
                    at: row.try_get("at")?,
                    body: row.try_get("body")?,
                    recorded_at: row.try_get("recorded_at")?,
                }
            },
        };
        chain_of(&mut page, row.try_get("account_id")?)
            .entries
            .push(entry);
    }
    let decisions = sqlx::query(
        "SELECT account_id, seq, id, chain_pos, content_hash, entry_hash, decided_at, outcome,
                policy_digest, question, decision, event_id, purged_at IS NOT NULL AS purged
           FROM decisions WHERE account_id > ?1 AND account_id <= ?2",
    )
    .bind(after)
    .bind(&last)
    .fetch_all(&mut *connection)
    .await?;
    for row in decisions {
        let entry = StoredEntry {
            kind: EntryKind::Decision,
            id: row.try_get("id")?,
            seq: row.try_get("seq")?,
            position: row.try_get("chain_pos")?,
            content_hash: row.try_get("content_hash")?,
            entry_hash: row.try_get("entry_hash")?,
            content: if row.try_get::<bool, _>("purged")? {
                EntryContent::Purged
            } else {
                EntryContent::Decision {
                    decided_at: row.try_get("decided_at")?,
                    outcome: row.try_get("outcome")?,
                    policy_digest: row.try_get("policy_digest")?,
                    question: row.try_get("question")?,
                    decision: row.try_get("decision")?,
                    event_id: row.try_get("event_id")?,
                }
            },
        };
        chain_of(&mut page, row.try_get("account_id")?)
            .entries
            .push(entry);
    }
    let heads = sqlx::query(
        "SELECT account_id, position, head, checkpoint_position, checkpoint_head
           FROM chain_heads WHERE account_id > ?1 AND account_id <= ?2",
    )
    .bind(after)
    .bind(&last)
    .fetch_all(&mut *connection)
    .await?;
    for row in heads {
        let chain = chain_of(&mut page, row.try_get("account_id")?);
        chain.head = Some(Head {
            position: row.try_get("position")?,
            hash: row.try_get("head")?,
        });
        let checkpoint_position: Option<i64> = row.try_get("checkpoint_position")?;
        let checkpoint_head: Option<String> = row.try_get("checkpoint_head")?;
        chain.checkpoint = checkpoint_position
            .zip(checkpoint_head)
            .map(|(position, hash)| Head { position, hash });
    }
    Ok(page.into_values().collect())
}

/// The chain of `id` in a page being read, added when first seen.
pub(in crate::store) fn chain_of(
    page: &mut BTreeMap<String, AccountEntries>,
    id: String,
) -> &mut AccountEntries {
    page.entry(id.clone()).or_insert_with(|| AccountEntries {
        account_id: id,
        entries: Vec::new(),
        head: None,
        checkpoint: None,
    })
}

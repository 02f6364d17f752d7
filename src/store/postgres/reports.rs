//! The reports' reads of the PostgreSQL ledger (see [`crate::store::reports`]): one sqlx
//! stream per partition, each on its own pooled connection. Events and decisions are
//! partitioned by `seq` ranges, accounts by a hash of their id.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::Row;

use super::PostgresStore;
use crate::store::StoreError;
use crate::store::reports::{
    AccountFold, AccountScan, DecisionFold, DecisionScan, EventFold, EventScan, HistoryFold,
    HistoryWanted, seq_ranges,
};

/// The rows about accounts of the clients in `$5` (NULL: every account).
const CLIENTS_5: &str =
    "AND ($5::text[] IS NULL OR account_id IN (SELECT id FROM accounts WHERE client = ANY($5)))";

/// Wanted accounts read per round trip.
const HISTORY_BATCH: usize = 500;

impl PostgresStore {
    pub(in crate::store) async fn fold_accounts<F: AccountFold>(
        &self,
        folds: Vec<F>,
        clients: Option<&[String]>,
    ) -> Result<Vec<F>, StoreError> {
        let parts = i32::try_from(folds.len().max(1)).unwrap_or(1);
        let clients = clients.map(<[String]>::to_vec);
        let tasks = folds.into_iter().zip(0..).map(|(mut fold, part)| {
            let pool = self.pool.clone();
            let clients = clients.clone();
            tokio::spawn(async move {
                let mut rows = sqlx::query(
                    "SELECT id, consumer_id, body::text AS body FROM accounts
                      WHERE (hashtext(id) & 2147483647) % $1 = $2
                        AND ($3::text[] IS NULL OR client = ANY($3))",
                )
                .bind(parts)
                .bind(part)
                .bind(clients)
                .fetch(&pool);
                while let Some(row) = rows.try_next().await? {
                    fold.account(AccountScan {
                        id: row.try_get("id")?,
                        consumer_id: row.try_get("consumer_id")?,
                        body: row.try_get("body")?,
                    })?;
                }
                Ok::<_, StoreError>(fold)
            })
        });
        join(tasks.collect()).await
    }

    pub(in crate::store) async fn fold_events<F: EventFold>(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        folds: Vec<F>,
        clients: Option<&[String]>,
    ) -> Result<Vec<F>, StoreError> {
        let ranges = self
            .bounds("SELECT min(seq), max(seq) FROM events", folds.len())
            .await?;
        let clients = clients.map(<[String]>::to_vec);
        let tasks = folds
            .into_iter()
            .zip(ranges)
            .map(|(mut fold, (start, end))| {
                let pool = self.pool.clone();
                let clients = clients.clone();
                tokio::spawn(async move {
                    let mut rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT account_id, at, body::text AS body FROM events
                      WHERE seq >= $1 AND seq < $2 AND at >= $3 AND at < $4 {CLIENTS_5}"
                    )))
                    .bind(start)
                    .bind(end)
                    .bind(since)
                    .bind(until)
                    .bind(clients)
                    .fetch(&pool);
                    while let Some(row) = rows.try_next().await? {
                        fold.event(EventScan {
                            account_id: row.try_get("account_id")?,
                            at: row.try_get("at")?,
                            body: row.try_get("body")?,
                        })?;
                    }
                    fold.finish();
                    Ok::<_, StoreError>(fold)
                })
            });
        join(tasks.collect()).await
    }

    pub(in crate::store) async fn fold_decisions<F: DecisionFold>(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        folds: Vec<F>,
        clients: Option<&[String]>,
    ) -> Result<Vec<F>, StoreError> {
        let ranges = self
            .bounds("SELECT min(seq), max(seq) FROM decisions", folds.len())
            .await?;
        let clients = clients.map(<[String]>::to_vec);
        let tasks = folds.into_iter().zip(ranges).map(|(mut fold, (start, end))| {
            let pool = self.pool.clone();
            let clients = clients.clone();
            tokio::spawn(async move {
                // Allowed decisions are only counted: their JSON is not sent.
                let mut rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT outcome, CASE WHEN outcome = 'allow' THEN NULL ELSE decision::text END AS decision
                       FROM decisions
                      WHERE seq >= $1 AND seq < $2 AND decided_at >= $3 AND decided_at < $4 {CLIENTS_5}"
                )))
                .bind(start)
                .bind(end)
                .bind(since)
                .bind(until)
                .bind(clients)
                .fetch(&pool);
                while let Some(row) = rows.try_next().await? {
                    fold.decision(DecisionScan {
                        outcome: row.try_get("outcome")?,
                        decision: row.try_get("decision")?,
                    })?;
                }
                Ok::<_, StoreError>(fold)
            })
        });
        join(tasks.collect()).await
    }

    pub(in crate::store) async fn fold_histories<F: HistoryFold>(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        parts: Vec<(F, Vec<HistoryWanted>)>,
    ) -> Result<Vec<F>, StoreError> {
        let tasks = parts.into_iter().map(|(mut fold, wanted)| {
            let pool = self.pool.clone();
            tokio::spawn(async move {
                for batch in wanted.chunks(HISTORY_BATCH) {
                    let ids: Vec<&str> = batch.iter().map(|w| w.account_id.as_str()).collect();
                    let debts: Vec<&str> = batch
                        .iter()
                        .flat_map(|w| w.debts.iter().map(String::as_str))
                        .collect();
                    let accounts = sqlx::query(
                        "SELECT id, consumer_id, body::text AS body FROM accounts WHERE id = ANY($1)",
                    )
                    .bind(&ids)
                    .fetch_all(&pool)
                    .await?;
                    let events = sqlx::query(
                        "SELECT account_id, at, body::text AS body FROM events
                          WHERE account_id = ANY($1) AND at >= $2 AND at < $3 ORDER BY at, seq",
                    )
                    .bind(&debts)
                    .bind(since)
                    .bind(until)
                    .fetch_all(&pool)
                    .await?;
                    let events: Vec<EventScan<'_>> = events
                        .iter()
                        .map(|row| {
                            Ok::<_, sqlx::Error>(EventScan {
                                account_id: row.try_get("account_id")?,
                                at: row.try_get("at")?,
                                body: row.try_get("body")?,
                            })
                        })
                        .collect::<Result<_, _>>()?;
                    let mut by_debt: HashMap<&str, Vec<EventScan<'_>>> = HashMap::new();
                    for event in events {
                        by_debt.entry(event.account_id).or_default().push(event);
                    }
                    for wanted in batch {
                        let account = accounts
                            .iter()
                            .find(|row| row.try_get::<&str, _>("id").ok() == Some(&wanted.account_id))
                            .map(|row| {
                                Ok::<_, sqlx::Error>(AccountScan {
                                    id: row.try_get("id")?,
                                    consumer_id: row.try_get("consumer_id")?,
                                    body: row.try_get("body")?,
                                })
                            })
                            .transpose()?;
                        let mut history: Vec<EventScan<'_>> = wanted
                            .debts
                            .iter()
                            .filter_map(|debt| by_debt.get(debt.as_str()))
                            .flatten()
                            .copied()
                            .collect();
                        history.sort_by_key(|event| event.at);
                        fold.history(wanted, account, &history)?;
                    }
                }
                Ok::<_, StoreError>(fold)
            })
        });
        join(tasks.collect()).await
    }

    async fn bounds(&self, sql: &'static str, parts: usize) -> Result<Vec<(i64, i64)>, StoreError> {
        let (min, max): (Option<i64>, Option<i64>) =
            sqlx::query_as(sql).fetch_one(&self.pool).await?;
        Ok(match (min, max) {
            (Some(min), Some(max)) => seq_ranges(min, max, parts),
            _ => seq_ranges(0, -1, parts),
        })
    }
}

/// Waits for every partition and gives the folds back in order.
async fn join<F>(
    tasks: Vec<tokio::task::JoinHandle<Result<F, StoreError>>>,
) -> Result<Vec<F>, StoreError> {
    let mut folds = Vec::with_capacity(tasks.len());
    for task in tasks {
        folds.push(
            task.await
                .map_err(|error| StoreError::ReportRead(error.to_string()))??,
        );
    }
    Ok(folds)
}

//! Group commit of check-and-record on PostgreSQL. A few writer tasks, each on a
//! connection of its own, take the attempts queued meanwhile and decide a whole batch in
//! one transaction of five round trips (`BEGIN`; the locks; the history and chain heads
//! in one read; every event, decision and chain head in one write; `COMMIT`) and one
//! flush. Each statement's text is the same whatever the batch's size (rows are bound as
//! arrays), so each connection prepares and plans it once.
//!
//! A batch decides as if its attempts were recorded one at a time, each in its own
//! transaction: it locks every account of every consumer in the batch, in id order (so
//! two batches, of this daemon or another, never wait on each other), before anything
//! else, and reads the history only once they are held; attempts of one consumer within
//! a batch see each other as the SQLite writer's group does. A batch that fails before
//! its `COMMIT` (a deadlock with another daemon, an idempotency key held by a concurrent
//! write, a connection the server dropped, any database error) is rolled back whole and
//! its attempts are run again one by one, each as a batch of its own through the same
//! steps, which answers each with its own error. A failed `COMMIT` is not retried: it
//! may have committed, and an attempt counts once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Connection, Postgres, Row};
use tokio::sync::{Mutex, mpsc};

use super::histories::{Dated, DebtorHistory, Histories, SharedHistories, Versions};
use super::{
    ArrayQuery, bind_event_columns, bind_head_columns, column, history_parts,
    insert_events_from_arrays, insert_notice, upsert_heads_from_arrays,
};
use crate::domain::chain::{DecisionFields, Head, Link, instant_text as chain_instant};
use crate::store::chain::{Links, decision_content_hash, event_content_hash};
use crate::store::{
    AttemptJob, AttemptRows, EventRow, HistoryRow, IdempotencyKey, RecordedRow, StoreError,
    judge_attempt_parsed, lookback_start, pending_notice_row, pending_row_id, repeat_in_group,
    stored_account,
};

/// Attempts decided in one transaction at most: enough to cover every connection of a
/// busy dialer floor's burst, few enough that a batch's locks are held briefly.
const MAX_BATCH: usize = 256;

/// Writer tasks, each with its own batch in flight: while one waits for its WAL flush,
/// another decides the next batch. Few, because with fewer writers the attempts queued
/// meanwhile make larger batches, and a batch's statements cost PostgreSQL about the
/// same whatever its size; not one or two, whose batches wait on each other's round
/// trips. Three since the writers keep histories (at `-c64` on two cores, three rounds:
/// 7,666–8,181 attempts/s with three, 7,343–7,866 with two, 6,809–7,298 with four;
/// BENCHMARKS.md).
pub(super) const WRITERS: usize = 3;

/// The batch's reads under the locks, in one statement (one snapshot, one round trip):
/// the history of [`super::HISTORY`] for the accounts `$1` (those of the debtors whose
/// history was not kept, `histories.rs`) and, as part 3, the chain heads of every locked
/// account `$3` (the head's hash as `id`, its position as `seq`).
const READ_UNDER_LOCKS: &str = concat!(
    history_parts!(),
    "
 UNION ALL
 SELECT 3, head, account_id, '', now(), position FROM chain_heads WHERE account_id = ANY($3)
 ORDER BY part, at, seq"
);

/// Everything a batch appends, in one statement (one round trip, one executor): its
/// events (`$1`–`$9`, [`bind_event_columns`]), its decisions (`$10`–`$21`,
/// [`bind_decision_columns`]) and the chain heads they moved (`$22`–`$24`,
/// [`bind_head_columns`]). The events and decisions are inserted in their arrays' order.
const APPEND: &str = concat!(
    "WITH appended_events AS (",
    insert_events_from_arrays!(),
    "), moved_heads AS (",
    upsert_heads_from_arrays!(22, 23, 24),
    ")
INSERT INTO decisions (id, account_id, decided_at, outcome, policy_digest, question, decision,
                       event_id, shadow, chain_pos, content_hash, entry_hash)
SELECT id, account_id, decided_at, outcome, policy_digest, question::jsonb, decision::jsonb,
       event_id, shadow::jsonb, chain_pos, content_hash, entry_hash
  FROM unnest($10::text[], $11::text[], $12::timestamptz[], $13::text[], $14::text[], $15::text[],
              $16::text[], $17::text[], $18::text[], $19::int8[], $20::text[], $21::text[])
       WITH ORDINALITY AS row (id, account_id, decided_at, outcome, policy_digest, question,
                               decision, event_id, shadow, chain_pos, content_hash, entry_hash, n)
 ORDER BY n"
);

/// Starts the writers, which share `histories`; they stop when every sender is gone.
pub(super) fn spawn_writers(pool: PgPool, histories: SharedHistories) -> mpsc::Sender<AttemptJob> {
    let (sender, receiver) = mpsc::channel(MAX_BATCH * WRITERS);
    let receiver = Arc::new(Mutex::new(receiver));
    let memory = WritersMemory {
        stored_digests: Arc::new(std::sync::Mutex::new(HashSet::new())),
        histories,
    };
    for _ in 0..WRITERS {
        tokio::spawn(run_writer(
            pool.clone(),
            Arc::clone(&receiver),
            memory.clone(),
        ));
    }
    sender
}

/// What the writers remember from one batch to the next, shared between them.
#[derive(Clone)]
struct WritersMemory {
    /// Digests whose texts are stored: the texts are written once per digest, not with
    /// every attempt.
    stored_digests: Arc<std::sync::Mutex<HashSet<String>>>,
    /// The debtors' histories, each as of its accounts' versions (`histories.rs`).
    histories: SharedHistories,
}

async fn run_writer(
    pool: PgPool,
    jobs: Arc<Mutex<mpsc::Receiver<AttemptJob>>>,
    memory: WritersMemory,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut connection = WriterConnection::default();
    loop {
        // One writer at a time waits for work; it lets go of the queue as soon as it has
        // a batch, so the next writer collects the attempts that arrive meanwhile.
        let received = jobs.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if received == 0 {
            return;
        }
        match connection.commit(&pool, &batch, &memory).await {
            Ok(results) => {
                for (job, result) in batch.drain(..).zip(results) {
                    // A caller that went away still had its attempt recorded: the ledger
                    // errs on the side of counting.
                    let _ = job.reply.send(result);
                }
            }
            Err(BatchError::Before(error)) => {
                tracing::debug!(%error, attempts = batch.len(), "a batch of attempts is retried one by one");
                // Each attempt alone, through the same steps: it meets its own error, if
                // any, and no other's.
                for job in batch.drain(..) {
                    let alone = std::slice::from_ref(&job);
                    let result = match connection.commit(&pool, alone, &memory).await {
                        Ok(results) => results.into_iter().next().unwrap_or_else(|| {
                            Err(StoreError::CommitFailed(
                                "the writer answered nothing for the attempt".into(),
                            ))
                        }),
                        Err(BatchError::Before(error) | BatchError::Committing(error)) => {
                            Err(error)
                        }
                    };
                    let _ = job.reply.send(result);
                }
            }
            Err(BatchError::Committing(error)) => {
                tracing::error!(%error, "the ledger could not commit a batch of attempts");
                for job in batch.drain(..) {
                    let _ = job
                        .reply
                        .send(Err(StoreError::CommitFailed(error.to_string())));
                }
            }
        }
    }
}

/// A writer's own connection, held from one batch to the next: a batch neither waits
/// for the pool nor pays its check of the connection (a round trip, `test_before_acquire`)
/// each time. A batch that fails for any reason gives its connection up, since the
/// server may have dropped it: the next batch (or the failed batch's attempts, run again
/// one by one) takes another, which the pool checks. A connection idle for a while is
/// checked before use (the server may have gone away meanwhile), and one held for the
/// pool's `max_lifetime` goes back to the pool, which replaces it as it does its own.
#[derive(Default)]
struct WriterConnection {
    held: Option<(PoolConnection<Postgres>, Instant)>,
    last_used: Option<Instant>,
}

impl WriterConnection {
    /// After this long without a batch, the connection is checked before the next.
    const IDLE_CHECK: Duration = Duration::from_secs(5);

    /// The connection for the next batch.
    async fn ready(&mut self, pool: &PgPool) -> Result<&mut PgConnection, sqlx::Error> {
        let now = Instant::now();
        let idle = self
            .last_used
            .is_some_and(|used| now.duration_since(used) >= Self::IDLE_CHECK);
        let expired = pool
            .options()
            .get_max_lifetime()
            .zip(self.held.as_ref())
            .is_some_and(|(lifetime, (_, acquired))| now.duration_since(*acquired) >= lifetime);
        if expired {
            self.held = None;
        }
        if idle
            && let Some((held, _)) = self.held.as_mut()
            && held.ping().await.is_err()
        {
            self.discard();
        }
        self.last_used = Some(now);
        let (held, _) = match self.held.take() {
            Some(held) => self.held.insert(held),
            None => self.held.insert((pool.acquire().await?, now)),
        };
        Ok(&mut **held)
    }

    /// Decides and commits `batch` on this connection (a panic is a failed commit, whose
    /// outcome is unknown). After any failure the connection is given up.
    async fn commit(
        &mut self,
        pool: &PgPool,
        batch: &[AttemptJob],
        memory: &WritersMemory,
    ) -> Result<Vec<Result<RecordedRow, StoreError>>, BatchError> {
        let outcome = match self.ready(pool).await {
            Ok(held) => std::panic::AssertUnwindSafe(commit_batch(held, batch, memory))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| {
                    let cause = crate::tasks::panic_message(panic.as_ref());
                    tracing::error!(%cause, "the ledger's writer panicked; the batch is rolled back");
                    Err(BatchError::Committing(StoreError::CommitFailed(format!(
                        "the writer panicked: {cause}"
                    ))))
                }),
            Err(error) => Err(BatchError::Before(error.into())),
        };
        if outcome.is_err() {
            self.discard();
        }
        outcome
    }

    /// Closes the connection instead of returning it to the pool.
    fn discard(&mut self) {
        if let Some((mut held, _)) = self.held.take() {
            held.close_on_drop();
        }
    }
}

/// Why a batch was not committed.
enum BatchError {
    /// Before `COMMIT` was sent: nothing was written, each attempt may be run again.
    Before(StoreError),
    /// While committing (or a panic): the outcome is unknown, nothing is run again.
    Committing(StoreError),
}

impl From<StoreError> for BatchError {
    fn from(error: StoreError) -> Self {
        BatchError::Before(error)
    }
}

impl From<sqlx::Error> for BatchError {
    fn from(error: sqlx::Error) -> Self {
        BatchError::Before(error.into())
    }
}

/// A locked account: its stored body, its consumer's key and its history's version.
struct Locked {
    body: String,
    debtor: String,
    version: Option<String>,
}

/// An attempt decided within the batch, waiting for its rows to be written.
struct Decided<'a> {
    job: &'a AttemptJob,
    decision_id: String,
    question: String,
    decision: Box<serde_json::value::RawValue>,
    outcome: String,
    event_id: Option<String>,
    shadow: Option<Box<serde_json::value::RawValue>>,
}

/// Decides every attempt of the batch in one transaction, each against the ledger plus
/// what the attempts before it in the batch recorded for the same consumer.
async fn commit_batch(
    connection: &mut PgConnection,
    batch: &[AttemptJob],
    memory: &WritersMemory,
) -> Result<Vec<Result<RecordedRow, StoreError>>, BatchError> {
    let mut tx = connection.begin_with(super::BEGIN_CHECK_AND_RECORD).await?;
    let mut ids: Vec<&str> = batch
        .iter()
        .map(|j| j.attempt.account_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    // Every account of each consumer, in id order. `FOR UPDATE` returns each row as it is once locked (the latest body). The
    // consumers are an array (`= ANY(ARRAY(…))`, not `IN (SELECT …)`), so that both
    // conditions use their index: with `IN` the planner filtered every account of the
    // ledger (105 ms a batch at 100,000 accounts, against 0.2 ms).
    // With this transaction's id, the version its writes give the histories it changes.
    let rows = sqlx::query(
        "SELECT id, body::text AS body, coalesce('consumer:' || consumer_id, 'account:' || id) AS debtor,
                history_xid::text AS version, pg_current_xact_id()::text AS xid
           FROM accounts
          WHERE id = ANY($1)
             OR consumer_id = ANY(ARRAY(SELECT consumer_id FROM accounts WHERE id = ANY($1)))
          ORDER BY id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut xid: Option<String> = None;
    let mut locked: HashMap<String, Locked> = HashMap::with_capacity(rows.len());
    for row in rows {
        xid = row.try_get("xid")?;
        locked.insert(
            row.try_get("id")?,
            Locked {
                body: row.try_get("body")?,
                debtor: row.try_get("debtor")?,
                version: row.try_get("version")?,
            },
        );
    }
    // Each debtor's accounts with their versions, to find its kept history by.
    let mut versions: HashMap<&str, Versions> = HashMap::new();
    for (id, account) in &locked {
        versions
            .entry(account.debtor.as_str())
            .or_default()
            .push((id.clone(), account.version.clone()));
    }
    for accounts in versions.values_mut() {
        accounts.sort_unstable();
    }
    let since = batch
        .iter()
        .map(|job| lookback_start(job.attempt.at))
        .min()
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    // The kept histories still current, taken out; the others read (with their instant:
    // each debtor's history is complete from it on).
    let mut histories: HashMap<&str, (DateTime<Utc>, DebtorHistory)> = HashMap::new();
    let mut unread: Vec<&str> = Vec::new();
    {
        let mut kept = Histories::lock(&memory.histories);
        for (debtor, accounts) in &versions {
            let history = kept.take(debtor, accounts, since).unwrap_or_else(|| {
                unread.extend(accounts.iter().map(|(id, _)| id.as_str()));
                (since, DebtorHistory::default())
            });
            histories.insert(debtor, history);
        }
    }
    // The history, read under the locks (a new statement, so a new snapshot that sees
    // every write committed before the locks were granted).
    let every: Vec<&str> = locked.keys().map(String::as_str).collect();
    let mut links = Links::default();
    for row in sqlx::query(READ_UNDER_LOCKS)
        .bind(&unread)
        .bind(since)
        .bind(&every)
        .fetch_all(&mut *tx)
        .await?
    {
        let id: String = row.try_get("id")?;
        let account_id: String = row.try_get("account_id")?;
        if row.try_get::<i32, _>("part")? == 3 {
            links.loaded(
                &account_id,
                Some(Head {
                    position: row.try_get("seq")?,
                    hash: id,
                }),
            );
            continue;
        }
        let body: String = row.try_get("body")?;
        let at: DateTime<Utc> = row.try_get("at")?;
        let Some((_, history)) = locked
            .get(&account_id)
            .and_then(|a| histories.get_mut(a.debtor.as_str()))
        else {
            continue;
        };
        if row.try_get::<i32, _>("part")? == 2 {
            if let Some(row) = pending_notice_row(&id, &account_id, at, &body)? {
                history.pending.push(Dated::parse(at, row));
            }
        } else {
            history.events.push(Dated::parse(
                at,
                HistoryRow {
                    id,
                    account_id,
                    body,
                },
            ));
        }
    }
    let remembered = remembered_keys(&mut tx, batch).await?;
    let mut results: Vec<Result<RecordedRow, StoreError>> = Vec::with_capacity(batch.len());
    let mut events = Vec::new();
    let mut notices = Vec::new();
    let mut decided: Vec<Decided<'_>> = Vec::with_capacity(batch.len());
    // Idempotency keys first seen in this batch: key → (request hash, index of the result).
    let mut keyed: HashMap<&str, (&str, usize)> = HashMap::new();
    let mut new_keys: Vec<(&IdempotencyKey, usize, DateTime<Utc>)> = Vec::new();
    let mut new_digests: Vec<&AttemptJob> = Vec::new();
    let known_digests: HashSet<String> = memory
        .stored_digests
        .lock()
        .map(|set| set.clone())
        .unwrap_or_default();
    for job in batch {
        let attempt = &job.attempt;
        // An unknown account first, then the key: an attempt on no account is refused
        // whatever its key says.
        let Some(account) = locked.get(&attempt.account_id) else {
            results.push(Err(StoreError::AccountNotFound(attempt.account_id.clone())));
            continue;
        };
        if let Some(key) = &attempt.idempotency {
            if let Some((hash, index)) = keyed.get(key.key.as_str()) {
                results.push(repeat_in_group(key, hash, results.get(*index)));
                continue;
            }
            if let Some((hash, response)) = remembered
                .get(key.key.as_str())
                .filter(|(_, _, created_at)| *created_at >= key.since)
                .map(|(hash, response, _)| (hash, response))
            {
                results.push(if *hash == key.request_hash {
                    RecordedRow::replayed(response)
                } else {
                    Err(StoreError::IdempotencyMismatch(key.key.clone()))
                });
                continue;
            }
            keyed.insert(&key.key, (&key.request_hash, results.len()));
        }
        let history = histories.get(account.debtor.as_str()).map(|(_, h)| h);
        let rows = match judge_job(job, &account.body, history) {
            Ok(rows) => rows,
            Err(error) => {
                results.push(Err(error));
                continue;
            }
        };
        let digest = job.judge.policy_digest();
        if !known_digests.contains(digest)
            && !new_digests
                .iter()
                .any(|j| j.judge.policy_digest() == digest)
        {
            new_digests.push(job);
        }
        // What this attempt wrote is history for the next attempts of its consumer.
        // (Every locked debtor has its entry; one made here would cover no instant.)
        let (_, history) = histories
            .entry(account.debtor.as_str())
            .or_insert_with(|| (DateTime::<Utc>::MAX_UTC, DebtorHistory::default()));
        if let Some(event) = &rows.event {
            history.events.push(Dated::parse(
                event.at,
                HistoryRow {
                    id: event.id.clone(),
                    account_id: attempt.account_id.clone(),
                    body: event.body.clone(),
                },
            ));
        }
        if let Some(notice) = &rows.notice
            && let Some(row) = pending_notice_row(
                &notice.id,
                &notice.account_id,
                notice.due_at,
                &notice.request,
            )?
        {
            history.pending.push(Dated::parse(notice.due_at, row));
        }
        if let Some(key) = &attempt.idempotency {
            new_keys.push((key, results.len(), job.now));
        }
        results.push(Ok(RecordedRow {
            decision: rows.decision.clone(),
            decision_id: rows.decision_id.clone(),
            event_id: rows.event.as_ref().map(|e| e.id.clone()),
            notice_id: rows.notice.as_ref().map(|n| n.id.clone()),
            replayed: false,
            shadow: rows.shadow.clone(),
        }));
        decided.push(Decided {
            job,
            decision_id: rows.decision_id,
            question: rows.question,
            decision: rows.decision,
            outcome: rows.outcome,
            event_id: rows.event.as_ref().map(|event| event.id.clone()),
            shadow: rows.shadow,
        });
        events.extend(rows.event);
        notices.extend(rows.notice);
    }
    // The accounts whose history this batch changes; the debtors it cannot tell what it
    // wrote for (a notice whose idempotency key was queued already is not inserted)
    // keep nothing.
    let mut changed: HashSet<&str> = events.iter().map(|e| e.account_id.as_str()).collect();
    let mut unknown: HashSet<&str> = HashSet::new();
    for notice in &notices {
        changed.insert(&notice.account_id);
        if !insert_notice(&mut tx, notice).await?
            && let Some(account) = locked.get(&notice.account_id)
        {
            unknown.insert(&account.debtor);
        }
    }
    if !decided.is_empty() {
        // Accounts without a chain yet start at genesis.
        for id in &every {
            links.loaded(id, None);
        }
        // Chain order within the batch as on every path: the events, then the decisions.
        let events: Vec<&EventRow> = events.iter().collect();
        let event_links: Vec<Link> = events
            .iter()
            .map(|row| links.link(&row.account_id, event_content_hash(row)))
            .collect();
        let decision_links: Vec<Link> = decided
            .iter()
            .map(|d| {
                let hash = decision_content_hash(
                    &d.decision_id,
                    &d.job.attempt.account_id,
                    &DecisionFields {
                        decided_at: &chain_instant(d.job.now),
                        outcome: &d.outcome,
                        policy_digest: d.job.judge.policy_digest(),
                        question: &d.question,
                        decision: d.decision.get(),
                        event_id: d.event_id.as_deref(),
                    },
                );
                links.link(&d.job.attempt.account_id, hash)
            })
            .collect();
        let query = bind_event_columns(sqlx::query(APPEND), &events, &event_links);
        let query = bind_decision_columns(query, &decided, &decision_links);
        bind_head_columns(query, &links.changed())
            .execute(&mut *tx)
            .await?;
    }
    for job in &new_digests {
        sqlx::query("INSERT INTO policies (digest, sources, first_used_at) VALUES ($1, $2::jsonb, $3) ON CONFLICT (digest) DO NOTHING")
            .bind(job.judge.policy_digest())
            .bind(job.judge.policy_texts()?)
            .bind(job.now)
            .execute(&mut *tx)
            .await?;
    }
    // Keys last, in key order (two batches claiming the same keys take them in the same
    // order). A key held by a concurrent write of another account fails the batch, whose
    // attempts then run one by one and that one is refused.
    new_keys.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    for (key, index, now) in new_keys {
        let Some(Ok(recorded)) = results.get(index) else {
            continue;
        };
        if !super::claim_key(&mut tx, key, &recorded.kept()?, now).await? {
            return Err(BatchError::Before(StoreError::IdempotencyMismatch(
                key.key.clone(),
            )));
        }
    }
    tx.commit()
        .await
        .map_err(|error| BatchError::Committing(error.into()))?;
    if let Ok(mut stored) = memory.stored_digests.lock() {
        stored.extend(
            new_digests
                .into_iter()
                .map(|j| j.judge.policy_digest().to_string()),
        );
    }
    keep_histories(
        &memory.histories,
        histories,
        versions,
        &changed,
        &unknown,
        xid,
    );
    Ok(results)
}

/// After a committed batch, keeps each debtor's history (what was read or kept, plus what
/// the batch wrote) as of its accounts' versions now: this transaction's id for the
/// accounts it changed, the locked version for the others.
fn keep_histories(
    shared: &SharedHistories,
    histories: HashMap<&str, (DateTime<Utc>, DebtorHistory)>,
    mut versions: HashMap<&str, Versions>,
    changed: &HashSet<&str>,
    unknown: &HashSet<&str>,
    xid: Option<String>,
) {
    // (Every locked row carries the id: without one, no account was locked.)
    let Some(xid) = xid else {
        return;
    };
    let mut kept = Histories::lock(shared);
    for (debtor, (since, history)) in histories {
        let Some(mut accounts) = versions.remove(debtor) else {
            continue;
        };
        if unknown.contains(debtor) {
            continue;
        }
        for (id, version) in &mut accounts {
            if changed.contains(id.as_str()) {
                *version = Some(xid.clone());
            }
        }
        kept.keep(debtor.to_string(), accounts, since, history);
    }
}

/// Binds the decisions with their links as the next twelve parameters.
fn bind_decision_columns<'q>(
    query: ArrayQuery<'q>,
    decided: &'q [Decided<'q>],
    links: &'q [Link],
) -> ArrayQuery<'q> {
    query
        .bind(column(decided, |d| d.decision_id.as_str()))
        .bind(column(decided, |d| d.job.attempt.account_id.as_str()))
        .bind(column(decided, |d| d.job.now))
        .bind(column(decided, |d| d.outcome.as_str()))
        .bind(column(decided, |d| d.job.judge.policy_digest()))
        .bind(column(decided, |d| d.question.as_str()))
        .bind(column(decided, |d| d.decision.get()))
        .bind(column(decided, |d| d.event_id.as_deref()))
        .bind(column(decided, |d| {
            d.shadow.as_ref().map(|shadow| shadow.get())
        }))
        .bind(column(links, |link| link.position))
        .bind(column(links, |link| link.content_hash.as_str()))
        .bind(column(links, |link| link.entry_hash.as_str()))
}

/// The remembered keys among the batch's (request hash, response, when kept), read
/// under the accounts' locks.
async fn remembered_keys(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    batch: &[AttemptJob],
) -> Result<HashMap<String, (String, String, DateTime<Utc>)>, sqlx::Error> {
    let keys: Vec<&str> = batch
        .iter()
        .filter_map(|job| job.attempt.idempotency.as_ref())
        .map(|key| key.key.as_str())
        .collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    sqlx::query(
        "SELECT key, request_hash, response, created_at FROM idempotency_keys WHERE key = ANY($1)",
    )
    .bind(&keys)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|row| {
        Ok((
            row.try_get("key")?,
            (
                row.try_get("request_hash")?,
                row.try_get("response")?,
                row.try_get("created_at")?,
            ),
        ))
    })
    .collect()
}

/// Check-and-record's step for one attempt of the batch, over its debtor's history as
/// parsed once: the stored account first, then the rows the attempt reads, in order, so
/// that an unreadable account or row is the attempt's error (the place of the notice
/// being sent is not read, so never its error).
fn judge_job(
    job: &AttemptJob,
    account_body: &str,
    history: Option<&DebtorHistory>,
) -> Result<AttemptRows, StoreError> {
    let attempt = &job.attempt;
    let account = stored_account(&attempt.account_id, account_body)?;
    let rows = history_for(history, attempt.at);
    let own_place = job.sending.as_deref().map(pending_row_id);
    if let Some(error) = rows
        .iter()
        .filter(|row| own_place.as_deref() != Some(row.id.as_str()))
        .find_map(|row| row.error())
    {
        return Err(error);
    }
    judge_attempt_parsed(
        &*job.judge,
        &account,
        rows.iter().filter_map(|row| row.parsed()),
        attempt,
        job.now,
        job.notice.as_ref(),
        job.sending.as_deref(),
    )
}

/// The history one attempt reads, as its own transaction would have read it: the
/// consumer's events from the attempt's lookback on, in time order (stored rows before
/// the batch's own at the same instant), then the pending notices' places by due time.
fn history_for(history: Option<&DebtorHistory>, at: DateTime<Utc>) -> Vec<&Dated> {
    let Some(history) = history else {
        return Vec::new();
    };
    let since = lookback_start(at);
    let mut events: Vec<&Dated> = history.events.iter().filter(|e| e.at >= since).collect();
    events.sort_by_key(|e| e.at);
    let mut pending: Vec<&Dated> = history.pending.iter().collect();
    pending.sort_by_key(|e| e.at);
    events.extend(pending);
    events
}

//! The ledger's writer: check-and-record in groups on a dedicated OS thread with its
//! own `rusqlite` connection.
//!
//! Why not sqlx: sqlx-sqlite runs every statement on a worker thread behind channels,
//! and a group of attempts is hundreds of statements; a profile under `wrk` showed the
//! writer spending most of its time in those thread hand-offs (futex waits and context
//! switches), not in SQLite. Here a group is one thread's loop over cached prepared
//! statements, and the only hand-offs left are the job's arrival and its reply.
//!
//! What a group guarantees is unchanged: one `BEGIN IMMEDIATE` transaction, each
//! attempt decided against the ledger plus the attempts before it in the group, an
//! attempt that cannot be decided answered with its error and writing nothing, a
//! failure of the database (or a panic) failing the whole group, which is rolled back,
//! one commit (one fsync) for the group — and the writer lives on after either.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, OpenFlags, OptionalExtension, ToSql, params, params_from_iter};
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::MAX_GROUP;
use super::histories::{Histories, Lookup};
use crate::domain::chain::{DecisionFields, Head, Link};
use crate::store::chain::{Links, decision_content_hash, event_content_hash};
use crate::store::{
    AttemptJob, EventRow, IdempotencyKey, NoticeRow, RecordedRow, StoreError, instant_text,
    judge_attempt_parsed, lookback_start, repeat_in_group,
};

/// The WAL size (in pages) past which the writer checkpoints after a commit.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 4_000;

/// A database failure inside the writer: it fails the group it happened in.
fn db(error: rusqlite::Error) -> StoreError {
    StoreError::CommitFailed(error.to_string())
}

/// Opens the writer's connection on the ledger file (already created and in WAL mode
/// by the pool): every commit durable, foreign keys checked, waiting for other writers.
pub(super) fn open(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db)?;
    connection
        .busy_timeout(Duration::from_secs(30))
        .map_err(db)?;
    connection
        .pragma_update(None, "journal_mode", "wal")
        .map_err(db)?;
    connection
        .pragma_update(None, "synchronous", "full")
        .map_err(db)?;
    connection
        .pragma_update(None, "foreign_keys", true)
        .map_err(db)?;
    // A page cache for the indexes' hot pages (16 MiB at most, not allocated until used)
    // and the file mapped for reading, instead of a `pread` per page missed (a profile
    // under `wrk` showed those reads at a sixth of the writer's time with the default
    // 2 MiB). 64 MiB served the history reads the decoded histories (`histories`) now
    // spare; each commit's truncation of the cache scans its hash table, so the smaller
    // cache costs the writer less per group (issue 15: 56-61 against 55-66 µs of the
    // writer's CPU per attempt, same minutes).
    connection
        .pragma_update(None, "cache_size", -16_384)
        .map_err(db)?;
    connection
        .pragma_update(None, "mmap_size", 268_435_456)
        .map_err(db)?;
    // The writer checkpoints after a commit whenever the WAL has grown past this many
    // pages: 16 MiB instead of SQLite's 4 MiB, so a page that several groups rewrite (an
    // account's index page) is copied to the database once per checkpoint, and its
    // pauses come a quarter as often (issue 15: +9% attempts/s over 30 s at 64
    // connections). Most of the copying is done before by the checkpointer thread
    // (`checkpoint`); the writer's checkpoint is what lets the WAL start over.
    // Durability is the WAL's fsync at each commit, untouched.
    connection
        .pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
        .map_err(db)?;
    // Every statement of a group stays prepared (the default cache holds 16).
    connection.set_prepared_statement_cache_capacity(32);
    Ok(connection)
}

/// Groups committed between two nudges of the checkpointer.
const GROUPS_PER_CHECKPOINT: u32 = 8;

/// The checkpointer thread: copies the WAL's committed pages into the database
/// (`PASSIVE`: never waits for, nor blocks, the writer) whenever the writer nudges it,
/// so that the writer's own checkpoint (at `WAL_AUTOCHECKPOINT_PAGES`, which resets the
/// WAL) finds little left to copy. Ends with the writer (its sender dropped).
pub(super) fn checkpoint(connection: &Connection, nudges: &std::sync::mpsc::Receiver<()>) {
    checkpoint_on_nudges(nudges, || {
        connection.execute_batch("PRAGMA wal_checkpoint(PASSIVE)")
    });
}

/// Runs `step` at every nudge until the writer is gone. A failed or panicking step is
/// logged and the next nudge tries again: a checkpointer that died silently would leave
/// all the copying to the writer's thread, and no one would know why it slowed down.
fn checkpoint_on_nudges(
    nudges: &std::sync::mpsc::Receiver<()>,
    mut step: impl FnMut() -> Result<(), rusqlite::Error>,
) {
    while nudges.recv().is_ok() {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut step)) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "the ledger's checkpointer could not checkpoint");
            }
            Err(panic) => {
                let cause = crate::tasks::panic_message(panic.as_ref());
                tracing::error!(%cause, "the ledger's checkpointer panicked; it tries again at the next nudge");
            }
        }
    }
}

/// Asks the checkpointer for a checkpoint. A checkpointer already busy is asked nothing
/// more; one that is gone (its thread ended, which `checkpoint_on_nudges` should make
/// impossible) is logged once: the writer's own checkpoints still bound the WAL, more
/// slowly.
fn nudge(checkpointer: &std::sync::mpsc::SyncSender<()>, reported_gone: &mut bool) {
    if let Err(std::sync::mpsc::TrySendError::Disconnected(())) = checkpointer.try_send(())
        && !*reported_gone
    {
        *reported_gone = true;
        tracing::error!(
            "the ledger's checkpointer has stopped; the writer checkpoints by itself from now on"
        );
    }
}

/// The writer thread: commits queued attempts in groups until every sender is gone.
pub(super) fn run(
    connection: Connection,
    history_cache_rows: usize,
    held_rows: &std::sync::atomic::AtomicUsize,
    mut jobs: mpsc::Receiver<AttemptJob>,
    checkpointer: &std::sync::mpsc::SyncSender<()>,
) {
    let mut since_nudge = 0_u32;
    let mut checkpointer_gone = false;
    let mut group = Vec::with_capacity(MAX_GROUP);
    // Digests whose texts are already stored: the texts are written once, not per attempt.
    let mut stored_digests = HashSet::new();
    // Debtors' accounts and histories already read and parsed, dropped whenever
    // another connection commits (see `histories`).
    let mut histories = Histories::bounded(history_cache_rows);
    while jobs.blocking_recv_many(&mut group, MAX_GROUP) > 0 {
        // A panic while committing a group (a bug, never input: input is checked before
        // it is queued) fails that group, not the writer: every later attempt on every
        // account would otherwise be refused until a restart.
        let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let committed = commit_group(&connection, &group, &mut stored_digests, &mut histories);
            // Within the bound between groups (a group may read past it).
            histories.trim();
            committed
        }))
        .unwrap_or_else(|panic| {
            let cause = crate::tasks::panic_message(panic.as_ref());
            tracing::error!(%cause, "the ledger's writer panicked; the group is rolled back");
            // What the panic left half-built is not trusted for the next group.
            histories = Histories::bounded(history_cache_rows);
            Err(StoreError::CommitFailed(format!(
                "the writer panicked: {cause}"
            )))
        });
        match committed {
            Ok(results) => {
                since_nudge += 1;
                if since_nudge >= GROUPS_PER_CHECKPOINT {
                    since_nudge = 0;
                    nudge(checkpointer, &mut checkpointer_gone);
                }
                for (job, result) in group.drain(..).zip(results) {
                    // A caller that went away still had its attempt recorded: the ledger
                    // errs on the side of counting.
                    let _ = job.reply.send(result);
                }
            }
            Err(error) => {
                if !connection.is_autocommit() {
                    let _ = connection.execute_batch("ROLLBACK");
                }
                // The group's events and notices were rolled back with it.
                histories.clear();
                tracing::error!(%error, "the ledger could not commit a group of attempts");
                for job in group.drain(..) {
                    let _ = job
                        .reply
                        .send(Err(StoreError::CommitFailed(error.to_string())));
                }
            }
        }
        // Told to `/metrics`.
        held_rows.store(histories.rows(), std::sync::atomic::Ordering::Relaxed);
    }
}

/// A decision of the group waiting to be written.
struct DecisionToWrite<'g> {
    job: &'g AttemptJob,
    id: String,
    question: String,
    decision: Box<RawValue>,
    outcome: String,
    event_id: Option<String>,
    shadow: Option<Box<RawValue>>,
}

/// Decides every attempt of the group in one transaction and writes its event and
/// notice at once, so that the attempts after it read them; then writes the group's
/// decisions. Each attempt is decided against the ledger as the attempts before it in
/// the group left it. The chains advance as before grouping: the group's events in
/// order, then its decisions.
fn commit_group(
    connection: &Connection,
    group: &[AttemptJob],
    stored_digests: &mut HashSet<String>,
    histories: &mut Histories,
) -> Result<Vec<Result<RecordedRow, StoreError>>, StoreError> {
    connection.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
    histories.check(connection)?;
    let mut results: Vec<Result<RecordedRow, StoreError>> = Vec::with_capacity(group.len());
    let mut links = Links::default();
    let mut decisions = Vec::with_capacity(group.len());
    let mut new_digests: Vec<&AttemptJob> = Vec::new();
    // Idempotency keys first seen in this group: key → (request hash, index of the result).
    let mut keyed: HashMap<&str, (&str, usize)> = HashMap::new();
    let mut new_keys: Vec<(&IdempotencyKey, usize, DateTime<Utc>)> = Vec::new();
    for job in group {
        let attempt = &job.attempt;
        if let Some(key) = &attempt.idempotency {
            if let Some((hash, index)) = keyed.get(key.key.as_str()) {
                results.push(repeat_in_group(key, hash, results.get(*index)));
                continue;
            }
            match first_response(connection, key) {
                Ok(Some(kept)) => {
                    results.push(RecordedRow::replayed(&kept));
                    continue;
                }
                Ok(None) => {
                    keyed.insert(&key.key, (&key.request_hash, results.len()));
                }
                Err(error @ StoreError::IdempotencyMismatch(_)) => {
                    results.push(Err(error));
                    continue;
                }
                Err(error) => return Err(error),
            }
        }
        let read =
            match histories.read(connection, &attempt.account_id, lookback_start(attempt.at))? {
                Lookup::Found(read) => read,
                Lookup::Missing => {
                    results.push(Err(StoreError::AccountNotFound(attempt.account_id.clone())));
                    continue;
                }
                Lookup::Unreadable(error) => {
                    results.push(Err(error));
                    continue;
                }
            };
        let judged = judge_attempt_parsed(
            &*job.judge,
            read.account,
            read.rows(),
            attempt,
            job.now,
            job.notice.as_ref(),
            job.sending.as_deref(),
        );
        let debtor = read.debtor.to_string();
        let rows = match judged {
            Ok(rows) => rows,
            Err(error) => {
                results.push(Err(error));
                continue;
            }
        };
        let digest = job.judge.policy_digest();
        if !stored_digests.contains(digest)
            && !new_digests
                .iter()
                .any(|j| j.judge.policy_digest() == digest)
        {
            new_digests.push(job);
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
        if let Some(event) = &rows.event {
            load_head(connection, &mut links, histories, &event.account_id)?;
            let link = links.link(&event.account_id, event_content_hash(event));
            insert_event(connection, event, &link)?;
            histories.recorded_event(&debtor, event, connection.last_insert_rowid());
        }
        if let Some(notice) = &rows.notice
            && insert_notice(connection, notice)?
        {
            histories.recorded_notice(&debtor, notice, connection.last_insert_rowid());
        }
        decisions.push(DecisionToWrite {
            job,
            id: rows.decision_id,
            question: rows.question,
            decision: rows.decision,
            outcome: rows.outcome,
            event_id: rows.event.as_ref().map(|event| event.id.clone()),
            shadow: rows.shadow,
        });
    }
    let mut linked = Vec::with_capacity(decisions.len());
    for decision in &decisions {
        let account_id = &decision.job.attempt.account_id;
        load_head(connection, &mut links, histories, account_id)?;
        let decided_at = instant_text(decision.job.now);
        let hash = decision_content_hash(
            &decision.id,
            account_id,
            &DecisionFields {
                decided_at: &decided_at,
                outcome: &decision.outcome,
                policy_digest: decision.job.judge.policy_digest(),
                question: &decision.question,
                decision: decision.decision.get(),
                event_id: decision.event_id.as_deref(),
            },
        );
        let link = links.link(account_id, hash);
        linked.push((decision, decided_at, link));
    }
    insert_decisions(connection, &linked)?;
    let mut save = connection
        .prepare_cached(
            "INSERT INTO chain_heads (account_id, position, head) VALUES (?1, ?2, ?3)
             ON CONFLICT (account_id) DO UPDATE SET position = excluded.position, head = excluded.head",
        )
        .map_err(db)?;
    for (account_id, head) in links.changed() {
        save.execute(params![account_id, head.position, head.hash])
            .map_err(db)?;
    }
    for job in &new_digests {
        connection
            .prepare_cached(
                "INSERT INTO policies (digest, sources, first_used_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (digest) DO NOTHING",
            )
            .map_err(db)?
            .execute(params![
                job.judge.policy_digest(),
                job.judge.policy_texts()?,
                instant_text(job.now)
            ])
            .map_err(db)?;
    }
    for (key, index, now) in new_keys {
        let Some(Ok(recorded)) = results.get(index) else {
            continue;
        };
        upsert_key(connection, key, &recorded.kept()?, now)?;
    }
    connection.execute_batch("COMMIT").map_err(db)?;
    for (account_id, head) in links.changed() {
        histories.keep_head(account_id, Some(head.clone()));
    }
    stored_digests.extend(
        new_digests
            .into_iter()
            .map(|j| j.judge.policy_digest().to_string()),
    );
    Ok(results)
}

/// The response kept for a remembered key; a key sent with another request is refused.
fn first_response(
    connection: &Connection,
    key: &IdempotencyKey,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String, String)> = connection
        .prepare_cached(
            "SELECT request_hash, response FROM idempotency_keys WHERE key = ?1 AND created_at >= ?2",
        )
        .map_err(db)?
        .query_row(params![key.key, instant_text(key.since)], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
        .map_err(db)?;
    let Some((hash, response)) = row else {
        return Ok(None);
    };
    if hash != key.request_hash {
        return Err(StoreError::IdempotencyMismatch(key.key.clone()));
    }
    Ok(Some(response))
}

/// Keeps a key with its response (replacing a forgotten one).
fn upsert_key(
    connection: &Connection,
    key: &IdempotencyKey,
    response: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO idempotency_keys (key, request_hash, response, created_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash,
               response = excluded.response, created_at = excluded.created_at",
        )
        .map_err(db)?
        .execute(params![
            key.key,
            key.request_hash,
            response,
            instant_text(now)
        ])
        .map_err(db)?;
    Ok(())
}

/// Loads the head of `account_id` unless this transaction already holds it, from the
/// writer's kept heads when it has it (see `histories`), else from the file.
fn load_head(
    connection: &Connection,
    links: &mut Links,
    histories: &mut Histories,
    account_id: &str,
) -> Result<(), StoreError> {
    if links.knows(account_id) {
        return Ok(());
    }
    if let Some(head) = histories.head(account_id) {
        links.loaded(account_id, head.clone());
        return Ok(());
    }
    let head = connection
        .prepare_cached("SELECT position, head FROM chain_heads WHERE account_id = ?1")
        .map_err(db)?
        .query_row([account_id], |row| {
            Ok(Head {
                position: row.get(0)?,
                hash: row.get(1)?,
            })
        })
        .optional()
        .map_err(db)?;
    histories.keep_head(account_id, head.clone());
    links.loaded(account_id, head);
    Ok(())
}

/// Writes a recorded contact with its link (attempts are never imported: no import key).
fn insert_event(connection: &Connection, row: &EventRow, link: &Link) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO events (id, account_id, at, body, recorded_at, import_key, chain_pos, content_hash, entry_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(db)?
        .execute(params![
            row.id,
            row.account_id,
            instant_text(row.at),
            row.body,
            instant_text(row.recorded_at),
            row.import_key,
            link.position,
            link.content_hash,
            link.entry_hash,
        ])
        .map_err(db)?;
    Ok(())
}

/// Decisions per multi-row `INSERT`, largest first: a group's decisions go in as few
/// statements as these sizes allow, each size one cached statement. A statement per
/// decision ran the insert's whole program each time, its `AUTOINCREMENT` bookkeeping
/// included (with the kept heads, the writer's instructions per attempt fell 5–7 %:
/// `benches/http/attempts_callgrind.sh`).
const DECISION_CHUNKS: [usize; 3] = [16, 4, 1];

/// Each size of [`DECISION_CHUNKS`] with its `INSERT`, written once: the cached
/// statement is looked up by its text for every chunk of every group.
static INSERT_DECISIONS: LazyLock<[(usize, String); 3]> =
    LazyLock::new(|| DECISION_CHUNKS.map(|rows| (rows, insert_decisions_sql(rows))));

/// Writes the group's decisions with their links, in order.
fn insert_decisions(
    connection: &Connection,
    decisions: &[(&DecisionToWrite<'_>, String, Link)],
) -> Result<(), StoreError> {
    let mut rest = decisions;
    for (size, sql) in INSERT_DECISIONS.iter() {
        let size = *size;
        while let Some((chunk, tail)) = rest.split_at_checked(size) {
            let mut statement = connection.prepare_cached(sql).map_err(db)?;
            let mut values = Vec::with_capacity(size * 12);
            for (decision, decided_at, link) in chunk {
                values.extend([
                    decision.id.to_sql(),
                    decision.job.attempt.account_id.to_sql(),
                    decided_at.to_sql(),
                    decision.outcome.to_sql(),
                    decision.job.judge.policy_digest().to_sql(),
                    decision.question.to_sql(),
                    decision.decision.get().to_sql(),
                    optional_text(decision.event_id.as_deref()),
                    optional_text(decision.shadow.as_deref().map(RawValue::get)),
                    link.position.to_sql(),
                    link.content_hash.to_sql(),
                    link.entry_hash.to_sql(),
                ]);
            }
            let values = values
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            statement.execute(params_from_iter(&values)).map_err(db)?;
            rest = tail;
        }
    }
    Ok(())
}

/// A nullable text column's value.
fn optional_text(text: Option<&str>) -> rusqlite::Result<ToSqlOutput<'_>> {
    match text {
        Some(text) => text.to_sql(),
        None => Ok(ToSqlOutput::Owned(Value::Null)),
    }
}

/// The `INSERT` of `rows` decisions. `OR FAIL`: a multi-row statement that may abort
/// keeps a statement journal to undo its own rows (the group's page writes grew by a
/// tenth with one); a failure here fails the whole group, which is rolled back.
fn insert_decisions_sql(rows: usize) -> String {
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    format!(
        "INSERT OR FAIL INTO decisions (id, account_id, decided_at, outcome, policy_digest, question, decision, event_id, shadow, chain_pos, content_hash, entry_hash) VALUES {}",
        vec![row; rows].join(", ")
    )
}

/// Queues a notice; `false` when a notice with its idempotency key is already queued
/// (nothing was written).
fn insert_notice(connection: &Connection, row: &NoticeRow) -> Result<bool, StoreError> {
    let now = instant_text(row.now);
    connection
        .prepare_cached(
            "INSERT INTO notices (id, account_id, idempotency_key, status, due_at, request, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?6)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .map_err(db)?
        .execute(params![
            row.id,
            row.account_id,
            row.idempotency_key,
            instant_text(row.due_at),
            row.request,
            now,
        ])
        .map_err(db)
        .map(|written| written == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_that_panics_or_fails_does_not_end_the_checkpointer() {
        let (nudges_sender, nudges) = std::sync::mpsc::sync_channel(4);
        for _ in 0..3 {
            nudges_sender.send(()).unwrap();
        }
        drop(nudges_sender);
        let mut steps = 0;
        checkpoint_on_nudges(&nudges, || {
            steps += 1;
            match steps {
                1 => panic!("a bug in a checkpoint"),
                2 => Err(rusqlite::Error::InvalidQuery),
                _ => Ok(()),
            }
        });
        // Every nudge after the panic and the failure was still served.
        assert_eq!(steps, 3);
    }

    #[test]
    fn a_gone_checkpointer_is_reported_once() {
        let (checkpointer, nudges) = std::sync::mpsc::sync_channel(1);
        let mut reported_gone = false;
        nudge(&checkpointer, &mut reported_gone);
        nudge(&checkpointer, &mut reported_gone);
        assert!(!reported_gone, "a busy checkpointer is not a gone one");
        drop(nudges);
        nudge(&checkpointer, &mut reported_gone);
        assert!(reported_gone);
    }
}

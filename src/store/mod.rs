//! The durable contact ledger: accounts, the append-only event ledger, the decision
//! log and the policy texts behind every digest.
//!
//! One interface named after use cases, two implementations: SQLite (embedded, WAL,
//! durable commits; the default) and PostgreSQL (several daemons sharing one ledger).
//! "Check the policy and record the attempt" is one transaction per account on both
//! (`BEGIN IMMEDIATE` on SQLite, a row lock on PostgreSQL), so concurrent callers can
//! never break a cap together. The decision itself is not the store's: the service layer
//! hands in a [`Judge`] (the pure engine step), and the store reads the account and its
//! history under its lock, asks the judge, and writes what the judge said. The store
//! knows rows, transactions and the domain's types, not the law.

mod chain;
mod console;
mod consumers;
mod postgres;
pub mod records;
pub mod reports;
mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use serde_json::value::RawValue;

use crate::domain::partition::partition_of;
use crate::domain::{
    Account, Channel, EntryRef, Event, LedgerEvent, LedgerEventError, Outcome, Purpose,
    history_of_refs,
};

pub use crate::domain::{Notice, NoticeChannel, NoticeError, NoticeRequest, NoticeStatus};
pub use chain::Checkpoint;
pub use console::{ConsoleSession, KeyListing};
pub use consumers::{ConsumerPage, MAX_CONSUMER_PAGE, RawEntriesPage, ShadowRow};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// How far back the history is read for a decision: the longest period a rule may
/// span (366 days) and a margin for time zones and calendar days.
pub const HISTORY_LOOKBACK_DAYS: i64 = 400;

/// The most events one page of a listing returns.
pub const MAX_PAGE: u32 = 1000;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The account does not exist.
    #[error("account `{0}` does not exist")]
    AccountNotFound(String),
    /// The event cannot apply to the account as stored (a payment in another currency
    /// than the balance): found in the transaction that brings the account up to date.
    #[error("{0}")]
    EventDoesNotApply(#[from] LedgerEventError),
    /// The database URL is not one dunner can use.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// The migrations could not be applied.
    #[error("failed to migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The notice does not exist.
    #[error("notice `{0}` does not exist")]
    NoticeNotFound(String),
    /// The PostgreSQL ledger lacks some of the embedded migrations.
    #[error(
        "the ledger is not migrated ({pending} migration(s) pending): run `dunner migrate --database URL` first (or start the daemon with `dunner serve --migrate`)"
    )]
    NotMigrated {
        /// How many migrations are missing.
        pending: usize,
    },
    /// A stored account no longer passes the account parse (an older row, a hand edit):
    /// nothing is decided on it, as if the bad field were absent, until it is fixed.
    #[error(
        "the stored account `{id}` is invalid at `{field}`: {message}; nothing is decided on it until it is fixed (PUT /v1/accounts/{id})"
    )]
    InvalidStoredAccount {
        /// The account.
        id: String,
        /// The field at fault, as a path (`consumer.address.state`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// An outcome was reported for an attempt the account's ledger does not hold.
    #[error("account `{account}` has no attempt `{attempt}`")]
    AttemptNotFound {
        /// The account.
        account: String,
        /// The attempt id given.
        attempt: String,
    },
    /// An outcome was reported for an attempt whose outcome is already known (recorded
    /// with it, or reported before): the ledger is append-only.
    #[error("the outcome of attempt `{0}` is already recorded; the ledger keeps the first")]
    OutcomeKnown(String),
    /// An outcome arrived after the grace period: the attempt stays counted as any
    /// outcome would be.
    #[error(
        "attempt `{attempt}` was made at {made_at}, before the grace period for its outcome began ({since}); it stays counted as a possible conversation"
    )]
    OutcomeTooLate {
        /// The attempt.
        attempt: String,
        /// When it was made.
        made_at: DateTime<Utc>,
        /// The earliest attempt instant that still takes an outcome.
        since: DateTime<Utc>,
    },
    /// An idempotency key came back with a different request.
    #[error("the idempotency key `{0}` was used with a different request")]
    IdempotencyMismatch(String),
    /// The writer of the embedded ledger has stopped (the daemon is shutting down).
    #[error("the ledger's writer has stopped")]
    WriterStopped,
    /// A group of attempts could not be committed; none of them was recorded.
    #[error("the ledger could not commit: {0}")]
    CommitFailed(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The ledger could not be read for a report.
    #[error("failed to read the ledger for a report: {0}")]
    ReportRead(String),
    /// A stored row could not be read back (it was written by something else).
    #[error("stored {what} could not be read: {reason}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

/// A contact attempt to check against the policy and record if allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    /// The account.
    pub account_id: String,
    /// When the attempt is made.
    #[serde(serialize_with = "crate::domain::instant::serialize_instant")]
    pub at: DateTime<Utc>,
    /// The channel.
    pub channel: Channel,
    /// Why.
    #[serde(default)]
    pub purpose: Purpose,
    /// The phone number or email address used.
    #[serde(default)]
    pub contact_point: Option<String>,
    /// The outcome, when the attempt is recorded after the fact; unknown counts as
    /// any outcome would.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// The caller's idempotency key, when it sent one.
    #[serde(skip)]
    pub idempotency: Option<IdempotencyKey>,
}

/// A write's idempotency key: a repeat with the same key and the same request (by its
/// hash) answers the first response and writes nothing; with another request it is
/// refused. Keys older than `since` are forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The key as the caller sent it.
    pub key: String,
    /// A digest of the request it was first sent with.
    pub request_hash: String,
    /// Keys recorded before this instant no longer count.
    pub since: DateTime<Utc>,
}

/// A write's claim of its idempotency key: the key and the response to keep for repeats.
pub(crate) struct KeyClaim<'a> {
    pub key: &'a IdempotencyKey,
    pub response: String,
    pub now: DateTime<Utc>,
}

/// The pure step of a check-and-record, supplied by the service layer. The store reads
/// the account and its history (with the consumer's other debts) under its lock, asks
/// the judge, and writes what the judge said in the same transaction — so the SQLite
/// writer can judge a whole group of attempts before one commit.
pub trait Judge: Send + Sync {
    /// The digest of the rules the judge decides by (logged with every decision).
    fn policy_digest(&self) -> &str;
    /// The texts behind the digest as JSON (`[[name, text], …]`), kept once per digest.
    fn policy_texts(&self) -> Result<String, StoreError>;
    /// Decides the attempt over the account and its history.
    fn judge(
        &self,
        account: &Account,
        history: &[Event],
        attempt: &Attempt,
    ) -> Result<Judgement, StoreError>;
}

/// What a [`Judge`] decided, as the store writes it.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// The decision as logged (JSON).
    pub decision: Box<RawValue>,
    /// Its outcome's name (`allowed`, `deferred`, …), a column of the decision log.
    pub outcome: String,
    /// The contact to append to the ledger, when the attempt is allowed and recorded.
    pub contact: Option<LedgerEvent>,
    /// When a notice asked for with the attempt falls due; `None` queues nothing.
    pub notice_due: Option<DateTime<Utc>>,
    /// How a shadow policy's decision diverged from this one (JSON), written beside it
    /// in the decision log; `None` when no shadow ran or it decided alike.
    pub shadow: Option<Box<RawValue>>,
}

/// A notice to queue with a check-and-record, due when the judge says.
#[derive(Debug, Clone)]
pub struct QueuedNotice {
    /// The notice request (JSON).
    pub request: String,
    /// The caller's idempotency key.
    pub idempotency_key: Option<String>,
}

/// The result of [`Store::check_and_record`], with the decision as logged (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedRow {
    /// The decision (logged either way).
    pub decision: Box<RawValue>,
    /// The id of the decision in the log.
    pub decision_id: String,
    /// The id of the recorded event; `None` when the attempt was refused.
    pub event_id: Option<String>,
    /// The id of the queued notice; `None` unless a notice was asked for and the policy
    /// let it be queued.
    pub notice_id: Option<String>,
    /// Whether this is the answer to an earlier request with the same idempotency key
    /// (nothing was written this time).
    #[serde(default)]
    pub replayed: bool,
    /// The shadow's divergence as logged, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Box<RawValue>>,
}

impl RecordedRow {
    /// The response kept with an idempotency key.
    pub(crate) fn kept(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|error| StoreError::Corrupt {
            what: "idempotent response",
            reason: error.to_string(),
        })
    }

    /// The response kept with an idempotency key, given again: nothing was written.
    pub(crate) fn replayed(kept: &str) -> Result<RecordedRow, StoreError> {
        let mut recorded: RecordedRow = from_json("idempotent response", kept)?;
        recorded.replayed = true;
        Ok(recorded)
    }
}

/// An event as stored: with its id, its position in the ledger and when it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredEvent {
    /// Stable id (UUID v7).
    pub id: String,
    /// Position in the ledger (for paging).
    pub seq: i64,
    /// The account.
    pub account_id: String,
    /// The event.
    pub event: LedgerEvent,
    /// When the ledger recorded it.
    pub recorded_at: DateTime<Utc>,
}

/// Filters and paging for [`Store::list_events`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// Only events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only events after this ledger position (the previous page's last `seq`).
    pub after_seq: Option<i64>,
    /// At most this many (capped at [`MAX_PAGE`]).
    pub limit: Option<u32>,
}

/// A live key's row: secret hash, scope names, last use and client names (joined).
/// A stored key's hash, scopes, last use, clients and expiry.
pub(crate) type KeyRow = (
    String,
    String,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// A stored API key, as the authorizer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// SHA-256 (hex) of the secret.
    pub secret_hash: String,
    /// The names of what the key may do (`decide`, `record`, `admin`).
    pub scopes: Vec<String>,
    /// When it was last used (to within a minute), if ever.
    pub last_used_at: Option<DateTime<Utc>>,
    /// The clients whose accounts it reaches; `None` for every client.
    pub clients: Option<Vec<String>>,
    /// When it stops being live, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A logged decision, with the decision as logged (JSON).
#[derive(Debug, Clone)]
pub struct DecisionRow {
    /// Stable id (UUID v7).
    pub id: String,
    /// Position in the log.
    pub seq: i64,
    /// The account.
    pub account_id: String,
    /// When the decision was made (the clock of the caller, not the question's instant).
    pub decided_at: DateTime<Utc>,
    /// The question asked.
    pub question: Attempt,
    /// The answer (JSON).
    pub decision: Box<RawValue>,
    /// The contact the decision allowed and recorded, if it did.
    pub event_id: Option<String>,
}

/// Which logged decisions to read: every given filter must hold. The page is the
/// first `limit` after `after` (a `seq`) when it is given, else the first from `from`
/// when that is given, else the most recent `limit`; in log order either way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecisionSearch {
    /// One account.
    pub account_id: Option<String>,
    /// Decided at or after.
    pub from: Option<DateTime<Utc>>,
    /// Decided before.
    pub to: Option<DateTime<Utc>>,
    /// The verdict, as logged (`allow`, `defer`, `stop`).
    pub outcome: Option<String>,
    /// A rule among the decision's reasons.
    pub rule: Option<String>,
    /// Only entries after this position in the log (the last `seq` of the previous page).
    pub after: Option<i64>,
    /// At most this many (capped at [`MAX_PAGE`]).
    pub limit: u32,
    /// Only decisions about accounts of these clients (an API key limited to clients);
    /// `None` for every account.
    pub clients: Option<Vec<String>>,
}

impl DecisionSearch {
    /// Whether the page runs forward from `after` or `from` (else back from the newest).
    pub(crate) fn forward(&self) -> bool {
        self.after.is_some() || self.from.is_some()
    }
}

/// One daemon's claim on one scheduler partition for one tick.
#[derive(Debug, Clone, Copy)]
pub struct PartitionClaim<'a> {
    /// The tick: seconds since the epoch divided by the interval.
    pub slot: i64,
    /// The partition.
    pub partition: i64,
    /// The daemon (`pid@host/instance`).
    pub owner: &'a str,
}

/// The ledger, on one of its backends.
#[derive(Debug, Clone)]
pub enum Store {
    /// Embedded SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PostgresStore),
}

/// How a store is run, beyond its URL (`[database]` in the daemon's configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// The most history rows the ledger's writers keep between attempts (≈ 250 bytes
    /// each at most).
    pub history_cache_rows: usize,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            history_cache_rows: sqlite::HISTORY_CACHE_ROWS,
        }
    }
}

impl Store {
    /// Opens a store from a URL: `sqlite://PATH` (created if missing) or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with(url, &StoreOptions::default()).await
    }

    /// [`Store::open`] with the daemon's settings.
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(SqliteStore::open_with(url, options).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(PostgresStore::open(url, options).await?))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    /// The history rows the ledger's writers keep between groups of attempts.
    pub fn held_history_rows(&self) -> usize {
        match self {
            Store::Sqlite(store) => store.held_history_rows(),
            Store::Postgres(store) => store.held_history_rows(),
        }
    }

    /// Applies the embedded migrations (idempotent), then gives the accounts written
    /// before the scheduler's partitions existed theirs.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.migrate().await?,
            Store::Postgres(store) => store.migrate().await?,
        }
        loop {
            let rows = match self {
                Store::Sqlite(store) => store.accounts_without_partition(1000).await?,
                Store::Postgres(store) => store.accounts_without_partition(1000).await?,
            };
            if rows.is_empty() {
                return Ok(());
            }
            let rows: Vec<(String, i64)> = rows
                .into_iter()
                .map(|(id, consumer_id)| {
                    let partition = partition_of(consumer_id.as_deref().unwrap_or(&id));
                    (id, partition)
                })
                .collect();
            match self {
                Store::Sqlite(store) => store.set_partitions(&rows).await?,
                Store::Postgres(store) => store.set_partitions(&rows).await?,
            }
        }
    }

    /// Claims a scheduler partition for a tick: true when this daemon is to plan it —
    /// nobody had claimed it, or the claim is older than `stale_before` and unfinished
    /// (its daemon died) — false when another daemon has it or it is done.
    pub async fn claim_partition(
        &self,
        claim: &PartitionClaim<'_>,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(store) => store.claim_partition(claim, now, stale_before).await,
            Store::Postgres(store) => store.claim_partition(claim, now, stale_before).await,
        }
    }

    /// Marks a claimed partition planned, with how many consumers it held.
    pub async fn finish_partition(
        &self,
        claim: &PartitionClaim<'_>,
        planned: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.finish_partition(claim, planned, now).await,
            Store::Postgres(store) => store.finish_partition(claim, planned, now).await,
        }
    }

    /// Drops the claims of ticks before `slot`.
    pub async fn forget_claims_before(&self, slot: i64) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.forget_claims_before(slot).await,
            Store::Postgres(store) => store.forget_claims_before(slot).await,
        }
    }

    /// Fails with [`StoreError::NotMigrated`] when a PostgreSQL ledger lacks some of the
    /// embedded migrations (the SQLite file is migrated when opened by the commands that
    /// write it). Commands that use a ledger check this first, so that an unmigrated
    /// database is named as such instead of failing on a missing table.
    pub async fn ensure_migrated(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(store) => match store.pending_migrations().await? {
                0 => Ok(()),
                pending => Err(StoreError::NotMigrated { pending }),
            },
        }
    }

    /// Creates or replaces an account.
    pub async fn put_account(
        &self,
        account: &Account,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.put_accounts(std::slice::from_ref(account), now).await
    }

    /// Every stored account that no longer passes the account parse, in id order, each
    /// as its [`StoreError::InvalidStoredAccount`] (`dunner ledger check`).
    pub async fn invalid_accounts(&self) -> Result<Vec<StoreError>, StoreError> {
        const PAGE: i64 = 1000;
        let mut invalid = Vec::new();
        let mut after = String::new();
        loop {
            let page = match self {
                Store::Sqlite(store) => store.account_bodies_after(&after, PAGE).await?,
                Store::Postgres(store) => store.account_bodies_after(&after, PAGE).await?,
            };
            let Some((last, _)) = page.last() else {
                return Ok(invalid);
            };
            after = last.clone();
            invalid.extend(
                page.iter()
                    .filter_map(|(id, body)| stored_account(id, body).err()),
            );
        }
    }

    /// Whether an account is stored (valid or not: its ledger can be read either way).
    pub async fn account_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(match self {
            Store::Sqlite(store) => store.get_account(id).await?,
            Store::Postgres(store) => store.get_account(id).await?,
        }
        .is_some())
    }

    /// Reads an account.
    pub async fn get_account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        let body = match self {
            Store::Sqlite(store) => store.get_account(id).await?,
            Store::Postgres(store) => store.get_account(id).await?,
        };
        body.map(|body| stored_account(id, &body)).transpose()
    }

    /// Whether an account is stored and, if so, the client it names: what an API key
    /// limited to clients is checked against.
    pub async fn account_client(&self, id: &str) -> Result<Option<Option<String>>, StoreError> {
        match self {
            Store::Sqlite(store) => store.account_client(id).await,
            Store::Postgres(store) => store.account_client(id).await,
        }
    }

    /// Creates or replaces many accounts in one transaction: all or none.
    pub async fn put_accounts(
        &self,
        accounts: &[Account],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.put_accounts_once(accounts, now, None)
            .await
            .map(|_| ())
    }

    /// [`Store::put_accounts`] under an optional idempotency key, claimed in the same
    /// transaction: a repeat of the key with the same request writes nothing (and answers
    /// `true`), so a retried upsert cannot overwrite what the ledger changed since (a flag
    /// an event set); the same key with another request is refused.
    pub async fn put_accounts_once(
        &self,
        accounts: &[Account],
        now: DateTime<Utc>,
        key: Option<&IdempotencyKey>,
    ) -> Result<bool, StoreError> {
        self.put_accounts_within(accounts, now, key, None).await
    }

    /// [`Store::put_accounts_once`] for a writer limited to `clients`: when one of the
    /// accounts is stored already under another client (or none), nothing is written and
    /// the answer is [`StoreError::AccountNotFound`] for it, as if it did not exist. The
    /// check is in the write's transaction, so no account changes client between the two.
    /// (That each account's body names one of `clients` is the caller's check.)
    pub async fn put_accounts_within(
        &self,
        accounts: &[Account],
        now: DateTime<Utc>,
        key: Option<&IdempotencyKey>,
        clients: Option<&[String]>,
    ) -> Result<bool, StoreError> {
        let rows = accounts
            .iter()
            .map(AccountRow::new)
            .collect::<Result<Vec<_>, StoreError>>()?;
        let claim = key.map(|key| KeyClaim {
            key,
            response: serde_json::json!({ "upserted": rows.len() }).to_string(),
            now,
        });
        let replayed = match self {
            Store::Sqlite(store) => {
                store
                    .put_accounts(&rows, now, claim.as_ref(), clients)
                    .await?
            }
            Store::Postgres(store) => {
                store
                    .put_accounts(&rows, now, claim.as_ref(), clients)
                    .await?
            }
        };
        Ok(replayed.is_some())
    }

    /// Appends a checked entry to an account's ledger and brings the account up to date
    /// in the same transaction, under an optional idempotency key: a repeat of the key
    /// with the same request answers the first event's id (and `true`) and writes
    /// nothing; the key is written in the event's transaction.
    pub async fn append_event(
        &self,
        account_id: &str,
        event: &LedgerEvent,
        now: DateTime<Utc>,
        key: Option<&IdempotencyKey>,
    ) -> Result<(String, bool), StoreError> {
        self.append_row(EventRow::new(account_id, event, now)?, now, key)
            .await
    }

    async fn append_row(
        &self,
        row: EventRow,
        now: DateTime<Utc>,
        key: Option<&IdempotencyKey>,
    ) -> Result<(String, bool), StoreError> {
        let claim = key.map(|key| KeyClaim {
            key,
            response: serde_json::json!({ "event_id": row.id }).to_string(),
            now,
        });
        let replayed = match self {
            Store::Sqlite(store) => {
                store
                    .append_events(std::slice::from_ref(&row), claim.as_ref())
                    .await?
            }
            Store::Postgres(store) => {
                store
                    .append_events(std::slice::from_ref(&row), claim.as_ref())
                    .await?
            }
        };
        Ok(match replayed {
            Some(response) => {
                let first: serde_json::Value = from_json("idempotent response", &response)?;
                let id = first
                    .get("event_id")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| {
                        StoreError::IdempotencyMismatch(
                            key.map_or_else(String::new, |k| k.key.clone()),
                        )
                    })?;
                (id.to_string(), true)
            }
            None => (row.id, false),
        })
    }

    /// Appends an `outcome_reported` entry under an optional idempotency key, checking in
    /// the same transaction that its `attempt_id` is a contact of this account recorded
    /// without an outcome, at or after `made_since` (the grace period), whose outcome was
    /// not reported before.
    pub async fn append_outcome(
        &self,
        account_id: &str,
        event: &LedgerEvent,
        made_since: DateTime<Utc>,
        now: DateTime<Utc>,
        key: Option<&IdempotencyKey>,
    ) -> Result<(String, bool), StoreError> {
        let mut row = EventRow::new(account_id, event, now)?;
        row.outcome_of = event.attempt_id.clone().map(|attempt_id| OutcomeOf {
            attempt_id,
            made_since,
        });
        self.append_row(row, now, key).await
    }

    /// Loads a placement: accounts, then their prior history, in one transaction —
    /// nothing is written unless everything is. The events were checked by the caller
    /// ([`LedgerEvent::validate`]); `progress` is told how many rows were written.
    pub async fn import(
        &self,
        accounts: &[Account],
        events: &[(String, LedgerEvent)],
        now: DateTime<Utc>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), StoreError> {
        let accounts = accounts
            .iter()
            .map(AccountRow::new)
            .collect::<Result<Vec<_>, StoreError>>()?;
        // An event for an account that is neither imported nor stored is named here,
        // before anything is written.
        let imported: std::collections::HashSet<&str> =
            accounts.iter().map(|row| row.id.as_str()).collect();
        let mut known = std::collections::HashSet::new();
        for (account_id, _) in events {
            if !imported.contains(account_id.as_str())
                && known.insert(account_id.as_str())
                && self.get_account(account_id).await?.is_none()
            {
                return Err(StoreError::AccountNotFound(account_id.clone()));
            }
        }
        // Identical entries of one import are told apart by their occurrence, so that a
        // second import of the same files matches each to its first and writes nothing.
        let mut occurrences: std::collections::HashMap<(String, String), u32> =
            std::collections::HashMap::new();
        let events = events
            .iter()
            .map(|(account_id, event)| {
                let mut row = EventRow::new(account_id, event, now)?;
                let seen = occurrences
                    .entry((account_id.clone(), row.body.clone()))
                    .or_default();
                row.import_key = Some(import_key(account_id, &row.body, *seen));
                *seen += 1;
                Ok(row)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        match self {
            Store::Sqlite(store) => store.import(&accounts, &events, now, progress).await,
            Store::Postgres(store) => store.import(&accounts, &events, now, progress).await,
        }
    }

    /// Lists an account's events in ledger order.
    pub async fn list_events(
        &self,
        account_id: &str,
        query: &EventQuery,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        match self {
            Store::Sqlite(store) => store.list_events(account_id, query).await,
            Store::Postgres(store) => store.list_events(account_id, query).await,
        }
    }

    /// An account and its history from `since` on — with the contacts about the
    /// consumer's other debts (accounts with the same `consumer.id`), tagged with their
    /// account — for questions that record nothing (read without locking: a concurrent
    /// attempt may land just after). Check-and-record reads through the same backend
    /// query, under its lock.
    pub async fn account_with_history(
        &self,
        account_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<(Account, Vec<Event>)>, StoreError> {
        let read = match self {
            Store::Sqlite(store) => store.account_and_history(account_id, since).await?,
            Store::Postgres(store) => store.account_and_history(account_id, since).await?,
        };
        let Some(read) = read else {
            return Ok(None);
        };
        let account = stored_account(account_id, &read.body)?;
        Ok(Some((
            account,
            history_events(account_id, &read.history, None)?,
        )))
    }

    /// Judges an attempt over the stored account and history and writes what the judge
    /// said — the decision (logged either way, with the policy's texts kept by digest),
    /// the contact, a notice — atomically per consumer.
    pub async fn check_and_record(
        &self,
        judge: &Arc<dyn Judge>,
        attempt: &Attempt,
        notice: Option<QueuedNotice>,
        now: DateTime<Utc>,
    ) -> Result<RecordedRow, StoreError> {
        match self {
            Store::Sqlite(store) => {
                store
                    .check_and_record(judge, attempt, now, notice, None)
                    .await
            }
            Store::Postgres(store) => {
                store
                    .check_and_record(judge, attempt, now, notice, None)
                    .await
            }
        }
    }

    /// The send-time check of a leased notice: judges `attempt` (the notice's contact at
    /// the moment of sending) like [`Store::check_and_record`], under the same lock as
    /// the dialers' attempts, over a history that holds every other pending notice's
    /// place but not this notice's own (it is the contact being decided). Records no
    /// contact: the notice keeps its place until its delivery is recorded.
    pub async fn check_notice_send(
        &self,
        judge: &Arc<dyn Judge>,
        attempt: &Attempt,
        notice_id: &str,
        now: DateTime<Utc>,
    ) -> Result<RecordedRow, StoreError> {
        let sending = Some(notice_id.to_string());
        match self {
            Store::Sqlite(store) => {
                store
                    .check_and_record(judge, attempt, now, None, sending)
                    .await
            }
            Store::Postgres(store) => {
                store
                    .check_and_record(judge, attempt, now, None, sending)
                    .await
            }
        }
    }

    /// Queues a notice that no policy check places (a webhook that reaches no consumer).
    pub async fn insert_notice(&self, row: &NoticeRow) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.insert_notice(row).await,
            Store::Postgres(store) => store.insert_notice(row).await,
        }
    }

    /// A notice by id.
    pub async fn get_notice(&self, id: &str) -> Result<Option<Notice>, StoreError> {
        match self {
            Store::Sqlite(store) => store.notice_where("id", id).await,
            Store::Postgres(store) => store.notice_where("id", id).await,
        }
    }

    /// The notice queued under an idempotency key.
    pub async fn notice_by_key(&self, key: &str) -> Result<Option<Notice>, StoreError> {
        match self {
            Store::Sqlite(store) => store.notice_where("idempotency_key", key).await,
            Store::Postgres(store) => store.notice_where("idempotency_key", key).await,
        }
    }

    /// Notices, oldest first, optionally of one status (`dead` lists the dead letters).
    pub async fn list_notices(
        &self,
        status: Option<NoticeStatus>,
        limit: u32,
    ) -> Result<Vec<Notice>, StoreError> {
        self.list_notices_within(status, limit, None).await
    }

    /// [`Store::list_notices`] about accounts of `clients` only (`None`: every account).
    pub async fn list_notices_within(
        &self,
        status: Option<NoticeStatus>,
        limit: u32,
        clients: Option<&[String]>,
    ) -> Result<Vec<Notice>, StoreError> {
        let status = status.map(NoticeStatus::as_str);
        let limit = i64::from(limit.min(MAX_PAGE));
        match self {
            Store::Sqlite(store) => store.list_notices(status, limit, clients).await,
            Store::Postgres(store) => store.list_notices(status, limit, clients).await,
        }
    }

    /// Takes up to `limit` due notices for `lease`: no other worker (in this daemon or
    /// another on the same PostgreSQL) takes them until the lease runs out, which only
    /// happens when this worker died — then they are sent again, with the same id.
    pub async fn lease_notices(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<Notice>, StoreError> {
        let until = now
            .checked_add_signed(TimeDelta::from_std(lease).unwrap_or(TimeDelta::minutes(5)))
            .unwrap_or(now);
        match self {
            Store::Sqlite(store) => store.lease_notices(now, until, i64::from(limit)).await,
            Store::Postgres(store) => store.lease_notices(now, until, i64::from(limit)).await,
        }
    }

    /// Frees the leases of an embedded ledger at start: one daemon owns a SQLite file, so
    /// a lease still held is one its previous run took before it died, and the notice
    /// goes out again now (same id) instead of when the lease runs out. PostgreSQL
    /// leases belong to daemons that may still run, and are left alone.
    pub async fn release_stale_leases(&self) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(store) => store.release_leases().await,
            Store::Postgres(_) => Ok(0),
        }
    }

    /// The outbox's gauges at `now`: one aggregate query over the pending and dead rows,
    /// read when `/metrics` is scraped (see [`OutboxGauges`]).
    pub async fn outbox_gauges(&self, now: DateTime<Utc>) -> Result<OutboxGauges, StoreError> {
        match self {
            Store::Sqlite(store) => store.outbox_gauges(now).await,
            Store::Postgres(store) => store.outbox_gauges(now).await,
        }
    }

    /// The next instant a pending notice falls due (or its lease runs out).
    pub async fn next_notice_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self {
            Store::Sqlite(store) => store.next_notice_due().await,
            Store::Postgres(store) => store.next_notice_due().await,
        }
    }

    /// Records how a try of a leased notice ended; a delivered notice's ledger event
    /// (an email is a contact and counts toward the caps) is appended in the same
    /// transaction.
    pub async fn finish_notice(
        &self,
        id: &str,
        update: &NoticeUpdate,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.finish_notices(&[(id.to_string(), update.clone())], now)
            .await
    }

    /// [`Store::finish_notice`] for many notices in one transaction (one fsync for a
    /// worker's whole batch).
    pub async fn finish_notices(
        &self,
        updates: &[(String, NoticeUpdate)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let rows = updates
            .iter()
            .map(|(id, update)| {
                let event = match update {
                    NoticeUpdate::Delivered {
                        account_id,
                        event: Some(event),
                    } => Some(EventRow::new(account_id, event, now)?),
                    _ => None,
                };
                Ok(FinishRow {
                    id: id.as_str(),
                    update,
                    event,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        match self {
            Store::Sqlite(store) => store.finish_notices(&rows, now).await,
            Store::Postgres(store) => store.finish_notices(&rows, now).await,
        }
    }

    /// Stores a new API key (its hash) with a name and scopes.
    pub async fn add_api_key(
        &self,
        id: &str,
        secret_hash: &str,
        name: &str,
        scopes: &[&str],
        clients: Option<&[String]>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let scopes = scopes.join(",");
        // Client ids hold no comma (`check_client_id`), so the join is unambiguous.
        let clients = clients.map(|clients| clients.join(","));
        let clients = clients.as_deref();
        match self {
            Store::Sqlite(store) => {
                store
                    .add_api_key(id, name, secret_hash, &scopes, clients, now)
                    .await
            }
            Store::Postgres(store) => {
                store
                    .add_api_key(id, name, secret_hash, &scopes, clients, now)
                    .await
            }
        }
    }

    /// The stored hash and scopes of a live key: neither revoked nor expired at `now`.
    pub async fn api_key(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredKey>, StoreError> {
        let row = match self {
            Store::Sqlite(store) => store.api_key(id, now).await?,
            Store::Postgres(store) => store.api_key(id, now).await?,
        };
        Ok(row.map(
            |(secret_hash, scopes, last_used_at, clients, expires_at)| StoredKey {
                last_used_at,
                expires_at,
                secret_hash,
                clients: clients.map(|clients: String| {
                    clients
                        .split(',')
                        .filter(|name| !name.is_empty())
                        .map(str::to_string)
                        .collect()
                }),
                scopes: scopes
                    .split(',')
                    .filter(|name| !name.is_empty())
                    .map(str::to_string)
                    .collect(),
            },
        ))
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.ping().await,
            Store::Postgres(store) => store.ping().await,
        }
    }

    /// Logged decisions matching `search`, in log order (see [`DecisionSearch`] for
    /// which page).
    pub async fn search_decisions(
        &self,
        search: &DecisionSearch,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        let search = DecisionSearch {
            limit: search.limit.min(MAX_PAGE),
            ..search.clone()
        };
        match self {
            Store::Sqlite(store) => store.search_decisions(&search).await,
            Store::Postgres(store) => store.search_decisions(&search).await,
        }
    }

    /// The pack texts (file name → text) behind a policy digest, if it was ever used.
    pub async fn policy_sources(
        &self,
        digest: &str,
    ) -> Result<Option<Vec<(String, String)>>, StoreError> {
        let json = match self {
            Store::Sqlite(store) => store.policy_sources(digest).await?,
            Store::Postgres(store) => store.policy_sources(digest).await?,
        };
        json.map(|json| from_json("policy sources", &json))
            .transpose()
    }
}

/// The outbox at a glance, for `/metrics`: notices by channel and state, and the
/// oldest instant a pending notice fell due.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxGauges {
    /// Counts per channel (`email`, `webhook`).
    pub by_channel: Vec<OutboxCounts>,
    /// The earliest `due_at` of a pending notice that is due (leased or not).
    pub oldest_due: Option<DateTime<Utc>>,
}

/// The notices of one channel, by state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// The channel, as stored in the request.
    pub channel: String,
    /// Pending, due, and not leased: waiting for a worker.
    pub due: i64,
    /// Pending and leased: being sent.
    pub leased: i64,
    /// Dead letters.
    pub dead: i64,
}

/// How a try of a leased notice ended, as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub enum NoticeUpdate {
    /// Sent; the ledger event to append, if it is a contact.
    Delivered {
        /// The notice's account.
        account_id: String,
        /// The event (an email sent).
        event: Option<LedgerEvent>,
    },
    /// Pending again, due at `due_at` (a retry, or a window that closed meanwhile).
    Reschedule {
        /// When to try next.
        due_at: DateTime<Utc>,
        /// Tries so far.
        attempts: u32,
        /// Why.
        error: Option<String>,
    },
    /// Cancelled by the policy at send time, or dead after the last try.
    Close {
        /// `Cancelled` or `Dead`.
        status: NoticeStatus,
        /// Tries so far.
        attempts: u32,
        /// Why.
        error: String,
    },
}

impl NoticeUpdate {
    /// The row's new status, tries, due instant and error.
    pub(crate) fn columns(
        &self,
        now: DateTime<Utc>,
    ) -> (NoticeStatus, Option<u32>, DateTime<Utc>, Option<&str>) {
        match self {
            NoticeUpdate::Delivered { .. } => (NoticeStatus::Delivered, None, now, None),
            NoticeUpdate::Reschedule {
                due_at,
                attempts,
                error,
            } => (
                NoticeStatus::Pending,
                Some(*attempts),
                *due_at,
                error.as_deref(),
            ),
            NoticeUpdate::Close {
                status,
                attempts,
                error,
            } => (*status, Some(*attempts), now, Some(error.as_str())),
        }
    }
}

/// One finished try, ready to be written.
pub(crate) struct FinishRow<'a> {
    pub id: &'a str,
    pub update: &'a NoticeUpdate,
    pub event: Option<EventRow>,
}

/// The notices of a listing or a lease that can be read back. A row that cannot (written
/// by something else, or before instants were bounded) is logged and left out: one bad
/// row must never stop the outbox worker or the listing of every other notice.
pub(crate) fn skip_unreadable_notices(
    rows: impl IntoIterator<Item = (String, Result<Notice, StoreError>)>,
) -> Vec<Notice> {
    rows.into_iter()
        .filter_map(|(id, read)| match read {
            Ok(notice) => Some(notice),
            Err(error) => {
                tracing::error!(notice = %id, %error, "a stored notice cannot be read back; it is skipped (see `dunner` docs: unreadable rows)");
                None
            }
        })
        .collect()
}

/// A notice row as read back, before its JSON request is parsed.
pub(crate) struct NoticeColumns {
    pub id: String,
    pub account_id: String,
    pub status: String,
    pub due_at: DateTime<Utc>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub request: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl NoticeColumns {
    pub(crate) fn into_notice(self) -> Result<Notice, StoreError> {
        Ok(Notice {
            status: NoticeStatus::parse(&self.status).ok_or_else(|| StoreError::Corrupt {
                what: "notice status",
                reason: format!("`{}`", self.status),
            })?,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            request: from_json("notice request", &self.request)?,
            id: self.id,
            account_id: self.account_id,
            due_at: self.due_at,
            last_error: self.last_error,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// An account ready to be written.
pub(crate) struct AccountRow {
    pub id: String,
    pub consumer_id: Option<String>,
    pub body: String,
    /// The consumer's scheduler partition.
    pub partition: i64,
    /// The agency's client (`accounts.client`, for key limits and filters).
    pub client: Option<String>,
}

impl AccountRow {
    fn new(account: &Account) -> Result<AccountRow, StoreError> {
        Ok(AccountRow {
            id: account.id.clone(),
            consumer_id: account.consumer.id.clone(),
            body: to_json(account)?,
            partition: partition_of(account.consumer.id.as_deref().unwrap_or(&account.id)),
            client: account.client.clone(),
        })
    }
}

/// An account's stored body and its history from a lookback on, with the events of the
/// consumer's other accounts, in ledger order.
pub(crate) struct AccountHistoryRows {
    pub body: String,
    pub history: Vec<HistoryRow>,
}

/// A stored event as a decision reads it: its id, the debt it is about and its JSON body.
pub(crate) struct HistoryRow {
    pub id: String,
    pub account_id: String,
    pub body: String,
}

/// An event ready to be written: its id, instant and JSON body, and the event itself
/// when it changes the account.
pub(crate) struct EventRow {
    pub id: String,
    pub account_id: String,
    pub at: DateTime<Utc>,
    pub body: String,
    pub recorded_at: DateTime<Utc>,
    pub changes_account: Option<LedgerEvent>,
    /// For a reported outcome: the attempt it is about, checked when it is written.
    pub outcome_of: Option<OutcomeOf>,
    /// For an imported entry: its fingerprint; an entry whose fingerprint is stored is
    /// not written again.
    pub import_key: Option<String>,
}

/// The fingerprint of an imported entry: its account, its body and how many identical
/// entries of the same import came before it.
fn import_key(account_id: &str, body: &str, occurrence: u32) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    for part in [account_id.as_bytes(), b"\0", body.as_bytes(), b"\0"] {
        hash.update(part);
    }
    hash.update(occurrence.to_be_bytes());
    crate::domain::hex(&hash.finalize())
}

/// The attempt a reported outcome is about, and the earliest attempt instant that still
/// takes one.
pub(crate) struct OutcomeOf {
    pub attempt_id: String,
    pub made_since: DateTime<Utc>,
}

impl OutcomeOf {
    /// Whether the stored attempt (its JSON body, `None` when the account holds no such
    /// event) takes this outcome; a reported outcome already stored is checked by the
    /// backend.
    pub(crate) fn check(&self, attempt: Option<&str>, account_id: &str) -> Result<(), StoreError> {
        let Some(body) = attempt else {
            return Err(StoreError::AttemptNotFound {
                account: account_id.to_string(),
                attempt: self.attempt_id.clone(),
            });
        };
        let attempt: LedgerEvent = from_json("event", body)?;
        if attempt.event_type != crate::domain::LedgerEventType::Contact {
            return Err(StoreError::AttemptNotFound {
                account: account_id.to_string(),
                attempt: self.attempt_id.clone(),
            });
        }
        if !attempt.awaits_outcome() {
            return Err(StoreError::OutcomeKnown(self.attempt_id.clone()));
        }
        if attempt.at < self.made_since {
            return Err(StoreError::OutcomeTooLate {
                attempt: self.attempt_id.clone(),
                made_at: attempt.at,
                since: self.made_since,
            });
        }
        Ok(())
    }
}

impl EventRow {
    fn new(
        account_id: &str,
        event: &LedgerEvent,
        now: DateTime<Utc>,
    ) -> Result<EventRow, StoreError> {
        Ok(EventRow {
            id: new_id(now),
            account_id: account_id.to_string(),
            at: event.at,
            body: to_json(event)?,
            recorded_at: now,
            changes_account: event.changes_account().then(|| event.clone()),
            outcome_of: None,
            import_key: None,
        })
    }

    /// The account's stored body after this event, when the event changes it.
    pub(crate) fn updated_account(&self, body: &str) -> Result<Option<String>, StoreError> {
        let Some(event) = &self.changes_account else {
            return Ok(None);
        };
        let mut account: Account = stored_account(&self.account_id, body)?;
        event.apply(&mut account)?;
        to_json(&account).map(Some)
    }
}

/// What a check-and-record decides, before the backend writes it.
pub(crate) struct AttemptRows {
    pub decision: Box<RawValue>,
    pub shadow: Option<Box<RawValue>>,
    pub outcome: String,
    pub decision_id: String,
    pub event: Option<EventRow>,
    pub question: String,
    pub notice: Option<NoticeRow>,
}

/// A notice ready to be written.
pub struct NoticeRow {
    /// Stable id (UUID v7).
    pub id: String,
    /// The account.
    pub account_id: String,
    /// The caller's idempotency key.
    pub idempotency_key: Option<String>,
    /// When it falls due.
    pub due_at: DateTime<Utc>,
    /// The notice request (JSON).
    pub request: String,
    /// When it is queued.
    pub now: DateTime<Utc>,
}

/// One check-and-record queued for a store's group-commit writer (SQLite's writer
/// thread, PostgreSQL's writer tasks), and where its answer goes.
pub(crate) struct AttemptJob {
    pub judge: Arc<dyn Judge>,
    pub attempt: Attempt,
    pub now: DateTime<Utc>,
    pub notice: Option<QueuedNotice>,
    /// The notice whose send this checks (its own place is not counted against it).
    pub sending: Option<String>,
    pub reply: tokio::sync::oneshot::Sender<Result<RecordedRow, StoreError>>,
}

impl AttemptJob {
    /// Queues an attempt for `writer` and waits for its answer; a writer gone (its
    /// thread or tasks ended) is an error, never an attempt silently dropped.
    pub(crate) async fn queue(
        writer: &tokio::sync::mpsc::Sender<AttemptJob>,
        judge: &Arc<dyn Judge>,
        attempt: &Attempt,
        now: DateTime<Utc>,
        notice: Option<QueuedNotice>,
        sending: Option<String>,
    ) -> Result<RecordedRow, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = AttemptJob {
            judge: Arc::clone(judge),
            attempt: attempt.clone(),
            now,
            notice,
            sending,
            reply,
        };
        writer
            .send(job)
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

/// The answer to an attempt whose idempotency key an earlier attempt of the same group
/// (one commit of a group-commit writer) carried, with `first_hash` and answer `first`:
/// that answer replayed for the same request, a mismatch for another.
pub(crate) fn repeat_in_group(
    key: &IdempotencyKey,
    first_hash: &str,
    first: Option<&Result<RecordedRow, StoreError>>,
) -> Result<RecordedRow, StoreError> {
    if first_hash != key.request_hash {
        return Err(StoreError::IdempotencyMismatch(key.key.clone()));
    }
    match first {
        Some(Ok(first)) => Ok(RecordedRow {
            replayed: true,
            ..first.clone()
        }),
        _ => Err(StoreError::CommitFailed(
            "the first request with this idempotency key failed".into(),
        )),
    }
}

/// Check-and-record between its read and its write, for the writers, which keep the rows
/// they read parsed (`sqlite::histories`, `postgres::histories`): asks the judge over the
/// account and the history rows, in the order the read returns them (the same history,
/// so the same decision, as parsing them afresh), and builds the rows to write.
#[allow(clippy::too_many_arguments)]
pub(crate) fn judge_attempt_parsed<'r>(
    judge: &dyn Judge,
    account: &Account,
    rows: impl Iterator<Item = ParsedRow<'r>>,
    attempt: &Attempt,
    now: DateTime<Utc>,
    notice: Option<&QueuedNotice>,
    sending: Option<&str>,
) -> Result<AttemptRows, StoreError> {
    let history = history_from_rows(&attempt.account_id, rows, sending, Ok)?;
    judged(judge, account, &history, attempt, now, notice)
}

/// A history row: its id, the debt it is about and its event (`B`: its JSON body as
/// read, or the event already parsed).
#[derive(Clone, Copy)]
pub(crate) struct StoredRow<'r, B> {
    pub id: &'r str,
    pub account_id: &'r str,
    pub event: B,
}

/// A history row already parsed.
pub(crate) type ParsedRow<'r> = StoredRow<'r, &'r LedgerEvent>;

/// The judge's step and the rows it makes, over a parsed account and history.
fn judged(
    judge: &dyn Judge,
    account: &Account,
    history: &[Event],
    attempt: &Attempt,
    now: DateTime<Utc>,
    notice: Option<&QueuedNotice>,
) -> Result<AttemptRows, StoreError> {
    let judgement = judge.judge(account, history, attempt)?;
    let event = judgement
        .contact
        .as_ref()
        .map(|contact| EventRow::new(&attempt.account_id, contact, now))
        .transpose()?;
    let notice = match (notice, judgement.notice_due) {
        (Some(notice), Some(due_at)) => Some(NoticeRow {
            id: new_id(now),
            account_id: attempt.account_id.clone(),
            idempotency_key: notice.idempotency_key.clone(),
            due_at,
            request: notice.request.clone(),
            now,
        }),
        _ => None,
    };
    Ok(AttemptRows {
        notice,
        question: to_json(attempt)?,
        decision: judgement.decision,
        shadow: judgement.shadow,
        outcome: judgement.outcome,
        decision_id: new_id(now),
        event,
    })
}

/// [`history_from_rows`] over rows as read, each event parsed from its JSON body.
fn history_events(
    account_id: &str,
    rows: &[HistoryRow],
    sending: Option<&str>,
) -> Result<Vec<Event>, StoreError> {
    let rows = rows.iter().map(|row| StoredRow {
        id: row.id.as_str(),
        account_id: row.account_id.as_str(),
        event: row.body.as_str(),
    });
    history_from_rows(account_id, rows, sending, |body| {
        from_json::<LedgerEvent>("event", body)
    })
}

/// The history a decision reads from stored rows (see [`crate::domain::history_of`]):
/// the facts the engine counts, those of the consumer's other debts tagged with their
/// account (they count for `per = "consumer"`), outcomes reported later in place, and
/// the pending email notices as contacts at their due instants — except the place of
/// the notice being sent (`sending`), which is the very contact being decided. That
/// place is left out before `event` parses it: what it holds cannot refuse the attempt.
fn history_from_rows<'r, B, E: std::borrow::Borrow<LedgerEvent>>(
    account_id: &str,
    rows: impl Iterator<Item = StoredRow<'r, B>>,
    sending: Option<&str>,
    mut event: impl FnMut(B) -> Result<E, StoreError>,
) -> Result<Vec<Event>, StoreError> {
    let own_place = sending.map(pending_row_id);
    let parsed = rows
        .filter(|row| own_place.as_deref() != Some(row.id))
        .map(|row| {
            let other = (row.account_id != account_id).then_some(row.account_id);
            Ok((row.id, other, event(row.event)?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let entries: Vec<EntryRef<'_>> = parsed
        .iter()
        .map(|(id, other_account, event)| EntryRef {
            id,
            other_account: *other_account,
            event: event.borrow(),
        })
        .collect();
    Ok(history_of_refs(&entries))
}

/// The history row id of a pending notice's place in the caps.
pub(crate) fn pending_row_id(notice_id: &str) -> String {
    format!("notice:{notice_id}")
}

/// A pending notice's place in the caps, as a history row: an email notice is a contact
/// on the email channel at its due instant, from the moment it is queued until it is
/// delivered (its contact then stands in its place, written in the same transaction that
/// closes it), cancelled or dead. Other notices (webhooks) reach no consumer and hold no
/// place. A request that cannot be read holds a place as an email would: when in doubt,
/// it counts.
pub(crate) fn pending_notice_row(
    id: &str,
    account_id: &str,
    due_at: DateTime<Utc>,
    request: &str,
) -> Result<Option<HistoryRow>, StoreError> {
    let request: Option<NoticeRequest> = serde_json::from_str(request).ok();
    if request
        .as_ref()
        .is_some_and(|r| r.channel != NoticeChannel::Email)
    {
        return Ok(None);
    }
    let event = LedgerEvent {
        at: due_at,
        event_type: crate::domain::LedgerEventType::Contact,
        channel: Some(Channel::Email),
        outcome: Some(Outcome::Sent),
        initiated_by: crate::domain::InitiatedBy::Collector,
        contact_point: request.as_ref().and_then(|r| r.to.clone()),
        flag: None,
        amount: None,
        notice_id: None,
        webhook_event: None,
        purpose: Some(request.as_ref().map_or(Purpose::Collection, |r| r.purpose)),
        due_on: None,
        installments: Vec::new(),
        attempt_id: None,
    };
    Ok(Some(HistoryRow {
        id: pending_row_id(id),
        account_id: account_id.to_string(),
        body: to_json(&event)?,
    }))
}

/// Bounds a writer's kept histories (SQLite's and PostgreSQL's): past `max_rows`, forgets
/// debtors (whichever the map yields first: no use is tracked) until a quarter of the
/// bound is free, and returns the rows still held. Dropping them all instead made every
/// debtor in use load again at once, and a working set just over the bound did so over
/// and over (issue 15: 36 times in 15 s under `attempts.sh`, a third of the writer's
/// time).
pub(crate) fn forget_past_bound<V>(
    debtors: &mut std::collections::HashMap<String, V>,
    rows: usize,
    max_rows: usize,
    rows_of: impl Fn(&V) -> usize,
) -> usize {
    if rows <= max_rows {
        return rows;
    }
    let target = max_rows - max_rows / 4;
    let mut rows = rows;
    debtors.retain(|_, debtor| {
        if rows <= target {
            return true;
        }
        rows = rows.saturating_sub(rows_of(debtor));
        false
    });
    rows
}

/// The earliest event instant a decision at `at` reads.
pub fn lookback_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.checked_sub_signed(TimeDelta::days(HISTORY_LOOKBACK_DAYS))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A new stable id: UUID v7, ordered by `now` (the caller's clock, not read here).
pub(crate) fn new_id(now: DateTime<Utc>) -> String {
    let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
    let timestamp =
        uuid::Timestamp::from_unix(uuid::NoContext, seconds, now.timestamp_subsec_nanos());
    uuid::Uuid::new_v7(timestamp).to_string()
}

/// A new legal hold's id: `hold-` and a UUID v7.
pub fn new_hold_id(now: DateTime<Utc>) -> String {
    format!("hold-{}", new_id(now))
}

/// Instants as sortable text (SQLite): RFC 3339, UTC, microseconds.
pub(crate) fn instant_text(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt {
        what: "value to store",
        reason: error.to_string(),
    })
}

/// Parses a stored account with the one account parse every entry point uses; a row that
/// no longer passes it names its field (it is never read as if the field were absent).
pub(crate) fn stored_account(id: &str, body: &str) -> Result<Account, StoreError> {
    if let Ok(account) = serde_json::from_str(body) {
        return Ok(account);
    }
    let deserializer = &mut serde_json::Deserializer::from_str(body);
    match serde_path_to_error::deserialize::<_, Account>(deserializer) {
        Ok(account) => Ok(account),
        Err(error) => {
            let field = error.path().to_string();
            let message = error.inner().to_string();
            let message = message
                .rfind(" at line ")
                .and_then(|index| message.get(..index))
                .unwrap_or(&message)
                .to_string();
            Err(StoreError::InvalidStoredAccount {
                id: id.to_string(),
                field,
                message,
            })
        }
    }
}

pub(crate) fn from_json<T: for<'de> Deserialize<'de>>(
    what: &'static str,
    json: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|error| StoreError::Corrupt {
        what,
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Ids are UUID v7 ordered by the caller's clock, and their random part is random:
    /// ids drawn at one instant (the writers draw a decision's and an event's together)
    /// never repeat.
    #[test]
    fn ids_at_one_instant_carry_it_and_never_repeat() {
        let now = DateTime::parse_from_rfc3339("2026-04-07T15:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc);
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_id(now)).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(3) {
            let uuid = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(uuid.get_version(), Some(uuid::Version::SortRand));
            let (seconds, nanos) = uuid.get_timestamp().unwrap().to_unix();
            assert_eq!(
                (seconds, nanos / 1_000_000),
                (u64::try_from(now.timestamp()).unwrap(), 123)
            );
        }
    }
}

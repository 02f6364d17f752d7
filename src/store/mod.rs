//! The durable contact ledger: accounts, the append-only event ledger, the decision
//! log and the policy texts behind every digest.
//!
//! One interface named after use cases, two implementations: SQLite (embedded, WAL,
//! durable commits; the default) and PostgreSQL (several daemons sharing one ledger).
//! "Check the policy and record the attempt" is one transaction per account on both
//! (`BEGIN IMMEDIATE` on SQLite, a row lock on PostgreSQL), so concurrent callers can
//! never break a cap together. The decision itself is the pure engine's.

mod consumers;
pub mod outbox;
mod postgres;
pub mod reports;
mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Account, Channel, Event, EventType, InitiatedBy, LedgerEvent, LedgerEventError, Outcome,
    Purpose,
};
use crate::engine::{Decision, Question, Subject};
use crate::policy::Policy;

pub use consumers::{ConsumerPage, MAX_CONSUMER_PAGE};
pub use outbox::{Notice, NoticeChannel, NoticeError, NoticeRequest, NoticeStatus, RetrySchedule};
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
    /// The event does not hold together or cannot apply to the account.
    #[error("{0}")]
    InvalidEvent(#[from] LedgerEventError),
    /// The database URL is not one dunner can use.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// The migrations could not be applied.
    #[error("failed to migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The notice request does not hold together.
    #[error("{0}")]
    InvalidNotice(#[from] NoticeError),
    /// The notice does not exist.
    #[error("notice `{0}` does not exist")]
    NoticeNotFound(String),
    /// Only dead or cancelled notices are replayed.
    #[error("notice `{id}` is {}; only dead or cancelled notices are replayed", status.as_str())]
    NotReplayable {
        /// The notice.
        id: String,
        /// Where it is.
        status: NoticeStatus,
    },
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

/// The result of [`Store::check_and_record`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// The decision (logged either way).
    pub decision: Decision,
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
}

impl Recorded {
    /// The response kept with an idempotency key.
    pub(crate) fn kept(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|error| StoreError::Corrupt {
            what: "idempotent response",
            reason: error.to_string(),
        })
    }

    /// The response kept with an idempotency key, given again: nothing was written.
    pub(crate) fn replayed(kept: &str) -> Result<Recorded, StoreError> {
        let mut recorded: Recorded = from_json("idempotent response", kept)?;
        recorded.replayed = true;
        Ok(recorded)
    }
}

/// What check-and-record writes besides the decision.
#[derive(Debug, Clone)]
pub(crate) enum Record {
    /// Nothing: the question only.
    Nothing,
    /// The contact, when allowed.
    Contact,
    /// A notice in the outbox, due when the policy allows (now or `next_allowed_at`),
    /// unless a hold stops it.
    Notice {
        request: Box<NoticeRequest>,
        idempotency_key: Option<String>,
    },
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

/// A stored API key, as the authorizer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// SHA-256 (hex) of the secret.
    pub secret_hash: String,
    /// What the key may do.
    pub scopes: Vec<crate::auth::Scope>,
}

/// A logged decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoggedDecision {
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
    /// The answer.
    pub decision: Decision,
}

/// The ledger, on one of its backends.
#[derive(Debug, Clone)]
pub enum Store {
    /// Embedded SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PostgresStore),
}

impl Store {
    /// Opens a store from a URL: `sqlite://PATH` (created if missing) or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(SqliteStore::open(url).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(PostgresStore::open(url).await?))
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    /// Applies the embedded migrations (idempotent).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.migrate().await,
            Store::Postgres(store) => store.migrate().await,
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

    /// Creates or replaces many accounts in one transaction: all or none.
    pub async fn put_accounts(
        &self,
        accounts: &[Account],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let rows = accounts
            .iter()
            .map(AccountRow::new)
            .collect::<Result<Vec<_>, StoreError>>()?;
        match self {
            Store::Sqlite(store) => store.put_accounts(&rows, now).await,
            Store::Postgres(store) => store.put_accounts(&rows, now).await,
        }
    }

    /// Appends a fact to an account's ledger (a contact made elsewhere, a consent, a
    /// flag set or cleared, an opt-out, a payment), without a policy check, and brings
    /// the account up to date in the same transaction. Returns the event's id.
    pub async fn append_event(
        &self,
        account_id: &str,
        event: &LedgerEvent,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        self.append_event_once(account_id, event, now, None)
            .await
            .map(|(id, _)| id)
    }

    /// [`Store::append_event`] under an idempotency key: a repeat of the key with the
    /// same request answers the first event's id (and `true`) and writes nothing; the
    /// key is written in the event's transaction.
    pub async fn append_event_once(
        &self,
        account_id: &str,
        event: &LedgerEvent,
        now: DateTime<Utc>,
        key: Option<&IdempotencyKey>,
    ) -> Result<(String, bool), StoreError> {
        event.validate()?;
        let row = EventRow::new(account_id, event, now)?;
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

    /// Loads a placement: accounts, then their prior history, in one transaction —
    /// nothing is written unless everything is. Events must be valid (see
    /// [`LedgerEvent::validate`]); `progress` is told how many rows were written.
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
        let events = events
            .iter()
            .map(|(account_id, event)| {
                event.validate()?;
                EventRow::new(account_id, event, now)
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
    /// attempt may land just after).
    pub async fn account_with_history(
        &self,
        account_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<(Account, Vec<Event>)>, StoreError> {
        let Some(account) = self.get_account(account_id).await? else {
            return Ok(None);
        };
        let mut debts = vec![account_id.to_string()];
        if let Some(consumer) = &account.consumer.id {
            let others = match self {
                Store::Sqlite(store) => store.consumer_accounts(consumer).await?,
                Store::Postgres(store) => store.consumer_accounts(consumer).await?,
            };
            debts.extend(others.into_iter().filter(|id| id != account_id));
        }
        let mut history = Vec::new();
        for debt in &debts {
            let mut after_seq = None;
            loop {
                let query = EventQuery {
                    since: Some(since),
                    until: None,
                    after_seq,
                    limit: Some(MAX_PAGE),
                };
                let page = self.list_events(debt, &query).await?;
                let full = page.len() == MAX_PAGE as usize;
                after_seq = page.last().map(|e| e.seq);
                history.extend(page.into_iter().filter_map(|stored| {
                    let mut event = stored.event.history()?;
                    event.account_id = (debt != account_id).then(|| debt.clone());
                    Some(event)
                }));
                if !full {
                    break;
                }
            }
        }
        Ok(Some((account, history)))
    }

    /// Checks an attempt against the policy and, if allowed, records it — atomically
    /// per account. The decision is logged either way, with the policy's texts kept
    /// by digest.
    pub async fn check_and_record(
        &self,
        policy: &Arc<Policy>,
        attempt: &Attempt,
        now: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        match self {
            Store::Sqlite(store) => {
                store
                    .check_and_record(policy, attempt, now, Record::Contact)
                    .await
            }
            Store::Postgres(store) => {
                store
                    .check_and_record(policy, attempt, now, Record::Contact)
                    .await
            }
        }
    }

    /// Decides a question from the stored account and ledger and logs the decision,
    /// recording no contact (the stateful "may I?").
    pub async fn decide_and_log(
        &self,
        policy: &Arc<Policy>,
        question: &Attempt,
        now: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        match self {
            Store::Sqlite(store) => {
                store
                    .check_and_record(policy, question, now, Record::Nothing)
                    .await
            }
            Store::Postgres(store) => {
                store
                    .check_and_record(policy, question, now, Record::Nothing)
                    .await
            }
        }
    }

    /// Queues a notice, checking the policy first, in one transaction with the decision
    /// log: allowed now → due now (or at `not_before`); deferred → due at
    /// `next_allowed_at`; stopped by a hold → nothing queued (the decision says why). A
    /// request repeating an `idempotency_key` gets the notice queued the first time.
    pub async fn enqueue_notice(
        &self,
        policy: &Arc<Policy>,
        request: &NoticeRequest,
        idempotency_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Enqueued, StoreError> {
        if let Some(key) = idempotency_key
            && let Some(existing) = self.notice_by_key(key).await?
        {
            return Ok(Enqueued {
                notice: Some(existing),
                decision: None,
                replayed: true,
            });
        }
        request.validate()?;
        let account = self
            .get_account(&request.account_id)
            .await?
            .ok_or_else(|| StoreError::AccountNotFound(request.account_id.clone()))?;
        let at = request
            .not_before
            .map_or(now, |not_before| not_before.max(now));
        let record = Record::Notice {
            request: Box::new(request.clone()),
            idempotency_key: idempotency_key.map(str::to_string),
        };
        let (notice_id, decision) = match request.checked_contact(&account)? {
            Some((channel, contact_point)) => {
                let attempt = Attempt {
                    account_id: request.account_id.clone(),
                    at,
                    channel,
                    purpose: request.purpose,
                    contact_point,
                    outcome: None,
                    idempotency: None,
                };
                let recorded = match self {
                    Store::Sqlite(store) => {
                        store
                            .check_and_record(policy, &attempt, now, record)
                            .await?
                    }
                    Store::Postgres(store) => {
                        store
                            .check_and_record(policy, &attempt, now, record)
                            .await?
                    }
                };
                (recorded.notice_id, Some(recorded.decision))
            }
            None => {
                let row = NoticeRow {
                    id: new_id(now),
                    account_id: request.account_id.clone(),
                    idempotency_key: idempotency_key.map(str::to_string),
                    due_at: at,
                    request: to_json(request)?,
                    now,
                };
                match self {
                    Store::Sqlite(store) => store.insert_notice(&row).await?,
                    Store::Postgres(store) => store.insert_notice(&row).await?,
                }
                (Some(row.id), None)
            }
        };
        // With a key, two racing requests queue one notice: the one stored wins.
        let notice = match (idempotency_key, &notice_id) {
            (Some(key), Some(_)) => self.notice_by_key(key).await?,
            (None, Some(id)) => self.get_notice(id).await?,
            (_, None) => None,
        };
        let replayed = match (&notice, &notice_id) {
            (Some(stored), Some(id)) => stored.id != *id,
            _ => false,
        };
        Ok(Enqueued {
            notice,
            decision,
            replayed,
        })
    }

    /// A notice by id.
    pub async fn get_notice(&self, id: &str) -> Result<Option<Notice>, StoreError> {
        match self {
            Store::Sqlite(store) => store.notice_where("id", id).await,
            Store::Postgres(store) => store.notice_where("id", id).await,
        }
    }

    async fn notice_by_key(&self, key: &str) -> Result<Option<Notice>, StoreError> {
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
        let status = status.map(NoticeStatus::as_str);
        let limit = i64::from(limit.min(MAX_PAGE));
        match self {
            Store::Sqlite(store) => store.list_notices(status, limit).await,
            Store::Postgres(store) => store.list_notices(status, limit).await,
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

    /// Replays a dead or cancelled notice: pending again, due now, with a fresh retry
    /// schedule (the policy is still checked before it leaves). A pending or delivered
    /// notice is not replayed: that would send it twice.
    pub async fn retry_notice(&self, id: &str, now: DateTime<Utc>) -> Result<Notice, StoreError> {
        let notice = self
            .get_notice(id)
            .await?
            .ok_or_else(|| StoreError::NoticeNotFound(id.to_string()))?;
        if !matches!(notice.status, NoticeStatus::Dead | NoticeStatus::Cancelled) {
            return Err(StoreError::NotReplayable {
                id: notice.id,
                status: notice.status,
            });
        }
        let update = NoticeUpdate::Reschedule {
            due_at: now,
            attempts: 0,
            error: None,
        };
        self.finish_notice(&notice.id, &update, now).await?;
        self.get_notice(id)
            .await?
            .ok_or_else(|| StoreError::NoticeNotFound(id.to_string()))
    }

    /// Stores a new API key (its hash) with a name and scopes.
    pub async fn add_api_key(
        &self,
        key: &crate::auth::IssuedKey,
        name: &str,
        scopes: &[crate::auth::Scope],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let scopes = scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        match self {
            Store::Sqlite(store) => {
                store
                    .add_api_key(&key.id, name, &key.secret_hash, &scopes, now)
                    .await
            }
            Store::Postgres(store) => {
                store
                    .add_api_key(&key.id, name, &key.secret_hash, &scopes, now)
                    .await
            }
        }
    }

    /// The stored hash and scopes of a live (not revoked) key.
    pub async fn api_key(&self, id: &str) -> Result<Option<StoredKey>, StoreError> {
        let row = match self {
            Store::Sqlite(store) => store.api_key(id).await?,
            Store::Postgres(store) => store.api_key(id).await?,
        };
        Ok(row.map(|(secret_hash, scopes)| StoredKey {
            secret_hash,
            scopes: scopes
                .split(',')
                .filter_map(crate::auth::Scope::parse)
                .collect(),
        }))
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.ping().await,
            Store::Postgres(store) => store.ping().await,
        }
    }

    /// The decision log of an account, newest last.
    pub async fn list_decisions(
        &self,
        account_id: &str,
        limit: u32,
    ) -> Result<Vec<LoggedDecision>, StoreError> {
        match self {
            Store::Sqlite(store) => store.list_decisions(account_id, limit.min(MAX_PAGE)).await,
            Store::Postgres(store) => store.list_decisions(account_id, limit.min(MAX_PAGE)).await,
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

/// The answer to a notice request.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The queued notice; `None` when the policy stopped it.
    pub notice: Option<Notice>,
    /// The decision that placed it (`None` for a replayed request, or a webhook that
    /// reaches no consumer).
    pub decision: Option<Decision>,
    /// The idempotency key had been used: this is the notice queued then.
    pub replayed: bool,
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
}

impl AccountRow {
    fn new(account: &Account) -> Result<AccountRow, StoreError> {
        Ok(AccountRow {
            id: account.id.clone(),
            consumer_id: account.consumer.id.clone(),
            body: to_json(account)?,
        })
    }
}

/// A stored event as a decision reads it: the debt it is about and its JSON body.
pub(crate) struct HistoryRow {
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
    pub decision: Decision,
    pub decision_id: String,
    pub event: Option<EventRow>,
    pub question: String,
    pub decision_json: String,
    pub notice: Option<NoticeRow>,
}

/// A notice ready to be written.
pub(crate) struct NoticeRow {
    pub id: String,
    pub account_id: String,
    pub idempotency_key: Option<String>,
    pub due_at: DateTime<Utc>,
    pub request: String,
    pub now: DateTime<Utc>,
}

/// The pure part of check-and-record: decide over the stored account and history,
/// and build the rows to write.
pub(crate) fn decide_attempt(
    policy: &Policy,
    account_body: &str,
    history_rows: &[HistoryRow],
    attempt: &Attempt,
    now: DateTime<Utc>,
    record: &Record,
) -> Result<AttemptRows, StoreError> {
    let account: Account = stored_account(&attempt.account_id, account_body)?;
    let mut history: Vec<Event> = Vec::with_capacity(history_rows.len());
    for row in history_rows {
        if let Some(mut event) = from_json::<LedgerEvent>("event", &row.body)?.history() {
            // Contacts about the consumer's other debts count for `per = "consumer"`.
            if row.account_id != attempt.account_id {
                event.account_id = Some(row.account_id.clone());
            }
            history.push(event);
        }
    }
    let subject = Subject::new(policy, &account, &history);
    let decision = subject.decide(&Question {
        at: attempt.at,
        channel: attempt.channel,
        purpose: attempt.purpose,
        contact_point: attempt.contact_point.as_deref(),
        horizon_days: None,
    });
    let event = if decision.allowed && matches!(record, Record::Contact) {
        let event = Event {
            at: attempt.at,
            event_type: EventType::Contact,
            channel: attempt.channel,
            outcome: attempt.outcome,
            initiated_by: InitiatedBy::Collector,
            contact_point: attempt.contact_point.clone(),
            account_id: None,
            purpose: Some(attempt.purpose),
        };
        let event = LedgerEvent {
            purpose: Some(attempt.purpose),
            ..event.into()
        };
        Some(EventRow::new(&attempt.account_id, &event, now)?)
    } else {
        None
    };
    // A notice waits for the first allowed instant; a hold, or nothing allowed within
    // the horizon, queues nothing.
    let notice = match record {
        Record::Notice {
            request,
            idempotency_key,
        } => {
            let due_at = if decision.allowed {
                Some(attempt.at)
            } else {
                decision.next_allowed_at
            };
            due_at
                .map(|due_at| {
                    Ok::<_, StoreError>(NoticeRow {
                        id: new_id(now),
                        account_id: attempt.account_id.clone(),
                        idempotency_key: idempotency_key.clone(),
                        due_at,
                        request: to_json(request)?,
                        now,
                    })
                })
                .transpose()?
        }
        Record::Nothing | Record::Contact => None,
    };
    Ok(AttemptRows {
        notice,
        question: to_json(attempt)?,
        decision_json: to_json(&decision)?,
        decision,
        decision_id: new_id(now),
        event,
    })
}

/// The earliest event instant a decision at `at` reads.
pub fn lookback_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.checked_sub_signed(TimeDelta::days(HISTORY_LOOKBACK_DAYS))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The policy's pack texts as JSON, for the `policies` table.
pub(crate) fn sources_json(policy: &Policy) -> Result<String, StoreError> {
    let sources: Vec<(&str, &str)> = policy
        .sources()
        .iter()
        .map(|s| (&*s.name, &*s.text))
        .collect();
    to_json(&sources)
}

/// A new stable id: UUID v7, ordered by `now` (the caller's clock, not read here).
pub(crate) fn new_id(now: DateTime<Utc>) -> String {
    let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
    let timestamp =
        uuid::Timestamp::from_unix(uuid::NoContext, seconds, now.timestamp_subsec_nanos());
    uuid::Uuid::new_v7(timestamp).to_string()
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

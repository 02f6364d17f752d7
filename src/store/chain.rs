//! The store's side of the hash chains (`domain::chain`): the heads a transaction appends
//! to, and the rows `dunner audit verify` reads back.
//!
//! The store only writes and reads the chain's columns; what they mean, and whether
//! they are intact, is `domain::chain`'s business.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::{EventRow, Store, StoreError};
use crate::domain::chain::{self, AccountEntries, DecisionFields, Head, Link};

/// The chain heads one transaction appends to: loaded from `chain_heads` once per
/// account, advanced by every entry, and written back before the commit. A transaction
/// holds the account's lock (PostgreSQL) or the database's (SQLite), so no other writer
/// moves a head it has loaded.
#[derive(Debug, Default)]
pub(crate) struct Links {
    heads: HashMap<String, Head>,
    changed: BTreeMap<String, ()>,
}

impl Links {
    /// Whether the head of `account_id` is loaded.
    pub fn knows(&self, account_id: &str) -> bool {
        self.heads.contains_key(account_id)
    }

    /// Keeps a head read from the database (genesis when the account has none).
    pub fn loaded(&mut self, account_id: &str, head: Option<Head>) {
        self.heads
            .entry(account_id.to_string())
            .or_insert_with(|| head.unwrap_or_else(Head::genesis));
    }

    /// The link of the next entry of `account_id`, without appending it.
    pub fn next(&self, account_id: &str, content_hash: String) -> (Link, Head) {
        self.heads
            .get(account_id)
            .cloned()
            .unwrap_or_else(Head::genesis)
            .next(content_hash)
    }

    /// Appends an entry whose link came from [`Links::next`].
    pub fn advance(&mut self, account_id: &str, head: Head) {
        self.heads.insert(account_id.to_string(), head);
        self.changed.insert(account_id.to_string(), ());
    }

    /// The link of the next entry of `account_id`, appended.
    pub fn link(&mut self, account_id: &str, content_hash: String) -> Link {
        let (link, head) = self.next(account_id, content_hash);
        self.advance(account_id, head);
        link
    }

    /// The heads that moved, in account order (the order rows are locked in).
    pub fn changed(&self) -> Vec<(&str, &Head)> {
        self.changed
            .keys()
            .filter_map(|id| self.heads.get(id).map(|head| (id.as_str(), head)))
            .collect()
    }
}

/// The content hash of an event about to be written.
pub(crate) fn event_content_hash(row: &EventRow) -> String {
    chain::event_hash(
        &row.id,
        &row.account_id,
        &chain::instant_text(row.at),
        &row.body,
        &chain::instant_text(row.recorded_at),
    )
}

/// The content hash of a decision about to be written.
pub(crate) fn decision_content_hash(
    id: &str,
    account_id: &str,
    fields: &DecisionFields<'_>,
) -> String {
    chain::decision_hash(id, account_id, fields)
}

/// A global checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Its number (1 for the first).
    pub seq: i64,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
    /// Accounts it covers.
    pub accounts: i64,
    /// Entries it covers.
    pub entries: i64,
    /// The digest over every head ([`chain::CheckpointDigest`]).
    pub digest: String,
    /// The hash of the checkpoint before it ([`chain::GENESIS`] for the first).
    pub previous: String,
    /// Its own hash ([`chain::checkpoint_hash`]).
    pub hash: String,
    /// The ed25519 signature of `hash` (base64), when the checkpoint was signed.
    pub signature: Option<String>,
}

/// Accounts per page when reading chains back.
pub(crate) const CHAIN_PAGE: i64 = 500;

impl Store {
    /// The chains of the next accounts after `after` (in id order, at most
    /// [`CHAIN_PAGE`] accounts); empty when none is left. An account appears when it has
    /// an entry or a head.
    pub async fn chain_page(&self, after: &str) -> Result<Vec<AccountEntries>, StoreError> {
        match self {
            Store::Sqlite(store) => store.chain_page(after, CHAIN_PAGE).await,
            Store::Postgres(store) => store.chain_page(after, CHAIN_PAGE).await,
        }
    }

    /// Keeps the signature of a checkpoint's hash.
    pub async fn sign_checkpoint(&self, seq: i64, signature: &str) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.sign_checkpoint(seq, signature).await,
            Store::Postgres(store) => store.sign_checkpoint(seq, signature).await,
        }
    }

    /// Every global checkpoint, oldest first.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        match self {
            Store::Sqlite(store) => store.checkpoints().await,
            Store::Postgres(store) => store.checkpoints().await,
        }
    }

    /// The accounts, entries and digest ([`chain::CheckpointDigest`]) of the heads kept as
    /// of the latest checkpoint, as they are stored now: equal to the checkpoint's own
    /// unless they were changed since.
    pub async fn checkpoint_digest(&self) -> Result<(i64, i64, String), StoreError> {
        match self {
            Store::Sqlite(store) => store.checkpoint_digest().await,
            Store::Postgres(store) => store.checkpoint_digest().await,
        }
    }

    /// Takes a global checkpoint: every head as it stands is kept as the account's
    /// checkpoint head, and a digest over them all is written, linked to the one before.
    pub async fn take_checkpoint(&self, now: DateTime<Utc>) -> Result<Checkpoint, StoreError> {
        match self {
            Store::Sqlite(store) => store.take_checkpoint(now).await,
            Store::Postgres(store) => store.take_checkpoint(now).await,
        }
    }

    /// Chains the rows written before the chains existed (or by a binary that does not
    /// chain), per account in row order: events, then decisions. Returns how many.
    pub async fn chain_unchained(&self) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(store) => store.chain_unchained().await,
            Store::Postgres(store) => store.chain_unchained().await,
        }
    }
}

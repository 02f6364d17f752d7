//! Tamper evidence for the ledger and the decision log: each account's events and
//! decisions form one hash chain, and periodic global checkpoints hash every chain's head.
//!
//! Pure: no I/O, no clock. The store computes an entry's hashes with these functions when
//! it writes the entry and hands rows back to [`verify_account`] when asked to verify.
//!
//! - `content_hash` = SHA-256 of the entry's canonical content (its kind, id, account,
//!   instants as RFC 3339 with microseconds, and its JSON with keys sorted, so a JSONB
//!   column that re-orders keys hashes the same).
//! - `entry_hash` = SHA-256 of `prev_entry_hash || content_hash || position` (the two
//!   hashes as their 64 lower-case hex characters, the position as 8 big-endian bytes);
//!   the entry at position 1 follows [`GENESIS`].
//!
//! Why per-account chains: on PostgreSQL several daemons append at once, serialized per
//! account (the account's row lock) and not globally; one global chain would need a global
//! lock on every write. An account's chain is appended under the lock its writes already
//! take. What a per-account chain cannot see by itself — an account's whole chain removed,
//! or its newest entries cut together with its head — a global checkpoint sees: a hash over
//! every account's head (with the counts of accounts and entries) taken at an interval.
//!
//! A purge (`crate::records`) drops an entry's personal content and keeps the chain
//! verifiable: the chain links `content_hash`, not the content, so a purged entry is
//! checked by its stored `content_hash` alone ([`EntryContent::Purged`]); the facts it
//! kept are covered by the purge's entry in the records log ([`facts_digest`]).

use sha2::{Digest, Sha256};

use super::hex::{hex, sha256_hex};

/// The hash before the first entry of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Which table an entry lives in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A ledger event (`events`).
    Event,
    /// A logged decision (`decisions`).
    Decision,
}

impl EntryKind {
    /// `event` or `decision`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Event => "event",
            EntryKind::Decision => "decision",
        }
    }
}

/// The content of an entry as stored, with instants as RFC 3339 text (microseconds, `Z`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "table", rename_all = "snake_case")]
pub enum EntryContent {
    /// An event's columns.
    Event {
        /// When it happened.
        at: String,
        /// The event as JSON.
        body: String,
        /// When the ledger recorded it.
        recorded_at: String,
    },
    /// A decision's columns.
    Decision {
        /// When it was made.
        decided_at: String,
        /// `allowed` or `refused` (as logged).
        outcome: String,
        /// The digest of the policy that decided.
        policy_digest: String,
        /// The question as JSON.
        question: String,
        /// The decision as JSON.
        decision: String,
        /// The event it recorded, if any.
        event_id: Option<String>,
    },
    /// The content was dropped by a purge: only the stored content hash vouches for it.
    Purged,
}

impl EntryContent {
    /// The table the entry lives in (`None` for a purged entry, which can be either).
    pub fn kind(&self) -> Option<EntryKind> {
        match self {
            EntryContent::Event { .. } => Some(EntryKind::Event),
            EntryContent::Decision { .. } => Some(EntryKind::Decision),
            EntryContent::Purged => None,
        }
    }

    /// SHA-256 (hex) of the canonical content; `None` for a purged entry.
    pub fn hash(&self, id: &str, account_id: &str) -> Option<String> {
        match self {
            EntryContent::Event {
                at,
                body,
                recorded_at,
            } => Some(event_hash(id, account_id, at, body, recorded_at)),
            EntryContent::Decision {
                decided_at,
                outcome,
                policy_digest,
                question,
                decision,
                event_id,
            } => Some(decision_hash(
                id,
                account_id,
                &DecisionFields {
                    decided_at,
                    outcome,
                    policy_digest,
                    question,
                    decision,
                    event_id: event_id.as_deref(),
                },
            )),
            EntryContent::Purged => None,
        }
    }
}

/// SHA-256 (hex) of an event's canonical content.
pub fn event_hash(id: &str, account_id: &str, at: &str, body: &str, recorded_at: &str) -> String {
    let mut canonical = CanonicalArray::with_capacity(body.len() + 256);
    canonical.text("event");
    canonical.text(id);
    canonical.text(account_id);
    canonical.text(at);
    canonical.json(body);
    canonical.text(recorded_at);
    canonical.hash()
}

/// The columns of a decision that its content hash covers.
#[derive(Debug, Clone, Copy)]
pub struct DecisionFields<'a> {
    /// When it was made (RFC 3339, microseconds).
    pub decided_at: &'a str,
    /// As logged.
    pub outcome: &'a str,
    /// The policy's digest.
    pub policy_digest: &'a str,
    /// The question (JSON).
    pub question: &'a str,
    /// The decision (JSON).
    pub decision: &'a str,
    /// The event it recorded.
    pub event_id: Option<&'a str>,
}

/// SHA-256 (hex) of a decision's canonical content.
pub fn decision_hash(id: &str, account_id: &str, fields: &DecisionFields<'_>) -> String {
    let mut canonical =
        CanonicalArray::with_capacity(fields.question.len() + fields.decision.len() + 384);
    canonical.text("decision");
    canonical.text(id);
    canonical.text(account_id);
    canonical.text(fields.decided_at);
    canonical.text(fields.outcome);
    canonical.text(fields.policy_digest);
    canonical.json(fields.question);
    canonical.json(fields.decision);
    canonical.text_or_null(fields.event_id);
    canonical.hash()
}

/// An instant as the chain hashes it (and as the SQLite store writes it).
pub fn instant_text(instant: chrono::DateTime<chrono::Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The hash of the entry at `position` with `content_hash`, after `previous`.
pub fn entry_hash(previous: &str, content_hash: &str, position: i64) -> String {
    let mut hash = Sha256::new();
    hash.update(previous.as_bytes());
    hash.update(content_hash.as_bytes());
    hash.update(position.to_be_bytes());
    hex(&hash.finalize())
}

/// The newest entry of a chain: its position (0 for an empty chain) and hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    /// The position of the newest entry (1 for the first).
    pub position: i64,
    /// Its entry hash ([`GENESIS`] for an empty chain).
    pub hash: String,
}

impl Head {
    /// An empty chain.
    pub fn genesis() -> Head {
        Head {
            position: 0,
            hash: GENESIS.to_string(),
        }
    }
}

/// The columns a new entry is written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its position in its account's chain.
    pub position: i64,
    /// SHA-256 of its content.
    pub content_hash: String,
    /// SHA-256 of the previous entry hash, its content hash and its position.
    pub entry_hash: String,
}

impl Head {
    /// The link of the next entry, and the head after it.
    pub fn next(&self, content_hash: String) -> (Link, Head) {
        let position = self.position + 1;
        let entry_hash = entry_hash(&self.hash, &content_hash, position);
        let head = Head {
            position,
            hash: entry_hash.clone(),
        };
        (
            Link {
                position,
                content_hash,
                entry_hash,
            },
            head,
        )
    }
}

/// One stored entry, as the store reads it back for verification.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StoredEntry {
    /// The table it lives in.
    pub kind: EntryKind,
    /// Its id.
    pub id: String,
    /// Its row number in its table (the ledger order readers page by).
    pub seq: i64,
    /// Its stored position (`None`: written outside the chain).
    pub position: Option<i64>,
    /// Its stored content hash.
    pub content_hash: Option<String>,
    /// Its stored entry hash.
    pub entry_hash: Option<String>,
    /// Its content as stored now.
    pub content: EntryContent,
}

/// One account's entries (any order) and what the ledger holds as its head.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AccountEntries {
    /// The account.
    pub account_id: String,
    /// Its events and decisions.
    pub entries: Vec<StoredEntry>,
    /// The head kept beside the chain (`chain_heads`), if any.
    pub head: Option<Head>,
    /// The head as of the latest checkpoint, if the account was in it.
    pub checkpoint: Option<Head>,
}

/// What was done to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TamperKind {
    /// Its content (or its hashes) changed after it was written.
    Edited,
    /// An entry of the chain is missing.
    Deleted,
    /// An entry was added that the chain never held.
    Inserted,
    /// Entries are out of the order they were written in.
    Reordered,
}

impl TamperKind {
    /// `edited`, `deleted`, `inserted` or `reordered`.
    pub fn as_str(self) -> &'static str {
        match self {
            TamperKind::Edited => "edited",
            TamperKind::Deleted => "deleted",
            TamperKind::Inserted => "inserted",
            TamperKind::Reordered => "reordered",
        }
    }
}

/// The first tampered entry found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tamper {
    /// What was done.
    pub kind: TamperKind,
    /// The account whose chain broke (`None` when only the global checkpoint shows it).
    pub account_id: Option<String>,
    /// The position in that chain.
    pub position: Option<i64>,
    /// The entry's id, when there is an entry to name (not for a deleted one).
    pub entry_id: Option<String>,
    /// Its table.
    pub entry_kind: Option<EntryKind>,
    /// What verification saw, in a sentence.
    pub detail: String,
}

/// Whether `entry` is the genuine entry at `position` after `previous`.
fn fits(entry: &StoredEntry, account_id: &str, previous: &str, position: i64) -> bool {
    let (Some(content_hash), Some(stored)) = (&entry.content_hash, &entry.entry_hash) else {
        return false;
    };
    content_matches(entry, account_id) && entry_hash(previous, content_hash, position) == *stored
}

/// Whether the stored content hash still matches the content (always for a purged one).
fn content_matches(entry: &StoredEntry, account_id: &str) -> bool {
    match (
        entry.content.hash(&entry.id, account_id),
        &entry.content_hash,
    ) {
        (None, Some(_)) => true,
        (Some(computed), Some(stored)) => computed == *stored,
        (_, None) => false,
    }
}

/// Recomputes one account's chain; its head when intact, else the first tampered entry.
pub fn verify_account(account: &AccountEntries) -> Result<Head, Tamper> {
    let account_id = account.account_id.as_str();
    let mut entries: Vec<&StoredEntry> = account.entries.iter().collect();
    entries.sort_by(|a, b| {
        (a.position.is_none(), a.position, a.kind, a.seq).cmp(&(
            b.position.is_none(),
            b.position,
            b.kind,
            b.seq,
        ))
    });
    let tamper = |kind: TamperKind,
                  position: Option<i64>,
                  entry: Option<&StoredEntry>,
                  detail: String| Tamper {
        kind,
        account_id: Some(account_id.to_string()),
        position,
        entry_id: entry.map(|e| e.id.clone()),
        entry_kind: entry.map(|e| e.kind),
        detail,
    };
    let mut head = Head::genesis();
    // The newest seq accepted so far per table: ledger order must follow chain order.
    let mut last_seq: [Option<i64>; 2] = [None, None];
    let mut used = vec![false; entries.len()];
    let mut by_position: std::collections::HashMap<i64, Vec<usize>> =
        std::collections::HashMap::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        if let Some(position) = entry.position {
            by_position.entry(position).or_default().push(index);
        }
    }
    let mut accepted = 0;
    // The head before the newest accepted entry, and that entry: a forgery whose hashes
    // were computed to fit is only seen by the genuine entry after it.
    let mut before_last = Head::genesis();
    let mut last_accepted: Option<&StoredEntry> = None;
    loop {
        let position = head.position + 1;
        if accepted == entries.len() {
            break;
        }
        let at_position: Vec<usize> = by_position.get(&position).cloned().unwrap_or_default();
        // Only computed once a chain breaks: the search for where its entry went.
        let remaining = || -> Vec<usize> {
            (0..entries.len())
                .filter(|&i| !used.get(i).copied().unwrap_or(true))
                .collect()
        };
        let genuine = at_position.iter().copied().find(|&i| {
            entries
                .get(i)
                .copied()
                .is_some_and(|e| fits(e, account_id, &head.hash, position))
        });
        if let Some(index) = genuine {
            // Another entry claiming the same position was added beside the genuine one.
            if let Some(other) = at_position.iter().copied().find(|&i| i != index) {
                return Err(tamper(
                    TamperKind::Inserted,
                    Some(position),
                    entries.get(other).copied(),
                    format!("a second entry claims position {position}"),
                ));
            }
            let Some(entry) = entries.get(index).copied() else {
                break;
            };
            let slot = usize::from(entry.kind == EntryKind::Decision);
            if let Some(Some(previous)) = last_seq.get(slot)
                && entry.seq < *previous
            {
                return Err(tamper(
                    TamperKind::Reordered,
                    Some(position),
                    Some(entry),
                    format!(
                        "its row number ({}) comes before that of an earlier {} of the chain ({previous})",
                        entry.seq,
                        entry.kind.as_str()
                    ),
                ));
            }
            if let Some(seq) = last_seq.get_mut(slot) {
                *seq = Some(entry.seq);
            }
            if let Some(flag) = used.get_mut(index) {
                *flag = true;
            }
            accepted += 1;
            before_last = head.clone();
            last_accepted = Some(entry);
            head = Head {
                position,
                hash: entry.entry_hash.clone().unwrap_or_default(),
            };
            continue;
        }
        // Nothing genuine at this position: the entry that belongs here is elsewhere
        // (reordered), missing (deleted), replaced (edited) or preceded by a forgery.
        let occupant = at_position.first().and_then(|&i| entries.get(i).copied());
        let remaining = remaining();
        let misplaced = remaining
            .iter()
            .filter_map(|&i| entries.get(i).copied())
            .find(|e| e.position != Some(position) && fits(e, account_id, &head.hash, position));
        if let Some(belongs) = misplaced {
            let Some(occupant) = occupant else {
                // Its place is empty: an entry was moved up into a gap.
                return Err(tamper(
                    TamperKind::Reordered,
                    Some(position),
                    Some(belongs),
                    format!(
                        "this entry belongs at position {position} but is stored at {}",
                        belongs
                            .position
                            .map_or("none".to_string(), |p| p.to_string())
                    ),
                ));
            };
            // The entry that belongs here follows right after a stranger: the stranger was
            // inserted (and the later entries renumbered); otherwise the two swapped.
            let occupant_fits_later = belongs.position.is_some_and(|p| p > position)
                && content_matches(occupant, account_id)
                && occupant.content_hash.as_deref().is_some_and(|c| {
                    let after = entry_hash(
                        belongs.entry_hash.as_deref().unwrap_or_default(),
                        c,
                        position + 1,
                    );
                    occupant.entry_hash.as_deref() == Some(after.as_str())
                });
            let kind = if occupant_fits_later || belongs.position != Some(position + 1) {
                TamperKind::Reordered
            } else {
                TamperKind::Inserted
            };
            let detail = match kind {
                TamperKind::Inserted => format!(
                    "this entry was never part of the chain: the entry that held position {position} now follows it"
                ),
                _ => format!(
                    "entry `{}` belongs at position {position}; this one was written elsewhere in the chain",
                    belongs.id
                ),
            };
            return Err(tamper(kind, Some(position), Some(occupant), detail));
        }
        let Some(occupant) = occupant else {
            // A gap, or entries past it written outside the chain.
            let next = remaining
                .iter()
                .filter_map(|&i| entries.get(i).copied())
                .next();
            return Err(match next {
                Some(entry) if entry.position.is_none() => tamper(
                    TamperKind::Inserted,
                    None,
                    Some(entry),
                    "this entry was written outside the chain (it has no position)".to_string(),
                ),
                _ => tamper(
                    TamperKind::Deleted,
                    Some(position),
                    None,
                    format!(
                        "the entry at position {position} is missing (the chain goes on at {})",
                        next.and_then(|e| e.position)
                            .map_or("none".to_string(), |p| p.to_string())
                    ),
                ),
            });
        };
        if let Some(forged) = last_accepted
            && fits(occupant, account_id, &before_last.hash, position - 1)
        {
            return Err(tamper(
                TamperKind::Inserted,
                Some(position - 1),
                Some(forged),
                format!(
                    "this entry was never part of the chain: the entry that held position {} now follows it",
                    position - 1
                ),
            ));
        }
        let past_head = account
            .head
            .as_ref()
            .is_some_and(|kept| kept.position < position);
        if past_head || occupant.content_hash.is_none() || occupant.entry_hash.is_none() {
            return Err(tamper(
                TamperKind::Inserted,
                Some(position),
                Some(occupant),
                "this entry was never part of the chain (it does not follow from the entries before it, and lies past the head or has no hashes)".to_string(),
            ));
        }
        let detail = if !content_matches(occupant, account_id) {
            "its content no longer matches the content hash written with it".to_string()
        } else {
            "its hashes do not follow from the entries before it".to_string()
        };
        return Err(tamper(
            TamperKind::Edited,
            Some(position),
            Some(occupant),
            detail,
        ));
    }
    match &account.head {
        Some(kept) if kept.position > head.position => {
            return Err(tamper(
                TamperKind::Deleted,
                Some(head.position + 1),
                None,
                format!(
                    "the chain ends at position {} but its head was written at {}: the newest entries were removed",
                    head.position, kept.position
                ),
            ));
        }
        Some(kept) if kept.position < head.position => {
            let entry = entries
                .iter()
                .copied()
                .find(|e| e.position == Some(kept.position + 1));
            return Err(tamper(
                TamperKind::Inserted,
                Some(kept.position + 1),
                entry,
                format!(
                    "the chain goes on past its head (position {}): entries were added after it",
                    kept.position
                ),
            ));
        }
        Some(kept) if kept.hash != head.hash => {
            return Err(tamper(
                TamperKind::Edited,
                Some(head.position),
                entries
                    .iter()
                    .copied()
                    .find(|e| e.position == Some(head.position)),
                "the chain's newest entry is not the head written with it".to_string(),
            ));
        }
        None if head.position > 0 => {
            return Err(tamper(
                TamperKind::Inserted,
                Some(1),
                entries.iter().copied().find(|e| e.position == Some(1)),
                "the account has entries but no head: its chain was not written by dunner"
                    .to_string(),
            ));
        }
        _ => {}
    }
    if let Some(checkpoint) = &account.checkpoint {
        if checkpoint.position > head.position {
            return Err(tamper(
                TamperKind::Deleted,
                Some(head.position + 1),
                None,
                format!(
                    "the latest checkpoint saw this chain at position {}; it now ends at {}",
                    checkpoint.position, head.position
                ),
            ));
        }
        let at_checkpoint = entries
            .iter()
            .copied()
            .find(|e| e.position == Some(checkpoint.position));
        let hash = at_checkpoint.and_then(|e| e.entry_hash.as_deref());
        if checkpoint.position > 0 && hash != Some(checkpoint.hash.as_str()) {
            return Err(tamper(
                TamperKind::Edited,
                Some(checkpoint.position),
                at_checkpoint,
                "the chain was rewritten: its entry differs from the one the latest checkpoint saw"
                    .to_string(),
            ));
        }
    }
    Ok(head)
}

/// A running hash over every account's head as of a checkpoint, fed in account order.
#[derive(Debug, Clone, Default)]
pub struct CheckpointDigest {
    hash: Sha256,
    /// Accounts fed.
    pub accounts: i64,
    /// Entries covered (the sum of the heads' positions).
    pub entries: i64,
}

impl CheckpointDigest {
    /// Adds one account's head (accounts must come in ascending id order).
    pub fn add(&mut self, account_id: &str, head: &Head) {
        self.hash.update(account_id.as_bytes());
        self.hash.update([0]);
        self.hash.update(head.position.to_be_bytes());
        self.hash.update(head.hash.as_bytes());
        self.accounts += 1;
        self.entries += head.position;
    }

    /// The digest (hex).
    pub fn finish(self) -> String {
        hex(&self.hash.finalize())
    }
}

/// The digest of a checkpoint over `heads` in any order: they are sorted by account id
/// (bytes) first, so every reader computes it alike whatever order its database keeps.
pub fn checkpoint_digest(mut heads: Vec<(String, Head)>) -> (i64, i64, String) {
    heads.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut digest = CheckpointDigest::default();
    for (account_id, head) in &heads {
        digest.add(account_id, head);
    }
    let (accounts, entries) = (digest.accounts, digest.entries);
    (accounts, entries, digest.finish())
}

/// The hash of a checkpoint: it links the checkpoint to the one before it.
pub fn checkpoint_hash(
    previous: &str,
    taken_at: &str,
    accounts: i64,
    entries: i64,
    digest: &str,
) -> String {
    let mut hash = Sha256::new();
    for part in [previous, taken_at, digest] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.update(accounts.to_be_bytes());
    hash.update(entries.to_be_bytes());
    hex(&hash.finalize())
}

/// One entry of the records log (legal holds placed and released, purges), as stored.
/// The log is one chain for the whole ledger: its entries are rare and written by an
/// administrator, so the lock a global chain needs costs nothing there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordEntry {
    /// Its row number.
    pub seq: i64,
    /// Its id.
    pub id: String,
    /// When it was written (RFC 3339, microseconds).
    pub at: String,
    /// `hold_placed`, `hold_released` or `purge`.
    pub action: String,
    /// The account it is about, if one.
    pub account_id: Option<String>,
    /// Its content (JSON, nothing personal).
    pub body: String,
    /// The hash of the entry before it ([`GENESIS`] for the first).
    pub previous: String,
    /// Its own hash ([`record_hash`]).
    pub hash: String,
}

/// The hash of a records-log entry: SHA-256 of the previous hash and the entry's
/// canonical content.
pub fn record_hash(
    previous: &str,
    id: &str,
    at: &str,
    action: &str,
    account_id: Option<&str>,
    body: &str,
) -> String {
    let mut canonical = CanonicalArray::with_capacity(body.len() + 256);
    canonical.text(previous);
    canonical.text(id);
    canonical.text(at);
    canonical.text(action);
    canonical.text_or_null(account_id);
    canonical.json(body);
    canonical.hash()
}

/// Recomputes the records log (entries in `seq` order): each entry must follow the one
/// before it and hash to its stored hash.
pub fn verify_records(entries: &[RecordEntry]) -> Result<(), Tamper> {
    let mut previous = GENESIS.to_string();
    for entry in entries {
        let tamper = |kind: TamperKind, detail: &str| Tamper {
            kind,
            account_id: entry.account_id.clone(),
            position: None,
            entry_id: Some(entry.id.clone()),
            entry_kind: None,
            detail: format!(
                "records log entry {} ({}): {detail}",
                entry.seq, entry.action
            ),
        };
        if entry.previous != previous {
            return Err(tamper(
                TamperKind::Deleted,
                "it does not follow the entry before it: an entry was removed or inserted",
            ));
        }
        let computed = record_hash(
            &entry.previous,
            &entry.id,
            &entry.at,
            &entry.action,
            entry.account_id.as_deref(),
            &entry.body,
        );
        if computed != entry.hash {
            return Err(tamper(
                TamperKind::Edited,
                "its content no longer matches the hash written with it",
            ));
        }
        previous = entry.hash.clone();
    }
    Ok(())
}

/// The digest of the facts a purge kept of an account's entries: SHA-256 over their
/// canonical contents (each a JSON array of the entry's columns) in chain order. Written
/// in the purge's record, recomputed by verification: the facts the caps still count
/// cannot change unseen after the content hashes stopped covering them.
pub fn facts_digest(entries: &[String]) -> String {
    let mut hash = Sha256::new();
    for entry in entries {
        hash.update(canonical_json(entry).as_bytes());
        hash.update([0]);
    }
    hex(&hash.finalize())
}

/// Appends `value` as a JSON string (the text `serde_json` writes for it).
fn push_text(out: &mut Vec<u8>, value: &str) {
    // Writing to a `Vec` cannot fail, nor can serializing a string.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// The canonical content of an entry, written as one JSON array into one buffer: each
/// part appended in place, where building each part as its own `String` and joining
/// them cost the ledger's writer a tenth of its time (issue 15).
struct CanonicalArray {
    out: Vec<u8>,
}

impl CanonicalArray {
    fn with_capacity(capacity: usize) -> CanonicalArray {
        let mut out = Vec::with_capacity(capacity);
        out.push(b'[');
        CanonicalArray { out }
    }

    fn separate(&mut self) {
        if self.out.len() > 1 {
            self.out.push(b',');
        }
    }

    /// A JSON string.
    fn text(&mut self, value: &str) {
        self.separate();
        push_text(&mut self.out, value);
    }

    /// A JSON string, or `null`.
    fn text_or_null(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.text(value),
            None => {
                self.separate();
                self.out.extend_from_slice(b"null");
            }
        }
    }

    /// JSON text, canonical (see [`canonical_json`]).
    fn json(&mut self, value: &str) {
        self.separate();
        write_canonical_text(value, &mut self.out);
    }

    /// SHA-256 (hex) of the array.
    fn hash(mut self) -> String {
        self.out.push(b']');
        sha256_hex(&self.out)
    }
}

/// JSON text with object keys sorted at every depth, so the text as written and the
/// text a JSONB column gives back hash the same. Text that is not JSON is hashed as a
/// JSON string of itself (it then differs from whatever was written).
pub fn canonical_json(text_value: &str) -> String {
    let mut out = Vec::with_capacity(text_value.len());
    write_canonical_text(text_value, &mut out);
    // Only JSON strings and serde_json's output were written: always UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the canonical form of `text_value` (see [`canonical_json`]).
fn write_canonical_text(text_value: &str, out: &mut Vec<u8>) {
    let start = out.len();
    if serde_text::write_sorted(text_value.as_bytes(), out).is_some() {
        return;
    }
    out.truncate(start);
    write_reparsed(text_value, out);
}

/// The canonical form of any text: parsed into a `Value` and written back, sorted.
fn write_reparsed(text_value: &str, out: &mut Vec<u8>) {
    match serde_json::from_str::<serde_json::Value>(text_value) {
        Ok(value) => write_canonical(&value, out),
        Err(_) => push_text(out, text_value),
    }
}

/// [`canonical_json`] by the slow path alone, for tests to hold the fast one to.
#[cfg(test)]
pub(crate) fn canonical_json_reparsed(text_value: &str) -> String {
    let mut out = Vec::new();
    write_reparsed(text_value, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Whether [`canonical_json`] takes its fast path for `text_value`.
#[cfg(test)]
pub(crate) fn takes_fast_path(text_value: &str) -> bool {
    serde_text::write_sorted(text_value.as_bytes(), &mut Vec::new()).is_some()
}

/// The fast path of [`write_canonical_text`] for text that `serde_json` wrote itself
/// (every question, decision and event body the store writes): such text is already
/// compact with every scalar as `serde_json` writes it, so only its objects' keys need
/// sorting, done here on the text without building a `Value` — the re-parse cost the
/// ledger's writer a seventh of its instructions (issue 15).
///
/// The fast path accepts only text whose canonical form it can prove is the text with
/// its keys sorted: no whitespace; strings with exactly the escapes `serde_json` writes
/// (so re-escaping them gives the same bytes) and keys with none (so their bytes sort
/// as the keys do); integers that fit `i64`/`u64` (a float may not round-trip through
/// `serde_json`'s parse); no duplicate keys; a bounded depth. Anything else answers
/// `None`, and the caller takes the slow path, which alone decides what other text
/// hashes as.
mod serde_text {
    /// Deeper text takes the slow path (`serde_json` gives up at 128).
    const MAX_DEPTH: usize = 64;

    /// Appends `text` with its keys sorted at every depth; `None` (with `out` to be
    /// truncated by the caller) when `text` is not in the form described above.
    pub(super) fn write_sorted(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let end = value(text, 0, 0, out)?;
        (end == text.len()).then_some(())
    }

    /// Writes the value at `at`, sorted; the position after it.
    fn value(text: &[u8], at: usize, depth: usize, out: &mut Vec<u8>) -> Option<usize> {
        match *text.get(at)? {
            b'{' => object(text, at, depth, out),
            b'[' => array(text, at, depth, out),
            b'"' => {
                let (end, _) = string(text, at)?;
                out.extend_from_slice(text.get(at..end)?);
                Some(end)
            }
            b't' => literal(text, at, b"true", out),
            b'f' => literal(text, at, b"false", out),
            b'n' => literal(text, at, b"null", out),
            b'-' | b'0'..=b'9' => integer(text, at, out),
            _ => None,
        }
    }

    fn literal(text: &[u8], at: usize, word: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let end = at + word.len();
        (text.get(at..end)? == word).then(|| out.extend_from_slice(word))?;
        Some(end)
    }

    /// An integer as `serde_json` writes an `i64` or a `u64`: no leading zero, no `-0`
    /// (which `serde_json` parses as a float), at most 18 digits (always in range).
    fn integer(text: &[u8], at: usize, out: &mut Vec<u8>) -> Option<usize> {
        let negative = text.get(at) == Some(&b'-');
        let digits = at + usize::from(negative);
        let count = text
            .get(digits..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let leading_zero = text.get(digits) == Some(&b'0') && (negative || count > 1);
        if count == 0 || count > 18 || leading_zero {
            return None;
        }
        let end = digits + count;
        out.extend_from_slice(text.get(at..end)?);
        Some(end)
    }

    /// The end of the string at `at` (after its closing quote), and whether it holds
    /// an escape; `None` unless every escape is one `serde_json` writes for its
    /// character and no control character is left raw.
    fn string(text: &[u8], at: usize) -> Option<(usize, bool)> {
        let mut pos = at + 1;
        let mut escaped = false;
        loop {
            match *text.get(pos)? {
                b'"' => return Some((pos + 1, escaped)),
                b'\\' => {
                    escaped = true;
                    pos += match *text.get(pos + 1)? {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                        b'u' => {
                            control_escape(text.get(pos + 2..pos + 6)?)?;
                            6
                        }
                        _ => return None,
                    };
                }
                byte if byte < 0x20 => return None,
                _ => pos += 1,
            }
        }
    }

    /// `\u00xx` as `serde_json` writes it: lower-case hex, only for a control
    /// character without a short escape.
    fn control_escape(hex: &[u8]) -> Option<()> {
        let [b'0', b'0', high @ (b'0' | b'1'), low] = *hex else {
            return None;
        };
        let low = match low {
            b'0'..=b'9' => low - b'0',
            b'a'..=b'f' => low - b'a' + 10,
            _ => return None,
        };
        let code = (high - b'0') * 16 + low;
        (!matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)).then_some(())
    }

    fn array(text: &[u8], at: usize, depth: usize, out: &mut Vec<u8>) -> Option<usize> {
        if depth >= MAX_DEPTH {
            return None;
        }
        out.push(b'[');
        let mut pos = at + 1;
        if text.get(pos) == Some(&b']') {
            out.push(b']');
            return Some(pos + 1);
        }
        loop {
            pos = value(text, pos, depth + 1, out)?;
            let separator = *text.get(pos)?;
            out.push(separator);
            pos += 1;
            match separator {
                b',' => {}
                b']' => return Some(pos),
                _ => return None,
            }
        }
    }

    /// An object's members are written as they come, then, unless their keys already
    /// ascend, moved into key order.
    fn object(text: &[u8], at: usize, depth: usize, out: &mut Vec<u8>) -> Option<usize> {
        if depth >= MAX_DEPTH {
            return None;
        }
        out.push(b'{');
        let body = out.len();
        let mut pos = at + 1;
        if text.get(pos) == Some(&b'}') {
            out.push(b'}');
            return Some(pos + 1);
        }
        // Each member's key (without its quotes) and whole text, as offsets from `body`.
        let mut members: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
        let mut ascending = true;
        loop {
            if text.get(pos) != Some(&b'"') {
                return None;
            }
            let (key_end, escaped) = string(text, pos)?;
            if escaped {
                return None;
            }
            let member = out.len() - body;
            out.extend_from_slice(text.get(pos..key_end)?);
            let key = member + 1..out.len() - body - 1;
            if text.get(key_end) != Some(&b':') {
                return None;
            }
            out.push(b':');
            pos = value(text, key_end + 1, depth + 1, out)?;
            if let Some((last, _)) = members.last() {
                ascending &= out.get(body + last.start..body + last.end)
                    < out.get(body + key.start..body + key.end);
            }
            members.push((key, member..out.len() - body));
            let separator = *text.get(pos)?;
            pos += 1;
            match separator {
                b',' => out.push(b','),
                b'}' => break,
                _ => return None,
            }
        }
        if !ascending {
            let written = out.split_off(body);
            members
                .sort_unstable_by(|a, b| written.get(a.0.clone()).cmp(&written.get(b.0.clone())));
            // A repeated key: `serde_json` keeps only one of them (the slow path's business).
            if members
                .windows(2)
                .any(|pair| matches!(pair, [a, b] if written.get(a.0.clone()) == written.get(b.0.clone())))
            {
                return None;
            }
            for (index, (_, member)) in members.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(written.get(member)?);
            }
        }
        out.push(b'}');
        Some(pos)
    }
}

/// An object's members, in the order given, canonical.
fn write_members<'v>(
    members: impl Iterator<Item = (&'v String, &'v serde_json::Value)>,
    out: &mut Vec<u8>,
) {
    for (index, (key, item)) in members.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_text(out, key);
        out.push(b':');
        write_canonical(item, out);
    }
}

fn write_canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    match value {
        serde_json::Value::Object(map) => {
            out.push(b'{');
            // serde_json's map iterates in key order unless its `preserve_order` feature
            // is on (another crate may turn it on): sorted here only when it is not.
            if map.keys().is_sorted() {
                write_members(map.iter(), out);
            } else {
                let mut members: Vec<(&String, &serde_json::Value)> = map.iter().collect();
                members.sort_unstable_by(|a, b| a.0.cmp(b.0));
                write_members(members.into_iter(), out);
            }
            out.push(b'}');
        }
        serde_json::Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        // The text `Value`'s `Display` writes (serde_json's compact serializer).
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The canonical texts as first written (each part its own `String`, joined), kept
    /// to show the hashes written since are the same bytes.
    mod as_first_written {
        pub fn text(value: &str) -> String {
            serde_json::Value::String(value.to_string()).to_string()
        }

        pub fn array(parts: &[String]) -> String {
            format!("[{}]", parts.join(","))
        }

        pub fn json(text_value: &str) -> String {
            match serde_json::from_str::<serde_json::Value>(text_value) {
                Ok(value) => {
                    let mut out = String::new();
                    write(&value, &mut out);
                    out
                }
                Err(_) => text(text_value),
            }
        }

        fn write(value: &serde_json::Value, out: &mut String) {
            match value {
                serde_json::Value::Object(map) => {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    out.push('{');
                    for (index, key) in keys.into_iter().enumerate() {
                        if index > 0 {
                            out.push(',');
                        }
                        out.push_str(&text(key));
                        out.push(':');
                        write(&map[key], out);
                    }
                    out.push('}');
                }
                serde_json::Value::Array(items) => {
                    out.push('[');
                    for (index, item) in items.iter().enumerate() {
                        if index > 0 {
                            out.push(',');
                        }
                        write(item, out);
                    }
                    out.push(']');
                }
                scalar => out.push_str(&scalar.to_string()),
            }
        }
    }

    #[test]
    fn the_canonical_texts_and_hashes_are_the_bytes_first_written() {
        use as_first_written::{array, json, text};
        let texts = [
            r#"{"b": 1, "a": {"z": [3, 1.5, -2e10, null, true], "é\u0000\n": "\"q\" \u2028 ☃"}}"#,
            r#"{"allowed":true,"reasons":[],"next_allowed_at":null,"n":18446744073709551615}"#,
            "[]",
            "{}",
            "not json {",
            "\"just a string\"",
            "0.1",
            r#"{"nested":{"y":{"b":[{"d":1,"c":2}],"a":false}},"A":"upper before lower"}"#,
        ];
        for value in texts {
            assert_eq!(canonical_json(value), json(value), "{value}");
            let id = "evt-\u{1F600}\"1";
            assert_eq!(
                event_hash(id, "L-1", "2026-04-01T00:00:00.000000Z", value, "r\\t"),
                sha256_hex(
                    array(&[
                        text("event"),
                        text(id),
                        text("L-1"),
                        text("2026-04-01T00:00:00.000000Z"),
                        json(value),
                        text("r\\t"),
                    ])
                    .as_bytes()
                ),
            );
            for event_id in [None, Some("evt-9")] {
                let fields = DecisionFields {
                    decided_at: "2026-04-01T00:00:00.000000Z",
                    outcome: "allowed",
                    policy_digest: "abc",
                    question: value,
                    decision: texts[0],
                    event_id,
                };
                assert_eq!(
                    decision_hash("dec-1", "L-1", &fields),
                    sha256_hex(
                        array(&[
                            text("decision"),
                            text("dec-1"),
                            text("L-1"),
                            text(fields.decided_at),
                            text("allowed"),
                            text("abc"),
                            json(value),
                            json(texts[0]),
                            event_id.map_or_else(|| "null".to_string(), text),
                        ])
                        .as_bytes()
                    ),
                );
                assert_eq!(
                    record_hash(GENESIS, "rec-1", "t", "purge", event_id, value),
                    sha256_hex(
                        array(&[
                            text(GENESIS),
                            text("rec-1"),
                            text("t"),
                            text("purge"),
                            event_id.map_or_else(|| "null".to_string(), text),
                            json(value),
                        ])
                        .as_bytes()
                    ),
                );
            }
        }
    }

    #[test]
    fn the_fast_path_takes_only_what_serde_json_writes() {
        let fast = [
            r#"{"b":1,"a":{"z":[3,-2,null,true],"é☃":"\"q\" \u0000\u001f\b\n ☃\\"}}"#,
            r#"{"allowed":true,"reasons":[],"next_allowed_at":null,"n":-999999999999999999}"#,
            "[]",
            "{}",
            r#"[{},[],{"":0}]"#,
            "\"just a string\"",
            "0",
            r#"{"nested":{"y":{"b":[{"d":1,"c":2}],"a":false}},"A":"upper before lower"}"#,
        ];
        let slow = [
            // Whitespace, floats, integers out of range or as floats, `-0`.
            r#"{"b": 1}"#,
            " 1",
            "1 ",
            "0.1",
            "1e3",
            "-0",
            "01",
            "1234567890123456789",
            // Escapes `serde_json` does not write, escaped keys, raw control characters.
            r#""\/""#,
            r#""\u0041""#,
            r#""\u000A""#,
            r#""\u000a""#,
            r#""\ud83d\ude00""#,
            r#"{"\n":1}"#,
            "\"\u{1}\"",
            // Repeated keys (`serde_json` keeps the last), not JSON, too deep.
            r#"{"a":1,"a":2}"#,
            r#"{"b":1,"a":1,"b":2}"#,
            "not json {",
            r#"{"a":1,}"#,
            "[1,]",
            "tru",
            "",
            &"[".repeat(200),
            &format!("{}{}", "[".repeat(100), "]".repeat(100)),
        ];
        for text in fast {
            assert!(takes_fast_path(text), "{text}");
            assert_eq!(
                canonical_json(text),
                canonical_json_reparsed(text),
                "{text}"
            );
        }
        for text in slow {
            assert!(!takes_fast_path(text), "{text}");
            assert_eq!(
                canonical_json(text),
                canonical_json_reparsed(text),
                "{text}"
            );
        }
    }

    /// Any JSON value: strings with every kind of character, integers and floats of any
    /// size, nested objects whose keys collide in case and prefix.
    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let text = prop_oneof![
            "[a-dA-D]{0,3}",
            any::<String>(),
            "[\\u{0}-\\u{1f}\"\\\\/é☃\\u{2028}a]{0,6}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1000i64..1000).prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            text.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((text.clone(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// `value` as `serde_json` writes it, but every object's keys in descending order
    /// (as a struct's fields may come).
    fn reversed_text(value: &serde_json::Value) -> String {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                let members: Vec<String> = map
                    .iter()
                    .rev()
                    .map(|(key, item)| {
                        format!("{}:{}", Value::from(key.as_str()), reversed_text(item))
                    })
                    .collect();
                format!("{{{}}}", members.join(","))
            }
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(reversed_text).collect();
                format!("[{}]", items.join(","))
            }
            scalar => scalar.to_string(),
        }
    }

    /// Whether the fast path must take `serde_json`'s text of `value`: no floats, no
    /// integers past 18 digits, no key that needs an escape.
    fn fast_path_expected(value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::Number(number) => {
                number.is_i64()
                    && number
                        .as_i64()
                        .is_some_and(|n| n.unsigned_abs() < 10u64.pow(18))
                    || number.is_u64() && number.as_u64().is_some_and(|n| n < 10u64.pow(18))
            }
            Value::Array(items) => items.iter().all(fast_path_expected),
            Value::Object(map) => map.iter().all(|(key, item)| {
                !key.chars().any(|c| c == '"' || c == '\\' || c < ' ') && fast_path_expected(item)
            }),
            _ => true,
        }
    }

    proptest! {
        #[test]
        fn the_fast_path_gives_the_bytes_of_the_reparse(value in any_json()) {
            let texts = [
                serde_json::to_string(&value).unwrap(),
                reversed_text(&value),
                serde_json::to_string_pretty(&value).unwrap(),
            ];
            for text in &texts {
                prop_assert_eq!(canonical_json(text), canonical_json_reparsed(text));
            }
            let [sorted, reversed, _] = &texts;
            prop_assert_eq!(takes_fast_path(sorted), fast_path_expected(&value));
            prop_assert_eq!(takes_fast_path(reversed), fast_path_expected(&value));
        }

        #[test]
        fn any_text_hashes_as_its_reparse(text in "[\\[\\]{}\":,0-9ab\\\\u -]{0,24}") {
            prop_assert_eq!(canonical_json(&text), canonical_json_reparsed(&text));
        }
    }

    fn content(n: i64) -> EntryContent {
        EntryContent::Event {
            at: format!("2026-04-01T00:00:{:02}.000000Z", n % 60),
            body: format!(r#"{{"n": {n}, "channel": "call"}}"#),
            recorded_at: "2026-04-02T00:00:00.000000Z".to_string(),
        }
    }

    /// A chain of `length` events, as the store writes it.
    fn written(length: i64) -> AccountEntries {
        let mut head = Head::genesis();
        let mut entries = Vec::new();
        for n in 1..=length {
            let id = format!("e{n}");
            let content = content(n);
            let (link, next) = head.next(content.hash(&id, "A").unwrap_or_default());
            entries.push(StoredEntry {
                kind: EntryKind::Event,
                id,
                seq: n,
                position: Some(link.position),
                content_hash: Some(link.content_hash),
                entry_hash: Some(link.entry_hash),
                content,
            });
            head = next;
        }
        AccountEntries {
            account_id: "A".into(),
            entries,
            head: Some(head),
            checkpoint: None,
        }
    }

    fn first(chain: &AccountEntries) -> (TamperKind, Option<i64>, Option<String>) {
        let tamper = verify_account(chain).expect_err("tampered");
        (tamper.kind, tamper.position, tamper.entry_id)
    }

    #[test]
    fn a_written_chain_verifies_and_json_key_order_does_not_matter() {
        let mut chain = written(5);
        assert_eq!(verify_account(&chain).map(|h| h.position), Ok(5));
        // What a JSONB column gives back: the same object, keys re-ordered, spaced.
        if let Some(EntryContent::Event { body, .. }) =
            chain.entries.get_mut(2).map(|e| &mut e.content)
        {
            *body = r#"{"channel": "call", "n": 3}"#.to_string();
        }
        assert!(verify_account(&chain).is_ok());
    }

    #[test]
    fn a_purged_entry_verifies_by_its_stored_content_hash() {
        let mut chain = written(4);
        if let Some(entry) = chain.entries.get_mut(1) {
            entry.content = EntryContent::Purged;
        }
        assert_eq!(verify_account(&chain).map(|h| h.position), Ok(4));
    }

    fn edited(length: i64, at: i64) -> AccountEntries {
        let mut chain = written(length);
        if let Some(entry) = chain.entries.get_mut(usize::try_from(at - 1).unwrap_or(0)) {
            entry.content = content(1000 + at);
        }
        chain
    }

    fn deleted(length: i64, at: i64) -> AccountEntries {
        let mut chain = written(length);
        chain.entries.retain(|e| e.position != Some(at));
        chain
    }

    fn swapped(length: i64, at: i64) -> AccountEntries {
        let mut chain = written(length);
        for entry in &mut chain.entries {
            if entry.position == Some(at) {
                entry.position = Some(at + 1);
            } else if entry.position == Some(at + 1) {
                entry.position = Some(at);
            }
        }
        chain
    }

    /// A forgery at `at`, the later entries renumbered and the head moved on.
    fn inserted(length: i64, at: i64) -> AccountEntries {
        let mut chain = written(length);
        for entry in &mut chain.entries {
            if let Some(position) = entry.position.filter(|p| *p >= at) {
                entry.position = Some(position + 1);
            }
        }
        let content = content(2000);
        let content_hash = content.hash("forged", "A");
        chain.entries.push(StoredEntry {
            kind: EntryKind::Event,
            id: "forged".into(),
            seq: 9999,
            position: Some(at),
            entry_hash: content_hash.as_deref().map(|c| entry_hash(GENESIS, c, at)),
            content_hash,
            content,
        });
        if let Some(head) = &mut chain.head {
            head.position += 1;
        }
        chain
    }

    #[test]
    fn every_kind_of_tampering_is_named_at_every_position() {
        let length = 8;
        for at in 1..=length {
            let id = Some(format!("e{at}"));
            assert_eq!(
                first(&edited(length, at)),
                (TamperKind::Edited, Some(at), id.clone())
            );
            assert_eq!(
                first(&deleted(length, at)),
                (TamperKind::Deleted, Some(at), None)
            );
            assert_eq!(
                first(&inserted(length, at)),
                (TamperKind::Inserted, Some(at), Some("forged".into()))
            );
            if at < length {
                assert_eq!(
                    first(&swapped(length, at)),
                    (
                        TamperKind::Reordered,
                        Some(at),
                        Some(format!("e{}", at + 1))
                    )
                );
            }
        }
    }

    proptest! {
        #[test]
        fn any_single_edit_is_found_at_its_position(length in 1i64..40, pick in 0i64..1000) {
            let at = 1 + pick * length / 1000;
            prop_assert_eq!(first(&edited(length, at)).1, Some(at));
            prop_assert_eq!(first(&deleted(length, at)).0, TamperKind::Deleted);
            prop_assert_eq!(first(&inserted(length, at)), (TamperKind::Inserted, Some(at), Some("forged".to_string())));
        }
    }
}

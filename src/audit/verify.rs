//! `dunner audit verify` and `GET /v1/audit/verify`: every account's hash chain
//! recomputed (see [`crate::domain::chain`]), then the global checkpoints.
//!
//! Reads a page of accounts at a time from the store and hands each chain to the pure
//! [`chain::verify_account`]; stops at the first tampered entry (accounts in id order,
//! entries in chain order). Then checks that the checkpoints link to each other and that
//! the heads kept as of the latest one still hash to its digest: a chain removed with its
//! head, or cut back together with its head, shows there.

use serde::Serialize;

use crate::domain::chain::{self, Tamper};
use crate::store::{Checkpoint, Store, StoreError};

/// What verification found.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// `intact` or `tampered`.
    pub status: &'static str,
    /// Chains verified (up to the tampered one).
    pub accounts: u64,
    /// Entries verified (up to the tampered one).
    pub entries: u64,
    /// Global checkpoints found.
    pub checkpoints: u64,
    /// The latest checkpoint: when it was taken and what it covers.
    pub latest_checkpoint: Option<CheckpointSummary>,
    /// The first tampered entry, when there is one.
    pub tampered: Option<TamperReport>,
}

/// A checkpoint as reported.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CheckpointSummary {
    /// Its number.
    pub seq: i64,
    /// When it was taken.
    pub taken_at: chrono::DateTime<chrono::Utc>,
    /// Accounts it covers.
    pub accounts: i64,
    /// Entries it covers.
    pub entries: i64,
    /// Its hash.
    pub hash: String,
}

/// The first tampered entry.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TamperReport {
    /// `edited`, `deleted`, `inserted` or `reordered`.
    pub kind: &'static str,
    /// The account whose chain broke (absent when only a checkpoint shows it).
    pub account_id: Option<String>,
    /// The position in the account's chain.
    pub position: Option<i64>,
    /// The entry's id (absent for a deleted entry).
    pub entry_id: Option<String>,
    /// `event` or `decision`.
    pub entry_kind: Option<&'static str>,
    /// What verification saw.
    pub detail: String,
}

impl From<Tamper> for TamperReport {
    fn from(tamper: Tamper) -> TamperReport {
        TamperReport {
            kind: tamper.kind.as_str(),
            account_id: tamper.account_id,
            position: tamper.position,
            entry_id: tamper.entry_id,
            entry_kind: tamper.entry_kind.map(chain::EntryKind::as_str),
            detail: tamper.detail,
        }
    }
}

impl Verification {
    /// Whether every chain and checkpoint verified.
    pub fn intact(&self) -> bool {
        self.tampered.is_none()
    }

    /// One line for a person.
    pub fn summary(&self) -> String {
        match &self.tampered {
            None => format!(
                "intact: {} entries in {} account chains; {} checkpoint(s){}",
                self.entries,
                self.accounts,
                self.checkpoints,
                self.latest_checkpoint
                    .as_ref()
                    .map(|c| format!(", the latest #{} at {}", c.seq, c.taken_at.to_rfc3339()))
                    .unwrap_or_default()
            ),
            Some(t) => format!(
                "TAMPERED: {} {}{}{}{}: {}",
                t.kind,
                t.entry_kind.unwrap_or("entry"),
                t.entry_id
                    .as_ref()
                    .map(|id| format!(" `{id}`"))
                    .unwrap_or_default(),
                t.account_id
                    .as_ref()
                    .map(|a| format!(" of account `{a}`"))
                    .unwrap_or_default(),
                t.position
                    .map(|p| format!(" at position {p}"))
                    .unwrap_or_default(),
                t.detail
            ),
        }
    }
}

/// Recomputes every chain of the ledger, then its checkpoints.
pub async fn verify(store: &Store) -> Result<Verification, StoreError> {
    let mut after = String::new();
    let mut accounts = 0;
    let mut entries = 0;
    let mut tampered = None;
    'pages: loop {
        let page = store.chain_page(&after).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.account_id.clone();
        for account in &page {
            match chain::verify_account(account) {
                Ok(head) => {
                    accounts += 1;
                    entries += u64::try_from(head.position).unwrap_or(0);
                }
                Err(tamper) => {
                    tampered = Some(TamperReport::from(tamper));
                    break 'pages;
                }
            }
        }
    }
    let checkpoints = store.checkpoints().await?;
    if tampered.is_none() {
        tampered = check_checkpoints(store, &checkpoints).await?;
    }
    if tampered.is_none() {
        let records = store.records_log().await?;
        let facts = store.purged_facts().await?;
        tampered = check_records(&records, &facts);
    }
    Ok(Verification {
        status: if tampered.is_none() {
            "intact"
        } else {
            "tampered"
        },
        accounts,
        entries,
        checkpoints: checkpoints.len() as u64,
        latest_checkpoint: checkpoints.last().map(|c| CheckpointSummary {
            seq: c.seq,
            taken_at: c.taken_at,
            accounts: c.accounts,
            entries: c.entries,
            hash: c.hash.clone(),
        }),
        tampered,
    })
}

/// The records log (holds and purges) links up, and every account with purged entries
/// has a purge in it whose facts digest still matches them: an entry marked purged to
/// hide an edit, or a purged entry's kept facts changed afterwards, shows here.
fn check_records(
    records: &[chain::RecordEntry],
    facts: &[(String, String)],
) -> Option<TamperReport> {
    if let Err(tamper) = chain::verify_records(records) {
        return Some(TamperReport::from(tamper));
    }
    for (account, digest) in facts {
        let purge = records
            .iter()
            .rev()
            .find(|r| r.action == "purge" && r.account_id.as_deref() == Some(account.as_str()));
        let report = |detail: &str| TamperReport {
            kind: chain::TamperKind::Edited.as_str(),
            account_id: Some(account.clone()),
            position: None,
            entry_id: None,
            entry_kind: None,
            detail: detail.to_string(),
        };
        let Some(purge) = purge else {
            return Some(report(
                "entries are marked purged but the records log holds no purge of the account",
            ));
        };
        let recorded = serde_json::from_str::<serde_json::Value>(&purge.body)
            .ok()
            .and_then(|body| {
                body.get("facts")
                    .and_then(|f| f.as_str().map(str::to_string))
            });
        if recorded.as_deref() != Some(digest.as_str()) {
            return Some(report(
                "the facts kept of its purged entries differ from those its purge recorded",
            ));
        }
    }
    None
}

async fn check_checkpoints(
    store: &Store,
    checkpoints: &[Checkpoint],
) -> Result<Option<TamperReport>, StoreError> {
    if let Some(broken) = check_checkpoint_links(checkpoints) {
        return Ok(Some(broken));
    }
    if checkpoints.is_empty() {
        return Ok(None);
    }
    let current = store.checkpoint_digest().await?;
    Ok(checkpoints
        .last()
        .and_then(|latest| check_checkpoint_digest(latest, &current)))
}

fn checkpoint_report(kind: chain::TamperKind, detail: String) -> TamperReport {
    TamperReport {
        kind: kind.as_str(),
        account_id: None,
        position: None,
        entry_id: None,
        entry_kind: None,
        detail,
    }
}

/// Whether each checkpoint links to the one before it and hashes to its own hash.
fn check_checkpoint_links(checkpoints: &[Checkpoint]) -> Option<TamperReport> {
    let mut previous = chain::GENESIS.to_string();
    for checkpoint in checkpoints {
        let hash = chain::checkpoint_hash(
            &checkpoint.previous,
            &chain::instant_text(checkpoint.taken_at),
            checkpoint.accounts,
            checkpoint.entries,
            &checkpoint.digest,
        );
        if checkpoint.previous != previous {
            return Some(checkpoint_report(
                chain::TamperKind::Deleted,
                format!(
                    "checkpoint #{} does not follow the checkpoint before it: a checkpoint was removed or replaced",
                    checkpoint.seq
                ),
            ));
        }
        if hash != checkpoint.hash {
            return Some(checkpoint_report(
                chain::TamperKind::Edited,
                format!(
                    "checkpoint #{} was changed after it was taken",
                    checkpoint.seq
                ),
            ));
        }
        previous = hash;
    }
    None
}

/// Whether the heads kept as of the latest checkpoint still hash to its digest.
fn check_checkpoint_digest(
    latest: &Checkpoint,
    (accounts, entries, digest): &(i64, i64, String),
) -> Option<TamperReport> {
    if (*accounts, *entries, digest.as_str())
        == (latest.accounts, latest.entries, latest.digest.as_str())
    {
        return None;
    }
    let kind = if *accounts < latest.accounts || *entries < latest.entries {
        chain::TamperKind::Deleted
    } else {
        chain::TamperKind::Edited
    };
    Some(checkpoint_report(
        kind,
        format!(
            "checkpoint #{} covered {} accounts and {} entries; the heads kept for it now cover {accounts} accounts and {entries} entries and hash differently: chains or their heads were removed or rewritten",
            latest.seq, latest.accounts, latest.entries
        ),
    ))
}

/// The log as exported for a third party: every chain with its entries' contents and
/// hashes, and the checkpoints with their signatures.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Export {
    /// `dunner-chain-export/1`.
    pub format: String,
    /// Every checkpoint, oldest first.
    pub checkpoints: Vec<Checkpoint>,
    /// Every account's chain, in id order.
    pub accounts: Vec<chain::AccountEntries>,
}

/// The format name of an [`Export`].
pub const EXPORT_FORMAT: &str = "dunner-chain-export/1";

/// Reads the whole log for export (held in memory: about the size of the ledger's
/// events and decisions as JSON).
pub async fn export(store: &Store) -> Result<Export, StoreError> {
    let mut accounts = Vec::new();
    let mut after = String::new();
    loop {
        let page = store.chain_page(&after).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.account_id.clone();
        accounts.extend(page);
    }
    Ok(Export {
        format: EXPORT_FORMAT.to_string(),
        checkpoints: store.checkpoints().await?,
        accounts,
    })
}

/// Why an export cannot be verified at all.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Not an export of this format.
    #[error("not a dunner chain export (`format` is `{0}`, expected `{EXPORT_FORMAT}`)")]
    Format(String),
    /// Its newest checkpoint is not signed (or it has none).
    #[error(
        "the export's newest checkpoint is not signed: nothing in it vouches for the log (give the daemon `[audit] signing_key`, or `dunner audit checkpoint --signing-key PATH`, then export again)"
    )]
    Unsigned,
}

/// Verifies an export with only the public key: every chain recomputed, the checkpoints'
/// links and signatures, and the newest (signed) checkpoint's digest over the heads it
/// covers. Entries written after that checkpoint form intact chains but no signature
/// vouches for them.
pub fn verify_export(export: &Export, public_key: &[u8]) -> Result<Verification, ExportError> {
    if export.format != EXPORT_FORMAT {
        return Err(ExportError::Format(export.format.clone()));
    }
    // The heads exported as "of the latest checkpoint" are the newest checkpoint's: it must
    // be the signed one, or nothing binds them.
    let latest = export
        .checkpoints
        .last()
        .filter(|c| c.signature.is_some())
        .ok_or(ExportError::Unsigned)?;
    let mut accounts = 0;
    let mut entries = 0;
    let mut tampered = None;
    let mut covered = Vec::new();
    let mut sorted: Vec<&chain::AccountEntries> = export.accounts.iter().collect();
    sorted.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    for account in sorted {
        match chain::verify_account(account) {
            Ok(head) => {
                accounts += 1;
                entries += u64::try_from(head.position).unwrap_or(0);
            }
            Err(tamper) => {
                tampered = Some(TamperReport::from(tamper));
                break;
            }
        }
        if let Some(checkpoint) = &account.checkpoint {
            covered.push((account.account_id.clone(), checkpoint.clone()));
        }
    }
    if tampered.is_none() {
        tampered = check_checkpoint_links(&export.checkpoints);
    }
    if tampered.is_none() {
        for checkpoint in &export.checkpoints {
            if let Some(signature) = &checkpoint.signature
                && !super::signing::verify(public_key, checkpoint.hash.as_bytes(), signature)
            {
                tampered = Some(checkpoint_report(
                    chain::TamperKind::Edited,
                    format!(
                        "checkpoint #{}'s signature does not verify with this public key",
                        checkpoint.seq
                    ),
                ));
                break;
            }
        }
    }
    if tampered.is_none() {
        tampered = check_checkpoint_digest(latest, &chain::checkpoint_digest(covered));
    }
    Ok(Verification {
        status: if tampered.is_none() {
            "intact"
        } else {
            "tampered"
        },
        accounts,
        entries,
        checkpoints: export.checkpoints.len() as u64,
        latest_checkpoint: Some(CheckpointSummary {
            seq: latest.seq,
            taken_at: latest.taken_at,
            accounts: latest.accounts,
            entries: latest.entries,
            hash: latest.hash.clone(),
        }),
        tampered,
    })
}

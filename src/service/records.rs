//! Records management's use cases: placing and releasing legal holds, planning a purge
//! (which accounts, under which rule) and running it an account at a time, each in its
//! own store transaction. What may be purged is `records::select`'s decision; the store
//! checks again under the account's lock.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::check_account_id;
use crate::records::{Hold, HoldKind, HoldScope, RetentionConfig, Selected, select};
use crate::store::records::{PurgeOutcome, PurgeRecord, Release};
use crate::store::{Store, StoreError};

/// The longest hold reason.
pub const MAX_REASON_CHARS: usize = 500;

/// Why a records request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// A field of the request is wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No hold has that id.
    #[error("hold `{0}` does not exist")]
    HoldNotFound(String),
    /// The hold was released before.
    #[error("hold `{0}` was already released")]
    HoldReleased(String),
    /// The store failed (or the account of an account hold does not exist).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Places a hold on an account (which must exist) or on a client, in force from `now`.
pub async fn place_hold(
    store: &Store,
    scope: HoldScope,
    target: &str,
    kind: HoldKind,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Hold, RecordsError> {
    let field = match scope {
        HoldScope::Account => "account_id",
        HoldScope::Client => "client",
    };
    check_account_id(target).map_err(|message| RecordsError::Invalid { field, message })?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(RecordsError::Invalid {
            field: "reason",
            message: format!(
                "give the hold's reference (a case number, a request's reference), 1 to {MAX_REASON_CHARS} characters"
            ),
        });
    }
    let hold = Hold {
        id: crate::store::new_hold_id(now),
        scope,
        target: target.to_string(),
        kind,
        reason: reason.to_string(),
        placed_at: now,
        released_at: None,
    };
    store.place_hold(&hold).await?;
    Ok(hold)
}

/// Releases a hold at `now`.
pub async fn release_hold(
    store: &Store,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Hold, RecordsError> {
    match store.release_hold(id, now).await? {
        Release::Released(hold) => Ok(hold),
        Release::AlreadyReleased(_) => Err(RecordsError::HoldReleased(id.to_string())),
        Release::NotFound => Err(RecordsError::HoldNotFound(id.to_string())),
    }
}

/// What a purge at `as_of` would touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PurgePlan {
    /// The instant retention is judged at.
    pub as_of: DateTime<Utc>,
    /// The accounts it would purge, and why.
    pub selected: Vec<Selected>,
    /// Accounts past retention and closed, paid or deceased that a hold keeps.
    pub held: Vec<HeldAccount>,
}

/// An account a legal hold alone keeps from the purge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HeldAccount {
    /// The account.
    pub account_id: String,
    /// The hold that keeps it.
    pub hold_id: String,
}

/// What a purge did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PurgeRun {
    /// The plan it ran.
    pub plan: PurgePlan,
    /// The accounts purged (the report's new entries).
    pub purged: Vec<PurgeRecord>,
    /// Selected accounts left alone when checked again under their lock, and why.
    pub skipped: Vec<SkippedAccount>,
}

/// A selected account the purge left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SkippedAccount {
    /// The account.
    pub account_id: String,
    /// Why.
    pub reason: String,
}

/// The accounts a purge at `as_of` would touch, the whole portfolio a page at a time.
pub async fn plan_purge(
    store: &Store,
    policy: &RetentionConfig,
    as_of: DateTime<Utc>,
) -> Result<PurgePlan, RecordsError> {
    let holds = store.holds(false).await?;
    let mut plan = PurgePlan {
        as_of,
        selected: Vec::new(),
        held: Vec::new(),
    };
    let mut after = String::new();
    loop {
        let page = store.purge_candidates(&after).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.account_id.clone();
        let (selected, held) = select(&page, policy, &holds, as_of);
        plan.selected.extend(selected);
        plan.held
            .extend(held.into_iter().map(|(account_id, hold_id)| HeldAccount {
                account_id,
                hold_id,
            }));
    }
    Ok(plan)
}

/// Plans a purge at `as_of` and runs it: each selected account purged in its own
/// transaction (all of its rows or none). Idempotent: a purged account is not selected
/// again. `as_of` may not be later than `now` (retention is never cut short).
pub async fn run_purge(
    store: &Store,
    policy: &RetentionConfig,
    as_of: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<PurgeRun, RecordsError> {
    if as_of > now {
        return Err(RecordsError::Invalid {
            field: "as_of",
            message:
                "a purge judges retention at now or earlier; a later instant is for a dry run only"
                    .to_string(),
        });
    }
    let plan = plan_purge(store, policy, as_of).await?;
    let mut purged = Vec::new();
    let mut skipped = Vec::new();
    for selected in &plan.selected {
        match store.purge_account(selected, now).await? {
            PurgeOutcome::Purged(record) => purged.push(record),
            PurgeOutcome::Skipped(reason) => skipped.push(SkippedAccount {
                account_id: selected.account_id.clone(),
                reason: reason.to_string(),
            }),
        }
    }
    Ok(PurgeRun {
        plan,
        purged,
        skipped,
    })
}

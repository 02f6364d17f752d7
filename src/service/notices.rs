//! Queueing a notice (checked against the policy in the transaction that queues it) and
//! replaying a dead one.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::ServiceError;
use super::attempts::{PolicyJudge, Recorded, decide_and_queue};
use crate::domain::NoticeSenders;
use crate::engine::Decision;
use crate::policy::Policy;
use crate::store::{
    Attempt, Notice, NoticeRequest, NoticeRow, NoticeStatus, NoticeUpdate, QueuedNotice, Store,
    StoreError, new_id, to_json,
};

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
    /// How the shadow policy's decision diverged, as logged.
    pub shadow: Option<super::shadow::Divergence>,
}

/// Asks for a notice on behalf of a caller (the API, the scheduler): refuses one that
/// does not hold together or that nobody here can deliver ([`NoticeSenders`]), then
/// queues it as [`enqueue_notice`] does.
///
/// With a `shadow`, the shadow policy decides too, and its divergence is logged.
pub async fn request_notice(
    store: &Store,
    policy: &Arc<Policy>,
    shadow: Option<&Arc<Policy>>,
    senders: &NoticeSenders,
    request: &NoticeRequest,
    idempotency_key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Enqueued, ServiceError> {
    request.validate()?;
    senders
        .check(request)
        .map_err(ServiceError::Undeliverable)?;
    enqueue_notice_with(store, policy, shadow, request, idempotency_key, now).await
}

/// Queues a notice, checking the policy first, in one transaction with the decision
/// log: allowed now → due now (or at `not_before`); deferred → due at
/// `next_allowed_at`; stopped by a hold → nothing queued (the decision says why). A
/// request repeating an `idempotency_key` gets the notice queued the first time.
pub async fn enqueue_notice(
    store: &Store,
    policy: &Arc<Policy>,
    request: &NoticeRequest,
    idempotency_key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Enqueued, ServiceError> {
    enqueue_notice_with(store, policy, None, request, idempotency_key, now).await
}

/// [`enqueue_notice`], with a shadow policy decided beside the live one.
pub async fn enqueue_notice_with(
    store: &Store,
    policy: &Arc<Policy>,
    shadow: Option<&Arc<Policy>>,
    request: &NoticeRequest,
    idempotency_key: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Enqueued, ServiceError> {
    if let Some(key) = idempotency_key
        && let Some(existing) = store.notice_by_key(key).await?
    {
        return Ok(Enqueued {
            notice: Some(existing),
            decision: None,
            replayed: true,
            shadow: None,
        });
    }
    request.validate()?;
    let account = store
        .get_account(&request.account_id)
        .await?
        .ok_or_else(|| StoreError::AccountNotFound(request.account_id.clone()))?;
    let at = request
        .not_before
        .map_or(now, |not_before| not_before.max(now));
    let (notice_id, decision, shadowed) = match request.checked_contact(&account)? {
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
            let queued = QueuedNotice {
                request: to_json(request)?,
                idempotency_key: idempotency_key.map(str::to_string),
            };
            let Recorded {
                notice_id,
                decision,
                shadow,
                ..
            } = decide_and_queue(store, policy, shadow, &attempt, queued, now).await?;
            (notice_id, Some(decision), shadow)
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
            store.insert_notice(&row).await?;
            (Some(row.id), None, None)
        }
    };
    // With a key, two racing requests queue one notice: the one stored wins.
    let notice = match (idempotency_key, &notice_id) {
        (Some(key), Some(_)) => store.notice_by_key(key).await?,
        (None, Some(id)) => store.get_notice(id).await?,
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
        shadow: shadowed,
    })
}

/// The send-time check of a leased notice (the contact it is, at `attempt.at`), through
/// the store's locked check-and-record: atomic per consumer with the dialers' attempts,
/// over the history with every other pending notice's place but not this notice's own.
/// The decision is logged (which policy allowed the notice to leave); no contact is
/// recorded here — the notice holds its place until its delivery is recorded.
///
/// With a `shadow`, the shadow policy decides too, and its divergence is logged.
pub async fn check_notice_send(
    store: &Store,
    policy: &Arc<Policy>,
    shadow: Option<&Arc<Policy>>,
    attempt: &Attempt,
    notice_id: &str,
    now: DateTime<Utc>,
) -> Result<Recorded, ServiceError> {
    let judge = PolicyJudge::deciding(policy, shadow);
    let row = store
        .check_notice_send(&judge.as_judge(), attempt, notice_id, now)
        .await?;
    Ok(judge.recorded(row)?)
}

/// Replays a dead or cancelled notice: pending again, due now, with a fresh retry
/// schedule (the policy is still checked before it leaves). A pending or delivered
/// notice is not replayed: that would send it twice.
pub async fn retry_notice(
    store: &Store,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Notice, ServiceError> {
    let notice = store
        .get_notice(id)
        .await?
        .ok_or_else(|| StoreError::NoticeNotFound(id.to_string()))?;
    if !matches!(notice.status, NoticeStatus::Dead | NoticeStatus::Cancelled) {
        return Err(ServiceError::NotReplayable {
            id: notice.id,
            status: notice.status,
        });
    }
    let update = NoticeUpdate::Reschedule {
        due_at: now,
        attempts: 0,
        error: None,
    };
    store.finish_notice(&notice.id, &update, now).await?;
    Ok(store
        .get_notice(id)
        .await?
        .ok_or_else(|| StoreError::NoticeNotFound(id.to_string()))?)
}

//! Checking an attempt against the policy and recording it if allowed; asking the
//! stateful "may I?" and logging the answer; reading the decision log back.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ServiceError;
use crate::domain::{Account, Event, EventType, InitiatedBy, LedgerEvent};
use crate::engine::{Decision, Question, Subject};
use crate::policy::Policy;
use crate::store::{
    Attempt, DecisionRow, DecisionSearch, Judge, Judgement, QueuedNotice, RecordedRow, Store,
    StoreError, from_json, to_json,
};

/// The live policy as the store's [`Judge`]: the engine decides, and an allowed attempt
/// is recorded as a contact when `records_contact` says so.
pub struct PolicyJudge {
    policy: Arc<Policy>,
    records_contact: bool,
    /// The shadow policy, decided beside the live one; its divergence is logged.
    shadow: Option<Arc<Policy>>,
}

impl PolicyJudge {
    /// A judge that records allowed attempts as contacts.
    pub fn recording(policy: &Arc<Policy>) -> Arc<dyn Judge> {
        PolicyJudge::recording_with(policy, None)
    }

    /// A judge that only decides (a question, a notice being queued).
    pub fn deciding(policy: &Arc<Policy>) -> Arc<dyn Judge> {
        PolicyJudge::deciding_with(policy, None)
    }

    /// [`PolicyJudge::recording`], with a shadow policy decided beside the live one.
    pub fn recording_with(policy: &Arc<Policy>, shadow: Option<&Arc<Policy>>) -> Arc<dyn Judge> {
        Arc::new(PolicyJudge {
            policy: Arc::clone(policy),
            records_contact: true,
            shadow: shadow.map(Arc::clone),
        })
    }

    /// [`PolicyJudge::deciding`], with a shadow policy decided beside the live one.
    pub fn deciding_with(policy: &Arc<Policy>, shadow: Option<&Arc<Policy>>) -> Arc<dyn Judge> {
        Arc::new(PolicyJudge {
            policy: Arc::clone(policy),
            records_contact: false,
            shadow: shadow.map(Arc::clone),
        })
    }
}

impl Judge for PolicyJudge {
    fn policy_digest(&self) -> &str {
        self.policy.digest()
    }

    fn policy_texts(&self) -> Result<String, StoreError> {
        let sources: Vec<(&str, &str)> = self
            .policy
            .sources()
            .iter()
            .map(|s| (&*s.name, &*s.text))
            .collect();
        to_json(&sources)
    }

    fn judge(
        &self,
        account: &Account,
        history: &[Event],
        attempt: &Attempt,
    ) -> Result<Judgement, StoreError> {
        let question = Question {
            at: attempt.at,
            channel: attempt.channel,
            purpose: attempt.purpose,
            contact_point: attempt.contact_point.as_deref(),
            horizon_days: None,
        };
        let decision = Subject::new(&self.policy, account, history).decide(&question);
        // The shadow sees the same account and history; only its divergence is kept.
        let shadow = self
            .shadow
            .as_ref()
            .and_then(|shadow| {
                let shadowed = Subject::new(shadow, account, history).decide(&question);
                super::shadow::divergence(&decision, &shadowed)
            })
            .map(|divergence| serde_json::value::to_raw_value(&divergence))
            .transpose()
            .map_err(|error| StoreError::Corrupt {
                what: "shadow divergence to log",
                reason: error.to_string(),
            })?;
        let contact = (decision.allowed && self.records_contact).then(|| {
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
            LedgerEvent {
                purpose: Some(attempt.purpose),
                ..event.into()
            }
        });
        // A notice waits for the first allowed instant; a hold, or nothing allowed
        // within the horizon, queues nothing.
        let notice_due = if decision.allowed {
            Some(attempt.at)
        } else {
            decision.next_allowed_at
        };
        let raw =
            serde_json::value::to_raw_value(&decision).map_err(|error| StoreError::Corrupt {
                what: "decision to log",
                reason: error.to_string(),
            })?;
        Ok(Judgement {
            decision: raw,
            outcome: decision.outcome.as_str().to_string(),
            contact,
            notice_due,
            shadow,
        })
    }
}

/// The result of [`check_and_record`] and [`decide_and_log`].
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    pub replayed: bool,
    /// How the shadow policy diverged, as logged; never part of the answer.
    #[serde(skip)]
    pub shadow: Option<super::shadow::Divergence>,
}

impl Recorded {
    pub(super) fn from_row(row: RecordedRow) -> Result<Recorded, StoreError> {
        Ok(Recorded {
            shadow: row
                .shadow
                .as_ref()
                .map(|shadow| from_json("shadow divergence", shadow.get()))
                .transpose()?,
            decision: from_json("logged decision", row.decision.get())?,
            decision_id: row.decision_id,
            event_id: row.event_id,
            notice_id: row.notice_id,
            replayed: row.replayed,
        })
    }
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
    /// The contact this decision allowed and recorded (its ledger event), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

/// Checks an attempt against the policy and, if allowed, records it — atomically per
/// consumer. The decision is logged either way, with the policy's texts kept by digest.
pub async fn check_and_record(
    store: &Store,
    policy: &Arc<Policy>,
    attempt: &Attempt,
    now: DateTime<Utc>,
) -> Result<Recorded, ServiceError> {
    check_and_record_with(store, policy, None, attempt, now).await
}

/// [`check_and_record`], with a shadow policy decided beside the live one (its
/// divergence logged with the decision).
pub async fn check_and_record_with(
    store: &Store,
    policy: &Arc<Policy>,
    shadow: Option<&Arc<Policy>>,
    attempt: &Attempt,
    now: DateTime<Utc>,
) -> Result<Recorded, ServiceError> {
    let row = store
        .check_and_record(
            &PolicyJudge::recording_with(policy, shadow),
            attempt,
            None,
            now,
        )
        .await?;
    Ok(Recorded::from_row(row)?)
}

/// Decides a question from the stored account and ledger and logs the decision,
/// recording no contact (the stateful "may I?").
pub async fn decide_and_log(
    store: &Store,
    policy: &Arc<Policy>,
    question: &Attempt,
    now: DateTime<Utc>,
) -> Result<Recorded, ServiceError> {
    decide_and_log_with(store, policy, None, question, now).await
}

/// [`decide_and_log`], with a shadow policy decided beside the live one.
pub async fn decide_and_log_with(
    store: &Store,
    policy: &Arc<Policy>,
    shadow: Option<&Arc<Policy>>,
    question: &Attempt,
    now: DateTime<Utc>,
) -> Result<Recorded, ServiceError> {
    let row = store
        .check_and_record(
            &PolicyJudge::deciding_with(policy, shadow),
            question,
            None,
            now,
        )
        .await?;
    Ok(Recorded::from_row(row)?)
}

/// Queues a notice with the policy's decision (see [`super::enqueue_notice`]).
pub(super) async fn decide_and_queue(
    store: &Store,
    policy: &Arc<Policy>,
    shadow: Option<&Arc<Policy>>,
    attempt: &Attempt,
    notice: QueuedNotice,
    now: DateTime<Utc>,
) -> Result<Recorded, ServiceError> {
    let row = store
        .check_and_record(
            &PolicyJudge::deciding_with(policy, shadow),
            attempt,
            Some(notice),
            now,
        )
        .await?;
    Ok(Recorded::from_row(row)?)
}

/// The decision log of an account: its most recent `limit` decisions, in log order.
pub async fn list_decisions(
    store: &Store,
    account_id: &str,
    limit: u32,
) -> Result<Vec<LoggedDecision>, ServiceError> {
    let search = DecisionSearch {
        account_id: Some(account_id.to_string()),
        limit,
        ..DecisionSearch::default()
    };
    search_decisions(store, &search).await
}

/// The logged decisions matching `search`, across accounts, in log order.
pub async fn search_decisions(
    store: &Store,
    search: &DecisionSearch,
) -> Result<Vec<LoggedDecision>, ServiceError> {
    let rows: Vec<DecisionRow> = store.search_decisions(search).await?;
    rows.into_iter()
        .map(|row| {
            Ok(LoggedDecision {
                decision: from_json("logged decision", row.decision.get())?,
                id: row.id,
                seq: row.seq,
                account_id: row.account_id,
                decided_at: row.decided_at,
                question: row.question,
                event_id: row.event_id,
            })
        })
        .collect()
}

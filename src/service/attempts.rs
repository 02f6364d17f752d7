//! Checking an attempt against the policy and recording it if allowed; asking the
//! stateful "may I?" and logging the answer; reading the decision log back.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::ServiceError;
use crate::domain::{Account, Event, EventType, InitiatedBy, LedgerEvent};
use crate::engine::{Decision, Question, Subject};
use crate::policy::Policy;
use crate::store::{
    Attempt, DecisionRow, DecisionSearch, Judge, Judgement, QueuedNotice, RecordedRow, Store,
    StoreError, from_json, to_json,
};

/// The live policy as the store's [`Judge`]: the engine decides, and an allowed attempt
/// is recorded as a contact when `records_contact` says so. One judge serves one call of
/// the store.
pub struct PolicyJudge {
    policy: Arc<Policy>,
    records_contact: bool,
    /// The shadow policy, decided beside the live one; its divergence is logged.
    shadow: Option<Arc<Policy>>,
    /// The last judgement's decision and divergence beside the texts logged for them, so
    /// that the answer reuses them instead of parsing the log back when the store returns
    /// those very texts (a retried batch judges again; only the texts committed count).
    last: Mutex<Option<Judged>>,
}

/// A judgement's typed decision and divergence, with the JSON texts logged for them.
struct Judged {
    decision: Decision,
    logged: String,
    shadow: Option<(super::shadow::Divergence, String)>,
}

impl PolicyJudge {
    /// A judge that records allowed attempts as contacts, with a shadow policy decided
    /// beside the live one.
    pub fn recording(policy: &Arc<Policy>, shadow: Option<&Arc<Policy>>) -> Arc<PolicyJudge> {
        PolicyJudge::new(policy, shadow, true)
    }

    /// A judge that only decides (a question, a notice being queued or sent), with a
    /// shadow policy decided beside the live one.
    pub fn deciding(policy: &Arc<Policy>, shadow: Option<&Arc<Policy>>) -> Arc<PolicyJudge> {
        PolicyJudge::new(policy, shadow, false)
    }

    fn new(
        policy: &Arc<Policy>,
        shadow: Option<&Arc<Policy>>,
        records_contact: bool,
    ) -> Arc<PolicyJudge> {
        Arc::new(PolicyJudge {
            policy: Arc::clone(policy),
            records_contact,
            shadow: shadow.map(Arc::clone),
            last: Mutex::new(None),
        })
    }

    /// This judge as the store takes it.
    pub fn as_judge(self: &Arc<Self>) -> Arc<dyn Judge> {
        self.clone()
    }

    /// The store's answer to a call this judge judged: the decision and divergence this
    /// judge made when the row carries the texts it logged for them, else (a replayed
    /// answer, a row judged by another) parsed from the row.
    pub fn recorded(&self, row: RecordedRow) -> Result<Recorded, StoreError> {
        let judged = self.last.lock().ok().and_then(|mut last| last.take());
        let Some(judged) = judged.filter(|judged| judged.is_logged_in(&row)) else {
            return Recorded::from_row(row);
        };
        Ok(Recorded {
            decision: judged.decision,
            shadow: judged.shadow.map(|(divergence, _)| divergence),
            logged: row.decision,
            decision_id: row.decision_id,
            event_id: row.event_id,
            notice_id: row.notice_id,
            replayed: row.replayed,
        })
    }
}

impl Judged {
    /// Whether `row` carries the texts logged for this judgement.
    fn is_logged_in(&self, row: &RecordedRow) -> bool {
        let shadow_text = self.shadow.as_ref().map(|(_, text)| text.as_str());
        !row.replayed
            && row.decision.get() == self.logged
            && row.shadow.as_ref().map(|shadow| shadow.get()) == shadow_text
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
        let divergence = self.shadow.as_ref().and_then(|shadow| {
            let shadowed = Subject::new(shadow, account, history).decide(&question);
            super::shadow::divergence(&decision, &shadowed)
        });
        let shadow = divergence
            .as_ref()
            .map(serde_json::value::to_raw_value)
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
        let outcome = decision.outcome.as_str().to_string();
        if let Ok(mut last) = self.last.lock() {
            *last = Some(Judged {
                logged: raw.get().to_string(),
                shadow: divergence.zip(shadow.as_ref().map(|text| text.get().to_string())),
                decision,
            });
        }
        Ok(Judgement {
            decision: raw,
            outcome,
            contact,
            notice_due,
            shadow,
        })
    }
}

/// The result of [`check_and_record`] and [`decide_and_log`].
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The decision (logged either way).
    pub decision: Decision,
    /// The decision as logged (JSON): the text an answer carries, byte for byte the one
    /// kept with an idempotency key and given again on a replay.
    pub logged: Box<RawValue>,
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
            logged: row.decision,
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
    let judge = PolicyJudge::recording(policy, shadow);
    let row = store
        .check_and_record(&judge.as_judge(), attempt, None, now)
        .await?;
    Ok(judge.recorded(row)?)
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
    let judge = PolicyJudge::deciding(policy, shadow);
    let row = store
        .check_and_record(&judge.as_judge(), question, None, now)
        .await?;
    Ok(judge.recorded(row)?)
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
    let judge = PolicyJudge::deciding(policy, shadow);
    let row = store
        .check_and_record(&judge.as_judge(), attempt, Some(notice), now)
        .await?;
    Ok(judge.recorded(row)?)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::{Channel, Purpose};

    /// A judgement at `at` (UTC) of a call to a New York account, by the shipped policy
    /// with the noon-only shadow, and the row the store would return for it.
    fn judged(judge: &PolicyJudge, at: &str) -> RecordedRow {
        let account: Account = serde_json::from_str(
            r#"{"id": "A-1", "consumer": {"address": {"state": "NY", "city": "Albany"},
                "time_zones": ["America/New_York"]}}"#,
        )
        .unwrap();
        let attempt = Attempt {
            account_id: "A-1".to_string(),
            at: at.parse().unwrap(),
            channel: Channel::Call,
            purpose: Purpose::Collection,
            contact_point: None,
            outcome: None,
            idempotency: None,
        };
        let judgement = judge.judge(&account, &[], &attempt).unwrap();
        RecordedRow {
            decision: judgement.decision,
            decision_id: "D-1".to_string(),
            event_id: None,
            notice_id: None,
            replayed: false,
            shadow: judgement.shadow,
        }
    }

    fn noon_judge() -> Arc<PolicyJudge> {
        let (live, shadow) = super::super::shadow::tests::policies();
        PolicyJudge::deciding(&Arc::new(live), Some(&Arc::new(shadow)))
    }

    #[test]
    fn the_answer_is_the_decision_the_log_holds_whether_made_here_or_read_back() {
        // 11:00 in New York: live allows, the shadow defers.
        let judge = noon_judge();
        let row = judged(&judge, "2026-04-07T15:00:00Z");
        let parsed = Recorded::from_row(row.clone()).unwrap();
        let answered = judge.recorded(row.clone()).unwrap();
        assert!(answered.decision.allowed);
        assert_eq!(answered.decision, parsed.decision);
        assert_eq!(answered.shadow, parsed.shadow);
        assert!(answered.shadow.is_some());
        assert_eq!(answered.logged.get(), row.decision.get());

        // The store returned another decision than this judge's last (a batch judged
        // again, a row written by another): the row's is the answer.
        let night_judge = noon_judge();
        let night = judged(&night_judge, "2026-04-07T07:00:00Z");
        judged(&night_judge, "2026-04-07T15:00:00Z");
        let answered = night_judge.recorded(night.clone()).unwrap();
        assert!(!answered.decision.allowed);
        assert_eq!(
            answered.decision,
            Recorded::from_row(night).unwrap().decision
        );

        // The same decision with another divergence logged beside it: the row's.
        let judge = noon_judge();
        let mut row = judged(&judge, "2026-04-07T15:00:00Z");
        row.shadow = None;
        assert_eq!(judge.recorded(row).unwrap().shadow, None);

        // A replay is the kept answer, read back.
        let judge = noon_judge();
        let mut row = judged(&judge, "2026-04-07T15:00:00Z");
        row.replayed = true;
        let replayed = judge.recorded(row.clone()).unwrap();
        assert!(replayed.replayed);
        assert_eq!(replayed.decision, Recorded::from_row(row).unwrap().decision);
    }
}

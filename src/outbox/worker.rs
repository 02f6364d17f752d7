//! The outbox worker: leases due notices, checks the policy again at the moment of
//! sending — through the store's locked check, like a dialer's attempt, so the two never
//! break a cap together — hands each to its courier (email or webhook) and records how
//! it ended. A queued email holds its place in the caps from the moment it is queued
//! (the store counts pending email notices as contacts at their due instants); its
//! delivered contact replaces it in the transaction that closes it.
//! It sleeps until the next notice falls due or a new one is queued; no busy polling.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::RetrySchedule;
use crate::clock::Clock;
use crate::dispatch::{Couriers, Delivery};
use crate::domain::{LedgerEvent, LedgerEventType, Notice, NoticeChannel, NoticeStatus, Outcome};
use crate::engine::{Decision, Verdict};
use crate::metrics::Metrics;
use crate::reload::LivePolicy;
use crate::service::ServiceError;
use crate::store::{Attempt, NoticeUpdate, Store, StoreError};

/// How long a leased notice is held before another worker may take it (it is only
/// taken again if this worker died mid-send).
pub const LEASE: Duration = Duration::from_secs(120);

/// The most notices leased at once.
const BATCH: u32 = 256;

/// The longest sleep when nothing is due (a notice queued by another daemon on the
/// same PostgreSQL ledger wakes nobody here).
const IDLE: Duration = Duration::from_secs(30);

/// The worker's parts.
#[derive(Clone)]
pub struct Outbox {
    /// The ledger.
    pub store: Store,
    /// The policy, re-read for every notice.
    pub policy: Arc<LivePolicy>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Retry delays.
    pub schedule: RetrySchedule,
    /// Who sends.
    pub couriers: Couriers,
    /// Rung when a notice is queued.
    pub wake: Arc<Notify>,
    /// Tries and dead letters are counted here.
    pub metrics: Arc<Metrics>,
}

/// What the policy says at send time.
#[derive(Debug, Clone, PartialEq)]
pub enum SendCheck {
    /// Send now, to this contact point.
    Send(Option<String>),
    /// Not now: the window closed, a cap filled; try again then.
    Later(DateTime<Utc>, String),
    /// Never: a hold (cease-and-desist, opt-out), or nothing allowed within the horizon.
    Cancel(String),
}

impl SendCheck {
    /// What the decision of the send-time check means for the notice. Pure.
    pub fn from_decision(decision: &Decision, contact_point: Option<String>) -> SendCheck {
        match (decision.outcome, decision.next_allowed_at) {
            (Verdict::Allow, _) => SendCheck::Send(contact_point),
            (Verdict::Defer, Some(next)) => SendCheck::Later(next, reasons(decision)),
            _ => SendCheck::Cancel(reasons(decision)),
        }
    }
}

/// The refusing rules, for the notice's `last_error`.
fn reasons(decision: &Decision) -> String {
    let rules: Vec<String> = decision
        .reasons
        .iter()
        .map(|r| format!("{} ({})", r.rule, r.citation))
        .collect();
    if rules.is_empty() {
        "nothing is allowed within the horizon".into()
    } else {
        format!("refused by {}", rules.join(", "))
    }
}

impl Outbox {
    /// Runs until `shutdown` completes; a notice being sent when it does is finished
    /// first.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let sleep = match self.step().await {
                // More may be due: go on at once, but hear a shutdown between batches
                // (a backlog of due notices must not keep the daemon from stopping).
                Ok(true) => Duration::ZERO,
                Ok(false) => self.idle_for().await,
                Err(error) => {
                    tracing::error!(%error, "the outbox worker could not read the ledger");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// How long to sleep: until the next notice is due, at most [`IDLE`].
    async fn idle_for(&self) -> Duration {
        match self.store.next_notice_due().await {
            Ok(Some(due)) => (due - self.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(IDLE),
            _ => IDLE,
        }
    }

    /// Leases and sends what is due; `true` when it found any (there may be more).
    pub async fn step(&self) -> Result<bool, StoreError> {
        let leased = self
            .store
            .lease_notices(self.clock.now(), BATCH, LEASE)
            .await?;
        if leased.is_empty() {
            return Ok(false);
        }
        let mut sends = tokio::task::JoinSet::new();
        for notice in leased {
            let worker = self.clone();
            sends.spawn(async move {
                let sent = worker.send(notice.clone()).await;
                (notice, sent)
            });
        }
        // The outcomes of the batch are written together: one transaction, one fsync.
        let mut updates = Vec::new();
        while let Some(done) = sends.join_next().await {
            match done {
                Ok((notice, Ok(update))) => {
                    self.observe(&notice, &update);
                    updates.push((notice.id, update));
                }
                // Left leased: sent again when the lease runs out.
                Ok((_, Err(error))) => tracing::error!(%error, "a notice could not be sent"),
                Err(error) => tracing::error!(%error, "a notice's task failed"),
            }
        }
        self.store
            .finish_notices(&updates, self.clock.now())
            .await?;
        Ok(true)
    }

    /// Checks and sends one leased notice; says how it ended.
    async fn send(&self, notice: Notice) -> Result<NoticeUpdate, ServiceError> {
        let now = self.clock.now();
        let Some(account) = self.store.get_account(&notice.account_id).await? else {
            return Ok(close(
                &notice,
                NoticeStatus::Cancelled,
                "the account is gone".into(),
            ));
        };
        let check = match notice.request.checked_contact(&account) {
            Err(error) => SendCheck::Cancel(error.message),
            // A webhook that reaches no consumer: nothing to check.
            Ok(None) => SendCheck::Send(None),
            Ok(Some((channel, contact_point))) => {
                let attempt = Attempt {
                    account_id: notice.account_id.clone(),
                    at: now,
                    channel,
                    purpose: notice.request.purpose,
                    contact_point: contact_point.clone(),
                    outcome: None,
                    idempotency: None,
                };
                let policy = self.policy.current();
                let recorded = crate::service::check_notice_send(
                    &self.store,
                    &policy,
                    self.policy.shadow().as_ref(),
                    &attempt,
                    &notice.id,
                    now,
                )
                .await?;
                if let Some(divergence) = &recorded.shadow {
                    self.metrics.observe_shadow_divergence(divergence);
                }
                SendCheck::from_decision(&recorded.decision, contact_point)
            }
        };
        let contact_point = match check {
            SendCheck::Send(contact_point) => contact_point,
            SendCheck::Later(due_at, why) => {
                return Ok(NoticeUpdate::Reschedule {
                    due_at,
                    attempts: notice.attempts,
                    error: Some(format!("deferred: {why}")),
                });
            }
            SendCheck::Cancel(why) => {
                return Ok(close(&notice, NoticeStatus::Cancelled, why));
            }
        };
        let Some(courier) = self.couriers.for_channel(notice.request.channel) else {
            let why = match notice.request.channel {
                NoticeChannel::Email => "no SMTP server is configured",
                NoticeChannel::Webhook => "no webhook endpoint is configured",
            };
            return Ok(self.retry(&notice, None, why.into()));
        };
        let delivery = courier
            .deliver(&notice, &account, contact_point.as_deref())
            .await;
        let now = self.clock.now();
        match delivery {
            Delivery::Delivered => Ok(NoticeUpdate::Delivered {
                account_id: notice.account_id.clone(),
                event: Some(sent_event(&notice, contact_point, now)),
            }),
            Delivery::Retry { after, reason } => Ok(self.retry(&notice, after, reason)),
            Delivery::Permanent { reason } => Ok(close(&notice, NoticeStatus::Dead, reason)),
        }
    }

    /// Counts a try by channel and result; a dead letter is also logged (no personal
    /// data: the notice's id, channel, tries and the error, redacted).
    fn observe(&self, notice: &Notice, update: &NoticeUpdate) {
        let channel = match notice.request.channel {
            NoticeChannel::Email => "email",
            NoticeChannel::Webhook => "webhook",
        };
        let result = match update {
            NoticeUpdate::Delivered { .. } => "delivered",
            NoticeUpdate::Reschedule { attempts, .. } if *attempts > notice.attempts => "retry",
            NoticeUpdate::Reschedule { .. } => "deferred",
            NoticeUpdate::Close {
                status: NoticeStatus::Dead,
                attempts,
                error,
            } => {
                tracing::warn!(
                    notice = %notice.id,
                    channel,
                    attempts,
                    error = %crate::redact::redact(error),
                    "a notice is dead-lettered (replay it with POST /v1/notices/{{id}}/retry)"
                );
                "dead"
            }
            NoticeUpdate::Close { .. } => "cancelled",
        };
        self.metrics.observe_delivery(channel, result);
    }

    /// The next try, or the dead letter when the schedule is spent.
    fn retry(&self, notice: &Notice, after: Option<Duration>, reason: String) -> NoticeUpdate {
        let failures = notice.attempts.saturating_add(1);
        match self
            .schedule
            .next_try(failures, self.clock.now(), after, jitter())
        {
            Some(due_at) => NoticeUpdate::Reschedule {
                due_at,
                attempts: failures,
                error: Some(reason),
            },
            None => NoticeUpdate::Close {
                status: NoticeStatus::Dead,
                attempts: failures,
                error: reason,
            },
        }
    }
}

/// A notice closed: cancelled by the policy, or dead after a permanent failure.
fn close(notice: &Notice, status: NoticeStatus, reason: String) -> NoticeUpdate {
    let attempts = if status == NoticeStatus::Dead {
        notice.attempts.saturating_add(1)
    } else {
        notice.attempts
    };
    NoticeUpdate::Close {
        status,
        attempts,
        error: reason,
    }
}

/// The ledger's record of a delivered notice. An email is a contact on the email
/// channel, which the caps count like any other; a webhook reached a vendor or a dialer,
/// not the consumer, and is recorded as delivered (the letter or the call it leads to is
/// recorded when it happens).
fn sent_event(notice: &Notice, contact_point: Option<String>, now: DateTime<Utc>) -> LedgerEvent {
    let email = notice.request.channel == NoticeChannel::Email;
    LedgerEvent {
        at: now,
        event_type: if email {
            LedgerEventType::Contact
        } else {
            LedgerEventType::WebhookDelivered
        },
        channel: email.then_some(crate::domain::Channel::Email),
        outcome: email.then_some(Outcome::Sent),
        initiated_by: crate::domain::InitiatedBy::Collector,
        contact_point: contact_point.filter(|_| email),
        flag: None,
        amount: None,
        notice_id: (!email).then(|| notice.id.clone()),
        webhook_event: notice
            .request
            .event_type
            .filter(|_| !email)
            .map(|event_type| event_type.as_str().to_string()),
        purpose: Some(notice.request.purpose),
        due_on: None,
        installments: Vec::new(),
        attempt_id: None,
    }
}

/// A fraction in `[0, 1)` to spread retries, from the randomness of a v4 UUID.
fn jitter() -> f64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let [first, second, ..] = bytes;
    let value = u16::from_le_bytes([first, second]);
    f64::from(value) / 65_536.0
}

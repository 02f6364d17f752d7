//! The scheduler inside `dunner serve`: every `interval` it walks the stored accounts a
//! page of consumers at a time, plans each consumer's debts under the strategy each
//! follows (with the live policy), and asks the outbox for what falls due within the
//! lookahead — `contact.due` webhooks to the dialer, `notice.requested` webhooks to the
//! letter vendor, email notices, `account.escalated` webhooks — each to leave at its
//! planned instant. The outbox checks the policy again when it queues a notice and
//! before it sends one.
//!
//! The shell: it reads the ledger and the clock, sleeps between ticks, and queues;
//! what to queue is decided by the pure [`due`]. Every notice carries an idempotency key
//! naming its strategy, account, step and day, so a tick run twice — or by two daemons
//! sharing a PostgreSQL ledger — queues it once; a step whose notice still waits in the
//! outbox (the policy deferred it) is not queued again for another day.

pub mod due;

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use rayon::prelude::*;
use tokio::sync::Notify;

pub use crate::strategy::{LoadError, StrategySet};
pub use due::{DueNotice, TickFrame, due_notices};

use crate::clock::Clock;
use crate::domain::partition::{PARTITIONS, partition_of};
use crate::metrics::Metrics;
use crate::reload::LivePolicy;
use crate::store::{PartitionClaim, Store, StoreError};
use crate::strategy::Dispatch;

/// Account ids anchoring one page of consumers.
const PAGE: u32 = 500;

/// Notices asked of the outbox at once (the SQLite writer commits up to 256 in one
/// transaction).
const IN_FLIGHT: usize = 128;

impl StrategySet {
    /// Checks that every email step can be sent: its template is loaded, and renders
    /// with the data the scheduler gives (`[scheduler] email_data`). Every problem is
    /// reported.
    pub fn check_templates(
        &self,
        templates: Option<&crate::dispatch::Templates>,
        email_data: &BTreeMap<String, String>,
    ) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for strategy in self.strategies() {
            for step in &strategy.steps {
                let Dispatch::Email { template } = &step.dispatch else {
                    continue;
                };
                let at = format!("strategy `{}`, step `{}`", strategy.id, step.id);
                let Some(templates) = templates else {
                    problems.push(format!(
                        "{at} sends the email template `{template}`, but no templates are loaded (`[email] templates`)"
                    ));
                    continue;
                };
                let purpose = crate::domain::Purpose::parse(template);
                let Some(purpose) = purpose.filter(|p| templates.has(*p)) else {
                    problems.push(format!(
                        "{at} sends the email template `{template}`, which is not under {}",
                        templates.dir().display()
                    ));
                    continue;
                };
                let mut data = serde_json::Map::new();
                for (name, value) in email_data {
                    data.insert(name.clone(), serde_json::Value::String(value.clone()));
                }
                for name in ["strategy", "step", "planned_at"] {
                    data.insert(name.into(), serde_json::Value::String(String::new()));
                }
                if let Err(error) =
                    templates.check_sample(purpose, &serde_json::Value::Object(data))
                {
                    problems.push(format!(
                        "{at}: the template `{template}` cannot be filled with the data the scheduler gives (add what it needs under [scheduler.email_data]): {error}"
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// What went wrong in a tick; the next tick tries again.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The ledger could not be read.
    #[error("failed to read the ledger: {0}")]
    Store(#[from] StoreError),
    /// The planning task died.
    #[error("the planning task failed: {0}")]
    Planning(#[from] tokio::task::JoinError),
}

/// What a tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Consumers planned.
    pub consumers: usize,
    /// Accounts planned.
    pub accounts: usize,
    /// Notices queued.
    pub queued: usize,
    /// Notices whose key was already used (a repeated tick): nothing queued again.
    pub repeated: usize,
    /// Steps whose notice still waits in the outbox: not asked again.
    pub waiting: usize,
    /// Notices the policy stopped when they were asked for (a hold since the plan).
    pub stopped: usize,
    /// Notices that could not be queued (logged).
    pub failed: usize,
    /// Partitions this daemon claimed and planned (all of them, unless daemons share
    /// the ledger).
    pub partitions: usize,
}

/// One line per tick: at info when it queued or refused something, else at debug (a
/// quiet tick every minute would drown the log).
fn log_tick(report: &TickReport, seconds: f64) {
    macro_rules! tick {
        ($level:ident) => {
            tracing::$level!(
                partitions = report.partitions,
                consumers = report.consumers,
                accounts = report.accounts,
                queued = report.queued,
                repeated = report.repeated,
                waiting = report.waiting,
                stopped = report.stopped,
                failed = report.failed,
                seconds,
                "scheduler tick"
            )
        };
    }
    if report.queued + report.stopped + report.failed > 0 {
        tick!(info);
    } else {
        tick!(debug);
    }
}

/// The scheduler's parts.
#[derive(Clone)]
pub struct Scheduler {
    /// The ledger.
    pub store: Store,
    /// The live policy, read at every tick.
    pub policy: Arc<LivePolicy>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The strategies.
    pub strategies: Arc<StrategySet>,
    /// The time between ticks.
    pub interval: Duration,
    /// How far ahead planned contacts are queued.
    pub lookahead: Duration,
    /// `[scheduler] email_data`.
    pub email_data: Arc<BTreeMap<String, String>>,
    /// Ticks and notices are counted here.
    pub metrics: Arc<Metrics>,
    /// Rung when notices are queued, to wake the outbox worker.
    pub wake: Arc<Notify>,
    /// Who can deliver notices: a notice nobody can deliver is refused (counted as
    /// `failed` and logged), not queued to be retried for a day.
    pub notice_senders: Arc<crate::domain::NoticeSenders>,
    /// This daemon, as its partition claims name it ([`Scheduler::instance_name`]).
    pub owner: Arc<str>,
}

impl Scheduler {
    /// A name for this daemon that no other shares: `pid@host/instance`.
    pub fn instance_name() -> Arc<str> {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        let instance = uuid::Uuid::new_v4().simple().to_string();
        Arc::from(format!(
            "{}@{host}/{}",
            std::process::id(),
            instance.get(..8).unwrap_or(&instance)
        ))
    }

    /// Ticks every `interval` (the first at once) until `shutdown` completes. A tick
    /// cut short by the shutdown is safe: every notice it queued was queued whole, and
    /// the next run queues the rest under the same keys.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let started = tokio::time::Instant::now();
            tokio::select! {
                () = &mut shutdown => return,
                result = self.tick() => {
                    let seconds = started.elapsed().as_secs_f64();
                    match result {
                        Ok(report) => {
                            self.metrics.observe_scheduler_tick(true, seconds, self.clock.now());
                            log_tick(&report, seconds);
                        }
                        Err(error) => {
                            self.metrics.observe_scheduler_tick(false, seconds, self.clock.now());
                            tracing::error!(%error, "the scheduler tick failed; trying again next tick");
                        }
                    }
                }
            }
            // The next tick starts with the next slot, by the clock, so that daemons
            // sharing a ledger tick together and split the partitions between them.
            // Missed slots are not made up (the next tick plans from the ledger as it is).
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.until_next_slot()) => {}
            }
        }
    }

    /// The time from the clock's now to the start of the next slot (a multiple of the
    /// interval since the epoch).
    fn until_next_slot(&self) -> Duration {
        let interval = i64::try_from(self.interval.as_millis())
            .unwrap_or(60_000)
            .max(1);
        let into_slot = self.clock.now().timestamp_millis().rem_euclid(interval);
        Duration::from_millis(u64::try_from(interval - into_slot).unwrap_or(0))
    }

    /// Plans every consumer once and queues what is due before now + lookahead. The
    /// consumers are split into partitions, and each partition is claimed in the ledger
    /// for this tick (its slot: the clock's seconds over the interval) before it is
    /// planned: daemons sharing a ledger and ticking together plan each consumer once
    /// between them, and a partition whose daemon died mid-tick is taken over by another
    /// once its claim is a lease (one interval, at least 5 s) old.
    pub async fn tick(&self) -> Result<TickReport, SchedulerError> {
        let lookahead = TimeDelta::from_std(self.lookahead).unwrap_or(TimeDelta::minutes(5));
        let interval = i64::try_from(self.interval.as_secs()).unwrap_or(60).max(1);
        let lease = TimeDelta::seconds(interval.max(5));
        let policy = self.policy.current();
        let waiting: HashSet<String> = self
            .store
            .pending_notice_keys(due::STEP_KEY_PREFIX)
            .await?
            .iter()
            .filter_map(|key| due::series_of(key).map(str::to_string))
            .collect();
        let mut report = TickReport::default();
        let slot = self.clock.now().timestamp().div_euclid(interval);
        // Daemons ticking at the same moment start at different partitions.
        let first = partition_of(&self.owner);
        for offset in 0..PARTITIONS {
            let claim = PartitionClaim {
                slot,
                partition: (first + offset).rem_euclid(PARTITIONS),
                owner: &self.owner,
            };
            let now = self.clock.now();
            let stale_before = now.checked_sub_signed(lease).unwrap_or(now);
            if !self
                .store
                .claim_partition(&claim, now, stale_before)
                .await?
            {
                continue;
            }
            let consumers = self
                .plan_partition(claim.partition, &policy, &waiting, lookahead, &mut report)
                .await?;
            self.store
                .finish_partition(
                    &claim,
                    i64::try_from(consumers).unwrap_or(i64::MAX),
                    self.clock.now(),
                )
                .await?;
            self.metrics
                .observe_partition_planned(u64::try_from(consumers).unwrap_or(u64::MAX));
            report.partitions += 1;
        }
        // The claims of ticks long past are of no use to anyone.
        self.store.forget_claims_before(slot - 100).await?;
        Ok(report)
    }

    /// Plans the consumers of one partition, a page at a time; how many there were.
    async fn plan_partition(
        &self,
        partition: i64,
        policy: &Arc<crate::policy::Policy>,
        waiting: &HashSet<String>,
        lookahead: TimeDelta,
        report: &mut TickReport,
    ) -> Result<usize, SchedulerError> {
        let mut planned = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .partition_page(Some(partition), after.as_deref(), PAGE)
                .await?;
            // A long tick (a first run over a large portfolio) plans each page from the
            // time it is read.
            let now = self.clock.now();
            let until = now.checked_add_signed(lookahead).unwrap_or(now);
            planned += page.consumers.len();
            report.consumers += page.consumers.len();
            report.accounts += page.consumers.iter().map(Vec::len).sum::<usize>();
            let strategies = Arc::clone(&self.strategies);
            let email_data = Arc::clone(&self.email_data);
            let planning_policy = Arc::clone(policy);
            let consumers = page.consumers;
            // Planning is CPU work: off the async workers, on every core.
            let due: Vec<DueNotice> = tokio::task::spawn_blocking(move || {
                let frame = TickFrame {
                    now,
                    until,
                    email_data: &email_data,
                };
                consumers
                    .par_iter()
                    .flat_map_iter(|debts| {
                        due_notices(&strategies, debts, &planning_policy, &frame)
                    })
                    .collect()
            })
            .await?;
            let (due, known): (Vec<DueNotice>, Vec<DueNotice>) = due
                .into_iter()
                .partition(|notice| notice.series().is_none_or(|s| !waiting.contains(s)));
            report.waiting += known.len();
            self.enqueue(policy, due, report).await;
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(planned),
            }
        }
    }

    /// Asks the outbox for the notices, a few at a time.
    async fn enqueue(
        &self,
        policy: &Arc<crate::policy::Policy>,
        due: Vec<DueNotice>,
        report: &mut TickReport,
    ) {
        let queued_before = report.queued;
        let mut sends = tokio::task::JoinSet::new();
        let mut due = due.into_iter();
        loop {
            while sends.len() < IN_FLIGHT {
                let Some(notice) = due.next() else { break };
                let store = self.store.clone();
                let policy = Arc::clone(policy);
                let shadow = self.policy.shadow();
                let now = self.clock.now();
                let senders = Arc::clone(&self.notice_senders);
                sends.spawn(async move {
                    let enqueued = crate::service::request_notice(
                        &store,
                        &policy,
                        shadow.as_ref(),
                        &senders,
                        &notice.request,
                        Some(&notice.key),
                        now,
                    )
                    .await;
                    (notice, enqueued)
                });
            }
            let Some(done) = sends.join_next().await else {
                break;
            };
            if let Ok((_, Ok(enqueued))) = &done
                && let Some(divergence) = &enqueued.shadow
            {
                self.metrics.observe_shadow_divergence(divergence);
            }
            let (notice, enqueued) = match done {
                Ok(done) => done,
                Err(error) => {
                    report.failed += 1;
                    tracing::error!(%error, "a scheduler enqueue task failed");
                    continue;
                }
            };
            let outcome = match enqueued {
                Ok(enqueued) if enqueued.replayed => {
                    report.repeated += 1;
                    "repeated"
                }
                Ok(enqueued) if enqueued.notice.is_some() => {
                    report.queued += 1;
                    "queued"
                }
                Ok(enqueued) => {
                    report.stopped += 1;
                    let rules: Vec<&str> = enqueued
                        .decision
                        .iter()
                        .flat_map(|d| d.reasons.iter().map(|r| &*r.rule))
                        .collect();
                    tracing::debug!(key = %crate::logging::redact(&notice.key), ?rules, "the policy stopped a scheduled notice");
                    "stopped"
                }
                Err(error) => {
                    report.failed += 1;
                    let error = crate::logging::redact(&error.to_string()).into_owned();
                    tracing::warn!(%error, key = %crate::logging::redact(&notice.key), "a scheduled notice could not be queued");
                    "failed"
                }
            };
            self.metrics.observe_scheduled(notice.kind, outcome);
        }
        if report.queued > queued_before {
            self.wake.notify_one();
        }
    }
}

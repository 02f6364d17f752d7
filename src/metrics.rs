//! The daemon's counters, in the OpenMetrics text format Prometheus scrapes: requests
//! by route, decisions by outcome and refusing rule, recorded attempts, policy reloads,
//! scheduler ticks and the notices they queue, the outbox's tries and dead letters, and
//! the outbox's gauges (read from the ledger when scraped).
//!
//! One [`Metrics`] value per app (no process-global recorder, so every app a test
//! builds counts on its own), shared by the HTTP layer (`GET /metrics`, the request
//! layer) and the scheduler. No label holds personal data or an account id.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::engine::Decision;
use crate::reload::LivePolicy;

/// Upper bounds (seconds) of the request duration buckets: 0.5 ms to 10 s.
const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Cow<'static, str>,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: Cow<'static, str>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    rule: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DivergenceLabels {
    rule: String,
    direction: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScheduledLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboxLabels {
    state: &'static str,
    channel: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: &'static str,
}

/// Upper bounds (seconds) of the scheduler tick duration buckets: 10 ms to 5 min.
const TICK_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0];

type DurationFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The daemon's metrics and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: DurationFamily,
    decisions: Family<OutcomeLabels, Counter>,
    refusals: Family<RuleLabels, Counter>,
    shadow_divergences: Family<DivergenceLabels, Counter>,
    attempts_recorded: Counter,
    scheduler_ticks: Family<ReloadLabels, Counter>,
    scheduler_tick_durations: Histogram,
    scheduled: Family<ScheduledLabels, Counter>,
    scheduler_partitions: Counter,
    scheduler_consumers: Counter,
    /// When the last tick ended, by the daemon's clock, and whether it succeeded.
    last_scheduler_tick: std::sync::Mutex<Option<(chrono::DateTime<chrono::Utc>, bool)>>,
    outbox_notices: Family<OutboxLabels, Gauge>,
    outbox_oldest_due_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    outbox_deliveries: Family<DeliveryLabels, Counter>,
    outbox_dead_letters: Family<ChannelLabels, Counter>,
    history_cache_rows: Gauge,
}

impl Metrics {
    /// Registers every metric; policy reloads are read from `policy` at scrape time.
    pub fn new(policy: &Arc<LivePolicy>) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "dunner_http_requests",
            "HTTP requests by method, matched route template and status",
            requests.clone(),
        );
        let durations: DurationFamily =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        registry.register_with_unit(
            "dunner_http_request_duration",
            "Time from receiving a request to its response, by method and route",
            Unit::Seconds,
            durations.clone(),
        );
        let decisions = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "dunner_decisions",
            "Decisions made through the API (evaluate, decisions, attempts) by outcome",
            decisions.clone(),
        );
        let refusals = Family::<RuleLabels, Counter>::default();
        registry.register(
            "dunner_decisions_refused",
            "Refusing rules of the decisions made through the API, by rule id",
            refusals.clone(),
        );
        let shadow_divergences = Family::<DivergenceLabels, Counter>::default();
        registry.register(
            "dunner_shadow_divergences",
            "Decisions where the shadow policy ([rules] shadow) differed from the live one, by differing rule and direction",
            shadow_divergences.clone(),
        );
        let attempts_recorded = Counter::default();
        registry.register(
            "dunner_attempts_recorded",
            "Contact attempts recorded in the ledger (201 from POST …/attempts)",
            attempts_recorded.clone(),
        );
        registry.register(
            "dunner_policy_reloads",
            "Rule reloads by result: ok (swapped) or error (refused, old policy kept)",
            Reloads(Arc::clone(policy)),
        );
        // The scheduler's (zero while it is off).
        let scheduler_ticks = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "dunner_scheduler_ticks",
            "Scheduler ticks by result: ok, or error (the next tick tries again)",
            scheduler_ticks.clone(),
        );
        let scheduler_tick_durations = Histogram::new(TICK_BUCKETS);
        registry.register_with_unit(
            "dunner_scheduler_tick_duration",
            "Time a scheduler tick took to plan every consumer and queue what is due",
            Unit::Seconds,
            scheduler_tick_durations.clone(),
        );
        let scheduled = Family::<ScheduledLabels, Counter>::default();
        registry.register(
            "dunner_scheduler_notices",
            "Notices the scheduler asked the outbox for, by kind (contact.due, notice.requested, email, account.escalated) and outcome (queued; repeated: already queued under its key; stopped by the policy; failed)",
            scheduled.clone(),
        );
        let scheduler_partitions = Counter::default();
        registry.register(
            "dunner_scheduler_partitions_planned",
            "Scheduler partitions this daemon claimed and planned (daemons sharing a ledger split each tick's partitions between them)",
            scheduler_partitions.clone(),
        );
        let scheduler_consumers = Counter::default();
        registry.register(
            "dunner_scheduler_consumers_planned",
            "Consumers this daemon planned; across the daemons sharing a ledger, each consumer once per tick",
            scheduler_consumers.clone(),
        );
        // The outbox's: gauges read from the ledger at scrape time (they hold across
        // every daemon sharing a PostgreSQL ledger), counters kept by this daemon's worker.
        let outbox_notices = Family::<OutboxLabels, Gauge>::default();
        registry.register(
            "dunner_outbox_notices",
            "Notices in the outbox by state (due: waiting for a worker; leased: being sent; dead: dead letters) and channel, read from the ledger at scrape time",
            outbox_notices.clone(),
        );
        let outbox_oldest_due_age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register_with_unit(
            "dunner_outbox_oldest_due_age",
            "How long the oldest due, undelivered notice has been due (0 when none is)",
            Unit::Seconds,
            outbox_oldest_due_age.clone(),
        );
        let history_cache_rows = Gauge::default();
        registry.register(
            "dunner_ledger_history_cache_rows",
            "The history rows the ledger's writers keep after their last group of attempts (at most `[database] history_cache_rows`; an attempt on a debtor they keep reads no history)",
            history_cache_rows.clone(),
        );
        let outbox_deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "dunner_outbox_deliveries",
            "Tries of the outbox worker by channel and result (delivered, retry, deferred by the policy, cancelled by the policy, dead)",
            outbox_deliveries.clone(),
        );
        let outbox_dead_letters = Family::<ChannelLabels, Counter>::default();
        registry.register(
            "dunner_outbox_dead_letters",
            "Notices dead-lettered by this daemon's worker, by channel",
            outbox_dead_letters.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            decisions,
            refusals,
            shadow_divergences,
            attempts_recorded,
            scheduler_ticks,
            scheduler_tick_durations,
            scheduled,
            scheduler_partitions,
            scheduler_consumers,
            last_scheduler_tick: std::sync::Mutex::default(),
            outbox_notices,
            outbox_oldest_due_age,
            outbox_deliveries,
            outbox_dead_letters,
            history_cache_rows,
        }
    }

    /// Counts a decision by outcome and each of its refusing rules.
    pub fn observe_decision(&self, decision: &Decision) {
        let outcome = decision.outcome.as_str();
        self.decisions
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        for reason in &decision.reasons {
            self.refusals
                .get_or_create(&RuleLabels {
                    rule: reason.rule.to_string(),
                })
                .inc();
        }
    }

    /// Counts a shadow divergence under each rule it differs by (`shadow_refuses`,
    /// `shadow_allows` or `rules_differ`).
    pub fn observe_shadow_divergence(&self, divergence: &crate::service::shadow::Divergence) {
        for rule in divergence.rules() {
            self.shadow_divergences
                .get_or_create(&DivergenceLabels {
                    rule: rule.to_string(),
                    direction: divergence.direction.as_str(),
                })
                .inc();
        }
    }

    /// Counts an attempt written to the ledger.
    pub fn observe_attempt_recorded(&self) {
        self.attempts_recorded.inc();
    }

    /// Counts a scheduler tick and its duration, ended at `at`.
    pub fn observe_scheduler_tick(
        &self,
        ok: bool,
        seconds: f64,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        if let Ok(mut last) = self.last_scheduler_tick.lock() {
            *last = Some((at, ok));
        }
        let result = if ok { "ok" } else { "error" };
        self.scheduler_ticks
            .get_or_create(&ReloadLabels { result })
            .inc();
        self.scheduler_tick_durations.observe(seconds);
    }

    /// When the last scheduler tick ended and whether it succeeded, for the console.
    pub fn last_scheduler_tick(&self) -> Option<(chrono::DateTime<chrono::Utc>, bool)> {
        self.last_scheduler_tick.lock().ok().and_then(|last| *last)
    }

    /// Scheduler ticks since the daemon started: (ok, failed), for the console.
    pub fn scheduler_tick_counts(&self) -> (u64, u64) {
        let count = |result| {
            self.scheduler_ticks
                .get_or_create(&ReloadLabels { result })
                .get()
        };
        (count("ok"), count("error"))
    }

    /// Counts a partition this daemon planned and the consumers it held.
    pub fn observe_partition_planned(&self, consumers: u64) {
        self.scheduler_partitions.inc();
        self.scheduler_consumers.inc_by(consumers);
    }

    /// Counts a notice the scheduler asked for, by kind and outcome.
    pub fn observe_scheduled(&self, kind: &'static str, outcome: &'static str) {
        self.scheduled
            .get_or_create(&ScheduledLabels { kind, outcome })
            .inc();
    }

    /// Sets the outbox gauges from the ledger's counts at `now`.
    pub fn set_outbox_gauges(
        &self,
        gauges: &crate::store::OutboxGauges,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        // A channel with no notice left drops out rather than keeping its last value.
        self.outbox_notices.clear();
        for counts in &gauges.by_channel {
            for (state, value) in [
                ("due", counts.due),
                ("leased", counts.leased),
                ("dead", counts.dead),
            ] {
                self.outbox_notices
                    .get_or_create(&OutboxLabels {
                        state,
                        channel: counts.channel.clone(),
                    })
                    .set(value);
            }
        }
        let age = gauges.oldest_due.map_or(0.0, |due| {
            (now - due).num_milliseconds().max(0) as f64 / 1000.0
        });
        self.outbox_oldest_due_age.set(age);
    }

    /// Sets how many history rows the SQLite ledger's writer holds.
    pub fn set_history_cache_rows(&self, rows: usize) {
        self.history_cache_rows
            .set(i64::try_from(rows).unwrap_or(i64::MAX));
    }

    /// Counts one try of the outbox worker.
    pub fn observe_delivery(&self, channel: &'static str, result: &'static str) {
        self.outbox_deliveries
            .get_or_create(&DeliveryLabels { channel, result })
            .inc();
        if result == "dead" {
            self.outbox_dead_letters
                .get_or_create(&ChannelLabels { channel })
                .inc();
        }
    }

    /// Counts and times a request by method, matched route template and status.
    pub fn observe_request(
        &self,
        method: &'static str,
        route: Cow<'static, str>,
        status: StatusCode,
        started: Instant,
    ) {
        let seconds = started.elapsed().as_secs_f64();
        self.durations
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status: status.as_u16(),
            })
            .inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The reload counters of the live policy, encoded as a counter family.
#[derive(Debug)]
struct Reloads(Arc<LivePolicy>);

impl EncodeMetric for Reloads {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let counts = self.0.reload_counts();
        for (result, count) in [("ok", counts.succeeded), ("error", counts.failed)] {
            encoder
                .encode_family(&ReloadLabels { result })?
                .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&count, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

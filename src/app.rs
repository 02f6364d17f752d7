//! The daemon as a library, and its composition root: [`App::build`] turns a
//! configuration and a clock into a bound server with its background tasks (the outbox
//! worker, the scheduler, the rule watcher), and [`App::run_until_stopped`] serves until
//! told to stop, then drains everything under one cancellation token. `dunner serve`
//! only turns flags into a configuration and calls these; the tests spawn the same
//! daemon on port 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::dispatch::templates::Templates;
use crate::dispatch::{Courier, Couriers};
use crate::http::{AppState, Metrics, Server, SharedState};
use crate::logging::redact;
use crate::outbox::Outbox;
use crate::policy::diagnostics::Diagnostic;
use crate::policy::{Policy, PolicyError};
use crate::reload::LivePolicy;
use crate::scheduler::{LoadError, Scheduler, StrategySet};
use crate::store::{Store, StoreError};
use crate::strategy::StrategyError;
use crate::tasks::{TaskHealth, supervise};

/// Why the daemon does not start. Each names the setting or file at fault; the
/// diagnostics of invalid rule packs and strategies come with them.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The rule packs do not compile.
    #[error("the rule packs in {} are invalid; no decision can be made", dir.display())]
    InvalidRules {
        /// The rules directory.
        dir: PathBuf,
        /// What is wrong, where.
        diagnostics: Vec<Diagnostic>,
    },
    /// A pack the configuration requires is missing.
    #[error("{0}; the daemon does not start")]
    MissingPack(String),
    /// The rules could not be read.
    #[error("{0}")]
    Rules(PolicyError),
    /// The scheduler is enabled without strategies.
    #[error(
        "the scheduler is enabled but `[scheduler] strategies` names no strategy file (e.g. strategies = [\"strategies/standard-consumer.toml\"])"
    )]
    NoStrategies,
    /// A strategy file does not compile.
    #[error("the strategy {} is invalid; the daemon does not start", path.display())]
    InvalidStrategy {
        /// The file.
        path: PathBuf,
        /// What is wrong, where.
        diagnostics: Vec<Diagnostic>,
    },
    /// The strategies could not be read.
    #[error("{0}")]
    Strategies(LoadError),
    /// Email steps of the strategies name templates that cannot be sent.
    #[error("the strategies' email steps cannot be sent; the scheduler does not start")]
    StrategyTemplates(Vec<String>),
    /// The email templates are invalid (a template without the opt-out line).
    #[error("{0}")]
    Templates(String),
    /// The ledger cannot be opened or migrated.
    #[error("failed to open the ledger: {0}")]
    Store(#[from] StoreError),
    /// A courier cannot be set up (an SMTP relay's TLS settings, …).
    #[error("{0}")]
    Courier(String),
    /// `[audit] signing_key` cannot be used.
    #[error("[audit] signing_key: {0}")]
    SigningKey(String),
    /// The address cannot be bound.
    #[error("failed to listen on {address}: {error}")]
    Bind {
        /// The configured address.
        address: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
}

impl BuildError {
    /// Whether the daemon stops because of what a compliance officer edits (rules,
    /// strategies, templates) rather than the machine: the CLI exits with its own code.
    pub fn is_invalid_rules(&self) -> bool {
        matches!(
            self,
            BuildError::InvalidRules { .. }
                | BuildError::MissingPack(_)
                | BuildError::InvalidStrategy { .. }
                | BuildError::StrategyTemplates(_)
                | BuildError::Templates(_)
        )
    }

    /// The diagnostics that come with the error, to show before it.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            BuildError::InvalidRules { diagnostics, .. }
            | BuildError::InvalidStrategy { diagnostics, .. } => diagnostics,
            _ => &[],
        }
    }
}

/// The daemon, built and bound, not yet serving.
pub struct App {
    server: Server,
    state: AppState,
    outbox: Outbox,
    scheduler: Option<Scheduler>,
    rules_dir: PathBuf,
    /// How often a global checkpoint of the hash chains is taken (zero: never).
    checkpoint_interval: std::time::Duration,
    /// The key that signs each checkpoint, if any.
    signer: Option<Arc<crate::audit::signing::Signer>>,
}

impl App {
    /// Loads the policy (refusing an invalid one, or one without the required packs),
    /// opens the ledger (migrating an embedded SQLite file, or with `migrate`), checks
    /// the strategies and templates, and binds the listener.
    pub async fn build(
        config: &Config,
        clock: Arc<dyn Clock>,
        migrate: bool,
    ) -> Result<App, BuildError> {
        let rules_dir = config.rules.dir.clone();
        let settings = config.rules.settings();
        let policy = match Policy::load_with(&rules_dir, &settings) {
            Ok(policy) => policy,
            Err(PolicyError::Invalid(diagnostics)) => {
                return Err(BuildError::InvalidRules {
                    dir: rules_dir,
                    diagnostics,
                });
            }
            Err(error) => return Err(BuildError::Rules(error)),
        };
        if let Some(problem) =
            crate::reload::missing_required(&policy, &config.rules.required_packs)
        {
            return Err(BuildError::MissingPack(problem));
        }
        let mut live = LivePolicy::new(&rules_dir, policy, clock.now())
            .with_settings(settings.clone())
            .with_safeguards(&config.rules.required_packs, config.rules.settle);
        // A shadow that does not validate at start stops the daemon like invalid rules:
        // the operator asked for a comparison that would silently not happen.
        if let Some(dir) = &config.rules.shadow {
            let shadow = match Policy::load_with(dir, &settings) {
                Ok(shadow) => shadow,
                Err(PolicyError::Invalid(diagnostics)) => {
                    return Err(BuildError::InvalidRules {
                        dir: dir.clone(),
                        diagnostics,
                    });
                }
                Err(error) => return Err(BuildError::Rules(error)),
            };
            tracing::info!(dir = %dir.display(), digest = %shadow.digest(), "a shadow policy decides beside the live one");
            live = live.with_shadow(dir, shadow);
        }
        let policy = Arc::new(live);
        let strategies = Arc::new(strategies(config)?);
        let store =
            Store::open_with(&config.database.url, &config.database.store_options()).await?;
        if migrate || matches!(store, Store::Sqlite(_)) {
            store.migrate().await?;
        }
        store.ensure_migrated().await?;
        let released = store.release_stale_leases().await?;
        if released > 0 {
            tracing::warn!(
                released,
                "notices being sent when the last run stopped go out again"
            );
        }
        let (couriers, templates) = couriers(config, &clock)?;
        if config.scheduler.enabled {
            strategies
                .check_templates(templates.as_deref(), &config.scheduler.email_data)
                .map_err(BuildError::StrategyTemplates)?;
            warn_about_receivers(config, &strategies);
        }
        let notice_senders = Arc::new(crate::domain::NoticeSenders {
            email_templates: couriers
                .email
                .as_ref()
                .and(templates.as_ref())
                .map(|templates| templates.purposes().to_vec()),
            webhooks: couriers.webhook.is_some(),
        });
        let notices_wake = Arc::new(tokio::sync::Notify::new());
        let metrics = Arc::new(Metrics::new(&policy));
        let outbox = Outbox {
            store: store.clone(),
            policy: Arc::clone(&policy),
            clock: Arc::clone(&clock),
            schedule: config.outbox.schedule(),
            couriers,
            wake: Arc::clone(&notices_wake),
            metrics: Arc::clone(&metrics),
        };
        let scheduler = config.scheduler.enabled.then(|| Scheduler {
            store: store.clone(),
            policy: Arc::clone(&policy),
            clock: Arc::clone(&clock),
            strategies: Arc::clone(&strategies),
            interval: config.scheduler.interval,
            lookahead: config.scheduler.lookahead,
            email_data: Arc::new(config.scheduler.email_data.clone()),
            metrics: Arc::clone(&metrics),
            wake: Arc::clone(&notices_wake),
            notice_senders: Arc::clone(&notice_senders),
            owner: Scheduler::instance_name(),
        });
        let state = AppState::new(SharedState {
            store,
            policy,
            clock,
            open_evaluate: config.server.open_evaluate,
            config_keys: config.keys.clone().into(),
            key_cache: Arc::default(),
            metrics,
            notices_wake,
            notice_senders,
            strategies,
            tasks: Arc::new(TaskHealth::default()),
            idempotency_retention: config.server.idempotency_retention,
            outcome_grace: config.server.outcome_grace,
            retention: Arc::new(config.retention.clone()),
        });
        let address = config.server.listen;
        let console = crate::console::routes(crate::console::Settings {
            session_ttl: config.server.console_session_ttl,
            secure_cookie: config.server.console_secure_cookie,
        });
        let server = Server::bind_with(address, state.clone(), console)
            .await
            .map_err(|error| BuildError::Bind { address, error })?;
        let signer = config
            .audit
            .signing_key
            .as_deref()
            .map(crate::audit::signing::Signer::load)
            .transpose()
            .map_err(|error| BuildError::SigningKey(error.to_string()))?
            .map(Arc::new);
        Ok(App {
            server,
            state,
            outbox,
            scheduler,
            rules_dir,
            checkpoint_interval: config.audit.checkpoint_interval,
            signer,
        })
    }

    /// The bound address (port 0 picks a free port).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// What the handlers share: the ledger, the live policy, the clock.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains: the server finishes its
    /// in-flight requests, then one cancellation stops the outbox worker (finishing
    /// the notices it is sending), the scheduler (a tick cut short is safe) and the
    /// rule watcher, and this returns when all of them have.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let App {
            server,
            state,
            outbox,
            scheduler,
            rules_dir,
            checkpoint_interval,
            signer,
        } = self;
        let stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        let tasks = Arc::clone(&state.tasks);
        let token = stop.clone();
        tracker.spawn(supervise("outbox worker", Arc::clone(&tasks), move || {
            outbox.clone().run(token.clone().cancelled_owned())
        }));
        if let Some(scheduler) = scheduler {
            tracing::info!(
                strategies = scheduler.strategies.strategies().len(),
                interval = ?scheduler.interval,
                "the scheduler is on"
            );
            let token = stop.clone();
            tracker.spawn(supervise("scheduler", Arc::clone(&tasks), move || {
                scheduler.clone().run(token.clone().cancelled_owned())
            }));
        }
        if !checkpoint_interval.is_zero() {
            spawn_checkpoints(&tracker, &stop, &state, checkpoint_interval, signer);
        }
        // Reloads run on SIGHUP and when a file under the rules directory changes.
        spawn_reload_on_signals(&tracker, &stop, &state.policy);
        let watcher = match watch_rules(&tracker, &stop, &state.policy, &rules_dir, false) {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                tracing::warn!(%error, "cannot watch the rules directory; reload with SIGHUP");
                None
            }
        };
        let shadow_watcher = state.policy.shadow_dir().map(std::path::Path::to_path_buf).and_then(|dir| {
            match watch_rules(&tracker, &stop, &state.policy, &dir, true) {
                Ok(watcher) => Some(watcher),
                Err(error) => {
                    tracing::warn!(%error, "cannot watch the shadow rules directory; reload with SIGHUP");
                    None
                }
            }
        });
        let served = server.run_until(shutdown).await;
        stop.cancel();
        tracker.close();
        tracker.wait().await;
        drop(watcher);
        drop(shadow_watcher);
        served
    }
}

/// Takes a global checkpoint of the hash chains every `interval` (the first one
/// `interval` after the start), until stopped. A failed checkpoint is logged and tried
/// again at the next interval: it never stops the daemon.
fn spawn_checkpoints(
    tracker: &TaskTracker,
    stop: &CancellationToken,
    state: &AppState,
    interval: std::time::Duration,
    signer: Option<Arc<crate::audit::signing::Signer>>,
) {
    let stop = stop.clone();
    let store = state.store.clone();
    let clock = Arc::clone(&state.clock);
    tracker.spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            let taken = store.take_checkpoint(clock.now()).await;
            let signed = match (taken, &signer) {
                (Ok(checkpoint), Some(signer)) => {
                    let signature = signer.sign(checkpoint.hash.as_bytes());
                    store
                        .sign_checkpoint(checkpoint.seq, &signature)
                        .await
                        .map(|()| checkpoint)
                }
                (taken, _) => taken,
            };
            match signed {
                Ok(checkpoint) => tracing::info!(
                    seq = checkpoint.seq,
                    accounts = checkpoint.accounts,
                    entries = checkpoint.entries,
                    hash = %checkpoint.hash,
                    "took a checkpoint of the hash chains"
                ),
                Err(error) => {
                    tracing::error!(%error, "failed to take a checkpoint of the hash chains");
                }
            }
        }
    });
}

/// The strategies of `[scheduler] strategies`, loaded and checked.
fn strategies(config: &Config) -> Result<StrategySet, BuildError> {
    let scheduler = &config.scheduler;
    if scheduler.enabled && scheduler.strategies.is_empty() {
        return Err(BuildError::NoStrategies);
    }
    match StrategySet::load(&scheduler.strategies, scheduler.enabled) {
        Ok(set) => Ok(set),
        Err(LoadError::Strategy {
            path,
            error: StrategyError::Invalid(diagnostics),
        }) => Err(BuildError::InvalidStrategy { path, diagnostics }),
        Err(error) => Err(BuildError::Strategies(error)),
    }
}

/// Warns when the scheduler would queue notices nobody receives: a webhook event no
/// endpoint subscribes to, emails without `[smtp]`.
fn warn_about_receivers(config: &Config, strategies: &StrategySet) {
    use crate::strategy::Dispatch;
    let mut events: Vec<&str> = Vec::new();
    let mut emails = false;
    for strategy in strategies.strategies() {
        for step in &strategy.steps {
            match &step.dispatch {
                Dispatch::Webhook { event } => events.push(event),
                Dispatch::Email { .. } => emails = true,
            }
        }
        if !strategy.escalations.is_empty() {
            events.push(crate::planner::ESCALATION_EVENT);
        }
    }
    events.sort_unstable();
    events.dedup();
    for event in events {
        let subscribed = config.webhooks.iter().any(|endpoint| {
            endpoint
                .event_types
                .iter()
                .any(|event_type| event_type.as_str() == event)
        });
        if !subscribed {
            tracing::warn!(
                event,
                "no [[webhooks]] endpoint subscribes to this event: the scheduler's notices of it will be dead-lettered"
            );
        }
    }
    if emails && config.smtp.is_none() {
        tracing::warn!(
            "the strategies send emails but [smtp] is not configured: the scheduler's emails will wait in the outbox and be dead-lettered"
        );
    }
}

/// The email courier (when `[smtp]` is configured) and the webhook courier (when
/// endpoints are), and the templates. Templates are loaded and checked whenever their
/// directory exists: a template without the opt-out line stops the daemon here, not at
/// send time.
fn couriers(
    config: &Config,
    clock: &Arc<dyn Clock>,
) -> Result<(Couriers, Option<Arc<Templates>>), BuildError> {
    use crate::dispatch::couriers::{EmailCourier, WebhookCourier};
    use crate::dispatch::email::EmailSender;
    use crate::dispatch::templates::Sender;
    use crate::dispatch::webhook::WebhookSender;

    let dir = &config.email.templates;
    let templates = if dir.is_dir() || config.smtp.is_some() {
        let sender = Sender::from_config(&config.email, &config.agency);
        let templates = Templates::load(dir, &sender)
            .map_err(|error| BuildError::Templates(error.to_string()))?;
        Some(Arc::new(templates))
    } else {
        None
    };
    let email: Option<Arc<dyn Courier>> = match (config.smtp.as_ref(), templates.clone()) {
        (Some(smtp), Some(templates)) => {
            let sender =
                EmailSender::new(smtp).map_err(|error| BuildError::Courier(error.to_string()))?;
            Some(Arc::new(EmailCourier { sender, templates }))
        }
        _ => None,
    };
    let webhook: Option<Arc<dyn Courier>> = if config.webhooks.is_empty() {
        None
    } else {
        let sender =
            WebhookSender::new().map_err(|error| BuildError::Courier(error.to_string()))?;
        Some(Arc::new(WebhookCourier {
            sender,
            endpoints: config.webhooks.clone().into(),
            clock: Arc::clone(clock),
        }))
    };
    Ok((Couriers { email, webhook }, templates))
}

/// Reloads the policy and logs the outcome; a refused reload keeps the old policy. The
/// reload waits for the directory to settle, so it runs on a blocking thread.
async fn reload(policy: &Arc<LivePolicy>) {
    let live = Arc::clone(policy);
    let outcome = tokio::task::spawn_blocking(move || live.reload(SystemClock.now()))
        .await
        .unwrap_or_else(|error| Err(format!("the reload failed: {error}")));
    log_reload(outcome);
}

/// Reloads the shadow policy and logs the outcome; a refused reload keeps the previous
/// shadow, and the live policy is never touched.
async fn reload_shadow(policy: &Arc<LivePolicy>) {
    if policy.shadow_dir().is_none() {
        return;
    }
    let live = Arc::clone(policy);
    let outcome = tokio::task::spawn_blocking(move || live.reload_shadow())
        .await
        .unwrap_or_else(|error| Err(format!("the shadow reload failed: {error}")));
    match outcome {
        Ok(digest) => tracing::info!(%digest, "shadow rules reloaded"),
        Err(diagnostics) => {
            let diagnostics = redact(&diagnostics);
            tracing::error!(%diagnostics, "shadow rules reload refused; keeping the current shadow")
        }
    }
}

/// Logs how a reload ended.
fn log_reload(outcome: Result<String, String>) {
    match outcome {
        Ok(digest) => tracing::info!(%digest, "rules reloaded"),
        Err(diagnostics) => {
            // Rule texts are not personal data, but a diagnostic quotes source lines.
            let diagnostics = redact(&diagnostics);
            tracing::error!(%diagnostics, "rules reload refused; keeping the current policy")
        }
    }
}

/// SIGHUP reloads the rules; SIGUSR1 confirms the loosening the last reload refused.
#[cfg(unix)]
fn spawn_reload_on_signals(
    tracker: &TaskTracker,
    stop: &CancellationToken,
    policy: &Arc<LivePolicy>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(mut hangups) => {
            let policy = Arc::clone(policy);
            let stop = stop.clone();
            tracker.spawn(async move {
                while stop
                    .run_until_cancelled(hangups.recv())
                    .await
                    .flatten()
                    .is_some()
                {
                    reload(&policy).await;
                    reload_shadow(&policy).await;
                }
            });
        }
        Err(error) => tracing::warn!(%error, "cannot listen for SIGHUP"),
    }
    match signal(SignalKind::user_defined1()) {
        Ok(mut confirmations) => {
            let policy = Arc::clone(policy);
            let stop = stop.clone();
            tracker.spawn(async move {
                while stop
                    .run_until_cancelled(confirmations.recv())
                    .await
                    .flatten()
                    .is_some()
                {
                    let live = Arc::clone(&policy);
                    let outcome = tokio::task::spawn_blocking(move || {
                        live.confirm_loosening(SystemClock.now())
                    })
                    .await
                    .unwrap_or_else(|error| Err(format!("the reload failed: {error}")));
                    log_reload(outcome);
                }
            });
        }
        Err(error) => tracing::warn!(%error, "cannot listen for SIGUSR1"),
    }
}

#[cfg(not(unix))]
fn spawn_reload_on_signals(
    _tracker: &TaskTracker,
    _stop: &CancellationToken,
    _policy: &Arc<LivePolicy>,
) {
}

type RulesWatcher = notify_debouncer_full::Debouncer<
    notify::RecommendedWatcher,
    notify_debouncer_full::RecommendedCache,
>;

/// Watches the rules directory (or, with `shadow`, the shadow's); changes (not mere
/// reads) settle for 300 ms before a reload.
fn watch_rules(
    tracker: &TaskTracker,
    stop: &CancellationToken,
    policy: &Arc<LivePolicy>,
    dir: &std::path::Path,
    shadow: bool,
) -> Result<RulesWatcher, notify::Error> {
    let (changed, mut changes) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut debouncer = notify_debouncer_full::new_debouncer(
        std::time::Duration::from_millis(300),
        None,
        move |result: notify_debouncer_full::DebounceEventResult| {
            // Reading the packs raises access events too, and a reload reads them:
            // only changes count, or every reload would schedule the next.
            if let Ok(events) = result
                && events.iter().any(|event| !event.kind.is_access())
            {
                let _ = changed.send(());
            }
        },
    )?;
    debouncer.watch(dir, notify::RecursiveMode::NonRecursive)?;
    let policy = Arc::clone(policy);
    let stop = stop.clone();
    tracker.spawn(async move {
        while stop
            .run_until_cancelled(changes.recv())
            .await
            .flatten()
            .is_some()
        {
            if shadow {
                reload_shadow(&policy).await;
            } else {
                reload(&policy).await;
            }
        }
    });
    Ok(debouncer)
}

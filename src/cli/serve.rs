//! `dunner serve`: the daemon. Reads the configuration (defaults ← `dunner.toml` ←
//! `DUNNER_*` ← these flags; refusing to start on an error in it), loads the policy
//! (refusing to start without a valid one), opens the ledger, serves the API until
//! Ctrl-C or SIGTERM, then drains.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Exit, fail};
use crate::clock::{Clock, OffsetClock, SystemClock};
use crate::config::{Config, LogFormat};
use crate::dispatch::outbox::{Couriers, Outbox};
use crate::http::{App, AppState, Metrics};
use crate::logging::{init_logging, redact};
use crate::reload::LivePolicy;
use crate::scheduler::{Scheduler, StrategySet};
use crate::store::Store;

/// Arguments of `dunner serve`. Each flag overrides the configuration file and the
/// `DUNNER_*` environment (see `dunner config show`).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The ledger: `sqlite://PATH` (created and migrated if missing) or `postgres://…`
    /// [default: `sqlite://dunner.db`; `database.url`, `DUNNER_DATABASE_URL`].
    #[arg(long = "database")]
    pub database: Option<String>,
    /// The rules directory [default: `rules`; `rules.dir`, `DUNNER_RULES`].
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Where to listen; port 0 picks a free port (the address is printed)
    /// [default: 127.0.0.1:8080; `server.listen`, `DUNNER_LISTEN`].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Apply migrations before serving (always done for the embedded SQLite ledger).
    #[arg(long)]
    pub migrate: bool,
    /// Leave `POST /v1/evaluate` open without an API key, for local use only
    /// [`server.open_evaluate`, `DUNNER_OPEN_EVALUATE`].
    #[arg(long)]
    pub open_evaluate: bool,
    /// Log format [default: text; `log.format`, `DUNNER_LOG_FORMAT`].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
}

impl ServeArgs {
    /// The configuration with the flags given on the command line laid on top.
    fn apply(&self, mut config: Config) -> Config {
        if let Some(database) = &self.database {
            config.database.url.clone_from(database);
        }
        if let Some(rules) = &self.rules {
            config.rules.dir.clone_from(rules);
        }
        if let Some(listen) = self.listen {
            config.server.listen = listen;
        }
        if self.open_evaluate {
            config.server.open_evaluate = true;
        }
        if let Some(format) = self.log_format {
            config.log.format = format;
        }
        config
    }
}

pub fn run(args: &ServeArgs, config_file: Option<&Path>) -> Exit {
    let config = match super::load_config(config_file) {
        Ok(loaded) => args.apply(loaded.config),
        Err(exit) => return exit,
    };
    init_logging(&config.log, super::stderr_is_terminal());
    let clock = match clock() {
        Ok(clock) => clock,
        Err(exit) => return exit,
    };
    let rules = &config.rules.dir;
    let settings = config.rules.settings();
    let policy = match super::rules::load_or_report_with(rules, &settings) {
        Ok(policy) => policy,
        Err(exit) => return exit,
    };
    if let Some(problem) = crate::reload::missing_required(&policy, &config.rules.required_packs) {
        return fail(
            Exit::InvalidRules,
            format!("{problem}; the daemon does not start"),
        );
    }
    let policy = Arc::new(
        LivePolicy::new(rules, policy, clock.now())
            .with_settings(settings)
            .with_safeguards(&config.rules.required_packs, config.rules.settle),
    );
    let strategies = match strategies(&config) {
        Ok(strategies) => Arc::new(strategies),
        Err(exit) => return exit,
    };
    let runtime = match super::runtime(true) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    runtime.block_on(async {
        let store = match Store::open(&config.database.url).await {
            Ok(store) => store,
            Err(error) => {
                return fail(Exit::Failure, format!("failed to open the ledger: {error}"));
            }
        };
        if (args.migrate || matches!(store, Store::Sqlite(_)))
            && let Err(error) = store.migrate().await
        {
            return fail(Exit::Failure, error);
        }
        if let Err(error) = store.ensure_migrated().await {
            return fail(Exit::Failure, error);
        }
        match store.release_stale_leases().await {
            Ok(0) => {}
            Ok(released) => {
                tracing::warn!(
                    released,
                    "notices being sent when the last run stopped go out again"
                )
            }
            Err(error) => return fail(Exit::Failure, error),
        }
        let (couriers, templates) = match couriers(&config, &clock) {
            Ok(couriers) => couriers,
            Err(exit) => return exit,
        };
        if config.scheduler.enabled {
            if let Err(problems) =
                strategies.check_templates(templates.as_deref(), &config.scheduler.email_data)
            {
                for problem in &problems {
                    eprintln!("error: {problem}");
                }
                return fail(
                    Exit::InvalidRules,
                    "the strategies' email steps cannot be sent; the scheduler does not start",
                );
            }
            warn_about_receivers(&config, &strategies);
        }
        let notices_wake = Arc::new(tokio::sync::Notify::new());
        let tasks = Arc::new(crate::tasks::TaskHealth::default());
        let outbox = Outbox {
            store: store.clone(),
            policy: Arc::clone(&policy),
            clock: Arc::clone(&clock),
            schedule: config.outbox.schedule(),
            couriers,
            wake: Arc::clone(&notices_wake),
        };
        let metrics = Arc::new(Metrics::new(&policy));
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
        });
        let state = AppState {
            store,
            policy: Arc::clone(&policy),
            clock: Arc::clone(&clock),
            open_evaluate: config.server.open_evaluate,
            config_keys: config.keys.clone().into(),
            metrics,
            notices_wake,
            strategies,
            tasks: Arc::clone(&tasks),
            idempotency_retention: config.server.idempotency_retention,
        };
        // Reloads run on SIGHUP and when a file under the rules directory changes.
        spawn_reload_on_hangup(Arc::clone(&policy));
        let _watcher = match watch_rules(Arc::clone(&policy), rules) {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                tracing::warn!(%error, "cannot watch the rules directory; reload with SIGHUP");
                None
            }
        };
        let listen = config.server.listen;
        let app = match App::bind(listen, state).await {
            Ok(app) => app,
            Err(error) => {
                return fail(
                    Exit::Failure,
                    format!("failed to listen on {listen}: {error}"),
                );
            }
        };
        match app.local_addr() {
            Ok(address) => {
                tracing::info!(%address, digest = policy.current().digest(), "serving");
                eprintln!(
                    "dunner listening on http://{address} (policy {})",
                    policy.current().digest()
                );
            }
            Err(error) => {
                return fail(
                    Exit::Failure,
                    format!("failed to read the bound address: {error}"),
                );
            }
        }
        // The outbox worker stops after the server has drained, finishing the notices
        // it is sending.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let stopped_for_scheduler = stopped.clone();
        let worker = tokio::spawn(crate::tasks::supervise(
            "outbox worker",
            Arc::clone(&tasks),
            move || {
                let mut stopped = stopped.clone();
                outbox.clone().run(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
            },
        ));
        // The scheduler stops with the outbox worker; a tick cut short is safe (see
        // `scheduler`).
        let scheduler = scheduler.map(|scheduler| {
            tracing::info!(
                strategies = scheduler.strategies.strategies().len(),
                interval = ?scheduler.interval,
                "the scheduler is on"
            );
            tokio::spawn(crate::tasks::supervise(
                "scheduler",
                Arc::clone(&tasks),
                move || {
                    let mut stopped = stopped_for_scheduler.clone();
                    scheduler.clone().run(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                },
            ))
        });
        let served = app.run_until(shutdown_signal()).await;
        let _ = stop.send(true);
        if let Err(error) = worker.await {
            tracing::error!(%error, "the outbox worker failed");
        }
        if let Some(scheduler) = scheduler
            && let Err(error) = scheduler.await
        {
            tracing::error!(%error, "the scheduler failed");
        }
        match served {
            Ok(()) => {
                tracing::info!("stopped");
                Exit::Ok
            }
            Err(error) => fail(Exit::Failure, format!("the server failed: {error}")),
        }
    })
}

/// The daemon's clock: the system's, unless `DUNNER_CLOCK_START` (an RFC 3339 instant)
/// starts it elsewhere — for drills and end-to-end tests only; never in production.
fn clock() -> Result<Arc<dyn Clock>, Exit> {
    let Some(start) = std::env::var("DUNNER_CLOCK_START")
        .ok()
        .filter(|value| !value.trim().is_empty())
    else {
        return Ok(Arc::new(SystemClock));
    };
    let start = chrono::DateTime::parse_from_rfc3339(start.trim()).map_err(|error| {
        fail(
            Exit::Failure,
            format!("environment variable DUNNER_CLOCK_START: not an RFC 3339 instant ({error})"),
        )
    })?;
    let start = start.with_timezone(&chrono::Utc);
    tracing::warn!(%start, "DUNNER_CLOCK_START: the daemon's clock is not the real time; decisions follow it (drills and tests only)");
    eprintln!("warning: the clock starts at {start} (DUNNER_CLOCK_START), not the real time");
    Ok(Arc::new(OffsetClock::starting_at(start)))
}

/// The strategies of `[scheduler] strategies`, loaded and checked; a bad file stops the
/// daemon with its diagnostics, like a bad rule pack.
fn strategies(config: &Config) -> Result<StrategySet, Exit> {
    use crate::scheduler::LoadError;
    use crate::strategy::StrategyError;
    let scheduler = &config.scheduler;
    if scheduler.enabled && scheduler.strategies.is_empty() {
        return Err(fail(
            Exit::Failure,
            "the scheduler is enabled but `[scheduler] strategies` names no strategy file \
             (e.g. strategies = [\"strategies/standard-consumer.toml\"])",
        ));
    }
    match StrategySet::load(&scheduler.strategies, scheduler.enabled) {
        Ok(set) => Ok(set),
        Err(LoadError::Strategy {
            path,
            error: StrategyError::Invalid(diagnostics),
        }) => {
            eprint!(
                "{}",
                crate::policy::diagnostics::render_human(&diagnostics, super::stderr_is_terminal())
            );
            Err(fail(
                Exit::InvalidRules,
                format!(
                    "the strategy {} is invalid; the daemon does not start",
                    path.display()
                ),
            ))
        }
        Err(error) => Err(fail(Exit::Failure, error)),
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
    config: &crate::config::Config,
    clock: &Arc<dyn Clock>,
) -> Result<(Couriers, Option<Arc<crate::dispatch::Templates>>), Exit> {
    use crate::dispatch::couriers::{EmailCourier, WebhookCourier};
    use crate::dispatch::email::EmailSender;
    use crate::dispatch::templates::{Sender, Templates};
    use crate::dispatch::webhook::WebhookSender;

    let dir = &config.email.templates;
    let templates = if dir.is_dir() || config.smtp.is_some() {
        let sender = Sender::from_config(&config.email, &config.agency);
        match Templates::load(dir, &sender) {
            Ok(templates) => Some(Arc::new(templates)),
            Err(error) => return Err(fail(Exit::InvalidRules, error)),
        }
    } else {
        None
    };
    let email: Option<Arc<dyn crate::dispatch::outbox::Courier>> =
        match (config.smtp.as_ref(), templates.clone()) {
            (Some(smtp), Some(templates)) => match EmailSender::new(smtp) {
                Ok(sender) => Some(Arc::new(EmailCourier { sender, templates })),
                Err(error) => return Err(fail(Exit::Failure, error)),
            },
            _ => None,
        };
    let webhook: Option<Arc<dyn crate::dispatch::outbox::Courier>> = if config.webhooks.is_empty() {
        None
    } else {
        match WebhookSender::new() {
            Ok(sender) => Some(Arc::new(WebhookCourier {
                sender,
                endpoints: config.webhooks.clone().into(),
                clock: Arc::clone(clock),
            })),
            Err(error) => return Err(fail(Exit::Failure, error)),
        }
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

#[cfg(unix)]
fn spawn_reload_on_hangup(policy: Arc<LivePolicy>) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(mut hangups) => {
            let policy = Arc::clone(&policy);
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    reload(&policy).await;
                }
            });
        }
        Err(error) => tracing::warn!(%error, "cannot listen for SIGHUP"),
    }
    // SIGUSR1: the operator confirms the loosening the last reload refused.
    match signal(SignalKind::user_defined1()) {
        Ok(mut confirmations) => {
            tokio::spawn(async move {
                while confirmations.recv().await.is_some() {
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
fn spawn_reload_on_hangup(_policy: Arc<LivePolicy>) {}

/// Watches the rules directory; changes (not mere reads) settle for 300 ms before a
/// reload.
fn watch_rules(
    policy: Arc<LivePolicy>,
    dir: &std::path::Path,
) -> Result<
    notify_debouncer_full::Debouncer<
        notify::RecommendedWatcher,
        notify_debouncer_full::RecommendedCache,
    >,
    notify::Error,
> {
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
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            reload(&policy).await;
        }
    });
    Ok(debouncer)
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

//! `dunner serve`: the daemon. Loads the policy (refusing to start without a valid
//! one), opens the ledger, serves the API until Ctrl-C or SIGTERM, then drains.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Exit, fail};
use crate::clock::{Clock, SystemClock};
use crate::http::{App, AppState, Metrics};
use crate::reload::LivePolicy;
use crate::store::Store;

/// Arguments of `dunner serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The ledger: `sqlite://PATH` (created and migrated if missing) or `postgres://…`.
    #[arg(
        long = "database",
        env = "DUNNER_DATABASE_URL",
        default_value = "sqlite://dunner.db"
    )]
    pub database: String,
    /// The rules directory.
    #[arg(long, env = "DUNNER_RULES", default_value = "rules")]
    pub rules: PathBuf,
    /// Where to listen (port 0 picks a free port; the address is printed).
    #[arg(long, env = "DUNNER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Apply migrations before serving (always done for the embedded SQLite ledger).
    #[arg(long)]
    pub migrate: bool,
    /// Leave `POST /v1/evaluate` open without an API key (for local use only).
    #[arg(long, env = "DUNNER_OPEN_EVALUATE")]
    pub open_evaluate: bool,
    /// Log format.
    #[arg(long, env = "DUNNER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

pub fn run(args: &ServeArgs) -> Exit {
    init_logging(args.log_format);
    let policy = match super::rules::load_or_report(&args.rules) {
        Ok(policy) => Arc::new(LivePolicy::new(&args.rules, policy, SystemClock.now())),
        Err(exit) => return exit,
    };
    let runtime = match super::runtime(true) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    runtime.block_on(async {
        let store = match Store::open(&args.database).await {
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
        let state = AppState {
            store,
            policy: Arc::clone(&policy),
            clock: Arc::new(SystemClock),
            open_evaluate: args.open_evaluate,
            metrics: Arc::new(Metrics::new(&policy)),
        };
        // Reloads run on SIGHUP and when a file under the rules directory changes.
        spawn_reload_on_hangup(Arc::clone(&policy));
        let _watcher = match watch_rules(Arc::clone(&policy), &args.rules) {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                tracing::warn!(%error, "cannot watch the rules directory; reload with SIGHUP");
                None
            }
        };
        let app = match App::bind(args.listen, state).await {
            Ok(app) => app,
            Err(error) => {
                return fail(
                    Exit::Failure,
                    format!("failed to listen on {}: {error}", args.listen),
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
        match app.run_until(shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("stopped");
                Exit::Ok
            }
            Err(error) => fail(Exit::Failure, format!("the server failed: {error}")),
        }
    })
}

/// Reloads the policy and logs the outcome; a refused reload keeps the old policy.
fn reload(policy: &LivePolicy) {
    match policy.reload(SystemClock.now()) {
        Ok(digest) => tracing::info!(%digest, "rules reloaded"),
        Err(diagnostics) => {
            tracing::error!(%diagnostics, "rules reload refused; keeping the current policy")
        }
    }
}

#[cfg(unix)]
fn spawn_reload_on_hangup(policy: Arc<LivePolicy>) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    reload(&policy);
                }
            });
        }
        Err(error) => tracing::warn!(%error, "cannot listen for SIGHUP"),
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
            reload(&policy);
        }
    });
    Ok(debouncer)
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DUNNER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(super::stderr_is_terminal())
        .with_writer(std::io::stderr);
    // A second initialisation (tests calling run twice) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
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

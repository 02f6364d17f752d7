//! `dunner serve`: the daemon. Reads the configuration (defaults ← `dunner.toml` ←
//! `DUNNER_*` ← these flags; refusing to start on an error in it), loads the policy
//! (refusing to start without a valid one), opens the ledger, serves the API until
//! Ctrl-C or SIGTERM, then drains.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Exit, fail};
use crate::app::{App, BuildError};
use crate::clock::{Clock, OffsetClock, SystemClock};
use crate::config::{Config, LogFormat};
use crate::logging::init_logging;

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
    let runtime = match super::runtime(true) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    runtime.block_on(async {
        let app = match App::build(&config, clock, args.migrate).await {
            Ok(app) => app,
            Err(error) => {
                let diagnostics = error.diagnostics();
                if !diagnostics.is_empty() {
                    eprint!(
                        "{}",
                        crate::policy::diagnostics::render_human(
                            diagnostics,
                            super::stderr_is_terminal()
                        )
                    );
                }
                if let BuildError::StrategyTemplates(problems) = &error {
                    for problem in problems {
                        eprintln!("error: {problem}");
                    }
                }
                let exit = if error.is_invalid_rules() {
                    Exit::InvalidRules
                } else {
                    Exit::Failure
                };
                return fail(exit, error);
            }
        };
        let digest = app.state().policy.current().digest().to_string();
        match app.local_addr() {
            Ok(address) => {
                tracing::info!(%address, %digest, "serving");
                eprintln!("dunner listening on http://{address} (policy {digest})");
            }
            Err(error) => {
                return fail(
                    Exit::Failure,
                    format!("failed to read the bound address: {error}"),
                );
            }
        }
        match app.run_until_stopped(shutdown_signal()).await {
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

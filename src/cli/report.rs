//! `dunner report NAME`: a report over a period of the ledger, as JSON, CSV or a
//! self-contained HTML page, to standard output or a file. The ledger and the rules
//! come from the configuration like `serve`'s, unless `--database` and `--rules` say.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use super::{Exit, fail};
use crate::clock::{Clock, SystemClock};
use crate::report::{Format, RawQuery, ReportError, ReportQuery, build, render};
use crate::store::Store;

/// Arguments of `dunner report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Which report: summary, contacts, refusals, caps, holds, aging,
    /// right_party_contacts, promises, windows (one account's heat map) or shadow (the
    /// shadow policy's divergences).
    pub name: String,
    /// The first day, YYYY-MM-DD (UTC) [default: 29 days before `--to`].
    #[arg(long)]
    pub from: Option<String>,
    /// The last day, included, YYYY-MM-DD (UTC) [default: today].
    #[arg(long)]
    pub to: Option<String>,
    /// json, csv or html [default: from the `--out` file's extension, else json].
    #[arg(long)]
    pub format: Option<String>,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The account of the heat map (needed by `windows`; adds the map to `summary`).
    #[arg(long)]
    pub account: Option<String>,
    /// The channel of the heat map [default: call].
    #[arg(long)]
    pub channel: Option<String>,
    /// Only the accounts of this client (repeat for several) [default: every account].
    #[arg(long = "client", value_name = "CLIENT")]
    pub clients: Vec<String>,
    /// What aging counts days from: placement or charge_off [default: placement].
    #[arg(long)]
    pub basis: Option<String>,
    /// "Near" a cap: some of it used and at most this many contacts left [default: 1].
    #[arg(long)]
    pub near: Option<String>,
    /// The ledger: `sqlite://PATH` or `postgres://…` [default: the configuration's
    /// `database.url`, `DUNNER_DATABASE_URL`, or `sqlite://dunner.db`].
    #[arg(long = "database")]
    pub database: Option<String>,
    /// The rules directory [default: the configuration's `rules.dir`, `DUNNER_RULES`,
    /// or `rules`].
    #[arg(long)]
    pub rules: Option<PathBuf>,
}

pub fn run(args: &ReportArgs, config_file: Option<&Path>) -> Exit {
    for client in &args.clients {
        if let Err(message) = crate::domain::check_client_id(client) {
            return fail(Exit::Usage, format!("--client `{client}`: {message}"));
        }
    }
    if args.name == "shadow" {
        if !args.clients.is_empty() {
            return fail(
                Exit::Usage,
                "--client: the shadow report reads the decision log across clients; it has no client filter yet",
            );
        }
        return shadow(args, config_file);
    }
    let started = Instant::now();
    let now = SystemClock.now();
    let raw = RawQuery {
        from: args.from.as_deref(),
        to: args.to.as_deref(),
        account: args.account.as_deref(),
        channel: args.channel.as_deref(),
        basis: args.basis.as_deref(),
        near: args.near.as_deref(),
    };
    let mut query = match ReportQuery::parse(&args.name, &raw, now.date_naive()) {
        Ok(query) => query,
        Err(error) => return fail(Exit::Failure, described(&error)),
    };
    if !args.clients.is_empty() {
        query.clients = Some(args.clients.clone());
    }
    let format = match output_format(args.format.as_deref(), args.out.as_deref()) {
        Ok(format) => format,
        Err(exit) => return exit,
    };
    let (database, rules) =
        match ledger_to_read(args.database.as_ref(), args.rules.as_ref(), config_file) {
            Ok(sources) => {
                if let Some(config) = sources.config {
                    query.outcome_grace = config.server.outcome_grace;
                }
                (sources.database, sources.rules)
            }
            Err(exit) => return exit,
        };
    let policy = match super::rules::load_or_report(&rules) {
        Ok(policy) => Arc::new(policy),
        Err(exit) => return exit,
    };
    let runtime = match super::runtime(true) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let report = runtime.block_on(async {
        let store = open_to_read(&database).await?;
        build(&store, policy, &query, now)
            .await
            .map_err(|error| described(&error))
    });
    let report = match report {
        Ok(report) => report,
        Err(message) => return fail(Exit::Failure, message),
    };
    let text = render(&report, format);
    match &args.out {
        Some(out) => {
            if let Err(error) = std::fs::write(out, &text) {
                return fail(
                    Exit::Failure,
                    format!("failed to write {}: {error}", out.display()),
                );
            }
            eprintln!(
                "wrote the {} report ({}, {} to {}) to {} in {:.1} s",
                query.name.as_str(),
                format.as_str(),
                report.period.from,
                report.period.to,
                out.display(),
                started.elapsed().as_secs_f64()
            );
        }
        None => out!("{text}"),
    }
    Exit::Ok
}

/// `dunner report shadow`: the decisions the shadow policy diverged from, read from the
/// decision log (no rules are loaded: the divergences were judged when logged).
fn shadow(args: &ReportArgs, config_file: Option<&Path>) -> Exit {
    let today = SystemClock.now().date_naive();
    let parse = |field: &'static str, value: &Option<String>| {
        value
            .as_deref()
            .map(|value| crate::report::Period::parse_date(field, value))
            .transpose()
    };
    let period = parse("from", &args.from)
        .and_then(|from| Ok((from, parse("to", &args.to)?)))
        .and_then(|(from, to)| crate::report::Period::new(from, to, today));
    let period = match period {
        Ok(period) => period,
        Err(error) => return fail(Exit::Failure, described(&error)),
    };
    let format = match output_format(args.format.as_deref(), args.out.as_deref()) {
        Ok(format) => format,
        Err(exit) => return exit,
    };
    let database = match &args.database {
        Some(database) => database.clone(),
        None => match super::load_config(config_file) {
            Ok(loaded) => loaded.config.database.url,
            Err(exit) => return exit,
        },
    };
    if let Some(path) = sqlite_file(&database)
        && !path.exists()
    {
        return fail(
            Exit::Failure,
            format!("database: the ledger {} does not exist", path.display()),
        );
    }
    let runtime = match super::runtime(true) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let report = runtime.block_on(async {
        let store = open_to_read(&database).await?;
        crate::report::shadow::shadow_report(&store, period)
            .await
            .map_err(|error| format!("failed to read the decision log: {error}"))
    });
    let report = match report {
        Ok(report) => report,
        Err(message) => return fail(Exit::Failure, message),
    };
    let text = crate::report::shadow::render(&report, format);
    match &args.out {
        Some(out) => {
            if let Err(error) = std::fs::write(out, &text) {
                return fail(
                    Exit::Failure,
                    format!("failed to write {}: {error}", out.display()),
                );
            }
        }
        None => out!("{text}"),
    }
    Exit::Ok
}

/// An error with the parameter it is about, as the flags name it.
fn described(error: &ReportError) -> String {
    match (error, error.field()) {
        (ReportError::UnknownName { .. }, _) | (_, None) => error.to_string(),
        (_, Some(field)) => format!("--{field}: {error}"),
    }
}

/// `--format` when given, else what `--out`'s extension asks for, else JSON.
pub(super) fn output_format(format: Option<&str>, out: Option<&Path>) -> Result<Format, Exit> {
    match (format, out) {
        (Some(name), _) => {
            Format::parse(name.trim()).map_err(|error| fail(Exit::Failure, described(&error)))
        }
        (None, Some(out)) => Ok(format_of(out)),
        (None, None) => Ok(Format::Json),
    }
}

/// The format an output file's extension asks for (JSON unless `.csv` or `.html`).
pub(super) fn format_of(path: &Path) -> Format {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(ext) if ext == "html" || ext == "htm" => Format::Html,
        Some(ext) if ext == "csv" => Format::Csv,
        _ => Format::Json,
    }
}

/// The file of a `sqlite:` URL.
/// Where a command that only reads the ledger reads it: the `--database` and `--rules`
/// flags, else the configuration (read only when a flag is missing, and kept).
pub(super) struct LedgerToRead {
    pub database: String,
    pub rules: PathBuf,
    pub config: Option<crate::config::Config>,
}

/// The ledger and rules a reading command uses. A SQLite ledger must exist: a command
/// that only reads must not leave an empty ledger behind a mistyped path.
pub(super) fn ledger_to_read(
    database: Option<&String>,
    rules: Option<&PathBuf>,
    config_file: Option<&Path>,
) -> Result<LedgerToRead, Exit> {
    let sources = match (database, rules) {
        (Some(database), Some(rules)) => LedgerToRead {
            database: database.clone(),
            rules: rules.clone(),
            config: None,
        },
        _ => {
            let config = super::load_config(config_file)?.config;
            LedgerToRead {
                database: database
                    .cloned()
                    .unwrap_or_else(|| config.database.url.clone()),
                rules: rules.cloned().unwrap_or_else(|| config.rules.dir.clone()),
                config: Some(config),
            }
        }
    };
    if let Some(path) = sqlite_file(&sources.database)
        && !path.exists()
    {
        return Err(fail(
            Exit::Failure,
            format!("database: the ledger {} does not exist", path.display()),
        ));
    }
    Ok(sources)
}

/// Opens a ledger to read, refusing one that is not migrated.
pub(super) async fn open_to_read(database: &str) -> Result<Store, String> {
    let store = Store::open(database)
        .await
        .map_err(|error| format!("failed to open the ledger: {error}"))?;
    store
        .ensure_migrated()
        .await
        .map_err(|error| error.to_string())?;
    Ok(store)
}

pub(super) fn sqlite_file(url: &str) -> Option<PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .ok()
        .map(|options| options.get_filename().to_path_buf())
        .filter(|path| !path.as_os_str().is_empty() && path != Path::new(":memory:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_file_chooses_the_format_unless_told() {
        assert_eq!(format_of(Path::new("week.html")), Format::Html);
        assert_eq!(format_of(Path::new("week.CSV")), Format::Csv);
        assert_eq!(format_of(Path::new("week.json")), Format::Json);
        assert_eq!(format_of(Path::new("week")), Format::Json);
        assert_eq!(
            sqlite_file("sqlite://ledger.db"),
            Some(PathBuf::from("ledger.db"))
        );
        assert_eq!(sqlite_file("postgres://db/ledger"), None);
    }
}

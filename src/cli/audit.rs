//! `dunner audit`: every collector-initiated contact of a period judged by the policy in
//! force when it was made (or by `--rules DIR`), as JSON, CSV or an HTML page. Exit code
//! 0 when every contact was allowed, 4 when any is refused, 1 on an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::report::{format_of, ledger_to_read, open_to_read};
use super::{Exit, fail};
use crate::audit::{render, run as audit};
use crate::clock::{Clock, SystemClock};
use crate::report::{Format, Period};

/// Arguments of `dunner audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The first day, YYYY-MM-DD (UTC).
    #[arg(long)]
    pub from: String,
    /// The last day, included, YYYY-MM-DD (UTC).
    #[arg(long)]
    pub to: String,
    /// Judge every contact by the packs of this directory (a candidate) instead of the
    /// policy in force when it was made.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// json, csv or html [default: from the `--out` file's extension, else json].
    #[arg(long)]
    pub format: Option<String>,
    /// Write the audit to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The ledger: `sqlite://PATH` or `postgres://…` [default: the configuration's
    /// `database.url`, `DUNNER_DATABASE_URL`, or `sqlite://dunner.db`].
    #[arg(long = "database")]
    pub database: Option<String>,
}

pub fn run(args: &AuditArgs, config_file: Option<&Path>) -> Exit {
    let started = Instant::now();
    let today = SystemClock.now().date_naive();
    let period = Period::parse_date("from", &args.from)
        .and_then(|from| Ok((from, Period::parse_date("to", &args.to)?)))
        .and_then(|(from, to)| Period::new(Some(from), Some(to), today));
    let period = match period {
        Ok(period) => period,
        Err(error) => return fail(Exit::Failure, described(&error)),
    };
    let format = match (&args.format, &args.out) {
        (Some(name), _) => Format::parse(name.trim()),
        (None, Some(out)) => Ok(format_of(out)),
        (None, None) => Ok(Format::Json),
    };
    let format = match format {
        Ok(format) => format,
        Err(error) => return fail(Exit::Failure, described(&error)),
    };
    let candidate = args.rules.is_some();
    let (database, rules) =
        match ledger_to_read(args.database.as_ref(), args.rules.as_ref(), config_file) {
            Ok(sources) => (sources.database, sources.rules),
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
    let result = runtime.block_on(async {
        let store = open_to_read(&database).await?;
        audit(&store, policy, candidate, period)
            .await
            .map_err(|error| format!("failed to audit the ledger: {error}"))
    });
    let result = match result {
        Ok(result) => result,
        Err(message) => return fail(Exit::Failure, message),
    };
    let text = render(&result, format);
    match &args.out {
        Some(out) => {
            if let Err(error) = std::fs::write(out, &text) {
                return fail(
                    Exit::Failure,
                    format!("failed to write {}: {error}", out.display()),
                );
            }
            eprintln!(
                "audited {} contacts ({} to {}): {} violation(s); wrote {} to {} in {:.1} s",
                result.contacts,
                period.from,
                period.to,
                result.violations.len(),
                format.as_str(),
                out.display(),
                started.elapsed().as_secs_f64()
            );
        }
        None => out!("{text}"),
    }
    if result.clean {
        Exit::Ok
    } else {
        Exit::Refused
    }
}

/// An error with the flag it is about.
fn described(error: &crate::report::ReportError) -> String {
    match error.field() {
        Some(field) => format!("--{field}: {error}"),
        None => error.to_string(),
    }
}

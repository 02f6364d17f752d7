//! `dunner audit`: every collector-initiated contact of a period judged by the policy in
//! force when it was made (or by `--rules DIR`), as JSON, CSV or an HTML page. Exit code
//! 0 when every contact was allowed, 4 when any is refused, 1 on an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::report::{format_of, ledger_to_read, open_to_read};
use super::{Exit, fail};
use crate::audit::verify::verify;
use crate::audit::{render, run as audit};
use crate::clock::{Clock, SystemClock};
use crate::report::{Format, Period};

/// Arguments of `dunner audit`: the audit of a period, or a subcommand (`verify`,
/// `checkpoint`) about the tamper-evident log.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AuditArgs {
    /// Verify or checkpoint the hash chains instead of auditing a period.
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// The first day, YYYY-MM-DD (UTC).
    #[arg(long, required = true)]
    pub from: Option<String>,
    /// The last day, included, YYYY-MM-DD (UTC).
    #[arg(long, required = true)]
    pub to: Option<String>,
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

/// `dunner audit verify` and `dunner audit checkpoint`.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Recompute every account's hash chain and the global checkpoints; name the first
    /// entry edited, deleted, inserted or reordered. Exit code 0 when intact, 5 when
    /// tampered, 1 on an error.
    Verify(VerifyArgs),
    /// Take a global checkpoint now: a hash over every account chain's head, linked to
    /// the checkpoint before it (the daemon takes one every `audit.checkpoint_interval`).
    Checkpoint {
        /// The ledger: `sqlite://PATH` or `postgres://…` [default: the configuration's
        /// `database.url`].
        #[arg(long = "database")]
        database: Option<String>,
    },
}

/// Arguments of `dunner audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The ledger: `sqlite://PATH` or `postgres://…` [default: the configuration's
    /// `database.url`, `DUNNER_DATABASE_URL`, or `sqlite://dunner.db`].
    #[arg(long = "database")]
    pub database: Option<String>,
    /// human (one line) or json.
    #[arg(long, default_value = "human")]
    pub format: String,
}

pub fn run(args: &AuditArgs, config_file: Option<&Path>) -> Exit {
    match &args.command {
        Some(AuditCommand::Verify(verify)) => return run_verify(verify, config_file),
        Some(AuditCommand::Checkpoint { database }) => {
            return run_checkpoint(database.as_ref(), config_file);
        }
        None => {}
    }
    let (Some(from), Some(to)) = (&args.from, &args.to) else {
        return fail(
            Exit::Usage,
            "dunner audit needs --from and --to (or a subcommand: verify, checkpoint)",
        );
    };
    let started = Instant::now();
    let today = SystemClock.now().date_naive();
    let period = Period::parse_date("from", from)
        .and_then(|from| Ok((from, Period::parse_date("to", to)?)))
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

/// The ledger of a chain command: the flag, else the configuration's; a SQLite ledger
/// must exist.
fn chain_ledger(database: Option<&String>, config_file: Option<&Path>) -> Result<String, Exit> {
    let database = match database {
        Some(database) => database.clone(),
        None => super::load_config(config_file)?.config.database.url,
    };
    if let Some(path) = super::report::sqlite_file(&database)
        && !path.exists()
    {
        return Err(fail(
            Exit::Failure,
            format!("database: the ledger {} does not exist", path.display()),
        ));
    }
    Ok(database)
}

fn run_verify(args: &VerifyArgs, config_file: Option<&Path>) -> Exit {
    let json = match args.format.trim() {
        "json" => true,
        "human" => false,
        other => {
            return fail(
                Exit::Usage,
                format!("--format: `{other}` is not a format of verify: use human or json"),
            );
        }
    };
    let database = match chain_ledger(args.database.as_ref(), config_file) {
        Ok(database) => database,
        Err(exit) => return exit,
    };
    let runtime = match super::runtime(true) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let started = Instant::now();
    let result = runtime.block_on(async {
        let store = open_to_read(&database).await?;
        verify(&store).await.map_err(|error| {
            format!("failed to verify the ledger: {error} (a ledger older than its chains needs `dunner migrate`)")
        })
    });
    let verification = match result {
        Ok(verification) => verification,
        Err(message) => return fail(Exit::Failure, message),
    };
    if json {
        match serde_json::to_string_pretty(&verification) {
            Ok(text) => outln!("{text}"),
            Err(error) => {
                return fail(
                    Exit::Failure,
                    format!("failed to write the result: {error}"),
                );
            }
        }
    } else {
        outln!("{}", verification.summary());
    }
    eprintln!(
        "verified {} entries of {} accounts in {:.2} s",
        verification.entries,
        verification.accounts,
        started.elapsed().as_secs_f64()
    );
    if verification.intact() {
        Exit::Ok
    } else {
        Exit::Tampered
    }
}

fn run_checkpoint(database: Option<&String>, config_file: Option<&Path>) -> Exit {
    let database = match chain_ledger(database, config_file) {
        Ok(database) => database,
        Err(exit) => return exit,
    };
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    let result = runtime.block_on(async {
        let store = open_to_read(&database).await?;
        store
            .take_checkpoint(SystemClock.now())
            .await
            .map_err(|error| format!("failed to take a checkpoint: {error}"))
    });
    match result {
        Ok(checkpoint) => {
            outln!(
                "checkpoint #{} at {}: {} accounts, {} entries, hash {}",
                checkpoint.seq,
                checkpoint.taken_at.to_rfc3339(),
                checkpoint.accounts,
                checkpoint.entries,
                checkpoint.hash
            );
            Exit::Ok
        }
        Err(message) => fail(Exit::Failure, message),
    }
}

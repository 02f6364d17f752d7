//! The `dunner` command line: a thin shell that reads files, calls the policy and
//! the engine, and prints. One file per subcommand; each returns an [`Exit`].

/// `println!` for the command's output: when standard output is closed early
/// (`dunner decide --overview … | head`), the process ends quietly with exit code 0
/// instead of panicking: a reader that has seen enough is not an error.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!($($arg)*), true)
    };
}

/// `print!` with the same treatment of a closed standard output as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!($($arg)*), false)
    };
}

mod audit;
mod config;
mod decide;
mod impact;
mod import;
mod keys;
mod ledger;
mod migrate;
mod plan;
mod records;
mod report;
mod rules;
mod rules_show;
mod serve;
mod strategies;
mod webhooks;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::{ExitCode, Termination};

use clap::{Parser, Subcommand, ValueEnum};

/// Process exit codes, documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success; for `decide`, a decision was made (allowed or not).
    Ok = 0,
    /// A failure: unreadable input, a malformed request, failing policy tests.
    Failure = 1,
    /// The command line itself was wrong (clap reports these).
    Usage = 2,
    /// The rule packs did not validate.
    InvalidRules = 3,
    /// `decide --fail-if-refused` and the contact was not allowed; `audit` found a
    /// contact the policy refuses; `rules impact` found the candidate loosens the policy.
    Refused = 4,
    /// `audit verify` found an entry of the tamper-evident log edited, deleted, inserted
    /// or reordered.
    Tampered = 5,
}

impl Termination for Exit {
    fn report(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}

/// dunner: a compliance-aware contact scheduling engine for debt collection.
#[derive(Debug, Parser)]
#[command(name = "dunner", version, about, long_about = None)]
pub struct Cli {
    /// The configuration file of `serve`, `config`, `migrate` and `keys` (default:
    /// `dunner.toml` in the working directory, if there is one).
    #[arg(long, global = true, env = "DUNNER_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check, test and explain rule packs.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Decide one contact request (the JSON contract) and print the decision as JSON.
    Decide(DecideArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Run the daemon: the HTTP API over the ledger and the policy.
    Serve(serve::ServeArgs),
    /// Load a placement file (accounts, one JSON per line) and prior history (ledger
    /// events with their `account_id`, one per line): every line is checked first and
    /// nothing is written unless all are good.
    Import {
        /// The placement file: one account per line.
        accounts: PathBuf,
        /// The prior history: one event per line, with its `account_id`.
        events: Option<PathBuf>,
        /// The ledger: `sqlite://PATH` (created if missing) or `postgres://…`
        /// [default: the configuration's `database.url`, `DUNNER_DATABASE_URL`, or
        /// `sqlite://dunner.db`].
        #[arg(long = "database")]
        database: Option<String>,
        /// Only check the files; write nothing.
        #[arg(long)]
        check: bool,
    },
    /// Show the daemon's configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Create or upgrade the ledger's tables (SQLite file or PostgreSQL database).
    Migrate {
        /// The ledger: `sqlite://PATH` (created if missing) or `postgres://…`
        /// [default: the configuration's `database.url`, `DUNNER_DATABASE_URL`, or
        /// `sqlite://dunner.db`].
        #[arg(long = "database")]
        database: Option<String>,
    },
    /// Check the ledger's stored rows.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Sign and verify Standard Webhooks signatures, to test a webhook receiver.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
    /// Write a report over a period of the ledger (contacts, refusals, caps, holds,
    /// aging, right-party contacts, promises, or one account's permitted windows) as
    /// JSON, CSV or a self-contained HTML page.
    Report(report::ReportArgs),
    /// Remove the personal data of accounts past retention (12 CFR 1006.100) that are
    /// closed, paid or a deceased consumer's, unless a legal hold covers them. A dry run
    /// unless `--yes`.
    Purge(records::PurgeArgs),
    /// Place, release and list legal holds (litigation, dispute, regulator), which stop
    /// purges of an account or of a client's accounts.
    #[command(subcommand)]
    Hold(records::HoldCommand),
    /// Audit the past: judge every collector-initiated contact of a period by the
    /// policy in force when it was made (or by `--rules DIR`); exit code 4 when any is
    /// refused.
    Audit(audit::AuditArgs),
    /// Check strategy files (what the agency wants done, under `strategies/`).
    #[command(subcommand)]
    Strategies(StrategiesCommand),
    /// Plan a portfolio: fit a strategy into the policy over a horizon of days and
    /// write the schedule, with a summary on standard error.
    Plan(plan::PlanArgs),
}

/// `dunner ledger …`
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// List the stored accounts that no longer pass the account parse (account, field,
    /// problem, one per line); exit 1 when there is any.
    Check {
        /// The ledger: `sqlite://PATH` or `postgres://…` [default: the configuration's
        /// `database.url`, `DUNNER_DATABASE_URL`, or `sqlite://dunner.db`].
        #[arg(long = "database")]
        database: Option<String>,
    },
}

/// `dunner strategies …`
#[derive(Debug, Subcommand)]
pub enum StrategiesCommand {
    /// Validate strategy files and report every problem with file:line:column.
    Check {
        /// Strategy files, or directories of them.
        #[arg(default_value = "strategies")]
        paths: Vec<PathBuf>,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

/// `dunner config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults ← file ← `DUNNER_*` environment) as
    /// TOML, with secrets redacted.
    Show {
        /// Print the shipped, fully commented default `dunner.toml` instead.
        #[arg(long)]
        default: bool,
    },
}

/// `dunner rules …`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate every pack of a directory and report every problem with file:line:column.
    Check {
        /// The rules directory.
        #[arg(default_value = "rules")]
        dir: PathBuf,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// The email templates to check too [default: `templates/` beside the rules
        /// directory, when there is one].
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
    },
    /// Run the policy tests (`*.tests.toml`) of a rules directory.
    Test {
        /// The rules directory.
        #[arg(default_value = "rules")]
        dir: PathBuf,
        /// How to print results.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Also say which rules the cases exercise: cited by a decision (refused,
        /// warned, obliged) or governing an allowed contact; list those never exercised.
        #[arg(long)]
        coverage: bool,
    },
    /// Print the exact pack texts of the policy with a digest (the `policy_digest` of
    /// any logged decision), from the ledger or the rules directory; or write them to a
    /// directory (`--out`), where `dunner rules test` runs against them.
    Show {
        /// The policy digest (`sha256:…`).
        digest: String,
        /// The ledger [default: the configuration's `database.url`,
        /// `DUNNER_DATABASE_URL`, or `sqlite://dunner.db`].
        #[arg(long = "database")]
        database: Option<String>,
        /// The live rules directory, consulted when it is that policy [default: the
        /// configuration's `rules.dir`].
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Write the pack files under this directory instead of printing them.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// What a candidate rules directory would change: the logged decisions and recorded
    /// contacts of a period replayed, the stored portfolio planned ahead. Exit 0 when
    /// it loosens nothing, 4 when it allows something the live policy refused, 3 when
    /// its packs are invalid.
    Impact(impact::ImpactArgs),
    /// Explain in plain words which packs and rules apply to an account.
    Explain {
        /// The rules directory.
        #[arg(long, default_value = "rules")]
        rules: PathBuf,
        /// A JSON file holding one account (the `account` of the decide contract).
        #[arg(long)]
        account: PathBuf,
    },
}

/// `dunner keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key; its token is printed once and never stored.
    Create {
        /// A name to recognise the key by (the dialer, the CRM).
        #[arg(long)]
        name: String,
        /// What the key may do (repeat for several).
        #[arg(long = "scope", value_enum, required = true)]
        scopes: Vec<crate::auth::Scope>,
        /// Limit the key to this client's accounts (repeat for several); without, it
        /// reaches every client's.
        #[arg(long = "client", value_name = "CLIENT")]
        clients: Vec<String>,
        /// The ledger [default: the configuration's `database.url`,
        /// `DUNNER_DATABASE_URL`, or `sqlite://dunner.db`].
        #[arg(long = "database")]
        database: Option<String>,
        /// The key stops working this many days from now.
        #[arg(long, value_name = "DAYS", conflicts_with = "expires_at", value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_in: Option<u32>,
        /// The key stops working at this instant (RFC 3339, or a date: its midnight UTC).
        #[arg(long, value_name = "INSTANT")]
        expires_at: Option<String>,
    },
    /// List the stored API keys: name, id, scopes, created, last used, expiry, revoked
    /// (never a secret).
    List {
        /// The ledger [default: as for `create`].
        #[arg(long = "database")]
        database: Option<String>,
        /// One JSON object per key instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a stored API key: refused from now on by every daemon sharing the ledger,
    /// its console sessions ended.
    Revoke {
        /// The key's id (`dunner keys list`).
        id: String,
        /// The ledger [default: as for `create`].
        #[arg(long = "database")]
        database: Option<String>,
    },
}

/// `dunner decide …`
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    /// The rules directory.
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// The request file, or `-` for standard input.
    #[arg(default_value = "-")]
    pub request: String,
    /// Decide every channel and contact point of the account at the request's instant
    /// (the request's channel and contact point are ignored).
    #[arg(long)]
    pub overview: bool,
    /// Pretty-print the JSON.
    #[arg(long)]
    pub pretty: bool,
    /// Exit with code 4 when the contact is not allowed.
    #[arg(long)]
    pub fail_if_refused: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: underlined source, colours on a terminal.
    Human,
    /// One line per problem: `file:line:column: severity[code]: message`.
    Plain,
    /// JSON for tools.
    Json,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Exit {
    let config_file = cli.config.as_deref();
    match cli.command {
        Command::Rules(RulesCommand::Check {
            dir,
            format,
            templates,
        }) => rules::check(&dir, templates.as_deref(), format, config_file),
        Command::Rules(RulesCommand::Test {
            dir,
            format,
            coverage,
        }) => rules::test(&dir, format, coverage),
        Command::Rules(RulesCommand::Show {
            digest,
            database,
            rules,
            out,
        }) => rules_show::show(
            &digest,
            database.as_ref(),
            rules.as_ref(),
            out.as_deref(),
            config_file,
        ),
        Command::Rules(RulesCommand::Impact(args)) => impact::run(&args, config_file),
        Command::Rules(RulesCommand::Explain { rules, account }) => {
            rules::explain(&rules, &account)
        }
        Command::Decide(args) => decide::run(&args),
        Command::Migrate { database } => match database_url(database, config_file) {
            Ok(database) => migrate::run(&database),
            Err(exit) => exit,
        },
        Command::Ledger(LedgerCommand::Check { database }) => {
            match database_url(database, config_file) {
                Ok(database) => ledger::check(&database),
                Err(exit) => exit,
            }
        }
        Command::Serve(args) => serve::run(&args, config_file),
        Command::Config(ConfigCommand::Show { default }) => config::show(default, config_file),
        Command::Webhooks(command) => webhooks::run(command),
        Command::Report(args) => report::run(&args, config_file),
        Command::Audit(args) => audit::run(&args, config_file),
        Command::Purge(args) => records::purge(&args, config_file),
        Command::Hold(command) => records::hold(command, config_file),
        Command::Strategies(StrategiesCommand::Check { paths, format }) => {
            strategies::check(&paths, format)
        }
        Command::Plan(args) => plan::run(&args),
        Command::Import {
            accounts,
            events,
            database,
            check,
        } => match database_url(database, config_file) {
            Ok(database) => import::run(&database, &accounts, events.as_deref(), check),
            Err(exit) => exit,
        },
        Command::Keys(KeysCommand::Create {
            name,
            scopes,
            clients,
            database,
            expires_in,
            expires_at,
        }) => match database_url(database, config_file) {
            Ok(database) => keys::create(
                &database,
                &name,
                &scopes,
                &clients,
                keys::Expiry {
                    in_days: expires_in,
                    at: expires_at,
                },
            ),
            Err(exit) => exit,
        },
        Command::Keys(KeysCommand::List { database, json }) => {
            match database_url(database, config_file) {
                Ok(database) => keys::list(&database, json),
                Err(exit) => exit,
            }
        }
        Command::Keys(KeysCommand::Revoke { id, database }) => {
            match database_url(database, config_file) {
                Ok(database) => keys::revoke(&database, &id),
                Err(exit) => exit,
            }
        }
    }
}

/// Reads the configuration, or reports why it cannot be read.
fn load_config(file: Option<&std::path::Path>) -> Result<crate::config::Loaded, Exit> {
    crate::config::load(file).map_err(|error| fail(Exit::Failure, error))
}

/// The ledger named by a `--database` flag, else by the configuration.
fn database_url(flag: Option<String>, file: Option<&std::path::Path>) -> Result<String, Exit> {
    match flag {
        Some(url) => Ok(url),
        None => load_config(file).map(|loaded| loaded.config.database.url),
    }
}

/// Whether to colour output written to standard error.
fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A tokio runtime for the commands that do I/O (the core itself is synchronous).
fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, Exit> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(|error| {
        fail(
            Exit::Failure,
            format!("failed to start the async runtime: {error}"),
        )
    })
}

/// Prints an error for a person and returns the exit code.
fn fail(exit: Exit, message: impl std::fmt::Display) -> Exit {
    eprintln!("error: {message}");
    exit
}

/// Writes the command's output; a closed pipe ends the process (exit 0), any other
/// failure to write is reported on standard error.
#[doc(hidden)]
pub fn write_stdout(arguments: std::fmt::Arguments<'_>, newline: bool) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(arguments)
        .and_then(|()| {
            if newline {
                stdout.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(error) => eprintln!("error: failed to write the output: {error}"),
    }
}

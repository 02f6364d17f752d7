//! `dunner purge` and `dunner hold`: records management from the command line (see
//! [`crate::records`] and [`crate::service::records`]).

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use super::audit::chain_ledger;
use super::report::open_to_read;
use super::{Exit, fail};
use crate::clock::{Clock, SystemClock};
use crate::records::{HoldKind, HoldScope};
use crate::service::records::{
    PurgePlan, RecordsError, place_hold, plan_purge, release_hold, run_purge,
};
use crate::store::Store;

/// Arguments of `dunner purge`.
#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// Judge retention as of this instant (YYYY-MM-DD, midnight UTC, or RFC 3339)
    /// [default: now]. With `--yes` it may not be later than now.
    #[arg(long, value_name = "WHEN")]
    pub as_of: Option<String>,
    /// Purge for real; without it, only list what would be purged (a dry run).
    #[arg(long)]
    pub yes: bool,
    /// human or json.
    #[arg(long, default_value = "human")]
    pub format: String,
    /// The ledger: `sqlite://PATH` or `postgres://…` [default: the configuration's
    /// `database.url`].
    #[arg(long = "database")]
    pub database: Option<String>,
}

/// `dunner hold place|release|list`.
#[derive(Debug, clap::Subcommand)]
pub enum HoldCommand {
    /// Place a legal hold on an account or on every account of a client: nothing it
    /// covers is purged until it is released.
    Place {
        /// The account to hold.
        #[arg(long, conflicts_with = "client", required_unless_present = "client")]
        account: Option<String>,
        /// The client whose accounts to hold.
        #[arg(long)]
        client: Option<String>,
        /// litigation, dispute or regulator.
        #[arg(long)]
        kind: String,
        /// The hold's reference (a case number, a request's reference); nothing personal.
        #[arg(long)]
        reason: String,
        /// The ledger [default: the configuration's `database.url`].
        #[arg(long = "database")]
        database: Option<String>,
    },
    /// Release a hold.
    Release {
        /// The hold's id.
        id: String,
        /// The ledger [default: the configuration's `database.url`].
        #[arg(long = "database")]
        database: Option<String>,
    },
    /// List the holds in force (with `--all`, released ones too).
    List {
        /// Released holds too.
        #[arg(long)]
        all: bool,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
        /// The ledger [default: the configuration's `database.url`].
        #[arg(long = "database")]
        database: Option<String>,
    },
}

/// Parses `--as-of`: a day (its midnight, UTC) or an RFC 3339 instant.
pub fn parse_as_of(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day
            .and_hms_opt(0, 0, 0)
            .map(|at| at.and_utc())
            .ok_or_else(|| format!("`{text}` is not a day"));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| format!("`{text}` is neither a day (YYYY-MM-DD) nor an RFC 3339 instant"))
}

/// Runs `body` on the opened ledger.
fn with_store<T>(
    database: &str,
    body: impl AsyncFnOnce(&Store) -> Result<T, String>,
) -> Result<T, Exit> {
    let runtime = super::runtime(false)?;
    runtime
        .block_on(async {
            let store = open_to_read(database).await?;
            body(&store).await
        })
        .map_err(|message| fail(Exit::Failure, message))
}

fn records_error(error: RecordsError) -> String {
    match error {
        RecordsError::Invalid { field, message } => {
            format!("--{}: {message}", field.replace('_', "-"))
        }
        other => other.to_string(),
    }
}

/// `dunner purge`.
pub fn purge(args: &PurgeArgs, config_file: Option<&Path>) -> Exit {
    let json = match args.format.trim() {
        "json" => true,
        "human" => false,
        other => {
            return fail(
                Exit::Usage,
                format!("--format: `{other}` is not a format of purge: use human or json"),
            );
        }
    };
    let now = SystemClock.now();
    let as_of = match args.as_of.as_deref().map(parse_as_of).transpose() {
        Ok(as_of) => as_of.unwrap_or(now),
        Err(message) => return fail(Exit::Usage, format!("--as-of: {message}")),
    };
    if args.yes && as_of > now {
        return fail(
            Exit::Usage,
            "--as-of: a purge judges retention at now or earlier; a later instant is for a dry run only",
        );
    }
    // The retention policy is the configuration's, always: a purge never runs on defaults
    // it was not given when a configuration exists.
    let loaded = match super::load_config(config_file) {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let database = match chain_ledger(args.database.as_ref(), config_file) {
        Ok(database) => database,
        Err(exit) => return exit,
    };
    let policy = loaded.config.retention;
    if args.yes {
        let run = with_store(&database, async |store| {
            run_purge(store, &policy, as_of, now)
                .await
                .map_err(records_error)
        });
        let run = match run {
            Ok(run) => run,
            Err(exit) => return exit,
        };
        if json {
            return print_json(&run);
        }
        outln!(
            "purged {} account(s) as of {}",
            run.purged.len(),
            stamp(run.plan.as_of)
        );
        for record in &run.purged {
            outln!(
                "  {}  {}  kept {} years after {}; {} events, {} decisions, {} notices scrubbed",
                record.account_id,
                record.rule.as_str(),
                record.retention_years,
                stamp(record.last_activity),
                record.events,
                record.decisions,
                record.notices
            );
        }
        for skipped in &run.skipped {
            outln!("  skipped {}: {}", skipped.account_id, skipped.reason);
        }
        print_held(&run.plan);
        return Exit::Ok;
    }
    let plan = with_store(&database, async |store| {
        plan_purge(store, &policy, as_of)
            .await
            .map_err(records_error)
    });
    let plan = match plan {
        Ok(plan) => plan,
        Err(exit) => return exit,
    };
    if json {
        return print_json(&plan);
    }
    outln!(
        "would purge {} account(s) as of {} (dry run: nothing changed; --yes to purge)",
        plan.selected.len(),
        stamp(plan.as_of)
    );
    for selected in &plan.selected {
        outln!(
            "  {}  {}  kept {} years after {}; retention ended {}",
            selected.account_id,
            selected.rule.as_str(),
            selected.retention_years,
            stamp(selected.last_activity),
            stamp(selected.retention_end)
        );
    }
    print_held(&plan);
    Exit::Ok
}

/// An instant for a person: RFC 3339 to the second.
fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn print_held(plan: &PurgePlan) {
    for held in &plan.held {
        outln!("  held {}: legal hold {}", held.account_id, held.hold_id);
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> Exit {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            outln!("{text}");
            Exit::Ok
        }
        Err(error) => fail(
            Exit::Failure,
            format!("failed to write the result: {error}"),
        ),
    }
}

/// `dunner hold …`.
pub fn hold(command: HoldCommand, config_file: Option<&Path>) -> Exit {
    let now = SystemClock.now();
    match command {
        HoldCommand::Place {
            account,
            client,
            kind,
            reason,
            database,
        } => {
            let Some(kind) = HoldKind::parse(kind.trim()) else {
                return fail(
                    Exit::Usage,
                    format!(
                        "--kind: `{kind}` is not a hold kind: use litigation, dispute or regulator"
                    ),
                );
            };
            let (scope, target) = match (account, client) {
                (Some(account), None) => (HoldScope::Account, account),
                (None, Some(client)) => (HoldScope::Client, client),
                _ => return fail(Exit::Usage, "give exactly one of --account and --client"),
            };
            let database = match chain_ledger(database.as_ref(), config_file) {
                Ok(database) => database,
                Err(exit) => return exit,
            };
            let hold = with_store(&database, async |store| {
                place_hold(store, scope, &target, kind, &reason, now)
                    .await
                    .map_err(|error| match error {
                        RecordsError::Invalid { field, message } => {
                            let flag = match field {
                                "account_id" => "account",
                                other => other,
                            };
                            format!("--{flag}: {message}")
                        }
                        other => other.to_string(),
                    })
            });
            match hold {
                Ok(hold) => {
                    outln!("{}", hold.id);
                    eprintln!(
                        "placed a {} hold on {} `{}`: nothing it covers is purged until `dunner hold release {}`",
                        hold.kind.as_str(),
                        hold.scope.as_str(),
                        hold.target,
                        hold.id
                    );
                    Exit::Ok
                }
                Err(exit) => exit,
            }
        }
        HoldCommand::Release { id, database } => {
            let database = match chain_ledger(database.as_ref(), config_file) {
                Ok(database) => database,
                Err(exit) => return exit,
            };
            let released = with_store(&database, async |store| {
                release_hold(store, id.trim(), now)
                    .await
                    .map_err(records_error)
            });
            match released {
                Ok(hold) => {
                    eprintln!(
                        "released hold {} on {} `{}`",
                        hold.id,
                        hold.scope.as_str(),
                        hold.target
                    );
                    Exit::Ok
                }
                Err(exit) => exit,
            }
        }
        HoldCommand::List {
            all,
            json,
            database,
        } => {
            let database = match chain_ledger(database.as_ref(), config_file) {
                Ok(database) => database,
                Err(exit) => return exit,
            };
            let holds = with_store(&database, async |store| {
                store.holds(all).await.map_err(|error| error.to_string())
            });
            let holds = match holds {
                Ok(holds) => holds,
                Err(exit) => return exit,
            };
            if json {
                return print_json(&holds);
            }
            if holds.is_empty() {
                eprintln!("no legal holds{}", if all { "" } else { " in force" });
            }
            for hold in &holds {
                outln!(
                    "{}\t{}\t{}\t{}\tplaced {}\t{}\t{}",
                    hold.id,
                    hold.scope.as_str(),
                    hold.target,
                    hold.kind.as_str(),
                    stamp(hold.placed_at),
                    hold.released_at
                        .map_or("in force".to_string(), |at| format!(
                            "released {}",
                            stamp(at)
                        )),
                    hold.reason
                );
            }
            Exit::Ok
        }
    }
}

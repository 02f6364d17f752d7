//! `dunner rules impact --candidate DIR`: what a candidate rules directory would have
//! decided differently (the logged decisions and recorded contacts of a period) and
//! would plan differently (the stored portfolio over the next days), as text, JSON or
//! an HTML page. Exit code 0 when the candidate loosens nothing, 4 when it allows
//! something the live policy refused, 3 when the candidate's packs are invalid, 1 on
//! an error — so a CI job on a rules repository can gate a change.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::report::{ledger_to_read, open_to_read};
use super::{Exit, fail};
use crate::audit::impact::{Ahead, ImpactRequest, run as impact};
use crate::audit::{ImpactFormat, render_impact};
use crate::clock::{Clock, SystemClock};
use crate::planner::Horizon;
use crate::report::Period;
use crate::strategy::StrategySet;

/// The longest look ahead, in days.
const MAX_DAYS: u32 = 366;

/// Arguments of `dunner rules impact`.
#[derive(Debug, clap::Args)]
pub struct ImpactArgs {
    /// The candidate rules directory.
    #[arg(long, value_name = "DIR")]
    pub candidate: PathBuf,
    /// The live rules [default: for each logged decision the policy in force when it was
    /// made; for the plan ahead the configured `rules.dir`].
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// The first day whose decisions and contacts are replayed, YYYY-MM-DD (UTC).
    #[arg(long)]
    pub from: String,
    /// The last day, included, YYYY-MM-DD (UTC).
    #[arg(long)]
    pub to: String,
    /// How many days ahead to plan the stored portfolio.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// A strategy file for the plan ahead (repeat for several, in order) [default: the
    /// configuration's `[scheduler] strategies`; none: no plan ahead].
    #[arg(long = "strategy", value_name = "FILE")]
    pub strategies: Vec<PathBuf>,
    /// human, json or html [default: from the `--out` file's extension, else human].
    #[arg(long)]
    pub format: Option<String>,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The ledger: `sqlite://PATH` or `postgres://…` [default: the configuration's
    /// `database.url`, `DUNNER_DATABASE_URL`, or `sqlite://dunner.db`].
    #[arg(long = "database")]
    pub database: Option<String>,
}

pub fn run(args: &ImpactArgs, config_file: Option<&Path>) -> Exit {
    match impact_of(args, config_file) {
        Ok(exit) | Err(exit) => exit,
    }
}

fn impact_of(args: &ImpactArgs, config_file: Option<&Path>) -> Result<Exit, Exit> {
    let now = SystemClock.now();
    let period = Period::parse_date("from", &args.from)
        .and_then(|from| Ok((from, Period::parse_date("to", &args.to)?)))
        .and_then(|(from, to)| Period::new(Some(from), Some(to), now.date_naive()))
        .map_err(|error| match error.field() {
            Some(field) => fail(Exit::Failure, format!("--{field}: {error}")),
            None => fail(Exit::Failure, error),
        })?;
    if !(1..=MAX_DAYS).contains(&args.days) {
        return Err(fail(
            Exit::Usage,
            format!("--days must be between 1 and {MAX_DAYS}, not {}", args.days),
        ));
    }
    let format = match (&args.format, &args.out) {
        (Some(name), _) => ImpactFormat::parse(name.trim()).ok_or_else(|| {
            fail(
                Exit::Usage,
                format!("--format: `{name}` is not one of human, json, html"),
            )
        })?,
        (None, Some(out))
            if out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("html")) =>
        {
            ImpactFormat::Html
        }
        (None, Some(out))
            if out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json")) =>
        {
            ImpactFormat::Json
        }
        (None, _) => ImpactFormat::Human,
    };
    // The candidate first: invalid packs are exit 3 whatever else is wrong.
    let candidate = Arc::new(super::rules::load_or_report(&args.candidate)?);
    let sources = ledger_to_read(args.database.as_ref(), args.rules.as_ref(), config_file)?;
    let rules = match &args.rules {
        Some(dir) => Some(Arc::new(super::rules::load_or_report(dir)?)),
        None => None,
    };
    let strategy_files = if args.strategies.is_empty() {
        match &sources.config {
            Some(config) => config.scheduler.strategies.clone(),
            None => super::load_config(config_file)?.config.scheduler.strategies,
        }
    } else {
        args.strategies.clone()
    };
    let ahead = if strategy_files.is_empty() {
        None
    } else {
        let strategies = StrategySet::load(&strategy_files, false).map_err(|error| {
            fail(
                Exit::Failure,
                format!("failed to load the strategies: {error}"),
            )
        })?;
        // The plan ahead needs one live policy: `--rules`, else the configured one.
        let live = match &rules {
            Some(rules) => Arc::clone(rules),
            None => Arc::new(super::rules::load_or_report(&sources.rules)?),
        };
        Some(Ahead {
            strategies: Arc::new(strategies),
            live,
            horizon: Horizon {
                not_before: now,
                first_day: None,
                days: args.days,
            },
        })
    };
    let runtime = super::runtime(true)?;
    let result = runtime.block_on(async {
        let store = open_to_read(&sources.database).await?;
        impact(
            &store,
            ImpactRequest {
                candidate,
                rules,
                period,
                ahead,
            },
        )
        .await
        .map_err(|error| format!("failed to measure the impact: {error}"))
    });
    let result = result.map_err(|message| fail(Exit::Failure, message))?;
    let text = render_impact(&result, format);
    match &args.out {
        Some(out) => {
            std::fs::write(out, &text).map_err(|error| {
                fail(
                    Exit::Failure,
                    format!("failed to write {}: {error}", out.display()),
                )
            })?;
            eprintln!(
                "replayed {} decisions ({} to {}): {} allow→refuse, {} refuse→allow; wrote {} to {}",
                result.decisions.replayed,
                period.from,
                period.to,
                result.decisions.flips.allow_to_refuse,
                result.decisions.flips.refuse_to_allow,
                format.as_str(),
                out.display()
            );
        }
        None => out!("{text}"),
    }
    Ok(if result.loosens {
        Exit::Refused
    } else {
        Exit::Ok
    })
}

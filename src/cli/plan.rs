//! `dunner plan`: fit a strategy into the policy for a whole portfolio, over a horizon
//! of days, and write the schedule (CSV or JSON lines) with a summary on stderr.
//!
//! Built for a million accounts on a small machine: the files are read once into
//! memory and indexed by a light first pass (account ids, consumer ids, the account of
//! each event); accounts are then parsed in full, planned a consumer at a time on every
//! core, and written in batches. One bad line and no schedule is written (the output
//! goes to a temporary file that is renamed only when everything was good).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Deserialize;

use super::import::{Reject, numbered_lines, parse_event_line};
use super::{Exit, fail};
use crate::clock::{Clock, SystemClock};
use crate::domain::{Account, LedgerEvent};
use crate::engine::parse_json;
use crate::planner::{
    AccountLedger, Horizon, PlannedItem, Summary, group_by_consumer, plan_consumer,
};
use crate::policy::Policy;
use crate::strategy::Strategy;

/// Consumers planned per batch: enough to keep every core busy, few enough that a
/// batch's accounts and output stay small.
const BATCH: usize = 16_384;

/// Consumers per share of a batch: each share renders its lines into one buffer and
/// counts into one summary, so the merging left to the writing thread stays small.
const PART: usize = 256;

/// The most rejected lines printed; the count of the rest follows.
const MAX_SHOWN_REJECTS: usize = 50;

/// The longest horizon, in days.
const MAX_DAYS: u32 = 366;

/// Arguments of `dunner plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The portfolio: one account per line (as `dunner import` reads it).
    #[arg(long)]
    pub accounts: PathBuf,
    /// The history: one ledger event per line, with its `account_id`.
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// The strategy file (see `strategies/`).
    #[arg(long)]
    pub strategy: PathBuf,
    /// The first day to plan, a date (each consumer's local day) [default: today, from
    /// now on].
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// How many days to plan.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Where to write the schedule: `.csv` or `.jsonl` (one planned item per line,
    /// with the decision that allowed it).
    #[arg(long)]
    pub out: PathBuf,
    /// The rules directory.
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
}

/// The schedule's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutFormat {
    Csv,
    JsonLines,
}

/// The columns of the CSV schedule.
const CSV_HEADER: &str = "account_id,step,day,at,channel,purpose,contact_point,dispatch,template_or_event,preferred,escalate_to,outcome,obligations,policy_digest,client\n";

/// Runs `dunner plan`.
pub fn run(args: &PlanArgs) -> Exit {
    match plan(args) {
        Ok(exit) | Err(exit) => exit,
    }
}

fn plan(args: &PlanArgs) -> Result<Exit, Exit> {
    let started = Instant::now();
    if !(1..=MAX_DAYS).contains(&args.days) {
        return Err(fail(
            Exit::Usage,
            format!("--days must be between 1 and {MAX_DAYS}, not {}", args.days),
        ));
    }
    let format = out_format(&args.out)?;
    let policy = super::rules::load_or_report(&args.rules)?;
    let strategy = super::strategies::load_or_report(&args.strategy)?;
    let horizon = match args.from {
        Some(day) => Horizon {
            not_before: DateTime::<Utc>::MIN_UTC,
            first_day: Some(day),
            days: args.days,
        },
        None => Horizon {
            not_before: SystemClock.now(),
            first_day: None,
            days: args.days,
        },
    };
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|error| {
            fail(
                Exit::Failure,
                format!("cannot read {}: {error}", path.display()),
            )
        })
    };
    let accounts_text = read(&args.accounts)?;
    let events_text = args.events.as_deref().map(read).transpose()?;
    let accounts_file = args.accounts.display().to_string();
    let events_file = args
        .events
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();

    let portfolio = Portfolio::index(
        &accounts_file,
        &accounts_text,
        &events_file,
        events_text.as_deref().unwrap_or(""),
    );
    let mut rejects = portfolio.rejects.clone();

    let temporary = temporary_path(&args.out);
    let file = std::fs::File::create(&temporary).map_err(|error| {
        fail(
            Exit::Failure,
            format!("cannot write {}: {error}", temporary.display()),
        )
    })?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let write_failed = |error: std::io::Error| {
        let _ = std::fs::remove_file(&temporary);
        fail(
            Exit::Failure,
            format!("cannot write {}: {error}", temporary.display()),
        )
    };
    if format == OutFormat::Csv {
        out.write_all(CSV_HEADER.as_bytes()).map_err(write_failed)?;
    }

    let bar = ProgressBar::new(portfolio.accounts.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} accounts {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut summary = Summary::default();
    let mut items = 0u64;
    for batch in portfolio.consumers.chunks(BATCH) {
        let plan = rejects.is_empty();
        let planned: Vec<Batch> = batch
            .par_chunks(PART)
            .map(|consumers| {
                let mut part = Batch::default();
                for consumer in consumers {
                    portfolio.plan_consumer(
                        consumer,
                        (&accounts_file, &events_file),
                        (&strategy, &policy, &horizon),
                        format,
                        plan,
                        &mut part,
                    );
                }
                part
            })
            .collect();
        for part in planned {
            bar.inc(part.accounts);
            rejects.extend(part.rejects);
            if rejects.is_empty() {
                out.write_all(part.output.as_bytes())
                    .map_err(write_failed)?;
                summary.merge(part.summary);
                items += part.items;
            }
        }
    }
    bar.finish_and_clear();

    if !rejects.is_empty() {
        drop(out);
        let _ = std::fs::remove_file(&temporary);
        rejects.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        for reject in rejects.iter().take(MAX_SHOWN_REJECTS) {
            eprintln!("{reject}");
        }
        if rejects.len() > MAX_SHOWN_REJECTS {
            eprintln!("… and {} more", rejects.len() - MAX_SHOWN_REJECTS);
        }
        return Err(fail(
            Exit::Failure,
            format!(
                "{} rejected line(s); no schedule was written",
                rejects.len()
            ),
        ));
    }
    out.flush().map_err(write_failed)?;
    drop(out);
    std::fs::rename(&temporary, &args.out).map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        fail(
            Exit::Failure,
            format!("cannot write {}: {error}", args.out.display()),
        )
    })?;
    eprint!("{}", summary.render());
    eprintln!(
        "\nplanned {items} item(s) for {} account(s) with strategy `{}` and policy {} in {:.1} s → {}",
        summary.accounts,
        strategy.id,
        policy.digest(),
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(Exit::Ok)
}

fn out_format(path: &Path) -> Result<OutFormat, Exit> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => Ok(OutFormat::Csv),
        Some("jsonl" | "ndjson") => Ok(OutFormat::JsonLines),
        _ => Err(fail(
            Exit::Usage,
            format!(
                "--out {}: name the schedule `….csv` or `….jsonl` to choose its format",
                path.display()
            ),
        )),
    }
}

fn temporary_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

/// Just enough of an account line to group the portfolio by consumer.
#[derive(Deserialize)]
struct AccountKey<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow)]
    consumer: Option<ConsumerKey<'a>>,
}

#[derive(Deserialize)]
struct ConsumerKey<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
}

/// Just enough of an event line to find its account.
#[derive(Deserialize)]
struct EventKey<'a> {
    #[serde(borrow)]
    account_id: Cow<'a, str>,
}

/// The files, indexed: every line by number, accounts grouped by consumer, events by
/// account.
struct Portfolio<'t> {
    /// `(line number, text)` of every account.
    accounts: Vec<(usize, &'t str)>,
    /// `(line number, text)` of every event.
    events: Vec<(usize, &'t str)>,
    /// Indexes into `accounts`, a consumer's debts together.
    consumers: Vec<Vec<usize>>,
    /// Indexes into `events`, by account id.
    events_of: HashMap<Cow<'t, str>, Vec<u32>>,
    /// Lines the first pass rejected.
    rejects: Vec<Reject>,
}

/// One share of a batch's work: the plans of a few hundred consumers.
#[derive(Default)]
struct Batch {
    accounts: u64,
    items: u64,
    output: String,
    summary: Summary,
    rejects: Vec<Reject>,
}

impl<'t> Portfolio<'t> {
    fn index(
        accounts_file: &str,
        accounts_text: &'t str,
        events_file: &str,
        events_text: &'t str,
    ) -> Portfolio<'t> {
        let accounts: Vec<(usize, &str)> = numbered_lines(accounts_text).collect();
        let events: Vec<(usize, &str)> = numbered_lines(events_text).collect();
        let reject = |file: &str, line: usize, field: &str, message: String| Reject {
            file: file.to_string(),
            line,
            field: field.to_string(),
            message,
        };
        // Only the keys are kept; a line that fails is parsed again in full, alone, to
        // name the field at fault.
        let account_keys: Vec<Option<AccountKey<'t>>> = accounts
            .par_iter()
            .map(|&(_, text)| serde_json::from_str::<AccountKey<'t>>(text).ok())
            .collect();
        let account_reject = |line: usize, text: &str| {
            let error = parse_json::<Account>(text.as_bytes())
                .err()
                .unwrap_or_else(|| crate::engine::RequestError {
                    field: "id".into(),
                    message: "missing field `id`".into(),
                });
            reject(accounts_file, line, &error.field, error.message)
        };
        let mut rejects = Vec::new();
        let mut seen: HashSet<Cow<'t, str>> = HashSet::with_capacity(accounts.len());
        let mut keyed = Vec::with_capacity(accounts.len());
        for (index, key) in account_keys.into_iter().enumerate() {
            let Some(key) = key else {
                if let Some(&(line, text)) = accounts.get(index) {
                    rejects.push(account_reject(line, text));
                }
                continue;
            };
            if !seen.insert(key.id.clone()) {
                let line = accounts.get(index).map_or(0, |(line, _)| *line);
                rejects.push(reject(
                    accounts_file,
                    line,
                    "id",
                    format!("account `{}` appears twice in the file", key.id),
                ));
                continue;
            }
            keyed.push((key.consumer.and_then(|c| c.id), index));
        }
        let consumers = group_by_consumer(keyed);
        let event_keys: Vec<Option<Cow<'t, str>>> = events
            .par_iter()
            .map(|&(_, text)| {
                serde_json::from_str::<EventKey<'t>>(text)
                    .ok()
                    .map(|key| key.account_id)
            })
            .collect();
        let mut events_of: HashMap<Cow<'t, str>, Vec<u32>> = HashMap::with_capacity(accounts.len());
        for (index, key) in event_keys.into_iter().enumerate() {
            let (line, text) = events.get(index).copied().unwrap_or((0, ""));
            match (key, u32::try_from(index)) {
                (Some(account), Ok(index)) if seen.contains(&account) => {
                    events_of.entry(account).or_default().push(index);
                }
                (Some(account), _) => rejects.push(reject(
                    events_file,
                    line,
                    "account_id",
                    format!("account `{account}` is not in the portfolio"),
                )),
                (None, _) => {
                    let (field, message) = parse_event_line(text, &mut |_| true)
                        .err()
                        .unwrap_or_else(|| ("account_id".into(), "must be a string".into()));
                    rejects.push(reject(events_file, line, &field, message));
                }
            }
        }
        Portfolio {
            accounts,
            events,
            consumers,
            events_of,
            rejects,
        }
    }

    /// Parses and plans one consumer's debts, rendering the schedule's lines. With
    /// `plan` false (a bad line was seen already) it only parses, to report every bad
    /// line at once.
    fn plan_consumer(
        &self,
        consumer: &[usize],
        (accounts_file, events_file): (&str, &str),
        (strategy, policy, horizon): (&Strategy, &Policy, &Horizon),
        format: OutFormat,
        plan: bool,
        batch: &mut Batch,
    ) {
        batch.accounts += consumer.len() as u64;
        let rejects_before = batch.rejects.len();
        let mut debts = Vec::with_capacity(consumer.len());
        for &index in consumer {
            let Some(&(line, text)) = self.accounts.get(index) else {
                continue;
            };
            let account = match parse_json::<Account>(text.as_bytes()) {
                Ok(account) => account,
                Err(error) => {
                    batch.rejects.push(Reject {
                        file: accounts_file.to_string(),
                        line,
                        field: error.field,
                        message: error.message,
                    });
                    continue;
                }
            };
            let mut ledger: Vec<LedgerEvent> = Vec::new();
            for &event in self
                .events_of
                .get(account.id.as_str())
                .into_iter()
                .flatten()
            {
                let Some(&(line, text)) = self.events.get(event as usize) else {
                    continue;
                };
                match parse_event_line(text, &mut |_| true) {
                    Ok((_, event)) => ledger.push(event),
                    Err((field, message)) => batch.rejects.push(Reject {
                        file: events_file.to_string(),
                        line,
                        field,
                        message,
                    }),
                }
            }
            debts.push(AccountLedger { account, ledger });
        }
        if !plan || batch.rejects.len() > rejects_before {
            return;
        }
        let debts: Vec<&AccountLedger> = debts.iter().collect();
        for account_plan in plan_consumer(&debts, strategy, policy, horizon) {
            batch.summary.add(&account_plan);
            for item in &account_plan.items {
                batch.items += 1;
                match format {
                    OutFormat::Csv => csv_row(item, &mut batch.output),
                    OutFormat::JsonLines => {
                        if let Ok(line) = serde_json::to_string(item) {
                            batch.output.push_str(&line);
                            batch.output.push('\n');
                        }
                    }
                }
            }
        }
    }
}

/// One schedule line in the order of [`CSV_HEADER`].
fn csv_row(item: &PlannedItem, out: &mut String) {
    let decision = item.decision.as_ref();
    let obligations = decision
        .map(|d| {
            d.obligations
                .iter()
                .map(|o| &*o.code)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let outcome = decision.map_or("", |d| d.outcome.as_str());
    let fields: [&str; 15] = [
        &item.account_id,
        &item.step,
        &item.day.to_string(),
        &item.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        item.channel.map_or("", |c| c.as_str()),
        item.purpose.as_str(),
        item.contact_point.as_deref().unwrap_or(""),
        item.dispatch.kind(),
        item.dispatch.name(),
        if item.preferred { "true" } else { "false" },
        item.escalate_to.as_deref().unwrap_or(""),
        outcome,
        &obligations,
        decision.map_or("", |d| &d.policy_digest),
        item.client.as_deref().unwrap_or(""),
    ];
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            let _ = write!(out, "\"{}\"", field.replace('"', "\"\""));
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
}

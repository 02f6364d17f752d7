//! `dunner plan`: fit a strategy into the policy for a whole portfolio, over a horizon
//! of days, and write the schedule (CSV or JSON lines) with a summary on stderr.
//!
//! Built for ten million accounts on a small machine: files in consumer order (a
//! consumer's accounts together, the events grouped by account in the accounts' order,
//! as exports and the generator write them) are streamed — read in blocks, parsed and
//! joined as they come, planned a block at a time on every core (see [`stream`]).
//! Files in any other order are noticed and planned in memory instead: read whole and
//! indexed by a light first pass (account ids, consumer ids, the account of each
//! event), slower and bounded by the machine's memory, but the same schedule. One bad
//! line and no schedule is written (the output goes to a temporary file that is
//! renamed only when everything was good).

mod stream;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Deserialize;

use super::import::{Reject, numbered_lines, parse_event_line};
use super::{Exit, fail};
use crate::clock::{Clock, SystemClock};
use crate::domain::{Account, LedgerEvent};
use crate::engine::parse_json_str;
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

/// The largest `--block-bytes`.
const MAX_BLOCK_BYTES: usize = 1 << 30;

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
    /// How much of the accounts file is read, parsed and planned at a time when the
    /// files are streamed (tests set it small to cross block boundaries).
    #[arg(long, default_value_t = 8 << 20, hide = true)]
    pub block_bytes: usize,
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
    let job = Job {
        accounts_file: args.accounts.display().to_string(),
        events_file: args
            .events
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        strategy: &strategy,
        policy: &policy,
        horizon: &horizon,
        format,
    };

    let mut schedule = Schedule::create(&args.out, format)?;
    let block_bytes = args.block_bytes.clamp(1, MAX_BLOCK_BYTES);
    let planned = match stream::plan(args, &job, block_bytes, &mut schedule) {
        Ok(stream::Streamed::Done(totals)) => Ok(totals),
        Ok(stream::Streamed::OutOfOrder { file, line, why }) => {
            eprintln!(
                "{file}:{line}: {why}; the files are not in consumer order, so they are \
                 planned in memory instead (slower, and both files must fit in memory; \
                 put a consumer's accounts together and the events in the accounts' order \
                 to stream them)"
            );
            schedule
                .restart()
                .and_then(|()| plan_in_memory(args, &job, &mut schedule))
        }
        Err(exit) => Err(exit),
    };
    // A file that cannot be read (or a line that is not text) leaves no partial
    // schedule behind either.
    let totals = match planned {
        Ok(totals) => totals,
        Err(exit) => {
            schedule.discard();
            return Err(exit);
        }
    };
    let Totals {
        summary,
        items,
        mut rejects,
    } = totals;

    if !rejects.is_empty() {
        schedule.discard();
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
    schedule.commit(&args.out)?;
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

/// What a run plans with, shared by both ways of reading the files.
struct Job<'a> {
    accounts_file: String,
    events_file: String,
    strategy: &'a Strategy,
    policy: &'a Policy,
    horizon: &'a Horizon,
    format: OutFormat,
}

/// What a run comes to.
#[derive(Default)]
struct Totals {
    summary: Summary,
    items: u64,
    rejects: Vec<Reject>,
}

impl Totals {
    /// Takes one share of a batch, in the schedule's order: its lines are written only
    /// while no line was rejected (then nothing will be kept, but every bad line is
    /// still named).
    fn take(&mut self, part: Batch, schedule: &mut Schedule) -> Result<(), Exit> {
        self.rejects.extend(part.rejects);
        if self.rejects.is_empty() {
            schedule.write(&part.output)?;
            self.summary.merge(part.summary);
            self.items += part.items;
        }
        Ok(())
    }
}

/// The schedule being written: a temporary file beside `--out`, renamed over it only
/// when every line was good.
struct Schedule {
    temporary: PathBuf,
    format: OutFormat,
    out: std::io::BufWriter<std::fs::File>,
}

impl Schedule {
    fn create(out: &Path, format: OutFormat) -> Result<Schedule, Exit> {
        let temporary = temporary_path(out);
        let file = Self::open(&temporary)?;
        let mut schedule = Schedule {
            temporary,
            format,
            out: std::io::BufWriter::with_capacity(1 << 20, file),
        };
        schedule.header()?;
        Ok(schedule)
    }

    fn open(temporary: &Path) -> Result<std::fs::File, Exit> {
        std::fs::File::create(temporary).map_err(|error| {
            fail(
                Exit::Failure,
                format!("cannot write {}: {error}", temporary.display()),
            )
        })
    }

    fn header(&mut self) -> Result<(), Exit> {
        if self.format == OutFormat::Csv {
            self.write(CSV_HEADER.as_bytes())?;
        }
        Ok(())
    }

    fn write(&mut self, text: &[u8]) -> Result<(), Exit> {
        self.out
            .write_all(text)
            .map_err(|error| self.failed(&error))
    }

    fn failed(&self, error: &std::io::Error) -> Exit {
        let _ = std::fs::remove_file(&self.temporary);
        fail(
            Exit::Failure,
            format!("cannot write {}: {error}", self.temporary.display()),
        )
    }

    /// Starts again from an empty schedule (the streamed one is thrown away).
    fn restart(&mut self) -> Result<(), Exit> {
        let fresh = std::io::BufWriter::with_capacity(1 << 20, Self::open(&self.temporary)?);
        // What the old writer still buffers is dropped unwritten: flushed, it would
        // land in the new file at the old offset.
        let (_file, _unwritten) = std::mem::replace(&mut self.out, fresh).into_parts();
        self.header()
    }

    fn discard(self) {
        drop(self.out);
        let _ = std::fs::remove_file(&self.temporary);
    }

    fn commit(mut self, out: &Path) -> Result<(), Exit> {
        self.out.flush().map_err(|error| self.failed(&error))?;
        let Schedule { temporary, .. } = self;
        std::fs::rename(&temporary, out).map_err(|error| {
            let _ = std::fs::remove_file(&temporary);
            fail(
                Exit::Failure,
                format!("cannot write {}: {error}", out.display()),
            )
        })
    }
}

/// Plans files in any order: both read whole, indexed, then planned in batches.
fn plan_in_memory(args: &PlanArgs, job: &Job<'_>, schedule: &mut Schedule) -> Result<Totals, Exit> {
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
    let portfolio = Portfolio::index(
        &job.accounts_file,
        &accounts_text,
        &job.events_file,
        events_text.as_deref().unwrap_or(""),
    );
    let mut totals = Totals {
        rejects: portfolio.rejects.clone(),
        ..Totals::default()
    };
    let bar = progress_bar(portfolio.accounts.len() as u64, "accounts");
    for batch in portfolio.consumers.chunks(BATCH) {
        let plan = totals.rejects.is_empty();
        let planned: Vec<Batch> = batch
            .par_chunks(PART)
            .map(|consumers| {
                let mut part = Batch::default();
                for consumer in consumers {
                    portfolio.plan_consumer(consumer, job, plan, &mut part);
                }
                part
            })
            .collect();
        for part in planned {
            bar.inc(part.accounts);
            totals.take(part, schedule)?;
        }
    }
    bar.finish_and_clear();
    Ok(totals)
}

fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {unit} {{per_sec}} eta {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
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
    /// The schedule's lines, UTF-8.
    output: Vec<u8>,
    summary: Summary,
    rejects: Vec<Reject>,
    /// A policy digest seen to need no quotes: every decision of a run carries the
    /// policy's one digest, which is then checked once per share, not once per line.
    plain_digest: Option<Arc<str>>,
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
            let error = parse_json_str::<Account>(text).err().unwrap_or_else(|| {
                crate::engine::RequestError {
                    field: "id".into(),
                    message: "missing field `id`".into(),
                }
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
    fn plan_consumer(&self, consumer: &[usize], job: &Job<'_>, plan: bool, batch: &mut Batch) {
        let (accounts_file, events_file) = (&job.accounts_file, &job.events_file);
        batch.accounts += consumer.len() as u64;
        let rejects_before = batch.rejects.len();
        let mut debts = Vec::with_capacity(consumer.len());
        for &index in consumer {
            let Some(&(line, text)) = self.accounts.get(index) else {
                continue;
            };
            let account = match parse_json_str::<Account>(text) {
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
        batch.plan(&debts, job);
    }
}

impl Batch {
    /// Plans one consumer's debts (every one parsed), rendering the schedule's lines
    /// and counting the plans.
    fn plan(&mut self, debts: &[&AccountLedger], job: &Job<'_>) {
        for account_plan in plan_consumer(debts, job.strategy, job.policy, job.horizon) {
            self.summary.add(&account_plan);
            for item in &account_plan.items {
                self.items += 1;
                match job.format {
                    OutFormat::Csv => csv_row(item, &mut self.plain_digest, &mut self.output),
                    OutFormat::JsonLines => {
                        // Straight into the output; an item that cannot be written
                        // (none can) leaves no part of itself.
                        let before = self.output.len();
                        match serde_json::to_writer(&mut self.output, item) {
                            Ok(()) => self.output.push(b'\n'),
                            Err(_) => self.output.truncate(before),
                        }
                    }
                }
            }
        }
    }
}

/// One schedule line in the order of [`CSV_HEADER`], written straight into `out`: no
/// field is built as a string of its own (a line per planned item, 15 M at ten million
/// accounts).
fn csv_row(item: &PlannedItem, plain_digest: &mut Option<Arc<str>>, out: &mut Vec<u8>) {
    let decision = item.decision.as_ref();
    csv_field(out, &item.account_id);
    out.push(b',');
    csv_field(out, &item.step);
    out.push(b',');
    push_date(out, item.day);
    out.push(b',');
    push_instant(out, item.at);
    for field in [
        item.channel.map_or("", |c| c.as_str()),
        item.purpose.as_str(),
        item.contact_point.as_deref().unwrap_or(""),
        item.dispatch.kind(),
        item.dispatch.name(),
        if item.preferred { "true" } else { "false" },
        item.escalate_to.as_deref().unwrap_or(""),
        decision.map_or("", |d| d.outcome.as_str()),
    ] {
        out.push(b',');
        csv_field(out, field);
    }
    out.push(b',');
    let codes = decision.map(|d| &d.obligations[..]).unwrap_or_default();
    if codes.iter().any(|o| needs_quotes(&o.code)) {
        let joined: Vec<&str> = codes.iter().map(|o| &*o.code).collect();
        csv_field(out, &joined.join(" "));
    } else {
        for (index, obligation) in codes.iter().enumerate() {
            if index > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(obligation.code.as_bytes());
        }
    }
    out.push(b',');
    if let Some(decision) = decision {
        push_digest(out, &decision.policy_digest, plain_digest);
    }
    out.push(b',');
    csv_field(out, item.client.as_deref().unwrap_or(""));
    out.push(b'\n');
}

/// A policy digest as [`csv_field`] writes it, checked for separators only when it is
/// not the one `plain` was seen to have none.
fn push_digest(out: &mut Vec<u8>, digest: &Arc<str>, plain: &mut Option<Arc<str>>) {
    if plain.as_ref().is_some_and(|p| Arc::ptr_eq(p, digest)) {
        out.extend_from_slice(digest.as_bytes());
        return;
    }
    if !needs_quotes(digest) {
        *plain = Some(Arc::clone(digest));
    }
    csv_field(out, digest);
}

/// Whether a CSV field must be quoted. Eight bytes at a time (every field of every
/// line goes through it): a word holds one of the four bytes when its XOR with that
/// byte repeated has a zero byte.
fn needs_quotes(field: &str) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGHS != 0
    };
    let mut chunks = field.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        // Always eight bytes; a separator stands in for the impossible failure, so
        // that it could only quote a field, never leave one bare.
        let word = u64::from_ne_bytes(<[u8; 8]>::try_from(chunk).unwrap_or([b','; 8]));
        if has(word, b',') || has(word, b'"') || has(word, b'\n') || has(word, b'\r') {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|byte| matches!(byte, b',' | b'"' | b'\n' | b'\r'))
}

/// A CSV field, quoted (its quotes doubled) when it holds a separator.
fn csv_field(out: &mut Vec<u8>, field: &str) {
    if !needs_quotes(field) {
        out.extend_from_slice(field.as_bytes());
        return;
    }
    out.push(b'"');
    for piece in field.split_inclusive('"') {
        out.extend_from_slice(piece.as_bytes());
        if piece.ends_with('"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

/// A day as `NaiveDate`'s `Display` writes it (`2026-11-23`).
fn push_date(out: &mut Vec<u8>, day: NaiveDate) {
    match u32::try_from(day.year()) {
        Ok(year) if year <= 9999 => {
            push_digits(out, year / 100);
            push_digits(out, year % 100);
            out.push(b'-');
            push_digits(out, day.month());
            out.push(b'-');
            push_digits(out, day.day());
        }
        // Years of other widths (signed, or five digits): chrono's own writing.
        _ => out.extend_from_slice(day.to_string().as_bytes()),
    }
}

/// An instant as `to_rfc3339_opts(SecondsFormat::Secs, true)` writes it
/// (`2026-11-23T14:05:00Z`).
fn push_instant(out: &mut Vec<u8>, at: DateTime<Utc>) {
    let time = at.time();
    // A leap second (written `:60`) and years of other widths: chrono's own writing.
    if time.nanosecond() >= 1_000_000_000 || !(0..=9999).contains(&at.year()) {
        let text = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        out.extend_from_slice(text.as_bytes());
        return;
    }
    push_date(out, at.date_naive());
    out.push(b'T');
    push_digits(out, time.hour());
    out.push(b':');
    push_digits(out, time.minute());
    out.push(b':');
    push_digits(out, time.second());
    out.push(b'Z');
}

/// Two decimal digits of `value` (below 100).
fn push_digits(out: &mut Vec<u8>, value: u32) {
    let digit = |n: u32| b'0' + u8::try_from(n % 10).unwrap_or(0);
    out.push(digit(value / 10));
    out.push(digit(value));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Days and instants written by hand are written as chrono writes them, including
    /// the years and the leap second left to chrono.
    #[test]
    fn days_and_instants_are_written_as_chrono_writes_them() {
        let days = [
            (2026, 11, 23),
            (1, 1, 1),
            (999, 12, 31),
            (9999, 12, 31),
            (10000, 1, 1),
            (0, 1, 1),
            (-1, 6, 30),
        ];
        for (year, month, day) in days {
            let date = NaiveDate::from_ymd_opt(year, month, day).unwrap();
            let mut out = Vec::new();
            push_date(&mut out, date);
            assert_eq!(String::from_utf8(out).unwrap(), date.to_string());
            for (hour, minute, second, nano) in [
                (0, 0, 0, 0),
                (9, 5, 7, 999_999_999),
                (23, 59, 59, 1_500_000_000),
            ] {
                let time =
                    chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nano).unwrap();
                let at = date.and_time(time).and_utc();
                let mut out = Vec::new();
                push_instant(&mut out, at);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "{at:?}"
                );
            }
        }
    }

    /// The eight-bytes-at-a-time check finds each separator at every place of fields
    /// long and short, and nothing in fields of other bytes (UTF-8 ones included).
    #[test]
    fn needs_quotes_finds_a_separator_wherever_it_is() {
        let fillers = ["a", "é", "\u{7f}", "\u{ff}", "+", "\u{2c}x"];
        for filler in fillers {
            for len in 0..40 {
                let plain: String = filler.repeat(len);
                let naive = plain
                    .bytes()
                    .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
                assert_eq!(needs_quotes(&plain), naive, "{plain:?}");
                for special in [',', '"', '\n', '\r'] {
                    for at in 0..=plain.len() {
                        if !plain.is_char_boundary(at) {
                            continue;
                        }
                        let mut field = plain.clone();
                        field.insert(at, special);
                        assert!(needs_quotes(&field), "{field:?}");
                    }
                }
            }
        }
        for byte in 0..=0x7f_u8 {
            let field = String::from(char::from(byte)).repeat(9);
            assert_eq!(
                needs_quotes(&field),
                matches!(byte, b',' | b'"' | b'\n' | b'\r'),
                "{byte:#x}"
            );
        }
    }

    /// The digest is written bare once seen to need no quotes, and quoted otherwise,
    /// as any other field.
    #[test]
    fn digests_are_written_as_other_fields() {
        let mut plain = None;
        for digest in ["sha256:abc", "sha256:abc", "odd,digest", "sha256:abc"] {
            let digest: Arc<str> = Arc::from(digest);
            for _ in 0..2 {
                let mut cached = Vec::new();
                push_digest(&mut cached, &digest, &mut plain);
                let mut direct = Vec::new();
                csv_field(&mut direct, &digest);
                assert_eq!(cached, direct, "{digest}");
                assert!(plain.as_deref().is_some_and(|p| !needs_quotes(p)));
            }
        }
    }

    #[test]
    fn csv_fields_are_quoted_only_when_they_hold_a_separator() {
        for (field, written) in [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("\"", "\"\"\"\""),
            ("line\nbreak", "\"line\nbreak\""),
            ("cr\r", "\"cr\r\""),
            ("", ""),
        ] {
            let mut out = Vec::new();
            csv_field(&mut out, field);
            assert_eq!(String::from_utf8(out).unwrap(), written, "{field:?}");
        }
    }
}

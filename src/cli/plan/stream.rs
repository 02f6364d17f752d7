//! `dunner plan` over files too big to hold: both files are read in blocks, parsed on
//! every core and joined as they come, so that memory stays bounded whatever the size
//! of the portfolio.
//!
//! The join assumes the order exports and the generator write: a consumer's accounts
//! together, and the events grouped by account in the accounts' order. A consumer is
//! planned only once all its accounts and all their events were read (caps count across
//! a consumer's debts), so any other order must be noticed, never planned: an account
//! or a consumer seen twice apart (by a 64-bit fingerprint of its id, so a collision
//! only costs the slower path), or events left over at the end (an event for an account
//! already planned, or for none) stop the stream with [`Streamed::OutOfOrder`], and the
//! caller plans the files in memory instead. The schedule written so far is thrown away.
//!
//! Four stages overlap: a thread per file reads its blocks and parses them (in
//! parallel) one block ahead; the joining thread checks the order and joins each block
//! of accounts to the events that follow them; the caller's thread plans the block
//! before (in parallel) and writes it in input order. The join is serial, so reading and
//! parsing the next blocks meanwhile keeps both cores busy (it used to parse them
//! itself, leaving a core idle while it joined). Channels of one block between the
//! stages bound memory to about six blocks plus the fingerprints (16 bytes per account
//! and per consumer).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use rayon::prelude::*;
use smallvec::SmallVec;

use super::super::import::{Reject, parse_event_line};
use super::super::{Exit, fail};
use super::{AccountKey, Batch, EventKey, Job, PART, PlanArgs, Schedule, Totals, progress_bar};
use crate::domain::{Account, AccountLedger, LedgerEvent};
use crate::engine::parse_json_str;

/// How a streamed run ended.
pub(super) enum Streamed {
    /// Every line was read and joined, the schedule written while no line was bad.
    Done(Totals),
    /// The files are not in consumer order; where it showed.
    OutOfOrder {
        file: String,
        line: usize,
        why: String,
    },
}

/// Plans the files a block at a time, writing the schedule in input order.
pub(super) fn plan(
    args: &PlanArgs,
    job: &Job<'_>,
    block_bytes: usize,
    schedule: &mut Schedule,
) -> Result<Streamed, Exit> {
    let accounts = Lines::open(&args.accounts, block_bytes)?;
    let events = match &args.events {
        Some(path) => Some(Lines::open(path, block_bytes.saturating_mul(2))?),
        None => None,
    };
    let total = std::fs::metadata(&args.accounts).map_or(0, |m| m.len());
    let bar = progress_bar(total, "bytes of accounts");
    let (sender, receiver) = sync_channel::<Result<Chunk, Stop>>(1);
    let streamed = std::thread::scope(|scope| {
        let accounts_file = job.accounts_file.as_str();
        let accounts = Ahead::spawn(
            scope,
            accounts,
            accounts_file,
            || (),
            move |(), line, text| parse_account(accounts_file, line, text),
        );
        let events_file = job.events_file.as_str();
        let events = events.map(|lines| {
            Ahead::spawn(
                scope,
                lines,
                events_file,
                String::new,
                move |scratch, line, text| parse_event(events_file, line, text, scratch),
            )
        });
        let reader = Reader {
            job,
            accounts,
            events: Events {
                ahead: events,
                queue: Vec::new().into_iter(),
            },
            seen_accounts: Fingerprints::default(),
            seen_consumers: Fingerprints::default(),
            last_consumer: None,
            pending: Vec::new(),
        };
        scope.spawn(move || reader.run(&sender));
        // The receiver is dropped when planning stops, so that a reader blocked on a
        // full channel ends too (and with it the threads reading ahead for it).
        plan_chunks(receiver, job, schedule, &bar)
    });
    bar.finish_and_clear();
    streamed
}

/// About the bytes of schedule a consumer comes to (320 on the generated portfolios'
/// CSV): a share's output is sized for them at once, not doubled (and copied) as it
/// grows.
const OUTPUT_PER_CONSUMER: usize = 384;

/// Plans every chunk the reader sends, in order, until the end or a stop.
fn plan_chunks(
    receiver: Receiver<Result<Chunk, Stop>>,
    job: &Job<'_>,
    schedule: &mut Schedule,
    bar: &indicatif::ProgressBar,
) -> Result<Streamed, Exit> {
    let mut totals = Totals::default();
    // The reader ends by sending `Stop::End`; a closed channel without it means it
    // failed, which `Stop::Failed` reports first.
    while let Ok(message) = receiver.recv() {
        let chunk = match message {
            Ok(chunk) => chunk,
            Err(Stop::End) => return Ok(Streamed::Done(totals)),
            Err(Stop::OutOfOrder { file, line, why }) => {
                return Ok(Streamed::OutOfOrder { file, line, why });
            }
            Err(Stop::Failed(exit)) => return Err(exit),
        };
        totals.rejects.extend(chunk.rejects);
        let plan = totals.rejects.is_empty();
        // The workers own the consumers, so that their parsed accounts and events are
        // freed on every core rather than on this thread.
        let planned: Vec<Batch> = chunk
            .consumers
            .into_par_iter()
            .chunks(PART)
            .map(|consumers| {
                let mut part = Batch {
                    output: Vec::with_capacity(consumers.len() * OUTPUT_PER_CONSUMER),
                    ..Batch::default()
                };
                for consumer in consumers {
                    plan_consumer(&consumer, job, plan, &mut part);
                }
                part
            })
            .collect();
        for part in planned {
            totals.take(part, schedule)?;
        }
        bar.inc(chunk.bytes);
    }
    Err(fail(
        Exit::Failure,
        "the reading thread stopped without a word".to_string(),
    ))
}

/// Plans one consumer whose debts were parsed by the reader, as
/// `Portfolio::plan_consumer` does for the files in memory: a debt whose account line
/// is bad is named and not planned (its events are not looked at); a bad event names
/// its line; with `plan` false or any bad line, nothing is planned.
fn plan_consumer(consumer: &[Debt], job: &Job<'_>, plan: bool, batch: &mut Batch) {
    batch.accounts += consumer.len() as u64;
    let rejects_before = batch.rejects.len();
    let mut debts = Vec::with_capacity(consumer.len());
    for debt in consumer {
        match &debt.ledger {
            Ok(ledger) => {
                batch.rejects.extend(debt.event_rejects.iter().cloned());
                debts.push(ledger);
            }
            Err(reject) => batch.rejects.push(reject.clone()),
        }
    }
    if !plan || batch.rejects.len() > rejects_before {
        return;
    }
    batch.plan(&debts, job);
}

/// A block of accounts, grouped by consumer and joined to their events.
struct Chunk {
    consumers: Vec<Vec<Debt>>,
    /// Lines whose account or event could not even be identified.
    rejects: Vec<Reject>,
    /// Bytes of the accounts file read for it (for the progress bar).
    bytes: u64,
}

/// One account with its history, or why its line is bad.
struct Debt {
    ledger: Result<AccountLedger, Reject>,
    /// Its bad events (named only when the account itself is good).
    event_rejects: Vec<Reject>,
}

/// Why the reader stopped.
enum Stop {
    End,
    OutOfOrder {
        file: String,
        line: usize,
        why: String,
    },
    Failed(Exit),
}

/// An account line, parsed.
struct ParsedAccount {
    line: usize,
    /// A bad line's account id and consumer id, when it has them (its events still
    /// belong to it); a good line's are the account's own, not copied (see
    /// [`ParsedAccount::id`]).
    bad_id: Option<String>,
    bad_consumer: Option<String>,
    /// Their fingerprints, taken by the parsing worker (hashing on every core) so that
    /// the reading thread only looks them up.
    id_print: u64,
    consumer_print: u64,
    account: Result<Account, Reject>,
}

impl ParsedAccount {
    /// The account's id, when the line has one (even if the account is otherwise bad).
    fn id(&self) -> Option<&str> {
        match &self.account {
            Ok(account) => Some(&account.id),
            Err(_) => self.bad_id.as_deref(),
        }
    }

    /// Its consumer's id, when the line has one.
    fn consumer(&self) -> Option<&str> {
        match &self.account {
            Ok(account) => account.consumer.id.as_deref(),
            Err(_) => self.bad_consumer.as_deref(),
        }
    }
}

/// An event line, parsed.
struct ParsedEvent {
    line: usize,
    /// Its account, when the line names one.
    account: Option<EventAccount>,
    event: Result<LedgerEvent, Reject>,
}

/// An event's account id, as bytes of UTF-8, inline when it is short (as every id the
/// generator writes): the parsing worker would allocate one per event and the joining
/// thread free it, across threads. Compared as bytes, as the accounts' ids are.
type EventAccount = SmallVec<[u8; 24]>;

/// The reading stage: blocks of accounts, the events that follow them, checked to be
/// in consumer order.
struct Reader<'a, 'j> {
    job: &'a Job<'j>,
    accounts: Ahead<'a, ParsedAccount>,
    events: Events<'a>,
    /// Every account id read so far, and every consumer id whose run of accounts ended.
    seen_accounts: Fingerprints,
    seen_consumers: Fingerprints,
    /// The consumer of the previous account line.
    last_consumer: Option<String>,
    /// The last consumer of the previous block, whose accounts may go on in the next.
    pending: Vec<ParsedAccount>,
}

impl Reader<'_, '_> {
    fn run(mut self, sender: &SyncSender<Result<Chunk, Stop>>) {
        loop {
            let (message, last) = match self.next_chunk() {
                Ok(Some(chunk)) => (Ok(chunk), false),
                Ok(None) => (Err(Stop::End), true),
                Err(stop) => (Err(stop), true),
            };
            // A closed channel: the planning side failed (and says why).
            if sender.send(message).is_err() || last {
                return;
            }
        }
    }

    /// The next block of accounts with their events; `None` after the last.
    fn next_chunk(&mut self) -> Result<Option<Chunk>, Stop> {
        let Some(Parsed {
            lines: parsed,
            bytes,
        }) = self.accounts.next()?
        else {
            if !self.pending.is_empty() {
                let ready = std::mem::take(&mut self.pending);
                return self.join(ready, Vec::new(), 0, true).map(Some);
            }
            self.events.check_drained()?;
            return Ok(None);
        };
        let mut rejects = Vec::new();
        let mut ready = std::mem::take(&mut self.pending);
        ready.reserve(parsed.len());
        for account in parsed.into_iter().flatten() {
            let Some(id) = account.id() else {
                if let Err(reject) = account.account {
                    rejects.push(reject);
                }
                continue;
            };
            if !self.seen_accounts.insert(account.id_print) {
                return Err(self.out_of_order(
                    account.line,
                    format!("account `{id}` appears twice (or shares a fingerprint)"),
                ));
            }
            // The run is told by the id itself, so that two consumers sharing a
            // fingerprint can only be taken for one seen twice (the slower path), never
            // for one run.
            if let Some(name) = account.consumer()
                && self.last_consumer.as_deref() != Some(name)
                && !self.seen_consumers.insert(account.consumer_print)
            {
                return Err(self.out_of_order(
                    account.line,
                    format!("consumer `{name}` has accounts apart from each other"),
                ));
            }
            remember(&mut self.last_consumer, account.consumer());
            ready.push(account);
        }
        // The last consumer may go on in the next block: it waits for it.
        if let Some(last) = ready.last().and_then(ParsedAccount::consumer) {
            let start = ready
                .iter()
                .rposition(|a| a.consumer() != Some(last))
                .map_or(0, |index| index + 1);
            self.pending = ready.split_off(start);
        }
        self.join(ready, rejects, bytes, false).map(Some)
    }

    /// Joins accounts to the events that follow in the events file and groups them by
    /// consumer (a run of accounts with one consumer id; no id, a consumer of its own).
    fn join(
        &mut self,
        ready: Vec<ParsedAccount>,
        mut rejects: Vec<Reject>,
        bytes: u64,
        last: bool,
    ) -> Result<Chunk, Stop> {
        let mut ledgers: Vec<(Vec<LedgerEvent>, Vec<Reject>)> = Vec::new();
        ledgers.resize_with(ready.len(), Default::default);
        // Events come in the accounts' order, so each is looked for from the account
        // of the one before on: a merge, with no index. An event for an earlier account
        // of the block (allowed, as it is still before the block is planned) is found
        // by an index built the first time one is seen.
        let mut at = 0;
        let mut index: Option<HashMap<&[u8], usize>> = None;
        while let Some(event) = self.events.peek()? {
            let Some(account) = &event.account else {
                if let Some(ParsedEvent {
                    event: Err(reject), ..
                }) = self.events.pop()
                {
                    rejects.push(reject);
                }
                continue;
            };
            let ahead = ready
                .get(at..)
                .unwrap_or_default()
                .iter()
                .position(|debt| debt.id().map(str::as_bytes) == Some(&account[..]))
                .map(|offset| at + offset);
            let position = match ahead {
                Some(position) => {
                    at = position;
                    Some(position)
                }
                // Every account of the block is among those seen: an account never seen
                // belongs to a later block (the usual end of a block's events), as do
                // those of the consumer held back for the next block. The id is hashed
                // here, about once a block, rather than for every event by the parsing
                // workers.
                None if !self.seen_accounts.contains(fingerprint(&account[..]))
                    || self
                        .pending
                        .iter()
                        .any(|debt| debt.id().map(str::as_bytes) == Some(&account[..])) =>
                {
                    None
                }
                None => index
                    .get_or_insert_with(|| {
                        ready
                            .iter()
                            .enumerate()
                            .filter_map(|(position, debt)| Some((debt.id()?.as_bytes(), position)))
                            .collect()
                    })
                    .get(&account[..])
                    .copied(),
            };
            let Some(slot) = position.and_then(|position| ledgers.get_mut(position)) else {
                // Another block's account (or an error the end will show).
                break;
            };
            // An account's events come together: its ledger is sized for them once
            // rather than grown (and moved) as they are pushed.
            if slot.0.capacity() == 0 {
                slot.0.reserve_exact(self.events.run());
            }
            if let Some(event) = self.events.pop() {
                match event.event {
                    Ok(event) => slot.0.push(event),
                    Err(reject) => slot.1.push(reject),
                }
            }
        }
        drop(index);
        if last {
            self.events.check_drained()?;
        }
        let mut consumers: Vec<Vec<Debt>> = Vec::new();
        let mut previous: Option<String> = None;
        for (account, (ledger, event_rejects)) in ready.into_iter().zip(ledgers) {
            let consumer = account.consumer();
            let same_consumer = consumer.is_some() && previous.as_deref() == consumer;
            if !same_consumer {
                remember(&mut previous, consumer);
            }
            let debt = Debt {
                ledger: account
                    .account
                    .map(|account| AccountLedger { account, ledger }),
                event_rejects,
            };
            match consumers.last_mut() {
                Some(group) if same_consumer => group.push(debt),
                _ => consumers.push(vec![debt]),
            }
        }
        Ok(Chunk {
            consumers,
            rejects,
            bytes,
        })
    }

    fn out_of_order(&self, line: usize, why: String) -> Stop {
        Stop::OutOfOrder {
            file: self.job.accounts_file.clone(),
            line,
            why,
        }
    }
}

/// Keeps a copy of `consumer` in `last`, in its buffer when it has one (a consumer id
/// per account would otherwise be allocated on the joining thread).
fn remember(last: &mut Option<String>, consumer: Option<&str>) {
    match (consumer, last) {
        (Some(consumer), Some(last)) => consumer.clone_into(last),
        (consumer, last) => *last = consumer.map(str::to_string),
    }
}

/// Parses an account line; a bad one is parsed again for its keys alone, so that its
/// events are still recognised as its own.
fn parse_account(file: &str, line: usize, text: &str) -> ParsedAccount {
    match parse_json_str::<Account>(text) {
        Ok(account) => ParsedAccount {
            line,
            id_print: fingerprint(&account.id),
            consumer_print: account.consumer.id.as_deref().map_or(0, fingerprint),
            bad_id: None,
            bad_consumer: None,
            account: Ok(account),
        },
        Err(error) => {
            let key = serde_json::from_str::<AccountKey<'_>>(text).ok();
            let consumer = key
                .as_ref()
                .and_then(|k| k.consumer.as_ref())
                .and_then(|c| c.id.as_deref())
                .map(str::to_string);
            let id = key.map(|k| k.id.into_owned());
            ParsedAccount {
                line,
                id_print: id.as_deref().map_or(0, fingerprint),
                consumer_print: consumer.as_deref().map_or(0, fingerprint),
                bad_id: id,
                bad_consumer: consumer,
                account: Err(Reject {
                    file: file.to_string(),
                    line,
                    field: error.field,
                    message: error.message,
                }),
            }
        }
    }
}

/// The events file, a block at a time as the join asks for more (none without a file).
struct Events<'a> {
    ahead: Option<Ahead<'a, ParsedEvent>>,
    /// The parsed events of the last block read, not yet joined (`None` for a blank
    /// line).
    queue: std::vec::IntoIter<Option<ParsedEvent>>,
}

impl Events<'_> {
    /// The next event, taking the next parsed block when needed.
    fn peek(&mut self) -> Result<Option<&ParsedEvent>, Stop> {
        loop {
            while let Some(None) = self.queue.as_slice().first() {
                self.queue.next();
            }
            if !self.queue.as_slice().is_empty() {
                break;
            }
            let Some(ahead) = &mut self.ahead else {
                return Ok(None);
            };
            let Some(block) = ahead.next()? else {
                return Ok(None);
            };
            self.queue = block.lines.into_iter();
        }
        Ok(self.queue.as_slice().first().and_then(Option::as_ref))
    }

    /// How many good events of the next event's account follow one another from it
    /// on, among those parsed already.
    fn run(&self) -> usize {
        let queued = self.queue.as_slice();
        let account = queued
            .first()
            .and_then(|event| event.as_ref()?.account.as_deref());
        queued
            .iter()
            .take_while(|event| {
                event.as_ref().is_some_and(|e| {
                    e.event.is_ok() && account.is_some() && e.account.as_deref() == account
                })
            })
            .count()
    }

    /// The event [`Events::peek`] showed.
    fn pop(&mut self) -> Option<ParsedEvent> {
        self.queue.next().flatten()
    }

    /// After the last account: an event still unread belongs to an account planned
    /// already, or to none.
    fn check_drained(&mut self) -> Result<(), Stop> {
        let file = self
            .ahead
            .as_ref()
            .map(|ahead| ahead.file.to_string())
            .unwrap_or_default();
        match self.peek()? {
            None => Ok(()),
            Some(event) => Err(Stop::OutOfOrder {
                file,
                line: event.line,
                why: format!(
                    "the event of account `{}` does not follow that account's earlier \
                     events in the order of the accounts file (or the account is not in it)",
                    String::from_utf8_lossy(event.account.as_deref().unwrap_or_default())
                ),
            }),
        }
    }
}

/// Parses an event line (`scratch` a buffer the worker reuses); a bad one is parsed
/// again for its account alone.
fn parse_event(file: &str, line: usize, text: &str, scratch: &mut String) -> ParsedEvent {
    let id = |account: &str| EventAccount::from_slice(account.as_bytes());
    let (account, event) = match parse_event_directly(text, scratch) {
        Some((account, event)) => (Some(id(account)), Ok(event)),
        None => match parse_event_line(text, &mut |_| true) {
            Ok((account, event)) => (Some(id(&account)), Ok(event)),
            Err((field, message)) => (
                serde_json::from_str::<EventKey<'_>>(text)
                    .ok()
                    .map(|key| id(&key.account_id)),
                Err(Reject {
                    file: file.to_string(),
                    line,
                    field,
                    message,
                }),
            ),
        },
    };
    ParsedEvent {
        line,
        account,
        event,
    }
}

/// An event line of the shape exports and the generator write, `{"account_id":"<id>",`
/// then the event's own fields, parsed straight into the event: building the map that
/// [`parse_event_line`] takes the account id out of costs as much again. Anything else,
/// and any error, is `None` and goes that general way (which names the error): what
/// this accepts, it accepts the same (no duplicate key can pass, as the event refuses
/// them and an `account_id` among its fields).
fn parse_event_directly<'t>(text: &'t str, scratch: &mut String) -> Option<(&'t str, LedgerEvent)> {
    let rest = text.strip_prefix(r#"{"account_id":""#)?;
    let end = memchr::memchr(b'"', rest.as_bytes())?;
    let account = rest.get(..end)?;
    // An escape or a control character: JSON decides what the id is (or that it is
    // none).
    if account.bytes().any(|byte| byte == b'\\' || byte < 0x20) {
        return None;
    }
    let fields = rest.get(end + 1..)?.strip_prefix(',')?;
    scratch.clear();
    scratch.push('{');
    scratch.push_str(fields);
    let event: LedgerEvent = parse_json_str(scratch).ok()?;
    event.validate().ok()?;
    Some((account, event))
}

/// Parses a block's lines on every core (`init` makes a worker's scratch state), in
/// their places: a blank line is `None`. A line that is not UTF-8 fails the run as
/// reading the file as text does. The workers check and trim the lines, so that the
/// reading thread only finds where they end; each parsed line is written once, into its
/// place (leaving the blank ones out would gather the results in pieces and copy them
/// again).
fn parse_lines<T: Send, S>(
    block: &Block,
    file: &str,
    init: impl Fn() -> S + Sync + Send,
    parse: impl Fn(&mut S, usize, &str) -> T + Sync + Send,
) -> Result<Vec<Option<T>>, Stop> {
    let not_text = AtomicBool::new(false);
    let parsed: Vec<Option<T>> = block
        .lines()
        .par_iter()
        .map_init(init, |scratch, &(line, bytes)| {
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    let text = text.trim();
                    (!text.is_empty()).then(|| parse(scratch, line, text))
                }
                Err(_) => {
                    not_text.store(true, Ordering::Relaxed);
                    None
                }
            }
        })
        .collect();
    if not_text.load(Ordering::Relaxed) {
        return Err(Stop::Failed(fail(
            Exit::Failure,
            format!("cannot read {file}: stream did not contain valid UTF-8"),
        )));
    }
    Ok(parsed)
}

/// A file's blocks, read and parsed on a thread of their own one block ahead of the
/// join, so that the join of one block overlaps the reading and parsing of the next.
struct Ahead<'a, T> {
    /// `None` once the end was received.
    receiver: Option<Receiver<Result<Option<Parsed<T>>, Stop>>>,
    file: &'a str,
}

/// A block's lines, parsed in their places (`None` for a blank line).
struct Parsed<T> {
    lines: Vec<Option<T>>,
    /// The bytes of the file they were (for the progress bar).
    bytes: u64,
}

impl<'a, T: Send + 'a> Ahead<'a, T> {
    /// Starts reading `lines` on a thread of the scope, parsing each block on every
    /// core (`init` makes a worker's scratch state).
    fn spawn<'scope, S>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        mut lines: Lines,
        file: &'a str,
        init: impl Fn() -> S + Sync + Send + 'scope,
        parse: impl Fn(&mut S, usize, &str) -> T + Sync + Send + 'scope,
    ) -> Ahead<'a, T>
    where
        'a: 'scope,
        T: 'scope,
    {
        let (sender, receiver) = sync_channel(1);
        scope.spawn(move || {
            loop {
                let message = match lines.block() {
                    Ok(Some(block)) => {
                        let parsed = parse_lines(&block, file, &init, &parse);
                        let bytes = block.data.len() as u64;
                        lines.recycle(block);
                        parsed.map(|parsed| {
                            Some(Parsed {
                                lines: parsed,
                                bytes,
                            })
                        })
                    }
                    Ok(None) => Ok(None),
                    Err(error) => Err(Stop::Failed(fail(
                        Exit::Failure,
                        format!("cannot read {file}: {error}"),
                    ))),
                };
                let last = !matches!(message, Ok(Some(_)));
                // A closed channel: the join stopped (and the planning side says why).
                if sender.send(message).is_err() || last {
                    return;
                }
            }
        });
        Ahead {
            receiver: Some(receiver),
            file,
        }
    }

    /// The next parsed block; `None` after the last (and on every call after it). The
    /// end is a message of its own, so that a thread that stopped without it is a
    /// failure, never the end of the file.
    fn next(&mut self) -> Result<Option<Parsed<T>>, Stop> {
        let Some(receiver) = &self.receiver else {
            return Ok(None);
        };
        match receiver.recv() {
            Ok(Ok(Some(parsed))) => Ok(Some(parsed)),
            Ok(Ok(None)) => {
                self.receiver = None;
                Ok(None)
            }
            Ok(Err(stop)) => Err(stop),
            Err(_) => Err(Stop::Failed(fail(
                Exit::Failure,
                format!("the thread reading {} stopped without a word", self.file),
            ))),
        }
    }
}

/// A JSON-lines file read in blocks of whole lines.
struct Lines {
    file: std::fs::File,
    /// Roughly how many bytes a block holds (a block ends at the end of a line).
    size: usize,
    /// The start of a line the previous block could not hold.
    carry: Vec<u8>,
    /// The number of the next block's first line.
    next_line: usize,
    /// The buffers of the last block, for the next.
    spare: Block,
    done: bool,
    /// The bytes of the file not read yet, as its length said at the start (a hint).
    left: usize,
}

/// Whole lines of a file (bytes, not yet checked to be text), and the number of the
/// first.
#[derive(Default)]
struct Block {
    first_line: usize,
    data: Vec<u8>,
    /// Where each line starts and ends in `data`, without its `\n`.
    spans: Vec<(usize, usize)>,
}

impl Block {
    /// Every line with its 1-based number in the file, blank ones too.
    fn lines(&self) -> Vec<(usize, &[u8])> {
        (self.first_line..)
            .zip(&self.spans)
            .map(|(number, &(start, end))| (number, self.data.get(start..end).unwrap_or_default()))
            .collect()
    }
}

impl Lines {
    fn open(path: &std::path::Path, size: usize) -> Result<Lines, Exit> {
        let file = std::fs::File::open(path).map_err(|error| {
            fail(
                Exit::Failure,
                format!("cannot read {}: {error}", path.display()),
            )
        })?;
        let left = file.metadata().map_or(usize::MAX, |m| {
            usize::try_from(m.len()).unwrap_or(usize::MAX)
        });
        Ok(Lines {
            file,
            left,
            size: size.max(1),
            carry: Vec::new(),
            next_line: 1,
            spare: Block::default(),
            done: false,
        })
    }

    /// The next block; `None` at the end of the file.
    fn block(&mut self) -> std::io::Result<Option<Block>> {
        // The previous block's buffers, read into without zeroing them first: fresh
        // buffers cost a page fault (and the kernel's zeroing) per page, as much as
        // the reading.
        let Block {
            mut data,
            mut spans,
            ..
        } = std::mem::take(&mut self.spare);
        data.clear();
        data.append(&mut self.carry);
        // Room for a whole read at once (the first block's buffer would otherwise grow
        // by doubling, copied at each step): reserved only, so untouched pages cost
        // nothing, and a file smaller than a block takes no more than its size.
        data.reserve(self.size.min(self.left));
        while !self.done {
            if data.len() >= self.size
                && let Some(end) = memchr::memrchr(b'\n', &data)
            {
                self.carry
                    .extend_from_slice(data.get(end + 1..).unwrap_or_default());
                data.truncate(end + 1);
                break;
            }
            let want = self.size as u64;
            let read = (&mut self.file).take(want).read_to_end(&mut data)? as u64;
            self.left = self
                .left
                .saturating_sub(usize::try_from(read).unwrap_or(usize::MAX));
            // `read_to_end` stops short of `want` only at the end of the file.
            self.done = read < want;
        }
        if data.is_empty() {
            return Ok(None);
        }
        spans.clear();
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &data) {
            spans.push((start, end));
            start = end + 1;
        }
        if start < data.len() {
            spans.push((start, data.len()));
        }
        let first_line = self.next_line;
        self.next_line += spans.len();
        Ok(Some(Block {
            first_line,
            data,
            spans,
        }))
    }

    /// Takes back a block read and parsed, to read the next one into its buffers.
    fn recycle(&mut self, block: Block) {
        self.spare = block;
    }
}

/// Ids seen, as 64-bit fingerprints: a tenth of the memory of the ids themselves. Two
/// ids with one fingerprint look like one id seen twice, which only sends the run to
/// the slower path (about one chance in 370,000 at ten million ids).
#[derive(Default)]
struct Fingerprints(HashSet<u64, BuildHasherDefault<Prehashed>>);

impl Fingerprints {
    /// Whether the id of this [`fingerprint`] is new.
    fn insert(&mut self, print: u64) -> bool {
        self.0.insert(print)
    }

    /// Whether the id of this fingerprint may have been seen.
    fn contains(&self, print: u64) -> bool {
        self.0.contains(&print)
    }
}

/// A hash of an id, with the fixed keys of `DefaultHasher::new` (the same throughout a
/// run, which is all the sets need).
fn fingerprint<I: AsRef<[u8]> + ?Sized>(id: &I) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    id.as_ref().hash(&mut hasher);
    hasher.finish()
}

/// The hasher of a set of fingerprints, which are hashes already.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// What the direct parse accepts, the general one accepts the same; what it leaves
    /// to the general one is left.
    #[test]
    fn events_parsed_directly_are_the_events_the_general_parse_gives() {
        let same = [
            r#"{"account_id":"A-1","at":"2026-10-30T18:04:56Z","type":"contact","channel":"letter","outcome":"sent","purpose":"validation_notice"}"#,
            r#"{"account_id":"A-1","at":"2026-11-09T20:09:07Z","type":"payment_posted","amount":{"amount":"55.00","currency":"USD"}}"#,
            r#"{"account_id":"A é 2","at":"2026-11-10T21:31:30Z","type":"contact","channel":"call","outcome":"no_answer","contact_point":"+14635550112"}"#,
        ];
        for line in same {
            let (account, event) = parse_event_directly(line, &mut String::new()).expect(line);
            assert_eq!(
                Ok((account.to_string(), event)),
                parse_event_line(line, &mut |_| true),
                "{line}"
            );
        }
        let general = [
            // An escape in the id, a duplicate field, the id twice, a trailing comma,
            // an invalid event, a space after the colon, a control character.
            r#"{"account_id":"A\u002d1","at":"2026-10-30T18:04:56Z","type":"contact","channel":"letter","outcome":"sent"}"#,
            r#"{"account_id":"A-1","at":"2026-10-30T18:04:56Z","at":"2026-10-31T18:04:56Z","type":"contact","channel":"letter","outcome":"sent"}"#,
            r#"{"account_id":"A-1","at":"2026-10-30T18:04:56Z","account_id":"A-2","type":"contact","channel":"letter","outcome":"sent"}"#,
            r#"{"account_id":"A-1",}"#,
            r#"{"account_id":"A-1","at":"2026-11-09T20:09:07Z","type":"payment_posted"}"#,
            r#"{"account_id": "A-1","at":"2026-10-30T18:04:56Z","type":"contact","channel":"letter","outcome":"sent"}"#,
            "{\"account_id\":\"A\t1\",\"at\":\"2026-10-30T18:04:56Z\",\"type\":\"contact\",\"channel\":\"letter\",\"outcome\":\"sent\"}",
        ];
        for line in general {
            assert_eq!(
                parse_event_directly(line, &mut String::new()),
                None,
                "{line}"
            );
        }
        // The general parse takes the last of two values; the direct one left it.
        assert!(parse_event_line(general[1], &mut |_| true).is_ok());
    }

    /// A reading thread that stops without sending the end (here, a parse that panics
    /// on the second block) is a failure, never the end of the file.
    #[test]
    fn a_reading_thread_that_stops_without_the_end_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.jsonl");
        std::fs::write(&path, "a\nb\n").unwrap();
        let mut received = Vec::new();
        let scope = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::thread::scope(|scope| {
                let lines = Lines::open(&path, 1).unwrap_or_else(|_| panic!("opens"));
                let parse = |(): &mut (), _: usize, text: &str| {
                    assert_ne!(text, "b", "the parse of the second block fails");
                    text.to_string()
                };
                let mut ahead = Ahead::spawn(scope, lines, "lines.jsonl", || (), parse);
                for _ in 0..3 {
                    received.push(match ahead.next() {
                        Ok(Some(parsed)) => format!("{} line(s)", parsed.lines.len()),
                        Ok(None) => "end".to_string(),
                        Err(Stop::Failed(_)) => "failed".to_string(),
                        Err(_) => "stopped".to_string(),
                    });
                }
            });
        }));
        assert!(scope.is_err(), "the reading thread panicked");
        assert_eq!(received, ["1 line(s)", "failed", "failed"]);
    }

    #[test]
    fn blocks_end_at_line_ends_and_number_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.jsonl");
        std::fs::write(&path, "a\n\nbb\r\nccc\nlast").unwrap();
        for size in [1, 2, 3, 5, 100] {
            let mut lines = Lines::open(&path, size).unwrap_or_else(|_| panic!("opens"));
            let mut all = Vec::new();
            while let Some(block) = lines.block().unwrap() {
                assert!(block.data.ends_with(b"\n") || block.data.ends_with(b"last"));
                let parsed =
                    parse_lines(&block, "lines.jsonl", || (), |(), n, t| (n, t.to_string()));
                all.extend(
                    parsed
                        .unwrap_or_else(|_| panic!("text"))
                        .into_iter()
                        .flatten(),
                );
                lines.recycle(block);
            }
            let expected: Vec<(usize, String)> = [(1, "a"), (3, "bb"), (4, "ccc"), (5, "last")]
                .into_iter()
                .map(|(n, t)| (n, t.to_string()))
                .collect();
            assert_eq!(all, expected, "block size {size}");
        }
    }
}

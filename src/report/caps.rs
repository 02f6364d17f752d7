//! Accounts at or near each cap, at the report's instant, counted exactly as a decision
//! counts them: by the engine's own cap budgets ([`Subject::cap_budgets`], what
//! `GET /v1/accounts/{id}/windows` shows as `caps`).
//!
//! An account is **at** a cap when a budget of it has nothing `remaining` (the cap
//! refuses the contact), and **near** it when it has used some of it and at most `near`
//! contacts remain. A cap per contact point counts the account once, by its worst
//! number. Warnings (rapid succession, concentrated calls) are listed like caps.
//!
//! Asking the engine about every account of a large ledger would take minutes, so the
//! accounts are screened first, cheaply and conservatively: while the events stream
//! past, each account's contacts that *could* count toward each cap are tallied —
//! matching the cap's channels, outcomes and initiator, inside a window a little wider
//! than its period, for packs whose scope covers the account — and only an account
//! (or, for caps `per = "consumer"`, a consumer) whose tally reaches
//! `max(1, limit - near)` can be at or near it. The tally never undercounts what the
//! engine counts (it ignores the contact-point kinds and the consent and wrong-party
//! exclusions, which only take events away), so every account at or near a cap is
//! among those asked. The engine then decides exactly, from the account's events over
//! the caps' horizon plus any older wrong-party finding ([`WrongParties`]): the same
//! budgets as from the engine's whole lookback, for far fewer rows read.
//!
//! Pure: the policy, rows and the instant in; counts out.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::facts::{AccountFacts, EventFacts};
use crate::domain::{
    Account, Address, Channel, Consumer, Event, Flags, LedgerEvent, LedgerEventType, Outcome,
    Purpose,
};
use crate::engine::{BudgetPeriod, Question, Subject};
use crate::policy::model::{EventFilter, Per, Period as CapPeriod, RuleKind};
use crate::policy::{Policy, scope_covers};
use crate::store::reports::{AccountScan, EventScan, HistoryWanted, Unreadable};

/// Accounts at or near each cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CapsSection {
    /// The instant the budgets are taken at.
    pub as_of: DateTime<Utc>,
    /// "Near" means at most this many contacts remain (and some are used).
    pub near: u32,
    /// Accounts whose budgets the engine computed (those the screen could not rule out).
    pub accounts_checked: u64,
    /// Every cap and warning of the policy, in policy order.
    pub rules: Vec<CapCount>,
}

/// The accounts at and near one cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CapCount {
    /// The rule id.
    pub rule: String,
    /// Its pack.
    pub pack: String,
    /// Where it comes from in law.
    pub citation: String,
    /// The most counted contacts it allows per period.
    pub limit: u32,
    /// The period, as the rule states it.
    pub period: BudgetPeriod,
    /// Whose contacts it counts.
    pub per: Per,
    /// A warning: reaching it warns but does not refuse.
    pub warning: bool,
    /// Accounts with nothing remaining.
    pub at_cap: u64,
    /// Accounts with some used and at most `near` remaining.
    pub near_cap: u64,
}

/// One cap as the screen sees it.
#[derive(Debug, Clone)]
struct Screened {
    /// The rule's index in the policy.
    rule: usize,
    /// The rule's pack index.
    pack: usize,
    /// The earliest instant the cap's period can reach back to, with a margin.
    since: DateTime<Utc>,
    count: EventFilter,
    per: Per,
    /// The fewest counted events that can leave at most `near` remaining.
    threshold: u16,
}

/// The caps of a policy, prepared for screening and asking at one instant.
#[derive(Debug, Clone)]
pub struct CapScreen {
    policy: Arc<Policy>,
    as_of: DateTime<Utc>,
    near: u32,
    caps: Vec<Screened>,
    /// The (channel, purpose) questions that ask every cap once.
    questions: Vec<(Channel, Purpose)>,
    /// The earliest instant any cap reaches back to.
    lookback: DateTime<Utc>,
    /// The earliest event that can change a budget: a cap's reach plus the days of
    /// its consent exclusion (a consent that old can still exclude a counted call).
    history_start: DateTime<Utc>,
    /// The seed of the account ids' hashes.
    seed: u64,
}

impl CapScreen {
    /// Prepares the caps and warnings of `policy` for the instant `as_of`.
    pub fn new(policy: Arc<Policy>, as_of: DateTime<Utc>, near: u32) -> CapScreen {
        let mut caps = Vec::new();
        let mut questions: Vec<(Channel, Purpose)> = Vec::new();
        let mut history_start = as_of;
        for (index, rule) in policy.rules().iter().enumerate() {
            let (RuleKind::Cap(cap) | RuleKind::Warning(cap)) = &rule.kind else {
                continue;
            };
            // Calendar days are local: N days back from today's local midnight, which is
            // at most a day before the instant in any zone.
            let reach = match cap.period {
                CapPeriod::CalendarDays(days) => TimeDelta::days(i64::from(days) + 1),
                CapPeriod::Rolling(duration) => duration + TimeDelta::minutes(1),
            };
            let consent = TimeDelta::days(i64::from(cap.exclude_consent_days.unwrap_or(0)) + 1);
            history_start = history_start.min(
                as_of
                    .checked_sub_signed(reach + consent)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            );
            caps.push(Screened {
                rule: index,
                pack: rule.pack,
                since: as_of
                    .checked_sub_signed(reach)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
                count: cap.count,
                per: cap.per,
                threshold: u16::try_from(cap.max.saturating_sub(near).max(1)).unwrap_or(u16::MAX),
            });
            // One question per cap is enough: its budget does not depend on which of its
            // channels is asked.
            let channel = rule.channels.iter().next();
            let purpose = if rule.purposes.contains(Purpose::Collection) {
                Some(Purpose::Collection)
            } else {
                rule.purposes.iter().next()
            };
            if let (Some(channel), Some(purpose)) = (channel, purpose)
                && !questions.contains(&(channel, purpose))
            {
                questions.push((channel, purpose));
            }
        }
        let lookback = caps.iter().map(|c| c.since).min().unwrap_or(as_of);
        CapScreen {
            policy,
            as_of,
            near,
            caps,
            questions,
            lookback,
            history_start,
            // A per-report seed: ids cannot be chosen to collide.
            seed: RandomState::new().hash_one(0x5eed_u64) | 1,
        }
    }

    /// The earliest event instant the screen reads.
    pub fn lookback(&self) -> DateTime<Utc> {
        self.lookback
    }

    /// The instant the budgets are taken at.
    pub fn as_of(&self) -> DateTime<Utc> {
        self.as_of
    }

    /// The key of an account id in the tallies: a seeded multiply-rotate hash, a few
    /// nanoseconds for an id against SipHash's twenty, with a final mix so that every
    /// bit of the key depends on every byte. Ids that collide share a tally, an
    /// overcount the screen tolerates.
    fn key(&self, id: &str) -> u64 {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut hash = self.seed;
        let mut chunks = id.as_bytes().chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            hash = (hash.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        let mut word = [0_u8; 8];
        for (slot, byte) in word.iter_mut().zip(chunks.remainder()) {
            *slot = *byte;
        }
        hash =
            (hash.rotate_left(23) ^ u64::from_le_bytes(word) ^ (id.len() as u64)).wrapping_mul(K);
        // fmix64 (MurmurHash3's finalizer).
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        hash ^ (hash >> 33)
    }

    /// The earliest event an account's budgets can depend on, but for the finding of a
    /// wrong party (which excludes calls to that number however old it is): the
    /// histories are read from here, with [`WrongParties`] for what is older.
    pub fn history_start(&self) -> DateTime<Utc> {
        self.history_start
    }
}

/// Calls that reached a wrong party before the histories' start, by account: each
/// takes its number out of the caps that exclude wrong parties, however old it is, so
/// the budgets come out as from the whole lookback the engine reads
/// ([`crate::store::lookback_start`]) while only the caps' horizon is read per account.
#[derive(Debug, Clone, Default)]
pub struct WrongParties {
    before: Option<DateTime<Utc>>,
    calls: HashMap<String, Vec<Event>>,
}

impl WrongParties {
    /// Keeps the wrong-party contacts before `before`.
    pub fn new(before: DateTime<Utc>) -> WrongParties {
        WrongParties {
            before: Some(before),
            calls: HashMap::new(),
        }
    }

    /// Keeps one event if it is a wrong-party contact before the histories' start.
    pub fn add(
        &mut self,
        account_id: &str,
        at: DateTime<Utc>,
        facts: &EventFacts,
        body: &str,
    ) -> Result<(), Unreadable> {
        let old = self.before.is_some_and(|before| at < before);
        if !old
            || facts.kind != LedgerEventType::Contact
            || facts.outcome != Some(Outcome::WrongParty)
        {
            return Ok(());
        }
        let event: LedgerEvent = serde_json::from_str(body).map_err(|error| Unreadable {
            what: "event",
            reason: error.to_string(),
        })?;
        if let Some(event) = event.history() {
            self.calls
                .entry(account_id.to_string())
                .or_default()
                .push(event);
        }
        Ok(())
    }

    /// Adds another partition's.
    pub fn merge(&mut self, other: WrongParties) {
        for (account, calls) in other.calls {
            self.calls.entry(account).or_default().extend(calls);
        }
    }

    /// The wrong-party contacts of one account.
    pub fn of(&self, account_id: &str) -> &[Event] {
        self.calls.get(account_id).map_or(&[], Vec::as_slice)
    }
}

/// One account as the screen knows it.
#[derive(Debug, Clone)]
struct Entry {
    id: Box<str>,
    /// Bit `i` set: pack `i`'s scope covers the account.
    packs: u64,
    /// The consumer group, when the account names a consumer.
    group: Option<u32>,
}

/// Every account of the ledger with the packs that cover it and its consumer: what
/// the screen needs to pick the accounts to ask about.
#[derive(Debug, Default)]
pub struct AccountIndex {
    entries: Vec<Entry>,
    /// Per consumer: its accounts (indices into `entries`).
    groups: Vec<Vec<u32>>,
}

/// One partition's accounts, before they are put together.
#[derive(Debug, Default)]
pub struct IndexPart {
    accounts: Vec<(Box<str>, u64, Option<Box<str>>)>,
    coverage: PackCoverage,
}

impl IndexPart {
    /// Notes one account: the packs that cover it and its consumer.
    pub fn add(&mut self, policy: &Policy, row: &AccountScan<'_>, facts: &AccountFacts<'_>) {
        let packs = self.coverage.packs(policy, facts);
        self.accounts
            .push((Box::from(row.id), packs, row.consumer_id.map(Box::from)));
    }
}

impl AccountIndex {
    /// Puts the accounts of every partition together.
    pub fn new(parts: Vec<IndexPart>) -> AccountIndex {
        let mut index = AccountIndex::default();
        index
            .entries
            .reserve(parts.iter().map(|part| part.accounts.len()).sum());
        let mut consumers: HashMap<Box<str>, u32> = HashMap::new();
        for (id, packs, consumer) in parts.into_iter().flat_map(|part| part.accounts) {
            let number = u32::try_from(index.entries.len()).unwrap_or(u32::MAX);
            let group = consumer.map(|consumer| {
                let next = u32::try_from(index.groups.len()).unwrap_or(u32::MAX);
                let group = *consumers.entry(consumer).or_insert(next);
                if group == next {
                    index.groups.push(Vec::new());
                }
                if let Some(members) = index.groups.get_mut(group as usize) {
                    members.push(number);
                }
                group
            });
            index.entries.push(Entry { id, packs, group });
        }
        index
    }

    /// How many accounts.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Pack coverage by the six things scopes read (state, city, ZIP code, debt type,
/// creditor, collector):
/// few combinations, many accounts.
#[derive(Debug, Default)]
struct PackCoverage {
    known: HashMap<String, u64>,
    key: String,
}

impl PackCoverage {
    fn packs(&mut self, policy: &Policy, facts: &AccountFacts<'_>) -> u64 {
        let packs = policy.packs();
        // More packs than bits: screen without scopes (every pack may cover).
        if packs.len() > 64 {
            return u64::MAX;
        }
        let address = facts.consumer.address.as_ref();
        let parts = [
            address.and_then(|a| a.state.as_deref()),
            address.and_then(|a| a.city.as_deref()),
            address.and_then(|a| a.postal_code.as_deref()),
            facts.debt_type.as_deref(),
            facts.creditor.as_deref(),
        ];
        self.key.clear();
        for part in parts {
            // Absent and empty differ: scopes treat an absent value as "unknown".
            match part {
                Some(value) => {
                    self.key.push('+');
                    self.key.push_str(value);
                }
                None => self.key.push('-'),
            }
            self.key.push('\u{1f}');
        }
        let collector = facts.collector;
        self.key
            .push_str(collector.map_or("-", crate::domain::CollectorKind::as_str));
        if let Some(mask) = self.known.get(self.key.as_str()) {
            return *mask;
        }
        let [state, city, postal_code, debt_type, creditor] =
            parts.map(|part| part.map(str::to_string));
        let probe = Account {
            id: String::new(),
            debt_type,
            creditor,
            client: None,
            balance: None,
            placed_on: None,
            charged_off_on: None,
            closed_on: None,
            consumer: Consumer {
                address: Some(Address {
                    state,
                    city,
                    postal_code,
                }),
                ..Consumer::default()
            },
            flags: Flags::default(),
            opted_out: Vec::new(),
            inconvenient_times: Vec::new(),
            inconvenient_places: Vec::new(),
            collector,
        };
        let mask = packs
            .iter()
            .enumerate()
            .filter(|(_, pack)| scope_covers(&pack.scope, &probe, policy.collector_of(&probe)))
            .fold(0_u64, |mask, (index, _)| mask | (1 << index));
        self.known.insert(self.key.clone(), mask);
        mask
    }
}

/// Caps tallied apart; beyond them, caps share the last slot (their counts summed: an
/// overcount, which only lets more accounts through).
const SLOTS: usize = 16;

/// The low bits of a hit, which hold the caps it matched; the high bits hold the
/// account's key.
const MASK_BITS: u32 = SLOTS as u32;

/// The screen's tally of one partition's events: per account (by a hash of its id),
/// per cap.
///
/// The screen sees every event in the caps' reach — millions, of a million accounts
/// in no order — so a tally is not a table probed per event (a cache and a TLB miss
/// each) but one word appended per event: the account's key in the high bits and the
/// caps it matched in the low ones. [`CapCounts::finish`] sorts a partition's words
/// once, on its own thread, and sums them per account. Accounts whose keys collide
/// share a tally (an overcount). Pack scopes are applied when the candidates are
/// picked, not here.
#[derive(Debug, Clone)]
pub struct CapCounts {
    screen: Arc<CapScreen>,
    /// Unsorted hits: `key << MASK_BITS | caps`.
    hits: Vec<u64>,
    /// After [`CapCounts::finish`]: per account key, in key order, the counts per slot.
    tallies: Vec<(u64, [u16; SLOTS])>,
}

impl CapCounts {
    /// An empty tally.
    pub fn new(screen: Arc<CapScreen>) -> CapCounts {
        CapCounts {
            screen,
            hits: Vec::new(),
            tallies: Vec::new(),
        }
    }

    /// Tallies one event toward every cap it could count for.
    pub fn add(&mut self, account_id: &str, at: DateTime<Utc>, facts: &EventFacts) {
        let (LedgerEventType::Contact, Some(channel)) = (facts.kind, facts.channel) else {
            return;
        };
        let screen = &self.screen;
        if at < screen.lookback || at >= screen.as_of {
            return;
        }
        let mut caps = 0_u64;
        for (index, cap) in screen.caps.iter().enumerate() {
            let filter = &cap.count;
            let counts = at >= cap.since
                && filter.channels.contains(channel)
                // An unknown outcome counts wherever any outcome would (fail closed).
                && facts.outcome.is_none_or(|outcome| filter.outcomes.contains(outcome))
                && filter.initiated_by.is_none_or(|by| by == facts.initiated_by);
            if counts {
                caps |= 1 << index.min(SLOTS - 1);
            }
        }
        if caps != 0 {
            self.hits.push(screen.key(account_id) << MASK_BITS | caps);
        }
    }

    /// Sorts this partition's hits and sums them per account.
    pub fn finish(&mut self) {
        let mut hits = std::mem::take(&mut self.hits);
        hits.sort_unstable();
        let mut tallies: Vec<(u64, [u16; SLOTS])> = Vec::new();
        for hit in hits {
            let key = hit >> MASK_BITS;
            if tallies.last().is_none_or(|(last, _)| *last != key) {
                tallies.push((key, [0; SLOTS]));
            }
            if let Some((_, counts)) = tallies.last_mut() {
                for (slot, count) in counts.iter_mut().enumerate() {
                    *count = count.saturating_add(u16::from(hit & (1 << slot) != 0));
                }
            }
        }
        self.tallies = tallies;
    }

    /// Adds another partition's tally (both finished).
    pub fn merge(&mut self, other: CapCounts) {
        let mine = std::mem::take(&mut self.tallies);
        let mut merged = Vec::with_capacity(mine.len().max(other.tallies.len()));
        let mut a = mine.into_iter().peekable();
        let mut b = other.tallies.into_iter().peekable();
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => a.next().zip(b.next()).map(|(mut x, y)| {
                    for (count, other) in x.1.iter_mut().zip(y.1) {
                        *count = count.saturating_add(other);
                    }
                    x
                }),
                (Some(x), Some(y)) if x.0 < y.0 => a.next(),
                (_, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => None,
            };
            match next {
                Some(tally) => merged.push(tally),
                None => break,
            }
        }
        self.tallies = merged;
    }

    /// The accounts the screen cannot rule out, each with the debts whose events make
    /// its history (its consumer's accounts, for caps per consumer).
    pub fn candidates(&self, index: &AccountIndex) -> Vec<HistoryWanted> {
        let screen = &self.screen;
        // Each account's tally, found by walking the accounts in key order beside the
        // sorted tallies: a million binary searches would miss the cache at every step.
        let mut by_key: Vec<(u64, u32)> = (0_u32..)
            .zip(&index.entries)
            .map(|(number, entry)| (screen.key(&entry.id) << MASK_BITS >> MASK_BITS, number))
            .collect();
        by_key.sort_unstable();
        let mut own: Vec<[u16; SLOTS]> = vec![[0; SLOTS]; index.entries.len()];
        let mut tallies = self.tallies.iter().peekable();
        for (key, number) in by_key {
            while tallies.next_if(|(k, _)| *k < key).is_some() {}
            if let Some((_, counts)) = tallies.peek().filter(|(k, _)| *k == key)
                && let Some(slot) = own.get_mut(number as usize)
            {
                *slot = *counts;
            }
        }
        let tally = |number: u32| own.get(number as usize).copied().unwrap_or([0; SLOTS]);
        // Per consumer group, the sums of its accounts' tallies.
        let group_sums: Vec<[u32; SLOTS]> = index
            .groups
            .iter()
            .map(|members| {
                let mut sums = [0_u32; SLOTS];
                for number in members {
                    for (sum, count) in sums.iter_mut().zip(tally(*number)) {
                        *sum += u32::from(count);
                    }
                }
                sums
            })
            .collect();
        let mut wanted = Vec::new();
        for (number, entry) in (0_u32..).zip(&index.entries) {
            let own = tally(number);
            let group = entry.group.and_then(|g| group_sums.get(g as usize));
            let reached = screen.caps.iter().enumerate().any(|(index, cap)| {
                let slot = index.min(SLOTS - 1);
                let count = match (cap.per, group) {
                    (Per::Consumer, Some(sums)) => sums.get(slot).copied().unwrap_or(0),
                    _ => own.get(slot).copied().map_or(0, u32::from),
                };
                let covered = entry.packs & (1_u64 << cap.pack.min(63)) != 0;
                covered && count >= u32::from(cap.threshold)
            });
            if !reached {
                continue;
            }
            let mut debts = vec![entry.id.to_string()];
            if let Some(members) = entry.group.and_then(|g| index.groups.get(g as usize)) {
                debts.extend(
                    members
                        .iter()
                        .filter(|other| **other != number)
                        .filter_map(|other| index.entries.get(*other as usize))
                        .map(|other| other.id.to_string()),
                );
            }
            wanted.push(HistoryWanted {
                account_id: entry.id.to_string(),
                debts,
            });
        }
        wanted.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        wanted
    }
}

/// The engine's verdict on the accounts the screen let through.
#[derive(Debug, Clone)]
pub struct CapTally {
    screen: Arc<CapScreen>,
    /// Per cap (screen order): at, near.
    counts: Vec<(u64, u64)>,
    checked: u64,
}

impl CapTally {
    /// An empty tally.
    pub fn new(screen: Arc<CapScreen>) -> CapTally {
        CapTally {
            counts: vec![(0, 0); screen.caps.len()],
            checked: 0,
            screen,
        }
    }

    /// Asks the engine for the budgets of one account, given the events of its debts
    /// from [`CapScreen::history_start`] on and the older wrong-party calls.
    pub fn add(
        &mut self,
        wanted: &HistoryWanted,
        account: Option<AccountScan<'_>>,
        events: &[EventScan<'_>],
        wrong_parties: &WrongParties,
    ) -> Result<(), Unreadable> {
        let Some(row) = account else {
            return Ok(());
        };
        let account: Account = serde_json::from_str(row.body).map_err(|error| Unreadable {
            what: "account",
            reason: error.to_string(),
        })?;
        let mut history = Vec::with_capacity(events.len());
        for debt in &wanted.debts {
            history.extend(wrong_parties.of(debt).iter().cloned().map(|mut event| {
                if *debt != account.id {
                    event.account_id = Some(debt.clone());
                }
                event
            }));
        }
        for scan in events {
            let event: LedgerEvent =
                serde_json::from_str(scan.body).map_err(|error| Unreadable {
                    what: "event",
                    reason: error.to_string(),
                })?;
            if let Some(mut event) = event.history() {
                if scan.account_id != account.id {
                    event.account_id = Some(scan.account_id.to_string());
                }
                history.push(event);
            }
        }
        self.judge(&account, &history);
        Ok(())
    }

    /// Counts the caps an account is at or near, from its history.
    pub fn judge(&mut self, account: &Account, history: &[Event]) {
        let screen = Arc::clone(&self.screen);
        let subject = Subject::new(&screen.policy, account, history);
        // 0: neither; 1: near; 2: at. Per cap, the worst of its budgets.
        let mut worst = vec![0_u8; screen.caps.len()];
        for &(channel, purpose) in &screen.questions {
            let question = Question {
                at: screen.as_of,
                channel,
                purpose,
                contact_point: None,
                horizon_days: None,
            };
            for budget in subject.cap_budgets(&question) {
                let Some(slot) = screen.caps.iter().position(|cap| {
                    screen
                        .policy
                        .rules()
                        .get(cap.rule)
                        .is_some_and(|r| *r.id == *budget.rule)
                }) else {
                    continue;
                };
                let state = if budget.remaining == 0 {
                    2
                } else if budget.used > 0 && budget.remaining <= screen.near {
                    1
                } else {
                    0
                };
                if let Some(worst) = worst.get_mut(slot) {
                    *worst = (*worst).max(state);
                }
            }
        }
        for (count, state) in self.counts.iter_mut().zip(worst) {
            match state {
                2 => count.0 += 1,
                1 => count.1 += 1,
                _ => {}
            }
        }
        self.checked += 1;
    }

    /// Adds another partition's tally.
    pub fn merge(&mut self, other: CapTally) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            a.0 += b.0;
            a.1 += b.1;
        }
        self.checked += other.checked;
    }

    /// The section.
    pub fn finish(&self) -> CapsSection {
        let policy = &self.screen.policy;
        let rules = self
            .screen
            .caps
            .iter()
            .zip(&self.counts)
            .filter_map(|(cap, (at, near))| {
                let rule = policy.rules().get(cap.rule)?;
                let (RuleKind::Cap(limit) | RuleKind::Warning(limit)) = &rule.kind else {
                    return None;
                };
                Some(CapCount {
                    rule: rule.id.to_string(),
                    pack: policy
                        .pack_of(rule)
                        .map(|p| p.id.to_string())
                        .unwrap_or_default(),
                    citation: rule.citation.to_string(),
                    limit: limit.max,
                    period: BudgetPeriod::of(limit.period),
                    per: limit.per,
                    warning: matches!(rule.kind, RuleKind::Warning(_)),
                    at_cap: *at,
                    near_cap: *near,
                })
            })
            .collect();
        CapsSection {
            as_of: self.screen.as_of,
            near: self.screen.near,
            accounts_checked: self.checked,
            rules,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::InitiatedBy;

    fn policy() -> Arc<Policy> {
        Arc::new(Policy::load("rules".as_ref()).unwrap())
    }

    fn account(id: &str, state: &str, consumer: Option<&str>) -> String {
        let consumer = consumer.map_or(String::new(), |c| format!(r#""id":"{c}","#));
        format!(
            r#"{{"id":"{id}","consumer":{{{consumer}"address":{{"state":"{state}"}},"time_zones":["America/New_York"],
                "phones":[{{"number":"+12125550100","kind":"mobile"}}]}}}}"#
        )
    }

    fn index(policy: &Policy, accounts: &[(&str, String, Option<&str>)]) -> Arc<AccountIndex> {
        let mut part = IndexPart::default();
        for (id, body, consumer) in accounts {
            let row = AccountScan {
                id,
                consumer_id: *consumer,
                body,
            };
            part.add(policy, &row, &AccountFacts::parse(body).unwrap());
        }
        Arc::new(AccountIndex::new(vec![part]))
    }

    fn call(outcome: Outcome) -> EventFacts {
        EventFacts {
            kind: LedgerEventType::Contact,
            channel: Some(Channel::Call),
            outcome: Some(outcome),
            initiated_by: InitiatedBy::Collector,
        }
    }

    fn as_of() -> DateTime<Utc> {
        // Friday 2026-04-10, 20:00 UTC (16:00 in New York).
        "2026-04-10T20:00:00Z".parse().unwrap()
    }

    fn history(account_id: Option<&str>, ats: &[&str]) -> Vec<Event> {
        ats.iter()
            .map(|at| Event {
                at: at.parse().unwrap(),
                event_type: crate::domain::EventType::Contact,
                channel: Channel::Call,
                outcome: Some(Outcome::NoAnswer),
                initiated_by: InitiatedBy::Collector,
                contact_point: Some("+12125550100".into()),
                account_id: account_id.map(str::to_string),
                purpose: None,
            })
            .collect()
    }

    #[test]
    fn the_screen_lets_through_accounts_that_could_be_near_and_no_others() {
        let policy = policy();
        let screen = Arc::new(CapScreen::new(Arc::clone(&policy), as_of(), 1));
        // Washington counts 3 a week per consumer; Massachusetts 2 per 7 days per debt.
        let index = index(
            &policy,
            &[
                ("WA-1", account("WA-1", "WA", Some("C-1")), Some("C-1")),
                ("WA-2", account("WA-2", "WA", Some("C-1")), Some("C-1")),
                ("PA-1", account("PA-1", "PA", None), None),
                ("MA-1", account("MA-1", "MA", None), None),
            ],
        );
        let mut counts = CapCounts::new(Arc::clone(&screen));
        let mut other = CapCounts::new(Arc::clone(&screen));
        // One call each to the consumer's two Washington debts: 2 of 3, near.
        counts.add(
            "WA-1",
            "2026-04-09T15:00:00Z".parse().unwrap(),
            &call(Outcome::NoAnswer),
        );
        other.add(
            "WA-2",
            "2026-04-09T16:00:00Z".parse().unwrap(),
            &call(Outcome::NoAnswer),
        );
        // One call in Pennsylvania (federal rules only): 1 of 7, nowhere near. (New York
        // without a city would be near: the city's rule allows 2 per 7 days.)
        counts.add(
            "PA-1",
            "2026-04-09T15:00:00Z".parse().unwrap(),
            &call(Outcome::NoAnswer),
        );
        // Massachusetts: a busy signal does not count; one old call is out of reach.
        counts.add(
            "MA-1",
            "2026-04-09T15:00:00Z".parse().unwrap(),
            &call(Outcome::Busy),
        );
        counts.add(
            "MA-1",
            "2026-03-01T15:00:00Z".parse().unwrap(),
            &call(Outcome::NoAnswer),
        );
        counts.finish();
        other.finish();
        counts.merge(other);
        let wanted: Vec<(String, Vec<String>)> = counts
            .candidates(&index)
            .into_iter()
            .map(|w| (w.account_id, w.debts))
            .collect();
        assert_eq!(
            wanted,
            vec![
                (
                    "WA-1".to_string(),
                    vec!["WA-1".to_string(), "WA-2".to_string()]
                ),
                (
                    "WA-2".to_string(),
                    vec!["WA-2".to_string(), "WA-1".to_string()]
                ),
            ]
        );
    }

    #[test]
    fn the_engine_judges_at_and_near_from_the_history() {
        let policy = policy();
        let screen = Arc::new(CapScreen::new(Arc::clone(&policy), as_of(), 1));
        let mut tally = CapTally::new(Arc::clone(&screen));
        let ny: Account = serde_json::from_str(&account("NY-1", "NY", None)).unwrap();
        // Seven calls this week: at Reg F's 7-in-7.
        let seven = history(
            None,
            &[
                "2026-04-06T14:00:00Z",
                "2026-04-07T14:00:00Z",
                "2026-04-07T18:00:00Z",
                "2026-04-08T14:00:00Z",
                "2026-04-08T18:00:00Z",
                "2026-04-09T14:00:00Z",
                "2026-04-10T14:00:00Z",
            ],
        );
        tally.judge(&ny, &seven);
        // Six: near (one left).
        tally.judge(&ny, &seven[..6]);
        // Five: neither.
        tally.judge(&ny, &seven[..5]);
        let wa: Account = serde_json::from_str(&account("WA-1", "WA", Some("C-1"))).unwrap();
        // Three calls to the consumer's other debt count for Washington's weekly cap.
        tally.judge(
            &wa,
            &history(
                Some("WA-2"),
                &[
                    "2026-04-08T16:00:00Z",
                    "2026-04-09T16:00:00Z",
                    "2026-04-10T16:00:00Z",
                ],
            ),
        );
        let section = tally.finish();
        assert_eq!(section.accounts_checked, 4);
        let row = |id: &str| section.rules.iter().find(|r| r.rule == id).unwrap().clone();
        let federal = row("reg-f.call-frequency");
        assert_eq!((federal.at_cap, federal.near_cap, federal.limit), (1, 1, 7));
        assert_eq!(federal.period, BudgetPeriod::CalendarDays(7));
        let weekly = row("wa.weekly-communications");
        assert_eq!(
            (weekly.at_cap, weekly.near_cap, weekly.per),
            (1, 0, Per::Consumer)
        );
        // Every cap and warning of the policy is listed, even with nobody at it.
        assert!(
            section
                .rules
                .iter()
                .any(|r| r.warning && r.rule == "reg-f.rapid-succession")
        );
        assert_eq!(row("ma.household-visits").at_cap, 0);
    }

    #[test]
    fn an_old_wrong_party_finding_still_takes_its_number_out_of_the_caps() {
        let policy = policy();
        let screen = Arc::new(CapScreen::new(Arc::clone(&policy), as_of(), 1));
        // Reg F reaches back 8 days and excludes calls under consent given 7 days
        // before; Massachusetts' 30-day rolling caps reach furthest.
        assert!(screen.history_start() <= as_of() - TimeDelta::days(31));
        let body = account("NY-1", "NY", None);
        let row = AccountScan {
            id: "NY-1",
            consumer_id: None,
            body: &body,
        };
        let wanted = HistoryWanted {
            account_id: "NY-1".into(),
            debts: vec!["NY-1".into()],
        };
        let calls: Vec<String> = [
            "2026-04-06T14:00:00Z", "2026-04-07T14:00:00Z", "2026-04-07T18:00:00Z",
            "2026-04-08T14:00:00Z", "2026-04-08T18:00:00Z", "2026-04-09T14:00:00Z",
            "2026-04-10T14:00:00Z",
        ]
        .iter()
        .map(|at| format!(r#"{{"at":"{at}","type":"contact","channel":"call","outcome":"no_answer","initiated_by":"collector","contact_point":"+12125550100"}}"#))
        .collect();
        let scans: Vec<EventScan<'_>> = calls
            .iter()
            .map(|body| EventScan {
                account_id: "NY-1",
                at: serde_json::from_str::<LedgerEvent>(body).unwrap().at,
                body,
            })
            .collect();
        let verdict = |wrong: &WrongParties| {
            let mut tally = CapTally::new(Arc::clone(&screen));
            tally.add(&wanted, Some(row), &scans, wrong).unwrap();
            let section = tally.finish();
            section
                .rules
                .iter()
                .find(|r| r.rule == "reg-f.call-frequency")
                .unwrap()
                .at_cap
        };
        assert_eq!(verdict(&WrongParties::default()), 1);
        // The number turned out not to be the consumer's, months before.
        let mut wrong = WrongParties::new(screen.history_start());
        let old = r#"{"at":"2026-01-05T15:00:00Z","type":"contact","channel":"call","outcome":"wrong_party","initiated_by":"collector","contact_point":"+12125550100"}"#;
        let at = "2026-01-05T15:00:00Z".parse().unwrap();
        wrong
            .add("NY-1", at, &EventFacts::parse(old).unwrap(), old)
            .unwrap();
        // Not kept: recent (the histories have it), or not a wrong party.
        let recent = old.replace("2026-01-05", "2026-04-09");
        wrong
            .add(
                "NY-1",
                "2026-04-09T15:00:00Z".parse().unwrap(),
                &EventFacts::parse(&recent).unwrap(),
                &recent,
            )
            .unwrap();
        assert_eq!(wrong.of("NY-1").len(), 1);
        assert_eq!(verdict(&wrong), 0);
    }

    #[test]
    fn account_keys_differ_for_close_ids_and_use_every_byte() {
        let screen = CapScreen::new(policy(), as_of(), 1);
        let keys: std::collections::HashSet<u64> = (0..100_000)
            .map(|i| screen.key(&format!("A-{i:07}")))
            .collect();
        assert_eq!(keys.len(), 100_000);
        assert_ne!(screen.key("A-0000001-x"), screen.key("A-0000001-y"));
        assert_ne!(screen.key(""), screen.key("\0"));
        // The table uses the top bits too: they vary.
        let tops: std::collections::HashSet<u64> = (0..1000)
            .map(|i| screen.key(&format!("A-{i:07}")) >> 57)
            .collect();
        assert!(tops.len() > 100, "{}", tops.len());
    }

    #[test]
    fn the_screen_reaches_back_over_the_longest_period_and_asks_calls_and_visits() {
        let screen = CapScreen::new(policy(), as_of(), 1);
        // Massachusetts' 30-day rolling caps are the longest.
        assert_eq!(
            as_of() - screen.lookback(),
            TimeDelta::days(30) + TimeDelta::minutes(1)
        );
        let channels: Vec<Channel> = screen.questions.iter().map(|(c, _)| *c).collect();
        assert!(
            channels.contains(&Channel::Call) && channels.contains(&Channel::Visit),
            "{channels:?}"
        );
    }
}

//! An account prepared once for many questions: candidate zones, the packs whose
//! scope covers it, and its history sorted, with each event's local days and contact
//! point resolved on first use and kept for every later question.
//!
//! [`crate::engine::decide`] prepares a subject for one question; the planner and the
//! daemon, which ask many questions of one account, keep it. Asking it questions
//! ([`Subject::decide`], [`Subject::permitted_intervals`]) is in [`super::decide`].

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::Arc;

use chrono_tz::Tz;
use smallvec::SmallVec;

use super::instants::{NANOS_PER_DAY, nanos_since_epoch};
use super::zones;
use crate::domain::{
    Account, Channel, ContactPointKind, EmailKind, Event, EventType, Flag, Flags, InitiatedBy,
    Outcome, PhoneKind, Purpose, trimmed,
};
use crate::policy::model::Set;
use crate::policy::{Policy, scope_covers};

/// The day [`Subject::event_day`] answers for an event or zone it does not have.
const UNKNOWN_DAY: i64 = i64::MIN;

/// Marks a day not converted yet in [`Subject::event_day`]'s cells.
const UNCONVERTED: i32 = i32::MIN;

/// How many history events a [`Subject`] holds without allocating: most accounts'
/// histories within the caps' reach are shorter (a longer one spills to the heap).
const INLINE_EVENTS: usize = 32;

/// The slots one cap counts (see [`super::limits`]), inline up to [`INLINE_EVENTS`].
pub(super) type Slots = SmallVec<[i64; INLINE_EVENTS]>;

/// One history event. What the rules ask of it beyond its fields is computed on first
/// use: a decision looks at the few events near its instant, not the whole ledger.
pub struct PreparedEvent<'a> {
    pub event: &'a Event,
    /// About the account being decided (not another debt of the consumer).
    pub same_debt: bool,
    /// The instant in nanoseconds since the epoch (a few instructions to compute, so
    /// computed when the subject is prepared rather than checked for on every read).
    nanos: i64,
    resolved: Cell<Option<Resolved>>,
    /// The event's local day number in the first [`INLINE_ZONES`] candidate zones,
    /// converted on first ask ([`Subject::event_day`]).
    /// (Day numbers of the accepted years fit an `i32`, which keeps the event at 32
    /// bytes: the caps' scans index the history by it.)
    days: [Cell<i32>; INLINE_ZONES],
}

/// How many zones' local days a prepared event keeps itself: almost every account has
/// one to three candidate zones, so a subject allocates nothing for them; the days in
/// further zones (an account with nothing known has five) go to one buffer made on the
/// first ask.
const INLINE_ZONES: usize = 3;

impl PreparedEvent<'_> {
    /// The event's instant in nanoseconds since the epoch: rolling periods are counted
    /// to the nanosecond, so an event 1 ns inside a period is inside it.
    pub fn nanos(&self) -> i64 {
        self.nanos
    }
}

/// What the rules ask of an event's contact point, independent of the question.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// The kind of the contact point used, when it is one of the account's.
    pub kind: Option<ContactPointKind>,
    /// Made to a contact point that turned out to be a wrong party.
    pub wrong_party: bool,
}

/// One question to a [`Subject`]: may we contact the account like this at this instant?
#[derive(Debug, Clone, Copy)]
pub struct Question<'q> {
    /// The instant of the contact.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The channel.
    pub channel: Channel,
    /// Why we reach out.
    pub purpose: Purpose,
    /// The phone number or email address to be used, when known.
    pub contact_point: Option<&'q str>,
    /// How far ahead to search for `next_allowed_at`, in days (default 35).
    pub horizon_days: Option<u32>,
}

/// An account and its history, prepared for many questions.
pub struct Subject<'a> {
    pub(super) policy: &'a Policy,
    pub(super) account: &'a Account,
    pub(super) zones: Arc<[Tz]>,
    /// Sorted by instant.
    /// (A `Vec`: an inline `SmallVec` of them would make `Subject` invariant in `'a`.)
    pub(super) events: Vec<PreparedEvent<'a>>,
    /// Each event's local day number in the zones after the first [`INLINE_ZONES`]
    /// (`events.len() × (zones.len() - INLINE_ZONES)`), made on the first ask.
    more_event_days: OnceCell<Box<[Cell<i32>]>>,
    /// The packs whose scope covers the account.
    pub(super) covered_packs: PackSet,
    /// Contact points that had a wrong-party outcome.
    wrong_party_points: WrongPartyPoints<'a>,
    /// Channels with a consent or revocation in the history (most have none, and
    /// then no consent lookup is needed).
    pub(super) consent_channels: Set<Channel>,
    /// The buffer every question's cap counts fill (one cap is counted at a time),
    /// kept so that a decision allocates none of its own.
    pub(super) slots: RefCell<Slots>,
    /// The flags the account alone settles (its own, whatever the question), and which
    /// of them hold: a rule needing one that does not hold governs no question.
    pub(super) settled_flags: Set<Flag>,
    pub(super) held_flags: Set<Flag>,
}

/// A set of packs by index: which packs' scopes cover an account. The first 64 in
/// one word (no allocation, and a question's rules are looked up in it without the
/// inline-or-heap test of a small vector), any later ones in words after it.
#[derive(Clone, Default)]
pub(super) struct PackSet {
    first: u64,
    later: Vec<u64>,
}

impl PackSet {
    /// Whether the pack at `index` is in the set.
    #[inline]
    pub fn contains(&self, index: usize) -> bool {
        if index < 64 {
            return (self.first >> index) & 1 != 0;
        }
        let bit = 1 << (index % 64);
        self.later
            .get(index / 64 - 1)
            .is_some_and(|bits| bits & bit != 0)
    }

    fn insert(&mut self, index: usize) {
        let bit = 1 << (index % 64);
        match index / 64 {
            0 => self.first |= bit,
            word => {
                if self.later.len() < word {
                    self.later.resize(word, 0);
                }
                if let Some(bits) = self.later.get_mut(word - 1) {
                    *bits |= bit;
                }
            }
        }
    }
}

/// What a [`Subject`] takes from the account alone, not its history: the candidate
/// zones and the packs whose scope covers it. A flag or an opt-out does not change it,
/// so the audit, judging one account at many places of its ledger, computes it once per
/// account and policy.
#[derive(Clone)]
pub struct Standing {
    zones: Arc<[Tz]>,
    covered_packs: PackSet,
}

impl Standing {
    /// The account's standing under `policy`.
    // Inline into a one-shot decision, which makes one per question: the call and the
    // moves of its result cost ≈ 25 instructions a decision (`always`: with a mere hint,
    // unrelated changes elsewhere in the crate moved it out of line).
    #[inline(always)]
    pub fn new(policy: &Policy, account: &Account) -> Standing {
        let collector = policy.collector_of(account);
        let mut covered_packs = PackSet::default();
        for (index, pack) in policy.packs().iter().enumerate() {
            if scope_covers(&pack.scope, account, collector) {
                covered_packs.insert(index);
            }
        }
        Standing {
            zones: zones::candidate_zones_shared(&account.consumer),
            covered_packs,
        }
    }
}

impl<'a> Subject<'a> {
    /// Prepares an account and its history (in any order) for questions.
    pub fn new(policy: &'a Policy, account: &'a Account, history: &'a [Event]) -> Subject<'a> {
        Subject::with_standing(policy, account, history, &Standing::new(policy, account))
    }

    /// [`Subject::new`] with the account's standing under `policy` computed before:
    /// the account's address, debt type, creditor and collector as they were then.
    pub fn with_standing(
        policy: &'a Policy,
        account: &'a Account,
        history: &'a [Event],
        standing: &Standing,
    ) -> Subject<'a> {
        Subject::prepare(
            policy,
            account,
            history,
            standing.clone(),
            Keep::everything(),
        )
    }

    /// [`Subject::with_standing`] for one question and the search after it: our own
    /// contacts that no rule governing its channel and purpose can read are left out,
    /// neither sorted nor prepared — those on channels the rules do not count, and
    /// those placed before its instant by more than the longest span the rules name
    /// ([`Policy::contact_reach`]). (Consents and revocations, and the consumer's own
    /// contacts, are kept whatever their channel or age: their rules look back without
    /// a bound. A wrong-party outcome still marks its number.)
    pub(super) fn for_question(
        policy: &'a Policy,
        account: &'a Account,
        history: &'a [Event],
        standing: Standing,
        question: &Question<'_>,
    ) -> Subject<'a> {
        let reach = policy.contact_reach(question.channel, question.purpose);
        // Two days past the span: a calendar day's period reaches a day beyond its
        // days, and a local day starts up to a day away from UTC midnight.
        let span = reach
            .span
            .num_nanoseconds()
            .and_then(|span| span.checked_add(2 * NANOS_PER_DAY));
        let keep = Keep {
            from: span.map_or(i64::MIN, |span| {
                nanos_since_epoch(question.at).saturating_sub(span)
            }),
            channels: reach.channels,
        };
        Subject::prepare(policy, account, history, standing, keep)
    }

    /// Prepares the history but the contacts we placed that `keep` leaves out.
    fn prepare(
        policy: &'a Policy,
        account: &'a Account,
        history: &'a [Event],
        standing: Standing,
        keep: Keep,
    ) -> Subject<'a> {
        // Prepared in the history's order in one pass, then sorted by instant if they
        // are not already (stably: equal instants keep the history's order). Sorting
        // (instant, place) keys first and preparing in their order read every kept
        // event twice (≈ 300 instructions a one-shot decision); inserting each event in
        // its place as it comes cost more than the sort (+160).
        // Made on the first event kept: a question whose rules read none of our
        // contacts often keeps none.
        let mut events: Vec<PreparedEvent<'a>> = Vec::new();
        // The points and channels the rules look up, gathered as the events are
        // prepared (and from the events left out).
        let mut wrong_party_points = WrongPartyPoints::default();
        let mut consent_channels = Set::empty();
        for event in history {
            if let Some(point) = wrong_party_point(event) {
                wrong_party_points.insert(point);
            }
            let ours = event.event_type == EventType::Contact
                && event.initiated_by == InitiatedBy::Collector;
            // The channel before the instant, which takes a few more instructions to read.
            if ours && !keep.channels.contains(event.channel) {
                continue;
            }
            let nanos = nanos_since_epoch(event.at);
            if ours && nanos < keep.from {
                continue;
            }
            if event.event_type != EventType::Contact {
                consent_channels.insert(event.channel);
            }
            if events.capacity() == 0 {
                events = Vec::with_capacity(history.len());
            }
            events.push(PreparedEvent {
                event,
                same_debt: event.is_about_debt(&account.id),
                nanos,
                resolved: Cell::new(None),
                days: [const { Cell::new(UNCONVERTED) }; INLINE_ZONES],
            });
        }
        if !events.is_sorted_by_key(PreparedEvent::nanos) {
            events.sort_by_key(PreparedEvent::nanos);
        }
        Subject {
            // The legal holds are the account's own flags; the others depend on the
            // question's channel and contact point (`Context::flag_holds`).
            settled_flags: Flags::HOLDS.into_iter().collect(),
            held_flags: {
                // A loop over the fields: collecting `Flags::holds` cost 18 more a decision.
                let mut held = Set::empty();
                for (flag, set) in account.flags.hold_values() {
                    if set {
                        held.insert(flag);
                    }
                }
                held
            },
            policy,
            account,
            slots: RefCell::new(Slots::new()),
            more_event_days: OnceCell::new(),
            zones: standing.zones,
            events,
            covered_packs: standing.covered_packs,
            wrong_party_points,
            consent_channels,
        }
    }

    /// The candidate zones of the consumer.
    pub fn zones(&self) -> &[Tz] {
        &self.zones
    }

    /// The local day number of the event at `index` in the zone at `zone_index`,
    /// converted once however many rules, search steps and questions ask.
    // Inline (into the cooldown's and the calendar caps' counts): out of line in some
    // builds, which cost 30 instructions a decision.
    #[inline]
    pub fn event_day(&self, index: usize, zone_index: usize) -> i64 {
        let (Some(event), Some(zone)) = (self.events.get(index), self.zones.get(zone_index)) else {
            return UNKNOWN_DAY;
        };
        let cell = match event.days.get(zone_index) {
            Some(cell) => Some(cell),
            None => {
                let more_zones = self.zones.len().saturating_sub(INLINE_ZONES);
                let more = self.more_event_days.get_or_init(|| {
                    std::iter::repeat_with(|| Cell::new(UNCONVERTED))
                        .take(self.events.len() * more_zones)
                        .collect()
                });
                more.get(index * more_zones + zone_index - INLINE_ZONES)
            }
        };
        if let Some(known) = cell.map(Cell::get).filter(|day| *day != UNCONVERTED) {
            return i64::from(known);
        }
        let day = zones::local_day_of_nanos(event.nanos(), *zone);
        // Kept when it fits the cell (every day of the years the engine accepts does).
        if let (Some(cell), Ok(kept)) = (cell, i32::try_from(day)) {
            cell.set(kept);
        }
        day
    }

    /// Resolves (once) an event's contact point against the account.
    pub fn resolve(&self, prepared: &PreparedEvent<'_>) -> Resolved {
        if let Some(resolved) = prepared.resolved.get() {
            return resolved;
        }
        let event = prepared.event;
        let wrong_outcome = event.outcome == Some(Outcome::WrongParty);
        let resolved = match (event.channel, event.contact_point.as_deref()) {
            (Channel::Letter | Channel::Visit, _) => Resolved {
                kind: Some(ContactPointKind::Address),
                wrong_party: false,
            },
            (_, None) => Resolved {
                kind: None,
                wrong_party: wrong_outcome,
            },
            (channel, Some(point)) => Resolved {
                kind: kind_of(self.account, channel, point),
                wrong_party: wrong_outcome || self.wrong_party_points.include(point),
            },
        };
        prepared.resolved.set(Some(resolved));
        resolved
    }
}

/// Which of our own contacts a [`Subject`] prepares.
#[derive(Clone, Copy)]
struct Keep {
    /// Those at or after this instant (nanoseconds since the epoch)…
    from: i64,
    /// …on these channels.
    channels: Set<Channel>,
}

impl Keep {
    fn everything() -> Keep {
        Keep {
            from: i64::MIN,
            channels: Set::full(),
        }
    }
}

/// The contact points that reached a wrong party, each text once. Most histories have
/// none, or one number's repeated attempts, kept without allocating. (Not a `SmallVec`,
/// which would make `Subject` invariant in `'a`.)
#[derive(Default)]
struct WrongPartyPoints<'a> {
    first: Option<&'a str>,
    more: Vec<&'a str>,
}

impl<'a> WrongPartyPoints<'a> {
    fn insert(&mut self, point: &'a str) {
        match self.first {
            None => self.first = Some(point),
            Some(first) if first == point || self.more.contains(&point) => {}
            Some(_) => self.more.push(point),
        }
    }

    /// Whether `point` is the same contact point as one of them.
    fn include(&self, point: &str) -> bool {
        self.first
            .into_iter()
            .chain(self.more.iter().copied())
            .any(|wrong| same_contact_point(point, wrong))
    }
}

/// The contact point of an event that reached a wrong party.
fn wrong_party_point(event: &Event) -> Option<&str> {
    // The outcome first: most events have another.
    if event.outcome == Some(Outcome::WrongParty) {
        event.contact_point.as_deref()
    } else {
        None
    }
}

/// The kind of one of the account's contact points, found by number or address.
pub fn kind_of(account: &Account, channel: Channel, point: &str) -> Option<ContactPointKind> {
    match channel {
        Channel::Call | Channel::Sms => account
            .consumer
            .phones
            .iter()
            .find(|p| same_phone(&p.number, point))
            .map(|p| match p.kind {
                PhoneKind::Mobile => ContactPointKind::Mobile,
                PhoneKind::Landline => ContactPointKind::Landline,
                PhoneKind::Work => ContactPointKind::WorkPhone,
            }),
        Channel::Email => account
            .consumer
            .emails
            .iter()
            // The same text first: a byte comparison, where the case-blind one reads
            // a character at a time.
            .find(|e| e.address == point || trimmed(&e.address).eq_ignore_ascii_case(point))
            .map(|e| match e.kind {
                EmailKind::Personal => ContactPointKind::PersonalEmail,
                EmailKind::Work => ContactPointKind::WorkEmail,
            }),
        Channel::Letter | Channel::Visit => Some(ContactPointKind::Address),
    }
}

/// The channel family a contact point belongs to by its shape (an `@` is email).
pub fn channel_of_point(point: &str) -> Option<Channel> {
    if point.contains('@') {
        Some(Channel::Email)
    } else if point.chars().any(|c| c.is_ascii_digit()) {
        Some(Channel::Call)
    } else {
        None
    }
}

/// Two contact points are the same when their emails match case-insensitively or
/// their phone digits match (ignoring punctuation and a leading US country code).
pub fn same_contact_point(a: &str, b: &str) -> bool {
    if a.contains('@') || b.contains('@') {
        trimmed(a).eq_ignore_ascii_case(trimmed(b))
    } else {
        same_phone(a, b)
    }
}

/// Compares phone numbers digit by digit without allocating.
// Inline, with the digits compared out of line: most numbers compared are the same text
// (a stored number against itself), and the inliner had left the whole comparison out of
// line in some builds.
#[inline]
fn same_phone(a: &str, b: &str) -> bool {
    a == b || same_phone_digits(a, b)
}

/// [`same_phone`] when the texts differ.
#[inline(never)]
fn same_phone_digits(a: &str, b: &str) -> bool {
    fn significant(number: &str) -> impl Iterator<Item = char> + '_ {
        let digits = number.chars().filter(char::is_ascii_digit);
        let count = number.chars().filter(char::is_ascii_digit).count();
        let skip = usize::from(
            count == 11
                && number
                    .trim_start_matches(|c: char| !c.is_ascii_digit())
                    .starts_with('1'),
        );
        digits.skip(skip)
    }
    significant(a).eq(significant(b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pack_set_holds_exactly_the_packs_put_in_it_beyond_the_first_word() {
        let put = [0, 5, 63, 64, 127, 128, 300];
        let mut set = super::PackSet::default();
        for index in put {
            set.insert(index);
        }
        for index in 0..400 {
            assert_eq!(set.contains(index), put.contains(&index), "pack {index}");
        }
        assert!(!super::PackSet::default().contains(200));
    }
}

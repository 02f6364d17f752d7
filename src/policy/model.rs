//! The compiled policy: what the engine evaluates. Built once by `compile`; no
//! strings are parsed and nothing is allocated per rule when a decision is made.

use crate::domain::SharedText;
use std::marker::PhantomData;

use chrono::{NaiveDate, TimeDelta};
use serde::Serialize;

use crate::domain::{
    Channel, CollectorKind, ContactPointKind, Flag, InitiatedBy, Outcome, Purpose, Reason, Weekday,
};

/// A member of a small closed set that fits in a bit mask.
pub trait Member: Copy + 'static {
    /// Every member, in a stable order.
    fn all() -> &'static [Self];
    /// The member's bit.
    fn mask(self) -> u16;
}

macro_rules! member {
    ($type:ty) => {
        impl Member for $type {
            fn all() -> &'static [Self] {
                &<$type>::ALL
            }
            fn mask(self) -> u16 {
                u16::from(self.bit())
            }
        }
    };
}
member!(Channel);
member!(ContactPointKind);
member!(Flag);
member!(Weekday);
impl Member for Purpose {
    fn all() -> &'static [Self] {
        &Purpose::ALL
    }
    fn mask(self) -> u16 {
        self.bit()
    }
}
impl Member for Outcome {
    fn all() -> &'static [Self] {
        &Outcome::ALL
    }
    fn mask(self) -> u16 {
        self.bit()
    }
}

/// A set of channels, purposes, outcomes, kinds or days as a bit mask.
#[derive(Clone, Copy)]
pub struct Set<T: Member> {
    bits: u16,
    member: PhantomData<T>,
}

impl<T: Member> Set<T> {
    /// The empty set.
    pub fn empty() -> Self {
        Set {
            bits: 0,
            member: PhantomData,
        }
    }

    /// Every member.
    pub fn full() -> Self {
        T::all().iter().copied().collect()
    }

    /// Whether `item` is in the set.
    pub fn contains(self, item: T) -> bool {
        self.bits & item.mask() != 0
    }

    /// Adds `item`.
    pub fn insert(&mut self, item: T) {
        self.bits |= item.mask();
    }

    /// Whether nothing is in the set.
    pub fn is_empty(self) -> bool {
        self.bits == 0
    }

    /// Whether every member is in the set.
    pub fn is_full(self) -> bool {
        self.bits == Self::full().bits
    }

    /// The members not in `other`.
    pub fn without(self, other: Self) -> Self {
        Set {
            bits: self.bits & !other.bits,
            member: PhantomData,
        }
    }

    /// The members of either.
    pub fn union(self, other: Self) -> Self {
        Set {
            bits: self.bits | other.bits,
            member: PhantomData,
        }
    }

    /// Whether the two sets share a member.
    pub fn intersects(self, other: Self) -> bool {
        self.bits & other.bits != 0
    }

    /// The members, in their stable order.
    pub fn iter(self) -> impl Iterator<Item = T> {
        T::all()
            .iter()
            .copied()
            .filter(move |item| self.contains(*item))
    }
}

impl<T: Member> FromIterator<T> for Set<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut set = Set::empty();
        for item in items {
            set.insert(item);
        }
        set
    }
}

impl<T: Member + std::fmt::Debug> std::fmt::Debug for Set<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Whether a pack is law as enacted or a draft whose text is not confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum PackStatus {
    /// In force as written.
    Active,
    /// Encodes rules whose text is not confirmed; still enforced (fail closed).
    Draft,
}

/// Local dates a pack or rule is in force, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DateRange {
    /// First local date in force.
    pub from: Option<NaiveDate>,
    /// Last local date in force.
    pub until: Option<NaiveDate>,
}

impl DateRange {
    /// Whether `date` is in the range.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|from| date >= from) && self.until.is_none_or(|until| date <= until)
    }

    /// The overlap of two ranges.
    pub fn intersect(self, other: DateRange) -> DateRange {
        DateRange {
            from: self.from.max(other.from),
            until: match (self.until, other.until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// Whether no date is in the range.
    pub fn is_empty(&self) -> bool {
        matches!((self.from, self.until), (Some(from), Some(until)) if from > until)
    }
}

/// Which accounts a pack applies to. Empty lists mean "any".
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scope {
    /// ISO country code.
    pub country: Option<String>,
    /// USPS state codes, upper case.
    pub states: Vec<String>,
    /// City names, lower case.
    pub cities: Vec<String>,
    /// ZIP code prefixes (3 to 5 digits): with `cities`, the pack's place is met by the
    /// city or by the ZIP code.
    pub postal_codes: Vec<String>,
    /// Debt types.
    pub debt_types: Vec<String>,
    /// Creditors.
    pub creditors: Vec<String>,
    /// Who the law binds (`agency`, `debt_buyer`, `creditor`); empty: everyone.
    pub collectors: Vec<CollectorKind>,
}

impl Scope {
    /// Whether this is a baseline pack (no geographic or client restriction).
    pub fn is_baseline(&self) -> bool {
        self.states.is_empty()
            && self.cities.is_empty()
            && self.postal_codes.is_empty()
            && self.creditors.is_empty()
            && self.debt_types.is_empty()
    }
}

/// One loaded pack.
#[derive(Debug, Clone)]
pub struct Pack {
    /// Stable identifier (`us-federal`).
    pub id: SharedText,
    /// Human title.
    pub title: String,
    /// The pack's own version string.
    pub version: String,
    /// The law the pack encodes.
    pub citation: String,
    /// Active or draft.
    pub status: PackStatus,
    /// Where it applies.
    pub scope: Scope,
    /// When it applies.
    pub effective: DateRange,
    /// The file it came from, as given to the loader.
    pub file: String,
    /// What the pack is for, in the author's words.
    pub description: Option<String>,
    /// The pack that replaces this one: this pack ends the day before that pack's
    /// `effective_from`, so the two hand over on one date with no gap and no overlap.
    pub superseded_by: Option<String>,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Identifier, unique across the policy (`reg-f.call-frequency`). The texts a
    /// decision's reasons carry are shared ([`SharedText`]), never copied per decision.
    pub id: SharedText,
    /// Index of the pack in [`super::Policy::packs`].
    pub pack: usize,
    /// The rule as its decisions cite it: made once, shared by every refusal.
    pub reason: Reason,
    /// Where the rule comes from in law.
    pub citation: SharedText,
    /// What a person is told when the rule binds.
    pub message: SharedText,
    /// The channels of requests the rule governs.
    pub channels: Set<Channel>,
    /// The purposes of requests the rule governs (after exemptions).
    pub purposes: Set<Purpose>,
    /// Extra conditions on the request.
    pub when: Condition,
    /// Local dates in force (the pack's range intersected with the rule's).
    pub effective: DateRange,
    /// What the rule does.
    pub kind: RuleKind,
    /// The author's note on how the rule reads the law.
    pub note: Option<String>,
    /// For a hold: it does not refuse a contact to a number or address through which
    /// the consumer contacted us within this many local calendar days (NYC SHIELD's
    /// "used that medium ... within the past 60 days").
    pub unless_consumer_used_days: Option<u32>,
    /// For a hold: the exceptions tied to the requested number or address (Reg F
    /// 1006.6(d)(4)(i), as 1006.22(f)(3) refers to it).
    pub unless: Unless,
}

impl Rule {
    /// The longest span of time the rule names: a cap's period, a cooldown's days, a
    /// window of consent or of the consumer's use (zero for windows, plain holds and
    /// obligations).
    pub fn longest_span(&self) -> TimeDelta {
        let days = |days: u32| TimeDelta::days(i64::from(days));
        let consent = |consent_days: Option<u32>| consent_days.map_or(TimeDelta::zero(), days);
        let own = match &self.kind {
            RuleKind::Cap(cap) | RuleKind::Warning(cap) => {
                let period = match cap.period {
                    Period::CalendarDays(count) => days(count),
                    Period::Rolling(duration) => duration,
                };
                period.max(consent(cap.exclude_consent_days))
            }
            RuleKind::Cooldown(cooldown) => {
                days(cooldown.days).max(consent(cooldown.exclude_consent_days))
            }
            RuleKind::Window(_)
            | RuleKind::ConsumerTimes
            | RuleKind::Hold(_)
            | RuleKind::Obligation(_) => TimeDelta::zero(),
        };
        own.max(consent(self.unless_consumer_used_days))
    }

    /// Which of our own contacts (collector-initiated) the rule can read: those its
    /// cap or cooldown counts, and, where contacts under consent are exempt, the
    /// conversations on the requested channel that end a consent ([`ContactReach`]).
    /// Every rule kind states it: a new kind must say what it reads to compile.
    pub fn contact_reach(&self) -> ContactReach {
        let consent_ends = |consent_days: Option<u32>| {
            if consent_days.is_some() {
                self.channels
            } else {
                Set::empty()
            }
        };
        let channels = match &self.kind {
            RuleKind::Cap(cap) | RuleKind::Warning(cap) => cap
                .count
                .channels
                .union(consent_ends(cap.exclude_consent_days)),
            RuleKind::Cooldown(cooldown) => cooldown
                .after
                .channels
                .union(consent_ends(cooldown.exclude_consent_days)),
            // Holds read consents, revocations and the consumer's own contacts, never ours.
            RuleKind::Window(_)
            | RuleKind::ConsumerTimes
            | RuleKind::Hold(_)
            | RuleKind::Obligation(_) => Set::empty(),
        };
        ContactReach {
            channels,
            span: self.longest_span(),
        }
    }
}

/// What of our own past contacts (collector-initiated) some rules can read: the
/// channels they were made on, and how far back from a question's instant (the longest
/// span the rules name: [`Rule::longest_span`]). Consents, revocations and the
/// consumer's own contacts are read whatever their channel or age.
#[derive(Debug, Clone, Copy)]
pub struct ContactReach {
    /// The channels of the contacts read.
    pub channels: Set<Channel>,
    /// How far back from a question's instant.
    pub span: TimeDelta,
}

impl ContactReach {
    /// Reads nothing.
    pub fn none() -> ContactReach {
        ContactReach {
            channels: Set::empty(),
            span: TimeDelta::zero(),
        }
    }

    /// What either reads.
    pub fn union(self, other: ContactReach) -> ContactReach {
        ContactReach {
            channels: self.channels.union(other.channels),
            span: self.span.max(other.span),
        }
    }
}

/// A hold's exceptions tied to the requested contact point (`unless = [...]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unless {
    /// `consumer_used_point`: the consumer contacted us through this number or address
    /// about this debt (a consumer-initiated contact on the channel naming it), and has
    /// not opted out of it or of the channel (1006.6(d)(4)(i)(A)).
    pub consumer_used_point: bool,
    /// `consumer_consented_to_point`: the latest consent record about this debt on the
    /// channel that names this number or address (or revokes the channel) is a consent
    /// naming it (1006.6(d)(4)(i)(B)).
    pub consumer_consented_to_point: bool,
}

impl Unless {
    /// The names used in rule packs.
    pub const NAMES: [&'static str; 2] = ["consumer_used_point", "consumer_consented_to_point"];
}

/// `when`: every listed condition must hold for the rule to apply.
#[derive(Debug, Clone)]
pub struct Condition {
    /// Contact point kinds; full when unrestricted.
    pub contact_point_kinds: Set<ContactPointKind>,
    /// Debt types; empty when unrestricted.
    pub debt_types: Vec<String>,
    /// Flags that must all hold.
    pub flags: Vec<Flag>,
}

/// What decides whether a governing rule applies to a question, beside the rule's
/// index: a question reads this small record for every rule of its channel and
/// purpose, and the rule itself only for those that apply (issue 15).
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    /// The rule's index in [`super::Policy::rules`].
    pub rule: usize,
    /// The rule's pack ([`Rule::pack`]).
    pub pack: usize,
    /// [`Condition::contact_point_kinds`].
    pub kinds: Set<ContactPointKind>,
    /// Whether the rule names debt types ([`Condition::debt_types`]).
    pub debt_types: bool,
    /// The flags that must all hold for the rule to bind: [`Condition::flags`] and a
    /// hold's own flag (a hold whose flag does not hold passes at every instant).
    pub flags: Set<Flag>,
}

impl Gate {
    /// The gate of the rule at `index`.
    pub fn of(index: usize, rule: &Rule) -> Gate {
        let mut flags: Set<Flag> = rule.when.flags.iter().copied().collect();
        if let RuleKind::Hold(Some(flag)) = rule.kind {
            flags.insert(flag);
        }
        Gate {
            rule: index,
            pack: rule.pack,
            kinds: rule.when.contact_point_kinds,
            debt_types: !rule.when.debt_types.is_empty(),
            flags,
        }
    }
}

/// The kinds of rules.
#[derive(Debug, Clone)]
pub enum RuleKind {
    /// Allowed local intervals; outside them the contact is refused.
    Window(Window),
    /// The consumer's own inconvenient times (from the account) are refused.
    ConsumerTimes,
    /// At most `max` counted events per period.
    Cap(Cap),
    /// Like a cap, but only warns.
    Warning(Cap),
    /// After a matching event, nothing for some calendar days.
    Cooldown(Cooldown),
    /// While its flag holds (or, without a flag, whenever its `when` holds), refuse.
    Hold(Option<Flag>),
    /// An allowed contact must meet this obligation.
    Obligation(SharedText),
}

impl RuleKind {
    /// The name used in rule packs (`window`, `cap`, …).
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::Window(_) => "window",
            RuleKind::ConsumerTimes => "consumer_times",
            RuleKind::Cap(_) => "cap",
            RuleKind::Warning(_) => "warning",
            RuleKind::Cooldown(_) => "cooldown",
            RuleKind::Hold(_) => "hold",
            RuleKind::Obligation(_) => "obligation",
        }
    }
}

/// Allowed local intervals per weekday, in minutes after midnight, sorted and merged.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Index 0 is Monday.
    pub days: [Vec<(u16, u16)>; 7],
    /// A fixed zone the law names ("9:00 P.M. eastern time"); when absent, the window
    /// is checked in every candidate zone of the consumer.
    pub time_zone: Option<chrono_tz::Tz>,
}

/// How a cap measures its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// N consecutive calendar days in the consumer's local dates, the first day counting.
    CalendarDays(u32),
    /// A rolling duration.
    Rolling(TimeDelta),
}

/// Whose events a cap counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Per {
    /// Events about this debt.
    Debt,
    /// Events about any debt of the consumer.
    Consumer,
    /// Events to the requested contact point.
    ContactPoint,
}

/// Which ledger events match.
#[derive(Debug, Clone, Copy)]
pub struct EventFilter {
    /// Channels of the events.
    pub channels: Set<Channel>,
    /// Outcomes; full when any outcome matches.
    pub outcomes: Set<Outcome>,
    /// Contact point kinds; full when any kind matches.
    pub contact_point_kinds: Set<ContactPointKind>,
    /// Who initiated the event; anyone when absent.
    pub initiated_by: Option<InitiatedBy>,
}

/// A frequency cap.
#[derive(Debug, Clone)]
pub struct Cap {
    /// The most counted events allowed in any period.
    pub max: u32,
    /// The period.
    pub period: Period,
    /// Whose events count.
    pub per: Per,
    /// Which events count.
    pub count: EventFilter,
    /// Calls placed under consent given within this many calendar days do not count.
    pub exclude_consent_days: Option<u32>,
    /// Events to a contact point found to be a wrong party do not count.
    pub exclude_wrong_party: bool,
    /// Contacts recorded with one of these purposes are not counted, and a requested
    /// contact with one of them is not counted either (the law's exclusions: responses
    /// to the consumer, communications required by law). A contact with no recorded
    /// purpose is counted (fail closed). Empty: every purpose counts.
    pub not_counting: Set<Purpose>,
}

/// A waiting period after an event.
#[derive(Debug, Clone)]
pub struct Cooldown {
    /// The events that start it.
    pub after: EventFilter,
    /// Calendar days, the day of the event being day 1.
    pub days: u32,
    /// Whose events start it.
    pub per: Per,
    /// A contact placed under consent given within this many calendar days is exempt.
    pub exclude_consent_days: Option<u32>,
}

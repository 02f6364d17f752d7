//! A request prepared once for the many evaluations of a decision and its search:
//! candidate zones, the applicable rules, the history sorted with each event's
//! contact point resolved.

use std::cell::{Cell, RefCell};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::request::DecideRequest;
use super::zones;
use crate::domain::{
    Account, Channel, ContactPointKind, EmailKind, Event, EventType, Flag, InitiatedBy, OptOut,
    Outcome, PhoneKind, Purpose,
};
use crate::policy::model::{EventFilter, Per, Rule, Set};
use crate::policy::{Policy, scope_covers};

/// Marks a day not computed yet in [`Context::event_day`]'s cache.
const UNKNOWN_DAY: i64 = i64::MIN;

/// One history event. What the rules ask of its contact point is resolved on first
/// use: a decision looks at the few events near its instant, not the whole ledger.
pub struct PreparedEvent<'a> {
    pub event: &'a Event,
    /// About the account being decided (not another debt of the consumer).
    pub same_debt: bool,
    /// The instant in microseconds since the epoch, computed on first use (range
    /// searches touch a few events; converting all of them costs more).
    micros: Cell<Option<i64>>,
    resolved: Cell<Option<Resolved>>,
}

impl PreparedEvent<'_> {
    /// The event's instant in microseconds since the epoch.
    pub fn micros(&self) -> i64 {
        if let Some(micros) = self.micros.get() {
            return micros;
        }
        let micros = self.event.at.timestamp_micros();
        self.micros.set(Some(micros));
        micros
    }
}

/// What the rules ask of an event's contact point.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// The kind of the contact point used, when it is one of the account's.
    pub kind: Option<ContactPointKind>,
    /// To the requested contact point (or either side unknown).
    pub same_contact_point: bool,
    /// Made to a contact point that turned out to be a wrong party.
    pub wrong_party: bool,
}

/// Everything a decision needs, computed once.
pub struct Context<'a> {
    /// The request's instant.
    pub at: DateTime<Utc>,
    pub account: &'a Account,
    pub channel: Channel,
    pub contact_point: Option<&'a str>,
    pub contact_kind: Option<ContactPointKind>,
    pub zones: Vec<Tz>,
    /// Sorted by instant.
    pub events: Vec<PreparedEvent<'a>>,
    /// The rules that govern this request, in policy order.
    pub rules: Vec<&'a Rule>,
    /// Each event's local day number per zone (`events.len() × zones.len()`), filled
    /// on first use: a day is converted once however many rules and search steps ask.
    event_days: Vec<Cell<i64>>,
    /// Contact points that had a wrong-party outcome.
    wrong_party_points: Vec<&'a str>,
    /// A reusable buffer for the slots a cap counts (one cap is counted at a time).
    pub slots: RefCell<Vec<i64>>,
    /// Channels with a consent or revocation in the history (most have none, and
    /// then no consent lookup is needed).
    consent_channels: Set<Channel>,
}

impl<'a> Context<'a> {
    pub fn new(policy: &'a Policy, request: &'a DecideRequest) -> Context<'a> {
        let account = &request.account;
        let channel = request.channel;
        let contact_point = request
            .contact_point
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let contact_kind = match channel {
            Channel::Letter | Channel::Visit => Some(ContactPointKind::Address),
            _ => contact_point.and_then(|point| kind_of(account, channel, point)),
        };
        let mut context = Context {
            at: request.at,
            account,
            channel,
            contact_point,
            contact_kind,
            zones: zones::candidate_zones(&account.consumer),
            events: Vec::new(),
            rules: Vec::new(),
            event_days: Vec::new(),
            slots: RefCell::new(Vec::new()),
            wrong_party_points: request
                .history
                .iter()
                .filter(|e| e.outcome == Some(Outcome::WrongParty))
                .filter_map(|e| e.contact_point.as_deref())
                .collect(),
            consent_channels: request
                .history
                .iter()
                .filter(|e| e.event_type != EventType::Contact)
                .map(|e| e.channel)
                .collect(),
        };
        context.events = context.prepare_events(&request.history);
        context.event_days =
            vec![Cell::new(UNKNOWN_DAY); context.events.len() * context.zones.len()];
        context.rules = context.applicable_rules(policy, request.purpose);
        context
    }

    fn prepare_events(&self, history: &'a [Event]) -> Vec<PreparedEvent<'a>> {
        let mut events: Vec<PreparedEvent<'a>> = history
            .iter()
            .map(|event| PreparedEvent {
                event,
                same_debt: event
                    .account_id
                    .as_deref()
                    .is_none_or(|id| id == self.account.id),
                micros: Cell::new(None),
                resolved: Cell::new(None),
            })
            .collect();
        if !events.is_sorted_by_key(|e| e.event.at) {
            events.sort_by_key(|e| e.event.at);
        }
        events
    }

    /// Resolves (once) an event's contact point against the account and the request.
    pub fn resolve(&self, prepared: &PreparedEvent<'_>) -> Resolved {
        if let Some(resolved) = prepared.resolved.get() {
            return resolved;
        }
        let event = prepared.event;
        let point = event.contact_point.as_deref();
        let resolved = match (event.channel, point) {
            (Channel::Letter | Channel::Visit, _) => Resolved {
                kind: Some(ContactPointKind::Address),
                same_contact_point: true,
                wrong_party: false,
            },
            (_, None) => Resolved {
                kind: None,
                same_contact_point: true,
                wrong_party: event.outcome == Some(Outcome::WrongParty),
            },
            (channel, Some(point)) => Resolved {
                kind: kind_of(self.account, channel, point),
                same_contact_point: self
                    .contact_point
                    .is_none_or(|requested| same_contact_point(point, requested)),
                wrong_party: event.outcome == Some(Outcome::WrongParty)
                    || self
                        .wrong_party_points
                        .iter()
                        .any(|wrong| same_contact_point(point, wrong)),
            },
        };
        prepared.resolved.set(Some(resolved));
        resolved
    }

    fn applicable_rules(&self, policy: &'a Policy, purpose: Purpose) -> Vec<&'a Rule> {
        let packs: Vec<bool> = policy
            .packs()
            .iter()
            .map(|pack| scope_covers(&pack.scope, self.account))
            .collect();
        // Sized up front: growing a filtered Vec reallocates several times.
        let mut rules = Vec::with_capacity(policy.rules().len());
        rules.extend(
            policy
                .governing(self.channel, purpose)
                .filter(|rule| packs.get(rule.pack).copied().unwrap_or(false))
                .filter(|rule| self.condition_holds(rule)),
        );
        rules
    }

    fn condition_holds(&self, rule: &Rule) -> bool {
        let when = &rule.when;
        // An unknown contact point could be of any kind: the rule applies (fail closed).
        let kind_ok = self
            .contact_kind
            .is_none_or(|kind| when.contact_point_kinds.contains(kind));
        let debt_ok =
            when.debt_types.is_empty()
                || self.account.debt_type.as_deref().is_none_or(|debt| {
                    when.debt_types.iter().any(|d| d.eq_ignore_ascii_case(debt))
                });
        kind_ok && debt_ok && when.flags.iter().all(|flag| self.flag_holds(*flag))
    }

    /// Whether a hold's flag holds for this request. Where the request leaves it open
    /// (no contact point named), the flag holds if it could (fail closed).
    pub fn flag_holds(&self, flag: Flag) -> bool {
        let flags = &self.account.flags;
        match flag {
            Flag::CeaseAndDesist
            | Flag::AttorneyRepresented
            | Flag::Disputed
            | Flag::Bankruptcy
            | Flag::Deceased
            | Flag::IdentityTheft => flags.get(flag).unwrap_or(true),
            Flag::WorkContactProhibited => {
                flags.work_contact_prohibited && self.could_be_at(crate::domain::Place::Work)
            }
            Flag::InconvenientPlace => self
                .account
                .inconvenient_places
                .iter()
                .any(|place| self.could_be_at(*place)),
            Flag::OptedOut => self.account.opted_out.iter().any(|opt_out| match opt_out {
                OptOut::Channel(channel) => *channel == self.channel,
                OptOut::ContactPoint(point) => match self.contact_point {
                    Some(requested) => same_contact_point(point, requested),
                    // No contact point named: a number or address of this channel's
                    // family may be the one used (fail closed); letters and visits go
                    // to the postal address, which no phone or email opt-out names.
                    None => channel_of_point(point) == Some(self.channel_family()),
                },
            }),
            Flag::NoConsent => !self.consent_on_record(self.channel),
        }
    }

    fn channel_family(&self) -> Channel {
        match self.channel {
            Channel::Sms => Channel::Call,
            Channel::Visit => Channel::Letter,
            other => other,
        }
    }

    fn could_be_at(&self, place: crate::domain::Place) -> bool {
        match self.contact_kind {
            Some(kind) => kind.place() == Some(place),
            None => match self.channel {
                Channel::Letter | Channel::Visit => place == crate::domain::Place::Home,
                _ => true,
            },
        }
    }

    /// Whether the latest consent record about this debt on the channel, as of the
    /// request's instant, is a consent and not a revocation. (A hold does not move
    /// with the search for the next allowed instant, so a consent recorded after the
    /// request's instant does not lift it: fail closed.)
    fn consent_on_record(&self, channel: Channel) -> bool {
        let known = self.events.partition_point(|e| e.event.at <= self.at);
        self.events
            .get(..known)
            .unwrap_or(&[])
            .iter()
            .rev()
            .filter(|e| e.event.channel == channel && e.same_debt)
            .find_map(|e| match e.event.event_type {
                EventType::Consent => Some(true),
                EventType::ConsentRevoked => Some(false),
                EventType::Contact => None,
            })
            .unwrap_or(false)
    }

    /// Whether consent given directly within `days` calendar days (the day of receipt
    /// being day 1) covers a contact on `channel` at `instant`: the latest consent on
    /// the channel, not revoked and not ended by a conversation since (Reg F
    /// 1006.14(b)(3)(i); comment 14(b)(3)(i)-2), in every candidate zone.
    pub fn consent_active(&self, channel: Channel, instant: DateTime<Utc>, days: u32) -> bool {
        if !self.consent_channels.contains(channel) {
            return false;
        }
        let before = self.events.partition_point(|e| e.event.at <= instant);
        let Some(earlier) = self.events.get(..before) else {
            return false;
        };
        let mut ended = false;
        for prepared in earlier.iter().rev() {
            let event = prepared.event;
            if event.channel != channel || !prepared.same_debt {
                continue;
            }
            match event.event_type {
                EventType::ConsentRevoked => return false,
                EventType::Consent => {
                    if ended {
                        return false;
                    }
                    return self.zones.iter().all(|zone| {
                        let elapsed =
                            zones::local_date(instant, *zone) - zones::local_date(event.at, *zone);
                        elapsed.num_days() < i64::from(days)
                    });
                }
                EventType::Contact => {
                    if event.outcome == Some(Outcome::Conversation) && event.at < instant {
                        ended = true;
                    }
                }
            }
        }
        false
    }

    /// The local day number of the event at `index` in the zone at `zone_index`.
    pub fn event_day(&self, index: usize, zone_index: usize) -> i64 {
        let (Some(event), Some(zone)) = (self.events.get(index), self.zones.get(zone_index)) else {
            return UNKNOWN_DAY;
        };
        let Some(cell) = self.event_days.get(index * self.zones.len() + zone_index) else {
            return zones::day_number(zones::local_date(event.event.at, *zone));
        };
        if cell.get() == UNKNOWN_DAY {
            cell.set(zones::day_number(zones::local_date(event.event.at, *zone)));
        }
        cell.get()
    }

    /// Whether an event falls under a filter and a per-scope.
    pub fn event_matches(
        &self,
        prepared: &PreparedEvent<'_>,
        filter: &EventFilter,
        per: Per,
    ) -> bool {
        let event = prepared.event;
        let cheap = event.event_type == EventType::Contact
            && filter.channels.contains(event.channel)
            && event.outcome.is_none_or(|o| filter.outcomes.contains(o))
            && filter.initiated_by.is_none_or(|i| i == event.initiated_by)
            && match per {
                Per::Debt => prepared.same_debt,
                Per::Consumer | Per::ContactPoint => true,
            };
        if !cheap {
            return false;
        }
        let needs_point = per == Per::ContactPoint || !filter.contact_point_kinds.is_full();
        if !needs_point {
            return true;
        }
        let resolved = self.resolve(prepared);
        resolved
            .kind
            .is_none_or(|k| filter.contact_point_kinds.contains(k))
            && (per != Per::ContactPoint || resolved.same_contact_point)
    }

    /// Whether the requested contact itself would be counted by a filter (its outcome
    /// is unknown yet, so any outcome filter matches).
    pub fn request_matches(&self, filter: &EventFilter) -> bool {
        filter.channels.contains(self.channel)
            && self
                .contact_kind
                .is_none_or(|k| filter.contact_point_kinds.contains(k))
            && filter
                .initiated_by
                .is_none_or(|i| i == InitiatedBy::Collector)
    }
}

/// The kind of one of the account's contact points, found by number or address.
fn kind_of(account: &Account, channel: Channel, point: &str) -> Option<ContactPointKind> {
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
            .find(|e| e.address.trim().eq_ignore_ascii_case(point))
            .map(|e| match e.kind {
                EmailKind::Personal => ContactPointKind::PersonalEmail,
                EmailKind::Work => ContactPointKind::WorkEmail,
            }),
        Channel::Letter | Channel::Visit => Some(ContactPointKind::Address),
    }
}

/// The channel family a contact point belongs to by its shape (an `@` is email).
fn channel_of_point(point: &str) -> Option<Channel> {
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
        a.trim().eq_ignore_ascii_case(b.trim())
    } else {
        same_phone(a, b)
    }
}

/// Compares phone numbers digit by digit without allocating.
fn same_phone(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
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

//! A question prepared for the many evaluations of its decision and its search: the
//! rules that govern its channel, purpose and contact point, over a [`Subject`].

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use smallvec::SmallVec;

use super::subject::{
    PreparedEvent, Question, Slots, Subject, channel_of_point, kind_of, same_contact_point,
};
use super::zones;
use crate::domain::{
    Account, Channel, ContactPointKind, EventType, Flag, InitiatedBy, OptOut, Outcome, Purpose,
    trimmed,
};
use crate::policy::model::{EventFilter, Per, Rule, Set};

/// How many governing rules a [`Context`] holds without allocating.
pub const INLINE_RULES: usize = 16;

/// Everything one question needs, computed once for its evaluations.
pub struct Context<'a> {
    /// The prepared account.
    pub subject: &'a Subject<'a>,
    /// The question's instant.
    pub at: DateTime<Utc>,
    pub account: &'a Account,
    pub channel: Channel,
    /// The purpose of the requested contact.
    pub purpose: Purpose,
    pub contact_point: Option<&'a str>,
    pub contact_kind: Option<ContactPointKind>,
    pub zones: &'a [Tz],
    /// Sorted by instant.
    pub events: &'a [PreparedEvent<'a>],
    /// The rules that govern this question, in policy order (inline: a question is
    /// governed by a handful, and a decision allocates nothing for them).
    pub rules: SmallVec<[&'a Rule; INLINE_RULES]>,
    /// The subject's buffer for the slots a cap counts (one cap is counted at a time).
    pub slots: &'a RefCell<Slots>,
}

impl<'a> Context<'a> {
    pub fn new(subject: &'a Subject<'a>, question: &Question<'a>) -> Context<'a> {
        let mut context = Context::ungoverned(subject, question);
        context.govern();
        context
    }

    /// The context without its governing rules yet ([`Context::govern`] adds them): a
    /// caller that keeps the context in its own frame fills it there (the inline rules
    /// are large, and a context returned by value is copied).
    pub fn ungoverned(subject: &'a Subject<'a>, question: &Question<'a>) -> Context<'a> {
        let account = subject.account;
        let channel = question.channel;
        let contact_point = question
            .contact_point
            .map(trimmed)
            .filter(|p| !p.is_empty());
        let contact_kind = match channel {
            Channel::Letter | Channel::Visit => Some(ContactPointKind::Address),
            _ => contact_point.and_then(|point| kind_of(account, channel, point)),
        };
        Context {
            subject,
            at: question.at,
            account,
            channel,
            purpose: question.purpose,
            contact_point,
            contact_kind,
            zones: &subject.zones,
            events: &subject.events,
            rules: SmallVec::new(),
            slots: &subject.slots,
        }
    }

    /// Adds the rules that govern the question, in policy order (once, after
    /// [`Context::ungoverned`]).
    pub fn govern(&mut self) {
        let subject = self.subject;
        let rules = subject.policy.rules();
        for gate in subject.policy.governing_gates(self.channel, self.purpose) {
            // An unknown contact point could be of any kind: the rule applies (fail
            // closed).
            if !subject.covered_packs.contains(gate.pack)
                || self
                    .contact_kind
                    .is_some_and(|kind| !gate.kinds.contains(kind))
            {
                continue;
            }
            // The flags the rule needs that the account does not settle as held: one
            // the account settles as not held rules it out; the rest the question
            // decides.
            let asked = gate.flags.without(subject.held_flags);
            if asked.intersects(subject.settled_flags) {
                continue;
            }
            let Some(rule) = rules.get(gate.rule) else {
                continue;
            };
            if (gate.debt_types && !self.debt_type_matches(rule))
                || (!asked.is_empty() && !asked.iter().all(|flag| self.flag_holds(flag)))
            {
                continue;
            }
            self.rules.push(rule);
        }
    }

    /// How many events are at or before `instant` (nanoseconds since the epoch): all
    /// of them, without a search, when the latest is (most questions come after the
    /// whole history).
    pub fn events_through(&self, instant: i64) -> usize {
        match self.events.last() {
            Some(latest) if latest.nanos() <= instant => self.events.len(),
            _ => self.events.partition_point(|e| e.nanos() <= instant),
        }
    }

    /// How many events are before `instant`, as [`Context::events_through`] counts.
    pub fn events_before(&self, instant: i64) -> usize {
        match self.events.last() {
            Some(latest) if latest.nanos() < instant => self.events.len(),
            _ => self.events.partition_point(|e| e.nanos() < instant),
        }
    }

    /// Whether an event was made to the question's contact point (either unknown
    /// counts as the same: fail closed).
    fn same_point(&self, prepared: &PreparedEvent<'_>) -> bool {
        match (prepared.event.contact_point.as_deref(), self.contact_point) {
            (Some(point), Some(requested)) => same_contact_point(point, requested),
            _ => true,
        }
    }

    /// Whether the account's debt type is one the rule names (an unknown type could
    /// be any: fail closed).
    fn debt_type_matches(&self, rule: &Rule) -> bool {
        let named = &rule.when.debt_types;
        self.account
            .debt_type
            .as_deref()
            .is_none_or(|debt| named.iter().any(|d| d.eq_ignore_ascii_case(debt)))
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
    ///
    /// A consent that names a number or address covers that one only (a request that
    /// names none could be to another: not covered); a revocation, whatever it names,
    /// ends every consent on the channel before it (fail closed).
    fn consent_on_record(&self, channel: Channel) -> bool {
        let known = self.events.partition_point(|e| e.event.at <= self.at);
        self.events
            .get(..known)
            .unwrap_or(&[])
            .iter()
            .rev()
            .filter(|e| e.event.channel == channel && e.same_debt)
            .find_map(|e| match e.event.event_type {
                EventType::Consent => self.names_requested_point(e).then_some(true),
                EventType::ConsentRevoked => Some(false),
                EventType::Contact => None,
            })
            .unwrap_or(false)
    }

    /// Whether an event's contact point, if it names one, is the requested one. An
    /// event naming none is about the whole channel; one naming a point never matches a
    /// request that names none.
    fn names_requested_point(&self, prepared: &PreparedEvent<'_>) -> bool {
        match (prepared.event.contact_point.as_deref(), self.contact_point) {
            (None, _) => true,
            (Some(point), Some(requested)) => same_contact_point(point, requested),
            (Some(_), None) => false,
        }
    }

    /// Whether the requested number or address itself is opted out, or its channel.
    fn point_opted_out(&self, requested: &str) -> bool {
        self.account.opted_out.iter().any(|opt_out| match opt_out {
            OptOut::Channel(channel) => *channel == self.channel,
            OptOut::ContactPoint(point) => same_contact_point(point, requested),
        })
    }

    /// 1006.6(d)(4)(i)(A): the consumer used the requested number or address to
    /// communicate with us about this debt (a consumer-initiated contact on the channel
    /// naming it, at or before `instant`) and has not opted out of it since (no opt-out
    /// of it or of the channel on the account). No contact point named, or none recorded
    /// on the consumer's contact: no (fail closed).
    pub fn consumer_used_this_point(&self, instant: i64) -> bool {
        let Some(requested) = self.contact_point else {
            return false;
        };
        if self.point_opted_out(requested) {
            return false;
        }
        let before = self.events_through(instant);
        self.events
            .get(..before)
            .unwrap_or(&[])
            .iter()
            .any(|prepared| {
                let event = prepared.event;
                prepared.same_debt
                    && event.event_type == EventType::Contact
                    && event.initiated_by == InitiatedBy::Consumer
                    && event.channel == self.channel
                    && event
                        .contact_point
                        .as_deref()
                        .is_some_and(|point| same_contact_point(point, requested))
            })
    }

    /// 1006.6(d)(4)(i)(B): the consumer consented directly to our using the requested
    /// number or address about this debt and has not withdrawn it: the latest consent
    /// record on the channel about this debt, at or before `instant`, that names this
    /// point (or is a revocation of any kind) is a consent naming it. A consent to the
    /// channel that names no address does not name this one (fail closed).
    pub fn consumer_consented_to_this_point(&self, instant: i64) -> bool {
        let Some(requested) = self.contact_point else {
            return false;
        };
        let before = self.events_through(instant);
        self.events
            .get(..before)
            .unwrap_or(&[])
            .iter()
            .rev()
            .filter(|e| e.event.channel == self.channel && e.same_debt)
            .find_map(|e| {
                let names_it = e
                    .event
                    .contact_point
                    .as_deref()
                    .is_some_and(|point| same_contact_point(point, requested));
                match e.event.event_type {
                    EventType::Consent => names_it.then_some(true),
                    EventType::ConsentRevoked => Some(false),
                    EventType::Contact => None,
                }
            })
            .unwrap_or(false)
    }

    /// Whether consent given directly within `days` calendar days (the day of receipt
    /// being day 1) covers a contact on `channel` at `instant`: the latest consent on
    /// the channel, not revoked and not ended by a conversation since (Reg F
    /// 1006.14(b)(3)(i); comment 14(b)(3)(i)-2), in every candidate zone.
    pub fn consent_active(&self, channel: Channel, instant: i64, days: u32) -> bool {
        if !self.subject.consent_channels.contains(channel) {
            return false;
        }
        let before = self.events_through(instant);
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
                        let elapsed = zones::local_day_of_nanos(instant, *zone)
                            - zones::local_day_of_nanos(prepared.nanos(), *zone);
                        elapsed < i64::from(days)
                    });
                }
                EventType::Contact => {
                    if event.outcome == Some(Outcome::Conversation) && prepared.nanos() < instant {
                        ended = true;
                    }
                }
            }
        }
        false
    }

    /// Whether the consumer contacted us through the requested number or address (on
    /// this channel, about any debt) within `days` local calendar days before
    /// `instant`, the day of that contact being day 1, in every candidate zone. With no
    /// contact point named, or a past contact whose point is not recorded, nothing
    /// shows the consumer used this one: no (fail closed).
    pub fn consumer_used_point(&self, instant: i64, days: u32) -> bool {
        let Some(requested) = self.contact_point else {
            return false;
        };
        let before = self.events_through(instant);
        self.events
            .get(..before)
            .unwrap_or(&[])
            .iter()
            .rev()
            .filter(|prepared| {
                let event = prepared.event;
                event.event_type == EventType::Contact
                    && event.initiated_by == InitiatedBy::Consumer
                    && event.channel == self.channel
                    && event
                        .contact_point
                        .as_deref()
                        .is_some_and(|point| same_contact_point(point, requested))
            })
            .any(|prepared| {
                self.zones.iter().all(|zone| {
                    let elapsed = zones::local_day_of_nanos(instant, *zone)
                        - zones::local_day_of_nanos(prepared.nanos(), *zone);
                    elapsed < i64::from(days)
                })
            })
    }

    /// The local day number of the event at `index` in the zone at `zone_index`.
    #[inline]
    pub fn event_day(&self, index: usize, zone_index: usize) -> i64 {
        self.subject.event_day(index, zone_index)
    }

    /// The question-independent facts about an event's contact point.
    pub fn resolve(&self, prepared: &PreparedEvent<'_>) -> super::subject::Resolved {
        self.subject.resolve(prepared)
    }

    /// Whether an event falls under a filter and a per-scope.
    #[inline]
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
        cheap
            && (per != Per::ContactPoint && filter.contact_point_kinds.is_full()
                || self.point_matches(prepared, filter, per))
    }

    /// The part of [`Context::event_matches`] that reads the event's contact point (out
    /// of line: most filters do not ask, and the common test stays small).
    #[inline(never)]
    fn point_matches(&self, prepared: &PreparedEvent<'_>, filter: &EventFilter, per: Per) -> bool {
        let kind_ok = filter.contact_point_kinds.is_full()
            || self
                .resolve(prepared)
                .kind
                .is_none_or(|k| filter.contact_point_kinds.contains(k));
        kind_ok && (per != Per::ContactPoint || self.same_point(prepared))
    }

    /// Whether a cap leaves a recorded contact out of its count by its purpose. A
    /// contact with no recorded purpose is counted (fail closed).
    pub fn excluded_by_purpose(prepared: &PreparedEvent<'_>, not_counting: Set<Purpose>) -> bool {
        prepared
            .event
            .purpose
            .is_some_and(|purpose| not_counting.contains(purpose))
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

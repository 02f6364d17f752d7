//! Contacts by channel and UTC day, with the outcome mix, and the right-party contact
//! rate of outbound calls — one fold over the ledger's `contact` events.
//!
//! Pure: events in, counts out. Consents, flags, payments and the other non-contact
//! entries are not contacts and are not counted.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::Period;
use super::facts::EventFacts;
use crate::domain::{Channel, InitiatedBy, LedgerEventType, Outcome};

/// Outcome slots: one per outcome, and the last for "not recorded".
const OUTCOME_SLOTS: usize = Outcome::ALL.len() + 1;

/// Contacts in the period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ContactsSection {
    /// Every contact of the period (outbound and inbound).
    pub total: u64,
    /// Per channel with at least one contact, with the outcome mix.
    pub by_channel: Vec<ChannelContacts>,
    /// Per day of the period and channel (every day, for the channels of `by_channel`).
    pub by_day: Vec<DayContacts>,
}

/// The contacts of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChannelContacts {
    /// The channel.
    pub channel: Channel,
    /// All its contacts.
    pub contacts: u64,
    /// Started by us.
    pub outbound: u64,
    /// Started by the consumer.
    pub inbound: u64,
    /// How they ended, most frequent first.
    pub outcomes: Vec<OutcomeCount>,
}

/// How many contacts ended one way.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OutcomeCount {
    /// The outcome; `null` when none was recorded.
    pub outcome: Option<Outcome>,
    /// How many.
    pub contacts: u64,
}

/// The contacts of one channel on one day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayContacts {
    /// The UTC day.
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    /// The channel.
    pub channel: Channel,
    /// How many.
    pub contacts: u64,
}

/// The right-party contact rate: outbound calls that reached the consumer (a
/// conversation) per outbound call attempt. Wrong parties are counted apart; inbound
/// calls are not attempts.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RightPartySection {
    /// Outbound calls.
    pub attempts: u64,
    /// Outbound calls with a conversation.
    pub right_party: u64,
    /// Outbound calls that reached a wrong party.
    pub wrong_party: u64,
    /// `right_party / attempts`; `null` without attempts.
    pub rate: Option<f64>,
    /// `wrong_party / attempts`; `null` without attempts.
    pub wrong_party_rate: Option<f64>,
    /// Calls the consumer made to us.
    pub inbound_calls: u64,
    /// Of those, conversations.
    pub inbound_conversations: u64,
    /// Per day of the period.
    pub by_day: Vec<RightPartyDay>,
}

/// The right-party figures of one day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RightPartyDay {
    /// The UTC day.
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    /// Outbound calls.
    pub attempts: u64,
    /// Outbound calls with a conversation.
    pub right_party: u64,
    /// Outbound calls that reached a wrong party.
    pub wrong_party: u64,
    /// `right_party / attempts`; `null` without attempts.
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CallDay {
    attempts: u64,
    right_party: u64,
    wrong_party: u64,
    inbound: u64,
    inbound_conversations: u64,
}

/// The fold: counts per day, channel and outcome.
#[derive(Debug, Clone)]
pub struct ContactTally {
    period: Period,
    /// Per day of the period, per channel.
    by_day: Vec<[u64; Channel::ALL.len()]>,
    /// Per channel, per outcome slot.
    outcomes: [[u64; OUTCOME_SLOTS]; Channel::ALL.len()],
    /// Per channel, started by the consumer.
    inbound: [u64; Channel::ALL.len()],
    /// Per day of the period.
    calls: Vec<CallDay>,
}

impl ContactTally {
    /// An empty tally of a period.
    pub fn new(period: Period) -> ContactTally {
        ContactTally {
            by_day: vec![[0; Channel::ALL.len()]; period.days()],
            calls: vec![CallDay::default(); period.days()],
            outcomes: [[0; OUTCOME_SLOTS]; Channel::ALL.len()],
            inbound: [0; Channel::ALL.len()],
            period,
        }
    }

    /// Counts one event, if it is a contact in the period.
    pub fn add(&mut self, at: DateTime<Utc>, facts: &EventFacts) {
        let (LedgerEventType::Contact, Some(channel)) = (facts.kind, facts.channel) else {
            return;
        };
        let Some(day) = self.period.day_index(at.date_naive()) else {
            return;
        };
        let slot = channel as usize;
        if let Some(count) = self.by_day.get_mut(day).and_then(|d| d.get_mut(slot)) {
            *count += 1;
        }
        let outcome = facts.outcome.map_or(OUTCOME_SLOTS - 1, |o| o as usize);
        if let Some(count) = self.outcomes.get_mut(slot).and_then(|o| o.get_mut(outcome)) {
            *count += 1;
        }
        let inbound = facts.initiated_by == InitiatedBy::Consumer;
        if inbound && let Some(count) = self.inbound.get_mut(slot) {
            *count += 1;
        }
        if channel == Channel::Call
            && let Some(calls) = self.calls.get_mut(day)
        {
            let conversation = facts.outcome == Some(Outcome::Conversation);
            if inbound {
                calls.inbound += 1;
                calls.inbound_conversations += u64::from(conversation);
            } else {
                calls.attempts += 1;
                calls.right_party += u64::from(conversation);
                calls.wrong_party += u64::from(facts.outcome == Some(Outcome::WrongParty));
            }
        }
    }

    /// Adds another partition's counts (of the same period).
    pub fn merge(&mut self, other: ContactTally) {
        for (mine, theirs) in self.by_day.iter_mut().zip(other.by_day) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
        for (mine, theirs) in self.outcomes.iter_mut().zip(other.outcomes) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
        for (a, b) in self.inbound.iter_mut().zip(other.inbound) {
            *a += b;
        }
        for (mine, theirs) in self.calls.iter_mut().zip(other.calls) {
            mine.attempts += theirs.attempts;
            mine.right_party += theirs.right_party;
            mine.wrong_party += theirs.wrong_party;
            mine.inbound += theirs.inbound;
            mine.inbound_conversations += theirs.inbound_conversations;
        }
    }

    /// The contacts section.
    pub fn contacts(&self) -> ContactsSection {
        let per_channel = |channel: Channel| -> u64 {
            self.by_day
                .iter()
                .filter_map(|day| day.get(channel as usize))
                .sum()
        };
        let channels: Vec<Channel> = Channel::ALL
            .into_iter()
            .filter(|c| per_channel(*c) > 0)
            .collect();
        let by_channel = channels
            .iter()
            .map(|&channel| {
                let contacts = per_channel(channel);
                let inbound = self.inbound.get(channel as usize).copied().unwrap_or(0);
                let slots = self.outcomes.get(channel as usize);
                let mut outcomes: Vec<OutcomeCount> = slots
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .filter(|(_, count)| **count > 0)
                    .map(|(slot, count)| OutcomeCount {
                        outcome: Outcome::ALL.get(slot).copied(),
                        contacts: *count,
                    })
                    .collect();
                outcomes.sort_by_key(|o| std::cmp::Reverse(o.contacts));
                ChannelContacts {
                    channel,
                    contacts,
                    outbound: contacts - inbound,
                    inbound,
                    outcomes,
                }
            })
            .collect::<Vec<_>>();
        let by_day = self
            .period
            .each_day()
            .zip(&self.by_day)
            .flat_map(|(day, counts)| {
                channels.iter().map(move |&channel| DayContacts {
                    day,
                    channel,
                    contacts: counts.get(channel as usize).copied().unwrap_or(0),
                })
            })
            .collect();
        ContactsSection {
            total: by_channel.iter().map(|c| c.contacts).sum(),
            by_channel,
            by_day,
        }
    }

    /// The right-party contact section.
    pub fn right_party(&self) -> RightPartySection {
        let total = self
            .calls
            .iter()
            .fold(CallDay::default(), |sum, day| CallDay {
                attempts: sum.attempts + day.attempts,
                right_party: sum.right_party + day.right_party,
                wrong_party: sum.wrong_party + day.wrong_party,
                inbound: sum.inbound + day.inbound,
                inbound_conversations: sum.inbound_conversations + day.inbound_conversations,
            });
        RightPartySection {
            attempts: total.attempts,
            right_party: total.right_party,
            wrong_party: total.wrong_party,
            rate: ratio(total.right_party, total.attempts),
            wrong_party_rate: ratio(total.wrong_party, total.attempts),
            inbound_calls: total.inbound,
            inbound_conversations: total.inbound_conversations,
            by_day: self
                .period
                .each_day()
                .zip(&self.calls)
                .map(|(day, calls)| RightPartyDay {
                    day,
                    attempts: calls.attempts,
                    right_party: calls.right_party,
                    wrong_party: calls.wrong_party,
                    rate: ratio(calls.right_party, calls.attempts),
                })
                .collect(),
        }
    }
}

/// `part / whole`, or `None` when there is no whole.
pub fn ratio(part: u64, whole: u64) -> Option<f64> {
    // Counts stay far below 2^52: the conversion is exact.
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period() -> Period {
        Period {
            from: "2026-04-01".parse().unwrap(),
            to: "2026-04-03".parse().unwrap(),
        }
    }

    fn event(
        kind: LedgerEventType,
        channel: Channel,
        outcome: Option<Outcome>,
        by: InitiatedBy,
    ) -> EventFacts {
        EventFacts {
            kind,
            channel: Some(channel),
            outcome,
            initiated_by: by,
        }
    }

    fn call(outcome: Outcome) -> EventFacts {
        event(
            LedgerEventType::Contact,
            Channel::Call,
            Some(outcome),
            InitiatedBy::Collector,
        )
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn contacts_count_by_utc_day_and_channel_and_nothing_outside_the_period() {
        let mut tally = ContactTally::new(period());
        tally.add(at("2026-04-01T00:00:00Z"), &call(Outcome::NoAnswer));
        tally.add(at("2026-04-01T23:59:59Z"), &call(Outcome::Voicemail));
        tally.add(
            at("2026-04-03T12:00:00Z"),
            &event(
                LedgerEventType::Contact,
                Channel::Email,
                None,
                InitiatedBy::Collector,
            ),
        );
        // Outside the period, and not contacts.
        tally.add(at("2026-03-31T23:59:59Z"), &call(Outcome::NoAnswer));
        tally.add(at("2026-04-04T00:00:00Z"), &call(Outcome::NoAnswer));
        tally.add(
            at("2026-04-02T12:00:00Z"),
            &event(
                LedgerEventType::Consent,
                Channel::Call,
                None,
                InitiatedBy::Consumer,
            ),
        );
        let section = tally.contacts();
        assert_eq!(section.total, 3);
        let calls = &section.by_channel[0];
        assert_eq!((calls.channel, calls.contacts), (Channel::Call, 2));
        assert_eq!(
            section.by_channel[1].outcomes,
            vec![OutcomeCount {
                outcome: None,
                contacts: 1
            }]
        );
        // Every day for each channel seen: 3 days × 2 channels.
        assert_eq!(section.by_day.len(), 6);
        assert_eq!(
            section.by_day[0],
            DayContacts {
                day: "2026-04-01".parse().unwrap(),
                channel: Channel::Call,
                contacts: 2
            }
        );
        assert_eq!(section.by_day[5].contacts, 1);
    }

    #[test]
    fn the_right_party_rate_is_conversations_per_outbound_call_with_wrong_parties_apart() {
        let mut tally = ContactTally::new(period());
        let noon = at("2026-04-02T12:00:00Z");
        for outcome in [
            Outcome::Conversation,
            Outcome::NoAnswer,
            Outcome::WrongParty,
            Outcome::Voicemail,
        ] {
            tally.add(noon, &call(outcome));
        }
        // Inbound calls are not attempts.
        tally.add(
            noon,
            &event(
                LedgerEventType::Contact,
                Channel::Call,
                Some(Outcome::Conversation),
                InitiatedBy::Consumer,
            ),
        );
        let mut other = ContactTally::new(period());
        other.add(noon, &call(Outcome::Conversation));
        tally.merge(other);
        let section = tally.right_party();
        assert_eq!(
            (section.attempts, section.right_party, section.wrong_party),
            (5, 2, 1)
        );
        assert_eq!(section.rate, Some(0.4));
        assert_eq!(section.wrong_party_rate, Some(0.2));
        assert_eq!(
            (section.inbound_calls, section.inbound_conversations),
            (1, 1)
        );
        assert_eq!(section.by_day[1].rate, Some(0.4));
        // No attempts, no rate (not zero, not NaN).
        assert_eq!(section.by_day[0].rate, None);
        let empty = ContactTally::new(period()).right_party();
        assert_eq!(
            (empty.attempts, empty.rate, empty.wrong_party_rate),
            (0, None, None)
        );
    }
}

//! The few fields of a stored event, account or decision that the reports count, read
//! without building the whole value: serde skips every other field, and the strings a
//! fold keeps are borrowed from the row when they need no unescaping.
//!
//! Pure: JSON text in, facts out.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::{Channel, Flags, InitiatedBy, LedgerEventType, Money, Outcome};
use crate::store::reports::Unreadable;

/// What the contact counts need of a ledger event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct EventFacts {
    /// What kind of fact it is (`contact` when absent, as the ledger reads it).
    #[serde(rename = "type", default)]
    pub kind: LedgerEventType,
    /// The channel of a contact.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// How a contact ended, when known.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Who started it.
    #[serde(default)]
    pub initiated_by: InitiatedBy,
}

impl EventFacts {
    /// Reads the facts of a stored event.
    pub fn parse(body: &str) -> Result<EventFacts, Unreadable> {
        if let Some(facts) = EventFacts::parse_as_written(body) {
            return Ok(facts);
        }
        serde_json::from_str(body).map_err(|error| unreadable("event", &error))
    }

    /// The facts of a body exactly as the store writes a [`crate::domain::LedgerEvent`]
    /// (serde's compact output, fields in declaration order: `at`, `type`, then
    /// `channel` and `outcome` when present, then `initiated_by`), read by matching that
    /// shape instead of running a JSON parser — a ledger scan reads ten million of
    /// them. The fields counted come first, so the rest of the body is not looked at.
    /// Anything else (PostgreSQL's `jsonb` text, a value with an escape, another
    /// order) gives `None`, and serde reads it.
    fn parse_as_written(body: &str) -> Option<EventFacts> {
        let rest = body.strip_prefix("{\"at\":\"")?;
        let (_, rest) = quoted(rest)?;
        let (kind, rest) = string_field(rest, "type")?;
        let kind = from_name::<LedgerEventType>(kind)?;
        let (channel, rest) = match string_field(rest, "channel") {
            Some((name, rest)) => (Some(Channel::parse(name)?), rest),
            None => (None, rest),
        };
        let (outcome, rest) = match string_field(rest, "outcome") {
            Some((name, rest)) => (Some(Outcome::parse(name)?), rest),
            None => (None, rest),
        };
        let (initiated_by, rest) = string_field(rest, "initiated_by")?;
        let initiated_by = from_name::<InitiatedBy>(initiated_by)?;
        (rest.starts_with(',') || rest.starts_with('}')).then_some(EventFacts {
            kind,
            channel,
            outcome,
            initiated_by,
        })
    }
}

/// `,"name":"value"` at the start of `rest`: the value (without escapes) and what
/// follows it. Inlined, so that each call compares against its constant name without
/// a call to `memcmp` (a scan makes fifty million of these comparisons).
#[inline(always)]
fn string_field<'a>(rest: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
    let bytes = rest.as_bytes();
    let head = 2 + name.len();
    let matches = bytes.get(..2) == Some(b",\"".as_slice())
        && bytes.get(2..head) == Some(name.as_bytes())
        && bytes.get(head..head + 3) == Some(b"\":\"".as_slice());
    if !matches {
        return None;
    }
    quoted(rest.get(head + 3..)?)
}

/// The text up to the next `"` and what follows that quote; `None` if the text has an
/// escape (serde then reads it). Values here are short: a byte loop beats `memchr`.
#[inline(always)]
fn quoted(rest: &str) -> Option<(&str, &str)> {
    let end = rest
        .bytes()
        .position(|byte| byte == b'"' || byte == b'\\')?;
    if rest.as_bytes().get(end) != Some(&b'"') {
        return None;
    }
    Some((rest.get(..end)?, rest.get(end + 1..)?))
}

/// A unit variant from its JSON name, as serde reads it.
fn from_name<'de, T: Deserialize<'de>>(name: &'de str) -> Option<T> {
    T::deserialize(serde::de::value::BorrowedStrDeserializer::<
        serde::de::value::Error,
    >::new(name))
    .ok()
}

/// What holds, aging and the cap screen need of an account.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AccountFacts<'a> {
    /// The kind of debt (pack scopes).
    #[serde(default, borrow)]
    pub debt_type: Option<Cow<'a, str>>,
    /// The creditor (pack scopes).
    #[serde(default, borrow)]
    pub creditor: Option<Cow<'a, str>>,
    /// What is owed now.
    #[serde(default)]
    pub balance: Option<Money>,
    /// When the agency received the account.
    #[serde(default)]
    pub placed_on: Option<NaiveDate>,
    /// When the creditor charged it off.
    #[serde(default)]
    pub charged_off_on: Option<NaiveDate>,
    /// The legal holds and other conditions.
    #[serde(default)]
    pub flags: Flags,
    /// Where the consumer lives (pack scopes).
    #[serde(default, borrow)]
    pub consumer: ConsumerFacts<'a>,
    /// Who collects the debt (pack scopes); absent: the configured collector.
    #[serde(default)]
    pub collector: Option<crate::domain::CollectorKind>,
}

/// The consumer's address, as far as pack scopes read it.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct ConsumerFacts<'a> {
    /// The postal address.
    #[serde(default, borrow)]
    pub address: Option<AddressFacts<'a>>,
}

/// The parts of an address pack scopes read.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct AddressFacts<'a> {
    /// The state code.
    #[serde(default, borrow)]
    pub state: Option<Cow<'a, str>>,
    /// The city.
    #[serde(default, borrow)]
    pub city: Option<Cow<'a, str>>,
    /// The ZIP code.
    #[serde(default, borrow)]
    pub postal_code: Option<Cow<'a, str>>,
}

impl<'a> AccountFacts<'a> {
    /// Reads the facts of a stored account.
    pub fn parse(body: &'a str) -> Result<AccountFacts<'a>, Unreadable> {
        serde_json::from_str(body).map_err(|error| unreadable("account", &error))
    }
}

/// What the refusal counts need of a logged decision: the rules that refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DecisionFacts<'a> {
    /// Every refusing rule.
    #[serde(default, borrow)]
    pub reasons: Vec<ReasonFacts<'a>>,
}

/// One refusing rule of a logged decision.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReasonFacts<'a> {
    /// The rule id.
    #[serde(borrow)]
    pub rule: Cow<'a, str>,
    /// The pack id.
    #[serde(borrow)]
    pub pack: Cow<'a, str>,
}

impl<'a> DecisionFacts<'a> {
    /// Reads the refusing rules of a logged decision.
    pub fn parse(body: &'a str) -> Result<DecisionFacts<'a>, Unreadable> {
        serde_json::from_str(body).map_err(|error| unreadable("decision", &error))
    }
}

fn unreadable(what: &'static str, error: &serde_json::Error) -> Unreadable {
    Unreadable {
        what,
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_facts_read_both_backends_spellings_and_default_to_a_contact() {
        // SQLite keeps the JSON as written; PostgreSQL's jsonb reorders it and adds spaces.
        let sqlite = r#"{"at":"2026-04-01T14:00:00Z","type":"contact","channel":"call","outcome":"conversation","initiated_by":"consumer","contact_point":"+12125550100"}"#;
        let postgres = r#"{"at": "2026-04-01T14:00:00Z", "type": "contact", "channel": "call", "outcome": "conversation", "contact_point": "+12125550100", "initiated_by": "consumer"}"#;
        let expected = EventFacts {
            kind: LedgerEventType::Contact,
            channel: Some(Channel::Call),
            outcome: Some(Outcome::Conversation),
            initiated_by: InitiatedBy::Consumer,
        };
        assert_eq!(EventFacts::parse(sqlite).unwrap(), expected);
        assert_eq!(EventFacts::parse(postgres).unwrap(), expected);
        let bare = EventFacts::parse(r#"{"at":"2026-04-01T14:00:00Z","channel":"sms"}"#).unwrap();
        assert_eq!((bare.kind, bare.outcome), (LedgerEventType::Contact, None));
        assert_eq!(
            EventFacts::parse("{\"type\": \"fax\"}").unwrap_err().what,
            "event"
        );
    }

    #[test]
    fn the_fast_reading_of_stored_events_agrees_with_serde_on_every_shape() {
        use crate::domain::{LedgerEvent, Outcome};
        let mut bodies = Vec::new();
        for kind in [
            "contact",
            "consent",
            "consent_revoked",
            "payment_posted",
            "flag_set",
        ] {
            for channel in [None, Some(Channel::Call), Some(Channel::Email)] {
                for outcome in [None, Some(Outcome::Conversation), Some(Outcome::WrongParty)] {
                    for by in [InitiatedBy::Collector, InitiatedBy::Consumer] {
                        let mut json = serde_json::json!({"at": "2026-04-01T14:00:00.5Z", "type": kind,
                            "initiated_by": by, "contact_point": "+1 (212) 555-0100"});
                        if let Some(channel) = channel {
                            json["channel"] = serde_json::json!(channel);
                        }
                        if let Some(outcome) = outcome {
                            json["outcome"] = serde_json::json!(outcome);
                        }
                        if kind == "payment_posted" {
                            json["amount"] =
                                serde_json::json!({"amount": "1.00", "currency": "USD"});
                        }
                        if kind == "flag_set" {
                            json["flag"] = serde_json::json!("disputed");
                        }
                        let event: LedgerEvent = serde_json::from_value(json).unwrap();
                        // As the store writes it.
                        bodies.push(serde_json::to_string(&event).unwrap());
                    }
                }
            }
        }
        for body in &bodies {
            let fast = EventFacts::parse_as_written(body);
            assert!(fast.is_some(), "{body}");
            assert_eq!(
                fast,
                serde_json::from_str::<EventFacts>(body).ok(),
                "{body}"
            );
        }
        // Other spellings go through serde, with the same answer.
        for body in [
            r#"{"at": "2026-04-01T14:00:00Z", "type": "contact", "channel": "call", "initiated_by": "consumer"}"#,
            r#"{"type":"contact","at":"2026-04-01T14:00:00Z","channel":"call","initiated_by":"consumer"}"#,
            r#"{"at":"2026-04-01T14:00:00Z","type":"cont\u0061ct","channel":"call","initiated_by":"consumer"}"#,
        ] {
            assert_eq!(EventFacts::parse_as_written(body), None, "{body}");
            assert_eq!(
                EventFacts::parse(body).unwrap().initiated_by,
                InitiatedBy::Consumer,
                "{body}"
            );
        }
        assert_eq!(
            EventFacts::parse_as_written(r#"{"at":"x","type":"fax","initiated_by":"collector"}"#),
            None
        );
    }

    #[test]
    fn account_facts_skip_what_the_reports_do_not_count() {
        let body = r#"{"id":"A-1","debt_type":"medical","balance":{"amount":"10.50","currency":"USD"},
            "placed_on":"2026-01-02","consumer":{"address":{"state":"MA","city":"Boston"},
            "phones":[{"number":"+16175550100","kind":"mobile"}]},"flags":{"disputed":true},
            "inconvenient_times":[{"days":["tue"],"from":"00:00","to":"24:00"}]}"#;
        let facts = AccountFacts::parse(body).unwrap();
        assert!(facts.flags.disputed && !facts.flags.bankruptcy);
        assert_eq!(facts.balance.unwrap().amount.to_string(), "10.50");
        assert_eq!(facts.placed_on, Some("2026-01-02".parse().unwrap()));
        let address = facts.consumer.address.unwrap();
        assert_eq!(address.state.as_deref(), Some("MA"));
        assert_eq!(facts.debt_type.as_deref(), Some("medical"));
    }

    #[test]
    fn decision_facts_name_the_refusing_rules() {
        let body = r#"{"allowed":false,"outcome":"defer","reasons":[{"rule":"reg-f.call-frequency","pack":"us-federal","citation":"x","message":"y"}],"warnings":[]}"#;
        let facts = DecisionFacts::parse(body).unwrap();
        assert_eq!(facts.reasons.len(), 1);
        assert_eq!(facts.reasons[0].rule, "reg-f.call-frequency");
    }
}

//! Ledger events: the facts the engine counts.

use super::Channel;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of fact an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum EventType {
    /// A contact or an attempt to contact (a call, a message, a letter, a visit).
    #[default]
    Contact,
    /// The consumer gave consent, directly to us, to be contacted on the event's channel
    /// (12 CFR 1006.14(b)(3)(i); 1006.6(b)(4)(i)).
    Consent,
    /// The consumer withdrew a consent given earlier on the event's channel.
    ConsentRevoked,
}

/// How a contact ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Outcome {
    /// The call rang and nobody answered.
    NoAnswer,
    /// The call reached voicemail or another recorded message.
    Voicemail,
    /// Busy signal: not connected (comment 14(b)(3)(ii)-1).
    Busy,
    /// Not-in-service indication: not connected.
    NotInService,
    /// Answered, then dropped.
    Dropped,
    /// A conversation with the consumer.
    Conversation,
    /// The number turned out not to be the consumer's (comment 14(b)(2)(i)-3).
    WrongParty,
    /// A message was sent.
    Sent,
    /// A message was delivered.
    Delivered,
    /// A message bounced.
    Bounced,
}

impl Outcome {
    /// Every outcome, in a stable order.
    pub const ALL: [Outcome; 10] = [
        Outcome::NoAnswer,
        Outcome::Voicemail,
        Outcome::Busy,
        Outcome::NotInService,
        Outcome::Dropped,
        Outcome::Conversation,
        Outcome::WrongParty,
        Outcome::Sent,
        Outcome::Delivered,
        Outcome::Bounced,
    ];

    /// The name used in rule packs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NoAnswer => "no_answer",
            Outcome::Voicemail => "voicemail",
            Outcome::Busy => "busy",
            Outcome::NotInService => "not_in_service",
            Outcome::Dropped => "dropped",
            Outcome::Conversation => "conversation",
            Outcome::WrongParty => "wrong_party",
            Outcome::Sent => "sent",
            Outcome::Delivered => "delivered",
            Outcome::Bounced => "bounced",
        }
    }

    /// Parses the name used in rule packs and JSON.
    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == name)
    }

    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who started a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum InitiatedBy {
    /// We did (the default).
    #[default]
    Collector,
    /// The consumer did.
    Consumer,
}

/// One append-only ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[derive(utoipa::ToSchema)]
pub struct Event {
    /// When it happened.
    #[serde(deserialize_with = "super::instant::deserialize_instant")]
    #[schema(value_type = crate::domain::instant::InstantSchema)]
    pub at: DateTime<Utc>,
    /// What kind of fact this is.
    #[serde(rename = "type", default)]
    pub event_type: EventType,
    /// The channel of the contact, or the channel the consent is about.
    pub channel: Channel,
    /// How the contact ended, when known. An unknown outcome counts wherever any
    /// outcome would (fail closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Who started it.
    #[serde(default)]
    pub initiated_by: InitiatedBy,
    /// The phone number or email address used, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_point: Option<String>,
    /// The account (debt) the event belongs to, when the history mixes several debts of
    /// one consumer. Absent means the account being decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Why a contact reached out, when recorded. Caps may leave some purposes out of
    /// their count (`not_counting`: a response to the consumer, a communication required
    /// by law); a contact with no recorded purpose is always counted (fail closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<super::Purpose>,
}

impl Event {
    /// Whether the event is about the debt (account) `account_id`: one that names no
    /// account is about the account being decided, a consumer's only debt.
    pub fn is_about_debt(&self, account_id: &str) -> bool {
        self.account_id.as_deref().is_none_or(|id| id == account_id)
    }
}
super::object_only!(Event);

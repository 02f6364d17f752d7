//! Channels (how we reach a consumer) and purposes (why).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A medium of communication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Channel {
    /// A telephone call, including a ringless voicemail (Reg F comment 14(b)-1).
    Call,
    /// A text message.
    Sms,
    /// An email.
    Email,
    /// A mailed letter.
    Letter,
    /// An in-person visit.
    Visit,
}

impl Channel {
    /// Every channel, in a stable order.
    pub const ALL: [Channel; 5] = [
        Channel::Call,
        Channel::Sms,
        Channel::Email,
        Channel::Letter,
        Channel::Visit,
    ];

    /// The name used in rule packs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Call => "call",
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Letter => "letter",
            Channel::Visit => "visit",
        }
    }

    /// Parses the name used in rule packs and JSON.
    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Whether the channel is electronic (Reg F 1006.6(e) opt-out notices apply).
    pub fn is_electronic(self) -> bool {
        matches!(self, Channel::Sms | Channel::Email)
    }

    /// A bit for compact channel sets.
    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why we reach out. Some rules exempt some purposes (a cease-communication notice
/// still allows a termination notice, 12 CFR 1006.6(c)(2)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Purpose {
    /// Ordinary collection activity.
    #[default]
    Collection,
    /// The validation notice of 12 CFR 1006.34.
    ValidationNotice,
    /// A reminder of a payment that is due.
    PaymentReminder,
    /// Advising the consumer that further efforts are being terminated (1006.6(c)(2)(i)).
    TerminationNotice,
    /// Notifying the consumer of a remedy that may be or will be invoked (1006.6(c)(2)(ii)-(iii)).
    RemedyNotice,
    /// The single confirmation of an electronic opt-out (1006.14(h)(2)(i)).
    OptOutConfirmation,
    /// Verification of a disputed debt, or the original creditor's name and address (1006.38).
    Verification,
    /// Responding once to a contact the consumer initiated (1006.6(b)(1) comment -2; 1006.14(h)(2)(ii)).
    ResponseToConsumer,
    /// A communication required by law (for example a Regulation Z periodic statement).
    LegallyRequired,
}

impl Purpose {
    /// Every purpose, in a stable order.
    pub const ALL: [Purpose; 9] = [
        Purpose::Collection,
        Purpose::ValidationNotice,
        Purpose::PaymentReminder,
        Purpose::TerminationNotice,
        Purpose::RemedyNotice,
        Purpose::OptOutConfirmation,
        Purpose::Verification,
        Purpose::ResponseToConsumer,
        Purpose::LegallyRequired,
    ];

    /// The name used in rule packs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Collection => "collection",
            Purpose::ValidationNotice => "validation_notice",
            Purpose::PaymentReminder => "payment_reminder",
            Purpose::TerminationNotice => "termination_notice",
            Purpose::RemedyNotice => "remedy_notice",
            Purpose::OptOutConfirmation => "opt_out_confirmation",
            Purpose::Verification => "verification",
            Purpose::ResponseToConsumer => "response_to_consumer",
            Purpose::LegallyRequired => "legally_required",
        }
    }

    /// Parses the name used in rule packs and JSON.
    pub fn parse(name: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == name)
    }

    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

//! Ledger entries: every fact the daemon keeps about an account. Contacts and consents
//! are the history the engine counts ([`Event`]); the others — flags set and cleared,
//! opt-outs, payments — change the account itself, which the store keeps current;
//! promises to pay and payment plans are arrangements the planner and the reports read
//! back from the ledger (see [`super::arrangements`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Account, Channel, Event, EventType, Flag, Flags, InitiatedBy, Money, OptOut, Outcome, Purpose,
};

/// What kind of fact a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum LedgerEventType {
    /// A contact or an attempt to contact.
    #[default]
    Contact,
    /// The consumer consented to a channel.
    Consent,
    /// The consumer withdrew a consent.
    ConsentRevoked,
    /// A flag (cease and desist, attorney, dispute, bankruptcy, deceased, …) was set.
    FlagSet,
    /// A flag was cleared (a dispute verified, a bankruptcy dismissed, …).
    FlagCleared,
    /// The consumer asked us to stop using a channel or a contact point (1006.14(h)).
    OptedOut,
    /// The consumer withdrew an opt-out.
    OptOutWithdrawn,
    /// A payment was posted: the balance goes down by `amount`.
    PaymentPosted,
    /// A webhook notice about the account was delivered (to a letter vendor, a dialer,
    /// an attorney's system); the contact it leads to is recorded when it happens.
    WebhookDelivered,
    /// The consumer promised to pay `amount` by `due_on`.
    PromiseToPay,
    /// A payment plan was agreed: `installments`, each with a due date and an amount.
    /// It replaces any earlier plan.
    PaymentPlan,
    /// The payment plan in force was cancelled.
    PaymentPlanCancelled,
    /// How an attempt recorded without an outcome ended (`attempt_id`, `outcome`),
    /// reported after the fact: from then on the engine counts the attempt with it.
    OutcomeReported,
}

impl LedgerEventType {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerEventType::Contact => "contact",
            LedgerEventType::Consent => "consent",
            LedgerEventType::ConsentRevoked => "consent_revoked",
            LedgerEventType::FlagSet => "flag_set",
            LedgerEventType::FlagCleared => "flag_cleared",
            LedgerEventType::OptedOut => "opted_out",
            LedgerEventType::OptOutWithdrawn => "opt_out_withdrawn",
            LedgerEventType::PaymentPosted => "payment_posted",
            LedgerEventType::WebhookDelivered => "webhook_delivered",
            LedgerEventType::PromiseToPay => "promise_to_pay",
            LedgerEventType::PaymentPlan => "payment_plan",
            LedgerEventType::PaymentPlanCancelled => "payment_plan_cancelled",
            LedgerEventType::OutcomeReported => "outcome_reported",
        }
    }

    /// The engine's event type, for the facts the engine counts.
    fn history_type(self) -> Option<EventType> {
        match self {
            LedgerEventType::Contact => Some(EventType::Contact),
            LedgerEventType::Consent => Some(EventType::Consent),
            LedgerEventType::ConsentRevoked => Some(EventType::ConsentRevoked),
            _ => None,
        }
    }
}

/// One append-only ledger entry. Which fields belong depends on `type` (checked by
/// [`LedgerEvent::validate`]; a field of another type is a 422 naming it): `contact`,
/// `consent` and `consent_revoked` need `channel` (a contact may add `outcome`,
/// `initiated_by`, `contact_point`, `purpose`); `flag_set` and `flag_cleared` need `flag`;
/// `opted_out` and `opt_out_withdrawn` need either `channel` or `contact_point`;
/// `payment_posted` needs a positive `amount`; `promise_to_pay` a positive `amount` and
/// `due_on`; `payment_plan` its `installments`; `webhook_delivered` needs `notice_id` and
/// may carry `webhook_event` and `purpose`; `outcome_reported` needs `attempt_id` (the id
/// of a contact recorded without an outcome) and `outcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[derive(utoipa::ToSchema)]
pub struct LedgerEvent {
    /// When it happened.
    #[serde(
        deserialize_with = "super::instant::deserialize_instant",
        serialize_with = "super::instant::serialize_instant"
    )]
    #[schema(value_type = crate::domain::instant::InstantSchema)]
    pub at: DateTime<Utc>,
    /// What kind of fact this is.
    #[serde(rename = "type", default)]
    pub event_type: LedgerEventType,
    /// The channel of a contact or a consent; the channel opted out of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// How a contact ended, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Who started a contact.
    #[serde(default)]
    pub initiated_by: InitiatedBy,
    /// The phone number or email address used, or opted out of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_point: Option<String>,
    /// The flag set or cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<Flag>,
    /// The amount of a payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// The notice a delivery was of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_id: Option<String>,
    /// The event type of a delivered webhook (`contact.due`, `account.escalated`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_event: Option<String>,
    /// Why a contact or a delivered notice reached out, when known (the planner reads it
    /// to tell a validation notice already sent from one still to send).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    /// The day a promise to pay falls due.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::instant::deserialize_optional_date"
    )]
    #[schema(value_type = Option<crate::domain::instant::DateSchema>)]
    pub due_on: Option<NaiveDate>,
    /// The installments of a payment plan, in any order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub installments: Vec<Installment>,
    /// The attempt (the id of its `contact` event) an `outcome_reported` event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub attempt_id: Option<String>,
}
super::object_only!(LedgerEvent);

/// One installment of a payment plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[derive(utoipa::ToSchema)]
pub struct Installment {
    /// The day it falls due.
    #[serde(deserialize_with = "super::instant::deserialize_date")]
    #[schema(value_type = crate::domain::instant::DateSchema)]
    pub due_on: NaiveDate,
    /// How much.
    pub amount: Money,
}
super::object_only!(Installment);

/// A ledger entry that does not hold together, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LedgerEventError {
    /// The JSON field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> LedgerEventError {
    LedgerEventError {
        field,
        message: message.into(),
    }
}

/// An amount that must be there and be positive.
fn positive_amount(
    amount: Option<&Money>,
    field: &'static str,
    kind: &str,
) -> Result<(), LedgerEventError> {
    match amount {
        None => Err(invalid(
            field,
            format!("a `{kind}` event needs an `{field}`"),
        )),
        Some(money) if money.amount <= rust_decimal::Decimal::ZERO => {
            Err(invalid(field, "an amount must be positive"))
        }
        Some(_) => Ok(()),
    }
}

impl LedgerEvent {
    /// An entry of a type at an instant, with nothing else set.
    pub fn new(at: DateTime<Utc>, event_type: LedgerEventType) -> LedgerEvent {
        LedgerEvent {
            at,
            event_type,
            channel: None,
            outcome: None,
            initiated_by: InitiatedBy::default(),
            contact_point: None,
            flag: None,
            amount: None,
            notice_id: None,
            webhook_event: None,
            purpose: None,
            due_on: None,
            installments: Vec::new(),
            attempt_id: None,
        }
    }

    /// Checks that the entry carries what its type needs and nothing that belongs to
    /// another type, so that no entry is stored that would be read back as something
    /// else.
    pub fn validate(&self) -> Result<(), LedgerEventError> {
        let kind = self.event_type.as_str();
        if self.notice_id.is_some() && self.event_type != LedgerEventType::WebhookDelivered {
            return Err(invalid(
                "notice_id",
                format!("`notice_id` does not belong to a `{kind}` event"),
            ));
        }
        if self.purpose.is_some()
            && !matches!(
                self.event_type,
                LedgerEventType::Contact | LedgerEventType::WebhookDelivered
            )
        {
            return Err(invalid(
                "purpose",
                format!("`purpose` does not belong to a `{kind}` event"),
            ));
        }
        if self.webhook_event.is_some() && self.event_type != LedgerEventType::WebhookDelivered {
            return Err(invalid(
                "webhook_event",
                format!("`webhook_event` does not belong to a `{kind}` event"),
            ));
        }
        if self.due_on.is_some() && self.event_type != LedgerEventType::PromiseToPay {
            return Err(invalid(
                "due_on",
                format!("`due_on` does not belong to a `{kind}` event"),
            ));
        }
        if self.attempt_id.is_some() && self.event_type != LedgerEventType::OutcomeReported {
            return Err(invalid(
                "attempt_id",
                format!("`attempt_id` does not belong to a `{kind}` event"),
            ));
        }
        if !self.installments.is_empty() && self.event_type != LedgerEventType::PaymentPlan {
            return Err(invalid(
                "installments",
                format!("`installments` do not belong to a `{kind}` event"),
            ));
        }
        let forbid = |field: &'static str, present: bool| {
            if present {
                Err(invalid(
                    field,
                    format!("`{field}` does not belong to a `{kind}` event"),
                ))
            } else {
                Ok(())
            }
        };
        match self.event_type {
            LedgerEventType::Contact
            | LedgerEventType::Consent
            | LedgerEventType::ConsentRevoked => {
                if self.channel.is_none() {
                    return Err(invalid(
                        "channel",
                        format!("a `{kind}` event needs a `channel`"),
                    ));
                }
                forbid("flag", self.flag.is_some())?;
                forbid("amount", self.amount.is_some())
            }
            LedgerEventType::FlagSet | LedgerEventType::FlagCleared => {
                match self.flag {
                    None => {
                        return Err(invalid("flag", format!("a `{kind}` event needs a `flag`")));
                    }
                    Some(flag) if Flags::default().get(flag).is_none() => {
                        return Err(invalid(
                            "flag",
                            format!(
                                "`{flag}` is derived from the request, not kept on the account; \
                                 use `opted_out`, `consent` or the account's inconvenient places",
                                flag = flag.as_str()
                            ),
                        ));
                    }
                    Some(_) => {}
                }
                forbid("channel", self.channel.is_some())?;
                forbid("outcome", self.outcome.is_some())?;
                forbid("contact_point", self.contact_point.is_some())?;
                forbid("amount", self.amount.is_some())
            }
            LedgerEventType::OptedOut | LedgerEventType::OptOutWithdrawn => {
                if self.channel.is_some() == self.contact_point.is_some() {
                    return Err(invalid(
                        "channel",
                        format!("an `{kind}` event names either a `channel` or a `contact_point`"),
                    ));
                }
                forbid("outcome", self.outcome.is_some())?;
                forbid("flag", self.flag.is_some())?;
                forbid("amount", self.amount.is_some())
            }
            LedgerEventType::WebhookDelivered => {
                if self.notice_id.is_none() {
                    return Err(invalid(
                        "notice_id",
                        "a `webhook_delivered` event needs a `notice_id`",
                    ));
                }
                forbid("channel", self.channel.is_some())?;
                forbid("outcome", self.outcome.is_some())?;
                forbid("contact_point", self.contact_point.is_some())?;
                forbid("flag", self.flag.is_some())?;
                forbid("amount", self.amount.is_some())
            }
            LedgerEventType::PaymentPosted | LedgerEventType::PromiseToPay => {
                positive_amount(self.amount.as_ref(), "amount", kind)?;
                if self.event_type == LedgerEventType::PromiseToPay && self.due_on.is_none() {
                    return Err(invalid(
                        "due_on",
                        "a `promise_to_pay` event needs a `due_on` date",
                    ));
                }
                forbid("channel", self.channel.is_some())?;
                forbid("outcome", self.outcome.is_some())?;
                forbid("contact_point", self.contact_point.is_some())?;
                forbid("flag", self.flag.is_some())
            }
            LedgerEventType::OutcomeReported => {
                if self.attempt_id.is_none() {
                    return Err(invalid(
                        "attempt_id",
                        "an `outcome_reported` event needs the `attempt_id` it reports on",
                    ));
                }
                if self.outcome.is_none() {
                    return Err(invalid(
                        "outcome",
                        "an `outcome_reported` event needs an `outcome`",
                    ));
                }
                forbid("channel", self.channel.is_some())?;
                forbid("contact_point", self.contact_point.is_some())?;
                forbid("flag", self.flag.is_some())?;
                forbid("amount", self.amount.is_some())
            }
            LedgerEventType::PaymentPlan | LedgerEventType::PaymentPlanCancelled => {
                let plan = self.event_type == LedgerEventType::PaymentPlan;
                if plan && self.installments.is_empty() {
                    return Err(invalid(
                        "installments",
                        "a `payment_plan` event needs at least one installment",
                    ));
                }
                for installment in &self.installments {
                    positive_amount(Some(&installment.amount), "installments", kind)?;
                }
                let currencies = self.installments.iter().map(|i| &i.amount.currency);
                if currencies
                    .clone()
                    .any(|c| Some(c) != currencies.clone().next())
                {
                    return Err(invalid(
                        "installments",
                        "a payment plan's installments must all be in one currency",
                    ));
                }
                forbid("channel", self.channel.is_some())?;
                forbid("outcome", self.outcome.is_some())?;
                forbid("contact_point", self.contact_point.is_some())?;
                forbid("flag", self.flag.is_some())?;
                forbid("amount", self.amount.is_some())
            }
        }
    }

    /// The fact as the engine counts it: contacts and consents; `None` for entries
    /// that change the account instead.
    pub fn history(&self) -> Option<Event> {
        Some(Event {
            at: self.at,
            event_type: self.event_type.history_type()?,
            channel: self.channel?,
            outcome: self.outcome,
            initiated_by: self.initiated_by,
            contact_point: self.contact_point.clone(),
            account_id: None,
            purpose: self.purpose,
        })
    }

    /// Whether this entry can take an outcome reported later: a contact recorded
    /// without one.
    pub fn awaits_outcome(&self) -> bool {
        self.event_type == LedgerEventType::Contact && self.outcome.is_none()
    }

    /// Whether appending this entry changes the account.
    pub fn changes_account(&self) -> bool {
        matches!(
            self.event_type,
            LedgerEventType::FlagSet
                | LedgerEventType::FlagCleared
                | LedgerEventType::OptedOut
                | LedgerEventType::OptOutWithdrawn
                | LedgerEventType::PaymentPosted
        )
    }

    /// Brings the account up to date with this entry. Entries the engine counts
    /// change nothing.
    pub fn apply(&self, account: &mut Account) -> Result<(), LedgerEventError> {
        match self.event_type {
            LedgerEventType::FlagSet | LedgerEventType::FlagCleared => {
                let flag = self
                    .flag
                    .and_then(|flag| account.flags.get_mut(flag))
                    .ok_or_else(|| invalid("flag", "not a flag kept on the account"))?;
                *flag = self.event_type == LedgerEventType::FlagSet;
            }
            LedgerEventType::OptedOut | LedgerEventType::OptOutWithdrawn => {
                let opt_out = match (self.channel, &self.contact_point) {
                    (Some(channel), None) => OptOut::Channel(channel),
                    (None, Some(point)) => OptOut::ContactPoint(point.clone()),
                    _ => {
                        return Err(invalid(
                            "channel",
                            "names neither a channel nor a contact point",
                        ));
                    }
                };
                account.opted_out.retain(|existing| *existing != opt_out);
                if self.event_type == LedgerEventType::OptedOut {
                    account.opted_out.push(opt_out);
                }
            }
            LedgerEventType::PaymentPosted => {
                let Some(payment) = &self.amount else {
                    return Err(invalid("amount", "a payment needs an amount"));
                };
                // A payment on an account whose balance was never given is kept in the
                // ledger; there is no balance to bring down.
                if let Some(balance) = &mut account.balance {
                    if balance.currency != payment.currency {
                        return Err(invalid(
                            "amount",
                            format!(
                                "the payment is in {} but the account's balance is in {}",
                                payment.currency, balance.currency
                            ),
                        ));
                    }
                    balance.amount -= payment.amount;
                }
            }
            LedgerEventType::Contact
            | LedgerEventType::Consent
            | LedgerEventType::ConsentRevoked
            | LedgerEventType::WebhookDelivered
            | LedgerEventType::PromiseToPay
            | LedgerEventType::PaymentPlan
            | LedgerEventType::PaymentPlanCancelled
            | LedgerEventType::OutcomeReported => {}
        }
        Ok(())
    }
}

impl From<Event> for LedgerEvent {
    fn from(event: Event) -> LedgerEvent {
        LedgerEvent {
            at: event.at,
            event_type: match event.event_type {
                EventType::Contact => LedgerEventType::Contact,
                EventType::Consent => LedgerEventType::Consent,
                EventType::ConsentRevoked => LedgerEventType::ConsentRevoked,
            },
            channel: Some(event.channel),
            outcome: event.outcome,
            initiated_by: event.initiated_by,
            contact_point: event.contact_point,
            flag: None,
            amount: None,
            notice_id: None,
            webhook_event: None,
            purpose: event.purpose,
            due_on: None,
            installments: Vec::new(),
            attempt_id: None,
        }
    }
}

/// One account with its whole ledger, as the planner and the scheduler read it. The
/// debts of one consumer (accounts with the same `consumer.id`) are planned together.
#[derive(Debug, Clone)]
pub struct AccountLedger {
    /// The account.
    pub account: Account,
    /// Its ledger, in any order.
    pub ledger: Vec<LedgerEvent>,
}

/// One ledger entry as the ledger keeps it: its id, its place in the ledger (`seq`,
/// the order entries were recorded in, across accounts) and the entry.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    /// The entry's id in the ledger.
    pub id: String,
    /// Its position in the ledger: an entry recorded earlier has a smaller `seq`.
    pub seq: i64,
    /// The entry.
    pub event: LedgerEvent,
}

/// One account with its whole ledger in ledger order, ids and positions kept (the audit
/// reads it to judge each contact by what was recorded before it).
#[derive(Debug, Clone)]
pub struct AccountEntries {
    /// The account as stored now.
    pub account: Account,
    /// Its ledger, in ledger order.
    pub entries: Vec<LedgerEntry>,
}

/// One stored ledger entry as a decision reads it: its id, the debt it is about when that
/// is another of the consumer's accounts, and the entry.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    /// The entry's id in the ledger.
    pub id: String,
    /// The account, when it is another debt of the consumer's (counted for
    /// `per = "consumer"`); `None` for the account decided on.
    pub other_account: Option<String>,
    /// The entry.
    pub event: LedgerEvent,
}

impl StoredEntry {
    /// The entry, borrowed.
    pub fn as_ref(&self) -> EntryRef<'_> {
        EntryRef {
            id: &self.id,
            other_account: self.other_account.as_deref(),
            event: &self.event,
        }
    }
}

/// A stored ledger entry borrowed from wherever it is kept (see [`StoredEntry`]): the
/// ledger's writer keeps each debtor's parsed history and judges every attempt over it,
/// without copying each of its events first.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    /// The entry's id in the ledger.
    pub id: &'a str,
    /// The account, when it is another debt of the consumer's; `None` for the account
    /// decided on.
    pub other_account: Option<&'a str>,
    /// The entry.
    pub event: &'a LedgerEvent,
}

/// The history the engine counts, from stored entries: contacts and consents, with an
/// outcome reported later for an attempt counted as that attempt's outcome (until it
/// arrives, the attempt counts as any outcome would — the strict way).
pub fn history_of(entries: &[StoredEntry]) -> Vec<Event> {
    history_of_refs(&entries.iter().map(StoredEntry::as_ref).collect::<Vec<_>>())
}

/// [`history_of`] over borrowed entries.
pub fn history_of_refs(entries: &[EntryRef<'_>]) -> Vec<Event> {
    let reported: std::collections::HashMap<&str, Outcome> = entries
        .iter()
        .filter(|entry| entry.event.event_type == LedgerEventType::OutcomeReported)
        .filter_map(|entry| Some((entry.event.attempt_id.as_deref()?, entry.event.outcome?)))
        .collect();
    entries
        .iter()
        .filter_map(|entry| {
            let mut event = entry.event.history()?;
            event.account_id = entry.other_account.map(str::to_string);
            if event.outcome.is_none() {
                event.outcome = reported.get(entry.id).copied();
            }
            Some(event)
        })
        .collect()
}

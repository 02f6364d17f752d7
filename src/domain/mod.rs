//! The vocabulary of dunner: accounts, consumers, contact points, ledger events,
//! channels and purposes.
//!
//! Pure data with parsing: no I/O, no clock. Types here are what the engine reasons
//! about and what the JSON contract of `dunner decide` carries; invalid values are
//! rejected when they are parsed (an unknown channel or a malformed instant never
//! reaches the engine).

/// Serde's derive lets a struct be written as an array of its fields in order
/// (`"address": ["NY", "New York", "10001"]`); no caller means that, and a mistake in
/// the shape must be named, not read positionally. For a struct derived with
/// `#[serde(remote = "Self")]`, this implements `Deserialize` accepting only an object
/// (and `Serialize` as derived).
macro_rules! object_only {
    ($ty:ident) => {
        $crate::domain::object_only!(@deserialize $ty);
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $ty::serialize(self, serializer)
            }
        }
    };
    (@deserialize $ty:ident) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ObjectVisitor;
                impl<'de> serde::de::Visitor<'de> for ObjectVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("an object (", stringify!($ty), ")"))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<$ty, A::Error> {
                        $ty::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                deserializer.deserialize_map(ObjectVisitor)
            }
        }
    };
}
pub(crate) use object_only;

mod account;
pub mod arrangements;
pub mod chain;
mod channel;
mod event;
mod hex;
pub mod instant;
mod ledger;
mod money;
pub mod notice;
pub mod partition;
mod reason;
mod shared_text;
mod text;
pub(crate) mod zone_serde;
pub use hex::{hex, sha256_hex};
pub use text::trimmed;
pub(crate) use text::{with_optional_text, with_text};

pub use account::{
    Account, Address, CollectorKind, Consumer, ContactPointKind, EmailAddress, EmailKind, Flag,
    Flags, InconvenientTime, MAX_ACCOUNT_ID_LEN, OptOut, Phone, PhoneKind, Place, TimeOfDay,
    US_STATES, Weekday, check_account_id, check_client_id, check_state, deserialize_account_id,
    excerpt,
};
pub use channel::{Channel, Purpose};
pub use event::{Event, EventType, InitiatedBy, Outcome};
pub use ledger::{
    AccountEntries, AccountLedger, EntryRef, Installment, LedgerEntry, LedgerEvent,
    LedgerEventError, LedgerEventType, StoredEntry, history_of, history_of_refs,
};
pub use money::{Currency, Money};
pub use notice::{
    Notice, NoticeChannel, NoticeError, NoticeRequest, NoticeSenders, NoticeStatus,
    WebhookEventType,
};
pub use reason::{Reason, ReasonText, Reasons};
pub use shared_text::SharedText;

//! The vocabulary of dunner: accounts, consumers, contact points, ledger events,
//! channels and purposes.
//!
//! Pure data with parsing: no I/O, no clock. Types here are what the engine reasons
//! about and what the JSON contract of `dunner decide` carries; invalid values are
//! rejected when they are parsed (an unknown channel or a malformed instant never
//! reaches the engine).

mod account;
pub mod arrangements;
mod channel;
mod event;
mod ledger;
mod money;
pub(crate) mod zone_serde;

pub use account::{
    Account, Address, CollectorKind, Consumer, ContactPointKind, EmailAddress, EmailKind, Flag,
    Flags, InconvenientTime, OptOut, Phone, PhoneKind, Place, TimeOfDay, Weekday,
};
pub use channel::{Channel, Purpose};
pub use event::{Event, EventType, InitiatedBy, Outcome};
pub use ledger::{Installment, LedgerEvent, LedgerEventError, LedgerEventType};
pub use money::{Currency, Money};

//! The outbox: notices queued in the same transaction as the request that caused them,
//! leased when due, checked against the policy again at the moment of sending (through
//! the store's locked check, so a dialer's attempt and a notice never break a cap
//! together), handed to their courier in [`crate::dispatch`], retried on the schedule in
//! [`retry`] and dead-lettered after the last try.
//!
//! The outbox drives dispatch, never the other way round: `dispatch` knows how to send
//! one notice, the outbox knows when, whether, and how often.

pub mod retry;
pub mod worker;

pub use retry::RetrySchedule;
pub use worker::{LEASE, Outbox, SendCheck};

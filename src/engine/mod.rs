//! Decisions: may this account be contacted, on this channel, at this instant, and
//! if not, when?
//!
//! Pure: a policy, a request (account, history, channel, purpose, instant) in; a
//! [`Decision`] out. No clock, no I/O. Every applicable rule of every applicable
//! pack is evaluated and every refusing rule is reported; the most restrictive
//! outcome wins because any refusal refuses.

mod context;
mod decide;
mod limits;
mod next_allowed;
mod request;
mod windows;
pub mod zones;

pub use decide::{DEFAULT_HORIZON_DAYS, decide, overview};
pub use request::{
    ChannelVerdict, DecideRequest, Decision, Obligation, Reason, RequestError, Verdict,
};

use chrono::{DateTime, Utc};

/// What one rule says about one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// The rule does not refuse.
    Pass,
    /// The rule refuses; `reopen` is a lower bound of the first instant it might
    /// not (never earlier than the truth), `None` when it never will by time alone.
    Refuse { reopen: Option<DateTime<Utc>> },
}

impl Check {
    pub(crate) fn refuse(reopen: Option<DateTime<Utc>>) -> Check {
        Check::Refuse { reopen }
    }
}

//! Decisions: may this account be contacted, on this channel, at this instant, and
//! if not, when?
//!
//! Pure: a policy, a request (account, history, channel, purpose, instant) in; a
//! [`Decision`] out. No clock, no I/O. Every applicable rule of every applicable
//! pack is evaluated and every refusing rule is reported; the most restrictive
//! outcome wins because any refusal refuses.

mod budget;
mod context;
mod decide;
mod instants;
mod limits;
mod next_allowed;
mod offsets;
mod request;
mod rules;
mod subject;
mod windows;
pub mod zones;

pub use budget::{BudgetPeriod, CapBudget};
pub use decide::Interval;
pub use decide::{DEFAULT_HORIZON_DAYS, decide, overview};
pub use request::{
    ChannelVerdict, DecideRequest, Decision, Obligation, Reason, Reasons, RequestError, Verdict,
    parse_json, parse_json_str,
};
pub use subject::{Question, Standing, Subject};

/// What one rule says about one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// The rule does not refuse.
    Pass,
    /// The rule refuses; `reopen` is a lower bound of the first instant it might
    /// not (never earlier than the truth), in nanoseconds since the epoch as the search
    /// counts, `None` when it never will by time alone.
    Refuse { reopen: Option<i64> },
}

impl Check {
    pub(crate) fn refuse(reopen: Option<i64>) -> Check {
        Check::Refuse { reopen }
    }

    /// Combines checks that must all pass (one per candidate zone, one per
    /// inconvenient interval): refused if any refuses; passing again only once every
    /// refusing one does, so the reopen bound is the latest of theirs, or never.
    pub(crate) fn all(checks: impl IntoIterator<Item = Check>) -> Check {
        let mut combined = Check::Pass;
        for check in checks {
            combined = match (combined, check) {
                (combined, Check::Pass) => combined,
                (_, Check::Refuse { reopen: None }) => return Check::refuse(None),
                (Check::Pass, refusal) => refusal,
                (Check::Refuse { reopen: Some(a) }, Check::Refuse { reopen: Some(b) }) => {
                    Check::refuse(Some(a.max(b)))
                }
                (never @ Check::Refuse { reopen: None }, _) => never,
            };
        }
        combined
    }
}

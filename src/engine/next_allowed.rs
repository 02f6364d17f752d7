//! The search for the earliest allowed instant.
//!
//! Every refusing rule gives a lower bound of the first instant it might pass; the
//! latest of those bounds is a lower bound for all of them, so jumping there never
//! skips an allowed instant. The jump is repeated until every rule passes or the
//! horizon is reached.

use super::context::Context;
use super::instants::NANOS_PER_SECOND;
use super::rules::{Passed, first_pass_bound};
use super::zones::Moment;

/// A bound on the iterations; reaching it ends the search with no answer (fail closed).
const MAX_STEPS: usize = 4096;

/// The earliest instant at or after `from` and at or before `horizon_end` when no
/// rule refuses, assuming no new events; in nanoseconds since the epoch, as every
/// bound is counted (no calendar conversion per step). The rules `passed` at the
/// question's instant are not asked again.
pub(super) fn next_allowed_at(
    context: &Context<'_>,
    from: i64,
    horizon_end: i64,
    passed: &Passed<'_>,
) -> Option<i64> {
    let mut instant = from;
    let mut moment = Moment::UNREAD;
    for _ in 0..MAX_STEPS {
        if instant > horizon_end {
            return None;
        }
        match first_pass_bound(context, instant, passed, &mut moment) {
            None => return Some(instant),
            Some(None) => return None,
            Some(Some(bound)) => {
                // Every bound is after a refused instant; make sure of progress anyway.
                instant = if bound > instant {
                    bound
                } else {
                    instant.saturating_add(NANOS_PER_SECOND)
                };
            }
        }
    }
    None
}

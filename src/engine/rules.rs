//! One rule at one moment: which check applies to it, and the earliest a refusing rule
//! may pass (its own bound, or the day it goes out of force). Used by the decision
//! ([`super::decide`]) and by the search for the next allowed instant
//! ([`super::next_allowed`]). Pure.

use super::Check;
use super::context::Context;
use super::zones::{self, Moment};
use super::{limits, windows};
use crate::policy::model::{Rule, RuleKind};

/// Whether any refusing (non-warning) rule refuses at `instant` (nanoseconds since
/// the epoch), and the reopen bound.
pub(super) fn first_pass_bound(context: &Context<'_>, instant: i64) -> Option<Option<i64>> {
    let mut refused = false;
    let mut bound = instant;
    let moment = Moment::at_nanos(instant, context.zones);
    for rule in context.rules.iter().copied() {
        if matches!(rule.kind, RuleKind::Warning(_) | RuleKind::Obligation(_))
            || !moment.in_force(&rule.effective)
        {
            continue;
        }
        if let Check::Refuse { reopen } = check(context, rule, &moment) {
            refused = true;
            match earliest_with_expiry(context, rule, reopen) {
                Some(reopen) => bound = bound.max(reopen),
                None => return Some(None),
            }
        }
    }
    refused.then_some(Some(bound))
}

pub(super) fn check(context: &Context<'_>, rule: &Rule, moment: &Moment) -> Check {
    match &rule.kind {
        RuleKind::Window(window) => windows::check_window(window, moment),
        RuleKind::ConsumerTimes => {
            windows::check_consumer_times(&context.account.inconvenient_times, moment)
        }
        RuleKind::Cap(cap) | RuleKind::Warning(cap) => {
            limits::check_cap(context, cap, moment, rule.effective.until)
        }
        RuleKind::Cooldown(cooldown) => limits::check_cooldown(context, cooldown, moment),
        RuleKind::Hold(flag) => {
            // Without a flag the hold stands on its `when`, already checked.
            let holds = flag.is_none_or(|flag| context.flag_holds(flag));
            let exempt = rule
                .unless_consumer_used_days
                .is_some_and(|days| context.consumer_used_point(moment.nanos, days))
                || (rule.unless.consumer_used_point
                    && context.consumer_used_this_point(moment.nanos))
                || (rule.unless.consumer_consented_to_point
                    && context.consumer_consented_to_this_point(moment.nanos));
            if holds && !exempt {
                Check::refuse(None)
            } else {
                Check::Pass
            }
        }
        RuleKind::Obligation(_) => Check::Pass,
    }
}

/// A refusing rule stops binding when it goes out of force; the reopen bound is the
/// earlier of that and the rule's own.
///
/// A rule is in force while its dates hold the local date in any candidate zone, so it
/// goes out of force when the day after `until` has begun in every zone: the latest of
/// those starts. (The earliest, used before, is no bound once passed: with New York and
/// Phoenix the search stood at New York's midnight, where the rule still binds in
/// Phoenix, and crept on by the second until its steps ran out, answering no
/// `next_allowed_at` for a contact allowed two hours later.)
pub(super) fn earliest_with_expiry(
    context: &Context<'_>,
    rule: &Rule,
    reopen: Option<i64>,
) -> Option<i64> {
    let expiry = rule
        .effective
        .until
        .and_then(|until| zones::end_of_local_date_everywhere_nanos(context.zones, until));
    match (reopen, expiry) {
        (Some(r), Some(e)) => Some(r.min(e)),
        (r, e) => r.or(e),
    }
}

//! One rule at one moment: which check applies to it, and the earliest a refusing rule
//! may pass (its own bound, or the day it goes out of force). Used by the decision
//! ([`super::decide`]) and by the search for the next allowed instant
//! ([`super::next_allowed`]). Pure.

use super::Check;
use super::context::Context;
use super::zones::{self, Moment};
use super::{limits, windows};
use crate::policy::model::{Period, Rule, RuleKind};

/// The rules of a question that passed at its instant and cannot refuse a later one
/// ([`stays_passed`]): the search for the next allowed instant does not ask them again.
pub(super) struct Passed<'m> {
    /// Bit `i`: `context.rules[i]` (the first 64).
    rules: u64,
    /// The moment they passed at.
    at: &'m Moment,
}

impl<'m> Passed<'m> {
    /// None passed that the search could skip.
    pub fn none(at: &'m Moment) -> Passed<'m> {
        Passed { rules: 0, at }
    }

    /// Notes that the rule at `index` of the context's rules passed at the moment.
    pub fn note(&mut self, index: usize, rule: &Rule) {
        if index < 64 && stays_passed(rule) {
            self.rules |= 1 << index;
        }
    }

    /// Which rules need not be asked at `later`: none when it is not later, or when a
    /// zone's local date there is before its date at the passing moment (a clock set
    /// back over midnight), where calendar days would count backwards.
    fn skipped_at(&self, later: &Moment) -> u64 {
        let forward = later.nanos >= self.at.nanos
            && later.clocks.len() == self.at.clocks.len()
            && later
                .clocks
                .iter()
                .zip(self.at.clocks.iter())
                .all(|(later, then)| later.day >= then.day);
        if forward { self.rules } else { 0 }
    }
}

/// Whether a rule that passes at a moment passes at every later one whose local date
/// is not earlier in any zone, while the history holds nothing after that moment (the
/// caller's condition): a rolling cap's periods then hold only fewer of its events, and
/// a cooldown's trigger only ages; a hold's flags do not change with time. Not so for
/// windows (the clock), calendar-day caps (an event before the moment can fall on a
/// later local day than the moment where a zone's clock went back over midnight, and a
/// later day's period can then hold more), rules excluding contacts under consent (a
/// consent lapses), holds lifted by the consumer's recent use of a point (the use ages
/// out), warnings and obligations (which the search does not ask).
fn stays_passed(rule: &Rule) -> bool {
    match &rule.kind {
        RuleKind::Cap(cap) => {
            cap.exclude_consent_days.is_none() && matches!(cap.period, Period::Rolling(_))
        }
        RuleKind::Cooldown(cooldown) => cooldown.exclude_consent_days.is_none(),
        RuleKind::Hold(_) => {
            rule.unless_consumer_used_days.is_none()
                && !rule.unless.consumer_used_point
                && !rule.unless.consumer_consented_to_point
        }
        RuleKind::Window(_)
        | RuleKind::ConsumerTimes
        | RuleKind::Warning(_)
        | RuleKind::Obligation(_) => false,
    }
}

/// Whether any refusing (non-warning) rule refuses at `instant` (nanoseconds since
/// the epoch), and the reopen bound. Rules `passed` before are not asked again.
/// `moment` is the search's, read here at `instant` (one for every step).
// Inline into the search, its one caller: left to the inliner, it was inlined in some
// builds and not in others (40 instructions a decision apart).
#[inline(always)]
pub(super) fn first_pass_bound(
    context: &Context<'_>,
    instant: i64,
    passed: &Passed<'_>,
    moment: &mut Moment,
) -> Option<Option<i64>> {
    let mut refused = false;
    let mut bound = instant;
    moment.read_nanos(instant, context.zones);
    let moment = &*moment;
    let skipped = passed.skipped_at(moment);
    for (index, rule) in context.rules.iter().copied().enumerate() {
        if matches!(rule.kind, RuleKind::Warning(_) | RuleKind::Obligation(_))
            || (index < 64 && skipped & (1 << index) != 0)
            || !moment.in_force(&rule.effective)
        {
            continue;
        }
        if let Check::Refuse { reopen } = check(context, rule, moment) {
            refused = true;
            match earliest_with_expiry(context, rule, reopen) {
                Some(reopen) => bound = bound.max(reopen),
                None => return Some(None),
            }
        }
    }
    refused.then_some(Some(bound))
}

// Inline into the evaluation and the search, its two callers: a call per rule saved and
// restored more registers than most checks do work (27 instructions a decision).
#[inline(always)]
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

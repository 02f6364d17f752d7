//! Counting rules over the history: frequency caps (calendar days or rolling
//! durations) and cooldowns after an event.
//!
//! Counting works on "slots": an event's local day number (calendar-day periods, in
//! each candidate zone) or its instant in nanoseconds (rolling periods). A period
//! of length L containing the requested slot x is any `[s, s + L)` with
//! `x - L < s <= x`; the contact is refused if any of them would hold more than
//! `max` counted events with it. History is sorted, so only the events near the
//! instant are looked at.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

use super::Check;
use super::context::Context;
use super::subject::PreparedEvent;
use super::zones::{self, Moment};
use crate::policy::model::{Cap, Cooldown, Period};

/// Whether the cap would count the requested contact at `instant`: one it would not
/// count cannot exceed it.
fn counts_request(context: &Context<'_>, cap: &Cap, instant: i64) -> bool {
    // A contact placed under consent is not counted, nor one whose purpose the cap
    // leaves out (a response to the consumer, a communication required by law).
    !cap.not_counting.contains(context.purpose)
        && context.request_matches(&cap.count)
        && cap
            .exclude_consent_days
            .is_none_or(|days| !context.consent_active(context.channel, instant, days))
}

/// Checks a cap for a contact at the moment. Contacts on local dates after `until`,
/// the last date the rule is in force, are not counted: a rule that has ended does not
/// govern them, and counting them would make a contact lawful when made unlawful in
/// hindsight (a plan across a hand-over to a successor rule would refuse itself).
pub fn check_cap(
    context: &Context<'_>,
    cap: &Cap,
    moment: &Moment,
    until: Option<NaiveDate>,
) -> Check {
    if !counts_request(context, cap, moment.nanos) {
        return Check::Pass;
    }
    let max = i64::from(cap.max);
    match cap.period {
        Period::Rolling(duration) => {
            let near = events_in_reach(context, moment.nanos, duration);
            if too_few_to_refuse(&near, max) {
                return Check::Pass;
            }
            let length = duration.num_nanoseconds().unwrap_or(i64::MAX);
            let mut slots = context.slots.borrow_mut();
            let nanos = |_: usize, event: &PreparedEvent<'_>| event.nanos();
            counted_slots(context, cap, near, nanos, &mut slots);
            // The rule's end in the zone where it ends last (counting more: stricter).
            let end = until
                .and_then(|until| zones::end_of_local_date_everywhere_nanos(context.zones, until));
            if let Some(end) = end {
                slots.retain(|slot| *slot < end);
            }
            match period_check(&slots, moment.nanos, length, max) {
                None => Check::Pass,
                Some(reopen) => Check::refuse(reopen),
            }
        }
        Period::CalendarDays(days) => {
            let length = i64::from(days);
            let reach = TimeDelta::days(length + 1);
            let near = events_in_reach(context, moment.nanos, reach);
            if too_few_to_refuse(&near, max) {
                return Check::Pass;
            }
            let mut slots = context.slots.borrow_mut();
            Check::all(moment.clocks.iter().enumerate().map(|(zone_index, clock)| {
                let day =
                    |index: usize, _: &PreparedEvent<'_>| context.event_day(index, zone_index);
                counted_slots(context, cap, near.clone(), day, &mut slots);
                sort_days(&mut slots);
                if let Some(until) = until {
                    let last = zones::day_number(until);
                    slots.retain(|slot| *slot <= last);
                }
                match period_check(&slots, clock.day, length, max) {
                    None => Check::Pass,
                    Some(reopen_day) => Check::refuse(
                        reopen_day.and_then(|day| zones::start_of_local_day_nanos(clock.zone, day)),
                    ),
                }
            }))
        }
    }
}

/// How much of a cap the period ending at the moment holds, counted exactly as
/// [`check_cap`] counts.
pub struct Usage {
    /// Counted events in the period that ends at the moment (the latest `[s, s + L)`
    /// containing its slot); with several candidate zones, the most any zone counts.
    pub used: u32,
    /// The earliest instant at which `max - used` (never below zero) grows, assuming
    /// no new events; `None` when nothing is counted or `max` is zero.
    pub resets_at: Option<DateTime<Utc>>,
}

/// The usage of a cap at the moment; `None` when the cap would not count the
/// requested contact (and so cannot refuse it).
///
/// `used` counts the trailing period only; a refusal also looks at later periods that
/// contain the instant, which matters only when the history holds events after it.
pub fn cap_usage(context: &Context<'_>, cap: &Cap, moment: &Moment) -> Option<Usage> {
    if !counts_request(context, cap, moment.nanos) {
        return None;
    }
    let mut slots = context.slots.borrow_mut();
    // Per candidate zone (one for rolling periods): the counted slots of the trailing
    // period, and how a slot maps back to an instant.
    let mut trailing: Vec<(Vec<i64>, Option<Tz>)> = Vec::new();
    let length = match cap.period {
        Period::Rolling(duration) => {
            let length = duration.num_nanoseconds().unwrap_or(i64::MAX);
            let nanos = |_: usize, event: &PreparedEvent<'_>| event.nanos();
            let near = events_in_reach(context, moment.nanos, duration);
            counted_slots(context, cap, near, nanos, &mut slots);
            let in_period = trailing_slots(&slots, moment.nanos, length);
            trailing.push((in_period.to_vec(), None));
            length
        }
        Period::CalendarDays(days) => {
            let length = i64::from(days);
            let reach = TimeDelta::days(length + 1);
            for (zone_index, clock) in moment.clocks.iter().enumerate() {
                let day =
                    |index: usize, _: &PreparedEvent<'_>| context.event_day(index, zone_index);
                let near = events_in_reach(context, moment.nanos, reach);
                counted_slots(context, cap, near, day, &mut slots);
                sort_days(&mut slots);
                let in_period = trailing_slots(&slots, clock.day, length);
                trailing.push((in_period.to_vec(), Some(clock.zone)));
            }
            length
        }
    };
    let used = trailing.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
    let max = usize::try_from(cap.max).unwrap_or(usize::MAX);
    // The budget grows once every period holds fewer than the lesser of `used` and
    // `max`; each period's oldest events leave it `length` slots after their own.
    let target = used.min(max).checked_sub(1);
    let resets_at = target.and_then(|target| {
        trailing
            .iter()
            .filter_map(|(in_period, zone)| {
                let leaving = in_period.len().checked_sub(target + 1)?;
                Some((in_period.get(leaving)?.saturating_add(length), *zone))
            })
            .map(|(slot, zone)| match zone {
                None => Some(DateTime::from_timestamp_nanos(slot)),
                Some(zone) => zones::start_of_local_day(zone, slot),
            })
            .try_fold(DateTime::<Utc>::MIN_UTC, |latest, reset| {
                reset.map(|r| latest.max(r))
            })
    });
    Some(Usage {
        used: u32::try_from(used).unwrap_or(u32::MAX),
        resets_at,
    })
}

/// The slots of the trailing period of `length` that ends with slot `x`,
/// `[x - length + 1, x]`, from sorted `slots`.
fn trailing_slots(slots: &[i64], x: i64, length: i64) -> &[i64] {
    let from = x.saturating_sub(length).saturating_add(1);
    let start = slots.partition_point(|&s| s < from);
    let end = slots.partition_point(|&s| s <= x);
    slots.get(start..end).unwrap_or(&[])
}

/// Fills `slots` with the slots of the counted events among `near` (indices into the
/// prepared history, [`events_in_reach`]), in the history's order; `slot` maps an
/// event's index to its slot. Instants come sorted with the history; local days almost
/// always do, so a calendar count puts them in order with [`sort_days`].
fn counted_slots(
    context: &Context<'_>,
    cap: &Cap,
    near: std::ops::Range<usize>,
    slot: impl Fn(usize, &PreparedEvent<'_>) -> i64,
    slots: &mut super::subject::Slots,
) {
    slots.clear();
    // A loop over the subslice: the iterator chain and the `take`/`skip` adapters it
    // replaces kept their state on the stack, a third of the cost per event.
    let first = near.start;
    for (offset, event) in context.events.get(near).unwrap_or(&[]).iter().enumerate() {
        if counts_event(context, cap, event) {
            slots.push(slot(first + offset, event));
        }
    }
}

/// The indices of the history's events within `reach` of the instant `at` (in
/// nanoseconds; exclusive at both ends): every event a period of that length containing
/// the instant can hold.
fn events_in_reach(context: &Context<'_>, at: i64, reach: TimeDelta) -> std::ops::Range<usize> {
    let events = &context.events;
    let reach = reach.num_nanoseconds().unwrap_or(i64::MAX);
    let (low, high) = (at.saturating_sub(reach), at.saturating_add(reach));
    let start = events.partition_point(|e| e.nanos() <= low);
    let end = context.events_before(high);
    start..end.max(start)
}

/// Whether fewer events than `max` lie `near` the instant ([`events_in_reach`]):
/// then no period counts `max`, whatever the cap's filter, and the contact fits (it
/// refuses at a count of `max` with the request's own).
fn too_few_to_refuse(near: &std::ops::Range<usize>, max: i64) -> bool {
    i64::try_from(near.len()).unwrap_or(i64::MAX) < max
}

/// Whether the cap counts a recorded event.
// Inline: called once per event near the instant, and a call saved more registers than
// the test does work.
#[inline(always)]
fn counts_event(context: &Context<'_>, cap: &Cap, event: &PreparedEvent<'_>) -> bool {
    context.event_matches(event, &cap.count, cap.per)
        && !Context::excluded_by_purpose(event, cap.not_counting)
        && !(cap.exclude_wrong_party && context.resolve(event).wrong_party)
        && cap
            .exclude_consent_days
            .is_none_or(|days| !context.consent_active(event.event.channel, event.nanos(), days))
}

/// Puts local day numbers in order: a zone's clock going back over midnight can give
/// a later event an earlier day.
fn sort_days(slots: &mut [i64]) {
    if !slots.is_sorted() {
        slots.sort_unstable();
    }
}

/// `None` when a new event at slot `x` keeps every period of length `length` at or
/// under `max`; otherwise `Some(reopen)` with a lower bound of the first slot at
/// which it could (`Some(None)`: never, by the passing of time alone).
fn period_check(slots: &[i64], x: i64, length: i64, max: i64) -> Option<Option<i64>> {
    // No period holds more than every slot: fewer than `max` leave room in all of them.
    if i64::try_from(slots.len()).unwrap_or(i64::MAX) < max {
        return None;
    }
    let count = |from: usize, to: usize| i64::try_from(to.saturating_sub(from)).unwrap_or(i64::MAX);
    let in_range = |from: i64, to: i64| -> i64 {
        count(
            slots.partition_point(|&s| s < from),
            slots.partition_point(|&s| s < to),
        )
    };
    // The count of `[s, s + L)` only grows as `s` moves right when its end reaches a
    // later event, so the fullest periods start at the first possible slot or end
    // just past an event.
    let first_start = x.saturating_sub(length).saturating_add(1);
    let first_end = first_start.saturating_add(length);
    // The first period's slots, `slots[start..end]`; `past_end` ends the slots at or
    // before `x`, the same place unless the arithmetic saturated.
    let start = slots.partition_point(|&s| s < first_start);
    let end = slots.partition_point(|&s| s < first_end);
    let past_end = if first_end == x.saturating_add(1) {
        end
    } else {
        slots.partition_point(|&s| s <= x)
    };
    // Only a slot after `x` ends a later period that still contains it.
    let mut starts_ending_at_events = slots
        .get(past_end..)
        .unwrap_or(&[])
        .iter()
        .map(|&s| s.saturating_sub(length).saturating_add(1))
        .filter(|&later| later > first_start && later <= x);
    let refused = count(start, end) + 1 > max
        || starts_ending_at_events
            .any(|later| in_range(later, later.saturating_add(length)) + 1 > max);
    if !refused {
        return None;
    }
    // Nothing improves before an event leaves every period that contains the slot,
    // and the `max`-th most recent past event must have left the trailing period.
    // `slots` is sorted: both are subslices, no allocation needed.
    let Some(&oldest) = slots.get(start) else {
        return Some(None);
    };
    let mut bound = oldest.saturating_add(length);
    let past = slots.get(start..past_end.max(start)).unwrap_or(&[]);
    let needed = usize::try_from(max).unwrap_or(usize::MAX);
    if past.len() >= needed
        && let Some(&nth_latest) = past.get(past.len() - needed)
    {
        bound = bound.max(nth_latest.saturating_add(length));
    }
    Some(Some(bound.max(x.saturating_add(1))))
}

/// Checks a cooldown: nothing while fewer than `days` calendar days have begun since
/// the latest triggering event, its day being day 1.
pub fn check_cooldown(context: &Context<'_>, cooldown: &Cooldown, moment: &Moment) -> Check {
    if let Some(days) = cooldown.exclude_consent_days
        && context.consent_active(context.channel, moment.nanos, days)
    {
        return Check::Pass;
    }
    let at = moment.nanos;
    let reach = TimeDelta::days(i64::from(cooldown.days) + 1)
        .num_nanoseconds()
        .map_or(i64::MIN, |reach| at.saturating_sub(reach));
    let start = context.events.partition_point(|e| e.nanos() < reach);
    let end = context.events_through(at);
    let Some(latest) = context
        .events
        .get(start..end.max(start))
        .and_then(|near| {
            near.iter()
                .rposition(|e| context.event_matches(e, &cooldown.after, cooldown.per))
        })
        .map(|offset| start + offset)
    else {
        return Check::Pass;
    };
    Check::all(moment.clocks.iter().enumerate().map(|(zone_index, clock)| {
        let trigger_day = context.event_day(latest, zone_index);
        if clock.day - trigger_day < i64::from(cooldown.days) {
            Check::refuse(zones::start_of_local_day_nanos(
                clock.zone,
                trigger_day + i64::from(cooldown.days),
            ))
        } else {
            Check::Pass
        }
    }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{period_check, trailing_slots};

    /// `period_check` as it was before it shared its searches: every candidate period
    /// counted apart.
    fn period_check_counting_each_period(
        slots: &[i64],
        x: i64,
        length: i64,
        max: i64,
    ) -> Option<Option<i64>> {
        if i64::try_from(slots.len()).unwrap_or(i64::MAX) < max {
            return None;
        }
        let in_range = |from: i64, to: i64| -> i64 {
            let start = slots.partition_point(|&s| s < from);
            let end = slots.partition_point(|&s| s < to);
            i64::try_from(end.saturating_sub(start)).unwrap_or(i64::MAX)
        };
        let first_start = x.saturating_sub(length).saturating_add(1);
        let starts_ending_at_events = slots
            .iter()
            .map(|&s| s.saturating_sub(length).saturating_add(1))
            .filter(|&start| start > first_start && start <= x);
        let refused = std::iter::once(first_start)
            .chain(starts_ending_at_events)
            .any(|start| in_range(start, start.saturating_add(length)) + 1 > max);
        if !refused {
            return None;
        }
        let relevant = slots
            .get(slots.partition_point(|&s| s < first_start)..)
            .unwrap_or(&[]);
        let Some(&oldest) = relevant.first() else {
            return Some(None);
        };
        let mut bound = oldest.saturating_add(length);
        let past = relevant
            .get(..relevant.partition_point(|&s| s <= x))
            .unwrap_or(&[]);
        let needed = usize::try_from(max).unwrap_or(usize::MAX);
        if past.len() >= needed
            && let Some(&nth_latest) = past.get(past.len() - needed)
        {
            bound = bound.max(nth_latest.saturating_add(length));
        }
        Some(Some(bound.max(x.saturating_add(1))))
    }

    proptest! {
        #[test]
        fn periods_are_judged_as_when_each_was_counted_apart(
            mut slots in prop::collection::vec(prop_oneof![0i64..40, Just(i64::MAX), Just(i64::MIN)], 0..16),
            x in prop_oneof![0i64..40, Just(i64::MAX), Just(i64::MIN)],
            length in prop_oneof![0i64..12, Just(i64::MAX)],
            max in 0i64..8,
        ) {
            slots.sort_unstable();
            prop_assert_eq!(
                period_check(&slots, x, length, max),
                period_check_counting_each_period(&slots, x, length, max)
            );
        }
    }

    #[test]
    fn the_trailing_period_holds_the_slots_of_its_length_up_to_the_instant() {
        let slots = [1, 2, 2, 5, 8, 9];
        assert_eq!(trailing_slots(&slots, 8, 7), &[2, 2, 5, 8]);
        assert_eq!(trailing_slots(&slots, 1, 7), &[1]);
        assert!(trailing_slots(&slots, 0, 7).is_empty());
    }

    #[test]
    fn seven_in_seven_days_refuses_the_eighth_until_the_first_falls_out() {
        // Calls on days 1..=7, one a day; the 8th on day 7 is refused until day 8.
        let slots: Vec<i64> = (1..=7).collect();
        assert_eq!(period_check(&slots, 7, 7, 7), Some(Some(8)));
        assert_eq!(period_check(&slots, 8, 7, 7), None);
    }

    #[test]
    fn six_in_the_period_allow_a_seventh() {
        let slots: Vec<i64> = (1..=6).collect();
        assert_eq!(period_check(&slots, 6, 7, 7), None);
    }

    #[test]
    fn seven_calls_on_one_day_reopen_seven_days_later() {
        let slots = vec![10; 7];
        assert_eq!(period_check(&slots, 10, 7, 7), Some(Some(17)));
    }

    #[test]
    fn future_events_count_in_periods_that_contain_the_slot() {
        // max 1: an event two days later shares a 7-day period with day 10.
        assert!(period_check(&[12], 10, 7, 1).is_some());
        assert!(period_check(&[17], 10, 7, 1).is_none());
    }
}

//! Local wall-clock rules: allowed windows and the consumer's inconvenient times,
//! checked in every candidate zone, with DST gaps and overlaps resolved by
//! [`zones::instant_of_local`].

use chrono_tz::Tz;

use super::Check;
use super::zones::{self, LocalClock, Moment};
use crate::domain::{InconvenientTime, Weekday};
use crate::policy::model::Window;

fn inside(seconds: u32, from: u16, to: u16) -> bool {
    u32::from(from) * 60 <= seconds && seconds < u32::from(to) * 60
}

/// Allowed only if the local time is inside an interval in every candidate zone.
pub fn check_window(window: &Window, moment: &Moment) -> Check {
    if let Some(zone) = window.time_zone {
        // The law named the zone: the consumer's candidates do not matter here.
        return check_window_in(window, &Moment::at_nanos(moment.nanos, &[zone]));
    }
    check_window_in(window, moment)
}

// Pinned, with `next_opening` (the refusal's path) out of line: the inliner chose
// either in different builds, which moved a decision's count by 20 instructions.
#[inline(always)]
fn check_window_in(window: &Window, moment: &Moment) -> Check {
    Check::all(moment.clocks.iter().map(
        |&LocalClock {
             zone,
             day,
             weekday,
             seconds,
             ..
         }| {
            let intervals = window
                .days
                .get(usize::from(weekday))
                .map_or(&[][..], Vec::as_slice);
            if intervals
                .iter()
                .any(|&(from, to)| inside(seconds, from, to))
            {
                Check::Pass
            } else {
                Check::refuse(next_opening(window, zone, day, moment.nanos))
            }
        },
    ))
}

/// The first instant at or after `instant` (nanoseconds since the epoch) when the
/// window opens in `zone`, looking a week and a day ahead (every weekday pattern
/// repeats within that).
#[inline(never)]
fn next_opening(window: &Window, zone: Tz, today: i64, instant: i64) -> Option<i64> {
    for day in today..=today.checked_add(8)? {
        let weekday = zones::weekday_of_day_number(day);
        for &(from, to) in window.days.get(weekday).map_or(&[][..], Vec::as_slice) {
            let Some((start, fit)) = zones::local_instant_nanos(zone, day, from, instant) else {
                continue;
            };
            // An interval swallowed by a DST gap never opens. When `from` occurs exactly
            // once, every later wall time of the day (`to` > `from`, checked when the
            // pack is compiled) comes after it: the wall clock can only fall back into
            // an hour it has already shown, and `from` was shown once.
            if fit == zones::LocalFit::Single {
                return Some(start);
            }
            let end = zones::local_instant_nanos(zone, day, to, instant).map(|(end, _)| end);
            if end.is_none_or(|end| end > start) {
                return Some(start);
            }
        }
    }
    None
}

/// Refused while the local time is inside any of the consumer's inconvenient times
/// in any candidate zone.
pub fn check_consumer_times(times: &[InconvenientTime], moment: &Moment) -> Check {
    if times.is_empty() {
        return Check::Pass;
    }
    let instant = moment.nanos;
    Check::all(moment.clocks.iter().flat_map(
        |clock @ &LocalClock {
             zone,
             weekday,
             seconds,
             ..
         }| {
            let date = clock.date();
            times.iter().map(move |time| {
                let today = Weekday::ALL.get(usize::from(weekday)).copied();
                let on_day = time.days.is_empty() || today.is_some_and(|d| time.days.contains(&d));
                let in_force = time.until.is_none_or(|until| date <= until);
                if !(on_day && in_force && inside(seconds, time.from.minutes(), time.to.minutes()))
                {
                    return Check::Pass;
                }
                // Convenient again at the end of the interval, or once `until` has passed.
                let end = zones::local_instant_nanos(zone, clock.day, time.to.minutes(), instant)
                    .map(|(end, _)| end);
                let after_until = time
                    .until
                    .and_then(|until| zones::day_number(until).checked_add(1))
                    .and_then(|day| zones::start_of_local_day_nanos(zone, day));
                Check::refuse(match (end, after_until) {
                    (Some(end), Some(after)) => Some(end.min(after)),
                    (end, after) => end.or(after),
                })
            })
        },
    ))
}

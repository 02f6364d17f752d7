//! Instants as counts since the Unix epoch, read off chrono's calendar fields through a
//! table of the first day of each year the engine accepts (1970 to 2199).
//!
//! chrono computes an instant's seconds by calendar arithmetic on every call; a decision
//! reads dozens (each history event once, every evaluation's instant in every zone), and
//! that was a tenth of its instructions. The table gives the same numbers: a test
//! compares them with chrono's across and beyond the years it covers, where chrono
//! itself answers.

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Nanoseconds in a second: the unit the engine's instants and bounds are counted in.
pub const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Nanoseconds in a day of 86,400 seconds (a UTC day; a local day may differ).
pub const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;

/// The first year of [`YEAR_STARTS`].
const FIRST_YEAR: i32 = 1970;
/// How many years the table covers (1970 to 2199, the years the engine accepts).
const YEARS: usize = 230;

/// Days from 1970-01-01 to January 1st of `FIRST_YEAR + i`.
// Computed by the compiler: an index out of range would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
static YEAR_STARTS: [i64; YEARS] = {
    let mut starts = [0i64; YEARS];
    let mut i = 1;
    while i < YEARS {
        let year = FIRST_YEAR as i64 + i as i64 - 1;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        starts[i] = starts[i - 1] + if leap { 366 } else { 365 };
        i += 1;
    }
    starts
};

/// Days since 1970-01-01 of the instant's UTC date, from the table.
fn days_since_epoch(at: DateTime<Utc>) -> Option<i64> {
    // The UTC fields as stored (`date_naive` would add the zero offset, dearly).
    let date = at.naive_utc().date();
    let index = usize::try_from(date.year() - FIRST_YEAR).ok()?;
    Some(YEAR_STARTS.get(index)? + i64::from(date.ordinal0()))
}

/// Seconds since the epoch (what `DateTime::timestamp` gives).
pub fn seconds_since_epoch(at: DateTime<Utc>) -> i64 {
    seconds_and_nanos_since_epoch(at).0
}

/// [`seconds_since_epoch`] and [`nanos_since_epoch`] from one reading of the date.
// Inline, with `nanos_since_epoch`: read for every event of a history as it is
// prepared, where the call cost a quarter of the work (76 instructions a one-shot
// decision; inlining only one of the two saved nothing).
#[inline]
pub fn seconds_and_nanos_since_epoch(at: DateTime<Utc>) -> (i64, i64) {
    match days_since_epoch(at) {
        // A leap second's nanoseconds run past a billion, as chrono counts them too.
        Some(days) => {
            let time = at.naive_utc().time();
            let seconds = days * 86_400 + i64::from(time.num_seconds_from_midnight());
            (
                seconds,
                seconds * NANOS_PER_SECOND + i64::from(time.nanosecond()),
            )
        }
        None => {
            let seconds = at.timestamp();
            let saturated = if seconds > 0 { i64::MAX } else { i64::MIN };
            (seconds, at.timestamp_nanos_opt().unwrap_or(saturated))
        }
    }
}

/// Nanoseconds since the epoch; every accepted instant (years 1970 to 2199) has them,
/// and one beyond i64's reach (after 2262) saturates, which keeps the order.
// Inline: see `seconds_and_nanos_since_epoch`.
#[inline]
pub fn nanos_since_epoch(at: DateTime<Utc>) -> i64 {
    seconds_and_nanos_since_epoch(at).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_table_counts_as_chrono_does(
            seconds in -5_000_000_000i64..12_000_000_000,
            nanos in 0u32..1_000_000_000,
        ) {
            let at = DateTime::from_timestamp(seconds, nanos).unwrap();
            prop_assert_eq!(seconds_since_epoch(at), at.timestamp());
            let chrono_nanos = at.timestamp_nanos_opt().unwrap_or(if seconds > 0 { i64::MAX } else { i64::MIN });
            prop_assert_eq!(nanos_since_epoch(at), chrono_nanos);
            prop_assert_eq!(seconds_and_nanos_since_epoch(at), (at.timestamp(), chrono_nanos));
        }
    }

    #[test]
    fn the_edges_of_the_table_count_as_chrono_does() {
        for text in [
            "1969-12-31T23:59:59.999999999Z",
            "1970-01-01T00:00:00Z",
            "2000-02-29T12:00:00Z",
            "2100-03-01T00:00:00Z",
            "2199-12-31T23:59:59.999999999Z",
            "2200-01-01T00:00:00Z",
            "2262-04-12T00:00:00Z",
        ] {
            let at: DateTime<Utc> = text.parse().unwrap();
            assert_eq!(seconds_since_epoch(at), at.timestamp(), "{text}");
            let chrono_nanos = at.timestamp_nanos_opt().unwrap_or(i64::MAX);
            assert_eq!(nanos_since_epoch(at), chrono_nanos, "{text}");
        }
    }
}

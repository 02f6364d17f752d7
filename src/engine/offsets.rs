//! Each zone's UTC offsets as a table of transitions, read off chrono-tz once per zone
//! and then looked up through an index of ~48-day buckets (a step or two, no search).
//!
//! chrono-tz answers the same questions through `NaiveDateTime` arithmetic and a search
//! of its own per conversion; a decision converts dozens of instants (every evaluation
//! reads each candidate zone's wall clock, every refused window converts its opening
//! back), and that was a third of the engine's instructions. The table holds only what
//! the engine reads, the offset in seconds, and answers exactly as chrono-tz does: it
//! is built by asking chrono-tz, and outside the years it covers every question goes to
//! chrono-tz itself.

use std::cell::Cell;
use std::sync::{LazyLock, OnceLock};

use chrono::{DateTime, LocalResult, Offset, TimeZone};
use chrono_tz::{TZ_VARIANTS, Tz};

/// The first instant the tables cover: 1970-01-01T00:00:00Z.
const COVERED_FROM: i64 = 0;
/// The first instant past the tables: 2200-01-01T00:00:00Z (instants the engine accepts
/// end with 2199).
const COVERED_UNTIL: i64 = 7_258_118_400;
/// How far apart the instants are at which chrono-tz is asked while building a table. A
/// transition is then found to the second by bisection; two transitions within one step
/// that return to the same offset would be missed, and the tz database has none since
/// 1970 (a test compares every zone's table with hourly samples).
const SAMPLE_STEP: i64 = 86_400;
/// Offsets in the tz database stay within a day of UTC.
const MAX_OFFSET: i64 = 86_400;

/// The span index is kept for every 2^22 seconds (about 48.5 days): a lookup starts
/// there and steps over the few transitions since, instead of searching the table.
const BUCKET_SHIFT: u32 = 22;

/// One zone's offsets: `offsets[i]` (local minus UTC, in seconds) holds from
/// `starts[i]` until `starts[i + 1]` (UTC seconds), the last until [`COVERED_UNTIL`].
#[derive(Debug)]
struct Table {
    starts: Vec<i64>,
    offsets: Vec<i64>,
    /// `buckets[b]`: the span holding the UTC second `COVERED_FROM + (b << BUCKET_SHIFT)`.
    buckets: Vec<u32>,
    /// The largest offset minus the smallest: how far apart two instants showing the
    /// same wall time can be within the covered years.
    spread: i64,
}

/// The tables, by the zone's place in [`TZ_VARIANTS`], each built on first use.
static TABLES: LazyLock<Box<[OnceLock<Table>]>> =
    LazyLock::new(|| TZ_VARIANTS.iter().map(|_| OnceLock::new()).collect());

/// The table of `zone`, built on first use.
fn table(zone: Tz) -> Option<&'static Table> {
    // `Tz` is a field-less enum declared in the order of `TZ_VARIANTS`.
    let slot = TABLES.get(zone as usize)?;
    Some(slot.get_or_init(|| Table::build(zone)))
}

/// The offset chrono-tz gives at a UTC second.
fn chrono_offset(zone: Tz, utc: i64) -> i64 {
    DateTime::from_timestamp(utc, 0).map_or(0, |instant| {
        i64::from(
            zone.offset_from_utc_datetime(&instant.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    })
}

impl Table {
    fn build(zone: Tz) -> Table {
        let mut current = chrono_offset(zone, COVERED_FROM);
        let mut table = Table {
            starts: vec![COVERED_FROM],
            offsets: vec![current],
            buckets: Vec::new(),
            spread: 0,
        };
        let mut at = COVERED_FROM;
        while at < COVERED_UNTIL {
            let next = (at + SAMPLE_STEP).min(COVERED_UNTIL);
            if chrono_offset(zone, next) == current {
                at = next;
                continue;
            }
            // The offset is `current` at `low` and another at `high`: bisect to the
            // first second of the new offset.
            let (mut low, mut high) = (at, next);
            while high - low > 1 {
                let middle = low + (high - low) / 2;
                if chrono_offset(zone, middle) == current {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            current = chrono_offset(zone, high);
            if high < COVERED_UNTIL {
                table.starts.push(high);
                table.offsets.push(current);
            }
            at = high;
        }
        let highest = table.offsets.iter().max().copied().unwrap_or(0);
        let lowest = table.offsets.iter().min().copied().unwrap_or(0);
        table.spread = highest - lowest;
        let mut bucket_start = COVERED_FROM;
        while bucket_start < COVERED_UNTIL {
            let span = table.searched_span_of(bucket_start);
            table.buckets.push(u32::try_from(span).unwrap_or(u32::MAX));
            bucket_start += 1 << BUCKET_SHIFT;
        }
        table
    }

    /// The index of the span holding the UTC second `utc` (within the covered years).
    fn span_of(&self, utc: i64) -> usize {
        let bucket = usize::try_from((utc - COVERED_FROM) >> BUCKET_SHIFT).ok();
        let Some(&first) = bucket.and_then(|bucket| self.buckets.get(bucket)) else {
            return self.searched_span_of(utc);
        };
        let mut span = usize::try_from(first).unwrap_or(usize::MAX);
        while self.starts.get(span + 1).is_some_and(|&next| next <= utc) {
            span += 1;
        }
        span
    }

    /// [`Table::span_of`] by a binary search of the whole table.
    fn searched_span_of(&self, utc: i64) -> usize {
        self.starts
            .partition_point(|&start| start <= utc)
            .saturating_sub(1)
    }

    /// The first UTC second after span `index`.
    fn end_of(&self, index: usize) -> i64 {
        self.starts.get(index + 1).copied().unwrap_or(COVERED_UNTIL)
    }
}

fn covered(utc: i64) -> bool {
    (COVERED_FROM..COVERED_UNTIL).contains(&utc)
}

/// One span of constant offset, `[start, end)` in UTC seconds.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: i64,
    end: i64,
    offset: i64,
    /// Its zone's [`Table::spread`].
    spread: i64,
}

impl Span {
    fn holds(&self, utc: i64) -> bool {
        self.start <= utc && utc < self.end
    }
}

/// Two adjacent spans of one zone as a thread last read them: `[start, middle)` at
/// `before` and `[middle, end)` at `after` (empty after the last transition). Two, so
/// that instants on both sides of a change of offset (a search across the spring
/// change, a portfolio's questions on both sides of it) all hit the cache.
#[derive(Debug, Clone, Copy)]
struct Spans {
    start: i64,
    middle: i64,
    end: i64,
    before: i64,
    after: i64,
    /// Their zone's [`Table::spread`].
    spread: i64,
}

impl Spans {
    /// Holds no second: the first lookup of a zone always misses.
    const EMPTY: Spans = Spans {
        start: 0,
        middle: 0,
        end: 0,
        before: 0,
        after: 0,
        spread: 0,
    };

    /// The spans at `index` and after it in `table`.
    fn from_table(table: &Table, index: usize) -> Option<Spans> {
        let middle = table.end_of(index);
        Some(Spans {
            start: *table.starts.get(index)?,
            middle,
            end: table
                .starts
                .get(index + 1)
                .map_or(middle, |_| table.end_of(index + 1)),
            before: *table.offsets.get(index)?,
            after: table.offsets.get(index + 1).copied().unwrap_or(0),
            spread: table.spread,
        })
    }

    fn first(&self) -> Span {
        Span {
            start: self.start,
            end: self.middle,
            offset: self.before,
            spread: self.spread,
        }
    }

    fn second(&self) -> Span {
        Span {
            start: self.middle,
            end: self.end,
            offset: self.after,
            spread: self.spread,
        }
    }

    /// The one of the two that holds the UTC second `utc`, if either does.
    fn holding(&self, utc: i64) -> Option<Span> {
        if self.start <= utc && utc < self.middle {
            Some(self.first())
        } else if self.middle <= utc && utc < self.end {
            Some(self.second())
        } else {
            None
        }
    }
}

/// How many zones the per-thread cache of spans has room for (chrono-tz has 597); a zone
/// beyond it is looked up in its table every time.
const CACHED_ZONES: usize = 640;

thread_local! {
    /// The spans each zone was last read in, per thread: a decision reads the same few
    /// zones at instants days apart, almost always within two spans (US offsets change
    /// twice a year), so most reads are a few comparisons instead of a table walk. A
    /// memo of a pure function: what it answers does not depend on it.
    static LAST_SPANS: [Cell<Spans>; CACHED_ZONES] =
        const { [const { Cell::new(Spans::EMPTY) }; CACHED_ZONES] };
}

/// The spans the thread last read `zone` in, if any. Spans come from the tables, so
/// they hold only covered seconds: a hit needs neither the table nor the coverage test.
fn cached_spans(zone: Tz) -> Option<Spans> {
    LAST_SPANS
        .try_with(|spans| spans.get(zone as usize).map(Cell::get))
        .ok()
        .flatten()
}

/// The span of `zone` holding the UTC second `utc` (within the covered years), from
/// the thread's cache or its table (which then caches it with the span after it).
fn span_at(zone: Tz, table: &Table, utc: i64) -> Option<Span> {
    if let Some(span) = cached_spans(zone).and_then(|spans| spans.holding(utc)) {
        return Some(span);
    }
    let spans = Spans::from_table(table, table.span_of(utc))?;
    // A thread being torn down has no cache: the answer is the same without it.
    let _ = LAST_SPANS.try_with(|cache| {
        if let Some(slot) = cache.get(zone as usize) {
            slot.set(spans);
        }
    });
    Some(spans.first())
}

/// The offset of `zone` (local minus UTC, in seconds) at the UTC second `utc`.
// Inline, with the lookup out of line: most reads hit the cache, and a call that saved
// the lookup's registers cost more than the hit.
#[inline]
pub fn offset_at(zone: Tz, utc: i64) -> i64 {
    match cached_spans(zone).and_then(|spans| spans.holding(utc)) {
        Some(span) => span.offset,
        None => looked_up_offset_at(zone, utc),
    }
}

/// [`offset_at`] when the thread's cache misses.
#[inline(never)]
fn looked_up_offset_at(zone: Tz, utc: i64) -> i64 {
    match table(zone) {
        Some(table) if covered(utc) => {
            span_at(zone, table, utc).map_or_else(|| chrono_offset(zone, utc), |span| span.offset)
        }
        _ => chrono_offset(zone, utc),
    }
}

/// The UTC seconds at which a wall time (local seconds since 1970-01-01T00:00 on the
/// zone's clock) occurs: once, twice in an overlap (earlier first), or never in a gap.
// Inline, with the lookup out of line, as `offset_at`.
#[inline]
pub fn utc_of_wall(zone: Tz, wall: i64) -> LocalResult<i64> {
    // Either cached span may settle it (each is one of the zone's spans); the one the
    // wall time read at the first span's offset falls in is asked first.
    let settled = cached_spans(zone).and_then(|spans| {
        let (likely, other) = if wall.saturating_sub(spans.before) < spans.middle {
            (spans.first(), spans.second())
        } else {
            (spans.second(), spans.first())
        };
        unique_utc_of_wall(likely, wall).or_else(|| unique_utc_of_wall(other, wall))
    });
    match settled {
        Some(utc) => LocalResult::Single(utc),
        None => looked_up_utc_of_wall(zone, wall),
    }
}

/// The one UTC second at which the wall clock shows `wall`, when `span` settles it.
///
/// Every UTC second at which the wall clock shows `wall` is `wall - o` for an offset
/// `o` the zone has there, so lies within two days of `utc = wall - offset` (offsets
/// stay within a day of UTC). When those two days are within the covered years, every
/// such `o` is one of the table's, and the second lies within the zone's spread of
/// `utc`: when `span` holds all of those, its offset is the only one in play. (The
/// spread is an hour for most zones: a wall time days from a change of offset is
/// settled by the span, where a margin of two days sent it to the table.)
fn unique_utc_of_wall(span: Span, wall: i64) -> Option<i64> {
    // Saturating: `wall` is not yet known to be within the covered years.
    let utc = wall.saturating_sub(span.offset);
    (span.holds(utc.saturating_sub(span.spread))
        && span.holds(utc.saturating_add(span.spread))
        && covered(utc.saturating_sub(2 * MAX_OFFSET))
        && covered(utc.saturating_add(2 * MAX_OFFSET)))
    .then_some(utc)
}

/// [`utc_of_wall`] when the thread's cache does not settle it.
#[inline(never)]
fn looked_up_utc_of_wall(zone: Tz, wall: i64) -> LocalResult<i64> {
    let Some(table) = table(zone).filter(|_| {
        covered(wall.saturating_sub(MAX_OFFSET)) && covered(wall.saturating_add(MAX_OFFSET))
    }) else {
        return chrono_utc_of_wall(zone, wall);
    };
    // The span holding `wall` read as a UTC second is most likely the one in play (and
    // is kept for the next lookup).
    if let Some(utc) = span_at(zone, table, wall).and_then(|span| unique_utc_of_wall(span, wall)) {
        return LocalResult::Single(utc);
    }
    let first = table.span_of(wall - MAX_OFFSET);
    let last = table.span_of(wall + MAX_OFFSET);
    let mut found = (None, None);
    for index in first..=last {
        let (Some(&start), Some(&offset)) = (table.starts.get(index), table.offsets.get(index))
        else {
            continue;
        };
        let utc = wall - offset;
        if start <= utc && utc < table.end_of(index) {
            found = match found {
                (None, _) => (Some(utc), None),
                (Some(earlier), None) => (Some(earlier), Some(utc)),
                // Never in the tz database: ask chrono-tz rather than guess.
                (Some(_), Some(_)) => return chrono_utc_of_wall(zone, wall),
            };
        }
    }
    match found {
        (Some(single), None) => LocalResult::Single(single),
        (Some(earlier), Some(later)) => LocalResult::Ambiguous(earlier, later),
        _ => LocalResult::None,
    }
}

fn chrono_utc_of_wall(zone: Tz, wall: i64) -> LocalResult<i64> {
    let Some(naive) = DateTime::from_timestamp(wall, 0).map(|w| w.naive_utc()) else {
        return LocalResult::None;
    };
    let utc = |local: DateTime<Tz>| local.timestamp();
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(local) => LocalResult::Single(utc(local)),
        LocalResult::Ambiguous(first, second) => LocalResult::Ambiguous(utc(first), utc(second)),
        LocalResult::None => LocalResult::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Utc};
    use proptest::prelude::*;

    /// Zones with every kind of history: US zones with and without DST, half-hour and
    /// 45-minute offsets, negative DST (Dublin), a skipped day (Apia), a 30-minute DST
    /// (Lord Howe), a 2-hour DST (Troll), and the southern hemisphere.
    const ZONES: [Tz; 14] = [
        chrono_tz::America::New_York,
        chrono_tz::America::Phoenix,
        chrono_tz::America::Anchorage,
        chrono_tz::Pacific::Honolulu,
        chrono_tz::America::Puerto_Rico,
        chrono_tz::America::Indiana::Indianapolis,
        chrono_tz::America::St_Johns,
        chrono_tz::Asia::Kathmandu,
        chrono_tz::Europe::Dublin,
        chrono_tz::Pacific::Apia,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Antarctica::Troll,
        chrono_tz::America::Santiago,
        chrono_tz::Asia::Tehran,
    ];

    proptest! {
        #[test]
        fn offsets_are_chrono_tz_offsets(zone in 0..ZONES.len(), utc in -100_000_000i64..8_000_000_000) {
            let zone = ZONES[zone];
            prop_assert_eq!(offset_at(zone, utc), chrono_offset(zone, utc));
        }

        #[test]
        fn wall_times_resolve_as_chrono_tz_resolves_them(zone in 0..ZONES.len(), wall in -100_000_000i64..8_000_000_000) {
            let zone = ZONES[zone];
            prop_assert_eq!(utc_of_wall(zone, wall), chrono_utc_of_wall(zone, wall));
        }
    }

    #[test]
    fn every_transition_of_these_zones_is_found_to_the_second() {
        for zone in ZONES {
            let table = table(zone).unwrap();
            for (&start, &offset) in table.starts.iter().zip(&table.offsets).skip(1) {
                assert_eq!(chrono_offset(zone, start), offset, "{zone} at {start}");
                assert_ne!(chrono_offset(zone, start - 1), offset, "{zone} at {start}");
                for wall in [start - 1, start, start + 1].map(|utc| utc + offset) {
                    assert_eq!(
                        utc_of_wall(zone, wall),
                        chrono_utc_of_wall(zone, wall),
                        "{zone} wall {wall}"
                    );
                }
            }
        }
    }

    /// The thread's cached span settles a wall time only when no other offset can show
    /// it: every wall time near each transition, read with the span before and the span
    /// after it cached, resolves as chrono-tz resolves it.
    #[test]
    fn wall_times_near_a_transition_resolve_whichever_span_is_cached() {
        for zone in ZONES {
            let table = table(zone).unwrap();
            let spread = table.spread;
            for (index, &start) in table.starts.iter().enumerate().skip(1) {
                let offsets = [table.offsets[index - 1], table.offsets[index]];
                for offset in offsets {
                    for delta in [
                        -2 * MAX_OFFSET,
                        -spread - 1,
                        -spread,
                        -spread + 1,
                        -1,
                        0,
                        1,
                        spread - 1,
                        spread,
                        spread + 1,
                        2 * MAX_OFFSET,
                    ] {
                        let wall = start + offset + delta;
                        for cached in [start - 1, start] {
                            offset_at(zone, cached);
                            assert_eq!(
                                utc_of_wall(zone, wall),
                                chrono_utc_of_wall(zone, wall),
                                "{zone}: wall {wall}, the span of {cached} cached"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn both_cached_spans_answer_their_own_offsets_and_no_other() {
        for zone in ZONES {
            let table = table(zone).unwrap();
            for (index, &start) in table.starts.iter().enumerate().skip(1) {
                // Caches the span before `start` with the one from it.
                offset_at(zone, start - 1);
                let next = table.end_of(index);
                for utc in [start - 2, start, start + 1, next - 1, next, next + 1] {
                    if covered(utc) {
                        assert_eq!(
                            offset_at(zone, utc),
                            chrono_offset(zone, utc),
                            "{zone}: {utc}, the spans around {start} cached"
                        );
                    }
                }
            }
        }
    }

    /// The sampling step is a day: this checks, for every zone of the tz database,
    /// that sampling every hour finds no transition the table lacks. Slow in a debug
    /// build, so run with `cargo test --release -- --ignored`.
    #[test]
    #[ignore = "every zone sampled hourly over 230 years: run in release"]
    fn no_zone_has_a_transition_the_daily_samples_miss() {
        for zone in TZ_VARIANTS {
            let table = table(zone).unwrap();
            let mut utc = COVERED_FROM;
            while utc < COVERED_UNTIL {
                assert_eq!(
                    offset_at(zone, utc),
                    chrono_offset(zone, utc),
                    "{zone} at {utc}"
                );
                utc += 3_600;
            }
            assert!(!table.starts.is_empty());
        }
    }

    #[test]
    fn the_spring_gap_and_fall_overlap_of_new_york_2026() {
        let zone = chrono_tz::America::New_York;
        let wall = |h: u32, m: u32, d: u32, mo: u32| {
            NaiveDate::from_ymd_opt(2026, mo, d)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
                .and_utc()
                .timestamp()
        };
        let utc = |text: &str| text.parse::<DateTime<Utc>>().unwrap().timestamp();
        assert_eq!(utc_of_wall(zone, wall(2, 30, 8, 3)), LocalResult::None);
        assert_eq!(
            utc_of_wall(zone, wall(1, 30, 1, 11)),
            LocalResult::Ambiguous(utc("2026-11-01T05:30:00Z"), utc("2026-11-01T06:30:00Z"))
        );
        assert_eq!(
            utc_of_wall(zone, wall(12, 0, 1, 7)),
            LocalResult::Single(utc("2026-07-01T16:00:00Z"))
        );
    }
}

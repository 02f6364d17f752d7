//! Candidate time zones of a consumer, and the local-time arithmetic the rules need.
//!
//! Reg F comment 6(b)(1)(i)-2: with conflicting or ambiguous location information a
//! time is convenient only if it is convenient in every place the consumer might be.
//! So the candidates are the explicit zones when the account has them; otherwise
//! every zone of the address's state and of the area codes of the consumer's phones;
//! and with nothing known, every zone of the contiguous United States.
//!
//! The tables are data files under `data/` (sources named in `data/README.md`),
//! embedded in the binary and parsed once.

use std::sync::{Arc, LazyLock, OnceLock};

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, Utc};
use chrono_tz::{TZ_VARIANTS, Tz};
use smallvec::SmallVec;

use super::instants::NANOS_PER_SECOND;
use super::offsets;
use crate::domain::Consumer;

const AREA_CODES_CSV: &str = include_str!("../../data/nanp-area-codes.csv");
const STATE_ZONES_CSV: &str = include_str!("../../data/us-state-zones.csv");

/// The zones of the contiguous United States: the candidates when nothing is known.
pub const CONTIGUOUS_US: [Tz; 5] = [
    chrono_tz::America::New_York,
    chrono_tz::America::Chicago,
    chrono_tz::America::Denver,
    chrono_tz::America::Phoenix,
    chrono_tz::America::Los_Angeles,
];

/// Area code → zones, sorted by area code for binary search.
static AREA_CODES: LazyLock<Vec<(u16, Vec<Tz>)>> = LazyLock::new(|| {
    let mut table: Vec<(u16, Vec<Tz>)> = parse_table(AREA_CODES_CSV, 2)
        .into_iter()
        .filter_map(|(key, zones)| Some((key.parse().ok()?, zones)))
        .collect();
    table.sort_by_key(|(code, _)| *code);
    table
});

/// State code → zones, sorted by code for binary search.
static STATE_ZONES: LazyLock<Vec<(String, Vec<Tz>)>> = LazyLock::new(|| {
    let mut table = parse_table(STATE_ZONES_CSV, 1);
    table.sort_by(|a, b| a.0.cmp(&b.0));
    table
});

/// Parses `key,…,zone;zone` rows (header skipped); `zones_column` is the 0-based
/// column of the `;`-separated zone list. Rows that do not parse are skipped; a unit
/// test asserts there are none.
fn parse_table(csv: &str, zones_column: usize) -> Vec<(String, Vec<Tz>)> {
    csv.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| {
            let columns: Vec<&str> = line.split(',').collect();
            let key = columns.first()?.trim().to_string();
            let zones: Option<Vec<Tz>> = columns
                .get(zones_column)?
                .split(';')
                .map(|name| name.trim().parse().ok())
                .collect();
            Some((key, zones?))
        })
        .collect()
}

/// The zones of a NANP area code, if known.
pub fn zones_of_area_code(area_code: u16) -> Option<&'static [Tz]> {
    let table = &*AREA_CODES;
    let index = table
        .binary_search_by_key(&area_code, |(code, _)| *code)
        .ok()?;
    table.get(index).map(|(_, zones)| zones.as_slice())
}

/// The zones used within a US state or territory, if known.
pub fn zones_of_state(state: &str) -> Option<&'static [Tz]> {
    let table = &*STATE_ZONES;
    let find = |code: &str| {
        table
            .binary_search_by(|(key, _)| key.as_str().cmp(code))
            .ok()
            .and_then(|i| table.get(i))
    };
    let state = state.trim();
    let found = match find(state) {
        Some(found) => Some(found),
        None => find(&state.to_ascii_uppercase()),
    };
    found.map(|(_, zones)| zones.as_slice())
}

/// The area code of a NANP number (`+1 212 555 0100` → 212), read without allocating.
pub fn area_code(number: &str) -> Option<u16> {
    let mut digits = [0u16; 11];
    let mut count = 0;
    for digit in number.chars().filter_map(|c| c.to_digit(10)) {
        *digits.get_mut(count)? = u16::try_from(digit).ok()?;
        count += 1;
    }
    let national = match count {
        10 => digits.get(..3)?,
        11 if digits.first() == Some(&1) => digits.get(1..4)?,
        _ => return None,
    };
    Some(national.iter().fold(0, |code, digit| code * 10 + digit))
}

/// Every zone the consumer might be in, without duplicates, never empty.
pub fn candidate_zones(consumer: &Consumer) -> Vec<Tz> {
    candidate_zones_inline(consumer).to_vec()
}

/// [`candidate_zones`] without a heap allocation for the usual few zones.
pub fn candidate_zones_inline(consumer: &Consumer) -> SmallVec<[Tz; 8]> {
    fn add(zones: &mut SmallVec<[Tz; 8]>, list: &[Tz]) {
        for zone in list {
            if !zones.contains(zone) {
                zones.push(*zone);
            }
        }
    }
    let mut zones = SmallVec::new();
    if !consumer.time_zones.is_empty() {
        add(&mut zones, &consumer.time_zones);
        return zones;
    }
    if let Some(state) = consumer.state() {
        add(&mut zones, zones_of_state(state).unwrap_or(&CONTIGUOUS_US));
    }
    for phone in &consumer.phones {
        if let Some(list) = area_code(&phone.number).and_then(zones_of_area_code) {
            add(&mut zones, list);
        }
    }
    if zones.is_empty() {
        add(&mut zones, &CONTIGUOUS_US);
    }
    zones
}

/// [`candidate_zones`] as a decision carries them. One zone alone (most accounts) is
/// shared by every decision in that zone, made once per process: a decision then
/// allocates nothing for its zones (a one-shot decision spent ≈ 150 instructions on the
/// allocation and its release).
pub fn candidate_zones_shared(consumer: &Consumer) -> Arc<[Tz]> {
    match consumer.time_zones.as_slice() {
        [zone] => return one_zone(*zone),
        // Explicit zones without repeats (the usual two or three) are the candidates.
        zones @ [first, second] if first != second => return Arc::from(zones),
        zones @ [first, second, third] if first != second && first != third && second != third => {
            return Arc::from(zones);
        }
        _ => {}
    }
    match candidate_zones_inline(consumer).as_slice() {
        [zone] => one_zone(*zone),
        zones => Arc::from(zones),
    }
}

/// A set of zones shared between decisions.
type SharedZones = Arc<[Tz]>;

/// The zone sets of one zone, by the zone's place in [`TZ_VARIANTS`], each made on
/// first use.
static ONE_ZONE: LazyLock<Box<[OnceLock<SharedZones>]>> =
    LazyLock::new(|| TZ_VARIANTS.iter().map(|_| OnceLock::new()).collect());

fn one_zone(zone: Tz) -> Arc<[Tz]> {
    // `Tz` is a field-less enum declared in the order of `TZ_VARIANTS`.
    match ONE_ZONE.get(zone as usize) {
        Some(slot) => Arc::clone(slot.get_or_init(|| Arc::from([zone].as_slice()))),
        None => Arc::from([zone].as_slice()),
    }
}

/// The wall clock of one instant in one zone.
#[derive(Debug, Clone, Copy)]
pub struct LocalClock {
    /// The zone.
    pub zone: Tz,
    /// The local date as a day number ([`day_number`]): counting days needs no
    /// calendar arithmetic.
    pub day: i64,
    /// The local weekday, Monday = 0.
    pub weekday: u8,
    /// Seconds after local midnight.
    pub seconds: u32,
}

/// An instant with its wall clock in every candidate zone, computed once per
/// evaluation: every window, dated rule and calendar count of that evaluation asks.
#[derive(Debug, Clone)]
pub struct Moment {
    /// The instant in nanoseconds since the epoch (what the history's events are
    /// compared by and the search counts in), read once for every rule of the
    /// evaluation.
    pub nanos: i64,
    /// One clock per candidate zone, in the zones' order.
    pub clocks: Clocks,
}

/// How many clocks a [`Moment`] keeps without allocating: the search for the next
/// allowed instant reads a moment per step, and almost every account has one to three
/// candidate zones.
const INLINE_CLOCKS: usize = 4;

/// A moment's clocks: inline up to [`INLINE_CLOCKS`] zones, on the heap beyond.
#[derive(Debug, Clone)]
pub enum Clocks {
    /// The first `len` entries are the clocks.
    Inline {
        /// How many of `clocks` are read.
        len: usize,
        /// The clocks, then filler.
        clocks: [LocalClock; INLINE_CLOCKS],
    },
    /// More zones than fit inline.
    Heap(Vec<LocalClock>),
}

impl std::ops::Deref for Clocks {
    type Target = [LocalClock];

    fn deref(&self) -> &[LocalClock] {
        match self {
            Clocks::Inline { len, clocks } => clocks.get(..*len).unwrap_or(&[]),
            Clocks::Heap(clocks) => clocks,
        }
    }
}

impl Moment {
    /// A moment with no clocks yet, for [`Moment::read_nanos`] to fill in place.
    pub const UNREAD: Moment = Moment {
        nanos: 0,
        clocks: Clocks::Inline {
            len: 0,
            clocks: [LocalClock {
                zone: Tz::UTC,
                day: 0,
                weekday: 0,
                seconds: 0,
            }; INLINE_CLOCKS],
        },
    };

    /// Reads the wall clocks of `instant` in `zones`.
    pub fn new(instant: DateTime<Utc>, zones: &[Tz]) -> Moment {
        let mut moment = Moment::UNREAD;
        moment.read(instant, zones);
        moment
    }

    /// Reads the wall clocks of the instant `nanos` nanoseconds after the epoch (the
    /// search's steps, which count in nanoseconds).
    pub fn at_nanos(nanos: i64, zones: &[Tz]) -> Moment {
        let mut moment = Moment::UNREAD;
        moment.read_nanos(nanos, zones);
        moment
    }

    /// Makes this the moment of `instant` in `zones`, in place: a moment returned by
    /// value was copied, a tenth of its cost, and the search reads one per step.
    pub fn read(&mut self, instant: DateTime<Utc>, zones: &[Tz]) {
        // Once for every zone: a chrono instant's seconds cost a calendar conversion.
        let (utc, nanos) = super::instants::seconds_and_nanos_since_epoch(instant);
        self.read_second(utc, nanos, zones);
    }

    /// [`Moment::read`] of the instant `nanos` nanoseconds after the epoch.
    pub fn read_nanos(&mut self, nanos: i64, zones: &[Tz]) {
        self.read_second(nanos.div_euclid(NANOS_PER_SECOND), nanos, zones);
    }

    /// [`Moment::read`] of the UTC second `utc` and the nanosecond `nanos` within it.
    fn read_second(&mut self, utc: i64, nanos: i64, zones: &[Tz]) {
        let clock = |zone: &Tz| {
            let (day, seconds) = local_day_and_second_of(utc, *zone);
            LocalClock {
                zone: *zone,
                day,
                // Below 7.
                weekday: u8::try_from(weekday_of_day_number(day)).unwrap_or(0),
                seconds,
            }
        };
        self.nanos = nanos;
        match &mut self.clocks {
            Clocks::Inline { len, clocks } if zones.len() <= INLINE_CLOCKS => {
                for (slot, zone) in clocks.iter_mut().zip(zones) {
                    *slot = clock(zone);
                }
                *len = zones.len();
            }
            Clocks::Heap(clocks) if zones.len() > INLINE_CLOCKS => {
                clocks.clear();
                clocks.extend(zones.iter().map(clock));
            }
            other => *other = Clocks::Heap(zones.iter().map(clock).collect()),
        }
    }

    /// Whether a date range holds the local date in any zone (a restriction in force
    /// anywhere the consumer might be applies).
    // Inline, with the dated case out of line: most rules have no dates, and every
    // evaluation and search step asks of each rule.
    #[inline]
    pub fn in_force(&self, range: &crate::policy::model::DateRange) -> bool {
        (range.from.is_none() && range.until.is_none()) || self.in_force_dated(range)
    }

    /// [`Moment::in_force`] of a range with a date.
    #[inline(never)]
    fn in_force_dated(&self, range: &crate::policy::model::DateRange) -> bool {
        // By day numbers, which order as the dates do: no calendar conversion per clock.
        let from = range.from.map(day_number);
        let until = range.until.map(day_number);
        self.clocks.iter().any(|clock| {
            from.is_none_or(|from| clock.day >= from)
                && until.is_none_or(|until| clock.day <= until)
        })
    }
}

impl LocalClock {
    /// The local date (a calendar conversion: most rules need only [`LocalClock::day`]).
    pub fn date(&self) -> NaiveDate {
        date_of_day_number(self.day).unwrap_or(NaiveDate::MIN)
    }
}

/// The local calendar date of an instant.
pub fn local_date(instant: DateTime<Utc>, zone: Tz) -> NaiveDate {
    date_of_day_number(local_day_and_second(instant, zone).0).unwrap_or(NaiveDate::MIN)
}

/// Days from 0001-01-01 (day 1) to 1970-01-01, the epoch of the offset tables.
const EPOCH_DAY_NUMBER: i64 = 719_163;

/// The local day number and the seconds after local midnight of an instant.
fn local_day_and_second(instant: DateTime<Utc>, zone: Tz) -> (i64, u32) {
    local_day_and_second_of(super::instants::seconds_since_epoch(instant), zone)
}

/// [`local_day_and_second`] of the UTC second `utc`.
fn local_day_and_second_of(utc: i64, zone: Tz) -> (i64, u32) {
    let local = utc.saturating_add(offsets::offset_at(zone, utc));
    (
        local.div_euclid(86_400) + EPOCH_DAY_NUMBER,
        u32::try_from(local.rem_euclid(86_400)).unwrap_or(0),
    )
}

/// The earliest instant at or after `not_before` whose local wall time in `zone` is
/// `minutes` after midnight of `date` (1440 means the next midnight). When that wall
/// time falls in a DST gap, the first instant after the gap (the earliest instant
/// whose wall time is later). When it occurs twice (the fall-back overlap), the
/// first occurrence not before `not_before`.
pub fn instant_of_local(
    zone: Tz,
    date: NaiveDate,
    minutes: u16,
    not_before: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    local_instant(zone, day_number(date), minutes, not_before).map(|(instant, _)| instant)
}

/// How [`local_instant`] found its instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalFit {
    /// The wall time occurs exactly once.
    Single,
    /// The wall time occurs twice (an overlap) or not at all (a gap was stepped over).
    Other,
}

/// [`instant_of_local`] on the local day numbered `day` ([`day_number`]), also saying
/// whether the wall time occurs exactly once.
pub fn local_instant(
    zone: Tz,
    day: i64,
    minutes: u16,
    not_before: DateTime<Utc>,
) -> Option<(DateTime<Utc>, LocalFit)> {
    // The first whole second not before `not_before`, exactly, whatever its year.
    let not_before = not_before
        .timestamp()
        .checked_add(i64::from(not_before.timestamp_subsec_nanos() > 0))?;
    let (seconds, fit) = local_second(zone, day, minutes, not_before)?;
    Some((DateTime::from_timestamp(seconds, 0)?, fit))
}

/// [`local_instant`] in nanoseconds since the epoch (what the engine's checks and its
/// search count in: no calendar conversion per step).
pub fn local_instant_nanos(
    zone: Tz,
    day: i64,
    minutes: u16,
    not_before: i64,
) -> Option<(i64, LocalFit)> {
    let whole = not_before.div_euclid(NANOS_PER_SECOND);
    let not_before = whole + i64::from(not_before.rem_euclid(NANOS_PER_SECOND) > 0);
    let (seconds, fit) = local_second(zone, day, minutes, not_before)?;
    Some((seconds.saturating_mul(NANOS_PER_SECOND), fit))
}

/// [`local_instant`] in whole seconds since the epoch, not before the second
/// `not_before`.
fn local_second(zone: Tz, day: i64, minutes: u16, not_before: i64) -> Option<(i64, LocalFit)> {
    let (day, minutes) = if minutes >= 24 * 60 {
        (day.checked_add(1)?, 0)
    } else {
        (day, minutes)
    };
    let mut wall = day
        .checked_sub(EPOCH_DAY_NUMBER)?
        .checked_mul(86_400)?
        .checked_add(i64::from(minutes) * 60)?;
    let mut fit = LocalFit::Single;
    // Gaps are at most a day long (Samoa skipped 2011-12-30); step minute by minute.
    for _ in 0..=(24 * 60) {
        match offsets::utc_of_wall(zone, wall) {
            LocalResult::Single(utc) => return (utc >= not_before).then_some((utc, fit)),
            LocalResult::Ambiguous(first, second) => {
                let utc = if first >= not_before {
                    Some(first)
                } else {
                    (second >= not_before).then_some(second)
                };
                return utc.map(|utc| (utc, LocalFit::Other));
            }
            LocalResult::None => {
                fit = LocalFit::Other;
                wall += 60;
            }
        }
    }
    None
}

/// The first instant of a local date (midnight, or the end of a DST gap at midnight).
pub fn start_of_local_date(zone: Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    start_of_local_day(zone, day_number(date))
}

/// The first instant at which the local date `last` is over in every one of `zones`
/// (the latest of the next day's starts): when a rule in force through `last` stops
/// binding, since a rule binds while its dates hold the local date in any zone.
pub fn end_of_local_date_everywhere(zones: &[Tz], last: NaiveDate) -> Option<DateTime<Utc>> {
    let next = last.checked_add_days(chrono::Days::new(1))?;
    zones
        .iter()
        .filter_map(|zone| start_of_local_date(*zone, next))
        .max()
}

/// [`start_of_local_date`] of the day numbered `day` ([`day_number`]).
pub fn start_of_local_day(zone: Tz, day: i64) -> Option<DateTime<Utc>> {
    local_instant(zone, day, 0, DateTime::<Utc>::MIN_UTC).map(|(instant, _)| instant)
}

/// [`start_of_local_day`] in nanoseconds since the epoch.
pub fn start_of_local_day_nanos(zone: Tz, day: i64) -> Option<i64> {
    local_instant_nanos(zone, day, 0, i64::MIN).map(|(instant, _)| instant)
}

/// [`end_of_local_date_everywhere`] in nanoseconds since the epoch.
pub fn end_of_local_date_everywhere_nanos(zones: &[Tz], last: NaiveDate) -> Option<i64> {
    let next = day_number(last).checked_add(1)?;
    zones
        .iter()
        .filter_map(|zone| start_of_local_day_nanos(*zone, next))
        .max()
}

/// The local day number ([`day_number`]) of the instant `nanos` nanoseconds after the
/// epoch.
pub fn local_day_of_nanos(nanos: i64, zone: Tz) -> i64 {
    local_day_and_second_of(nanos.div_euclid(NANOS_PER_SECOND), zone).0
}

/// Days since the Common Era of a date, as a slot for calendar-day counting.
pub fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

/// The weekday of a day number, Monday = 0 (day 1, 0001-01-01, was a Monday).
pub fn weekday_of_day_number(day: i64) -> usize {
    usize::try_from(day.wrapping_sub(1).rem_euclid(7)).unwrap_or(0)
}

/// The date of a day number.
pub fn date_of_day_number(day: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(day).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Address, Phone, PhoneKind};
    use chrono_tz::America;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn every_row_of_the_data_tables_parses() {
        let area_rows = AREA_CODES_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count();
        let state_rows = STATE_ZONES_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count();
        assert_eq!(
            AREA_CODES.len(),
            area_rows,
            "an area code row did not parse or is duplicated"
        );
        assert_eq!(
            STATE_ZONES.len(),
            state_rows,
            "a state row did not parse or is duplicated"
        );
        assert!(
            area_rows > 300,
            "the area code table looks truncated: {area_rows} rows"
        );
        for state in crate::policy::US_STATES {
            assert!(zones_of_state(state).is_some(), "no zones for {state}");
        }
    }

    #[test]
    fn well_known_area_codes_map_to_their_zones() {
        assert_eq!(zones_of_area_code(212), Some(&[America::New_York][..]));
        assert_eq!(zones_of_area_code(213), Some(&[America::Los_Angeles][..]));
        assert!(zones_of_area_code(312).unwrap().contains(&America::Chicago));
        assert!(zones_of_area_code(850).unwrap().contains(&America::Chicago));
        assert!(
            zones_of_area_code(850)
                .unwrap()
                .contains(&America::New_York)
        );
    }

    #[test]
    fn area_codes_are_read_from_any_nanp_spelling() {
        assert_eq!(area_code("+1 (212) 555-0100"), Some(212));
        assert_eq!(area_code("2125550100"), Some(212));
        assert_eq!(area_code("12125550100"), Some(212));
        assert_eq!(area_code("+44 20 7946 0958"), None);
        assert_eq!(area_code("555-0100"), None);
    }

    #[test]
    fn explicit_zones_are_the_only_candidates() {
        let consumer = Consumer {
            time_zones: vec![America::Chicago],
            phones: vec![Phone {
                number: "+12125550100".into(),
                kind: PhoneKind::Mobile,
            }],
            ..Consumer::default()
        };
        assert_eq!(candidate_zones(&consumer), vec![America::Chicago]);
    }

    #[test]
    fn an_eastern_number_and_a_pacific_address_give_both_zones() {
        let consumer = Consumer {
            address: Some(Address {
                state: Some("CA".into()),
                ..Address::default()
            }),
            phones: vec![Phone {
                number: "+1 (212) 555-0100".into(),
                kind: PhoneKind::Mobile,
            }],
            ..Consumer::default()
        };
        let zones = candidate_zones(&consumer);
        assert!(
            zones.contains(&America::Los_Angeles) && zones.contains(&America::New_York),
            "{zones:?}"
        );
    }

    #[test]
    fn shared_candidates_are_the_candidates_and_one_zone_is_made_once() {
        let one = |zone| Consumer {
            time_zones: vec![zone],
            ..Consumer::default()
        };
        let hawaii = Consumer {
            address: Some(Address {
                state: Some("HI".into()),
                ..Address::default()
            }),
            ..Consumer::default()
        };
        let duplicated = Consumer {
            time_zones: vec![America::Denver, America::Denver, America::Boise],
            ..Consumer::default()
        };
        let three = Consumer {
            time_zones: vec![America::Denver, America::Boise, America::Chicago],
            ..Consumer::default()
        };
        for consumer in [
            one(America::Chicago),
            one(America::Puerto_Rico),
            hawaii,
            duplicated,
            three,
            Consumer::default(),
        ] {
            assert_eq!(
                candidate_zones_shared(&consumer).to_vec(),
                candidate_zones(&consumer),
                "{consumer:?}"
            );
        }
        let (first, second) = (
            candidate_zones_shared(&one(America::Chicago)),
            candidate_zones_shared(&one(America::Chicago)),
        );
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!Arc::ptr_eq(
            &first,
            &candidate_zones_shared(&one(America::Denver))
        ));
    }

    #[test]
    fn nothing_known_gives_the_contiguous_us() {
        assert_eq!(
            candidate_zones(&Consumer::default()),
            CONTIGUOUS_US.to_vec()
        );
    }

    #[test]
    fn a_wall_time_in_the_spring_gap_resolves_to_the_end_of_the_gap() {
        // 2026-03-08 02:30 does not exist in New York; clocks jump from 02:00 to 03:00 EDT.
        let date = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        let instant =
            instant_of_local(America::New_York, date, 150, DateTime::<Utc>::MIN_UTC).unwrap();
        assert_eq!(instant, utc("2026-03-08T07:00:00Z"));
    }

    #[test]
    fn a_repeated_wall_time_in_the_fall_overlap_has_two_occurrences() {
        // 2026-11-01 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST).
        let date = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let first =
            instant_of_local(America::New_York, date, 90, DateTime::<Utc>::MIN_UTC).unwrap();
        assert_eq!(first, utc("2026-11-01T05:30:00Z"));
        let second =
            instant_of_local(America::New_York, date, 90, utc("2026-11-01T05:31:00Z")).unwrap();
        assert_eq!(second, utc("2026-11-01T06:30:00Z"));
    }
}

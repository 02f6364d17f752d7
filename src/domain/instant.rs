//! The range of instants and dates dunner accepts: those written with a year from 1970 to
//! 2199 (`2026-04-07T14:00:00Z`, `2199-12-31T23:59:59-05:00`, `1970-01-01`).
//!
//! Every instant or date that enters — a request, an event, an import line, a notice's
//! `not_before`, a query string, `dunner decide` — is checked here when it is parsed, so
//! that the engine's local-time arithmetic (a 366-day horizon, zone offsets, calendar
//! days) can never leave what chrono and both stores represent: chrono panics on local
//! times near its own limits (±262,143 years), PostgreSQL refuses dates before 4713 BC
//! and the SQLite text form cannot be read back after 9999. The range is stated on the
//! year as written, so that the OpenAPI document can say it exactly (a pattern) and a
//! client's validator agrees with the daemon on every string; as UTC instants it spans
//! 1969-12-31T00:01Z to 2200-01-01T23:59Z (offsets up to ±23:59).

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserializer, Serialize, Serializer};

/// The earliest UTC instant an accepted text can name, as seconds since the Unix epoch
/// (1969-12-31T00:00:00Z, below `1970-01-01T00:00:00+23:59`).
pub const EARLIEST_SECONDS: i64 = -86_400;

/// The first UTC instant past what an accepted text can name, as seconds since the Unix
/// epoch (2200-01-02T00:00:00Z, above `2199-12-31T23:59:59-23:59`).
pub const END_SECONDS: i64 = 7_258_204_800;

/// The accepted range, as people read it (for messages and documentation).
pub const RANGE_TEXT: &str = "written with a year from 1970 to 2199";

/// The first and last accepted years.
const YEARS: std::ops::RangeInclusive<i32> = 1970..=2199;

/// The schema of an accepted instant in the OpenAPI document: RFC 3339, year 1970–2199.
#[derive(utoipa::ToSchema)]
#[schema(
    as = Instant,
        format = DateTime,
        pattern = "^(19[7-9][0-9]|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
        example = "2026-04-07T14:00:00Z"
)]
pub struct InstantSchema(pub String);

/// The schema of an accepted date in the OpenAPI document: `YYYY-MM-DD`, year 1970–2199.
#[derive(utoipa::ToSchema)]
#[schema(
    as = Date,
        format = Date,
        pattern = "^(19[7-9][0-9]|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        example = "2026-04-07"
)]
pub struct DateSchema(pub String);

/// Whether an instant is inside the range accepted texts can name.
pub fn instant_in_range(at: DateTime<Utc>) -> bool {
    (EARLIEST_SECONDS..END_SECONDS).contains(&at.timestamp())
}

/// Whether a date is inside the accepted range (1970-01-01 to 2199-12-31).
pub fn date_in_range(date: NaiveDate) -> bool {
    use chrono::Datelike;
    YEARS.contains(&date.year())
}

/// An instant or date outside the accepted range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct OutOfRange(String);

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is out of range: dunner accepts instants and dates {RANGE_TEXT}",
            self.0
        )
    }
}

/// Checks the year an instant or date is written with: four digits, 1970 to 2199, then
/// `-` (`+10000-01-01…` and `-0001-…` are refused here, before any parsing).
fn check_written_year(text: &str) -> Result<(), OutOfRange> {
    let year = text
        .get(..4)
        .filter(|year| year.bytes().all(|b| b.is_ascii_digit()))
        .filter(|_| text.as_bytes().get(4) == Some(&b'-'))
        .and_then(|year| year.parse::<i32>().ok());
    match year {
        Some(year) if YEARS.contains(&year) => Ok(()),
        _ => Err(OutOfRange(text.chars().take(40).collect())),
    }
}

/// Checks an instant against the range.
pub fn check_instant(at: DateTime<Utc>) -> Result<DateTime<Utc>, OutOfRange> {
    if instant_in_range(at) {
        Ok(at)
    } else {
        Err(OutOfRange(
            at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ))
    }
}

/// Checks a date against the range.
pub fn check_date(date: NaiveDate) -> Result<NaiveDate, OutOfRange> {
    if date_in_range(date) {
        Ok(date)
    } else {
        Err(OutOfRange(date.to_string()))
    }
}

/// Parses an RFC 3339 instant inside the range (query strings, command-line flags).
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    check_written_year(text).map_err(|error| error.to_string())?;
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|error| format!("`{text}` is not an RFC 3339 instant: {error}"))?
        .with_timezone(&Utc);
    check_instant(at).map_err(|error| error.to_string())
}

/// Parses an instant from JSON or a query string: the year as written, then the text.
fn instant_from_text(text: &str) -> Result<DateTime<Utc>, String> {
    check_written_year(text).map_err(|error| error.to_string())?;
    // The shape dunner writes is read without chrono's general parser, which cost a
    // tenth of reading a stored event.
    if let Some(at) = plain_utc(text) {
        return check_instant(at).map_err(|error| error.to_string());
    }
    let at = text
        .parse::<DateTime<Utc>>()
        .map_err(|error| format!("`{text}` is not an RFC 3339 instant: {error}"))?;
    check_instant(at).map_err(|error| error.to_string())
}

/// An instant in a shape dunner writes, `2026-04-07T14:00:00Z` (bodies) or
/// `2026-04-07T14:00:00.000000Z` (the store's columns), read digit by digit; `None` for
/// any other shape, and for a date or time that does not exist (a leap second), which
/// the general parser then reads.
pub fn plain_utc(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    let end: &[(usize, u8)] = match bytes.len() {
        20 => &[(19, b'Z')],
        27 => &[(19, b'.'), (26, b'Z')],
        _ => return None,
    };
    let shape = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !shape
        .iter()
        .chain(end)
        .all(|(at, byte)| bytes.get(*at) == Some(byte))
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        bytes.get(from..to)?.iter().try_fold(0_u32, |value, byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + u32::from(byte - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(0, 4)?).ok()?,
        number(5, 7)?,
        number(8, 10)?,
    )?;
    let micros = if bytes.len() == 27 {
        number(20, 26)?
    } else {
        0
    };
    let time =
        NaiveTime::from_hms_micro_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?, micros)?;
    Some(date.and_time(time).and_utc())
}

/// Parses a date from JSON or a query string: the year as written, then the text.
fn date_from_text(text: &str) -> Result<NaiveDate, String> {
    check_written_year(text).map_err(|error| error.to_string())?;
    let date = text
        .parse::<NaiveDate>()
        .map_err(|error| format!("`{text}` is not a date (YYYY-MM-DD): {error}"))?;
    check_date(date).map_err(|error| error.to_string())
}

/// `deserialize_with` for an instant field.
pub fn deserialize_instant<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<DateTime<Utc>, D::Error> {
    super::with_text(deserializer, instant_from_text)
}

/// `deserialize_with` for an optional instant field (use with `default`).
pub fn deserialize_optional_instant<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    super::with_optional_text(deserializer, instant_from_text)
}

/// `serialize_with` for an instant field: the text chrono's own `Serialize` writes
/// (RFC 3339, `Z`, fractional digits in threes as needed), formatted into one `String`
/// and handed over whole. Chrono's impl goes through `collect_str`, which `serde_json`
/// escapes a fragment at a time — a call per character, 4,500 of the ledger writer's
/// instructions an attempt for the question's, the event's and the decision's instants
/// (issue 15).
pub fn serialize_instant<S: Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// `serialize_with` for an optional instant field (see [`serialize_instant`]).
pub fn serialize_optional_instant<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    /// An instant serialized by [`serialize_instant`].
    struct Written<'a>(&'a DateTime<Utc>);
    impl Serialize for Written<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serialize_instant(self.0, serializer)
        }
    }
    match at {
        Some(at) => serializer.serialize_some(&Written(at)),
        None => serializer.serialize_none(),
    }
}

/// `deserialize_with` for a date field.
pub fn deserialize_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
    super::with_text(deserializer, date_from_text)
}

/// `deserialize_with` for an optional date field (use with `default`).
pub fn deserialize_optional_date<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<NaiveDate>, D::Error> {
    super::with_optional_text(deserializer, date_from_text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Serialize)]
    struct Written {
        #[serde(serialize_with = "serialize_instant")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "serialize_optional_instant")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Serialize)]
    struct AsChronoWrites {
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
    }

    proptest! {
        /// Whole seconds, milliseconds, microseconds and nanoseconds: the same text.
        #[test]
        fn an_instant_is_written_as_chrono_writes_it(
            seconds in EARLIEST_SECONDS..END_SECONDS,
            nanos in prop_oneof![Just(0u32), (0u32..1000).prop_map(|n| n * 1_000_000), (0u32..1_000_000).prop_map(|n| n * 1000), 0u32..1_000_000_000],
            some in any::<bool>(),
        ) {
            let at = DateTime::from_timestamp(seconds, nanos).unwrap();
            let maybe = some.then_some(at);
            prop_assert_eq!(
                serde_json::to_string(&Written { at, maybe }).unwrap(),
                serde_json::to_string(&AsChronoWrites { at, maybe }).unwrap()
            );
        }
    }

    #[test]
    fn the_plain_shape_reads_as_chrono_reads_it() {
        for text in [
            "2026-04-07T14:00:00Z",
            "2024-02-29T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "2199-12-31T23:59:59Z",
            "2026-04-07T14:00:00.000000Z",
            "2026-12-31T23:59:59.999999Z",
        ] {
            let chrono: DateTime<Utc> = text.parse().unwrap();
            assert_eq!(plain_utc(text), Some(chrono), "{text}");
        }
        for other in [
            "2026-02-30T00:00:00Z",
            "2016-12-31T23:59:60Z",
            "2026-04-07T14:00:00.5Z",
            "2026-04-07T14:00:00.000000+00:00",
            "2026-04-07T14:00:00+00:00",
            "2026-04-07t14:00:00Z",
            "2026-04-07T1x:00:00Z",
        ] {
            assert_eq!(plain_utc(other), None, "{other}");
        }
    }

    #[test]
    fn the_range_is_the_written_year() {
        assert!(parse_instant("1970-01-01T00:00:00+23:59").is_ok());
        assert!(parse_instant("2199-12-31T23:59:59-23:59").is_ok());
        assert!(parse_instant("1969-12-31T23:59:59Z").is_err());
        assert!(parse_instant("2200-01-01T00:00:00Z").is_err());
        let first = DateTime::<Utc>::from_timestamp(EARLIEST_SECONDS, 0).unwrap();
        assert_eq!(first.to_rfc3339(), "1969-12-31T00:00:00+00:00");
        let end = DateTime::<Utc>::from_timestamp(END_SECONDS, 0).unwrap();
        assert_eq!(end.to_rfc3339(), "2200-01-02T00:00:00+00:00");
    }

    #[test]
    fn out_of_range_instants_and_dates_are_named() {
        let error = parse_instant("2200-01-01T00:00:00Z").unwrap_err();
        assert!(error.contains("out of range"), "{error}");
        assert!(parse_instant("+10000-01-01T00:00:00Z").is_err());
        assert!(parse_instant("-262143-01-01T00:00:00Z").is_err());
        #[derive(Debug, serde::Deserialize)]
        struct At {
            #[serde(deserialize_with = "deserialize_instant")]
            #[expect(dead_code, reason = "only parsed")]
            at: DateTime<Utc>,
        }
        let error = serde_json::from_str::<At>(r#"{"at": "+10000-01-01T00:00:00Z"}"#).unwrap_err();
        assert!(error.to_string().contains("out of range"), "{error}");
        let date = NaiveDate::from_ymd_opt(1969, 12, 31).unwrap();
        assert_eq!(
            check_date(date).unwrap_err().to_string(),
            "`1969-12-31` is out of range: dunner accepts instants and dates written with a year from 1970 to 2199"
        );
    }
}

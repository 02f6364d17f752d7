//! The range of instants and dates dunner accepts: 1970-01-01T00:00:00Z up to (not
//! including) 2200-01-01T00:00:00Z.
//!
//! Every instant or date that enters — a request, an event, an import line, a notice's
//! `not_before`, a query string, `dunner decide` — is checked against this range when it
//! is parsed, so that the engine's local-time arithmetic (a 366-day horizon, zone
//! offsets, calendar days) can never leave what chrono and both stores represent:
//! chrono panics on local times near its own limits (±262,143 years), PostgreSQL refuses
//! dates before 4713 BC and the SQLite text form cannot be read back after 9999. The
//! range is wide enough for any debt in collection and narrow enough that every instant
//! the engine derives from an accepted one (plus a horizon of a year) stays valid.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

/// The first accepted instant, as seconds since the Unix epoch (1970-01-01T00:00:00Z).
pub const EARLIEST_SECONDS: i64 = 0;

/// The first instant past the range, as seconds since the Unix epoch
/// (2200-01-01T00:00:00Z).
pub const END_SECONDS: i64 = 7_258_118_400;

/// The accepted range, as people read it (for messages and documentation).
pub const RANGE_TEXT: &str = "from 1970-01-01T00:00:00Z up to 2199-12-31T23:59:59Z";

/// Whether an instant is inside the accepted range.
pub fn instant_in_range(at: DateTime<Utc>) -> bool {
    (EARLIEST_SECONDS..END_SECONDS).contains(&at.timestamp())
}

/// Whether a date is inside the accepted range (1970-01-01 to 2199-12-31).
pub fn date_in_range(date: NaiveDate) -> bool {
    use chrono::Datelike;
    (1970..2200).contains(&date.year())
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
    let at = DateTime::parse_from_rfc3339(text.trim())
        .map_err(|error| format!("`{text}` is not an RFC 3339 instant: {error}"))?
        .with_timezone(&Utc);
    check_instant(at).map_err(|error| error.to_string())
}

/// `deserialize_with` for an instant field.
pub fn deserialize_instant<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<DateTime<Utc>, D::Error> {
    let at = DateTime::<Utc>::deserialize(deserializer)?;
    check_instant(at).map_err(serde::de::Error::custom)
}

/// `deserialize_with` for an optional instant field (use with `default`).
pub fn deserialize_optional_instant<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<DateTime<Utc>>::deserialize(deserializer)?
        .map(check_instant)
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// `deserialize_with` for a date field.
pub fn deserialize_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
    let date = NaiveDate::deserialize(deserializer)?;
    check_date(date).map_err(serde::de::Error::custom)
}

/// `deserialize_with` for an optional date field (use with `default`).
pub fn deserialize_optional_date<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<NaiveDate>, D::Error> {
    Option::<NaiveDate>::deserialize(deserializer)?
        .map(check_date)
        .transpose()
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_half_open() {
        let first = DateTime::<Utc>::from_timestamp(EARLIEST_SECONDS, 0).unwrap();
        let end = DateTime::<Utc>::from_timestamp(END_SECONDS, 0).unwrap();
        assert_eq!(first.to_rfc3339(), "1970-01-01T00:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2200-01-01T00:00:00+00:00");
        assert!(instant_in_range(first));
        assert!(!instant_in_range(end));
        assert!(instant_in_range(end - chrono::Duration::nanoseconds(1)));
        assert!(!instant_in_range(first - chrono::Duration::nanoseconds(1)));
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
        assert!(parse_instant("2026-04-07T12:00:00Z").is_ok());
        let date = NaiveDate::from_ymd_opt(1969, 12, 31).unwrap();
        assert_eq!(
            check_date(date).unwrap_err().to_string(),
            "`1969-12-31` is out of range: dunner accepts instants and dates from 1970-01-01T00:00:00Z up to 2199-12-31T23:59:59Z"
        );
    }
}

//! Reading a JSON string that is only checked or converted, never kept as it is (an
//! instant, a date, an amount, a currency code, a zone name): the text is looked at where
//! the parser holds it, instead of being copied into a `String` first. Errors are
//! `String`'s own (`invalid type: integer `5`, expected a string`). And text compared
//! as given, without its surrounding whitespace ([`trimmed`]).

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{Error, Unexpected, Visitor};

/// Reads a string and hands it to `then`.
pub(crate) fn with_text<'de, D, T, F>(deserializer: D, then: F) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(&str) -> Result<T, String>,
{
    deserializer.deserialize_str(Text(then, PhantomData))
}

/// Reads `null` (or nothing) as `None`, and a string as `with_text` does.
pub(crate) fn with_optional_text<'de, D, T, F>(
    deserializer: D,
    then: F,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(&str) -> Result<T, String>,
{
    deserializer.deserialize_option(OptionalText(then, PhantomData))
}

struct Text<F, T>(F, PhantomData<fn() -> T>);

impl<'de, F, T> Visitor<'de> for Text<F, T>
where
    F: FnOnce(&str) -> Result<T, String>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<T, E> {
        (self.0)(text).map_err(E::custom)
    }

    fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<T, E> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.visit_str(text),
            Err(_) => Err(E::invalid_value(Unexpected::Bytes(bytes), &self)),
        }
    }
}

struct OptionalText<F, T>(F, PhantomData<fn() -> T>);

impl<'de, F, T> Visitor<'de> for OptionalText<F, T>
where
    F: FnOnce(&str) -> Result<T, String>,
{
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("option")
    }

    fn visit_none<E: Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        with_text(deserializer, self.0).map(Some)
    }
}

/// Text without surrounding whitespace: `str::trim`, which decodes the characters at
/// both ends, skipped when they are printable ASCII (every stored number, address and
/// state code the engine compares, several times a decision).
pub fn trimmed(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn length<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
        with_text(deserializer, |text| Ok(text.len()))
    }

    fn optional_length<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<usize>, D::Error> {
        with_optional_text(deserializer, |text| {
            if text == "bad" {
                Err(format!("`{text}` is bad"))
            } else {
                Ok(text.len())
            }
        })
    }

    #[derive(Debug, serde::Deserialize)]
    struct Lengths {
        #[serde(deserialize_with = "length")]
        one: usize,
        #[serde(default, deserialize_with = "optional_length")]
        two: Option<usize>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Owned {
        #[expect(dead_code, reason = "only parsed")]
        one: String,
        #[expect(dead_code, reason = "only parsed")]
        two: Option<String>,
    }

    /// What a `String` accepts and refuses, with the same messages.
    #[test]
    fn text_is_read_as_a_string_is() {
        let read = |json: &str| serde_json::from_str::<Lengths>(json).map(|l| (l.one, l.two));
        assert_eq!(read(r#"{"one":"abc"}"#).unwrap(), (3, None));
        assert_eq!(read(r#"{"one":"a\"c","two":null}"#).unwrap(), (3, None));
        assert_eq!(read(r#"{"one":"","two":"é"}"#).unwrap(), (0, Some(2)));
        assert!(
            read(r#"{"one":"x","two":"bad"}"#)
                .unwrap_err()
                .to_string()
                .contains("`bad` is bad")
        );
        for json in [
            r#"{"one":5}"#,
            r#"{"one":null}"#,
            r#"{"one":["a"]}"#,
            r#"{"one":"a","two":5}"#,
            r#"{"one":"a","two":{"x":1}}"#,
            r#"{"one":"a","two":true}"#,
        ] {
            let ours = read(json).unwrap_err().to_string();
            let strings = serde_json::from_str::<Owned>(json).unwrap_err().to_string();
            assert_eq!(ours, strings, "{json}");
        }
    }

    proptest! {
        #[test]
        fn text_is_trimmed_as_str_trim_trims_it(point in "\\PC{0,12}|[ \\t\\u{a0}\\u{3000}]?[+0-9a-z@. ]{0,10}[ \\t\\u{a0}\\u{2028}]?") {
            prop_assert_eq!(trimmed(&point), point.trim());
        }
    }

    #[test]
    fn whitespace_at_either_end_is_trimmed_whatever_its_kind() {
        assert_eq!(trimmed(" +1 555 0100\u{a0}"), "+1 555 0100");
        assert_eq!(trimmed("\u{3000}a@b.example"), "a@b.example");
        assert_eq!(trimmed("a"), "a");
        assert_eq!(trimmed(" "), "");
        assert_eq!(trimmed(""), "");
    }
}

//! Money: an exact decimal amount and its ISO 4217 currency. Never a float.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An amount in one currency. JSON: `{"amount": "1234.56", "currency": "USD"}`: the
/// amount is a decimal string (up to 15 digits before the point and 12 after), never a
/// JSON number, which many clients hold as a binary float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[derive(utoipa::ToSchema)]
pub struct Money {
    /// The amount, exact.
    #[schema(value_type = String, example = "1234.56", pattern = "^-?[0-9]{1,15}(\\.[0-9]{1,12})?$")]
    #[serde(deserialize_with = "deserialize_amount")]
    pub amount: Decimal,
    /// The ISO 4217 code.
    #[schema(value_type = String, pattern = "^[A-Z]{3}$", example = "USD")]
    pub currency: Currency,
}
super::object_only!(Money);

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount.round_dp(2), self.currency)
    }
}

/// An ISO 4217 currency code: three upper-case letters (`USD`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses a three-letter upper-case code.
    pub fn parse(code: &str) -> Option<Currency> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_uppercase)
            .then_some(Currency(bytes))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters get in (see `parse`).
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An amount as a decimal string: an optional `-`, 1 to 15 digits, and optionally a
/// point and 1 to 12 digits (always within `Decimal`'s 28 significant digits).
fn deserialize_amount<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    super::with_text(deserializer, amount_from_text)
}

/// An amount from its text (see [`deserialize_amount`]).
fn amount_from_text(text: &str) -> Result<Decimal, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let well_formed = (1..=15).contains(&whole.len())
        && all_digits(whole)
        && (fraction.is_empty() || ((1..=12).contains(&fraction.len()) && all_digits(fraction)))
        && !(digits.ends_with('.'));
    if !well_formed {
        return Err(format!(
            "`{text}` is not an amount: write a decimal string like \"1234.56\" (up to 15 digits, a point, up to 12 digits)"
        ));
    }
    text.parse::<Decimal>()
        .map_err(|error| format!("`{text}` is not an amount: {error}"))
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::with_text(deserializer, |code| {
            Currency::parse(code).ok_or_else(|| {
                format!(
                    "`{code}` is not an ISO 4217 currency code (three upper-case letters, like `USD`)"
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_every_digit_and_codes_are_checked() {
        let money: Money =
            serde_json::from_str(r#"{"amount": "1234.5678901234", "currency": "USD"}"#)
                .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(money.amount.to_string(), "1234.5678901234");
        assert_eq!(
            serde_json::to_string(&money).unwrap_or_default(),
            r#"{"amount":"1234.5678901234","currency":"USD"}"#
        );
        assert!(serde_json::from_str::<Money>(r#"{"amount": 1, "currency": "USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount": "1e3", "currency": "USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount": "1.", "currency": "USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount": "-0.5", "currency": "USD"}"#).is_ok());
        assert!(serde_json::from_str::<Money>(r#"{"amount": "1", "currency": "usd"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount": 1, "currency": "USDX"}"#).is_err());
    }
}

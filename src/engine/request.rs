//! The `decide` contract: request and decision, as the CLI and the API speak them.

use crate::domain::SharedText;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Account, Channel, Event, Purpose};
pub use crate::domain::{Reason, Reasons};

/// One question: may we contact this account like this at this instant?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[derive(utoipa::ToSchema)]
pub struct DecideRequest {
    /// The instant of the contact.
    #[serde(deserialize_with = "crate::domain::instant::deserialize_instant")]
    #[schema(value_type = crate::domain::instant::InstantSchema)]
    pub at: DateTime<Utc>,
    /// The channel.
    pub channel: Channel,
    /// Why we reach out; `collection` when absent.
    #[serde(default)]
    pub purpose: Purpose,
    /// The phone number or email address to be used, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_point: Option<String>,
    /// The account.
    pub account: Account,
    /// The ledger of the account (and, with `account_id`, of the consumer's other debts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Event>,
    /// How far ahead to search for `next_allowed_at`, in days (default 35).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 366)]
    pub horizon_days: Option<u32>,
}
crate::domain::object_only!(DecideRequest);

/// A request that cannot be decided, with the place of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    /// The path of the offending field (`account.consumer.time_zones[0]`), or `.`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl DecideRequest {
    /// Parses a request from JSON, naming the offending field on error.
    pub fn from_json(text: &str) -> Result<DecideRequest, RequestError> {
        let request: DecideRequest = parse_json(text.as_bytes())?;
        request.validate()?;
        Ok(request)
    }

    /// Checks what serde cannot: limits that keep a decision cheap and meaningful.
    pub fn validate(&self) -> Result<(), RequestError> {
        const MAX_HORIZON_DAYS: u32 = 366;
        if let Some(days) = self.horizon_days
            && !(1..=MAX_HORIZON_DAYS).contains(&days)
        {
            return Err(RequestError {
                field: "horizon_days".into(),
                message: format!("must be between 1 and {MAX_HORIZON_DAYS}, not {days}"),
            });
        }
        if self.account.id.trim().is_empty() {
            return Err(RequestError {
                field: "account.id".into(),
                message: "must not be empty".into(),
            });
        }
        Ok(())
    }
}

/// Parses JSON into any contract type, naming the offending field on error
/// (`account.consumer.time_zones[0]`; empty for the document itself). The plain parse
/// runs first; only a failing input is parsed again with path tracking, which costs on
/// every call.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, RequestError> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return refuse_nul(bytes).map(|()| value);
    }
    parse_json_tracked(bytes)
}

/// [`parse_json`] of text known to be UTF-8 (a line of a file read as text): the plain
/// parse does not check every string's UTF-8 again, which cost a sixth of reading an
/// event. The answer, and every error, is `parse_json`'s.
pub fn parse_json_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, RequestError> {
    if let Ok(value) = serde_json::from_str(text) {
        return refuse_nul(text.as_bytes()).map(|()| value);
    }
    parse_json_tracked(text.as_bytes())
}

/// The parse that names the field at fault, for input the plain parse refused.
fn parse_json_tracked<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, RequestError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = strip_position(&inner.to_string());
        // serde_json reports a number or a list where a name (an enum) is expected as
        // a syntax error ("expected value"); the document itself is well-formed then,
        // and the field is what is wrong.
        let well_formed =
            || serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() && path != ".";
        if (inner.is_syntax() || inner.is_eof()) && well_formed() {
            RequestError {
                field: path,
                message: "wrong type: expected a string naming one of the allowed values".into(),
            }
        } else if inner.is_syntax() || inner.is_eof() {
            RequestError {
                field: String::new(),
                message: format!(
                    "malformed JSON at line {} column {}: {message}",
                    inner.line(),
                    inner.column()
                ),
            }
        } else if let Some(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
            .err()
            .filter(|e| e.is_syntax() || e.is_eof())
        {
            // A type error met before the syntax error (`[` where an object belongs):
            // the document is not JSON at all, and that is what to say.
            RequestError {
                field: String::new(),
                message: format!(
                    "malformed JSON at line {} column {}: {}",
                    syntax.line(),
                    syntax.column(),
                    strip_position(&syntax.to_string())
                ),
            }
        } else {
            // A missing field is reported at its parent; the field itself is the place.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            let field = match (path.as_str(), missing) {
                (".", Some(name)) => name.to_string(),
                (".", None) => String::new(),
                (_, Some(name)) => format!("{path}.{name}"),
                (_, None) => path,
            };
            RequestError { field, message }
        }
    })?;
    // The plain parse failed but the tracked one did not: the document is followed by
    // more bytes (`{…}{…}`), which would otherwise be silently ignored.
    deserializer.end().map_err(|error| RequestError {
        field: String::new(),
        message: format!(
            "malformed JSON at line {} column {}: {}",
            error.line(),
            error.column(),
            strip_position(&error.to_string())
        ),
    })?;
    refuse_nul(bytes)?;
    Ok(parsed)
}

/// Refuses a document with a NUL character (U+0000) in any string or key: no store
/// keeps one (PostgreSQL's `text` and `jsonb` cannot), and no identifier, contact point
/// or message needs one. A raw NUL cannot occur inside a JSON string, so only the
/// escape `\u0000` is searched for; the slow walk that names the field runs only then.
fn refuse_nul(bytes: &[u8]) -> Result<(), RequestError> {
    // Only at a backslash (found by memchr) can an escaped NUL start.
    let escaped_nul = memchr::memchr_iter(b'\\', bytes).any(|at| {
        bytes
            .get(at..at + 6)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"\\u0000"))
    });
    if !escaped_nul {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    match nul_path(&value, String::new()) {
        Some(field) => Err(RequestError {
            field,
            message: "must not contain a NUL character (U+0000)".into(),
        }),
        None => Ok(()),
    }
}

/// The path of the first string or key holding a NUL character.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    match value {
        serde_json::Value::String(text) => text.contains('\0').then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_path(item, format!("{path}[{index}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
            let inner = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if key.contains('\0') {
                Some(inner)
            } else {
                nul_path(item, inner)
            }
        }),
        _ => None,
    }
}

/// serde_json appends "at line L column C"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message.get(..index).unwrap_or(message).to_string(),
        None => message.to_string(),
    }
}

/// The class of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum Verdict {
    /// Allowed now.
    Allow,
    /// Not now: a window or a cap will open later.
    Defer,
    /// A legal hold: not until the condition is lifted.
    Stop,
}

impl Verdict {
    /// The name used in JSON, the decision log, metrics and schedules.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Defer => "defer",
            Verdict::Stop => "stop",
        }
    }
}

/// Something an allowed contact must carry or do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Obligation {
    /// A stable code callers act on (`include_opt_out`).
    #[schema(value_type = String)]
    pub code: SharedText,
    /// The rule id.
    #[schema(value_type = String)]
    pub rule: SharedText,
    /// The pack id.
    #[schema(value_type = String)]
    pub pack: SharedText,
    /// The citation of the rule.
    #[schema(value_type = String)]
    pub citation: SharedText,
    /// What to do.
    #[schema(value_type = String)]
    pub message: SharedText,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// Whether the contact may happen at the requested instant.
    pub allowed: bool,
    /// Allow, defer or stop.
    pub outcome: Verdict,
    /// The earliest instant at or after the request's when the same contact would be
    /// allowed, assuming no new events; `null` when there is none within the horizon.
    #[serde(serialize_with = "crate::domain::instant::serialize_optional_instant")]
    pub next_allowed_at: Option<DateTime<Utc>>,
    /// Every refusing rule.
    // Inline up to two: a decision allocates nothing for them.
    #[schema(value_type = Vec<Reason>)]
    pub reasons: Reasons,
    /// Rules that do not refuse but flag a risk.
    pub warnings: Vec<Reason>,
    /// What an allowed contact must do.
    pub obligations: Vec<Obligation>,
    /// The candidate time zones the decision checked, by IANA name.
    #[serde(with = "crate::domain::zone_serde::shared")]
    #[schema(value_type = Vec<String>, example = json!(["America/New_York"]))]
    pub time_zones: Arc<[chrono_tz::Tz]>,
    /// The digest of the policy that decided.
    #[schema(value_type = String)]
    pub policy_digest: Arc<str>,
}

/// The verdict for one channel and contact point (the "how may we reach them now" view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelVerdict {
    /// The channel.
    pub channel: Channel,
    /// The contact point, when the channel has one.
    pub contact_point: Option<String>,
    /// The decision for that channel and contact point.
    pub decision: Decision,
    /// The budget left in every cap that governs that channel and contact point.
    #[serde(default)]
    pub caps: Vec<super::CapBudget>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Account, LedgerEvent};
    use proptest::prelude::*;

    fn any_text() -> impl Strategy<Value = SharedText> {
        prop_oneof![
            any::<String>(),
            "[a-z \"\\\\\u{0}-\u{1f}\u{7f}é☃\u{2028}]{0,12}",
        ]
        .prop_map(|text| SharedText::from(text.as_str()))
    }

    fn any_reason() -> impl Strategy<Value = Reason> {
        (any_text(), any_text(), any_text(), any_text())
            .prop_map(|(rule, pack, citation, message)| Reason::new(rule, pack, citation, message))
    }

    fn any_obligation() -> impl Strategy<Value = Obligation> {
        (any_reason(), any_text()).prop_map(|(reason, code)| Obligation {
            code,
            rule: reason.rule.clone(),
            pack: reason.pack.clone(),
            citation: reason.citation.clone(),
            message: reason.message.clone(),
        })
    }

    fn any_decision() -> impl Strategy<Value = Decision> {
        let zones = prop::sample::subsequence(
            vec![
                chrono_tz::America::New_York,
                chrono_tz::America::Chicago,
                chrono_tz::America::Los_Angeles,
                chrono_tz::Pacific::Honolulu,
            ],
            0..4,
        );
        (
            any::<bool>(),
            prop::sample::select(vec![Verdict::Allow, Verdict::Defer, Verdict::Stop]),
            prop::option::of(0i64..8_000_000_000_000_000),
            prop::collection::vec(any_reason(), 0..4),
            prop::collection::vec(any_reason(), 0..3),
            prop::collection::vec(any_obligation(), 0..3),
            zones,
            any_text(),
        )
            .prop_map(
                |(allowed, outcome, next, reasons, warnings, obligations, zones, digest)| {
                    Decision {
                        allowed,
                        outcome,
                        next_allowed_at: next.and_then(DateTime::from_timestamp_micros),
                        reasons: reasons.into(),
                        warnings,
                        obligations,
                        time_zones: zones.into(),
                        policy_digest: Arc::from(digest.as_str()),
                    }
                },
            )
    }

    proptest! {
        /// A decision as the judge logs it hashes by the chain's fast path, and to the
        /// bytes the re-parse of the text gives (what the chain hashed before it).
        #[test]
        fn a_logged_decision_hashes_by_the_fast_path_as_by_the_reparse(decision in any_decision()) {
            let logged = serde_json::value::to_raw_value(&decision).unwrap();
            let text = logged.get();
            prop_assert!(crate::domain::chain::takes_fast_path(text), "{}", text);
            prop_assert_eq!(
                crate::domain::chain::canonical_json(text),
                crate::domain::chain::canonical_json_reparsed(text)
            );
        }
    }

    /// Text parses as its bytes do: the same value, or the same error naming the same
    /// field.
    #[test]
    fn text_parses_as_its_bytes_do() {
        let accounts = [
            r#"{"id":"A-1","consumer":{"address":{"state":"ny"},"phones":[{"number":"+12125550100","kind":"mobile"}]}}"#,
            r#"{"id":"A-1","placed_on":"2026-10-30","balance":{"amount":"12.50","currency":"USD"},"consumer":{}}"#,
            r#"{"id":"A-1","consumer":{"address":{"state":"XX"}}}"#,
            r#"{"id":"A-1","placed_on":5,"consumer":{}}"#,
            r#"{"id":"A-1","placed_on":"2026-02-30","consumer":{}}"#,
            r#"{"id":"A-1","balance":{"amount":"1e3","currency":"USD"},"consumer":{}}"#,
            r#"{"id":"A-1","balance":{"amount":"1","currency":"usd"},"consumer":{}}"#,
            r#"{"id":"A-1","consumer":{"time_zones":["America/Chicgo"]}}"#,
            r#"{"id":"A\u0000","consumer":{}}"#,
            r#"{"id":"A-1","consumer":{"address":{"city":"\u0000"}}}"#,
            r#"{"id":"A-1","consumer":{}}{}"#,
            r#"{"id":"A-1","consumer":"#,
            r#"{"id":"Ä-1","consumer":{}}"#,
            r#"["A-1"]"#,
        ];
        for text in accounts {
            assert_eq!(
                parse_json_str::<Account>(text),
                parse_json::<Account>(text.as_bytes()),
                "{text}"
            );
        }
        let events = [
            r#"{"at":"2026-10-30T18:04:56Z","type":"contact","channel":"call","outcome":"no_answer"}"#,
            r#"{"at":"2026-10-30T18:04:56+02:00","type":"contact","channel":"call"}"#,
            r#"{"at":"2026-10-30","type":"contact","channel":"call"}"#,
            r#"{"at":null,"type":"contact","channel":"call"}"#,
            r#"{"at":"2200-01-01T00:00:00Z","type":"contact","channel":"call"}"#,
            r#"{"at":"2026-10-30T18:04:56Z","type":"promise_to_pay","due_on":"2026-13-01"}"#,
            r#"{"at":"2026-10-30T18:04:56Z","type":"payment_plan","installments":[{"due_on":"2026-11-01","amount":{"amount":"5","currency":"EUR"}}]}"#,
            r#"{"at":"2026-10-30T18:04:56Z","type":"contact","channel":"pigeon"}"#,
        ];
        for text in events {
            assert_eq!(
                parse_json_str::<LedgerEvent>(text),
                parse_json::<LedgerEvent>(text.as_bytes()),
                "{text}"
            );
        }
        // The ones meant to be good are good, and a wrong type is named as before.
        let good = accounts
            .iter()
            .filter(|t| parse_json_str::<Account>(t).is_ok());
        assert_eq!(good.count(), 2);
        let good = events
            .iter()
            .filter(|t| parse_json_str::<LedgerEvent>(t).is_ok());
        assert_eq!(good.count(), 3);
        assert_eq!(
            parse_json_str::<Account>(r#"{"id":"A-1","placed_on":5,"consumer":{}}"#).map(|_| ()),
            Err(RequestError {
                field: "placed_on".into(),
                message: "invalid type: integer `5`, expected a string".into(),
            })
        );
    }
}

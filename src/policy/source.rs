//! A rule pack as written: serde structs that keep the span of every value the
//! validator may need to point at.
//!
//! Nothing here is checked beyond TOML types; `compile` turns these into the
//! engine's form and reports every problem it finds with its span.

use serde::Deserialize;
use toml::Spanned;

/// Text with its place in the file.
pub type Text = Spanned<String>;

/// `[pack]`: who wrote the rules, where they apply and since when.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackMetaSource {
    pub id: Text,
    pub title: Text,
    pub version: Text,
    pub citation: Text,
    #[serde(default)]
    pub status: Option<Text>,
    #[serde(default)]
    pub description: Option<Text>,
    #[serde(default)]
    pub effective_from: Option<Spanned<toml::value::Datetime>>,
    #[serde(default)]
    pub effective_until: Option<Spanned<toml::value::Datetime>>,
    #[serde(default)]
    pub scope: Option<Spanned<ScopeSource>>,
    #[serde(default)]
    pub superseded_by: Option<Text>,
}

/// `[pack.scope]`: which accounts the pack applies to. An absent key means "any".
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScopeSource {
    #[serde(default)]
    pub country: Option<Text>,
    #[serde(default)]
    pub states: Option<Vec<Text>>,
    #[serde(default)]
    pub cities: Option<Vec<Text>>,
    #[serde(default)]
    pub postal_codes: Option<Vec<Text>>,
    #[serde(default)]
    pub debt_types: Option<Vec<Text>>,
    #[serde(default)]
    pub creditors: Option<Vec<Text>>,
    #[serde(default)]
    pub collectors: Option<Vec<Text>>,
}

/// One rule of any kind. The kind comes from the table array it sits in
/// (`[[window]]`, `[[cap]]`, …); keys that do not belong to that kind are reported
/// by the compiler, so one struct can carry them all.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSource {
    pub id: Text,
    pub citation: Text,
    pub message: Text,
    pub channels: Spanned<Vec<Text>>,
    #[serde(default)]
    pub purposes: Option<Spanned<Vec<Text>>>,
    #[serde(default)]
    pub except_purposes: Option<Spanned<Vec<Text>>>,
    #[serde(default)]
    pub when: Option<Spanned<ConditionSource>>,
    #[serde(default)]
    pub effective_from: Option<Spanned<toml::value::Datetime>>,
    #[serde(default)]
    pub effective_until: Option<Spanned<toml::value::Datetime>>,
    #[serde(default)]
    pub note: Option<Text>,

    // window
    #[serde(default)]
    pub allow: Option<Spanned<Vec<Spanned<IntervalSource>>>>,
    #[serde(default)]
    pub time_zone: Option<Text>,

    // cap, warning, cooldown
    #[serde(default)]
    pub max: Option<Spanned<i64>>,
    #[serde(default)]
    pub calendar_days: Option<Spanned<i64>>,
    #[serde(default)]
    pub rolling: Option<Text>,
    #[serde(default)]
    pub per: Option<Text>,
    #[serde(default)]
    pub count: Option<Spanned<EventFilterSource>>,
    #[serde(default)]
    pub after: Option<Spanned<EventFilterSource>>,
    #[serde(default)]
    pub exclude_consent_days: Option<Spanned<i64>>,
    #[serde(default)]
    pub exclude_wrong_party: Option<Spanned<bool>>,
    #[serde(default)]
    pub not_counting: Option<Spanned<Vec<Text>>>,

    // hold
    #[serde(default)]
    pub flag: Option<Text>,
    #[serde(default)]
    pub unless_consumer_used_days: Option<Spanned<i64>>,
    #[serde(default)]
    pub unless: Option<Spanned<Vec<Text>>>,

    // obligation
    #[serde(default)]
    pub code: Option<Text>,
}

/// A local wall-clock interval on some weekdays.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalSource {
    #[serde(default)]
    pub days: Option<Vec<Text>>,
    pub from: Text,
    pub to: Text,
}

/// Which ledger events a cap counts or a cooldown starts after.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EventFilterSource {
    #[serde(default)]
    pub channels: Option<Vec<Text>>,
    #[serde(default)]
    pub outcomes: Option<Vec<Text>>,
    #[serde(default)]
    pub contact_point_kinds: Option<Vec<Text>>,
    #[serde(default)]
    pub initiated_by: Option<Text>,
}

/// `when`: the rule applies only if every listed condition holds.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConditionSource {
    #[serde(default)]
    pub contact_point_kinds: Option<Vec<Text>>,
    #[serde(default)]
    pub debt_types: Option<Vec<Text>>,
    #[serde(default)]
    pub flags: Option<Vec<Text>>,
}

//! A strategy file as written: serde structs that keep the span of every value the
//! checks may point at. Nothing is checked here beyond TOML types.

use serde::Deserialize;
use toml::Spanned;

/// Text with its place in the file.
pub type Text = Spanned<String>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyFileSource {
    pub strategy: Spanned<MetaSource>,
    #[serde(default)]
    pub segment: Option<Spanned<SegmentSource>>,
    #[serde(default)]
    pub step: Vec<Spanned<StepSource>>,
    #[serde(default)]
    pub escalation: Vec<Spanned<EscalationSource>>,
}

/// `[strategy]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaSource {
    pub id: Text,
    pub title: Text,
    pub version: Text,
    #[serde(default)]
    pub description: Option<Text>,
}

/// `[segment]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSource {
    #[serde(default)]
    pub debt_types: Option<Vec<Text>>,
    #[serde(default)]
    pub states: Option<Vec<Text>>,
    #[serde(default)]
    pub balance: Option<Spanned<BoundsSource<Text>>>,
    #[serde(default)]
    pub days_since_placement: Option<Spanned<BoundsSource<Spanned<i64>>>>,
}

/// `{ min = …, max = … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
pub struct BoundsSource<T> {
    #[serde(default)]
    pub min: Option<T>,
    #[serde(default)]
    pub max: Option<T>,
}

/// `[[step]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSource {
    pub id: Text,
    pub channel: Text,
    #[serde(default)]
    pub purpose: Option<Text>,
    #[serde(default)]
    pub template: Option<Text>,
    #[serde(default)]
    pub event: Option<Text>,
    #[serde(default)]
    pub on_day: Option<Spanned<i64>>,
    #[serde(default)]
    pub every_days: Option<Spanned<i64>>,
    #[serde(default)]
    pub from_day: Option<Spanned<i64>>,
    #[serde(default)]
    pub until_day: Option<Spanned<i64>>,
    #[serde(default)]
    pub days_before_installment: Option<Spanned<i64>>,
    #[serde(default)]
    pub prefer: Option<Spanned<PreferSource>>,
    #[serde(default)]
    pub stop_when: Vec<Text>,
}

/// `prefer = { days = […], from = "17:00", to = "20:00" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferSource {
    #[serde(default)]
    pub days: Option<Vec<Text>>,
    pub from: Text,
    pub to: Text,
}

/// `[[escalation]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationSource {
    pub id: Text,
    pub to: Text,
    #[serde(default)]
    pub after_attempts: Option<Spanned<i64>>,
    #[serde(default)]
    pub without_conversation_days: Option<Spanned<i64>>,
    #[serde(default)]
    pub on: Option<Text>,
}

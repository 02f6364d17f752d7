//! Source → compiled rules, one file at a time, collecting every problem.
//!
//! Pure: text in, pack and rules (or diagnostics) out. Each rule table is
//! deserialized on its own so that one bad rule does not hide the problems of the
//! next; every value the checks reject is reported at its own span.

use std::ops::Range;

use chrono::{NaiveDate, TimeDelta};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diagnostics::{Diagnostic, SourceFile};
use super::model::{
    Cap, Condition, Cooldown, DateRange, EventFilter, Pack, PackStatus, Per, Period, Rule,
    RuleKind, Scope, Set, Unless, Window,
};
use super::source::{
    ConditionSource, EventFilterSource, PackMetaSource, RuleSource, ScopeSource, Text,
};
use crate::domain::{
    Channel, CollectorKind, ContactPointKind, Flag, InitiatedBy, Outcome, Purpose, Reason,
    SharedText, TimeOfDay, Weekday,
};
use crate::suggest::did_you_mean;

/// The rule kinds, as the names of their table arrays.
pub const RULE_KINDS: [&str; 7] = [
    "window",
    "consumer_times",
    "cap",
    "warning",
    "cooldown",
    "hold",
    "obligation",
];

/// The longest period a cap or cooldown may span, in days.
const MAX_PERIOD_DAYS: i64 = 366;

/// USPS codes of the states, DC and the territories.
pub use crate::domain::US_STATES;

/// A compiled file: its pack, its rules and its content for the digest.
pub struct CompiledFile {
    /// The pack's metadata.
    pub pack: Pack,
    /// Its rules, with `pack` still to be set by the caller.
    pub rules: Vec<(Rule, Range<usize>)>,
    /// The parsed content, for the canonical digest.
    pub content: toml::Table,
    /// Where `effective_from` and `superseded_by` are written in `[pack]`, for the
    /// checks across packs.
    pub spans: PackSpans,
}

/// Places in `[pack]` that checks across packs point at.
#[derive(Debug, Clone, Default)]
pub struct PackSpans {
    /// `effective_from`.
    pub effective_from: Option<Range<usize>>,
    /// `superseded_by`.
    pub superseded_by: Option<Range<usize>>,
}

/// Compiles one pack file. Problems go to `diagnostics`; `None` when there were errors.
pub fn compile_file(
    source: &SourceFile,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<CompiledFile> {
    let errors_before = count_errors(diagnostics);
    let text: &str = &source.text;
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for error in syntax_errors {
            diagnostics.push(Diagnostic::error(
                "rules::syntax",
                source,
                error.span(),
                error.message().trim().to_string(),
            ));
        }
        return None;
    }
    let mut file = FileCompiler {
        source,
        diagnostics,
    };
    let mut meta = None;
    let mut rules = Vec::new();
    for (key, value) in document.get_ref().iter() {
        let key_name: &str = key.get_ref();
        match key_name {
            "pack" => meta = file.deserialize::<PackMetaSource>(value),
            kind if RULE_KINDS.contains(&kind) => {
                let Some(items) = value.get_ref().as_array() else {
                    file.error("rules::wrong-type", Some(value.span()), format!("`{kind}` must be an array of tables: write each rule under `[[{kind}]]`"));
                    continue;
                };
                for item in items.iter() {
                    if let Some(rule) = file.deserialize::<RuleSource>(item) {
                        let span = rule.id.span();
                        if let Some(compiled) = file.rule(kind, rule) {
                            rules.push((compiled, span));
                        }
                    }
                }
            }
            other => {
                let candidates = std::iter::once("pack").chain(RULE_KINDS);
                let help =
                    did_you_mean(other, candidates).map(|best| format!("did you mean `{best}`?"));
                file.error_with_help(
                    "rules::unknown-key",
                    Some(key.span()),
                    format!("unknown top-level key `{other}`"),
                    help.or_else(|| {
                        Some(format!(
                            "a pack has `[pack]` and rule tables: {}",
                            list(&RULE_KINDS)
                        ))
                    }),
                );
            }
        }
    }
    let spans = meta
        .as_ref()
        .map(|meta: &PackMetaSource| PackSpans {
            effective_from: meta.effective_from.as_ref().map(Spanned::span),
            superseded_by: meta.superseded_by.as_ref().map(Spanned::span),
        })
        .unwrap_or_default();
    let pack = match meta {
        Some(meta) => file.pack(meta),
        None => {
            if !document.get_ref().contains_key("pack") {
                file.error("rules::missing-pack", Some(0..0), "the file has no `[pack]` table with the pack's id, title, version and citation".to_string());
            }
            None
        }
    };
    if rules.is_empty() && count_errors(file.diagnostics) == errors_before {
        file.warning(
            "rules::empty-pack",
            Some(0..0),
            "the pack has no rules".to_string(),
        );
    }
    // A rule's dates are intersected with its pack's once every pack is read: a pack's
    // own dates may still move (`superseded_by`, the configuration's dates).
    let content = toml::from_str::<toml::Table>(text).ok();
    if count_errors(diagnostics) > errors_before {
        return None;
    }
    Some(CompiledFile {
        pack: pack?,
        rules,
        content: content?,
        spans,
    })
}

fn count_errors(diagnostics: &[Diagnostic]) -> usize {
    diagnostics.iter().filter(|d| d.is_error()).count()
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

struct FileCompiler<'a> {
    source: &'a SourceFile,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl FileCompiler<'_> {
    fn error(&mut self, code: &'static str, span: Option<Range<usize>>, message: String) {
        self.diagnostics
            .push(Diagnostic::error(code, self.source, span, message));
    }

    fn error_with_help(
        &mut self,
        code: &'static str,
        span: Option<Range<usize>>,
        message: String,
        help: Option<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::error(code, self.source, span, message).with_optional_help(help));
    }

    fn warning(&mut self, code: &'static str, span: Option<Range<usize>>, message: String) {
        self.diagnostics
            .push(Diagnostic::warning(code, self.source, span, message));
    }

    /// Deserializes one table, turning serde's error into a diagnostic with help.
    fn deserialize<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                let message = error.message().trim().to_string();
                let help = unknown_field_help(&message);
                let code = if message.starts_with("unknown field") {
                    "rules::unknown-key"
                } else if message.starts_with("missing field") {
                    "rules::missing-key"
                } else {
                    "rules::wrong-type"
                };
                self.error_with_help(code, error.span().or(Some(value.span())), message, help);
                None
            }
        }
    }

    fn pack(&mut self, meta: PackMetaSource) -> Option<Pack> {
        let id = self.identifier(&meta.id, "pack id")?;
        let status = match &meta.status {
            None => PackStatus::Active,
            Some(status) => match status.get_ref().as_str() {
                "active" => PackStatus::Active,
                "draft" => PackStatus::Draft,
                other => {
                    self.error(
                        "rules::unknown-value",
                        Some(status.span()),
                        format!("unknown pack status `{other}`; expected `active` or `draft`"),
                    );
                    return None;
                }
            },
        };
        let effective = self.date_range(&meta.effective_from, &meta.effective_until, "pack")?;
        let superseded_by = match &meta.superseded_by {
            Some(successor) => {
                if let Some(until) = &meta.effective_until {
                    self.error_with_help(
                        "rules::conflicting-keys",
                        Some(until.span()),
                        "give either `effective_until` or `superseded_by`, not both".to_string(),
                        Some("with `superseded_by` the pack ends the day before its successor's `effective_from`".to_string()),
                    );
                    return None;
                }
                Some(self.identifier(successor, "pack id")?)
            }
            None => None,
        };
        let scope = match &meta.scope {
            Some(scope) => self.scope(scope.get_ref(), scope.span())?,
            None => Scope::default(),
        };
        for (field, text) in [
            ("title", &meta.title),
            ("version", &meta.version),
            ("citation", &meta.citation),
        ] {
            if text.get_ref().trim().is_empty() {
                self.error(
                    "rules::empty-value",
                    Some(text.span()),
                    format!("the pack's `{field}` is empty"),
                );
            }
        }
        Some(Pack {
            id: id.into(),
            title: meta.title.into_inner(),
            version: meta.version.into_inner(),
            citation: meta.citation.into_inner(),
            status,
            scope,
            effective,
            file: self.source.name.to_string(),
            description: meta.description.map(Spanned::into_inner),
            superseded_by,
        })
    }

    /// `table` is where `[pack.scope]` is written: an empty list is named there (the
    /// list itself carries no place once parsed).
    fn scope(&mut self, scope: &ScopeSource, table: Range<usize>) -> Option<Scope> {
        let mut ok = true;
        if let Some(country) = &scope.country
            && country.get_ref() != "US"
        {
            self.error(
                "rules::unknown-value",
                Some(country.span()),
                format!(
                    "unsupported country `{}`; dunner's packs cover `US`",
                    country.get_ref()
                ),
            );
            ok = false;
        }
        let mut states = Vec::new();
        for state in scope.states.iter().flatten() {
            let code = state.get_ref().to_ascii_uppercase();
            if US_STATES.contains(&code.as_str()) {
                states.push(code);
            } else {
                let help = did_you_mean(state.get_ref(), US_STATES)
                    .map(|best| format!("did you mean `{best}`?"));
                self.error_with_help(
                    "rules::unknown-value",
                    Some(state.span()),
                    format!(
                        "unknown state `{}`; use a two-letter USPS code",
                        state.get_ref()
                    ),
                    help,
                );
                ok = false;
            }
        }
        let lower = |items: &Option<Vec<Text>>| -> Vec<String> {
            items
                .iter()
                .flatten()
                .map(|item| item.get_ref().trim().to_lowercase())
                .collect()
        };
        let names = CollectorKind::ALL.map(CollectorKind::as_str);
        let collectors = match &scope.collectors {
            Some(items) => self
                .names(items, "collector", CollectorKind::parse, &names)
                .unwrap_or_else(|| {
                    ok = false;
                    Vec::new()
                }),
            None => Vec::new(),
        };
        if scope.collectors.as_ref().is_some_and(Vec::is_empty) {
            self.error(
                "rules::never-applies",
                Some(table.clone()),
                "the pack can never apply: `collectors` is empty (leave it out to cover every collector)".to_string(),
            );
            ok = false;
        }
        let mut postal_codes = Vec::new();
        for prefix in scope.postal_codes.iter().flatten() {
            let text = prefix.get_ref().trim();
            if (3..=5).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
                postal_codes.push(text.to_string());
            } else {
                self.error(
                    "rules::invalid-value",
                    Some(prefix.span()),
                    format!(
                        "`{}` is not a ZIP code prefix: write 3 to 5 digits (`112` covers 11201 to 11299)",
                        prefix.get_ref()
                    ),
                );
                ok = false;
            }
        }
        if scope.postal_codes.as_ref().is_some_and(Vec::is_empty) {
            self.error(
                "rules::never-applies",
                Some(table),
                "the pack can never apply: `postal_codes` is empty (leave it out to cover every ZIP code)".to_string(),
            );
            ok = false;
        }
        let scope = Scope {
            collectors,
            country: scope.country.as_ref().map(|c| c.get_ref().clone()),
            states,
            cities: lower(&scope.cities),
            postal_codes,
            debt_types: lower(&scope.debt_types),
            creditors: lower(&scope.creditors),
        };
        ok.then_some(scope)
    }

    fn identifier(&mut self, text: &Text, what: &str) -> Option<String> {
        let id = text.get_ref();
        let valid = !id.is_empty()
            && id.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_')
            });
        if valid {
            Some(id.clone())
        } else {
            self.error(
                "rules::bad-id",
                Some(text.span()),
                format!("{what} `{id}` must be non-empty and use only lower-case letters, digits, `.`, `-` and `_`"),
            );
            None
        }
    }

    fn date(&mut self, value: &Spanned<toml::value::Datetime>) -> Option<NaiveDate> {
        let datetime = value.get_ref();
        let date = match (datetime.date, datetime.time, datetime.offset) {
            (Some(date), None, None) => NaiveDate::from_ymd_opt(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            ),
            _ => None,
        };
        if date.is_none() {
            self.error(
                "rules::wrong-type",
                Some(value.span()),
                format!("`{datetime}` is not a plain date; write a local date like 2026-09-01"),
            );
        }
        date
    }

    fn date_range(
        &mut self,
        from: &Option<Spanned<toml::value::Datetime>>,
        until: &Option<Spanned<toml::value::Datetime>>,
        what: &str,
    ) -> Option<DateRange> {
        let from_date = match from {
            Some(value) => Some(self.date(value)?),
            None => None,
        };
        let until_date = match until {
            Some(value) => Some(self.date(value)?),
            None => None,
        };
        let range = DateRange {
            from: from_date,
            until: until_date,
        };
        if range.is_empty() {
            let span = until.as_ref().map(|u| u.span());
            self.error(
                "rules::never-applies",
                span,
                format!("the {what} can never apply: `effective_until` is before `effective_from`"),
            );
            return None;
        }
        Some(range)
    }

    fn names<T: Copy>(
        &mut self,
        items: &[Text],
        what: &str,
        parse: fn(&str) -> Option<T>,
        all: &[&str],
    ) -> Option<Vec<T>> {
        let mut parsed = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match parse(item.get_ref()) {
                Some(value) => parsed.push(value),
                None => {
                    let help = match did_you_mean(item.get_ref(), all.iter().copied()) {
                        Some(best) => {
                            format!("did you mean `{best}`? expected one of {}", list(all))
                        }
                        None => format!("expected one of {}", list(all)),
                    };
                    self.error_with_help(
                        "rules::unknown-value",
                        Some(item.span()),
                        format!("unknown {what} `{}`", item.get_ref()),
                        Some(help),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(parsed)
    }

    fn channels(&mut self, items: &[Text]) -> Option<Set<Channel>> {
        let names = Channel::ALL.map(Channel::as_str);
        Some(
            self.names(items, "channel", Channel::parse, &names)?
                .into_iter()
                .collect(),
        )
    }

    fn purposes(&mut self, items: &[Text]) -> Option<Set<Purpose>> {
        let names = Purpose::ALL.map(Purpose::as_str);
        Some(
            self.names(items, "purpose", Purpose::parse, &names)?
                .into_iter()
                .collect(),
        )
    }

    fn kinds(&mut self, items: &[Text]) -> Option<Set<ContactPointKind>> {
        let names = ContactPointKind::ALL.map(ContactPointKind::as_str);
        Some(
            self.names(items, "contact point kind", ContactPointKind::parse, &names)?
                .into_iter()
                .collect(),
        )
    }

    fn outcomes(&mut self, items: &[Text]) -> Option<Set<Outcome>> {
        let names = Outcome::ALL.map(Outcome::as_str);
        Some(
            self.names(items, "outcome", Outcome::parse, &names)?
                .into_iter()
                .collect(),
        )
    }

    fn flags(&mut self, items: &[Text]) -> Option<Vec<Flag>> {
        let names = Flag::ALL.map(Flag::as_str);
        self.names(items, "flag", Flag::parse, &names)
    }

    fn days(&mut self, items: &[Text]) -> Option<Set<Weekday>> {
        let names = Weekday::ALL.map(Weekday::as_str);
        Some(
            self.names(items, "day", Weekday::parse, &names)?
                .into_iter()
                .collect(),
        )
    }

    fn time(&mut self, text: &Text) -> Option<TimeOfDay> {
        match TimeOfDay::parse(text.get_ref()) {
            Ok(time) => Some(time),
            Err(message) => {
                self.error("rules::wrong-type", Some(text.span()), message);
                None
            }
        }
    }

    fn rule(&mut self, kind: &str, rule: RuleSource) -> Option<Rule> {
        let errors_before = count_errors(self.diagnostics);
        self.reject_foreign_keys(kind, &rule);
        let id = self.identifier(&rule.id, "rule id");
        for (field, text) in [("citation", &rule.citation), ("message", &rule.message)] {
            if text.get_ref().trim().is_empty() {
                self.error("rules::empty-value", Some(text.span()), format!("the rule's `{field}` is empty; every rule must say what law it encodes and what a person is told"));
            }
        }
        let channels = self.channels(rule.channels.get_ref());
        if channels.is_some_and(|c| c.is_empty()) {
            self.error(
                "rules::never-applies",
                Some(rule.channels.span()),
                "the rule can never apply: `channels` is empty".to_string(),
            );
        }
        let mut purposes = match &rule.purposes {
            Some(items) => self.purposes(items.get_ref()),
            None => Some(Set::full()),
        };
        if let (Some(set), Some(except)) = (purposes, &rule.except_purposes) {
            purposes = self
                .purposes(except.get_ref())
                .map(|except| set.without(except));
        }
        if purposes.is_some_and(|p| p.is_empty()) {
            let span = rule
                .except_purposes
                .as_ref()
                .or(rule.purposes.as_ref())
                .map(|p| p.span());
            self.error(
                "rules::never-applies",
                span,
                "the rule can never apply: it governs no purpose (`purposes` is empty or every purpose is excepted)".to_string(),
            );
        }
        let when = match &rule.when {
            Some(when) => self.condition(when, channels),
            None => Some(Condition {
                contact_point_kinds: Set::full(),
                debt_types: Vec::new(),
                flags: Vec::new(),
            }),
        };
        let effective = self.date_range(&rule.effective_from, &rule.effective_until, "rule");
        let unless_consumer_used_days = match &rule.unless_consumer_used_days {
            Some(days) => self.positive_days(days, "unless_consumer_used_days"),
            None => None,
        };
        let unless = match &rule.unless {
            Some(items) => self.unless(items.get_ref()),
            None => Some(Unless::default()),
        };
        let rule_kind = self.kind(kind, &rule, channels);
        if let (Some(RuleKind::Cap(cap) | RuleKind::Warning(cap)), Some(governed), Some(items)) =
            (&rule_kind, purposes, &rule.not_counting)
            && governed.without(cap.not_counting).is_empty()
        {
            self.error(
                "rules::never-applies",
                Some(items.span()),
                "the cap can never refuse: every purpose it governs is in `not_counting`"
                    .to_string(),
            );
        }
        if count_errors(self.diagnostics) > errors_before {
            return None;
        }
        let (id, citation, message): (SharedText, SharedText, SharedText) = (
            id?.into(),
            rule.citation.into_inner().into(),
            rule.message.into_inner().into(),
        );
        Some(Rule {
            // The pack's place and id are given when the policy gathers its packs.
            pack: 0,
            reason: Reason::new(id.clone(), "", citation.clone(), message.clone()),
            id,
            citation,
            message,
            channels: channels?,
            purposes: purposes?,
            when: when?,
            effective: effective?,
            kind: rule_kind?,
            note: rule.note.map(Spanned::into_inner),
            unless_consumer_used_days,
            unless: unless?,
        })
    }

    /// A hold's `unless` list: the exceptions tied to the requested contact point.
    fn unless(&mut self, items: &[Text]) -> Option<Unless> {
        let mut unless = Unless::default();
        let mut ok = true;
        for item in items {
            match item.get_ref().as_str() {
                "consumer_used_point" => unless.consumer_used_point = true,
                "consumer_consented_to_point" => unless.consumer_consented_to_point = true,
                other => {
                    let help = match did_you_mean(other, Unless::NAMES) {
                        Some(best) => format!(
                            "did you mean `{best}`? expected one of {}",
                            list(&Unless::NAMES)
                        ),
                        None => format!("expected one of {}", list(&Unless::NAMES)),
                    };
                    self.error_with_help(
                        "rules::unknown-value",
                        Some(item.span()),
                        format!("unknown `unless` exception `{other}`"),
                        Some(help),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(unless)
    }

    /// Keys that exist on some rule kind but not on this one.
    fn reject_foreign_keys(&mut self, kind: &str, rule: &RuleSource) {
        let present: [(&str, Option<Range<usize>>); 14] = [
            ("allow", rule.allow.as_ref().map(|v| v.span())),
            ("time_zone", rule.time_zone.as_ref().map(|v| v.span())),
            ("max", rule.max.as_ref().map(|v| v.span())),
            (
                "calendar_days",
                rule.calendar_days.as_ref().map(|v| v.span()),
            ),
            ("rolling", rule.rolling.as_ref().map(|v| v.span())),
            ("per", rule.per.as_ref().map(|v| v.span())),
            ("count", rule.count.as_ref().map(|v| v.span())),
            ("after", rule.after.as_ref().map(|v| v.span())),
            (
                "exclude_consent_days",
                rule.exclude_consent_days.as_ref().map(|v| v.span()),
            ),
            (
                "exclude_wrong_party",
                rule.exclude_wrong_party.as_ref().map(|v| v.span()),
            ),
            ("flag", rule.flag.as_ref().map(|v| v.span())),
            (
                "unless_consumer_used_days",
                rule.unless_consumer_used_days.as_ref().map(|v| v.span()),
            ),
            ("not_counting", rule.not_counting.as_ref().map(|v| v.span())),
            ("unless", rule.unless.as_ref().map(|v| v.span())),
        ];
        let allowed: &[&str] = match kind {
            "window" => &["allow", "time_zone"],
            "cap" | "warning" => &[
                "max",
                "calendar_days",
                "rolling",
                "per",
                "count",
                "exclude_consent_days",
                "exclude_wrong_party",
                "not_counting",
            ],
            "cooldown" => &["after", "calendar_days", "per", "exclude_consent_days"],
            "hold" => &["flag", "unless_consumer_used_days", "unless"],
            _ => &[],
        };
        for (key, span) in present {
            if let Some(span) = span
                && !allowed.contains(&key)
            {
                self.error(
                    "rules::unknown-key",
                    Some(span),
                    format!("`{key}` does not belong in a `{kind}` rule"),
                );
            }
        }
        if kind != "obligation"
            && let Some(code) = &rule.code
        {
            self.error(
                "rules::unknown-key",
                Some(code.span()),
                format!("`code` does not belong in a `{kind}` rule"),
            );
        }
    }

    fn condition(
        &mut self,
        when: &Spanned<ConditionSource>,
        channels: Option<Set<Channel>>,
    ) -> Option<Condition> {
        let source = when.get_ref();
        let contact_point_kinds = match &source.contact_point_kinds {
            Some(items) => self.kinds(items)?,
            None => Set::full(),
        };
        if let Some(channels) = channels
            && !channels
                .iter()
                .any(|channel| kinds_of(channel).intersects(contact_point_kinds))
        {
            self.error(
                "rules::never-applies",
                Some(when.span()),
                "the rule can never apply: none of its channels uses the contact point kinds in `when`".to_string(),
            );
            return None;
        }
        let flags = match &source.flags {
            Some(items) => self.flags(items)?,
            None => Vec::new(),
        };
        let debt_types = source
            .debt_types
            .iter()
            .flatten()
            .map(|d| d.get_ref().trim().to_lowercase())
            .collect();
        Some(Condition {
            contact_point_kinds,
            debt_types,
            flags,
        })
    }

    fn kind(
        &mut self,
        kind: &str,
        rule: &RuleSource,
        channels: Option<Set<Channel>>,
    ) -> Option<RuleKind> {
        match kind {
            "window" => self.window(rule).map(RuleKind::Window),
            "consumer_times" => Some(RuleKind::ConsumerTimes),
            "cap" => self.cap(rule, channels).map(RuleKind::Cap),
            "warning" => self.cap(rule, channels).map(RuleKind::Warning),
            "cooldown" => self.cooldown(rule, channels).map(RuleKind::Cooldown),
            "hold" => match (&rule.flag, &rule.when) {
                (Some(flag), _) => {
                    let flags = self.flags(std::slice::from_ref(flag))?;
                    flags
                        .first()
                        .copied()
                        .map(|flag| RuleKind::Hold(Some(flag)))
                }
                (None, Some(when)) => {
                    let condition = when.get_ref();
                    let states_something = condition.contact_point_kinds.is_some()
                        || condition.debt_types.is_some()
                        || condition.flags.is_some();
                    if states_something {
                        Some(RuleKind::Hold(None))
                    } else {
                        self.error(
                            "rules::never-applies",
                            Some(when.span()),
                            "a `hold` without `flag` stands on its `when`, which is empty here: it would refuse every contact".to_string(),
                        );
                        None
                    }
                }
                (None, None) => {
                    self.error(
                        "rules::missing-key",
                        Some(rule.id.span()),
                        "a `hold` rule needs `flag` (the condition that stops contact) or a `when` condition".to_string(),
                    );
                    None
                }
            },
            "obligation" => match &rule.code {
                Some(code) if !code.get_ref().trim().is_empty() => {
                    Some(RuleKind::Obligation(code.get_ref().as_str().into()))
                }
                Some(code) => {
                    self.error(
                        "rules::empty-value",
                        Some(code.span()),
                        "the obligation's `code` is empty".to_string(),
                    );
                    None
                }
                None => {
                    self.error("rules::missing-key", Some(rule.id.span()), "an `obligation` rule needs `code`, a stable name callers act on (e.g. `include_opt_out`)".to_string());
                    None
                }
            },
            _ => None,
        }
    }

    fn window(&mut self, rule: &RuleSource) -> Option<Window> {
        let Some(allow) = &rule.allow else {
            self.error(
                "rules::missing-key",
                Some(rule.id.span()),
                "a `window` rule needs `allow`, the local intervals in which contact is allowed"
                    .to_string(),
            );
            return None;
        };
        if allow.get_ref().is_empty() {
            self.error(
                "rules::never-applies",
                Some(allow.span()),
                "the window allows nothing: `allow` is empty (use a `hold` to forbid a channel)"
                    .to_string(),
            );
            return None;
        }
        let mut window = Window::default();
        let mut ok = true;
        for interval in allow.get_ref() {
            let source = interval.get_ref();
            let days = match &source.days {
                Some(days) if days.is_empty() => {
                    self.error(
                        "rules::never-applies",
                        Some(interval.span()),
                        "the interval has an empty `days` list".to_string(),
                    );
                    None
                }
                Some(days) => self.days(days),
                None => Some(Set::full()),
            };
            let (Some(days), Some(from), Some(to)) =
                (days, self.time(&source.from), self.time(&source.to))
            else {
                ok = false;
                continue;
            };
            if from >= to {
                self.error_with_help(
                    "rules::empty-window",
                    Some(interval.span()),
                    format!("the interval `{from}`–`{to}` is empty or inverted"),
                    Some("`from` must be before `to`; write two intervals for a range that crosses midnight".to_string()),
                );
                ok = false;
                continue;
            }
            for day in days.iter() {
                if let Some(intervals) = window.days.get_mut(day as usize) {
                    intervals.push((from.minutes(), to.minutes()));
                }
            }
        }
        for intervals in &mut window.days {
            *intervals = merge_intervals(std::mem::take(intervals));
        }
        if let Some(zone) = &rule.time_zone {
            match crate::suggest::parse_time_zone(zone.get_ref()) {
                Ok(zone) => window.time_zone = Some(zone),
                Err(message) => {
                    self.error("rules::unknown-value", Some(zone.span()), message);
                    ok = false;
                }
            }
        }
        ok.then_some(window)
    }

    fn positive_days(&mut self, value: &Spanned<i64>, what: &str) -> Option<u32> {
        let days = *value.get_ref();
        if (1..=MAX_PERIOD_DAYS).contains(&days) {
            u32::try_from(days).ok()
        } else {
            self.error(
                "rules::out-of-range",
                Some(value.span()),
                format!("`{what}` must be between 1 and {MAX_PERIOD_DAYS} days, not {days}"),
            );
            None
        }
    }

    fn per(&mut self, per: &Option<Text>) -> Option<Per> {
        match per.as_ref().map(|p| (p.get_ref().as_str(), p.span())) {
            None | Some(("debt", _)) => Some(Per::Debt),
            Some(("consumer", _)) => Some(Per::Consumer),
            Some(("contact_point", _)) => Some(Per::ContactPoint),
            Some((other, span)) => {
                let help = did_you_mean(other, ["debt", "consumer", "contact_point"])
                    .map(|b| format!("did you mean `{b}`?"));
                self.error_with_help("rules::unknown-value", Some(span), format!("unknown `per` value `{other}`; expected `debt`, `consumer` or `contact_point`"), help);
                None
            }
        }
    }

    fn event_filter(
        &mut self,
        filter: &EventFilterSource,
        default_channels: Set<Channel>,
    ) -> Option<EventFilter> {
        let channels = match &filter.channels {
            Some(items) => self.channels(items)?,
            None => default_channels,
        };
        let outcomes = match &filter.outcomes {
            Some(items) => self.outcomes(items)?,
            None => Set::full(),
        };
        let contact_point_kinds = match &filter.contact_point_kinds {
            Some(items) => self.kinds(items)?,
            None => Set::full(),
        };
        let initiated_by = match filter
            .initiated_by
            .as_ref()
            .map(|i| (i.get_ref().as_str(), i.span()))
        {
            None => None,
            Some(("collector", _)) => Some(InitiatedBy::Collector),
            Some(("consumer", _)) => Some(InitiatedBy::Consumer),
            Some((other, span)) => {
                self.error(
                    "rules::unknown-value",
                    Some(span),
                    format!(
                        "unknown `initiated_by` value `{other}`; expected `collector` or `consumer`"
                    ),
                );
                return None;
            }
        };
        Some(EventFilter {
            channels,
            outcomes,
            contact_point_kinds,
            initiated_by,
        })
    }

    fn cap(&mut self, rule: &RuleSource, channels: Option<Set<Channel>>) -> Option<Cap> {
        let max = match &rule.max {
            None => {
                self.error(
                    "rules::missing-key",
                    Some(rule.id.span()),
                    "a cap needs `max`, the most counted events allowed in the period".to_string(),
                );
                None
            }
            Some(max) if *max.get_ref() < 1 => {
                self.error_with_help(
                    "rules::cap-of-zero",
                    Some(max.span()),
                    format!("a cap of {} allows nothing", max.get_ref()),
                    Some("to forbid contact, write a `hold` rule".to_string()),
                );
                None
            }
            Some(max) => match u32::try_from(*max.get_ref()) {
                Ok(max) => Some(max),
                Err(_) => {
                    self.error(
                        "rules::out-of-range",
                        Some(max.span()),
                        "`max` is too large".to_string(),
                    );
                    None
                }
            },
        };
        let period = match (&rule.calendar_days, &rule.rolling) {
            (Some(days), None) => self
                .positive_days(days, "calendar_days")
                .map(Period::CalendarDays),
            (None, Some(rolling)) => match parse_rolling(rolling.get_ref()) {
                Ok(duration) => Some(Period::Rolling(duration)),
                Err(message) => {
                    self.error("rules::wrong-type", Some(rolling.span()), message);
                    None
                }
            },
            (Some(days), Some(_)) => {
                self.error(
                    "rules::conflicting-keys",
                    Some(days.span()),
                    "give either `calendar_days` or `rolling`, not both".to_string(),
                );
                None
            }
            (None, None) => {
                self.error_with_help(
                    "rules::missing-key",
                    Some(rule.id.span()),
                    "a cap needs its period".to_string(),
                    Some("write `calendar_days = 7` for seven consecutive local calendar days (the first day counting), or `rolling = \"72h\"` / `\"30d\"` for a rolling duration".to_string()),
                );
                None
            }
        };
        let per = self.per(&rule.per);
        let default_channels = channels.unwrap_or_else(Set::empty);
        let count = match &rule.count {
            Some(filter) => self.event_filter(filter.get_ref(), default_channels),
            None => Some(EventFilter {
                channels: default_channels,
                outcomes: Set::full(),
                contact_point_kinds: Set::full(),
                initiated_by: None,
            }),
        };
        let exclude_consent_days = match &rule.exclude_consent_days {
            Some(days) => Some(self.positive_days(days, "exclude_consent_days")?),
            None => None,
        };
        if let (Some(count), Some(filter)) = (&count, &rule.count)
            && count.initiated_by == Some(InitiatedBy::Consumer)
        {
            // The contact being decided is always ours, so it is never counted.
            self.error(
                "rules::never-applies",
                Some(filter.span()),
                "a cap that counts only consumer-initiated contacts can never refuse: the contact being decided is always initiated by the collector".to_string(),
            );
            return None;
        }
        let not_counting = match &rule.not_counting {
            Some(items) => self.purposes(items.get_ref()),
            None => Some(Set::empty()),
        };
        Some(Cap {
            not_counting: not_counting?,
            max: max?,
            period: period?,
            per: per?,
            count: count?,
            exclude_consent_days,
            exclude_wrong_party: rule
                .exclude_wrong_party
                .as_ref()
                .is_some_and(|v| *v.get_ref()),
        })
    }

    fn cooldown(&mut self, rule: &RuleSource, channels: Option<Set<Channel>>) -> Option<Cooldown> {
        let Some(after) = &rule.after else {
            self.error(
                "rules::missing-key",
                Some(rule.id.span()),
                "a cooldown needs `after`, the events that start it".to_string(),
            );
            return None;
        };
        let Some(days) = &rule.calendar_days else {
            self.error(
                "rules::missing-key",
                Some(rule.id.span()),
                "a cooldown needs `calendar_days`, its length with the day of the event as day 1"
                    .to_string(),
            );
            return None;
        };
        let days = self.positive_days(days, "calendar_days");
        let after = self.event_filter(after.get_ref(), channels.unwrap_or_else(Set::empty));
        let per = self.per(&rule.per);
        let exclude_consent_days = match &rule.exclude_consent_days {
            Some(days) => Some(self.positive_days(days, "exclude_consent_days")?),
            None => None,
        };
        Some(Cooldown {
            after: after?,
            days: days?,
            per: per?,
            exclude_consent_days,
        })
    }
}

/// The contact point kinds a channel can reach.
pub fn kinds_of(channel: Channel) -> Set<ContactPointKind> {
    use ContactPointKind::*;
    match channel {
        Channel::Call | Channel::Sms => [Mobile, Landline, WorkPhone].into_iter().collect(),
        Channel::Email => [PersonalEmail, WorkEmail].into_iter().collect(),
        Channel::Letter | Channel::Visit => [Address].into_iter().collect(),
    }
}

/// Sorts intervals and joins those that touch or overlap.
fn merge_intervals(mut intervals: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    intervals.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(intervals.len());
    for (from, to) in intervals {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// Parses a rolling duration: a number and a unit, `d`, `h` or `m` (`30d`, `72h`, `5m`).
pub fn parse_rolling(text: &str) -> Result<TimeDelta, String> {
    let problem = || {
        format!("`{text}` is not a duration; write a whole number and a unit: `30d`, `72h` or `5m`")
    };
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(problem)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| problem())?;
    let duration = match unit.trim() {
        "d" => TimeDelta::try_days(number),
        "h" => TimeDelta::try_hours(number),
        "m" => TimeDelta::try_minutes(number),
        _ => None,
    }
    .ok_or_else(problem)?;
    if number < 1 || duration > TimeDelta::days(MAX_PERIOD_DAYS) {
        return Err(format!(
            "`{text}` is out of range; a rolling period lasts from 1 minute to {MAX_PERIOD_DAYS} days"
        ));
    }
    Ok(duration)
}

/// Help for serde's "unknown field `x`, expected one of `a`, `b`" messages.
pub(crate) fn unknown_field_help(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    did_you_mean(field, candidates.iter().copied()).map(|best| format!("did you mean `{best}`?"))
}

//! Rule packs: TOML source text → a validated, compiled [`Policy`].
//!
//! Pure except for [`Policy::load`], which only reads the files of a directory and
//! hands their text to [`Policy::from_sources`]. Every problem of every pack is
//! collected before anything is reported (a compliance officer fixes them all in
//! one pass), and a policy with any error is never built: the engine cannot run
//! without a valid policy (fail closed).

pub mod compare;
mod compile;
pub mod diagnostics;
mod digest;
mod layering;
pub mod model;
mod shadowing;
mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Days, NaiveDate};

pub(crate) use compile::unknown_field_help;
pub use compile::{US_STATES, kinds_of, parse_rolling};
pub use diagnostics::{Diagnostic, Severity, SourceFile};
pub use digest::canonical_json;
use model::Set;
pub use model::{ContactReach, Gate, Pack, PackStatus, Rule, RuleKind, Scope};

use crate::domain::{Account, Channel, CollectorKind, Purpose, Reason};
use crate::suggest::did_you_mean;

/// Why a policy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The rule directory or a file in it could not be read.
    #[error("failed to read rule packs at {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The packs have errors; every diagnostic (errors and warnings) is attached.
    #[error("the rule packs have {} error(s)", .0.iter().filter(|d| d.is_error()).count())]
    Invalid(Vec<Diagnostic>),
}

/// What the agency's configuration (`[rules]` in `dunner.toml`) adds to the packs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Who collects the agency's debts, unless an account says otherwise. `None`: not
    /// known, so every pack scoped by `collectors` applies (an FDCPA debt collector).
    pub collector: Option<CollectorKind>,
    /// Packs' `effective_from`, by pack id, as the configuration moves them: when a
    /// regulator moves a date, the law's text in the pack stays as it is.
    pub effective_from: BTreeMap<String, NaiveDate>,
}

impl Settings {
    /// The settings as part of the digest: absent when there are none, so a policy
    /// without configuration keeps the digest of its packs alone.
    fn digest_entry(&self) -> Option<toml::Table> {
        if *self == Settings::default() {
            return None;
        }
        let mut table = toml::Table::new();
        if let Some(collector) = self.collector {
            table.insert("collector".into(), collector.as_str().into());
        }
        let dates: toml::Table = self
            .effective_from
            .iter()
            .map(|(id, date)| (id.clone(), toml::Value::String(date.to_string())))
            .collect();
        if !dates.is_empty() {
            table.insert("effective_from".into(), toml::Value::Table(dates));
        }
        Some(table)
    }
}

/// All rule packs, compiled; what the engine decides with.
#[derive(Debug, Clone)]
pub struct Policy {
    packs: Vec<Pack>,
    rules: Vec<Rule>,
    /// For each (channel, purpose), the rules that govern it, in policy order, as
    /// [`Gate`]s: a decision filters only by scope and `when`.
    governing: Vec<Vec<Gate>>,
    /// For each (channel, purpose), what of our own past contacts its governing rules
    /// can read ([`Rule::contact_reach`]).
    contact_reach: Vec<ContactReach>,
    digest: Arc<str>,
    warnings: Vec<Diagnostic>,
    sources: Vec<SourceFile>,
    collector: Option<CollectorKind>,
}

impl Policy {
    /// Loads every `*.toml` pack of `dir` (policy test files, `*.tests.toml` and the
    /// `tests/` folder, are not packs). Returns the policy with its warnings, or every
    /// diagnostic when any pack has an error.
    pub fn load(dir: &Path) -> Result<Policy, PolicyError> {
        Policy::load_with(dir, &Settings::default())
    }

    /// [`Policy::load`] with the configuration's settings (`[rules]`).
    pub fn load_with(dir: &Path, settings: &Settings) -> Result<Policy, PolicyError> {
        let (sources, unreadable) = read_pack_files(dir)?;
        if sources.is_empty() && unreadable.is_empty() {
            return Err(PolicyError::Invalid(vec![no_packs(
                &dir.display().to_string(),
            )]));
        }
        if unreadable.is_empty() {
            return Policy::from_sources_with(sources, settings);
        }
        // A file that is not text is an error of the policy like any other: reported
        // with every other pack's diagnostics, never loaded without it.
        let mut diagnostics = unreadable;
        if !sources.is_empty()
            && let Err(PolicyError::Invalid(more)) = Policy::from_sources_with(sources, settings)
        {
            diagnostics.extend(more);
        }
        Err(PolicyError::Invalid(diagnostics))
    }

    /// Compiles packs from their file names and texts.
    pub fn from_sources(sources: Vec<SourceFile>) -> Result<Policy, PolicyError> {
        Policy::from_sources_with(sources, &Settings::default())
    }

    /// [`Policy::from_sources`] with the configuration's settings.
    pub fn from_sources_with(
        sources: Vec<SourceFile>,
        settings: &Settings,
    ) -> Result<Policy, PolicyError> {
        let mut diagnostics = Vec::new();
        let mut packs = Vec::new();
        let mut rules = Vec::new();
        let mut contents = Vec::new();
        let mut rule_spans = Vec::new();
        let mut pack_spans = Vec::new();
        for source in &sources {
            if let Some(file) = compile::compile_file(source, &mut diagnostics) {
                let pack_index = packs.len();
                for (mut rule, span) in file.rules {
                    rule.pack = pack_index;
                    rule.reason = Reason::new(
                        rule.id.clone(),
                        file.pack.id.clone(),
                        rule.citation.clone(),
                        rule.message.clone(),
                    );
                    rules.push(rule);
                    rule_spans.push((source.clone(), span));
                }
                contents.push((file.pack.id.clone(), file.content));
                packs.push(file.pack);
                pack_spans.push((source.clone(), file.spans));
            }
        }
        if sources.is_empty() {
            diagnostics.push(no_packs("(no files)"));
        }
        resolve_dates(&mut packs, &pack_spans, settings, &mut diagnostics);
        for (rule, (source, span)) in rules.iter_mut().zip(&rule_spans) {
            let Some(pack) = packs.get(rule.pack) else {
                continue;
            };
            rule.effective = pack.effective.intersect(rule.effective);
            if rule.effective.is_empty() {
                diagnostics.push(Diagnostic::error(
                    "rules::never-applies",
                    source,
                    Some(span.clone()),
                    format!(
                        "rule `{}` can never apply: its effective dates lie outside the pack's",
                        rule.id
                    ),
                ));
            }
        }
        layering::check_duplicates(&packs, &rules, &rule_spans, &sources, &mut diagnostics);
        layering::check_overlays(&packs, &rules, &rule_spans, &mut diagnostics);
        layering::check_gaps(&packs, &pack_spans, &mut diagnostics);
        shadowing::check_shadowed(&packs, &rules, &rule_spans, &mut diagnostics);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(PolicyError::Invalid(diagnostics));
        }
        let configured = settings.digest_entry();
        let digest_input: Vec<(&str, &toml::Table)> = contents
            .iter()
            .map(|(id, table)| (&**id, table))
            // Not a pack id (packs' ids cannot contain `[`), so it cannot collide.
            .chain(configured.iter().map(|table| ("[configuration]", table)))
            .collect();
        let digest = Arc::from(digest::digest(&digest_input));
        let governing = governing_index(&rules);
        let contact_reach = governing
            .iter()
            .map(|gates| {
                gates
                    .iter()
                    .filter_map(|gate| rules.get(gate.rule))
                    .fold(ContactReach::none(), |reach, rule| {
                        reach.union(rule.contact_reach())
                    })
            })
            .collect();
        Ok(Policy {
            packs,
            rules,
            governing,
            contact_reach,
            digest,
            warnings: diagnostics,
            sources,
            collector: settings.collector,
        })
    }

    /// Who collects an account's debt: the account's own kind, else the configured
    /// one; `None` when neither says (every collector-scoped pack then applies).
    pub fn collector_of(&self, account: &Account) -> Option<CollectorKind> {
        account
            .collector
            .or(self.collector)
            .filter(|kind| *kind != CollectorKind::Unknown)
    }

    /// The packs, in load order.
    pub fn packs(&self) -> &[Pack] {
        &self.packs
    }

    /// Every rule of every pack.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// What of our own past contacts the rules that govern a channel and purpose can
    /// read, whatever their scope and `when` ([`Rule::contact_reach`]).
    pub fn contact_reach(&self, channel: Channel, purpose: Purpose) -> ContactReach {
        self.contact_reach
            .get(governing_slot(channel, purpose))
            .copied()
            // Not reached: every slot has its reach. Were one missing, all (fail closed).
            .unwrap_or(ContactReach {
                channels: Set::full(),
                span: chrono::TimeDelta::MAX,
            })
    }

    /// The rules that govern a channel and purpose, before scope and `when`.
    pub fn governing(&self, channel: Channel, purpose: Purpose) -> impl Iterator<Item = &Rule> {
        self.governing_gates(channel, purpose)
            .iter()
            .filter_map(|gate| self.rules.get(gate.rule))
    }

    /// [`Policy::governing`] as gates, which say whether a rule applies to a question
    /// without reading the rule.
    pub fn governing_gates(&self, channel: Channel, purpose: Purpose) -> &[Gate] {
        self.governing
            .get(governing_slot(channel, purpose))
            .map_or(&[], Vec::as_slice)
    }

    /// `sha256:…` of the canonical content of every pack.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The digest, shared (every decision carries it).
    pub fn shared_digest(&self) -> Arc<str> {
        Arc::clone(&self.digest)
    }

    /// The pack files (name, text) the policy was compiled from, as loaded: what a digest
    /// stands for.
    pub fn source_texts(&self) -> Vec<(String, String)> {
        self.sources
            .iter()
            .map(|source| (source.name.to_string(), source.text.to_string()))
            .collect()
    }

    /// Warnings found while loading.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The pack texts, kept so the exact rules behind a decision can be shown.
    pub fn sources(&self) -> &[SourceFile] {
        &self.sources
    }

    /// The pack of a rule.
    pub fn pack_of(&self, rule: &Rule) -> Option<&Pack> {
        self.packs.get(rule.pack)
    }

    /// Which packs apply to an account, each with the reason in plain words.
    pub fn applicable_packs(&self, account: &Account) -> Vec<(usize, Applicability)> {
        let collector = self.collector_of(account);
        self.packs
            .iter()
            .enumerate()
            .map(|(index, pack)| (index, scope_applies(&pack.scope, account, collector)))
            .collect()
    }
}

/// Moves packs' dates as the configuration says, then ends every superseded pack the
/// day before its successor starts. Every problem becomes a diagnostic.
fn resolve_dates(
    packs: &mut [Pack],
    spans: &[(SourceFile, compile::PackSpans)],
    settings: &Settings,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (id, from) in &settings.effective_from {
        match packs.iter_mut().find(|pack| *pack.id == **id) {
            Some(pack) => pack.effective.from = Some(*from),
            None => diagnostics.push(Diagnostic::without_source(
                "rules::unknown-pack",
                "configuration [rules.effective_from]",
                format!(
                    "the configuration moves the start of pack `{id}`, but no pack has that id"
                ),
            )),
        }
    }
    let starts: BTreeMap<String, Option<NaiveDate>> = packs
        .iter()
        .map(|pack| (pack.id.to_string(), pack.effective.from))
        .collect();
    for (pack, (source, spans)) in packs.iter_mut().zip(spans) {
        let Some(successor) = pack.superseded_by.clone() else {
            continue;
        };
        let span = spans.superseded_by.clone();
        let until = match starts.get(&successor) {
            None => {
                diagnostics.push(Diagnostic::error(
                    "rules::unknown-pack",
                    source,
                    span,
                    format!("`superseded_by` names pack `{successor}`, which is not loaded"),
                ));
                continue;
            }
            Some(None) => {
                diagnostics.push(Diagnostic::error(
                    "rules::never-applies",
                    source,
                    span,
                    format!("pack `{successor}` has no `effective_from`, so it never takes over from pack `{}`", pack.id),
                ));
                continue;
            }
            Some(Some(start)) => start.checked_sub_days(Days::new(1)),
        };
        pack.effective.until = until;
        if pack.effective.is_empty() || until.is_none() {
            diagnostics.push(Diagnostic::error(
                "rules::never-applies",
                source,
                span,
                format!(
                    "pack `{}` can never apply: its successor `{successor}` starts before it does",
                    pack.id
                ),
            ));
        }
    }
    for (pack, (source, spans)) in packs.iter().zip(spans) {
        if settings.effective_from.contains_key(&*pack.id) && pack.effective.is_empty() {
            diagnostics.push(Diagnostic::error(
                "rules::never-applies",
                source,
                spans.effective_from.clone(),
                format!(
                    "the configuration moves the start of pack `{}` past its `effective_until`",
                    pack.id
                ),
            ));
        }
    }
}

/// Whether a pack's scope covers an account, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applicability {
    /// It applies; the reason says on what grounds.
    Applies(String),
    /// It does not apply; the reason says which criterion excluded it.
    DoesNotApply(String),
}

impl Applicability {
    /// Whether the pack applies.
    pub fn applies(&self) -> bool {
        matches!(self, Applicability::Applies(_))
    }
}

/// Whether a pack's scope covers an account: the fast form of [`scope_applies`],
/// used on every decision (no explanation is built).
// Inline, with the criteria read out of line: a baseline pack (most packs, asked of
// every account) has none to read.
#[inline]
pub fn scope_covers(scope: &Scope, account: &Account, collector: Option<CollectorKind>) -> bool {
    collector_covered(scope, collector) && (scope.is_baseline() || criteria_cover(scope, account))
}

/// Whether the account meets every criterion of a scope that has some.
#[inline(never)]
fn criteria_cover(scope: &Scope, account: &Account) -> bool {
    // The state first: it rules most accounts out of a state's pack before the other
    // criteria are read.
    !matches!(
        criterion(&scope.states, account.consumer.state()),
        Criterion::Differs(_)
    ) && scope_criteria(scope, account)
        .iter()
        .all(|(_, _, matching)| !matches!(matching, Criterion::Differs(_)))
}

/// Whether the pack binds this collector. An unknown collector is covered by every
/// pack (fail closed: it decides as an FDCPA debt collector, whom every shipped pack
/// binds).
fn collector_covered(scope: &Scope, collector: Option<CollectorKind>) -> bool {
    scope.collectors.is_empty()
        || collector
            .is_none_or(|kind| kind == CollectorKind::Unknown || scope.collectors.contains(&kind))
}

fn collector_list(scope: &Scope) -> String {
    scope
        .collectors
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Scope matching, with the reason in plain words. A criterion the account does not
/// state is treated as met (fail closed): an account with no known state gets every
/// state's pack.
pub fn scope_applies(
    scope: &Scope,
    account: &Account,
    collector: Option<CollectorKind>,
) -> Applicability {
    let mut grounds = Vec::new();
    if !scope.collectors.is_empty() {
        match collector.filter(|kind| *kind != CollectorKind::Unknown) {
            None => grounds.push(format!(
                "the collector is not known, so it decides as an FDCPA debt collector (the pack binds {})",
                collector_list(scope)
            )),
            Some(kind) if scope.collectors.contains(&kind) => grounds.push(format!(
                "the collector is {} (the pack binds {})",
                kind.as_str(),
                collector_list(scope)
            )),
            Some(kind) => {
                return Applicability::DoesNotApply(format!(
                    "the law binds {}, and the collector is {}",
                    collector_list(scope),
                    kind.as_str()
                ));
            }
        }
    }
    for (kind, list, matching) in scope_criteria(scope, account) {
        match matching {
            Criterion::Unrestricted => {}
            Criterion::Unknown => grounds.push(kind.unknown().to_string()),
            Criterion::Matches(value) => grounds.push(kind.matched(value)),
            Criterion::Differs(value) => {
                return Applicability::DoesNotApply(kind.differs(value, list));
            }
        }
    }
    if grounds.is_empty() {
        Applicability::Applies("it applies to every account".to_string())
    } else {
        Applicability::Applies(grounds.join("; "))
    }
}

/// The criteria of a scope, each with how the account meets it.
fn scope_criteria<'a>(
    scope: &'a Scope,
    account: &'a Account,
) -> [(ScopeKind, &'a [String], Criterion<'a>); 4] {
    let address = account.consumer.address.as_ref();
    let state = account.consumer.state();
    let city = address.and_then(|a| a.city.as_deref());
    let postal_code = address.and_then(|a| a.postal_code.as_deref());
    [
        (
            ScopeKind::State,
            &scope.states,
            criterion(&scope.states, state),
        ),
        place_criterion(scope, city, postal_code),
        (
            ScopeKind::DebtType,
            &scope.debt_types,
            criterion(&scope.debt_types, account.debt_type.as_deref()),
        ),
        (
            ScopeKind::Creditor,
            &scope.creditors,
            criterion(&scope.creditors, account.creditor.as_deref()),
        ),
    ]
}

/// How one scope criterion meets the account's value.
enum Criterion<'a> {
    /// The scope does not restrict it.
    Unrestricted,
    /// The account does not say (met: fail closed).
    Unknown,
    /// The account's value is listed.
    Matches(&'a str),
    /// The account's value is not listed.
    Differs(&'a str),
}

/// The one matching rule: case-insensitive, surrounding spaces ignored.
// Inline: a one-shot decision asks it of every pack with a state list (out of line,
// its call and its result's moves cost ≈ 20 instructions a decision).
#[inline(always)]
fn criterion<'a>(list: &[String], value: Option<&'a str>) -> Criterion<'a> {
    if list.is_empty() {
        return Criterion::Unrestricted;
    }
    let Some(value) = value.map(crate::domain::trimmed) else {
        return Criterion::Unknown;
    };
    // A loop, not `Iterator::any`, which stayed out of line (≈ 45 instructions a decision).
    for item in list {
        if item.eq_ignore_ascii_case(value) {
            return Criterion::Matches(value);
        }
    }
    Criterion::Differs(value)
}

/// The consumer's place, when the scope names cities or ZIP codes: met by either (a
/// Flushing address that says "Queens" nowhere is in New York City by its ZIP code);
/// not met when what the account gives says elsewhere; unknown (met: fail closed) when
/// it gives neither.
fn place_criterion<'a>(
    scope: &'a Scope,
    city: Option<&'a str>,
    postal_code: Option<&'a str>,
) -> (ScopeKind, &'a [String], Criterion<'a>) {
    let by_city = (
        ScopeKind::City,
        scope.cities.as_slice(),
        criterion(&scope.cities, city),
    );
    let by_zip = (
        ScopeKind::PostalCode,
        scope.postal_codes.as_slice(),
        postal_criterion(&scope.postal_codes, postal_code),
    );
    // A city line close to one of the pack's cities (`Brooklin`) with no ZIP code to
    // settle it: the pack applies (fail closed), and says why.
    if let Criterion::Differs(written) = by_city.2
        && (scope.postal_codes.is_empty() || matches!(by_zip.2, Criterion::Unknown))
        && did_you_mean(written, scope.cities.iter().map(String::as_str)).is_some()
    {
        return (
            ScopeKind::CloseCity,
            &scope.cities,
            Criterion::Matches(written),
        );
    }
    if scope.postal_codes.is_empty() {
        return by_city;
    }
    if scope.cities.is_empty() {
        return by_zip;
    }
    match (&by_city.2, &by_zip.2) {
        (Criterion::Matches(_), _) => by_city,
        (_, Criterion::Matches(_)) => by_zip,
        (Criterion::Differs(_), _) => by_city,
        _ => by_zip,
    }
}

/// A ZIP code (`11354` or `11354-1234`) against prefixes.
fn postal_criterion<'a>(prefixes: &[String], value: Option<&'a str>) -> Criterion<'a> {
    let Some(value) = value.map(str::trim) else {
        return Criterion::Unknown;
    };
    let zip = value.split('-').next().unwrap_or_default();
    if prefixes
        .iter()
        .any(|prefix| zip.starts_with(prefix.as_str()))
    {
        Criterion::Matches(value)
    } else {
        Criterion::Differs(value)
    }
}

/// The criteria a scope has, for explanations.
#[derive(Clone, Copy)]
enum ScopeKind {
    State,
    City,
    /// A city line that is not one of the pack's cities but close to one.
    CloseCity,
    PostalCode,
    DebtType,
    Creditor,
}

impl ScopeKind {
    fn matched(self, value: &str) -> String {
        match self {
            ScopeKind::State => format!("the consumer's state is {}", value.to_ascii_uppercase()),
            ScopeKind::City => format!("the consumer's city is {value}"),
            ScopeKind::PostalCode => {
                format!("the consumer's ZIP code {value} is among the pack's")
            }
            ScopeKind::CloseCity => format!(
                "the consumer's city `{value}` is not one of the pack's but close to one, and no ZIP code settles it, so the pack applies"
            ),
            ScopeKind::DebtType => format!("the debt type is {value}"),
            ScopeKind::Creditor => format!("the creditor is {value}"),
        }
    }

    fn differs(self, value: &str, list: &[String]) -> String {
        match self {
            ScopeKind::State => {
                format!("the consumer's state {value} is not in {}", list.join(", "))
            }
            ScopeKind::City => format!("the consumer's city {value} is not covered"),
            ScopeKind::PostalCode => format!("the consumer's ZIP code {value} is not covered"),
            ScopeKind::CloseCity => format!("the consumer's city {value} is not covered"),
            ScopeKind::DebtType => format!("the debt type {value} is not covered"),
            ScopeKind::Creditor => format!("the creditor {value} is not covered"),
        }
    }

    fn unknown(self) -> &'static str {
        match self {
            ScopeKind::State => "the consumer's state is unknown, so every state's rules apply",
            ScopeKind::City => {
                "the consumer's city is unknown, so every city's rules in the state apply"
            }
            ScopeKind::PostalCode | ScopeKind::CloseCity => {
                "the consumer's city and ZIP code are unknown, so every city's rules in the state apply"
            }
            ScopeKind::DebtType => "the debt type is unknown",
            ScopeKind::Creditor => "the creditor is unknown",
        }
    }
}

fn governing_slot(channel: Channel, purpose: Purpose) -> usize {
    channel as usize * Purpose::ALL.len() + purpose as usize
}

fn governing_index(rules: &[Rule]) -> Vec<Vec<Gate>> {
    let mut index = vec![Vec::new(); Channel::ALL.len() * Purpose::ALL.len()];
    for channel in Channel::ALL {
        for purpose in Purpose::ALL {
            if let Some(slot) = index.get_mut(governing_slot(channel, purpose)) {
                slot.extend(
                    rules
                        .iter()
                        .enumerate()
                        .filter(|(_, rule)| {
                            rule.channels.contains(channel) && governs(rule, channel, purpose)
                        })
                        .map(|(index, rule)| Gate::of(index, rule)),
                );
            }
        }
    }
    index
}

/// Whether a rule governs a contact of this purpose on this channel. An opt-out
/// confirmation exists only as an electronic message confirming an opt-out of
/// electronic communications (12 CFR 1006.14(h)(2)(i)): a call, letter or visit that
/// calls itself one is an ordinary contact, governed by every rule that governs the
/// confirmation or ordinary collection, whatever the rule exempts (fail closed).
fn governs(rule: &Rule, channel: Channel, purpose: Purpose) -> bool {
    rule.purposes.contains(purpose)
        || (purpose == Purpose::OptOutConfirmation
            && !channel.is_electronic()
            && rule.purposes.contains(Purpose::Collection))
}

fn no_packs(place: &str) -> Diagnostic {
    Diagnostic::without_source(
        "rules::no-packs",
        place,
        "no rule packs (*.toml) were found; the engine refuses to decide without a policy",
    )
}

/// Reads the pack files of a directory, sorted by name; a file that is not UTF-8 text
/// comes back as a diagnostic naming it and the place of its first invalid byte.
fn read_pack_files(dir: &Path) -> Result<(Vec<SourceFile>, Vec<Diagnostic>), PolicyError> {
    let io_error = |path: &Path, source| PolicyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_file() && name.ends_with(".toml") && !name.ends_with(".tests.toml") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut sources = Vec::new();
    let mut unreadable = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
        let name = path.display().to_string();
        match String::from_utf8(bytes) {
            Ok(text) => sources.push(SourceFile::new(name, Arc::<str>::from(text))),
            Err(error) => unreadable.push(not_utf8(&name, error.as_bytes(), error.utf8_error())),
        }
    }
    Ok((sources, unreadable))
}

/// The diagnostic of a pack file that is not UTF-8: the valid text before the first bad
/// byte is shown, and the bad byte is pointed at.
fn not_utf8(name: &str, bytes: &[u8], error: std::str::Utf8Error) -> Diagnostic {
    let valid = error.valid_up_to();
    let text = String::from_utf8_lossy(bytes.get(..valid).unwrap_or_default()).into_owned();
    let source = SourceFile::new(name, format!("{text}\u{FFFD}"));
    let byte = bytes.get(valid).copied().unwrap_or_default();
    Diagnostic::error(
        "rules::not-utf8",
        &source,
        Some(valid..valid + '\u{FFFD}'.len_utf8()),
        format!(
            "the file is not UTF-8 text: byte 0x{byte:02X} cannot start or continue a character"
        ),
    )
    .with_help("save the file as UTF-8 (rule packs are TOML, which is always UTF-8)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(json: &str) -> Account {
        serde_json::from_str(json).unwrap()
    }

    /// A pack of `rules` under a minimal header.
    fn pack_of(rules: &str) -> SourceFile {
        let header = "[pack]\nid = \"t\"\ntitle = \"T\"\nversion = \"1\"\ncitation = \"C\"\n\n";
        SourceFile::new("t.toml", format!("{header}{rules}"))
    }

    fn errors(pack: &str) -> Vec<(&'static str, Option<usize>, String)> {
        match Policy::from_sources(vec![pack_of(pack)]) {
            Ok(_) => Vec::new(),
            Err(PolicyError::Invalid(diagnostics)) => diagnostics
                .into_iter()
                .filter(|d| d.is_error())
                .map(|d| (d.code, d.line, d.message))
                .collect(),
            Err(other) => panic!("{other}"),
        }
    }

    const CAP: &str = "[[cap]]\nid = \"t.cap\"\ncitation = \"C\"\nmessage = \"M\"\nchannels = [\"call\"]\nmax = 2\ncalendar_days = 7\n";

    #[test]
    fn an_unknown_purpose_in_not_counting_is_an_error_at_its_place() {
        let found = errors(&format!("{CAP}not_counting = [\"response\"]\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        let (code, line, message) = &found[0];
        assert_eq!(*code, "rules::unknown-value");
        assert_eq!(*line, Some(14));
        assert!(message.contains("`response`"), "{message}");
        assert!(errors(&format!("{CAP}not_counting = [\"response_to_consumer\"]\n")).is_empty());
    }

    #[test]
    fn not_counting_every_governed_purpose_never_applies_and_belongs_to_caps_only() {
        let found = errors(&format!(
            "{CAP}purposes = [\"legally_required\"]\nnot_counting = [\"legally_required\"]\n"
        ));
        assert_eq!(
            found.first().map(|f| f.0),
            Some("rules::never-applies"),
            "{found:?}"
        );
        let hold = "[[hold]]\nid = \"t.hold\"\ncitation = \"C\"\nmessage = \"M\"\nchannels = [\"call\"]\nflag = \"deceased\"\nnot_counting = [\"collection\"]\nunless = [\"consumer_used_pont\"]\n";
        let codes: Vec<&str> = errors(hold).iter().map(|f| f.0).collect();
        assert!(codes.contains(&"rules::unknown-key"), "{codes:?}");
        assert!(codes.contains(&"rules::unknown-value"), "{codes:?}");
    }

    #[test]
    fn a_confirmation_by_call_letter_or_visit_is_governed_as_collection() {
        let hold = "[[hold]]\nid = \"t.hold\"\ncitation = \"C\"\nmessage = \"M\"\nchannels = [\"call\", \"sms\"]\nflag = \"opted_out\"\nexcept_purposes = [\"opt_out_confirmation\"]\n";
        let policy = Policy::from_sources(vec![pack_of(hold)]).expect("valid");
        assert_eq!(
            policy
                .governing(Channel::Call, Purpose::OptOutConfirmation)
                .count(),
            1
        );
        assert_eq!(
            policy
                .governing(Channel::Sms, Purpose::OptOutConfirmation)
                .count(),
            0
        );
    }

    #[test]
    fn a_question_reads_of_our_contacts_what_its_caps_and_cooldowns_count() {
        let rules = "[[cap]]\nid = \"t.cap\"\ncitation = \"C\"\nmessage = \"M\"\nchannels = [\"call\"]\nmax = 7\nrolling = \"7d\"\ncount = { channels = [\"call\", \"sms\"] }\n\n[[cooldown]]\nid = \"t.cool\"\ncitation = \"C\"\nmessage = \"M\"\nchannels = [\"email\"]\nafter = { channels = [\"call\"], outcomes = [\"conversation\"] }\ncalendar_days = 3\nexclude_consent_days = 20\n\n[[hold]]\nid = \"t.hold\"\ncitation = \"C\"\nmessage = \"M\"\nchannels = [\"sms\", \"letter\"]\nflag = \"deceased\"\n";
        let policy = Policy::from_sources(vec![pack_of(rules)]).expect("valid");
        let reach = |channel| policy.contact_reach(channel, Purpose::Collection);
        let channels = |channel| reach(channel).channels.iter().collect::<Vec<_>>();
        // The cap counts calls and texts for a call.
        assert_eq!(channels(Channel::Call), [Channel::Call, Channel::Sms]);
        assert_eq!(reach(Channel::Call).span, chrono::TimeDelta::days(7));
        // The cooldown's calls, and the emails whose conversations end a consent.
        assert_eq!(channels(Channel::Email), [Channel::Call, Channel::Email]);
        assert_eq!(reach(Channel::Email).span, chrono::TimeDelta::days(20));
        // A hold reads none of our contacts.
        assert!(reach(Channel::Sms).channels.is_empty());
        assert!(reach(Channel::Letter).channels.is_empty());
        assert_eq!(reach(Channel::Sms).span, chrono::TimeDelta::zero());
    }

    #[test]
    fn the_explanation_and_the_engine_agree_on_every_scope_criterion() {
        let scope = Scope {
            states: vec!["NY".into()],
            cities: vec!["new york".into()],
            debt_types: vec!["medical".into()],
            creditors: vec!["acme".into()],
            ..Scope::default()
        };
        let cases = [
            (r#"{"id": "1", "consumer": {}}"#, true),
            (
                r#"{"id": "2", "debt_type": " Medical ", "creditor": "ACME", "consumer": {"address": {"state": "ny", "city": " New York "}}}"#,
                true,
            ),
            (
                r#"{"id": "3", "debt_type": "credit_card", "consumer": {"address": {"state": "NY"}}}"#,
                false,
            ),
            (
                r#"{"id": "4", "consumer": {"address": {"state": "NY", "city": "Buffalo"}}}"#,
                false,
            ),
            (
                r#"{"id": "5", "consumer": {"address": {"state": "MA"}}}"#,
                false,
            ),
        ];
        for (json, expected) in cases {
            let account = account(json);
            assert_eq!(scope_covers(&scope, &account, None), expected, "{json}");
            assert_eq!(
                scope_applies(&scope, &account, None).applies(),
                expected,
                "{json}"
            );
        }
    }
}

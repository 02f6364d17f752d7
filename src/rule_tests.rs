//! Policy tests as data: `rules/<pack>.tests.toml` files of cases (an account, its
//! history, a channel and an instant → the expected decision), run by
//! `dunner rules test` and by `cargo test`.
//!
//! Cases are turned into the same JSON request `dunner decide` takes, so a case
//! exercises exactly the contract callers use. It sits above both `policy` and
//! `engine` (it runs the engine's decisions on a compiled policy), so that `policy`
//! never imports `engine`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::domain::Flag;
use crate::engine::{DecideRequest, Decision, decide};
use crate::policy::model::RuleKind;
use crate::policy::{Applicability, Policy, SourceFile, canonical_json};

/// A test file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    accounts: BTreeMap<String, toml::Value>,
    #[serde(default, rename = "case")]
    cases: Vec<CaseSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSource {
    name: Spanned<String>,
    at: toml::Value,
    channel: String,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    contact_point: Option<String>,
    account: toml::Value,
    #[serde(default)]
    account_overrides: Option<toml::Table>,
    #[serde(default)]
    history: Vec<toml::Value>,
    #[serde(default)]
    horizon_days: Option<u32>,
    expect: Expectation,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    allowed: bool,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    next_allowed_at: Option<toml::Value>,
    #[serde(default)]
    rules: Option<Vec<String>>,
    #[serde(default)]
    warnings: Option<Vec<String>>,
    #[serde(default)]
    obligations: Option<Vec<String>>,
}

/// The result of one case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    /// `file:line` of the case.
    pub location: String,
    /// The case's name.
    pub name: String,
    /// Every way the decision differed from the expectation; empty when it passed.
    pub failures: Vec<String>,
    /// The rules the case exercised.
    pub exercised: Exercised,
}

/// The rules one case exercised: those its decision cites (a refusal, a warning, an
/// obligation), and those that governed an allowed contact without refusing it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Exercised {
    /// Cited by the decision.
    pub cited: Vec<String>,
    /// Governed the allowed contact and let it through.
    pub let_through: Vec<String>,
}

/// How the cases of a run exercised one rule.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleCoverage {
    /// The rule.
    pub rule: String,
    /// Its pack.
    pub pack: String,
    /// Cases whose decision cites it.
    pub cited: usize,
    /// Allowed cases it governed without refusing.
    pub let_through: usize,
}

/// Every rule of the policy with how the cases exercised it, in policy order.
pub fn coverage(policy: &Policy, report: &TestReport) -> Vec<RuleCoverage> {
    policy
        .rules()
        .iter()
        .map(|rule| {
            let count = |pick: fn(&Exercised) -> &Vec<String>| {
                report
                    .cases
                    .iter()
                    .filter(|case| pick(&case.exercised).iter().any(|id| **id == *rule.id))
                    .count()
            };
            RuleCoverage {
                rule: rule.id.to_string(),
                pack: policy
                    .packs()
                    .get(rule.pack)
                    .map_or_else(String::new, |pack| pack.id.to_string()),
                cited: count(|exercised| &exercised.cited),
                let_through: count(|exercised| &exercised.let_through),
            }
        })
        .collect()
}

/// What the decision of `request` exercised.
fn exercised(policy: &Policy, request: &DecideRequest, decision: &Decision) -> Exercised {
    let cited: Vec<String> = decision
        .reasons
        .iter()
        .chain(&decision.warnings)
        .map(|reason| reason.rule.to_string())
        .chain(decision.obligations.iter().map(|o| o.rule.to_string()))
        .collect();
    if !decision.allowed {
        return Exercised {
            cited,
            let_through: Vec::new(),
        };
    }
    let applicable: Vec<usize> = policy
        .applicable_packs(&request.account)
        .into_iter()
        .filter(|(_, applicability)| matches!(applicability, Applicability::Applies(_)))
        .map(|(index, _)| index)
        .collect();
    let holds = |flag: &Flag| request.account.flags.get(*flag) == Some(true);
    let let_through = policy
        .rules()
        .iter()
        .filter(|rule| {
            applicable.contains(&rule.pack)
                && rule.channels.contains(request.channel)
                && rule.purposes.contains(request.purpose)
                && rule.effective.contains(request.at.date_naive())
                && rule.when.flags.iter().all(holds)
                // A hold whose flag is down did not govern: it was not tried.
                && match &rule.kind {
                    RuleKind::Hold(Some(flag)) => holds(flag),
                    _ => true,
                }
                && !cited.iter().any(|id| **id == *rule.id)
        })
        .map(|rule| rule.id.to_string())
        .collect();
    Exercised { cited, let_through }
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Every case of every test file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TestReport {
    /// One entry per case, in file order.
    pub cases: Vec<CaseResult>,
    /// Files that could not be read or parsed, with the reason.
    pub file_errors: Vec<String>,
}

impl TestReport {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed()).count()
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    /// Whether everything passed and every file was readable.
    pub fn success(&self) -> bool {
        self.failed() == 0 && self.file_errors.is_empty() && !self.cases.is_empty()
    }
}

/// The test files of a rules directory: `*.tests.toml` in it and any `*.toml` in its
/// `tests/` folder, sorted.
pub fn test_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".tests.toml"))
        {
            files.push(path);
        }
    }
    let nested = dir.join("tests");
    if nested.is_dir() {
        for entry in std::fs::read_dir(&nested)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Runs every case of the given files against the policy.
pub fn run_files(policy: &Policy, files: &[PathBuf]) -> TestReport {
    let mut report = TestReport::default();
    for path in files {
        match std::fs::read_to_string(path) {
            Ok(text) => run_text(
                policy,
                &SourceFile::new(path.display().to_string(), text),
                &mut report,
            ),
            Err(error) => report
                .file_errors
                .push(format!("{}: failed to read: {error}", path.display())),
        }
    }
    report
}

/// Runs the cases of one file's text.
pub fn run_text(policy: &Policy, source: &SourceFile, report: &mut TestReport) {
    let file: TestFile = match toml::from_str(&source.text) {
        Ok(file) => file,
        Err(error) => {
            let place = error.span().map(|s| source.line_column(s.start));
            let location = place.map_or(source.name.to_string(), |(l, c)| {
                format!("{}:{l}:{c}", source.name)
            });
            report
                .file_errors
                .push(format!("{location}: {}", error.message().trim()));
            return;
        }
    };
    for case in file.cases {
        let (line, _) = source.line_column(case.name.span().start);
        let location = format!("{}:{line}", source.name);
        let name = case.name.get_ref().clone();
        let (failures, exercised) = match request_of(&case, &file.accounts) {
            Ok(request) => {
                let decision = decide(policy, &request);
                (
                    compare(&case.expect, &decision),
                    exercised(policy, &request, &decision),
                )
            }
            Err(message) => (
                vec![format!("the case is not a valid request: {message}")],
                Exercised::default(),
            ),
        };
        report.cases.push(CaseResult {
            location,
            name,
            failures,
            exercised,
        });
    }
}

fn request_of(
    case: &CaseSource,
    accounts: &BTreeMap<String, toml::Value>,
) -> Result<DecideRequest, String> {
    let mut account = match &case.account {
        toml::Value::String(name) => accounts
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no account named `{name}` in [accounts]"))?,
        inline => inline.clone(),
    };
    if let Some(overrides) = &case.account_overrides {
        merge(&mut account, &toml::Value::Table(overrides.clone()));
    }
    let mut request = serde_json::Map::new();
    request.insert("at".into(), canonical_json(&case.at));
    request.insert("channel".into(), case.channel.clone().into());
    if let Some(purpose) = &case.purpose {
        request.insert("purpose".into(), purpose.clone().into());
    }
    if let Some(point) = &case.contact_point {
        request.insert("contact_point".into(), point.clone().into());
    }
    request.insert("account".into(), canonical_json(&account));
    request.insert(
        "history".into(),
        serde_json::Value::Array(case.history.iter().map(canonical_json).collect()),
    );
    if let Some(days) = case.horizon_days {
        request.insert("horizon_days".into(), days.into());
    }
    DecideRequest::from_json(&serde_json::Value::Object(request).to_string())
        .map_err(|e| e.to_string())
}

/// Deep-merges `overlay` into `base`: tables merge key by key, other values replace.
fn merge(base: &mut toml::Value, overlay: &toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

fn compare(expect: &Expectation, decision: &Decision) -> Vec<String> {
    let mut failures = Vec::new();
    if expect.allowed != decision.allowed {
        failures.push(format!(
            "allowed: expected {}, got {}",
            expect.allowed, decision.allowed
        ));
    }
    if let Some(outcome) = &expect.outcome {
        let actual = serde_json::to_value(decision.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        if *outcome != actual {
            failures.push(format!("outcome: expected {outcome}, got {actual}"));
        }
    }
    if let Some(expected) = &expect.next_allowed_at {
        let expected = match expected {
            toml::Value::String(text) if text == "none" => None,
            other => match canonical_json(other)
                .as_str()
                .map(|t| t.parse::<chrono::DateTime<chrono::Utc>>())
            {
                Some(Ok(instant)) => Some(instant),
                _ => {
                    failures.push(format!(
                        "next_allowed_at: `{other}` is neither an instant nor \"none\""
                    ));
                    return failures;
                }
            },
        };
        if expected != decision.next_allowed_at {
            let show = |i: Option<chrono::DateTime<chrono::Utc>>| {
                i.map_or("none".to_string(), |i| i.to_rfc3339())
            };
            failures.push(format!(
                "next_allowed_at: expected {}, got {}",
                show(expected),
                show(decision.next_allowed_at)
            ));
        }
    }
    let ids = |items: &mut dyn Iterator<Item = &str>| {
        let mut ids: Vec<String> = items.map(str::to_string).collect();
        ids.sort();
        ids
    };
    let mut check_set = |what: &str, expected: &Option<Vec<String>>, actual: Vec<String>| {
        if let Some(expected) = expected {
            let mut expected = expected.clone();
            expected.sort();
            if expected != actual {
                failures.push(format!(
                    "{what}: expected [{}], got [{}]",
                    expected.join(", "),
                    actual.join(", ")
                ));
            }
        }
    };
    check_set(
        "rules",
        &expect.rules,
        ids(&mut decision.reasons.iter().map(|r| &*r.rule)),
    );
    check_set(
        "warnings",
        &expect.warnings,
        ids(&mut decision.warnings.iter().map(|r| &*r.rule)),
    );
    check_set(
        "obligations",
        &expect.obligations,
        ids(&mut decision.obligations.iter().map(|o| &*o.code)),
    );
    failures
}

//! `dunner rules check | test | explain`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{Exit, Format, fail, stderr_is_terminal};
use crate::dispatch::templates::{Sender, TemplateError, TemplateProblem, Templates};
use crate::domain::Account;
use crate::engine::zones::candidate_zones;
use crate::policy::diagnostics::{Diagnostic, render_human};
use crate::policy::model::{DateRange, Per, Period, RuleKind};
use crate::policy::{Applicability, Policy, PolicyError, Settings};
use crate::rule_tests;

/// Loads the policy, printing every diagnostic (human form) on failure.
pub fn load_or_report(dir: &Path) -> Result<Policy, Exit> {
    load_or_report_with(dir, &Settings::default())
}

/// [`load_or_report`] with the configuration's settings (`[rules]`).
pub fn load_or_report_with(dir: &Path, settings: &Settings) -> Result<Policy, Exit> {
    match Policy::load_with(dir, settings) {
        Ok(policy) => Ok(policy),
        Err(PolicyError::Invalid(diagnostics)) => {
            eprint!("{}", render_human(&diagnostics, stderr_is_terminal()));
            Err(fail(
                Exit::InvalidRules,
                format!(
                    "the rule packs in {} are invalid; no decision can be made",
                    dir.display()
                ),
            ))
        }
        Err(error) => Err(fail(Exit::Failure, error)),
    }
}

/// `dunner rules check`: the packs, and the email templates when there are some.
pub fn check(
    dir: &Path,
    templates: Option<&Path>,
    format: Format,
    config_file: Option<&Path>,
) -> Exit {
    // The configuration may move packs' dates and name the collector: check the packs
    // as the daemon would load them.
    let settings = match crate::config::load(config_file) {
        Ok(loaded) => loaded.config.rules.settings(),
        Err(error) => return fail(Exit::Failure, error),
    };
    let (diagnostics, summary, exit) = match Policy::load_with(dir, &settings) {
        Ok(policy) => {
            let summary = format!(
                "{} pack(s), {} rule(s) valid; policy digest {}",
                policy.packs().len(),
                policy.rules().len(),
                policy.digest()
            );
            (policy.warnings().to_vec(), summary, Exit::Ok)
        }
        Err(PolicyError::Invalid(diagnostics)) => {
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            let summary = format!("{errors} error(s) in the rule packs of {}", dir.display());
            (diagnostics, summary, Exit::InvalidRules)
        }
        Err(error) => return fail(Exit::Failure, error),
    };
    let templates = match templates_dir(dir, templates) {
        Some(templates_dir) => match check_templates(&templates_dir, config_file) {
            Ok(report) => Some(report),
            Err(exit) => return exit,
        },
        None => None,
    };
    print_diagnostics(
        &diagnostics,
        format,
        &summary,
        exit == Exit::Ok,
        templates.as_ref(),
    );
    match &templates {
        Some(report) if !report.problems.is_empty() => Exit::InvalidRules,
        _ => exit,
    }
}

/// What `rules check` found in the templates.
#[derive(Debug, serde::Serialize)]
struct TemplatesReport {
    dir: String,
    valid: bool,
    summary: String,
    problems: Vec<TemplateProblem>,
}

/// `--templates DIR`, else a `templates/` directory beside the rules directory.
fn templates_dir(rules: &Path, flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = flag {
        return Some(dir.to_path_buf());
    }
    let parent = match rules.file_name() {
        Some(_) => rules.parent().map(Path::to_path_buf),
        // `.` or `..`: the parent is only known from the absolute path.
        None => rules
            .canonicalize()
            .ok()
            .and_then(|path| path.parent().map(Path::to_path_buf)),
    }?;
    let sibling = parent.join("templates");
    sibling.is_dir().then_some(sibling)
}

/// Loads the templates with the configuration's opt-out line and agency.
fn check_templates(dir: &Path, config_file: Option<&Path>) -> Result<TemplatesReport, Exit> {
    let loaded = crate::config::load(config_file).map_err(|error| fail(Exit::Failure, error))?;
    let sender = Sender::from_config(&loaded.config.email, &loaded.config.agency);
    let shown = dir.display().to_string();
    match Templates::load(dir, &sender) {
        Ok(templates) => Ok(TemplatesReport {
            summary: format!(
                "{} email template(s) valid in {shown}",
                templates.purposes().len()
            ),
            dir: shown,
            valid: true,
            problems: Vec::new(),
        }),
        Err(TemplateError::Invalid(problems)) => Ok(TemplatesReport {
            summary: format!(
                "{} error(s) in the email templates of {shown}",
                problems.len()
            ),
            dir: shown,
            valid: false,
            problems,
        }),
        Err(TemplateError::Render(problem)) => Ok(TemplatesReport {
            summary: format!("1 error(s) in the email templates of {shown}"),
            dir: shown,
            valid: false,
            problems: vec![problem],
        }),
        Err(error) => Err(fail(Exit::Failure, error)),
    }
}

fn print_diagnostics(
    diagnostics: &[Diagnostic],
    format: Format,
    summary: &str,
    valid: bool,
    templates: Option<&TemplatesReport>,
) {
    match format {
        Format::Json => {
            let mut body = serde_json::json!({ "valid": valid, "summary": summary, "diagnostics": diagnostics });
            if let (Some(report), Some(object)) = (templates, body.as_object_mut()) {
                object.insert(
                    "templates".into(),
                    serde_json::to_value(report).unwrap_or_default(),
                );
            }
            outln!(
                "{}",
                serde_json::to_string_pretty(&body).unwrap_or_default()
            );
        }
        Format::Plain => {
            for diagnostic in diagnostics {
                eprintln!("{}", diagnostic.plain());
            }
            eprintln!("{summary}");
            print_templates(templates);
        }
        Format::Human => {
            eprint!("{}", render_human(diagnostics, stderr_is_terminal()));
            eprintln!("{summary}");
            print_templates(templates);
        }
    }
}

fn print_templates(templates: Option<&TemplatesReport>) {
    if let Some(report) = templates {
        for problem in &report.problems {
            eprintln!("error: {problem}");
        }
        eprintln!("{}", report.summary);
    }
}

pub fn test(dir: &Path, format: Format, with_coverage: bool) -> Exit {
    let policy = match load_or_report(dir) {
        Ok(policy) => policy,
        Err(exit) => return exit,
    };
    let files = match rule_tests::test_files(dir) {
        Ok(files) => files,
        Err(error) => {
            return fail(
                Exit::Failure,
                format!("failed to list policy tests in {}: {error}", dir.display()),
            );
        }
    };
    if files.is_empty() {
        return fail(
            Exit::Failure,
            format!("no policy tests (*.tests.toml) in {}", dir.display()),
        );
    }
    let report = rule_tests::run_files(&policy, &files);
    let coverage = with_coverage.then(|| rule_tests::coverage(&policy, &report));
    if format == Format::Json {
        let mut json = serde_json::to_value(&report).unwrap_or_default();
        if let (Some(object), Some(coverage)) = (json.as_object_mut(), &coverage) {
            object.insert(
                "coverage".into(),
                serde_json::to_value(coverage).unwrap_or_default(),
            );
        }
        outln!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else {
        for error in &report.file_errors {
            outln!("error: {error}");
        }
        for case in report.cases.iter().filter(|c| !c.passed()) {
            outln!("FAIL {}: {}", case.location, case.name);
            for failure in &case.failures {
                outln!("     {failure}");
            }
        }
        outln!("{} passed, {} failed", report.passed(), report.failed());
        if let Some(coverage) = &coverage {
            print_coverage(coverage);
        }
    }
    if report.success() {
        Exit::Ok
    } else {
        Exit::Failure
    }
}

/// The rules no case cited, and those no case exercised at all.
fn print_coverage(coverage: &[rule_tests::RuleCoverage]) {
    let cited = coverage.iter().filter(|rule| rule.cited > 0).count();
    let let_through = coverage.iter().filter(|rule| rule.let_through > 0).count();
    let exercised = coverage
        .iter()
        .filter(|rule| rule.cited + rule.let_through > 0)
        .count();
    outln!(
        "coverage: {exercised} of {} rules exercised; {cited} cited by a decision (refused, warned or obliged), {let_through} governed an allowed contact",
        coverage.len()
    );
    let list = |title: &str, rules: Vec<&rule_tests::RuleCoverage>| {
        if !rules.is_empty() {
            outln!("{title} ({}):", rules.len());
            for rule in rules {
                outln!("  {} ({})", rule.rule, rule.pack);
            }
        }
    };
    list(
        "never exercised",
        coverage
            .iter()
            .filter(|rule| rule.cited + rule.let_through == 0)
            .collect(),
    );
    list(
        "never cited: no case shows them refusing",
        coverage
            .iter()
            .filter(|rule| rule.cited == 0 && rule.let_through > 0)
            .collect(),
    );
    list(
        "never shown letting a contact through",
        coverage
            .iter()
            .filter(|rule| rule.let_through == 0 && rule.cited > 0)
            .collect(),
    );
}

pub fn explain(rules: &Path, account_file: &Path) -> Exit {
    let text = match std::fs::read_to_string(account_file) {
        Ok(text) => text,
        Err(error) => {
            return fail(
                Exit::Failure,
                format!(
                    "failed to read the account {}: {error}",
                    account_file.display()
                ),
            );
        }
    };
    let account: Account = match crate::engine::parse_json(text.as_bytes()) {
        Ok(account) => account,
        Err(error) => {
            return fail(
                Exit::Failure,
                format!("invalid account at `{}`: {}", error.field, error.message),
            );
        }
    };
    let policy = match load_or_report(rules) {
        Ok(policy) => policy,
        Err(exit) => return exit,
    };
    out!("{}", explanation(&policy, &account));
    Exit::Ok
}

/// The plain-words explanation of which packs and rules apply to an account.
pub fn explanation(policy: &Policy, account: &Account) -> String {
    let mut out = String::new();
    let zones: Vec<&str> = candidate_zones(&account.consumer)
        .iter()
        .map(|z| z.name())
        .collect();
    let _ = writeln!(out, "Account {} (policy {})", account.id, policy.digest());
    let _ = writeln!(
        out,
        "Time zones checked: {} (a time must be allowed in every one of them)",
        zones.join(", ")
    );
    let collector = match policy.collector_of(account) {
        Some(kind) => format!("{} (packs that bind other collectors do not apply)", kind.as_str()),
        None => "not known, so the account is decided as for an FDCPA debt collector (every pack applies)".to_string(),
    };
    let _ = writeln!(out, "Collector: {collector}");
    for (index, applicability) in policy.applicable_packs(account) {
        let Some(pack) = policy.packs().get(index) else {
            continue;
        };
        let status = if pack.status == crate::policy::PackStatus::Draft {
            " [draft]"
        } else {
            ""
        };
        match applicability {
            Applicability::DoesNotApply(why) => {
                let _ = writeln!(
                    out,
                    "\n✗ {} — {}{status}: does not apply ({why}).",
                    pack.id, pack.title
                );
            }
            Applicability::Applies(why) => {
                let _ = writeln!(
                    out,
                    "\n✓ {} — {}{status}: applies ({why}). {}",
                    pack.id, pack.title, pack.citation
                );
                if let Some(description) = &pack.description {
                    let _ = writeln!(out, "  {description}");
                }
                if let Some(dates) = in_force(pack.effective) {
                    let _ = writeln!(out, "  {dates}.");
                }
                if let Some(successor) = &pack.superseded_by {
                    let _ = writeln!(out, "  Then superseded by {successor}.");
                }
                for rule in policy.rules().iter().filter(|r| r.pack == index) {
                    let channels: Vec<&str> = rule.channels.iter().map(|c| c.as_str()).collect();
                    let _ = writeln!(
                        out,
                        "  • {} [{}] ({}): {}",
                        rule.id,
                        rule.citation,
                        channels.join(", "),
                        describe(&rule.kind)
                    );
                    let _ = writeln!(out, "      “{}”", rule.message);
                    // A rule's own dates (already within the pack's) when they differ.
                    if rule.effective != pack.effective
                        && let Some(dates) = in_force(rule.effective)
                    {
                        let _ = writeln!(out, "      {dates} (the rule's own dates).");
                    }
                    if let Some(note) = &rule.note {
                        let _ = writeln!(out, "      Note: {note}");
                    }
                    if let Some(days) = rule.unless_consumer_used_days {
                        let _ = writeln!(
                            out,
                            "      Not to a number or address the consumer contacted us through in the last {days} days."
                        );
                    }
                    if rule.unless.consumer_used_point {
                        let _ = writeln!(
                            out,
                            "      Not to a number or address the consumer contacted us through about this debt (and has not opted out of)."
                        );
                    }
                    if rule.unless.consumer_consented_to_point {
                        let _ = writeln!(
                            out,
                            "      Not to a number or address the consumer consented to directly."
                        );
                    }
                    if let RuleKind::Cap(cap) | RuleKind::Warning(cap) = &rule.kind
                        && !cap.not_counting.is_empty()
                    {
                        let names: Vec<&str> =
                            cap.not_counting.iter().map(|p| p.as_str()).collect();
                        let _ = writeln!(
                            out,
                            "      Not counted: contacts recorded as {} (a contact with no recorded purpose counts).",
                            names.join(", ")
                        );
                    }
                    if let RuleKind::Hold(Some(flag)) = rule.kind
                        && account.flags.get(flag) == Some(true)
                    {
                        let _ = writeln!(out, "      → holds now for this account.");
                    }
                }
            }
        }
    }
    out
}

/// "In force from … to …", or `None` for a range without ends.
fn in_force(range: DateRange) -> Option<String> {
    match (range.from, range.until) {
        (Some(from), Some(until)) => Some(format!("In force from {from} to {until}")),
        (Some(from), None) => Some(format!("In force from {from}")),
        (None, Some(until)) => Some(format!("In force until {until}")),
        (None, None) => None,
    }
}

/// One sentence on what a rule does.
fn describe(kind: &RuleKind) -> String {
    let per = |per: Per| match per {
        Per::Debt => "for this debt",
        Per::Consumer => "across the consumer's debts",
        Per::ContactPoint => "per number or address",
    };
    let period = |period: Period| match period {
        Period::CalendarDays(1) => "on one local calendar day".to_string(),
        Period::CalendarDays(days) => format!("within {days} consecutive local calendar days"),
        Period::Rolling(duration) => format!("within any rolling {}", human_duration(duration)),
    };
    match kind {
        RuleKind::Window(window) => {
            let mut parts = Vec::new();
            for (day, intervals) in crate::domain::Weekday::ALL.iter().zip(window.days.iter()) {
                let spans: Vec<String> = intervals
                    .iter()
                    .map(|&(from, to)| format!("{}–{}", minutes(from), minutes(to)))
                    .collect();
                parts.push(format!(
                    "{} {}",
                    day.as_str(),
                    if spans.is_empty() {
                        "never".to_string()
                    } else {
                        spans.join(", ")
                    }
                ));
            }
            format!("allowed only at local times {}", compress_days(&parts))
        }
        RuleKind::ConsumerTimes => {
            "refuses the times the consumer said are inconvenient".to_string()
        }
        RuleKind::Cap(cap) => format!(
            "at most {} counted contacts {} {}",
            cap.max,
            period(cap.period),
            per(cap.per)
        ),
        RuleKind::Warning(cap) => format!(
            "warns beyond {} counted contacts {} {}",
            cap.max,
            period(cap.period),
            per(cap.per)
        ),
        RuleKind::Cooldown(cooldown) => format!(
            "nothing for {} local calendar days after a matching contact, its day counting as day 1",
            cooldown.days
        ),
        RuleKind::Hold(Some(flag)) => format!("stops contact while `{}` holds", flag.as_str()),
        RuleKind::Hold(None) => "stops contact whenever its condition holds".to_string(),
        RuleKind::Obligation(code) => format!("an allowed contact must meet `{code}`"),
    }
}

fn minutes(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn human_duration(duration: chrono::TimeDelta) -> String {
    let minutes = duration.num_minutes();
    if minutes % (24 * 60) == 0 {
        format!("{} days", minutes / (24 * 60))
    } else if minutes % 60 == 0 {
        format!("{} hours", minutes / 60)
    } else {
        format!("{minutes} minutes")
    }
}

/// "mon 08:00–21:00, tue 08:00–21:00, …" → "every day 08:00–21:00" when all agree.
fn compress_days(parts: &[String]) -> String {
    let spans: Vec<&str> = parts
        .iter()
        .map(|p| p.split_once(' ').map_or("", |(_, s)| s))
        .collect();
    match spans.first() {
        Some(first) if spans.iter().all(|s| s == first) => format!("every day {first}"),
        _ => parts.join("; "),
    }
}

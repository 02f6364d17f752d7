//! The shipped packs' own policy tests run under `cargo test` too.

use dunner::policy::tests_file;

use crate::helpers::{SHIPPED, rules_dir};

#[test]
fn every_shipped_policy_test_case_passes() {
    let files = tests_file::test_files(&rules_dir()).unwrap();
    assert!(!files.is_empty(), "no *.tests.toml under rules/");
    let report = tests_file::run_files(&SHIPPED, &files);
    assert!(
        report.file_errors.is_empty(),
        "unreadable test files: {:#?}",
        report.file_errors
    );
    let failures: Vec<String> = report
        .cases
        .iter()
        .filter(|c| !c.passed())
        .map(|c| format!("{} {}: {}", c.location, c.name, c.failures.join("; ")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        report.cases.len() >= 80,
        "only {} policy test cases",
        report.cases.len()
    );
}

#[test]
fn every_shipped_rule_is_exercised_by_some_case() {
    let files = tests_file::test_files(&rules_dir()).unwrap();
    let text: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let untested: Vec<&str> = SHIPPED
        .rules()
        .iter()
        .filter(|rule| {
            // Cases name refusing and warning rules by id, obligations by their code.
            let name = match &rule.kind {
                dunner::policy::RuleKind::Obligation(code) => code.as_str(),
                _ => rule.id.as_str(),
            };
            !text.contains(&format!("\"{name}\""))
        })
        .map(|rule| rule.id.as_str())
        .collect();
    assert!(
        untested.is_empty(),
        "rules no case names in its expectations: {untested:?}"
    );
}

#[test]
fn the_shipped_policy_loads_with_only_the_documented_warning() {
    let codes: Vec<&str> = SHIPPED.warnings().iter().map(|w| w.code).collect();
    assert_eq!(
        codes,
        vec!["rules::looser-than-floor"],
        "{:#?}",
        SHIPPED.warnings()
    );
    assert!(SHIPPED.digest().starts_with("sha256:") && SHIPPED.digest().len() == 7 + 64);
}

//! The shipped packs' own policy tests run under `cargo test` too.

use dunner::rule_tests;

use crate::helpers::{SHIPPED, rules_dir};

#[test]
fn every_shipped_policy_test_case_passes() {
    let files = rule_tests::test_files(&rules_dir()).unwrap();
    assert!(!files.is_empty(), "no *.tests.toml under rules/");
    let report = rule_tests::run_files(&SHIPPED, &files);
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
    let files = rule_tests::test_files(&rules_dir()).unwrap();
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

/// A letter to a Brooklyn consumer after two calls that week (dates in EST).
fn brooklyn_letter(at: &str, collector: Option<&str>) -> dunner::engine::DecideRequest {
    let collector = collector.map_or(String::new(), |c| format!(r#", "collector": "{c}""#));
    dunner::engine::DecideRequest::from_json(&format!(
        r#"{{"at": "{at}", "channel": "letter", "account": {{"id": "B-1"{collector}, "consumer": {{"address": {{"state": "NY", "city": "Brooklyn"}}}}}},
            "history": [
              {{"at": "2027-02-22T15:00:00Z", "channel": "call", "outcome": "voicemail"}},
              {{"at": "2027-02-23T15:00:00Z", "channel": "call", "outcome": "voicemail"}}
            ]}}"#
    ))
    .unwrap()
}

fn rule_ids(decision: &dunner::Decision) -> Vec<&str> {
    decision.reasons.iter().map(|r| r.rule.as_str()).collect()
}

#[test]
fn the_configuration_moves_the_nyc_hand_over_without_a_gap_or_an_overlap() {
    // Shipped: SHIELD from 2027-01-01, so on 2027-02-24 a letter is not limited.
    let request = brooklyn_letter("2027-02-24T15:00:00Z", None);
    assert!(dunner::decide(&SHIPPED, &request).allowed);

    // A regulator moves SHIELD to 2027-03-01: the pre-SHIELD rules bind until Feb 28.
    let settings = dunner::policy::Settings {
        effective_from: [(
            "us-ny-nyc".to_string(),
            chrono::NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
        )]
        .into(),
        ..Default::default()
    };
    let moved = dunner::Policy::load_with(&rules_dir(), &settings).unwrap();
    assert!(
        moved
            .warnings()
            .iter()
            .all(|w| w.code != "rules::effective-gap")
    );
    assert_ne!(
        moved.digest(),
        SHIPPED.digest(),
        "the digest covers the dates"
    );
    let pre = moved
        .packs()
        .iter()
        .find(|p| p.id == "us-ny-nyc-pre-shield")
        .unwrap();
    assert_eq!(
        pre.effective.until,
        chrono::NaiveDate::from_ymd_opt(2027, 2, 28)
    );
    let decision = dunner::decide(&moved, &request);
    assert_eq!(rule_ids(&decision), ["nyc-pre-shield.frequency"]);
    // Sunday Feb 28 is still pre-SHIELD; Monday Mar 1 is SHIELD's (which counts no mail).
    let last = dunner::decide(&moved, &brooklyn_letter("2027-02-28T15:00:00Z", None));
    assert_eq!(rule_ids(&last), ["nyc-pre-shield.frequency"]);
    let first = dunner::decide(&moved, &brooklyn_letter("2027-03-01T15:00:00Z", None));
    assert!(first.allowed, "{first:?}");
}

#[test]
fn the_configuration_cannot_move_a_pack_that_does_not_exist() {
    let settings = dunner::policy::Settings {
        effective_from: [(
            "us-nyc".to_string(),
            chrono::NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
        )]
        .into(),
        ..Default::default()
    };
    match dunner::Policy::load_with(&rules_dir(), &settings) {
        Err(dunner::policy::PolicyError::Invalid(diagnostics)) => {
            let errors: Vec<&str> = diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.code)
                .collect();
            assert_eq!(errors, ["rules::unknown-pack"], "{diagnostics:#?}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn the_configured_collector_scopes_the_packs_and_the_account_can_override_it() {
    let creditor = dunner::policy::Settings {
        collector: Some(dunner::domain::CollectorKind::Creditor),
        ..Default::default()
    };
    let policy = dunner::Policy::load_with(&rules_dir(), &creditor).unwrap();
    let account = |collector: &str| -> dunner::domain::Account {
        serde_json::from_str(&format!(
            r#"{{"id": "W-1"{collector}, "consumer": {{"address": {{"state": "WA"}}}}}}"#
        ))
        .unwrap()
    };
    let applies = |policy: &dunner::Policy, account: &dunner::domain::Account, id: &str| {
        policy
            .applicable_packs(account)
            .into_iter()
            .find(|(index, _)| policy.packs()[*index].id == id)
            .map(|(_, applicability)| applicability)
            .unwrap()
    };
    // Configured as a creditor: neither Regulation F nor Washington's Act binds it.
    let plain = account("");
    let federal = applies(&policy, &plain, "us-federal");
    assert!(!federal.applies());
    assert!(format!("{federal:?}").contains("creditor"), "{federal:?}");
    assert!(!applies(&policy, &plain, "us-wa").applies());
    assert!(applies(&policy, &plain, "us-bankruptcy").applies());
    // The account says an agency collects this one: both bind.
    let agency = account(r#", "collector": "agency""#);
    assert!(applies(&policy, &agency, "us-federal").applies());
    assert!(applies(&policy, &agency, "us-wa").applies());
    // Nothing configured and nothing on the account: the strictest reading.
    let unknown = applies(&SHIPPED, &plain, "us-federal");
    assert!(unknown.applies());
    assert!(
        format!("{unknown:?}").contains("FDCPA debt collector"),
        "{unknown:?}"
    );
    assert_ne!(policy.digest(), SHIPPED.digest());
}

#[test]
fn every_shipped_pack_says_whom_it_binds_and_what_was_read() {
    for pack in SHIPPED.packs() {
        let text = std::fs::read_to_string(&pack.file).unwrap();
        assert!(
            text.contains("READ") || text.contains("read"),
            "{} does not say what was read",
            pack.file
        );
        assert!(
            text.contains("Whom it binds") || text.contains("binds every"),
            "{} does not say whom it binds",
            pack.file
        );
    }
}

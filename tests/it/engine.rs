//! Engine behaviour that the shipped packs do not exercise.

use dunner::engine::{DecideRequest, decide};

use crate::helpers::{MINIMAL_PACK, compile};

fn call_at(at: &str, zones: &str) -> DecideRequest {
    DecideRequest::from_json(&format!(
        r#"{{"at": "{at}", "channel": "call", "account": {{"id": "Z", "consumer": {{"time_zones": [{zones}]}}}}}}"#
    ))
    .unwrap()
}

#[test]
fn a_window_in_a_fixed_zone_ignores_the_consumers_zones() {
    // 940 CMR 7.05 style: "between 8:00 A.M. and 9:00 P.M. eastern time".
    let text = MINIMAL_PACK.replace("allow = [", "time_zone = \"America/New_York\"\nallow = [");
    let policy = compile(&[("fixed.toml", &text)]).unwrap();
    // 05:30 in Los Angeles is 08:30 in New York: allowed by an Eastern-time window.
    let early = decide(
        &policy,
        &call_at("2026-06-01T12:30:00Z", "\"America/Los_Angeles\""),
    );
    assert!(early.allowed, "{early:?}");
    // 19:00 in Los Angeles is 22:00 in New York: refused until 08:00 Eastern.
    let late = decide(
        &policy,
        &call_at("2026-06-02T02:00:00Z", "\"America/Los_Angeles\""),
    );
    assert!(!late.allowed);
    assert_eq!(
        late.next_allowed_at.unwrap().to_rfc3339(),
        "2026-06-02T12:00:00+00:00"
    );
}

#[test]
fn a_window_without_a_zone_must_hold_in_every_candidate_zone() {
    let policy = compile(&[("plain.toml", MINIMAL_PACK)]).unwrap();
    // 08:30 Eastern is 05:30 Pacific: refused until 08:00 Pacific = 11:00 Eastern.
    let decision = decide(
        &policy,
        &call_at(
            "2026-06-01T12:30:00Z",
            "\"America/New_York\", \"America/Los_Angeles\"",
        ),
    );
    assert!(!decision.allowed);
    assert_eq!(
        decision.next_allowed_at.unwrap().to_rfc3339(),
        "2026-06-01T15:00:00+00:00"
    );
}

fn consent_hold_policy() -> dunner::Policy {
    let text = r#"
[pack]
id = "consent"
title = "Consent"
version = "1"
citation = "none"

[[hold]]
id = "consent.email"
citation = "none"
message = "email needs consent"
channels = ["email"]
flag = "no_consent"
"#;
    compile(&[("consent.toml", text)]).unwrap()
}

fn email_with_history(history: &str) -> DecideRequest {
    DecideRequest::from_json(&format!(
        r#"{{"at": "2026-06-01T15:00:00Z", "channel": "email", "account": {{"id": "C", "consumer": {{"time_zones": ["America/Chicago"]}}}}, "history": [{history}]}}"#
    ))
    .unwrap()
}

#[test]
fn consent_on_record_lifts_a_consent_hold_and_revocation_restores_it() {
    let policy = consent_hold_policy();
    let consent = r#"{"at": "2026-05-01T15:00:00Z", "type": "consent", "channel": "email"}"#;
    assert!(decide(&policy, &email_with_history(consent)).allowed);
    let revoked = format!(
        r#"{consent}, {{"at": "2026-05-02T15:00:00Z", "type": "consent_revoked", "channel": "email"}}"#
    );
    assert!(!decide(&policy, &email_with_history(&revoked)).allowed);
}

#[test]
fn consent_recorded_after_the_instant_or_for_another_debt_does_not_count() {
    let policy = consent_hold_policy();
    let later = r#"{"at": "2026-06-02T15:00:00Z", "type": "consent", "channel": "email"}"#;
    let decision = decide(&policy, &email_with_history(later));
    assert!(
        !decision.allowed && decision.next_allowed_at.is_none(),
        "{decision:?}"
    );
    let other_debt = r#"{"at": "2026-05-01T15:00:00Z", "type": "consent", "channel": "email", "account_id": "OTHER"}"#;
    assert!(!decide(&policy, &email_with_history(other_debt)).allowed);
}

#[test]
fn permitted_intervals_follow_the_window_in_local_time() {
    let policy = compile(&[("plain.toml", MINIMAL_PACK)]).unwrap();
    let request = call_at("2026-06-01T00:00:00Z", "\"America/Chicago\"");
    let subject = dunner::engine::Subject::new(&policy, &request.account, &request.history);
    let question = dunner::engine::Question {
        at: request.at,
        channel: request.channel,
        purpose: request.purpose,
        contact_point: None,
        horizon_days: None,
    };
    let intervals = subject.permitted_intervals(&question, "2026-06-03T00:00:00Z".parse().unwrap());
    let shown: Vec<(String, String)> = intervals
        .iter()
        .map(|i| (i.start.to_rfc3339(), i.end.to_rfc3339()))
        .collect();
    // 08:00-21:00 CDT is 13:00Z-02:00Z; the range opens at 19:00 CDT on May 31.
    assert_eq!(
        shown,
        vec![
            (
                "2026-06-01T00:00:00+00:00".into(),
                "2026-06-01T02:00:00+00:00".into()
            ),
            (
                "2026-06-01T13:00:00+00:00".into(),
                "2026-06-02T02:00:00+00:00".into()
            ),
            (
                "2026-06-02T13:00:00+00:00".into(),
                "2026-06-03T00:00:00+00:00".into()
            ),
        ]
    );
}

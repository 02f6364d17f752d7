//! Engine behaviour that the shipped packs do not exercise.

use dunner::engine::{DecideRequest, decide};

use crate::helpers::{MINIMAL_PACK, SHIPPED, compile};

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

/// A call event as JSON: (instant, outcome, number, initiated by the consumer?).
fn call_event(at: &str, outcome: &str, number: &str, by_consumer: bool) -> String {
    let initiated = if by_consumer { "consumer" } else { "collector" };
    format!(
        r#"{{"at": "{at}", "channel": "call", "outcome": "{outcome}", "contact_point": "{number}", "initiated_by": "{initiated}"}}"#
    )
}

/// (rule, contact point, used, remaining, resets_at) of one budget.
type BudgetRow = (String, Option<String>, u32, u32, Option<String>);

/// The rows of every budget, in order.
fn budget_rows(budgets: &[dunner::engine::CapBudget]) -> Vec<BudgetRow> {
    budgets
        .iter()
        .map(|b| {
            (
                b.rule.clone(),
                b.contact_point.clone(),
                b.used,
                b.remaining,
                b.resets_at.map(|r| r.to_rfc3339()),
            )
        })
        .collect()
}

fn question_at<'a>(at: &str, contact_point: Option<&'a str>) -> dunner::engine::Question<'a> {
    dunner::engine::Question {
        at: at.parse().unwrap(),
        channel: dunner::domain::Channel::Call,
        purpose: Default::default(),
        contact_point,
        horizon_days: None,
    }
}

const TX_MOBILE: &str = "+15125550100";
const TX_WORK: &str = "+15125550111";

/// A Texas account (federal pack only) in Central time, with a week of calls.
fn texas_calls() -> DecideRequest {
    let history = [
        // Counted by Reg F's 7-in-7: collector calls that connected, in the 7 local days
        // June 4-10 (CDT), to either number: five.
        call_event("2026-06-04T14:00:00Z", "no_answer", TX_MOBILE, false),
        call_event("2026-06-05T14:00:00Z", "voicemail", TX_MOBILE, false),
        call_event("2026-06-06T14:00:00Z", "no_answer", TX_WORK, false),
        call_event("2026-06-08T14:00:00Z", "no_answer", TX_MOBILE, false),
        call_event("2026-06-10T14:00:00Z", "no_answer", TX_MOBILE, false),
        // Not counted: before the period, busy (not connected), placed by the consumer.
        call_event("2026-06-02T14:00:00Z", "no_answer", TX_MOBILE, false),
        call_event("2026-06-09T14:00:00Z", "busy", TX_MOBILE, false),
        call_event("2026-06-07T14:00:00Z", "no_answer", TX_MOBILE, true),
    ]
    .join(", ");
    DecideRequest::from_json(&format!(
        r#"{{"at": "2026-06-10T15:00:00Z", "channel": "call", "account": {{"id": "T-1", "consumer": {{"address": {{"state": "TX"}}, "time_zones": ["America/Chicago"], "phones": [{{"number": "{TX_MOBILE}", "kind": "mobile"}}, {{"number": "{TX_WORK}", "kind": "work"}}]}}}}, "history": [{history}]}}"#
    ))
    .unwrap()
}

#[test]
fn budgets_count_the_federal_calls_of_the_last_seven_local_days() {
    let request = texas_calls();
    let subject = dunner::engine::Subject::new(&SHIPPED, &request.account, &request.history);
    let now = question_at("2026-06-10T15:00:00Z", None);
    assert!(subject.decide(&now).allowed);
    let budgets = subject.cap_budgets(&now);
    // The oldest counted call (June 4, CDT) leaves the 7 local days June 4-10 at
    // 00:00 CDT on June 11 = 05:00Z. The concentration warning counts today's call
    // to the mobile (June 10, CDT) until 00:00 CDT on June 11.
    let jun_11 = Some("2026-06-11T05:00:00+00:00".to_string());
    assert_eq!(
        budget_rows(&budgets),
        vec![
            ("reg-f.call-frequency".into(), None, 5, 2, jun_11.clone()),
            (
                "reg-f.rapid-succession".into(),
                Some(TX_MOBILE.into()),
                0,
                1,
                None
            ),
            (
                "reg-f.rapid-succession".into(),
                Some(TX_WORK.into()),
                0,
                1,
                None
            ),
            (
                "reg-f.concentrated-calls".into(),
                Some(TX_MOBILE.into()),
                1,
                5,
                jun_11
            ),
            (
                "reg-f.concentrated-calls".into(),
                Some(TX_WORK.into()),
                0,
                6,
                None
            ),
        ]
    );
    let federal = &budgets[0];
    assert_eq!(
        (federal.limit, federal.warning, federal.pack.as_str()),
        (7, false, "us-federal")
    );
    assert_eq!(federal.citation, "12 CFR 1006.14(b)(2)(i)(A)");
    assert!(budgets[1..].iter().all(|b| b.warning));
    let json = serde_json::to_value(federal).unwrap();
    assert_eq!(json["period"], serde_json::json!({"calendar_days": 7}));
    assert_eq!(json["per"], "debt");
    assert!(json.get("contact_point").is_none(), "{json}");
    assert_eq!(
        serde_json::to_value(&budgets[1]).unwrap()["period"],
        serde_json::json!({"rolling": "5m"})
    );
}

#[test]
fn a_budget_grows_when_its_oldest_counted_call_leaves_the_period() {
    let request = texas_calls();
    let subject = dunner::engine::Subject::new(&SHIPPED, &request.account, &request.history);
    let federal = |at: &str| {
        subject
            .cap_budgets(&question_at(at, Some(TX_MOBILE)))
            .into_iter()
            .find(|b| b.rule == "reg-f.call-frequency")
            .map(|b| (b.used, b.remaining, b.resets_at.map(|r| r.to_rfc3339())))
            .unwrap()
    };
    assert_eq!(
        federal("2026-06-11T04:59:59Z"),
        (5, 2, Some("2026-06-11T05:00:00+00:00".into()))
    );
    // June 5's voicemail is now the oldest: it leaves at 00:00 CDT on June 12.
    assert_eq!(
        federal("2026-06-11T05:00:00Z"),
        (4, 3, Some("2026-06-12T05:00:00+00:00".into()))
    );
}

#[test]
fn a_full_budget_reports_zero_remaining_and_the_refusal_agrees() {
    let mut request = texas_calls();
    // Two more connected calls on June 10 make seven in June 4-10.
    for at in ["2026-06-10T14:20:00Z", "2026-06-10T14:40:00Z"] {
        request
            .history
            .push(serde_json::from_str(&call_event(at, "voicemail", TX_WORK, false)).unwrap());
    }
    let subject = dunner::engine::Subject::new(&SHIPPED, &request.account, &request.history);
    let now = question_at("2026-06-10T15:00:00Z", None);
    let federal = subject
        .cap_budgets(&now)
        .into_iter()
        .find(|b| b.rule == "reg-f.call-frequency")
        .unwrap();
    assert_eq!((federal.used, federal.remaining), (7, 0));
    let decision = subject.decide(&now);
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r.rule == "reg-f.call-frequency")
    );
    // The cap reopens when its budget grows (00:00 CDT June 11), then waits for 08:00.
    assert_eq!(
        federal.resets_at.unwrap().to_rfc3339(),
        "2026-06-11T05:00:00+00:00"
    );
    assert_eq!(
        decision.next_allowed_at.unwrap().to_rfc3339(),
        "2026-06-11T13:00:00+00:00"
    );
}

const MA_MOBILE: &str = "+16175550100";
const MA_LANDLINE: &str = "+16175550111";
const MA_WORK: &str = "+16175550122";

#[test]
fn massachusetts_budgets_depend_on_the_number_called() {
    let history = [
        // Personal numbers (mobile, landline): two within the rolling 7 days, one before.
        call_event("2026-06-02T14:00:00Z", "voicemail", MA_MOBILE, false),
        call_event("2026-06-07T14:00:00Z", "voicemail", MA_MOBILE, false),
        call_event("2026-06-09T14:00:00Z", "no_answer", MA_LANDLINE, false),
        // The work number: one within the rolling 30 days.
        call_event("2026-06-08T14:00:00Z", "no_answer", MA_WORK, false),
    ]
    .join(", ");
    let request = DecideRequest::from_json(&format!(
        r#"{{"at": "2026-06-10T15:00:00Z", "channel": "call", "account": {{"id": "M-1", "consumer": {{"address": {{"state": "MA"}}, "time_zones": ["America/New_York"], "phones": [{{"number": "{MA_MOBILE}", "kind": "mobile"}}, {{"number": "{MA_LANDLINE}", "kind": "landline"}}, {{"number": "{MA_WORK}", "kind": "work"}}]}}}}, "history": [{history}]}}"#
    ))
    .unwrap();
    let subject = dunner::engine::Subject::new(&SHIPPED, &request.account, &request.history);
    let caps = |point: Option<&str>| -> Vec<(String, u32, u32, Option<String>)> {
        subject
            .cap_budgets(&question_at("2026-06-10T15:00:00Z", point))
            .into_iter()
            .filter(|b| !b.warning)
            .map(|b| {
                (
                    b.rule,
                    b.used,
                    b.remaining,
                    b.resets_at.map(|r| r.to_rfc3339()),
                )
            })
            .collect()
    };
    // The federal 7-in-7 counts all three calls of June 4-10 (EDT); it resets when
    // June 7's leaves, at 00:00 EDT on June 14.
    let federal = (
        "reg-f.call-frequency".to_string(),
        3,
        4,
        Some("2026-06-14T04:00:00+00:00".to_string()),
    );
    // 2-in-7 rolling at personal numbers is spent until June 7's voicemail is 7 days old.
    let personal = (
        "ma.personal-number-communications".to_string(),
        2,
        0,
        Some("2026-06-14T14:00:00+00:00".to_string()),
    );
    // 2-in-30 rolling elsewhere: one used, back 30 days after June 8.
    let other = (
        "ma.other-number-communications".to_string(),
        1,
        1,
        Some("2026-07-08T14:00:00+00:00".to_string()),
    );
    assert_eq!(
        caps(Some(MA_MOBILE)),
        vec![federal.clone(), personal.clone()]
    );
    assert_eq!(
        caps(Some(MA_LANDLINE)),
        vec![federal.clone(), personal.clone()]
    );
    assert_eq!(caps(Some(MA_WORK)), vec![federal.clone(), other.clone()]);
    // No number named: every cap that could bind (fail closed).
    assert_eq!(caps(None), vec![federal, personal, other]);
    // The decisions agree: the mobile is refused by the spent cap, the work number is not.
    let mobile = subject.decide(&question_at("2026-06-10T15:00:00Z", Some(MA_MOBILE)));
    assert!(
        mobile
            .reasons
            .iter()
            .any(|r| r.rule == "ma.personal-number-communications"),
        "{mobile:?}"
    );
    assert!(
        subject
            .decide(&question_at("2026-06-10T15:00:00Z", Some(MA_WORK)))
            .allowed
    );
    // Warnings per number: with no number named, one budget for each of the three.
    let rapid: Vec<Option<String>> = subject
        .cap_budgets(&question_at("2026-06-10T15:00:00Z", None))
        .into_iter()
        .filter(|b| b.rule == "reg-f.rapid-succession")
        .map(|b| b.contact_point)
        .collect();
    assert_eq!(
        rapid,
        vec![
            Some(MA_MOBILE.to_string()),
            Some(MA_LANDLINE.to_string()),
            Some(MA_WORK.to_string())
        ]
    );
}

/// Rolling periods are counted to the nanosecond: an event 1 ns inside a period counts
/// (whole microseconds used to drop it, erring towards allowing), one exactly a period
/// before does not, and the contact reopens exactly a period after the event.
#[test]
fn a_rolling_period_counts_an_event_one_nanosecond_inside_it() {
    let pack = format!(
        "{MINIMAL_PACK}\n[[cap]]\nid = \"test.one-a-week\"\ncitation = \"none\"\nmessage = \"cap\"\nchannels = [\"call\"]\nmax = 1\nrolling = \"7d\"\n"
    );
    let policy = compile(&[("cap.toml", &pack)]).unwrap();
    let decide_with = |at: &str, event_at: &str| {
        decide(
            &policy,
            &DecideRequest::from_json(&format!(
                r#"{{"at": "{at}", "channel": "call", "account": {{"id": "Z", "consumer": {{"time_zones": ["America/New_York"]}}}},
                    "history": [{{"at": "{event_at}", "channel": "call", "outcome": "no_answer"}}]}}"#
            ))
            .unwrap(),
        )
    };
    let inside = decide_with("2026-04-08T15:00:00Z", "2026-04-01T15:00:00.000000001Z");
    assert!(!inside.allowed, "{inside:?}");
    assert_eq!(inside.reasons[0].rule, "test.one-a-week");
    assert_eq!(
        inside.next_allowed_at,
        Some("2026-04-08T15:00:00.000000001Z".parse().unwrap())
    );
    // Sub-microsecond on the question's side too: 0.5 µs before the event leaves.
    let inside = decide_with(
        "2026-04-08T15:00:00.0000005Z",
        "2026-04-01T15:00:00.000000501Z",
    );
    assert!(!inside.allowed, "{inside:?}");
    let outside = decide_with("2026-04-08T15:00:00Z", "2026-04-01T15:00:00Z");
    assert!(outside.allowed, "{outside:?}");
}

#[test]
fn a_calendar_cap_is_asked_again_where_the_search_lands_on_a_local_day_that_came_back() {
    // Antarctica/Casey went from +11 to +08 at 2010-03-04 15:00Z: its clock read
    // 01:59 on March 5th, then 23:00 on March 4th. A call made at 01:30 on the 5th comes
    // before a question at 23:30 on the 4th, yet falls on a later local day. At the
    // question's instant the one-call-a-day cap passes (the 4th holds no call); where the
    // search lands, 08:00 on the 5th, it refuses (the 5th holds that call). The search
    // must not carry the cap's pass forward.
    let pack = format!(
        "{MINIMAL_PACK}\n{}",
        r#"
[[cap]]
id = "test.one-a-day"
citation = "none"
message = "one call a calendar day"
channels = ["call"]
max = 1
calendar_days = 1
per = "debt"
count = { channels = ["call"] }
"#
    );
    let policy = compile(&[("casey.toml", &pack)]).unwrap();
    let request = DecideRequest::from_json(
        r#"{"at": "2010-03-04T15:30:00Z", "channel": "call",
            "account": {"id": "Z", "consumer": {"time_zones": ["Antarctica/Casey"]}},
            "history": [{"at": "2010-03-04T14:30:00Z", "channel": "call", "outcome": "no_answer"}]}"#,
    )
    .unwrap();
    let decision = decide(&policy, &request);
    assert!(!decision.allowed);
    let next = decision.next_allowed_at.unwrap();
    // 08:00 on the 5th (00:00Z) is refused by the cap: 08:00 on the 6th.
    assert_eq!(next.to_rfc3339(), "2010-03-06T00:00:00+00:00");
    let at_next = decide(
        &policy,
        &DecideRequest {
            at: next,
            ..request.clone()
        },
    );
    assert!(at_next.allowed, "{at_next:?}");
}

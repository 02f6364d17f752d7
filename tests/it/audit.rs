//! `dunner audit` (issue 13): every collector-initiated contact of a period judged by the
//! policy in force when it was made, on both stores, and the real binary's exit codes.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use dunner::audit::{self, Audit};
use dunner::domain::{Account, Channel, LedgerEvent, Outcome};
use dunner::policy::Policy;
use dunner::report::Period;
use dunner::store::{Attempt, Store};

use crate::helpers::{NOON_ONLY, SHIPPED_SHARED, dunner, on_both_stores, shipped_with};
use crate::store_conformance::{TestStore, postgres, sqlite};

fn now() -> DateTime<Utc> {
    "2026-04-20T00:00:00Z".parse().unwrap()
}

fn april() -> Period {
    Period::new(
        NaiveDate::from_ymd_opt(2026, 4, 1),
        NaiveDate::from_ymd_opt(2026, 4, 19),
        NaiveDate::from_ymd_opt(2026, 4, 20).unwrap(),
    )
    .unwrap()
}

fn account(id: &str) -> Account {
    serde_json::from_str(&format!(
        r#"{{"id": "{id}", "consumer": {{"address": {{"state": "NY", "city": "Albany"}}, "time_zones": ["America/New_York"],
             "phones": [{{"number": "+12125550100", "kind": "mobile"}}]}}}}"#
    ))
    .unwrap()
}

fn call_at(at: &str) -> LedgerEvent {
    serde_json::from_str(&format!(
        r#"{{"at": "{at}", "channel": "call", "outcome": "no_answer", "contact_point": "+12125550100"}}"#
    ))
    .unwrap()
}

fn event(json: &str) -> LedgerEvent {
    serde_json::from_str(json).unwrap()
}

async fn import(store: &Store, accounts: &[&str], events: Vec<(&str, LedgerEvent)>) {
    let accounts: Vec<Account> = accounts.iter().map(|id| account(id)).collect();
    let events: Vec<(String, LedgerEvent)> = events
        .into_iter()
        .map(|(id, event)| (id.to_string(), event))
        .collect();
    dunner::service::import(store, &accounts, &events, now(), &|_| {})
        .await
        .unwrap();
}

async fn audited(store: &Store, policy: Arc<Policy>, candidate: bool) -> Audit {
    audit::run(store, policy, candidate, april()).await.unwrap()
}

async fn a_clean_ledger_audits_clean(test: TestStore) {
    let store = &test.store;
    import(
        store,
        &["A-1"],
        vec![
            ("A-1", call_at("2026-04-02T15:00:00Z")),
            ("A-1", call_at("2026-04-03T15:00:00Z")),
            // Before the period: history, not judged.
            ("A-1", call_at("2026-03-30T15:00:00Z")),
        ],
    )
    .await;
    let audit = audited(store, Arc::clone(&SHIPPED_SHARED), false).await;
    assert!(audit.clean, "{:?}", audit.violations);
    assert_eq!((audit.contacts, audit.decided_contacts), (2, 0));
    assert!(audit.by_rule.is_empty());
}

async fn imported_violations_are_reported_with_their_rule_and_as_undecided(test: TestStore) {
    let store = &test.store;
    let mut events: Vec<(&str, LedgerEvent)> = (1..=7)
        .map(|day| ("A-7", call_at(&format!("2026-04-{day:02}T15:00:00Z"))))
        .collect();
    // The eighth call within seven days.
    events.push(("A-7", call_at("2026-04-07T17:00:00Z")));
    // A call at 03:00 in New York.
    events.push(("A-3", call_at("2026-04-02T07:00:00Z")));
    // A call before a cease-and-desist is lawful; one after it is not, though the
    // stored account now carries the flag either way.
    events.push(("A-C", call_at("2026-04-02T15:00:00Z")));
    events.push((
        "A-C",
        event(r#"{"at": "2026-04-03T12:00:00Z", "type": "flag_set", "flag": "cease_and_desist"}"#),
    ));
    events.push(("A-C", call_at("2026-04-04T15:00:00Z")));
    import(store, &["A-7", "A-3", "A-C"], events).await;
    let audit = audited(store, Arc::clone(&SHIPPED_SHARED), false).await;
    assert!(!audit.clean);
    assert_eq!(audit.contacts, 11);
    let found: Vec<(&str, String, &str, bool)> = audit
        .violations
        .iter()
        .map(|v| {
            (
                v.account_id.as_str(),
                v.at.to_rfc3339(),
                v.reasons[0].rule.as_str(),
                v.decided,
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "A-3",
                "2026-04-02T07:00:00+00:00".into(),
                "reg-f.convenient-hours",
                false
            ),
            (
                "A-7",
                "2026-04-07T17:00:00+00:00".into(),
                "reg-f.call-frequency",
                false
            ),
            (
                "A-C",
                "2026-04-04T15:00:00+00:00".into(),
                "reg-f.cease-communication",
                false
            ),
        ]
    );
    for violation in &audit.violations {
        assert_eq!(violation.policy_digest, SHIPPED_SHARED.digest());
        assert_eq!(violation.reasons[0].pack, "us-federal");
    }
    assert_eq!(audit.by_channel[0].name, "call");
    assert_eq!(audit.by_channel[0].violations, 3);
    assert_eq!(audit.by_state[0].name, "NY");
    // No personal data beyond account ids.
    for format in dunner::report::Format::ALL {
        let text = audit::render(&audit, format);
        assert!(!text.contains("+1212555"), "{}", format.as_str());
        assert!(text.contains("reg-f.call-frequency"), "{}", format.as_str());
    }
}

async fn record(store: &Store, at: &str) {
    let attempt = Attempt {
        account_id: "A-D".into(),
        at: at.parse().unwrap(),
        channel: Channel::Call,
        purpose: Default::default(),
        contact_point: Some("+12125550100".into()),
        outcome: Some(Outcome::NoAnswer),
        idempotency: None,
    };
    let recorded = dunner::service::check_and_record(store, &SHIPPED_SHARED, &attempt, now())
        .await
        .unwrap();
    assert!(recorded.decision.allowed);
}

async fn a_decided_contact_is_judged_by_the_policy_of_its_decision(test: TestStore) {
    let store = &test.store;
    store.put_account(&account("A-D"), now()).await.unwrap();
    // 11:00 in New York: the shipped packs allow it; the noon-only overlay would not.
    record(store, "2026-04-06T15:00:00Z").await;
    // The live rules are now stricter; the contact is still judged by the rules that
    // allowed it.
    let audit = audited(store, shipped_with("client-noon.toml", NOON_ONLY), false).await;
    assert!(audit.clean, "{:?}", audit.violations);
    assert_eq!((audit.contacts, audit.decided_contacts), (1, 1));
    assert_eq!(
        audit.in_force_digests,
        vec![SHIPPED_SHARED.digest().to_string()]
    );
}

async fn a_stricter_candidate_flags_a_contact_the_live_policy_allowed(test: TestStore) {
    let store = &test.store;
    store.put_account(&account("A-D"), now()).await.unwrap();
    record(store, "2026-04-06T15:00:00Z").await;
    let candidate = shipped_with("client-noon.toml", NOON_ONLY);
    let audit = audited(store, Arc::clone(&candidate), true).await;
    assert_eq!(audit.violations.len(), 1);
    let violation = &audit.violations[0];
    assert!(violation.decided);
    assert_eq!(violation.policy_digest, candidate.digest());
    assert_eq!(violation.reasons[0].rule, "client.noon-only");
    assert_eq!(audit.by_rule[0].pack, "client-noon");
}

on_both_stores!(
    a_clean_ledger_audits_clean,
    imported_violations_are_reported_with_their_rule_and_as_undecided,
    a_decided_contact_is_judged_by_the_policy_of_its_decision,
    a_stricter_candidate_flags_a_contact_the_live_policy_allowed,
);

#[test]
fn the_command_exits_0_when_clean_and_4_on_violations() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("accounts.jsonl");
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &accounts,
        r#"{"id": "B-1", "consumer": {"address": {"state": "NY", "city": "Albany"}, "time_zones": ["America/New_York"], "phones": [{"number": "+12125550100", "kind": "mobile"}]}}
"#,
    )
    .unwrap();
    std::fs::write(
        &events,
        r#"{"account_id": "B-1", "at": "2026-04-02T15:00:00Z", "channel": "call", "outcome": "no_answer"}
{"account_id": "B-1", "at": "2026-04-05T07:00:00Z", "channel": "call", "outcome": "no_answer"}
"#,
    )
    .unwrap();
    let database = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let imported = dunner(
        &[
            "import",
            "--database",
            &database,
            accounts.to_str().unwrap(),
            events.to_str().unwrap(),
        ],
        None,
    );
    assert!(imported.status.success(), "{imported:?}");
    let run = |from: &str, to: &str, format: &str| {
        dunner(
            &[
                "audit",
                "--from",
                from,
                "--to",
                to,
                "--database",
                &database,
                "--rules",
                "rules",
                "--format",
                format,
            ],
            None,
        )
    };
    let clean = run("2026-04-01", "2026-04-03", "json");
    assert_eq!(clean.status.code(), Some(0), "{clean:?}");
    let json: serde_json::Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(json["clean"], true);
    let dirty = run("2026-04-01", "2026-04-30", "json");
    assert_eq!(dirty.status.code(), Some(4), "{dirty:?}");
    let json: serde_json::Value = serde_json::from_slice(&dirty.stdout).unwrap();
    assert_eq!(
        json["violations"][0]["reasons"][0]["rule"],
        "reg-f.convenient-hours"
    );
    assert_eq!(json["violations"][0]["decided"], false);
    let csv = run("2026-04-01", "2026-04-30", "csv");
    assert_eq!(csv.status.code(), Some(4));
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let bad = run("2026-13-01", "2026-04-30", "json");
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from"));
}

async fn the_api_audits_a_period(test: TestStore) {
    let api = crate::api::api_on(test).await;
    let store = &api.state.store;
    import(
        store,
        &["A-3"],
        vec![("A-3", call_at("2026-04-02T07:00:00Z"))],
    )
    .await;
    store.put_account(&account("A-D"), now()).await.unwrap();
    record(store, "2026-04-06T15:00:00Z").await;
    let (status, body) = api
        .call("GET", "/v1/audit?from=2026-04-01&to=2026-04-07", None)
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");
    assert_eq!(body["clean"], false);
    assert_eq!(body["contacts"], 2);
    assert_eq!(body["decided_contacts"], 1);
    assert_eq!(body["violations"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["violations"][0]["account_id"], "A-3");
    assert_eq!(body["violations"][0]["decided"], false);
    assert_eq!(body["by_rule"][0]["rule"], "reg-f.convenient-hours");
    let (status, body) = api
        .call("GET", "/v1/audit?from=2026-4-01&to=2026-04-07", None)
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
    assert_eq!(body["field"], "from", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_audits_a_period_on_sqlite() {
    the_api_audits_a_period(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_audits_a_period_on_postgres() {
    the_api_audits_a_period(postgres().await).await;
}

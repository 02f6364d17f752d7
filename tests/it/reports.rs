//! Reports: one story of a ledger, read by the real store on both backends; the HTTP
//! route in every format and its errors; the real binary writing an HTML page; and
//! the page rendered by headless Chromium when the machine has it.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use dunner::auth::Scope;
use dunner::domain::{Account, Channel, LedgerEvent, Outcome};
use dunner::http::{AppState, router};
use dunner::report::{RawQuery, Report, ReportName, ReportQuery, build};
use dunner::store::{Attempt, Store};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{SHIPPED_SHARED, dunner};
use crate::store_conformance::{TestStore, postgres, sqlite};

/// Friday 2026-04-10, 16:00 in New York: the story's "now".
fn now() -> DateTime<Utc> {
    "2026-04-10T20:00:00Z".parse().unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn account(json: Value) -> Account {
    serde_json::from_value(json).unwrap()
}

fn event(json: Value) -> LedgerEvent {
    serde_json::from_value(json).unwrap()
}

fn call(at: &str, outcome: &str, number: &str) -> LedgerEvent {
    event(
        json!({"at": at, "type": "contact", "channel": "call", "outcome": outcome, "contact_point": number}),
    )
}

/// The story: five accounts in three states, contacts through April, a hold, three
/// promises, and three logged decisions.
///
/// - NY-1 (Albany): a conversation on the 2nd, a wrong party on the 3rd, then a call a
///   day from the 4th to the 10th: 7 in 7 days, at Reg F's cap. Promised 50.00 due
///   the 5th, paid the 4th: kept. Placed 30 days before the 10th.
/// - NY-2: cease and desist since the 1st; an email on the 2nd. Placed 31 days before.
/// - MA-1: one call on the 9th, 1 of Massachusetts' 2 in 7 days: near. Promised 30.00
///   EUR due the 6th, unpaid: broken. Placed 120 days before.
/// - WA-1 and WA-2, one consumer: a call and a text this week, 2 of Washington's 3 per
///   consumer: both near; an inbound call. WA-1 promised 10.00 due the 20th: pending.
///   WA-1 placed 121 days before; WA-2 has no placement date.
pub async fn seed(store: &Store) {
    let ny = |id: &str, placed: &str, balance: &str| {
        account(
            json!({"id": id, "placed_on": placed, "balance": {"amount": balance, "currency": "USD"},
            "consumer": {"address": {"state": "NY", "city": "Albany"},
                         "phones": [{"number": "+15185550100", "kind": "mobile"}],
                         "emails": [{"address": "pat@example.com", "kind": "personal"}]}}),
        )
    };
    let accounts = vec![
        ny("NY-1", "2026-03-11", "100.10"),
        ny("NY-2", "2026-03-10", "200.20"),
        account(
            json!({"id": "MA-1", "placed_on": "2025-12-11", "balance": {"amount": "5.00", "currency": "EUR"},
            "consumer": {"address": {"state": "MA", "city": "Boston"},
                         "phones": [{"number": "+16175550100", "kind": "mobile"}]}}),
        ),
        account(json!({"id": "WA-1", "placed_on": "2025-12-10",
            "consumer": {"id": "C-1", "address": {"state": "WA", "city": "Spokane"},
                         "phones": [{"number": "+15095550100", "kind": "mobile"}]}})),
        account(json!({"id": "WA-2",
            "consumer": {"id": "C-1", "address": {"state": "WA", "city": "Spokane"},
                         "phones": [{"number": "+15095550100", "kind": "mobile"}]}})),
    ];
    store
        .put_accounts(&accounts, at("2026-03-01T00:00:00Z"))
        .await
        .unwrap();
    let mut events = vec![
        (
            "NY-1",
            call("2026-04-02T14:00:00Z", "conversation", "+15185550100"),
        ),
        (
            "NY-1",
            call("2026-04-03T15:00:00Z", "wrong_party", "+15185550199"),
        ),
        (
            "NY-1",
            event(
                json!({"at": "2026-04-02T14:30:00Z", "type": "promise_to_pay",
            "amount": {"amount": "50.00", "currency": "USD"}, "due_on": "2026-04-05"}),
            ),
        ),
        (
            "NY-1",
            event(
                json!({"at": "2026-04-04T12:00:00Z", "type": "payment_posted",
            "amount": {"amount": "50.00", "currency": "USD"}}),
            ),
        ),
        (
            "NY-2",
            event(
                json!({"at": "2026-04-01T12:00:00Z", "type": "flag_set", "flag": "cease_and_desist"}),
            ),
        ),
        (
            "NY-2",
            event(
                json!({"at": "2026-04-02T12:00:00Z", "type": "contact", "channel": "email",
            "outcome": "delivered", "contact_point": "pat@example.com"}),
            ),
        ),
        (
            "MA-1",
            call("2026-04-09T15:00:00Z", "no_answer", "+16175550100"),
        ),
        (
            "MA-1",
            event(
                json!({"at": "2026-04-03T15:00:00Z", "type": "promise_to_pay",
            "amount": {"amount": "30.00", "currency": "EUR"}, "due_on": "2026-04-06"}),
            ),
        ),
        (
            "WA-1",
            call("2026-04-09T16:00:00Z", "no_answer", "+15095550100"),
        ),
        (
            "WA-1",
            event(
                json!({"at": "2026-04-08T16:00:00Z", "type": "contact", "channel": "call",
            "outcome": "conversation", "initiated_by": "consumer", "contact_point": "+15095550100"}),
            ),
        ),
        (
            "WA-1",
            event(
                json!({"at": "2026-04-09T17:00:00Z", "type": "promise_to_pay",
            "amount": {"amount": "10.00", "currency": "USD"}, "due_on": "2026-04-20"}),
            ),
        ),
        (
            "WA-2",
            event(
                json!({"at": "2026-04-10T16:00:00Z", "type": "contact", "channel": "sms",
            "outcome": "delivered", "contact_point": "+15095550100"}),
            ),
        ),
        // Before the period: not a contact of the report, but the account's history.
        (
            "NY-2",
            call("2026-03-20T15:00:00Z", "no_answer", "+15185550100"),
        ),
    ];
    for day in 4..=10 {
        events.push((
            "NY-1",
            call(
                &format!("2026-04-{day:02}T14:00:00Z"),
                "no_answer",
                "+15185550100",
            ),
        ));
    }
    for (id, event) in &events {
        dunner::service::append_event(store, id, event, at("2026-04-10T18:00:00Z"))
            .await
            .unwrap();
    }
    // Three logged decisions: a hold, a cap, and an allowed call.
    let question = |id: &str| Attempt {
        account_id: id.into(),
        at: at("2026-04-10T19:00:00Z"),
        channel: Channel::Call,
        purpose: Default::default(),
        contact_point: None,
        outcome: Some(Outcome::NoAnswer),
        idempotency: None,
    };
    let decided = at("2026-04-10T19:00:00Z");
    for id in ["NY-2", "NY-1", "MA-1"] {
        dunner::service::decide_and_log(store, &SHIPPED_SHARED, &question(id), decided)
            .await
            .unwrap();
    }
}

fn query(name: &str, account: Option<&str>) -> ReportQuery {
    let raw = RawQuery {
        from: Some("2026-04-01"),
        to: Some("2026-04-10"),
        account,
        ..RawQuery::default()
    };
    ReportQuery::parse(name, &raw, now().date_naive()).unwrap()
}

async fn summary(store: &Store) -> Report {
    build(
        store,
        Arc::clone(&SHIPPED_SHARED),
        &query("summary", Some("NY-1")),
        now(),
    )
    .await
    .unwrap()
}

async fn a_summary_reads_the_story_right(test: TestStore) {
    seed(&test.store).await;
    let report = summary(&test.store).await;
    assert_eq!(
        report.as_of,
        now(),
        "judged now: the period ends at midnight"
    );
    assert_eq!(report.policy_digest, SHIPPED_SHARED.digest());

    let contacts = report.contacts.as_ref().unwrap();
    assert_eq!(contacts.total, 14, "{contacts:#?}");
    let channel = |c: Channel| contacts.by_channel.iter().find(|b| b.channel == c).unwrap();
    assert_eq!(
        (
            channel(Channel::Call).contacts,
            channel(Channel::Call).inbound
        ),
        (12, 1)
    );
    assert_eq!(channel(Channel::Email).contacts, 1);
    assert_eq!(channel(Channel::Sms).contacts, 1);
    assert_eq!(contacts.by_day.len(), 10 * 3);
    let april_4 = contacts
        .by_day
        .iter()
        .find(|d| d.day.to_string() == "2026-04-04" && d.channel == Channel::Call)
        .unwrap();
    assert_eq!(april_4.contacts, 1);

    let rpc = report.right_party_contacts.as_ref().unwrap();
    assert_eq!((rpc.attempts, rpc.right_party, rpc.wrong_party), (11, 1, 1));
    assert_eq!((rpc.inbound_calls, rpc.inbound_conversations), (1, 1));
    assert!((rpc.rate.unwrap() - 1.0 / 11.0).abs() < 1e-12);

    let refusals = report.refusals.as_ref().unwrap();
    assert_eq!(
        (
            refusals.decisions,
            refusals.allowed,
            refusals.deferred,
            refusals.stopped
        ),
        (3, 1, 1, 1),
        "{refusals:#?}"
    );
    let rule = |id: &str| refusals.by_rule.iter().find(|r| r.rule == id).unwrap();
    assert_eq!(
        (
            rule("reg-f.cease-communication").stopped,
            rule("reg-f.cease-communication").pack.as_str()
        ),
        (1, "us-federal")
    );
    assert_eq!(rule("reg-f.call-frequency").deferred, 1);

    let caps = report.caps.as_ref().unwrap();
    let cap = |id: &str| caps.rules.iter().find(|r| r.rule == id).unwrap();
    assert_eq!(
        (
            cap("reg-f.call-frequency").at_cap,
            cap("reg-f.call-frequency").near_cap
        ),
        (1, 0),
        "{caps:#?}"
    );
    assert_eq!(
        (
            cap("ma.personal-number-communications").at_cap,
            cap("ma.personal-number-communications").near_cap
        ),
        (0, 1)
    );
    assert_eq!(
        (
            cap("wa.weekly-communications").at_cap,
            cap("wa.weekly-communications").near_cap
        ),
        (0, 2)
    );
    assert!(caps.accounts_checked >= 4, "{}", caps.accounts_checked);

    let holds = report.holds.as_ref().unwrap();
    assert_eq!((holds.accounts, holds.on_hold), (5, 1));
    assert_eq!(holds.by_hold[0].accounts, 1, "cease and desist first");

    let aging = serde_json::to_value(report.aging.as_ref().unwrap()).unwrap();
    let bucket = |i: usize| {
        (
            aging["buckets"][i]["accounts"].clone(),
            aging["buckets"][i]["balances"].clone(),
        )
    };
    // NY-1's balance is 100.10 less the 50.00 it paid.
    assert_eq!(
        bucket(0),
        (json!(1), json!([{"currency": "USD", "amount": "50.10"}]))
    );
    assert_eq!(
        bucket(1),
        (json!(1), json!([{"currency": "USD", "amount": "200.20"}]))
    );
    assert_eq!(
        bucket(3),
        (json!(1), json!([{"currency": "EUR", "amount": "5.00"}]))
    );
    assert_eq!(bucket(4), (json!(1), json!([])));
    assert_eq!(aging["undated"]["accounts"], 1);

    let promises = serde_json::to_value(report.promises.as_ref().unwrap()).unwrap();
    assert_eq!(promises["made"], 3);
    assert_eq!(
        promises["by_state"][0],
        json!({"state": "kept", "promises": 1, "amounts": [{"currency": "USD", "amount": "50.00"}]})
    );
    assert_eq!(
        promises["by_state"][1],
        json!({"state": "broken", "promises": 1, "amounts": [{"currency": "EUR", "amount": "30.00"}]})
    );
    assert_eq!(promises["by_state"][2]["promises"], 1);
    assert_eq!(promises["kept_rate"], 0.5);

    let windows = report.windows.as_ref().unwrap();
    assert_eq!(
        (windows.account.as_str(), windows.time_zone.as_str()),
        ("NY-1", "America/New_York")
    );
    // Saturday the 11th: the call of the 4th has left the 7 days; 08:00–21:00.
    let saturday = &windows.days[0];
    assert_eq!(
        (saturday.date.to_string(), saturday.weekday.as_str()),
        ("2026-04-11".into(), "Sat")
    );
    assert_eq!(
        (saturday.hours[7], saturday.hours[8], saturday.hours[21]),
        (Some(0.0), Some(1.0), Some(0.0))
    );
    let federal = windows
        .caps
        .iter()
        .find(|c| c.rule == "reg-f.call-frequency")
        .unwrap();
    assert_eq!(federal.remaining, 0);

    // One section only: the others are absent, not empty.
    let holds_only = build(
        &test.store,
        Arc::clone(&SHIPPED_SHARED),
        &query("holds", None),
        now(),
    )
    .await
    .unwrap();
    let json = serde_json::to_value(&holds_only).unwrap();
    assert!(
        json.get("holds").is_some()
            && json.get("contacts").is_none()
            && json.get("windows").is_none(),
        "{json}"
    );
}

async fn a_windows_report_names_an_unknown_account(test: TestStore) {
    seed(&test.store).await;
    let error = build(
        &test.store,
        Arc::clone(&SHIPPED_SHARED),
        &query("windows", Some("XX-9")),
        now(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.field(), Some("account"));
    assert!(error.to_string().contains("XX-9"), "{error}");
}

mod on_sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_summary_reads_the_story_right() {
        super::a_summary_reads_the_story_right(super::sqlite().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_windows_report_names_an_unknown_account() {
        super::a_windows_report_names_an_unknown_account(super::sqlite().await).await;
    }
}

mod on_postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_summary_reads_the_story_right() {
        super::a_summary_reads_the_story_right(super::postgres().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_windows_report_names_an_unknown_account() {
        super::a_windows_report_names_an_unknown_account(super::postgres().await).await;
    }
}

/// The real router over the story, with a fixed clock at the story's "now".
async fn app() -> (AppState, TestStore, String) {
    let (state, test) = crate::api::app_state(false).await;
    let state = dunner::http::AppState::new(dunner::http::SharedState {
        clock: Arc::new(dunner::clock::FixedClock(now())),
        ..(*state).clone()
    });
    seed(&state.store).await;
    let token = key(&state, &[Scope::Decide]).await;
    (state, test, token)
}

async fn key(state: &AppState, scopes: &[Scope]) -> String {
    let key = dunner::auth::issue();
    dunner::service::add_api_key(&state.store, &key, "reports", scopes, now())
        .await
        .unwrap();
    key.token
}

/// `GET uri`: status, content type and body.
async fn get(state: &AppState, token: Option<&str>, uri: &str) -> (StatusCode, String, String) {
    let mut request = Request::builder().uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

const PERIOD: &str = "from=2026-04-01&to=2026-04-10";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_each_format_with_its_content_type() {
    let (state, _test, token) = app().await;
    let (status, content_type, body) = get(
        &state,
        Some(&token),
        &format!("/v1/reports/summary?{PERIOD}&account=NY-1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "application/json");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["report"], "summary");
    assert_eq!(
        json["period"],
        json!({"from": "2026-04-01", "to": "2026-04-10"})
    );
    assert_eq!(json["contacts"]["total"], 14);
    assert_eq!(json["windows"]["account"], "NY-1");
    // Money as strings, never floats.
    assert_eq!(
        json["aging"]["buckets"][0]["balances"][0]["amount"],
        "50.10"
    );

    let (status, content_type, csv) = get(
        &state,
        Some(&token),
        &format!("/v1/reports/refusals?{PERIOD}&format=csv"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "rule,pack,refusals,deferred,stopped");
    assert!(
        lines.contains(&"reg-f.cease-communication,us-federal,1,0,1"),
        "{csv}"
    );

    let (_, _, csv) = get(
        &state,
        Some(&token),
        &format!("/v1/reports/summary?{PERIOD}&format=csv"),
    )
    .await;
    for section in [
        "contacts",
        "refusals",
        "caps",
        "holds",
        "aging",
        "right_party_contacts",
        "promises",
    ] {
        assert!(
            csv.contains(&format!("# section: {section}\n")),
            "{section}: {csv}"
        );
    }
    assert!(
        !csv.contains("# section: windows"),
        "no account, no heat map"
    );

    let (status, content_type, html) = get(
        &state,
        Some(&token),
        &format!("/v1/reports/summary?{PERIOD}&format=html&account=NY-1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert_page_is_self_contained(&html, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_report_requests_get_400_naming_the_field() {
    let (state, _test, token) = app().await;
    let error = |uri: &'static str| {
        let (state, token) = (state.clone(), token.clone());
        async move {
            let (status, _, body) = get(&state, Some(&token), uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            let json: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json["code"], "invalid_request", "{uri}");
            (
                json["field"].as_str().unwrap_or_default().to_string(),
                json["message"].as_str().unwrap().to_string(),
            )
        }
    };
    let (field, message) = error("/v1/reports/refusal").await;
    assert_eq!(field, "name");
    assert!(message.contains("did you mean `refusals`?"), "{message}");
    let (field, message) = error("/v1/reports/contacts?from=2026-04-10&to=2026-04-01").await;
    assert_eq!(field, "from");
    assert!(message.contains("after"), "{message}");
    let (field, message) = error("/v1/reports/contacts?to=2026-02-30").await;
    assert_eq!(field, "to");
    assert!(message.contains("YYYY-MM-DD"), "{message}");
    // An account that does not exist is not found (404), like on every account route.
    let (status, _, body) = get(&state, Some(&token), "/v1/reports/windows?account=NOBODY").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("NOBODY"), "{body}");
    let (field, _) = error("/v1/reports/windows").await;
    assert_eq!(field, "account");
    let (field, message) = error("/v1/reports/summary?format=pdf").await;
    assert_eq!(field, "format");
    assert!(message.contains("json, csv or html"), "{message}");
    let (field, _) = error("/v1/reports/caps?near=lots").await;
    assert_eq!(field, "near");
    let (_, message) = error("/v1/reports/summary?form=2026-04-01").await;
    assert!(message.contains("form"), "{message}");

    // The read scope: no key 401, a key that may only record 403.
    let (status, _, _) = get(&state, None, "/v1/reports/summary").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let writer = key(&state, &[Scope::Record]).await;
    let (status, _, _) = get(&state, Some(&writer), "/v1/reports/summary").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// What every HTML report must be: one page, nothing fetched, charts drawn, every
/// section titled.
pub fn assert_page_is_self_contained(html: &str, with_heat_map: bool) {
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..100]);
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "an external reference"
    );
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("<img"));
    assert!(html.matches("<svg").count() >= 5, "charts drawn");
    for section in ReportName::ALL {
        let title = dunner::report::section_title(section);
        match section {
            ReportName::Summary => {}
            ReportName::Windows if !with_heat_map => assert!(!html.contains(title)),
            _ => assert!(html.contains(&format!("<h2>{title}</h2>")), "{title}"),
        }
    }
    assert!(html.contains("2026-04-01 to 2026-04-10"), "the period");
    assert!(html.contains("sha256:"), "the policy digest");
    assert!(html.contains("Generated"), "the generation instant");
}

/// Writes the story's ledger as a SQLite file with the real binary's `import`.
fn imported_ledger(dir: &std::path::Path) -> String {
    let accounts = dir.join("accounts.jsonl");
    let events = dir.join("events.jsonl");
    std::fs::write(
        &accounts,
        [
            r#"{"id": "NY-1", "placed_on": "2026-03-11", "balance": {"amount": "100.10", "currency": "USD"}, "consumer": {"address": {"state": "NY", "city": "Albany"}, "phones": [{"number": "+15185550100", "kind": "mobile"}]}}"#,
            r#"{"id": "MA-1", "placed_on": "2025-12-11", "balance": {"amount": "5.00", "currency": "EUR"}, "consumer": {"address": {"state": "MA", "city": "Boston"}, "phones": [{"number": "+16175550100", "kind": "mobile"}]}}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let mut lines: Vec<String> = (4..=10)
        .map(|day| format!(r#"{{"account_id": "NY-1", "at": "2026-04-{day:02}T14:00:00Z", "channel": "call", "outcome": "no_answer", "contact_point": "+15185550100"}}"#))
        .collect();
    lines.push(r#"{"account_id": "MA-1", "at": "2026-04-03T15:00:00Z", "type": "flag_set", "flag": "disputed"}"#.into());
    lines.push(r#"{"account_id": "MA-1", "at": "2026-04-03T16:00:00Z", "type": "promise_to_pay", "amount": {"amount": "30.00", "currency": "EUR"}, "due_on": "2026-04-06"}"#.into());
    std::fs::write(&events, lines.join("\n")).unwrap();
    let database = format!("sqlite://{}", dir.join("ledger.db").display());
    let output = dunner(
        &[
            "import",
            "--database",
            &database,
            accounts.to_str().unwrap(),
            events.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    database
}

#[test]
fn the_binary_writes_an_html_report_and_names_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let database = imported_ledger(dir.path());
    let page = dir.path().join("report.html");
    let output = dunner(
        &[
            "report",
            "summary",
            "--database",
            &database,
            "--rules",
            "rules",
            "--from",
            "2026-04-01",
            "--to",
            "2026-04-10",
            "--account",
            "NY-1",
            "--out",
            page.to_str().unwrap(),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("wrote the summary report (html"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert_page_is_self_contained(&html, true);
    assert!(html.contains("reg-f.call-frequency"), "the cap NY-1 is at");

    // JSON to standard output by default.
    let output = dunner(
        &[
            "report",
            "holds",
            "--database",
            &database,
            "--rules",
            "rules",
            "--to",
            "2026-04-10",
        ],
        None,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["holds"]["on_hold"], 1);

    for (args, expected) in [
        (vec!["report", "summery"], "did you mean `summary`?"),
        (
            vec![
                "report",
                "contacts",
                "--from",
                "2026-04-10",
                "--to",
                "2026-04-01",
            ],
            "--from:",
        ),
        (vec!["report", "contacts", "--to", "10/04/2026"], "--to:"),
        (
            vec!["report", "windows", "--account", "NOBODY"],
            "--account: account `NOBODY` does not exist",
        ),
        (
            vec!["report", "aging", "--basis", "chargeoff"],
            "did you mean `charge_off`?",
        ),
    ] {
        let mut args = args;
        args.extend(["--database", &database, "--rules", "rules"]);
        let output = dunner(&args, None);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
    }
    // A mistyped ledger is not created.
    let missing = format!("sqlite://{}", dir.path().join("nope.db").display());
    let output = dunner(
        &[
            "report",
            "holds",
            "--database",
            &missing,
            "--rules",
            "rules",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(!dir.path().join("nope.db").exists());
}

/// Renders the HTML report with headless Chromium (Debian's `chromium`, which CI
/// installs) and checks the picture: produced, the size asked for, and not blank.
#[test]
fn chromium_renders_the_html_report_to_a_picture_with_something_on_it() {
    let chromium = std::path::Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        crate::helpers::skip_loudly(
            "chromium_renders_the_html_report_to_a_picture_with_something_on_it",
            "/usr/bin/chromium is not installed (apt-get install chromium)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let database = imported_ledger(dir.path());
    let page = dir.path().join("report.html");
    let output = dunner(
        &[
            "report",
            "summary",
            "--database",
            &database,
            "--rules",
            "rules",
            "--from",
            "2026-04-01",
            "--to",
            "2026-04-10",
            "--account",
            "NY-1",
            "--out",
            page.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let png = dir.path().join("report.png");
    let status = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            // No network at all: the page must draw from what it carries.
            "--proxy-server=127.0.0.1:9",
            "--window-size=1280,2400",
            &format!("--screenshot={}", png.display()),
            &format!("file://{}", page.display()),
        ])
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        png.exists(),
        "no picture: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1280, 2400));
    let pixels = &pixels[..frame.buffer_size()];
    let channels = frame.line_size / frame.width as usize;
    let colours: std::collections::HashSet<&[u8]> = pixels.chunks(channels).collect();
    assert!(
        colours.len() > 50,
        "a nearly flat picture: {} colours",
        colours.len()
    );
    // The header band is dark, the page background light: both are drawn.
    let pixel = |x: usize, y: usize| &pixels[(y * frame.width as usize + x) * channels..][..3];
    let dark = |p: &[u8]| p.iter().map(|c| u32::from(*c)).sum::<u32>() < 3 * 100;
    assert!(dark(pixel(5, 5)), "the header is drawn: {:?}", pixel(5, 5));
    assert!(
        !dark(pixel(5, 1500)),
        "the page is light: {:?}",
        pixel(5, 1500)
    );
}

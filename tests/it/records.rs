//! Records management (issue 16): retention, purge and legal holds on both stores, through
//! the real service and store, the admin API and the spawned binary. A purged account
//! leaves no personal data anywhere in the database (the raw SQLite file, every
//! PostgreSQL table), its history still verifies and still counts in the caps of the
//! consumer's other debts, and a hold stops the purge until released.

use chrono::{DateTime, Utc};
use dunner::audit::verify::verify;
use dunner::domain::{Account, Channel, LedgerEvent, Outcome};
use dunner::records::{HoldKind, HoldScope, RetentionConfig, RetentionYears};
use dunner::service::records::{place_hold, plan_purge, release_hold, run_purge};
use dunner::store::{Attempt, Store};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::helpers::{SHIPPED_SHARED, dunner, on_both_stores};
use crate::store_conformance::{TestStore, postgres, sqlite};

/// What the purged debt's consumer is known by, planted in every place dunner keeps it.
const PLANTED: [&str; 5] = [
    "+15095550177",
    "jane.roe@example.com",
    "Spokane Valley",
    "99206",
    "Jane Roe v. Agency",
];

fn now() -> DateTime<Utc> {
    "2026-04-20T00:00:00Z".parse().unwrap()
}

/// W-1: closed in 2020, the debt to purge. W-2: the same consumer's open debt.
fn debts() -> Vec<Account> {
    let closed = serde_json::from_value(json!({
        "id": "W-1", "client": "acme", "placed_on": "2020-01-02", "closed_on": "2020-05-01",
        "consumer": {"id": "C-77",
                     "address": {"state": "WA", "city": "Spokane Valley", "postal_code": "99206"},
                     "time_zones": ["America/Los_Angeles"],
                     "phones": [{"number": "+15095550177", "kind": "mobile"}],
                     "emails": [{"address": "jane.roe@example.com", "kind": "personal"}]},
        "opted_out": ["+15095550177"]
    }))
    .unwrap();
    let open = serde_json::from_value(json!({
        "id": "W-2", "client": "acme", "placed_on": "2020-01-02",
        "consumer": {"id": "C-77", "address": {"state": "WA"}, "time_zones": ["America/Los_Angeles"],
                     "phones": [{"number": "+15095550123", "kind": "mobile"}]}
    }))
    .unwrap();
    vec![closed, open]
}

fn call(account: &str, phone: &str, at: &str) -> Attempt {
    Attempt {
        account_id: account.into(),
        at: at.parse().unwrap(),
        channel: Channel::Call,
        purpose: Default::default(),
        contact_point: Some(phone.into()),
        outcome: Some(Outcome::NoAnswer),
        idempotency: None,
    }
}

/// Two calls on W-1 (recorded through the engine, so decisions log them too) and one on
/// W-2, within one week of April 2020: Washington's cap of 3 communications with the
/// consumer in any 7 days (all debts) is reached.
async fn write_ledger(store: &Store) {
    let then: DateTime<Utc> = "2020-04-08T00:00:00Z".parse().unwrap();
    dunner::service::import(store, &debts(), &[], then, &|_| {})
        .await
        .unwrap();
    for (debt, phone, at) in [
        ("W-1", "+15095550177", "2020-04-06T17:00:00Z"),
        ("W-1", "+15095550177", "2020-04-07T17:00:00Z"),
        ("W-2", "+15095550123", "2020-04-07T18:00:00Z"),
    ] {
        let recorded =
            dunner::service::check_and_record(store, &SHIPPED_SHARED, &call(debt, phone, at), then)
                .await
                .unwrap();
        assert!(
            recorded.decision.allowed,
            "{debt} {at}: {:?}",
            recorded.decision.reasons
        );
    }
    let note: LedgerEvent = serde_json::from_value(json!({
        "at": "2020-04-07T19:00:00Z", "type": "opted_out", "contact_point": "+15095550177"
    }))
    .unwrap();
    dunner::service::append_event(store, "W-1", &note, then)
        .await
        .unwrap();
}

/// Every text the database holds: the SQLite file's bytes (and its WAL), or every row of
/// every table of the PostgreSQL schema as text.
async fn everything(test: &TestStore) -> String {
    match &test.store {
        Store::Sqlite(_) => {
            let path = test.url.trim_start_matches("sqlite://");
            let mut bytes = std::fs::read(path).unwrap();
            if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                bytes.extend(wal);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Store::Postgres(_) => {
            let mut connection = sqlx::PgConnection::connect(&test.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables
                  WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&mut connection)
            .await
            .unwrap();
            assert!(tables.len() > 10, "{tables:?}");
            let mut text = String::new();
            for table in tables {
                let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT t::text FROM {table} t"
                )))
                .fetch_all(&mut connection)
                .await
                .unwrap();
                text.push_str(&rows.join("\n"));
            }
            text
        }
    }
}

async fn a_purge_leaves_no_personal_data_and_the_history_verifies_and_counts(test: TestStore) {
    let store = &test.store;
    write_ledger(store).await;
    let policy = RetentionConfig::default();
    // A hold whose reference names the consumer (it should not, but a purge must not
    // leave it behind either), placed and released.
    let hold = place_hold(
        store,
        HoldScope::Account,
        "W-1",
        HoldKind::Dispute,
        "Jane Roe v. Agency",
        "2021-01-01T00:00:00Z".parse().unwrap(),
    )
    .await
    .unwrap();
    release_hold(store, &hold.id, "2022-01-01T00:00:00Z".parse().unwrap())
        .await
        .unwrap();
    let before = everything(&test).await;
    for planted in PLANTED {
        assert!(before.contains(planted), "{planted} was never written");
    }

    // Within retention (three years after the last activity, the decision logged at
    // 2020-04-08T00:00): nothing.
    let early = plan_purge(store, &policy, "2023-04-07T00:00:00Z".parse().unwrap())
        .await
        .unwrap();
    assert!(early.selected.is_empty(), "{early:?}");
    let run = run_purge(store, &policy, now(), now()).await.unwrap();
    assert_eq!(run.purged.len(), 1, "{run:?}");
    let record = &run.purged[0];
    assert_eq!(record.account_id, "W-1");
    assert_eq!(record.rule.as_str(), "closed_past_retention");
    assert_eq!(
        record.retention_end,
        "2023-04-08T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!((record.events, record.decisions), (3, 2));
    // Idempotent: a second run purges nothing.
    let again = run_purge(store, &policy, now(), now()).await.unwrap();
    assert!(
        again.purged.is_empty() && again.plan.selected.is_empty(),
        "{again:?}"
    );

    let after = everything(&test).await;
    for planted in PLANTED {
        assert!(!after.contains(planted), "{planted} survived the purge");
    }
    // The open debt keeps its own data.
    assert!(after.contains("+15095550123"));
    let report = store.purge_report().await.unwrap();
    assert_eq!(report.len(), 1);
    let report_text = serde_json::to_string(&report).unwrap();
    assert!(!report_text.contains("5550177"), "{report_text}");

    // The chains still verify; the records log too.
    let verification = verify(store).await.unwrap();
    assert!(verification.intact(), "{verification:?}");
    assert_eq!(verification.entries, 7);

    // The purged debt's calls still count for the consumer's other debt: Washington's
    // 3-in-7 cap refuses a fourth call in the week, as before the purge.
    let (_, history) = store
        .account_with_history("W-2", "2020-04-01T00:00:00Z".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|e| e.account_id.as_deref() == Some("W-1"))
            .count(),
        2,
        "{history:?}"
    );
    let refused = dunner::service::decide_and_log(
        store,
        &SHIPPED_SHARED,
        &call("W-2", "+15095550123", "2020-04-08T17:00:00Z"),
        now(),
    )
    .await
    .unwrap();
    assert!(!refused.decision.allowed);
    assert!(
        refused
            .decision
            .reasons
            .iter()
            .any(|r| r.rule == "wa.weekly-communications"),
        "{:?}",
        refused.decision.reasons
    );
    // The purged debt itself is never contacted again: its opt-outs went with its
    // numbers, so every channel is opted out (fail closed).
    let purged = dunner::service::decide_and_log(
        store,
        &SHIPPED_SHARED,
        &call("W-1", "+15095550177", "2026-04-21T17:00:00Z"),
        now(),
    )
    .await
    .unwrap();
    assert!(!purged.decision.allowed, "{:?}", purged.decision);
}

async fn tamper(test: &TestStore, sqlite_sql: &str, postgres_sql: &str) {
    crate::chain::tamper_at(&test.url, sqlite_sql, postgres_sql).await;
}

/// The tampered finding's detail, or a panic when verification found nothing.
async fn tampered(store: &Store) -> String {
    let verification = verify(store).await.unwrap();
    let found = verification
        .tampered
        .unwrap_or_else(|| panic!("not tampered: {:?}", verification.status));
    format!("{} {:?} {}", found.kind, found.account_id, found.detail)
}

async fn tampering_after_a_purge_is_still_found(test: TestStore) {
    let store = &test.store;
    write_ledger(store).await;
    run_purge(store, &RetentionConfig::default(), now(), now())
        .await
        .unwrap();
    assert!(verify(store).await.unwrap().intact());
    // The facts kept of a purged entry, changed: its content hash no longer covers them,
    // the purge's facts digest does.
    tamper(
        &test,
        "UPDATE events SET body = replace(body, 'no_answer', 'busy')
          WHERE account_id = 'W-1' AND body LIKE '%no_answer%'",
        "UPDATE events SET body = jsonb_set(body, '{outcome}', '\"busy\"')
          WHERE account_id = 'W-1' AND body->>'outcome' = 'no_answer'",
    )
    .await;
    let found = tampered(store).await;
    assert!(found.contains("W-1") && found.contains("facts"), "{found}");
}

async fn an_entry_marked_purged_without_a_purge_is_found(test: TestStore) {
    let store = &test.store;
    write_ledger(store).await;
    run_purge(store, &RetentionConfig::default(), now(), now())
        .await
        .unwrap();
    // An edit to the open debt's call hidden by marking it purged.
    tamper(
        &test,
        "UPDATE events SET body = replace(body, 'no_answer', 'busy'),
                purged_at = '2026-04-20T00:00:00.000000Z' WHERE account_id = 'W-2'",
        "UPDATE events SET body = jsonb_set(body, '{outcome}', '\"busy\"'),
                purged_at = now() WHERE account_id = 'W-2'",
    )
    .await;
    let found = tampered(store).await;
    assert!(
        found.contains("W-2") && found.contains("no purge"),
        "{found}"
    );
}

async fn an_edit_of_the_records_log_is_found(test: TestStore) {
    let store = &test.store;
    write_ledger(store).await;
    run_purge(store, &RetentionConfig::default(), now(), now())
        .await
        .unwrap();
    tamper(
        &test,
        "UPDATE records_log SET body = replace(body, 'closed_past_retention', 'paid_past_retention')",
        "UPDATE records_log SET body = replace(body, 'closed_past_retention', 'paid_past_retention')",
    )
    .await;
    let found = tampered(store).await;
    assert!(found.contains("records log"), "{found}");
}

async fn a_hold_blocks_the_purge_until_released(test: TestStore) {
    let store = &test.store;
    write_ledger(store).await;
    let policy = RetentionConfig::default();
    // A hold on the client covers W-1.
    let hold = place_hold(
        store,
        HoldScope::Client,
        "acme",
        HoldKind::Litigation,
        "case 26-cv-0012",
        now(),
    )
    .await
    .unwrap();
    let run = run_purge(store, &policy, now(), now()).await.unwrap();
    assert!(run.purged.is_empty(), "{run:?}");
    assert_eq!(run.plan.held.len(), 1);
    assert_eq!(run.plan.held[0].hold_id, hold.id);
    // Placed on an account that does not exist: refused.
    assert!(
        place_hold(
            store,
            HoldScope::Account,
            "NOPE",
            HoldKind::Dispute,
            "x",
            now()
        )
        .await
        .is_err()
    );
    release_hold(store, &hold.id, now()).await.unwrap();
    assert!(release_hold(store, &hold.id, now()).await.is_err());
    let run = run_purge(store, &policy, now(), now()).await.unwrap();
    assert_eq!(run.purged.len(), 1, "{run:?}");
    // Holds and purges are in the records log, which verifies.
    let log = store.records_log().await.unwrap();
    let actions: Vec<&str> = log.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["hold_placed", "hold_released", "purge"]);
    assert!(verify(store).await.unwrap().intact());
}

async fn a_longer_retention_keeps_the_account(test: TestStore) {
    let store = &test.store;
    write_ledger(store).await;
    let mut policy = RetentionConfig::default();
    policy
        .states
        .insert("WA".to_string(), RetentionYears { years: 7 });
    let plan = plan_purge(store, &policy, now()).await.unwrap();
    assert!(plan.selected.is_empty(), "{plan:?}");
    let plan = plan_purge(store, &policy, "2027-04-08T00:00:00Z".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(plan.selected.len(), 1);
    assert_eq!(plan.selected[0].retention_years, 7);
    // A real purge may not judge retention ahead of the clock.
    assert!(
        run_purge(
            store,
            &policy,
            "2027-04-08T00:00:00Z".parse().unwrap(),
            now()
        )
        .await
        .is_err()
    );
}

async fn the_admin_api_places_holds_and_purges(test: TestStore) {
    write_ledger(&test.store).await;
    let api = crate::api::api_on(test).await;
    let (status, body) = api
        .call(
            "POST",
            "/v1/holds",
            Some(
                json!({"account_id": "W-1", "kind": "regulator", "reason": "CFPB CID 2026-7"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let hold_id = body["id"].as_str().unwrap().to_string();
    let (status, body) = api
        .call(
            "POST",
            "/v1/holds",
            Some(json!({"kind": "dispute", "reason": "x"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "account_id");
    let (status, body) = api.call("GET", "/v1/holds", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["holds"].as_array().unwrap().len(), 1);
    // The clock of the test app is 2026-04-07: W-1's retention ended 2023-04-07.
    // A body that is not an object is refused, not read positionally (`[false]` would
    // otherwise have run a purge).
    let (status, body) = api
        .call("POST", "/v1/purges", Some("[false, null]".to_string()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api.call("POST", "/v1/purges", Some("{}".to_string())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["selected"].as_array().unwrap().len(), 0, "{body}");
    assert_eq!(body["held"][0]["account_id"], "W-1");
    let (status, body) = api
        .call("POST", &format!("/v1/holds/{hold_id}/release"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = api
        .call("POST", &format!("/v1/holds/{hold_id}/release"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = api.call("POST", "/v1/holds/hold-nope/release", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api
        .call(
            "POST",
            "/v1/purges",
            Some(json!({"dry_run": false}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["purged"][0]["account_id"], "W-1", "{body}");
    let (status, body) = api.call("GET", "/v1/purges", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["purges"].as_array().unwrap().len(), 1);
    assert!(!body.to_string().contains("5550177"));
    // A key without the admin scope is refused.
    let token = {
        let key = dunner::auth::issue();
        dunner::service::add_api_key(
            &api.state.store,
            &key,
            "recorder",
            &[dunner::auth::Scope::Record],
            "2026-01-01T00:00:00Z".parse().unwrap(),
        )
        .await
        .unwrap();
        key.token
    };
    let (status, _) = api.call_as(Some(&token), "GET", "/v1/purges", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // So is an admin key limited to clients: holds and purges cover every client.
    let limited = {
        let key = dunner::auth::issue();
        dunner::service::add_api_key_within(
            &api.state.store,
            &key,
            "acme only",
            &[dunner::auth::Scope::Admin],
            &dunner::auth::Access::limited_to(["acme".to_string()]),
            "2026-01-01T00:00:00Z".parse().unwrap(),
        )
        .await
        .unwrap();
        key.token
    };
    for (method, uri, body) in [
        ("GET", "/v1/purges", None),
        ("GET", "/v1/holds", None),
        ("POST", "/v1/purges", Some("{}".to_string())),
        (
            "POST",
            "/v1/holds",
            Some(json!({"client": "other", "kind": "dispute", "reason": "x"}).to_string()),
        ),
    ] {
        let (status, body) = api.call_as(Some(&limited), method, uri, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {body}");
    }
}

async fn activity_after_a_purge_is_purged_in_turn(test: TestStore) {
    let store = &test.store;
    write_ledger(store).await;
    let policy = RetentionConfig::default();
    run_purge(store, &policy, now(), now()).await.unwrap();
    // A late opt-out on the purged debt: new personal data, new activity.
    let late: LedgerEvent = serde_json::from_value(json!({
        "at": "2026-04-19T12:00:00Z", "type": "opted_out", "contact_point": "+15095550199"
    }))
    .unwrap();
    dunner::service::append_event(store, "W-1", &late, now())
        .await
        .unwrap();
    let run = run_purge(store, &policy, now(), now()).await.unwrap();
    assert!(run.purged.is_empty(), "within its own retention: {run:?}");
    let later: DateTime<Utc> = "2029-04-20T00:00:00Z".parse().unwrap();
    let run = run_purge(store, &policy, later, later).await.unwrap();
    assert_eq!(run.purged.len(), 1, "{run:?}");
    assert_eq!(run.purged[0].events, 1);
    assert!(!everything(&test).await.contains("+15095550199"));
    let verification = verify(store).await.unwrap();
    assert!(verification.intact(), "{verification:?}");
    assert_eq!(store.purge_report().await.unwrap().len(), 2);
}

on_both_stores!(
    activity_after_a_purge_is_purged_in_turn,
    a_purge_leaves_no_personal_data_and_the_history_verifies_and_counts,
    tampering_after_a_purge_is_still_found,
    an_entry_marked_purged_without_a_purge_is_found,
    an_edit_of_the_records_log_is_found,
    a_hold_blocks_the_purge_until_released,
    a_longer_retention_keeps_the_account,
    the_admin_api_places_holds_and_purges,
);

/// The binary end to end on a SQLite file: import, dry run, hold, purge, verify.
#[test]
fn the_cli_purges_with_holds() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let config = dir.path().join("dunner.toml");
    std::fs::write(&config, "[retention]\nyears = 3\n").unwrap();
    let config = config.to_str().unwrap();
    let accounts = dir.path().join("accounts.jsonl");
    let lines: Vec<String> = debts()
        .iter()
        .map(|a| serde_json::to_string(a).unwrap())
        .collect();
    std::fs::write(&accounts, lines.join("\n")).unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        json!({"account_id": "W-1", "at": "2020-04-06T17:00:00Z", "type": "contact", "channel": "call",
               "outcome": "no_answer", "contact_point": "+15095550177"})
        .to_string(),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--config", config];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--database", &database]);
        let output = dunner(&all, None);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = run(&[
        "import",
        accounts.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) = run(&["purge"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("would purge 1 account") && stdout.contains("W-1  closed_past_retention"),
        "{stdout}"
    );
    let (code, hold, stderr) = run(&[
        "hold",
        "place",
        "--client",
        "acme",
        "--kind",
        "litigation",
        "--reason",
        "case 1",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let hold = hold.trim().to_string();
    let (code, stdout, _) = run(&["purge", "--yes"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("purged 0 account")
            && stdout.contains(&format!("held W-1: legal hold {hold}")),
        "{stdout}"
    );
    let (code, stdout, _) = run(&["hold", "list"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains(&hold) && stdout.contains("in force"),
        "{stdout}"
    );
    let (code, _, stderr) = run(&[
        "hold",
        "place",
        "--account",
        "W-1",
        "--kind",
        "lawsuit",
        "--reason",
        "x",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--kind"), "{stderr}");
    let (code, _, stderr) = run(&["hold", "release", &hold]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) = run(&["purge", "--yes", "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["purged"][0]["account_id"], "W-1", "{stdout}");
    let (code, stdout, stderr) = run(&["audit", "verify"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("intact"), "{stdout}");
    let bytes = std::fs::read(dir.path().join("ledger.db")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for planted in &PLANTED[..4] {
        assert!(!text.contains(planted), "{planted} survived");
    }
}

/// A retention shorter than the federal floor is refused at load, naming the setting.
#[test]
fn a_retention_under_the_floor_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dunner.toml");
    std::fs::write(&config, "[retention.clients.acme]\nyears = 2\n").unwrap();
    let output = dunner(
        &["--config", config.to_str().unwrap(), "config", "show"],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`retention.clients.acme.years`") && stderr.contains("1006.100"),
        "{stderr}"
    );
    std::fs::write(
        &config,
        "[retention]\nyears = 7\n[retention.states.NY]\nyears = 10\n",
    )
    .unwrap();
    let output = dunner(
        &["--config", config.to_str().unwrap(), "config", "show"],
        None,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

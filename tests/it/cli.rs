//! The real binary, spawned.

use serde_json::Value;

use crate::helpers::{EXAMPLE_REQUEST, MINIMAL_PACK, dunner};

#[test]
fn decide_answers_the_example_with_a_deferral_and_its_reason() {
    let output = dunner(&["decide", "--rules", "rules", "-"], Some(EXAMPLE_REQUEST));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let decision: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(decision["allowed"], false);
    assert_eq!(decision["outcome"], "defer");
    // Tuesday is inconvenient; Wednesday 08:00 EDT is 12:00Z.
    assert_eq!(decision["next_allowed_at"], "2026-04-08T12:00:00Z");
    assert_eq!(
        decision["reasons"][0]["rule"],
        "reg-f.consumer-inconvenient-times"
    );
    assert!(
        decision["policy_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}

#[test]
fn decide_can_exit_4_when_refused_on_request() {
    let output = dunner(&["decide", "--fail-if-refused", "-"], Some(EXAMPLE_REQUEST));
    assert_eq!(output.status.code(), Some(4));
}

#[test]
fn decide_names_an_unknown_field() {
    let request = EXAMPLE_REQUEST.replace("\"purpose\"", "\"purpse\"");
    let output = dunner(&["decide", "-"], Some(&request));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `purpse`"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn decide_suggests_the_time_zone_that_was_meant() {
    let request = EXAMPLE_REQUEST.replace("America/New_York", "America/New_Yrok");
    let output = dunner(&["decide", "-"], Some(&request));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("account.consumer.time_zones[0]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `America/New_York`"),
        "{stderr}"
    );
}

#[test]
fn decide_names_a_wrong_type_and_an_unknown_channel() {
    let request = EXAMPLE_REQUEST.replace(
        "\"channel\": \"call\",\n  \"purpose\"",
        "\"channel\": \"fax\",\n  \"purpose\"",
    );
    let output = dunner(&["decide", "-"], Some(&request));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`channel`") && stderr.contains("fax"),
        "{stderr}"
    );

    let output = dunner(&["decide", "-"], Some("{\"at\": 5}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("`at`"), "{stderr}");
}

#[test]
fn decide_rejects_malformed_json_with_its_position() {
    let output = dunner(&["decide", "-"], Some("{\"at\": "));
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("malformed JSON"));
}

#[test]
fn decide_overview_gives_a_verdict_per_channel_and_contact_point() {
    let output = dunner(&["decide", "--overview", "-"], Some(EXAMPLE_REQUEST));
    assert_eq!(output.status.code(), Some(0));
    let verdicts: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let email = verdicts.iter().find(|v| v["channel"] == "email").unwrap();
    assert_eq!(email["decision"]["outcome"], "stop", "email was opted out");
    assert_eq!(
        verdicts.len(),
        5,
        "call, sms, email for one phone and one email, plus letter and visit"
    );
    // Calls carry their budgets; Reg F's 7-in-7 is left out because the consumer's
    // consent of April 3 exempts the call from it.
    let call = verdicts.iter().find(|v| v["channel"] == "call").unwrap();
    let caps: Vec<&str> = call["caps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rule"].as_str().unwrap())
        .collect();
    // New York City's rule before SHIELD binds too: the address names no city (fail closed).
    assert_eq!(
        caps,
        [
            "reg-f.rapid-succession",
            "reg-f.concentrated-calls",
            "nyc-pre-shield.frequency"
        ]
    );
    assert_eq!(call["caps"][1]["contact_point"], "+12125550100");
    assert_eq!(call["caps"][1]["remaining"], 6);
}

#[test]
fn rules_check_passes_the_shipped_packs() {
    let output = dunner(&["rules", "check", "rules"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("7 pack(s)"), "{stderr}");
}

#[test]
fn rules_check_reports_every_error_of_every_file_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let typo = MINIMAL_PACK.replace("channels = [\"call\"]", "chanels = [\"call\"]");
    std::fs::write(dir.path().join("a.toml"), typo).unwrap();
    let bad_channel = MINIMAL_PACK
        .replace("id = \"test\"", "id = \"other\"")
        .replace("test.hours", "other.hours")
        .replace("[\"call\"]", "[\"cal\"]");
    std::fs::write(dir.path().join("b.toml"), bad_channel).unwrap();
    let output = dunner(
        &[
            "rules",
            "check",
            dir.path().to_str().unwrap(),
            "--format",
            "plain",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("a.toml:12:1: error[rules::unknown-key]: unknown field `chanels`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `channels`?"), "{stderr}");
    assert!(
        stderr.contains("b.toml:12:13: error[rules::unknown-value]: unknown channel `cal`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `call`?"), "{stderr}");
}

#[test]
fn rules_check_json_format_is_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        MINIMAL_PACK.replace("\"21:00\"", "\"07:00\""),
    )
    .unwrap();
    let output = dunner(
        &[
            "rules",
            "check",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(3));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["diagnostics"][0]["code"], "rules::empty-window");
    assert_eq!(report["diagnostics"][0]["line"], 13);
}

#[test]
fn rules_test_runs_the_shipped_cases() {
    let output = dunner(&["rules", "test", "rules"], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.trim_end().ends_with(" 0 failed"), "{stdout}");
}

#[test]
fn rules_test_reports_a_failing_case_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.toml"), MINIMAL_PACK).unwrap();
    let cases = r#"
[accounts.a]
id = "A"
consumer = { time_zones = ["America/Chicago"] }

[[case]]
name = "a call at 07:00 local is wrongly expected to be allowed"
at = 2026-06-01T12:00:00Z
channel = "call"
account = "a"
[case.expect]
allowed = true
"#;
    std::fs::write(dir.path().join("test.tests.toml"), cases).unwrap();
    let output = dunner(&["rules", "test", dir.path().to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL") && stdout.contains("test.tests.toml:7"),
        "{stdout}"
    );
    assert!(
        stdout.contains("allowed: expected true, got false"),
        "{stdout}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
}

#[test]
fn rules_explain_says_whom_each_pack_binds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("account.json");
    let creditor =
        r#"{"id": "WA-1", "collector": "creditor", "consumer": {"address": {"state": "WA"}}}"#;
    std::fs::write(&path, creditor).unwrap();
    let args = [
        "rules",
        "explain",
        "--rules",
        "rules",
        "--account",
        path.to_str().unwrap(),
    ];
    let stdout = String::from_utf8(dunner(&args, None).stdout).unwrap();
    assert!(stdout.contains("Collector: creditor"), "{stdout}");
    assert!(
        stdout.contains("✗ us-wa")
            && stdout.contains("the law binds agency, debt_buyer, and the collector is creditor"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✗ us-federal") && stdout.contains("✓ us-bankruptcy"),
        "{stdout}"
    );
    // No collector: decided as an FDCPA debt collector, so both bind.
    std::fs::write(
        &path,
        r#"{"id": "WA-2", "consumer": {"address": {"state": "WA"}}}"#,
    )
    .unwrap();
    let stdout = String::from_utf8(dunner(&args, None).stdout).unwrap();
    assert!(
        stdout.contains("✓ us-wa") && stdout.contains("✓ us-federal"),
        "{stdout}"
    );
    assert!(
        stdout.contains("decides as an FDCPA debt collector"),
        "{stdout}"
    );
}

#[test]
fn rules_explain_says_which_packs_apply_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let account = r#"{"id": "MA-1", "consumer": {"address": {"state": "MA", "city": "Boston"}}, "flags": {"cease_and_desist": true}}"#;
    let path = dir.path().join("account.json");
    std::fs::write(&path, account).unwrap();
    let output = dunner(
        &[
            "rules",
            "explain",
            "--rules",
            "rules",
            "--account",
            path.to_str().unwrap(),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("✓ us-ma") && stdout.contains("the consumer's state is MA"),
        "{stdout}"
    );
    assert!(stdout.contains("✗ us-wa"), "{stdout}");
    assert!(
        stdout.contains("reg-f.cease-communication") && stdout.contains("holds now"),
        "{stdout}"
    );
}

#[test]
fn a_broken_rules_directory_refuses_to_decide() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), "[pack\nid = ").unwrap();
    let output = dunner(
        &["decide", "--rules", dir.path().to_str().unwrap(), "-"],
        Some(EXAMPLE_REQUEST),
    );
    assert_eq!(output.status.code(), Some(3));
    assert!(
        output.stdout.is_empty(),
        "no decision without a valid policy"
    );
}

#[test]
fn decide_rejects_an_unknown_state_instead_of_skipping_its_pack() {
    let request = EXAMPLE_REQUEST.replace("\"state\": \"NY\"", "\"state\": \"NW\"");
    let output = dunner(&["decide", "-"], Some(&request));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("account.consumer.address.state") && stderr.contains("unknown state `NW`"),
        "{stderr}"
    );
}

#[test]
fn migrate_creates_the_sqlite_ledger_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    for _ in 0..2 {
        let output = dunner(&["migrate", "--database", &url], None);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(dir.path().join("ledger.db").exists());
}

#[test]
fn migrate_rejects_an_unknown_database_url() {
    let output = dunner(&["migrate", "--database", "mysql://root@localhost/x"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unsupported database URL"));
}

/// Counts the accounts and events in a SQLite ledger file.
fn ledger_counts(db: &std::path::Path) -> (i64, i64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}", db.display());
        let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        let count = |table: &'static str| format!("SELECT COUNT(*) FROM {table}");
        let accounts: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count("accounts")))
            .fetch_one(&mut connection)
            .await
            .unwrap();
        let events: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count("events")))
            .fetch_one(&mut connection)
            .await
            .unwrap();
        (accounts, events)
    })
}

#[test]
fn import_rejects_every_bad_line_by_number_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let accounts = dir.path().join("accounts.jsonl");
    let events = dir.path().join("events.jsonl");
    let good = std::fs::read_to_string("examples/accounts.jsonl").unwrap();
    std::fs::write(
        &accounts,
        format!(
            "{good}{{\"id\": \"X-1\", \"consumer\": {{\"time_zones\": [\"America/New_Yrok\"]}}}}\n"
        ),
    )
    .unwrap();
    let history = std::fs::read_to_string("examples/events.jsonl").unwrap();
    std::fs::write(
        &events,
        format!("{history}{{\"account_id\": \"nobody\", \"at\": \"2026-04-01T14:05:00Z\", \"channel\": \"call\"}}\n"),
    )
    .unwrap();
    let database = format!("sqlite://{}", db.display());
    let args = |accounts: &std::path::Path| {
        vec![
            "import".to_string(),
            accounts.display().to_string(),
            events.display().to_string(),
            "--database".to_string(),
            database.clone(),
        ]
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        dunner(&args, None)
    };

    let output = run(args(&accounts));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("accounts.jsonl:6: consumer.time_zones[0]: ")
            && stderr.contains("America/New_York"),
        "{stderr}"
    );
    assert!(
        stderr.contains("events.jsonl:10: account_id: account `nobody` is neither in the placement file nor in the ledger"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 rejected line(s); nothing was imported"),
        "{stderr}"
    );
    assert_eq!(ledger_counts(&db), (0, 0));

    std::fs::write(&accounts, &good).unwrap();
    std::fs::write(&events, &history).unwrap();
    let output = run(args(&accounts));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("imported 5 accounts, 6 contact and consent events, 3 other events"),
        "{stderr}"
    );
    assert_eq!(ledger_counts(&db), (5, 9));
}

#[test]
fn rules_explain_shows_a_rules_own_effective_dates() {
    let dir = tempfile::tempdir().unwrap();
    let pack = format!(
        "{}\n[[cap]]\nid = \"test.later-cap\"\ncitation = \"none\"\nmessage = \"cap\"\nchannels = [\"call\"]\nmax = 3\nrolling = \"7d\"\neffective_from = 2027-01-01\n",
        crate::helpers::MINIMAL_PACK
    );
    std::fs::write(dir.path().join("test.toml"), pack).unwrap();
    let account = dir.path().join("account.json");
    std::fs::write(
        &account,
        r#"{"id": "T-1", "consumer": {"address": {"state": "NY"}}}"#,
    )
    .unwrap();
    let output = dunner(
        &[
            "rules",
            "explain",
            "--rules",
            dir.path().to_str().unwrap(),
            "--account",
            account.to_str().unwrap(),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let cap = stdout
        .split("• ")
        .find(|rule| rule.starts_with("test.later-cap"))
        .unwrap_or_else(|| panic!("the cap is listed: {stdout}"));
    assert!(
        cap.contains("In force from 2027-01-01 (the rule's own dates)."),
        "{cap}"
    );
    let window = stdout
        .split("• ")
        .find(|rule| rule.starts_with("test.hours"))
        .unwrap();
    assert!(!window.contains("In force"), "{window}");
}

#[test]
fn rules_test_coverage_names_the_rules_no_case_exercises() {
    let dir = tempfile::tempdir().unwrap();
    let pack = format!(
        "{}\n[[cap]]\nid = \"test.cap\"\ncitation = \"none\"\nmessage = \"cap\"\nchannels = [\"email\"]\nmax = 3\nrolling = \"7d\"\n",
        crate::helpers::MINIMAL_PACK
    );
    std::fs::write(dir.path().join("test.toml"), pack).unwrap();
    // One call at 03:00 in New York (refused by the window) and one at 10:00 (allowed):
    // the window is cited and lets a call through; the email cap is never tried.
    let cases = r#"
[accounts.ny]
id = "T-1"
consumer = { time_zones = ["America/New_York"] }

[[case]]
name = "at night"
at = 2026-04-07T07:00:00Z
channel = "call"
account = "ny"
expect = { allowed = false, rules = ["test.hours"] }

[[case]]
name = "in the morning"
at = 2026-04-07T14:00:00Z
channel = "call"
account = "ny"
expect = { allowed = true }
"#;
    std::fs::write(dir.path().join("test.tests.toml"), cases).unwrap();
    let rules = dir.path().to_str().unwrap();
    let output = dunner(&["rules", "test", rules, "--coverage"], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains("coverage: 1 of 2 rules exercised"),
        "{stdout}"
    );
    let never = stdout
        .split("never exercised (1):")
        .nth(1)
        .unwrap_or_else(|| panic!("a never-exercised list: {stdout}"));
    assert!(
        never.trim_start().starts_with("test.cap (test)"),
        "{stdout}"
    );

    let output = dunner(
        &["rules", "test", rules, "--coverage", "--format", "json"],
        None,
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let coverage = json["coverage"].as_array().unwrap();
    let hours = coverage.iter().find(|r| r["rule"] == "test.hours").unwrap();
    assert_eq!(
        (hours["cited"].as_u64(), hours["let_through"].as_u64()),
        (Some(1), Some(1))
    );
    let cap = coverage.iter().find(|r| r["rule"] == "test.cap").unwrap();
    assert_eq!(
        (cap["cited"].as_u64(), cap["let_through"].as_u64()),
        (Some(0), Some(0))
    );
}

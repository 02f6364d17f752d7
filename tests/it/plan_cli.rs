//! `dunner plan` and `dunner strategies check`, the real binary on a generated
//! portfolio: the schedule is written whole or not at all, every planned contact
//! carries an allowing decision, and bad input is named by file and line.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::helpers::dunner;
use crate::portfolio::generate;

const HEADER: &str = "account_id,step,day,at,channel,purpose,contact_point,dispatch,template_or_event,preferred,escalate_to,outcome,obligations,policy_digest,client";

fn plan(accounts: &Path, events: &Path, out: &Path) -> std::process::Output {
    dunner(
        &[
            "plan",
            "--accounts",
            accounts.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
            "--strategy",
            "strategies/standard-consumer.toml",
            "--from",
            "2026-11-23",
            "--days",
            "7",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    )
}

#[test]
fn a_generated_portfolio_is_planned_into_a_schedule_of_allowed_contacts_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (accounts, events) = generate(dir.path(), "plan", 400, 5);
    let csv = dir.path().join("schedule.csv");
    let output = plan(&accounts, &events, &csv);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("400 accounts: "), "{stderr}");
    assert!(stderr.contains("contacts planned per day"), "{stderr}");

    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert!(
        rows.len() > 200,
        "a week of a 400-account portfolio: {}",
        rows.len()
    );
    assert!(
        stderr.contains(&format!(
            "planned {} item(s) for 400 account(s)",
            rows.len()
        )),
        "{stderr}"
    );
    let days: BTreeSet<&str> = rows.iter().map(|row| row[2]).collect();
    for row in &rows {
        assert_eq!(row.len(), 15, "{row:?}");
        assert!(("2026-11-23"..="2026-11-29").contains(&row[2]), "{row:?}");
        match row[4] {
            // An escalation contacts nobody and carries no decision.
            "" => assert_eq!((row[8], row[11]), ("account.escalated", ""), "{row:?}"),
            _ => assert_eq!(row[11], "allow", "{row:?}"),
        }
    }
    assert!(days.len() >= 5, "contacts spread over the week: {days:?}");
    let channels: BTreeSet<&str> = rows.iter().map(|row| row[4]).collect();
    for channel in ["call", "email", "letter"] {
        assert!(channels.contains(channel), "{channels:?}");
    }

    // The same plan as JSON lines: the decisions themselves.
    let jsonl = dir.path().join("schedule.jsonl");
    let output = plan(&accounts, &events, &jsonl);
    assert!(output.status.success());
    let items: Vec<Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(items.len(), rows.len(), "the same plan in both formats");
    for item in items.iter().filter(|item| !item["channel"].is_null()) {
        assert_eq!(item["decision"]["allowed"], true, "{item}");
        assert_eq!(item["decision"]["outcome"], "allow", "{item}");
    }
    // Per debt, calls never exceed Regulation F's seven in seven days.
    let mut calls: std::collections::BTreeMap<&str, usize> = Default::default();
    for item in items.iter().filter(|item| item["channel"] == "call") {
        *calls
            .entry(item["account_id"].as_str().unwrap())
            .or_default() += 1;
    }
    assert!(calls.values().all(|count| *count <= 7), "{calls:?}");
}

#[test]
fn a_bad_line_is_named_and_no_schedule_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (accounts, events) = generate(dir.path(), "bad", 50, 3);
    let mut text = std::fs::read_to_string(&accounts).unwrap();
    text.push_str("{\"id\": \"X-1\", \"consumer\": {\"time_zones\": [\"Mars/Base\"]}}\n");
    let bad = dir.path().join("bad-accounts.jsonl");
    std::fs::write(&bad, text).unwrap();
    let out = dir.path().join("schedule.csv");
    let output = plan(&bad, &events, &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("bad-accounts.jsonl:51: consumer.time_zones[0]: "),
        "{stderr}"
    );
    assert!(stderr.contains("no schedule was written"), "{stderr}");
    assert!(!out.exists());
    assert!(!dir.path().join("schedule.csv.partial").exists());
}

#[test]
fn strategies_are_checked_with_file_line_and_column() {
    let output = dunner(&["strategies", "check", "strategies"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("2 of 2 strategy file(s) valid"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fax.toml");
    std::fs::write(
        &file,
        "[strategy]\nid = \"fax\"\ntitle = \"Fax\"\nversion = \"1\"\n\n[[step]]\nid = \"fax-them\"\nchannel = \"fax\"\non_day = 0\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let output = dunner(&["strategies", "check", file, "--format", "plain"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{file}:8:11: error[strategy::unknown-value]: unknown channel `fax`"
        )),
        "{stderr}"
    );

    // `dunner plan` refuses it the same way and writes nothing.
    let out = dir.path().join("schedule.csv");
    let output = dunner(
        &[
            "plan",
            "--accounts",
            "examples/accounts.jsonl",
            "--strategy",
            file,
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(3));
    assert!(!out.exists());
}

#[test]
fn each_planned_item_names_its_accounts_client() {
    let dir = tempfile::tempdir().unwrap();
    let (accounts, events) = generate(dir.path(), "clients", 40, 7);
    // Every account of an even line belongs to client `acme`; the others name none.
    let text = std::fs::read_to_string(&accounts).unwrap();
    let mut acme = BTreeSet::new();
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(index, line)| {
            let mut account: serde_json::Value = serde_json::from_str(line).unwrap();
            if index % 2 == 0 {
                account["client"] = "acme".into();
                acme.insert(account["id"].as_str().unwrap().to_string());
            }
            account.to_string()
        })
        .collect();
    std::fs::write(&accounts, lines.join("\n") + "\n").unwrap();
    let csv = dir.path().join("schedule.csv");
    let output = plan(&accounts, &events, &csv);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert!(!rows.is_empty());
    for row in &rows {
        let expected = if acme.contains(row[0]) { "acme" } else { "" };
        assert_eq!(row.last().copied(), Some(expected), "{row:?}");
    }
    assert!(rows.iter().any(|row| row.last() == Some(&"acme")));
}

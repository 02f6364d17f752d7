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
    plan_with(accounts, events, out, &[])
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

/// `dunner plan` with extra arguments (`--block-bytes` to cross block boundaries).
fn plan_with(accounts: &Path, events: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
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
    ];
    args.extend_from_slice(extra);
    dunner(&args, None)
}

/// Plans and returns the schedule's bytes and stderr, asserting success.
fn schedule_of(accounts: &Path, events: &Path, out: &Path, extra: &[&str]) -> (Vec<u8>, String) {
    let output = plan_with(accounts, events, out, extra);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    (std::fs::read(out).unwrap(), stderr)
}

const IN_MEMORY: &str = "not in consumer order, so they are planned in memory";

/// The last line of stderr without its timing: the counts and the digest.
fn planned_line(stderr: &str) -> String {
    let line = stderr.lines().rfind(|l| l.starts_with("planned ")).unwrap();
    line.split(" in ").next().unwrap().to_string()
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn account_of(event: &str) -> String {
    let value: Value = serde_json::from_str(event).unwrap();
    value["account_id"].as_str().unwrap().to_string()
}

#[test]
fn files_in_consumer_order_stream_to_the_same_schedule_in_any_block_size() {
    let dir = tempfile::tempdir().unwrap();
    let (accounts, events) = generate(dir.path(), "blocks", 600, 11);
    let (whole, whole_err) = schedule_of(&accounts, &events, &dir.path().join("a.csv"), &[]);
    assert!(whole.len() > 10_000, "something is planned");
    for size in ["1", "700", "5000"] {
        let out = dir.path().join(format!("b{size}.csv"));
        let (blocks, stderr) = schedule_of(&accounts, &events, &out, &["--block-bytes", size]);
        assert!(blocks == whole, "block size {size}: another schedule");
        assert!(!stderr.contains(IN_MEMORY), "{stderr}");
        assert_eq!(planned_line(&stderr), planned_line(&whole_err));
        assert_eq!(
            stderr.split("\nplanned").next(),
            whole_err.split("\nplanned").next(),
            "the same summary"
        );
    }
    assert!(!whole_err.contains(IN_MEMORY), "{whole_err}");
}

#[test]
fn files_in_another_order_are_planned_in_memory_to_the_same_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let (accounts, events) = generate(dir.path(), "order", 600, 13);
    let (expected, expected_err) =
        schedule_of(&accounts, &events, &dir.path().join("expected.csv"), &[]);
    let account_lines = lines_of(&accounts);
    let event_lines = lines_of(&events);

    // Events grouped by account, the accounts in reverse order (each account's events
    // keep theirs): the first event line belongs to the last account with events.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for line in &event_lines {
        let account = account_of(line);
        match groups.last_mut() {
            Some((id, lines)) if *id == account => lines.push(line.clone()),
            _ => groups.push((account, vec![line.clone()])),
        }
    }
    let reversed: Vec<String> = groups.iter().rev().flat_map(|(_, l)| l.clone()).collect();
    let reversed_path = dir.path().join("reversed-events.jsonl");
    write_lines(&reversed_path, &reversed);

    // The last account's events first, the rest in order: events before their account.
    let last = groups.last().unwrap().0.clone();
    let mut early: Vec<String> = event_lines
        .iter()
        .filter(|l| account_of(l) == last)
        .cloned()
        .collect();
    early.extend(
        event_lines
            .iter()
            .filter(|l| account_of(l) != last)
            .cloned(),
    );
    let early_path = dir.path().join("early-events.jsonl");
    write_lines(&early_path, &early);

    // A consumer's second debt moved to the end of the accounts file (its events stay).
    let consumer_of = |line: &str| {
        let value: Value = serde_json::from_str(line).unwrap();
        value["consumer"]["id"].as_str().unwrap().to_string()
    };
    let second = (1..account_lines.len())
        .find(|&i| consumer_of(&account_lines[i]) == consumer_of(&account_lines[i - 1]))
        .expect("a consumer with two debts");
    let mut split = account_lines.clone();
    let moved = split.remove(second);
    split.push(moved);
    let split_path = dir.path().join("split-accounts.jsonl");
    write_lines(&split_path, &split);

    for (name, accounts, events, line) in [
        (
            "reversed events",
            &accounts,
            &reversed_path,
            "reversed-events.jsonl:",
        ),
        (
            "early events",
            &accounts,
            &early_path,
            "early-events.jsonl:",
        ),
        (
            "a consumer split",
            &split_path,
            &events,
            &*format!("split-accounts.jsonl:{}: consumer `", account_lines.len()),
        ),
    ] {
        for extra in [&[][..], &["--block-bytes", "3000"][..]] {
            let out = dir.path().join("schedule.csv");
            let (schedule, stderr) = schedule_of(accounts, events, &out, extra);
            assert!(schedule == expected, "{name} {extra:?}: another schedule");
            assert!(stderr.contains(IN_MEMORY), "{name}: {stderr}");
            assert!(stderr.contains(line), "{name}: {stderr}");
            assert_eq!(planned_line(&stderr), planned_line(&expected_err), "{name}");
        }
    }
}

#[test]
fn bad_lines_of_streamed_files_are_named_by_their_line_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (accounts, events) = generate(dir.path(), "lines", 300, 17);
    let mut account_lines = lines_of(&accounts);
    let mut event_lines = lines_of(&events);
    // Line 151 of the accounts: a zone that does not exist (its events still join).
    let mut account: Value = serde_json::from_str(&account_lines[150]).unwrap();
    account["consumer"]["time_zones"] = serde_json::json!(["Mars/Base"]);
    account_lines[150] = account.to_string();
    // Line 401 of the events: an instant that is not one; line 402 is blank.
    let mut event: Value = serde_json::from_str(&event_lines[400]).unwrap();
    event["at"] = "not a time".into();
    event_lines[400] = event.to_string();
    event_lines.insert(401, String::new());
    // Line 701 (the blank line moved it from 700): an event without an account.
    let mut event: Value = serde_json::from_str(&event_lines[700]).unwrap();
    event.as_object_mut().unwrap().remove("account_id");
    event_lines[700] = event.to_string();
    write_lines(&accounts, &account_lines);
    write_lines(&events, &event_lines);
    for extra in [&[][..], &["--block-bytes", "2000"][..]] {
        let out = dir.path().join("schedule.csv");
        let output = plan_with(&accounts, &events, &out, extra);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("lines-accounts.jsonl:151: consumer.time_zones[0]: "),
            "{stderr}"
        );
        assert!(stderr.contains("lines-events.jsonl:401: "), "{stderr}");
        assert!(
            stderr.contains("lines-events.jsonl:701: account_id: missing field `account_id`"),
            "{stderr}"
        );
        assert!(
            stderr.contains("3 rejected line(s); no schedule was written"),
            "{stderr}"
        );
        assert!(!stderr.contains(IN_MEMORY), "streamed: {stderr}");
        assert!(!out.exists());
        assert!(!dir.path().join("schedule.csv.partial").exists());
    }
}

#[test]
fn events_of_a_blocks_accounts_out_of_their_order_within_the_block_still_stream() {
    let dir = tempfile::tempdir().unwrap();
    let (accounts, events) = generate(dir.path(), "within", 400, 19);
    let (expected, expected_err) =
        schedule_of(&accounts, &events, &dir.path().join("expected.csv"), &[]);
    // The events of the first two accounts with events, swapped: both accounts are in
    // the first block, so the join finds the second's events before the first's.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for line in lines_of(&events) {
        let account = account_of(&line);
        match groups.last_mut() {
            Some((id, lines)) if *id == account => lines.push(line),
            _ => groups.push((account, vec![line])),
        }
    }
    assert!(groups.len() > 10, "accounts with events");
    groups.swap(0, 1);
    let swapped = dir.path().join("swapped-events.jsonl");
    let lines: Vec<String> = groups.into_iter().flat_map(|(_, l)| l).collect();
    write_lines(&swapped, &lines);
    let out = dir.path().join("schedule.csv");
    let (schedule, stderr) = schedule_of(&accounts, &swapped, &out, &[]);
    assert!(schedule == expected, "another schedule");
    assert!(!stderr.contains(IN_MEMORY), "streamed: {stderr}");
    assert_eq!(planned_line(&stderr), planned_line(&expected_err));
    // In blocks of a few accounts the two may fall apart: planned in memory then, to
    // the same schedule.
    let (schedule, _) = schedule_of(&accounts, &swapped, &out, &["--block-bytes", "300"]);
    assert!(schedule == expected, "small blocks: another schedule");
}

#[test]
fn a_line_that_is_not_utf8_stops_the_streamed_plan_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (accounts, events) = generate(dir.path(), "bytes", 200, 23);
    let mut bytes = std::fs::read(&events).unwrap();
    let middle = bytes.len() / 2;
    let quote = middle + bytes[middle..].iter().position(|&b| b == b'"').unwrap();
    bytes.insert(quote + 1, 0xFF);
    std::fs::write(&events, bytes).unwrap();
    for extra in [&[][..], &["--block-bytes", "2000"][..]] {
        let out = dir.path().join("schedule.csv");
        let output = plan_with(&accounts, &events, &out, extra);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("bytes-events.jsonl: stream did not contain valid UTF-8"),
            "{stderr}"
        );
        assert!(!out.exists());
        assert!(!dir.path().join("schedule.csv.partial").exists());
    }
}

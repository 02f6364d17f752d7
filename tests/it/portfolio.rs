//! `examples/generate_portfolio.py`: the synthetic portfolio it writes is what the real
//! `dunner import` accepts, it is the same for the same seed, and it covers the
//! jurisdictions of the shipped packs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::helpers::dunner;

/// Runs the generator; returns the paths of the accounts and events it wrote.
pub fn generate(dir: &Path, name: &str, accounts: usize, seed: u64) -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/generate_portfolio.py");
    let out_accounts = dir.join(format!("{name}-accounts.jsonl"));
    let out_events = dir.join(format!("{name}-events.jsonl"));
    let output = Command::new("python3")
        .arg(script)
        .args(["--accounts", &accounts.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--as-of", "2026-11-23"])
        .arg("--out-accounts")
        .arg(&out_accounts)
        .arg("--out-events")
        .arg(&out_events)
        .output()
        .expect("python3 runs examples/generate_portfolio.py");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{accounts} accounts of ")),
        "the summary names the count: {stderr}"
    );
    (out_accounts, out_events)
}

fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn amount(money: &Value) -> Decimal {
    assert_eq!(money["currency"], "USD", "{money}");
    let text = money["amount"].as_str().unwrap();
    let (_, cents) = text.split_once('.').unwrap();
    assert_eq!(cents.len(), 2, "two decimals: {text}");
    text.parse().unwrap()
}

#[test]
fn a_generated_portfolio_is_deterministic_covers_the_packs_and_imports() {
    let dir = tempfile::tempdir().unwrap();
    let (accounts_path, events_path) = generate(dir.path(), "one", 300, 11);
    let (again_accounts, again_events) = generate(dir.path(), "two", 300, 11);
    let (other_accounts, _) = generate(dir.path(), "three", 300, 12);
    let bytes = |path: &Path| std::fs::read(path).unwrap();
    assert!(bytes(&accounts_path) == bytes(&again_accounts), "same seed");
    assert!(bytes(&events_path) == bytes(&again_events), "same seed");
    assert!(
        bytes(&accounts_path) != bytes(&other_accounts),
        "another seed, another portfolio"
    );

    // The shape: what the shipped packs cover is there, and what the planner needs.
    let accounts = json_lines(&accounts_path);
    let events = json_lines(&events_path);
    assert_eq!(accounts.len(), 300);
    let states: BTreeSet<&str> = accounts
        .iter()
        .map(|a| a["consumer"]["address"]["state"].as_str().unwrap())
        .collect();
    for state in ["MA", "NY", "WA", "CA", "TX", "FL"] {
        assert!(states.contains(state), "{state} in {states:?}");
    }
    let nyc = accounts
        .iter()
        .filter(|a| {
            let address = &a["consumer"]["address"];
            address["state"] == "NY"
                && ["New York", "Brooklyn", "Bronx", "Queens", "Staten Island"]
                    .iter()
                    .any(|city| address["city"] == *city)
        })
        .count();
    assert!(nyc >= 5, "{nyc} New York City accounts");
    let mut debts_per_consumer: BTreeMap<&str, usize> = BTreeMap::new();
    for account in &accounts {
        *debts_per_consumer
            .entry(account["consumer"]["id"].as_str().unwrap())
            .or_default() += 1;
    }
    assert!(
        debts_per_consumer.values().any(|&debts| debts > 1),
        "some consumers owe several debts"
    );
    let kinds: BTreeSet<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for kind in [
        "contact",
        "payment_posted",
        "promise_to_pay",
        "payment_plan",
        "flag_set",
    ] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    let per_account = events.len() as f64 / accounts.len() as f64;
    assert!(
        (3.0..8.0).contains(&per_account),
        "{per_account} events per account"
    );
    // Each account's events in time order, never after the as-of date.
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for event in &events {
        let at = event["at"].as_str().unwrap();
        assert!(at < "2026-11-23T00:00:00Z", "{event}");
        let id = event["account_id"].as_str().unwrap();
        if let Some(previous) = last.insert(id, at) {
            assert!(previous <= at, "{event} after {previous}");
        }
    }

    // The real validator accepts every line, and the real import takes them all.
    let database = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let accounts_arg = accounts_path.display().to_string();
    let events_arg = events_path.display().to_string();
    for check in [true, false] {
        let mut args = vec![
            "import",
            accounts_arg.as_str(),
            events_arg.as_str(),
            "--database",
            database.as_str(),
        ];
        if check {
            args.push("--check");
        }
        let output = dunner(&args, None);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("300 accounts, "), "{stderr}");
    }

    // Payments bring balances down and never below zero: the generator pays no more
    // than is owed, and the ledger agrees with the file.
    let mut paid: BTreeMap<&str, Decimal> = BTreeMap::new();
    for event in events.iter().filter(|e| e["type"] == "payment_posted") {
        *paid
            .entry(event["account_id"].as_str().unwrap())
            .or_default() += amount(&event["amount"]);
    }
    assert!(paid.len() >= 5, "{} accounts with payments", paid.len());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = runtime
        .block_on(dunner::store::Store::open(&database))
        .unwrap();
    for account in &accounts {
        let id = account["id"].as_str().unwrap();
        let placed = amount(&account["balance"]);
        let expected = placed - paid.get(id).copied().unwrap_or_default();
        assert!(expected >= Decimal::ZERO, "{id} overpaid: {expected}");
        let stored = runtime.block_on(store.get_account(id)).unwrap().unwrap();
        let balance = stored.balance.unwrap();
        assert_eq!(balance.amount, expected, "{id}");
    }
}

//! Planner benchmarks: a week of the standard consumer strategy for a generated
//! portfolio (`examples/generate_portfolio.py`, 2,000 accounts with their history),
//! on one core (`plan_consumer` in a loop) and on every core (`plan`). Run with
//! `cargo bench --bench planner`; the million-account run is `benches/plan_portfolio.sh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dunner::Policy;
use dunner::domain::{Account, LedgerEvent};
use dunner::planner::{AccountLedger, Horizon, by_consumer, plan, plan_consumer};
use dunner::strategy::Strategy;

const ACCOUNTS: usize = 2_000;

fn portfolio() -> Vec<AccountLedger> {
    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("accounts.jsonl");
    let events = dir.path().join("events.jsonl");
    let status = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/generate_portfolio.py"))
        .args([
            "--accounts",
            &ACCOUNTS.to_string(),
            "--seed",
            "7",
            "--as-of",
            "2026-11-23",
        ])
        .arg("--out-accounts")
        .arg(&accounts)
        .arg("--out-events")
        .arg(&events)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut ledgers: HashMap<String, Vec<LedgerEvent>> = HashMap::new();
    for line in std::fs::read_to_string(&events).unwrap().lines() {
        let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = value["account_id"].as_str().unwrap().to_string();
        value.as_object_mut().unwrap().remove("account_id");
        ledgers
            .entry(id)
            .or_default()
            .push(serde_json::from_value(value).unwrap());
    }
    std::fs::read_to_string(&accounts)
        .unwrap()
        .lines()
        .map(|line| {
            let account: Account = serde_json::from_str(line).unwrap();
            let ledger = ledgers.remove(&account.id).unwrap_or_default();
            AccountLedger { account, ledger }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let policy = Policy::load(&root.join("rules")).unwrap();
    let strategy = Strategy::load(&root.join("strategies/standard-consumer.toml")).unwrap();
    let accounts = portfolio();
    let horizon = Horizon {
        not_before: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        first_day: Some("2026-11-23".parse().unwrap()),
        days: 7,
    };
    let consumers = by_consumer(&accounts);
    let mut group = c.benchmark_group("plan a week, standard strategy");
    group.throughput(Throughput::Elements(ACCOUNTS as u64));
    group.sample_size(10);
    group.bench_function("one core", |b| {
        b.iter(|| {
            for debts in &consumers {
                black_box(plan_consumer(debts, &strategy, &policy, &horizon));
            }
        })
    });
    group.bench_function("every core", |b| {
        b.iter(|| black_box(plan(&accounts, &strategy, &policy, &horizon)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

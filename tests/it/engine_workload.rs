//! Issue 15: the engine's answers on the workload accounts are kept, field by field,
//! while the engine is made faster. `tests/golden/workload_decisions.jsonl` holds the
//! answers of the engine before any optimization (regenerate only on purpose, with
//! `DUNNER_UPDATE_GOLDEN=1`, when an answer is meant to change).

#[path = "../../benches/workload/mod.rs"]
mod workload;

use std::collections::BTreeSet;
use std::path::Path;

use dunner::engine::{Decision, Subject, decide};

/// Every 50th account of the 100,000: 2,000 decisions across the whole workload.
const STRIDE: u64 = 50;

fn golden_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/workload_decisions.jsonl")
}

#[test]
fn every_workload_answer_is_the_one_the_engine_gave_before_it_was_optimized() {
    let policy = workload::policy();
    let indices = (0..workload::ACCOUNTS).step_by(STRIDE as usize);
    let mut lines = Vec::new();
    for index in indices {
        let case = workload::case(index);
        let one_shot = decide(&policy, &case.request);
        let subject = Subject::new(&policy, &case.request.account, &case.request.history);
        let prepared = subject.decide(&case.question());
        assert_eq!(
            prepared, one_shot,
            "account {index}: prepared and one-shot differ"
        );
        lines.push(serde_json::json!({"index": index, "decision": one_shot}).to_string());
    }
    if std::env::var_os("DUNNER_UPDATE_GOLDEN").is_some() {
        std::fs::write(golden_path(), lines.join("\n") + "\n").unwrap();
    }
    let golden = std::fs::read_to_string(golden_path()).unwrap();
    let golden: Vec<&str> = golden.lines().collect();
    assert_eq!(golden.len(), lines.len());
    for (now, before) in lines.iter().zip(&golden) {
        let now: serde_json::Value = serde_json::from_str(now).unwrap();
        let before: serde_json::Value = serde_json::from_str(before).unwrap();
        assert_eq!(now, before, "the answer changed");
    }

    // The sample exercises every rule, refusals with and without a next allowed
    // instant, and allowed contacts; otherwise it would keep little.
    let decisions: Vec<Decision> = golden
        .iter()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            serde_json::from_value(value["decision"].clone()).unwrap()
        })
        .collect();
    let rules: BTreeSet<&str> = decisions
        .iter()
        .flat_map(|d| d.reasons.iter().map(|r| r.rule.as_str()))
        .collect();
    for rule in [
        "workload.hours",
        "workload.call-cap",
        "workload.after-conversation",
        "workload.cease",
        "workload.attorney",
        "workload.bankruptcy",
        "workload-ma.call-cap",
    ] {
        assert!(rules.contains(rule), "no refusal by {rule} in the sample");
    }
    assert!(decisions.iter().any(|d| d.allowed));
    assert!(
        decisions
            .iter()
            .any(|d| !d.allowed && d.next_allowed_at.is_some())
    );
    assert!(
        decisions
            .iter()
            .any(|d| !d.allowed && d.next_allowed_at.is_none())
    );
    assert!(decisions.iter().any(|d| d.reasons.len() >= 2));
}

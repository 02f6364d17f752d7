//! `dunner rules impact` (issue 13 part 2): logged decisions replayed under live and a
//! candidate, recorded contacts judged by the candidate, the plan ahead compared — on
//! both stores, and the real binary's exit codes.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use dunner::audit::impact::{Ahead, Impact, ImpactRequest, run};
use dunner::domain::{Account, Channel, Outcome};
use dunner::planner::Horizon;
use dunner::policy::Policy;
use dunner::report::Period;
use dunner::store::{Attempt, Store};
use dunner::strategy::StrategySet;

use crate::helpers::{NOON_ONLY, SHIPPED_SHARED, dunner, on_both_stores, shipped_with};
use crate::store_conformance::{TestStore, postgres, sqlite};

/// An overlay no call ever fits: one minute at 3 am, outside the federal hours.
const NO_CALLS: &str = r#"
[pack]
id = "client-no-calls"
title = "Client overlay: no calls"
version = "1"
citation = "Client contract 9"
effective_from = 2021-01-01

[pack.scope]
country = "US"

[[window]]
id = "client.no-calls"
citation = "Client contract 9"
message = "No calls."
channels = ["call"]
allow = [{ from = "03:00", to = "03:01" }]
"#;

fn now() -> DateTime<Utc> {
    "2026-04-20T00:00:00Z".parse().unwrap()
}

/// The days of the contacts (14 April) and of the decisions (logged at `now`).
fn period() -> Period {
    let day = NaiveDate::from_ymd_opt(2026, 4, 20).unwrap();
    Period::new(NaiveDate::from_ymd_opt(2026, 4, 14), Some(day), day).unwrap()
}

fn account(id: &str) -> Account {
    serde_json::from_str(&format!(
        r#"{{"id": "{id}", "placed_on": "2026-04-20", "debt_type": "credit_card",
             "balance": {{"amount": "500.00", "currency": "USD"}},
             "consumer": {{"address": {{"state": "NY", "city": "Albany"}}, "time_zones": ["America/New_York"],
             "phones": [{{"number": "+12125550100", "kind": "mobile"}}]}}}}"#
    ))
    .unwrap()
}

fn attempt(account_id: &str, at: &str) -> Attempt {
    Attempt {
        account_id: account_id.into(),
        at: at.parse().unwrap(),
        channel: Channel::Call,
        purpose: Default::default(),
        contact_point: Some("+12125550100".into()),
        outcome: Some(Outcome::NoAnswer),
        idempotency: None,
    }
}

/// Under `policy`: a call at 11:00 in New York (recorded when allowed) and a question
/// at 12:30 (logged, nothing recorded).
async fn log_decisions(store: &Store, policy: &Arc<Policy>) -> bool {
    store.put_account(&account("A-1"), now()).await.unwrap();
    let recorded = dunner::service::check_and_record(
        store,
        policy,
        &attempt("A-1", "2026-04-14T15:00:00Z"),
        now(),
    )
    .await
    .unwrap();
    let asked = dunner::service::decide_and_log(
        store,
        policy,
        &attempt("A-1", "2026-04-15T16:30:00Z"),
        now(),
    )
    .await
    .unwrap();
    assert!(asked.decision.allowed);
    recorded.decision.allowed
}

async fn impact(store: &Store, candidate: Arc<Policy>, rules: Option<Arc<Policy>>) -> Impact {
    run(
        store,
        ImpactRequest {
            candidate,
            rules,
            period: period(),
            ahead: None,
        },
    )
    .await
    .unwrap()
}

async fn a_planted_loosening_is_counted(test: TestStore) {
    let store = &test.store;
    let stricter = shipped_with("client-noon.toml", NOON_ONLY);
    // Live was the noon-only overlay: the 11:00 call was refused.
    assert!(!log_decisions(store, &stricter).await);
    // The candidate drops the overlay (its window rule): live is the policy in force,
    // read back from the pack texts kept for its digest.
    let found = impact(store, Arc::clone(&SHIPPED_SHARED), None).await;
    assert!(found.loosens);
    assert_eq!(found.live_digests, vec![stricter.digest().to_string()]);
    let d = &found.decisions;
    assert_eq!((d.logged, d.replayed, d.unchanged), (2, 2, 1));
    assert_eq!((d.flips.refuse_to_allow, d.flips.allow_to_refuse), (1, 0));
    assert_eq!(d.by_rule[0].name, "client.noon-only");
    assert_eq!(d.by_rule[0].flips.refuse_to_allow, 1);
    assert_eq!(d.by_state[0].name, "NY");
    assert_eq!(d.by_channel[0].name, "call");
    assert_eq!(d.by_purpose[0].name, "collection");
    let example = &d.examples[0];
    assert_eq!(example.account_id, "A-1");
    assert_eq!(example.at.to_rfc3339(), "2026-04-14T15:00:00+00:00");
    assert_eq!(example.live_rules, vec!["client.noon-only".to_string()]);
    assert!(example.candidate_rules.is_empty());
    // Nothing was recorded, so the candidate refuses no recorded contact.
    assert_eq!((found.contacts.contacts, found.contacts.refused), (0, 0));
    // The same with the live policy given as a rules directory.
    let given = impact(store, Arc::clone(&SHIPPED_SHARED), Some(stricter)).await;
    assert_eq!(given.decisions.flips.refuse_to_allow, 1);
}

async fn a_planted_tightening_counts_allow_to_refuse_and_does_not_loosen(test: TestStore) {
    let store = &test.store;
    assert!(log_decisions(store, &SHIPPED_SHARED).await);
    let found = impact(store, shipped_with("client-noon.toml", NOON_ONLY), None).await;
    assert!(!found.loosens);
    let d = &found.decisions;
    // The 11:00 call flips; the 12:30 question stays allowed.
    assert_eq!(
        (
            d.flips.allow_to_refuse,
            d.flips.refuse_to_allow,
            d.unchanged
        ),
        (1, 0, 1)
    );
    assert_eq!(d.examples[0].candidate_rules, vec!["client.noon-only"]);
    // The recorded 11:00 call is one the candidate would have refused.
    assert_eq!((found.contacts.contacts, found.contacts.refused), (1, 1));
    assert_eq!(found.contacts.by_rule[0].rule, "client.noon-only");
}

async fn an_identical_candidate_flips_nothing(test: TestStore) {
    let store = &test.store;
    log_decisions(store, &SHIPPED_SHARED).await;
    let found = impact(store, Arc::clone(&SHIPPED_SHARED), None).await;
    assert!(!found.loosens);
    assert_eq!(found.decisions.replayed, 2);
    assert_eq!(found.decisions.unchanged, 2);
    assert_eq!(found.decisions.flips.total(), 0);
    assert!(found.decisions.examples.is_empty());
}

async fn the_plan_ahead_counts_added_and_removed_items(test: TestStore) {
    let store = &test.store;
    store.put_account(&account("A-1"), now()).await.unwrap();
    let strategies = Arc::new(
        StrategySet::load(
            &[Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies/standard-consumer.toml")],
            false,
        )
        .unwrap(),
    );
    let no_calls = shipped_with("client-no-calls.toml", NO_CALLS);
    let compare = |live: Arc<Policy>, candidate: Arc<Policy>| {
        let strategies = Arc::clone(&strategies);
        async move {
            run(
                store,
                ImpactRequest {
                    candidate,
                    rules: Some(Arc::clone(&live)),
                    period: period(),
                    ahead: Some(Ahead {
                        strategies,
                        live,
                        horizon: Horizon {
                            not_before: "2026-04-20T16:00:00Z".parse().unwrap(),
                            first_day: None,
                            days: 7,
                        },
                    }),
                },
            )
            .await
            .unwrap()
        }
    };
    // Calls are no longer allowed: the planned calls are removed.
    let tighter = compare(Arc::clone(&SHIPPED_SHARED), Arc::clone(&no_calls)).await;
    let forward = tighter.forward.as_ref().unwrap();
    assert_eq!(forward.accounts, 1);
    assert_eq!(forward.strategies, vec!["standard-consumer"]);
    assert!(forward.removed > 0, "{forward:?}");
    assert_eq!(forward.added, 0);
    assert_eq!(
        forward.live_items - forward.candidate_items,
        forward.removed
    );
    assert!(!tighter.loosens);
    // The other way round: the calls are added, and the candidate loosens.
    let looser = compare(no_calls, Arc::clone(&SHIPPED_SHARED)).await;
    let forward = looser.forward.as_ref().unwrap();
    assert_eq!(forward.added, tighter.forward.as_ref().unwrap().removed);
    assert_eq!(forward.removed, 0);
    assert!(
        forward
            .examples
            .iter()
            .any(|c| c.change == "added" && c.step == "evening-call")
    );
    assert!(looser.loosens);
    // The same policy on both sides plans the same.
    let same = compare(Arc::clone(&SHIPPED_SHARED), Arc::clone(&SHIPPED_SHARED)).await;
    let forward = same.forward.as_ref().unwrap();
    assert!(forward.live_items > 0);
    assert_eq!((forward.added, forward.removed, forward.moved), (0, 0, 0));
}

/// A copy of the shipped packs, with an overlay when given.
pub(crate) fn rules_dir(overlay: Option<(&str, &str)>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for entry in std::fs::read_dir(shipped).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".toml") && !name.ends_with(".tests.toml") {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    if let Some((name, text)) = overlay {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

async fn the_command_gates_a_loosening(test: TestStore) {
    let stricter = shipped_with("client-noon.toml", NOON_ONLY);
    assert!(!log_decisions(&test.store, &stricter).await);
    let shipped = rules_dir(None);
    let strict = rules_dir(Some(("client-noon.toml", NOON_ONLY)));
    let out = tempfile::tempdir().unwrap();
    let run = |candidate: &Path, format: &str, extra: &[&str]| {
        let mut args = vec![
            "rules",
            "impact",
            "--candidate",
            candidate.to_str().unwrap(),
            "--from",
            "2026-04-14",
            "--to",
            "2026-04-20",
            "--database",
            &test.url,
            "--format",
            format,
        ];
        args.extend_from_slice(extra);
        dunner(&args, None)
    };
    // Dropping the overlay loosens: exit 4, the flip in the JSON.
    let loosened = run(shipped.path(), "json", &[]);
    assert_eq!(loosened.status.code(), Some(4), "{loosened:?}");
    let json: serde_json::Value = serde_json::from_slice(&loosened.stdout).unwrap();
    assert_eq!(json["loosens"], true);
    assert_eq!(json["decisions"]["refuse_to_allow"], 1);
    assert_eq!(json["decisions"]["by_rule"][0]["name"], "client.noon-only");
    assert_eq!(json["forward"], serde_json::Value::Null);
    // Keeping it is no loosening: exit 0; the text names the counts.
    let kept = run(strict.path(), "human", &[]);
    assert_eq!(kept.status.code(), Some(0), "{kept:?}");
    let text = String::from_utf8(kept.stdout).unwrap();
    assert!(text.contains("does not loosen"), "{text}");
    assert!(text.contains("2 replayed, 2 unchanged"), "{text}");
    // The HTML page, written to a file, with the plan ahead.
    let page = out.path().join("impact.html");
    let strategy = Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies/standard-consumer.toml");
    let html = run(
        shipped.path(),
        "html",
        &[
            "--rules",
            strict.path().to_str().unwrap(),
            "--strategy",
            strategy.to_str().unwrap(),
            "--out",
            page.to_str().unwrap(),
        ],
    );
    assert_eq!(html.status.code(), Some(4), "{html:?}");
    let page = std::fs::read_to_string(page).unwrap();
    assert!(page.contains("<title>dunner rules impact</title>"));
    assert!(page.contains("client.noon-only"));
    assert!(page.contains("Plan ahead: 7 days"));
    assert!(!page.contains("+1212555"));
    // An invalid candidate: exit 3, naming the file.
    let broken = rules_dir(Some(("broken.toml", "[pack]\nid = 7\n")));
    let invalid = run(broken.path(), "json", &[]);
    assert_eq!(invalid.status.code(), Some(3), "{invalid:?}");
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("broken.toml"));
    // A bad date: exit 1, naming the flag.
    let bad = dunner(
        &[
            "rules",
            "impact",
            "--candidate",
            shipped.path().to_str().unwrap(),
            "--from",
            "2026-13-01",
            "--to",
            "2026-04-20",
            "--database",
            &test.url,
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from"));
}

on_both_stores!(
    a_planted_loosening_is_counted,
    a_planted_tightening_counts_allow_to_refuse_and_does_not_loosen,
    an_identical_candidate_flips_nothing,
    the_plan_ahead_counts_added_and_removed_items,
    the_command_gates_a_loosening,
);

//! The shadow policy in the daemon (issue 13 part 3): every decision made under the
//! shadow too, the live answer unchanged, divergences logged beside the live decision,
//! counted in `/metrics` and listed by `GET /v1/reports/shadow` and `dunner report
//! shadow`; a bad shadow reload keeps the previous shadow. On both stores.

use serde_json::json;

use crate::api::{account_json, api_configured};
use crate::helpers::NOON_ONLY;
use crate::helpers::{dunner, on_both_stores};
use crate::impact::rules_dir;
use crate::store_conformance::{TestStore, postgres, sqlite};

/// The metric of the noon-only overlay refusing what live allowed.
const NOON_REFUSES: &str =
    r#"dunner_shadow_divergences_total{rule="client.noon-only",direction="shadow_refuses"}"#;

async fn a_shadow_that_refuses_is_logged_counted_and_reported(test: TestStore) {
    let url = test.url.clone();
    let shadow = rules_dir(Some(("client-noon.toml", NOON_ONLY)));
    let dir = shadow.path().to_path_buf();
    let api = api_configured(test, move |config| config.rules.shadow = Some(dir)).await;
    let (status, _) = api
        .call("PUT", "/v1/accounts/A-1", Some(account_json("A-1")))
        .await;
    assert!(status.is_success());
    // 11:00 in New York: live allows; the shadow (calls only at noon) would refuse.
    let question = json!({"account_id": "A-1", "at": "2026-04-07T15:00:00Z", "channel": "call",
                          "contact_point": "+12125550100"});
    let (status, answer) = api
        .call("POST", "/v1/decisions", Some(question.to_string()))
        .await;
    assert_eq!(status.as_u16(), 200, "{answer}");
    assert_eq!(answer["decision"]["allowed"], true, "{answer}");
    assert_eq!(
        answer["decision"]["policy_digest"],
        api.state.policy.current().digest()
    );
    assert!(answer.get("shadow").is_none(), "{answer}");
    // An attempt at 12:30: both allow it, no divergence.
    let attempt = json!({"at": "2026-04-07T16:30:00Z", "channel": "call", "contact_point": "+12125550100",
                         "outcome": "no_answer"});
    let (status, recorded) = api
        .call(
            "POST",
            "/v1/accounts/A-1/attempts",
            Some(attempt.to_string()),
        )
        .await;
    assert_eq!(status.as_u16(), 201, "{recorded}");
    // A stateless evaluate at 11:00 diverges too: counted, not logged.
    let evaluate = json!({"account": serde_json::from_str::<serde_json::Value>(&account_json("A-9")).unwrap(),
                          "at": "2026-04-07T15:00:00Z", "channel": "call"});
    let (status, decided) = api
        .call("POST", "/v1/evaluate", Some(evaluate.to_string()))
        .await;
    assert_eq!(status.as_u16(), 200, "{decided}");
    assert_eq!(decided["allowed"], true, "{decided}");
    let metrics = api.scrape().await;
    assert_eq!(metrics.get(NOON_REFUSES), Some(&2.0), "{metrics:?}");
    // The report lists the logged one (the question), not the evaluate.
    let (status, report) = api
        .call(
            "GET",
            "/v1/reports/shadow?from=2026-04-07&to=2026-04-07",
            None,
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{report}");
    assert_eq!(report["divergences"], 1, "{report}");
    assert_eq!(report["shadow_refuses"], 1);
    assert_eq!(report["by_rule"][0]["rule"], "client.noon-only");
    assert_eq!(report["by_rule"][0]["direction"], "shadow_refuses");
    let example = &report["examples"][0];
    assert_eq!(example["account_id"], "A-1");
    assert_eq!(example["live_outcome"], "allow");
    assert_eq!(example["shadow"]["outcome"], "defer");
    assert_eq!(
        example["shadow"]["only_shadow"],
        json!(["client.noon-only"])
    );
    assert_eq!(
        example["shadow"]["digest"],
        api.state.policy.shadow().unwrap().digest()
    );
    let (status, error) = api
        .call("GET", "/v1/reports/shadow?from=2026-4-07", None)
        .await;
    assert_eq!(status.as_u16(), 400, "{error}");
    assert_eq!(error["field"], "from");
    // The command reads the same log.
    let out = dunner(
        &[
            "report",
            "shadow",
            "--from",
            "2026-04-07",
            "--to",
            "2026-04-07",
            "--database",
            &url,
            "--format",
            "csv",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "rule,direction,divergences\nclient.noon-only,shadow_refuses,1\n"
    );
}

async fn a_bad_shadow_reload_keeps_the_previous_shadow(test: TestStore) {
    let shadow = rules_dir(Some(("client-noon.toml", NOON_ONLY)));
    let dir = shadow.path().to_path_buf();
    let api = api_configured(test, move |config| config.rules.shadow = Some(dir)).await;
    let policy = &api.state.policy;
    let (live, before) = (
        policy.current().digest().to_string(),
        policy.shadow().unwrap().digest().to_string(),
    );
    std::fs::write(shadow.path().join("broken.toml"), "[pack]\nid = 7\n").unwrap();
    let refused = policy.reload_shadow();
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(policy.shadow().unwrap().digest(), before);
    assert_eq!(policy.current().digest(), live);
    assert!(policy.shadow_error().unwrap().contains("broken.toml"));
    // Still shadowing with the previous shadow.
    api.call("PUT", "/v1/accounts/A-1", Some(account_json("A-1")))
        .await;
    let question = json!({"account_id": "A-1", "at": "2026-04-07T15:00:00Z", "channel": "call"});
    let (status, answer) = api
        .call("POST", "/v1/decisions", Some(question.to_string()))
        .await;
    assert_eq!(status.as_u16(), 200, "{answer}");
    assert_eq!(answer["decision"]["allowed"], true);
    assert_eq!(api.scrape().await.get(NOON_REFUSES), Some(&1.0));
    // Fixed: the reload applies, the shadow changes, live stays.
    std::fs::remove_file(shadow.path().join("broken.toml")).unwrap();
    std::fs::remove_file(shadow.path().join("client-noon.toml")).unwrap();
    let applied = policy.reload_shadow().unwrap();
    assert_ne!(applied, before);
    assert_eq!(policy.shadow().unwrap().digest(), applied);
    assert_eq!(policy.current().digest(), live);
    assert!(policy.shadow_error().is_none());
}

/// Emails only at lunchtime: what the shadow of a queued email notice refuses at 10:00.
const EMAIL_AT_NOON: &str = r#"
[pack]
id = "client-email-noon"
title = "Client overlay: emails only at lunchtime"
version = "1"
citation = "Client contract 4.3"
effective_from = 2021-01-01

[pack.scope]
country = "US"

[[window]]
id = "client.email-noon"
citation = "Client contract 4.3"
message = "Emails only between noon and 1 pm."
channels = ["email"]
allow = [{ from = "12:00", to = "13:00" }]
"#;

async fn a_queued_notice_is_shadowed_too(test: TestStore) {
    let store = &test.store;
    let now: chrono::DateTime<chrono::Utc> = "2026-04-07T14:00:00Z".parse().unwrap();
    let account: dunner::domain::Account = serde_json::from_value(json!({
        "id": "N-1", "consumer": {"address": {"state": "NY", "city": "Albany"}, "time_zones": ["America/New_York"],
                                  "emails": [{"address": "alex@example.com", "kind": "personal"}]}}))
    .unwrap();
    store.put_account(&account, now).await.unwrap();
    let shadow = crate::helpers::shipped_with("client-email-noon.toml", EMAIL_AT_NOON);
    let request: dunner::store::NoticeRequest = serde_json::from_value(json!({
        "account_id": "N-1", "channel": "email", "template": "payment_reminder", "purpose": "payment_reminder",
        "data": {"consumer_name": "Alex Doe", "amount_due": {"amount": "150", "currency": "USD"}, "due_date": "2026-05-01"}}))
    .unwrap();
    let enqueued = dunner::service::enqueue_notice_with(
        store,
        &crate::helpers::SHIPPED_SHARED,
        Some(&shadow),
        &request,
        None,
        now,
    )
    .await
    .unwrap();
    // Queued for now, as live decided; the shadow's deferral is only logged.
    let notice = enqueued.notice.unwrap();
    assert_eq!(notice.due_at, now);
    let divergence = enqueued.shadow.unwrap();
    assert_eq!(divergence.only_shadow, vec!["client.email-noon"]);
    let logged = store
        .shadow_divergences(
            now - chrono::TimeDelta::days(1),
            now + chrono::TimeDelta::days(1),
        )
        .await
        .unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].account_id, "N-1");
    assert_eq!(logged[0].outcome, "allow");
}

on_both_stores!(
    a_shadow_that_refuses_is_logged_counted_and_reported,
    a_bad_shadow_reload_keeps_the_previous_shadow,
    a_queued_notice_is_shadowed_too,
);

//! What a compliance officer reads (issue 13, part 5): the decision log searched across
//! accounts and exported, and the exact pack texts behind any digest — over real HTTP
//! and the real binary, on both stores.

use dunner::domain::{Channel, Purpose};
use dunner::store::Attempt;
use http::StatusCode;
use serde_json::{Value, json};

use crate::api::{Api, account_json, api_configured};
use crate::helpers::{SHIPPED_SHARED, TEST_NOW, dunner, on_both_stores, shipped_with};
use crate::store_conformance::{TestStore, postgres, sqlite};

/// A pack that forbids nothing the shipped ones allow: a policy with another digest.
const EXTRA: &str = r#"
[pack]
id = "client-extra"
title = "Client overlay"
version = "1"
citation = "Client contract 1.1"
effective_from = 2021-01-01

[pack.scope]
country = "US"

[[window]]
id = "client.extra-hours"
citation = "Client contract 1.1"
message = "Calls between 06:00 and 23:00 only."
channels = ["call"]
allow = [{ from = "06:00", to = "23:00" }]
"#;

async fn ask(api: &Api, question: Value) -> Value {
    let (status, answer) = api
        .call("POST", "/v1/decisions", Some(question.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn ids(page: &Value) -> Vec<&str> {
    page.as_array()
        .unwrap_or_else(|| panic!("an array, not {page}"))
        .iter()
        .map(|logged| logged["id"].as_str().unwrap())
        .collect()
}

async fn the_log_is_searched_across_accounts_by_period_outcome_and_rule(test: TestStore) {
    let api = api_configured(test, |_| {}).await;
    for id in ["D-1", "D-2"] {
        let (status, _) = api
            .call("PUT", &format!("/v1/accounts/{id}"), Some(account_json(id)))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let text = ask(
        &api,
        json!({"account_id": "D-1", "channel": "sms", "contact_point": "+12125550100"}),
    )
    .await;
    // 03:00 in New York: refused by the federal inconvenient-time rule.
    let night = ask(
        &api,
        json!({"account_id": "D-1", "channel": "call", "contact_point": "+12125550100", "at": "2026-04-07T07:00:00Z"}),
    )
    .await;
    let call = ask(
        &api,
        json!({"account_id": "D-2", "channel": "call", "contact_point": "+12125550100"}),
    )
    .await;
    assert_eq!(night["decision"]["outcome"], "defer", "{night}");
    let rule = night["decision"]["reasons"][0]["rule"].as_str().unwrap();
    let [text, night, call] = [&text, &night, &call].map(|a| a["decision_id"].as_str().unwrap());

    let get = |query: String| {
        let api = &api;
        async move {
            let (status, page) = api
                .call("GET", &format!("/v1/decisions{query}"), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{query}: {page}");
            page
        }
    };
    assert_eq!(ids(&get(String::new()).await), [text, night, call]);
    assert_eq!(ids(&get("?account_id=D-1".into()).await), [text, night]);
    assert_eq!(ids(&get("?outcome=defer".into()).await), [night]);
    assert_eq!(
        ids(&get("?outcome=allow&account_id=D-2".into()).await),
        [call]
    );
    assert_eq!(ids(&get(format!("?rule={rule}")).await), [night]);
    assert!(ids(&get("?rule=no.such-rule".into()).await).is_empty());
    // Pages: the most recent by default, forward from `after`.
    let newest = get("?limit=1".into()).await;
    assert_eq!(ids(&newest), [call]);
    let first = get(format!("?from={TEST_NOW}&limit=1")).await;
    assert_eq!(ids(&first), [text]);
    let seq = first[0]["seq"].as_i64().unwrap();
    assert_eq!(ids(&get(format!("?after={seq}&limit=1")).await), [night]);
    // The period: decisions are stamped with the daemon's clock.
    assert_eq!(ids(&get(format!("?from={TEST_NOW}")).await).len(), 3);
    assert!(ids(&get(format!("?to={TEST_NOW}")).await).is_empty());

    // Exports hold every match, in log order.
    let (status, csv) = api.call("GET", "/v1/decisions?format=csv", None).await;
    assert_eq!(status, StatusCode::OK);
    let csv = csv.as_str().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("seq,id,account_id,decided_at,at,channel"));
    assert!(lines[2].contains(night) && lines[2].contains(rule) && lines[2].contains(",defer,"));
    let (status, jsonl) = api
        .call("GET", "/v1/decisions?format=jsonl&account_id=D-1", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let exported: Vec<Value> = jsonl
        .as_str()
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(exported.len(), 2);
    assert_eq!(exported[1]["id"], night);
    assert_eq!(exported[1]["decision"]["reasons"][0]["rule"], rule);

    // Bad filters: a 400 naming the parameter.
    for (query, field) in [
        ("?outcome=maybe", "outcome"),
        ("?format=csv&limit=5", "limit"),
        ("?from=2026-04-08T00:00:00Z&to=2026-04-07T00:00:00Z", "to"),
        ("?after=-1", "after"),
        ("?account_id=%20x", "account_id"),
    ] {
        let (status, error) = api
            .call("GET", &format!("/v1/decisions{query}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
        assert_eq!(error["field"], field, "{query}: {error}");
    }
}

async fn an_export_reads_past_one_page(test: TestStore) {
    let api = api_configured(test, |_| {}).await;
    let (status, _) = api
        .call("PUT", "/v1/accounts/P-1", Some(account_json("P-1")))
        .await;
    assert_eq!(status, StatusCode::OK);
    let state = &api.state;
    let now = TEST_NOW.parse().unwrap();
    let total = dunner::store::MAX_PAGE as usize + 3;
    for _ in 0..total {
        let question = Attempt {
            account_id: "P-1".into(),
            at: now,
            channel: Channel::Email,
            purpose: Purpose::default(),
            contact_point: None,
            outcome: None,
            idempotency: None,
        };
        dunner::service::decide_and_log(&state.store, &state.policy.current(), &question, now)
            .await
            .unwrap();
    }
    let (status, jsonl) = api.call("GET", "/v1/decisions?format=jsonl", None).await;
    assert_eq!(status, StatusCode::OK);
    let seqs: Vec<i64> = jsonl
        .as_str()
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs.len(), total);
    assert!(
        seqs.windows(2).all(|pair| pair[0] < pair[1]),
        "in log order, each once"
    );
}

async fn the_texts_of_any_digest_are_served_and_shown(test: TestStore) {
    let url = test.url.clone();
    let api = api_configured(test, |_| {}).await;
    let (status, _) = api
        .call("PUT", "/v1/accounts/T-1", Some(account_json("T-1")))
        .await;
    assert_eq!(status, StatusCode::OK);
    let live = SHIPPED_SHARED.digest().to_string();
    let (status, texts) = api.call("GET", &format!("/v1/policy/{live}"), None).await;
    assert_eq!(status, StatusCode::OK, "{texts}");
    assert_eq!(texts["live"], true);
    assert_eq!(
        texts["packs"].as_array().unwrap().len(),
        SHIPPED_SHARED.sources().len()
    );

    // A decision made under another policy keeps that policy's texts.
    let other = shipped_with("client-extra.toml", EXTRA);
    let now = TEST_NOW.parse().unwrap();
    let question = Attempt {
        account_id: "T-1".into(),
        at: now,
        channel: Channel::Email,
        purpose: Purpose::default(),
        contact_point: None,
        outcome: None,
        idempotency: None,
    };
    dunner::service::decide_and_log(&api.state.store, &other, &question, now)
        .await
        .unwrap();
    let digest = other.digest().to_string();
    let (status, texts) = api.call("GET", &format!("/v1/policy/{digest}"), None).await;
    assert_eq!(status, StatusCode::OK, "{texts}");
    assert_eq!(texts["live"], false);
    let extra = texts["packs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|pack| pack["file"] == "client-extra.toml")
        .expect("the overlay's file is among the texts");
    assert_eq!(extra["text"], EXTRA);

    let (status, error) = api.call("GET", "/v1/policy/sha256:0000", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert_eq!(error["code"], "not_found");
    // No longer answered with the live policy.
    let (status, error) = api
        .call("GET", &format!("/v1/policy?digest={digest}"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["field"], "digest");

    // The same texts from the command line, printed and written out.
    let rules = crate::helpers::rules_dir();
    let rules = rules.to_str().unwrap();
    let shown = dunner(
        &[
            "rules",
            "show",
            &digest,
            "--database",
            &url,
            "--rules",
            rules,
        ],
        None,
    );
    assert!(shown.status.success(), "{shown:?}");
    let stdout = String::from_utf8(shown.stdout).unwrap();
    assert!(stdout.contains("==> client-extra.toml <==") && stdout.contains("client.extra-hours"));
    let out = tempfile::tempdir().unwrap();
    let written = dunner(
        &[
            "rules",
            "show",
            &digest,
            "--database",
            &url,
            "--rules",
            rules,
            "--out",
            out.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(written.status.success(), "{written:?}");
    assert_eq!(
        std::fs::read_to_string(out.path().join("client-extra.toml")).unwrap(),
        EXTRA
    );
    // The live digest comes from the rules directory, even unused.
    let live_shown = dunner(
        &["rules", "show", &live, "--database", &url, "--rules", rules],
        None,
    );
    assert!(live_shown.status.success(), "{live_shown:?}");
    let unknown = dunner(
        &[
            "rules",
            "show",
            "sha256:0000",
            "--database",
            &url,
            "--rules",
            rules,
        ],
        None,
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("sha256:0000"));
}

on_both_stores!(
    the_log_is_searched_across_accounts_by_period_outcome_and_rule,
    an_export_reads_past_one_page,
    the_texts_of_any_digest_are_served_and_shown,
);

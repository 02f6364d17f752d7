//! Each client's accounts kept apart (issue 16): a key limited to client A walks every
//! operation of the OpenAPI document against client B's account, events, attempt,
//! decision and notice, and finds nothing; the same walk with a key for every client
//! does see B (so the walk can fail). On both stores; the console, `/metrics` and the
//! CLI's `keys create --client` besides.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api::{Api, api_configured, api_on};
use crate::helpers::{EXAMPLE_REQUEST, dunner, on_both_stores};
use crate::store_conformance::{TestStore, postgres, sqlite};
use dunner::auth::{Access, Scope};
use dunner::store::NoticeRow;

const A: &str = "client-a";
const B: &str = "client-b";
const A_ACCOUNT: &str = "acct-a-1";
const B_ACCOUNT: &str = "acct-b-1";
/// B's consumer data: it must never reach a key of A.
const B_PHONE: &str = "+12125550199";
const B_EMAIL: &str = "bravo.private@example.org";

fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-04-07T14:00:00Z".parse().unwrap()
}

fn account(id: &str, client: Option<&str>, phone: &str, email: &str) -> Value {
    let mut account = json!({"id": id, "consumer": {
        "address": {"state": "NY", "city": "Albany"},
        "time_zones": ["America/New_York"],
        "phones": [{"number": phone, "kind": "mobile"}],
        "emails": [{"address": email, "kind": "personal"}]}});
    if let Some(client) = client {
        account["client"] = json!(client);
    }
    account
}

fn a_account() -> Value {
    account(A_ACCOUNT, Some(A), "+12125550100", "alpha@example.com")
}

fn b_account() -> Value {
    account(B_ACCOUNT, Some(B), B_PHONE, B_EMAIL)
}

/// What one client has in the ledger, by id.
#[derive(Debug, Clone)]
struct Seeded {
    account: String,
    event: String,
    attempt: String,
    decision: String,
    notice: String,
}

impl Seeded {
    /// Every id and datum of the client that a response must not carry.
    fn secrets(&self) -> Vec<String> {
        vec![
            self.account.clone(),
            self.event.clone(),
            self.attempt.clone(),
            self.decision.clone(),
            self.notice.clone(),
        ]
    }
}

/// Stores an account of `client` with an event, a recorded attempt, a logged decision
/// and a notice, through the API with the key for every client.
async fn seed(api: &Api, body: Value) -> Seeded {
    let id = body["id"].as_str().unwrap().to_string();
    let (status, stored) = api
        .call("PUT", &format!("/v1/accounts/{id}"), Some(body.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let event = json!({"at": "2026-04-06T14:00:00Z", "channel": "call", "outcome": "no_answer"});
    let (status, appended) = api
        .call(
            "POST",
            &format!("/v1/accounts/{id}/events"),
            Some(event.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{appended}");
    let (status, attempt) = api
        .call(
            "POST",
            &format!("/v1/accounts/{id}/attempts"),
            Some(json!({"channel": "call"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{attempt}");
    let question = json!({"account_id": id, "channel": "email", "purpose": "collection"});
    let (status, answer) = api
        .call("POST", "/v1/decisions", Some(question.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // The test daemon has no courier, so the notice is queued straight into the store.
    let notice = uuid::Uuid::now_v7().to_string();
    api.state
        .store
        .insert_notice(&NoticeRow {
            id: notice.clone(),
            account_id: id.clone(),
            idempotency_key: None,
            due_at: now() + chrono::TimeDelta::days(30),
            request:
                json!({"account_id": id, "channel": "webhook", "event_type": "notice.requested"})
                    .to_string(),
            now: now(),
        })
        .await
        .unwrap();
    Seeded {
        account: id,
        event: appended["id"].as_str().unwrap().to_string(),
        attempt: attempt["event_id"].as_str().unwrap().to_string(),
        decision: answer["decision_id"].as_str().unwrap().to_string(),
        notice,
    }
}

/// A stored key with every scope, limited to `clients` (none: every client).
async fn key_for(api: &Api, clients: &[&str]) -> String {
    let key = dunner::auth::issue();
    dunner::service::add_api_key_within(
        &api.state.store,
        &key,
        "client key",
        &[Scope::Admin],
        &Access::limited_to(clients.iter().map(|c| c.to_string())),
        now(),
    )
    .await
    .unwrap();
    key.token
}

/// One operation of the document, made concrete against `target`.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    /// The documented path (`/v1/accounts/{id}`).
    template: String,
    uri: String,
    body: Option<String>,
}

/// Every operation of the OpenAPI document (so a route added later is walked too),
/// with `target`'s ids in the path, its account in the query parameters that name one,
/// and a body naming it.
fn operations(target: &Seeded, client: &str, digest: &str) -> Vec<Call> {
    let document: Value =
        serde_json::from_str(&dunner::http::openapi::document().unwrap()).unwrap();
    let mut calls = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let mut uri = template
                .replace("{attempt_id}", &target.attempt)
                .replace("{digest}", digest)
                .replace("{name}", "summary");
            let id = if template.starts_with("/v1/notices/") {
                &target.notice
            } else {
                &target.account
            };
            uri = uri.replace("{id}", id);
            // Any other path parameter: the account id (the likeliest thing it names).
            while let (Some(open), Some(close)) = (uri.find('{'), uri.find('}')) {
                uri.replace_range(open..=close, &target.account);
            }
            let mut query = Vec::new();
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] != "query" {
                    continue;
                }
                match parameter["name"].as_str().unwrap_or("") {
                    "account_id" | "account" => query.push(format!(
                        "{}={}",
                        parameter["name"].as_str().unwrap(),
                        target.account
                    )),
                    "client" => query.push(format!("client={client}")),
                    _ => {}
                }
            }
            if !query.is_empty() {
                uri = format!("{uri}?{}", query.join("&"));
            }
            let body = operation
                .get("requestBody")
                .map(|_| body_for(method, template, target, client));
            calls.push(Call {
                method: method.to_uppercase(),
                template: template.clone(),
                uri,
                body,
            });
        }
    }
    calls
}

/// A body naming `target` for an operation that takes one.
fn body_for(method: &str, template: &str, target: &Seeded, client: &str) -> String {
    let their_account = account(&target.account, Some(client), B_PHONE, B_EMAIL);
    match (method, template) {
        ("put", "/v1/accounts/{id}") => their_account.to_string(),
        ("post", "/v1/accounts/bulk") => json!({"accounts": [their_account]}).to_string(),
        ("post", "/v1/accounts/{id}/events") => {
            json!({"at": "2026-04-07T13:00:00Z", "channel": "call", "outcome": "no_answer"})
                .to_string()
        }
        ("post", "/v1/accounts/{id}/attempts") => json!({"channel": "call"}).to_string(),
        ("post", "/v1/accounts/{id}/attempts/{attempt_id}/outcome") => {
            json!({"outcome": "conversation"}).to_string()
        }
        ("post", "/v1/decisions") => {
            json!({"account_id": target.account, "channel": "call"}).to_string()
        }
        ("post", "/v1/evaluate") => {
            let mut request: Value = serde_json::from_str(EXAMPLE_REQUEST).unwrap();
            request["account"] = their_account;
            request.to_string()
        }
        ("post", "/v1/notices") => json!({"account_id": target.account, "channel": "webhook",
            "event_type": "notice.requested"})
        .to_string(),
        // A route this test does not know yet: a body naming the account every way.
        _ => json!({"account_id": target.account, "id": target.account, "client": client,
            "accounts": [their_account]})
        .to_string(),
    }
}

/// The answer for a missing account or notice in place of the target's: what another
/// client's must look like, byte for byte, but for the id.
async fn missing_answer(
    api: &Api,
    token: &str,
    call: &Call,
    target: &Seeded,
) -> (StatusCode, String) {
    let missing_account = "acct-missing-1";
    let missing_notice = uuid::Uuid::now_v7().to_string();
    let (id, missing) = if call.template.starts_with("/v1/notices/") {
        (target.notice.as_str(), missing_notice.as_str())
    } else {
        (target.account.as_str(), missing_account)
    };
    let uri = call.uri.replace(id, missing);
    let body = call.body.as_ref().map(|body| body.replace(id, missing));
    let (status, answer) = api.call_as(Some(token), &call.method, &uri, body).await;
    (status, answer.to_string().replace(missing, id))
}

/// A snapshot of what the ledger holds for an account, read with the key for every
/// client: the walk must leave it as it was.
async fn snapshot(api: &Api, target: &Seeded) -> Value {
    let account = &target.account;
    let mut parts = Vec::new();
    for uri in [
        format!("/v1/accounts/{account}"),
        format!("/v1/accounts/{account}/events"),
        format!("/v1/decisions?account_id={account}"),
        format!("/v1/notices/{}", target.notice),
    ] {
        let (status, body) = api.call("GET", &uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        parts.push(body);
    }
    Value::Array(parts)
}

/// Walks every operation as `token`; answers which operations' 2xx answers showed
/// something of `target`.
async fn walk(
    api: &Api,
    token: &str,
    target: &Seeded,
    client: &str,
    limited: bool,
) -> BTreeSet<String> {
    let digest = api.state.policy.current().digest().to_string();
    let secrets = target.secrets();
    let mut revealing = BTreeSet::new();
    for call in operations(target, client, &digest) {
        let (status, answer) = api
            .call_as(Some(token), &call.method, &call.uri, call.body.clone())
            .await;
        let text = answer.to_string();
        let name = format!("{} {}", call.method, call.template);
        let shown: Vec<&str> = secrets
            .iter()
            .map(String::as_str)
            .chain([B_PHONE, B_EMAIL])
            .filter(|secret| text.contains(secret))
            .collect();
        if status.is_success() && !shown.is_empty() {
            revealing.insert(name.clone());
        }
        if !limited {
            continue;
        }
        let names_target = call.template.starts_with("/v1/accounts/{id}")
            || call.template.starts_with("/v1/notices/{id}");
        if names_target {
            // 404; or 403 for a body naming the other client, which a missing account
            // answers alike.
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                "{name} ({}): {status} {text}",
                call.uri
            );
            let (missing_status, missing_text) = missing_answer(api, token, &call, target).await;
            assert_eq!(
                (status, &text),
                (missing_status, &missing_text),
                "{name}: another client's answers as a missing one"
            );
            continue;
        }
        assert!(
            shown.is_empty() || !status.is_success(),
            "{name} ({}) answered {status} with {shown:?}: {text}",
            call.uri
        );
        // An error may echo what was asked (the account id in the body), never more.
        if !status.is_success() {
            for secret in [
                B_PHONE,
                B_EMAIL,
                &target.event,
                &target.decision,
                &target.notice,
            ] {
                assert!(!text.contains(secret), "{name} ({}): {text}", call.uri);
            }
        }
    }
    revealing
}

async fn a_key_of_client_a_finds_nothing_of_client_b_on_any_route(test: TestStore) {
    let api = api_on(test).await;
    let a = seed(&api, a_account()).await;
    let b = seed(&api, b_account()).await;
    let none = seed(
        &api,
        account("acct-none-1", None, "+12125550111", "nobody@example.com"),
    )
    .await;
    let a_key = key_for(&api, &[A]).await;

    let before = snapshot(&api, &b).await;
    let revealed = walk(&api, &a_key, &b, B, true).await;
    assert!(revealed.is_empty(), "{revealed:?}");
    assert_eq!(snapshot(&api, &b).await, before, "nothing of B changed");
    // An account without a client is out of a limited key's reach too. (Bodies name
    // another client: a PUT naming its own would create a missing account, so only an
    // existing one can answer 404 there; `a_limited_key_writes_only_its_clients_accounts`
    // shows that.)
    let revealed = walk(&api, &a_key, &none, B, true).await;
    assert!(revealed.is_empty(), "{revealed:?}");

    // The same key does reach A's own.
    let (status, own) = api
        .call_as(
            Some(&a_key),
            "GET",
            &format!("/v1/accounts/{A_ACCOUNT}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    for list in ["/v1/decisions", "/v1/notices", "/v1/decisions?format=csv"] {
        let (status, listed) = api.call_as(Some(&a_key), "GET", list, None).await;
        assert_eq!(status, StatusCode::OK, "{list}: {listed}");
        let text = listed.to_string();
        assert!(text.contains(A_ACCOUNT), "{list}: {text}");
        assert!(
            !text.contains(B_ACCOUNT) && !text.contains("acct-none-1"),
            "{list}: {text}"
        );
    }
    assert_eq!(
        api.call_as(
            Some(&a_key),
            "GET",
            &format!("/v1/notices/{}", a.notice),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    // One account's heat map is the one report a limited key reads.
    let heat_map = |account: &str| format!("/v1/reports/windows?account={account}&format=csv");
    let (status, _) = api
        .call_as(Some(&a_key), "GET", &heat_map(A_ACCOUNT), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = api
        .call_as(Some(&a_key), "GET", &heat_map(B_ACCOUNT), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");

    // And a key for every client sees B on the routes that show an account: the walk
    // above could have failed.
    let every = key_for(&api, &[]).await;
    let revealed = walk(&api, &every, &b, B, false).await;
    for operation in [
        "GET /v1/accounts/{id}",
        "GET /v1/accounts/{id}/events",
        "GET /v1/decisions",
        "GET /v1/notices",
        "GET /v1/notices/{id}",
    ] {
        assert!(
            revealed.contains(operation),
            "{operation} not in {revealed:?}"
        );
    }
}

async fn a_limited_key_writes_only_its_clients_accounts(test: TestStore) {
    let api = api_on(test).await;
    seed(&api, b_account()).await;
    let a_key = key_for(&api, &[A]).await;
    let put = |id: &str, body: Value| {
        let uri = format!("/v1/accounts/{id}");
        let token = a_key.clone();
        let api = &api;
        async move {
            api.call_as(Some(&token), "PUT", &uri, Some(body.to_string()))
                .await
        }
    };
    // Its own client: stored.
    let (status, body) = put(
        "acct-a-2",
        account("acct-a-2", Some(A), "+12125550100", "a@example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Another client, or none: 403 naming the field, nothing stored.
    for client in [Some(B), None] {
        let (status, error) = put(
            "acct-a-3",
            account("acct-a-3", client, "+12125550100", "a@example.com"),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
        assert_eq!(error["field"], "client");
    }
    assert_eq!(
        api.call("GET", "/v1/accounts/acct-a-3", None).await.0,
        StatusCode::NOT_FOUND
    );
    // B's account, claimed for A: 404 as if missing, and B's account untouched.
    let (status, error) = put(
        B_ACCOUNT,
        account(B_ACCOUNT, Some(A), "+12125550100", "a@example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert_eq!(
        error["message"],
        format!("account `{B_ACCOUNT}` does not exist")
    );
    let (_, stored) = api
        .call("GET", &format!("/v1/accounts/{B_ACCOUNT}"), None)
        .await;
    assert_eq!(stored["client"], B);
    assert_eq!(stored["consumer"]["emails"][0]["address"], B_EMAIL);
    // In bulk: all or none.
    let bulk = json!({"accounts": [
        account("acct-a-4", Some(A), "+12125550100", "a@example.com"),
        account(B_ACCOUNT, Some(A), "+12125550100", "a@example.com"),
    ]});
    let (status, error) = api
        .call_as(
            Some(&a_key),
            "POST",
            "/v1/accounts/bulk",
            Some(bulk.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert_eq!(
        api.call("GET", "/v1/accounts/acct-a-4", None).await.0,
        StatusCode::NOT_FOUND
    );
    // Evaluate with an inline account: only of its clients.
    let mut request: Value = serde_json::from_str(EXAMPLE_REQUEST).unwrap();
    for (client, expected) in [(B, StatusCode::FORBIDDEN), (A, StatusCode::OK)] {
        request["account"]["client"] = json!(client);
        let (status, answer) = api
            .call_as(
                Some(&a_key),
                "POST",
                "/v1/evaluate",
                Some(request.to_string()),
            )
            .await;
        assert_eq!(status, expected, "{answer}");
        if status == StatusCode::FORBIDDEN {
            assert_eq!(answer["field"], "account.client");
        }
    }
}

async fn an_unlimited_key_filters_lists_by_client(test: TestStore) {
    let api = api_on(test).await;
    let a = seed(&api, a_account()).await;
    let b = seed(&api, b_account()).await;
    let (_, decisions) = api
        .call("GET", &format!("/v1/decisions?client={B}"), None)
        .await;
    let text = decisions.to_string();
    assert!(
        text.contains(&b.decision) && !text.contains(&a.decision),
        "{text}"
    );
    let (_, notices) = api
        .call("GET", &format!("/v1/notices?client={A}"), None)
        .await;
    let text = notices.to_string();
    assert!(
        text.contains(&a.notice) && !text.contains(&b.notice),
        "{text}"
    );
    // A limited key asking for another client's gets an empty list, as for a client
    // without accounts.
    let a_key = key_for(&api, &[A]).await;
    let (status, listed) = api
        .call_as(
            Some(&a_key),
            "GET",
            &format!("/v1/decisions?client={B}"),
            None,
        )
        .await;
    assert_eq!((status, listed), (StatusCode::OK, json!([])));
    let (status, error) = api.call("GET", "/v1/notices?client=bad%20id", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["field"], "client");
}

async fn reports_count_only_the_keys_clients(test: TestStore) {
    let api = api_on(test).await;
    seed(&api, a_account()).await;
    seed(&api, b_account()).await;
    // An attempt of B's whose outcome never came: the unreported outcomes name it.
    let (status, body) = api
        .call(
            "POST",
            &format!("/v1/accounts/{B_ACCOUNT}/attempts"),
            Some(json!({"channel": "call", "at": "2026-04-06T15:00:00Z"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // And a hold, which the holds section counts.
    let (status, _) = api
        .call(
            "POST",
            &format!("/v1/accounts/{B_ACCOUNT}/events"),
            Some(
                json!({"at": "2026-04-07T13:30:00Z", "type": "flag_set", "flag": "disputed"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let a_key = key_for(&api, &[A]).await;
    let summary = "/v1/reports/summary?from=2026-04-01&to=2026-04-07&near=6";
    let report = |token: Option<String>, uri: String| {
        let api = &api;
        async move {
            let (status, body) = match token {
                Some(token) => api.call_as(Some(&token), "GET", &uri, None).await,
                None => api.call("GET", &uri, None).await,
            };
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            body
        }
    };
    let everyone = report(None, summary.to_string()).await;
    let only_a = report(None, format!("{summary}&client={A}")).await;
    let limited = report(Some(a_key.clone()), summary.to_string()).await;
    let nobody = report(None, format!("{summary}&client=client-none")).await;
    assert_eq!(limited, only_a, "a limited key's report is its clients'");
    assert_ne!(only_a, everyone, "the filter changes the counts");
    assert_ne!(only_a, nobody);
    let text = limited.to_string();
    assert!(!text.contains(B_ACCOUNT), "{text}");
    assert!(everyone.to_string().contains(B_ACCOUNT), "{everyone}");
    // Another client asked for by a limited key: as a client without accounts.
    assert_eq!(
        report(Some(a_key.clone()), format!("{summary}&client={B}")).await,
        nobody
    );
    // The heat map of B's account: a missing account.
    let (status, error) = api
        .call_as(
            Some(&a_key),
            "GET",
            &format!("/v1/reports/summary?account={B_ACCOUNT}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert_eq!(
        error["message"],
        format!("account `{B_ACCOUNT}` does not exist")
    );
}

on_both_stores!(
    a_key_of_client_a_finds_nothing_of_client_b_on_any_route,
    a_limited_key_writes_only_its_clients_accounts,
    an_unlimited_key_filters_lists_by_client,
    reports_count_only_the_keys_clients,
);

/// A key of `[[keys]]` in the configuration file limited with `clients = [...]`.
#[tokio::test]
async fn a_configured_key_is_limited_by_its_clients() {
    let token = format!("dunner_cfgclienta_{}", "s".repeat(40));
    let configured: dunner::config::ConfiguredKey = serde_json::from_value(
        json!({"name": "client a", "token": token, "scopes": ["admin"], "clients": [A]}),
    )
    .unwrap();
    let api = api_configured(sqlite().await, |config| config.keys.push(configured)).await;
    seed(&api, b_account()).await;
    seed(&api, a_account()).await;
    let (status, _) = api
        .call_as(
            Some(&token),
            "GET",
            &format!("/v1/accounts/{B_ACCOUNT}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .call_as(
            Some(&token),
            "GET",
            &format!("/v1/accounts/{A_ACCOUNT}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A client id with the wrong syntax is refused when the file is read.
    let bad = serde_json::from_value::<dunner::config::ConfiguredKey>(
        json!({"name": "x", "token": token, "scopes": ["decide"], "clients": ["no spaces"]}),
    )
    .unwrap_err();
    assert!(bad.to_string().contains("client `no spaces`"), "{bad}");
}

/// The console: a session of a key limited to A cannot open B's account, finds it by
/// none of its contact points, and its lists show only A; whole-ledger pages are refused.
#[tokio::test]
async fn the_console_of_a_limited_key_shows_only_its_clients() {
    let api = api_on(sqlite().await).await;
    seed(&api, a_account()).await;
    let b = seed(&api, b_account()).await;
    let a_key = key_for(&api, &[A]).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = client
        .post(api.app.url("/console/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={a_key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let get = |path: String| {
        let request = client.get(api.app.url(&path)).header("cookie", &cookie);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, page) = get(format!("/console/accounts/{B_ACCOUNT}")).await;
    assert_eq!(status, 404, "{page}");
    assert!(!page.contains(B_PHONE) && !page.contains(B_EMAIL));
    let (status, page) = get(format!("/console/accounts/{A_ACCOUNT}")).await;
    assert_eq!(status, 200, "{page}");
    for path in [
        "/console",
        "/console/decisions",
        "/console/outbox",
        "/console/reports/caps",
    ] {
        let (status, page) = get(path.to_string()).await;
        assert_eq!(status, 200, "{path}: {page}");
        for secret in b
            .secrets()
            .iter()
            .map(String::as_str)
            .chain([B_PHONE, B_EMAIL])
        {
            assert!(!page.contains(secret), "{path} shows {secret}");
        }
    }
    let (_, outbox) = get("/console/outbox".to_string()).await;
    assert!(outbox.contains(A_ACCOUNT), "{outbox}");
    for path in ["/console/reports/shadow", "/console/audit", "/console/keys"] {
        assert_eq!(get(path.to_string()).await.0, 403, "{path}");
    }
    // Reports count its clients' accounts only.
    let (status, page) = get("/console/reports/summary".to_string()).await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains(B_ACCOUNT));
    let (status, _) = get(format!("/console/reports/windows?account={B_ACCOUNT}")).await;
    assert_eq!(status, 404);
    // Finding B's account by its id or its phone finds nothing.
    let (_, page) = get("/console".to_string()).await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    for lookup in [B_ACCOUNT, "%2B12125550199"] {
        let response = client
            .post(api.app.url("/console/accounts/find"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}&lookup={lookup}"))
            .send()
            .await
            .unwrap();
        let location = response.headers().get("location").cloned();
        let page = response.text().await.unwrap();
        assert_eq!(location, None, "{lookup}");
        assert!(!page.contains(B_ACCOUNT), "{lookup}: {page}");
    }
}

/// `/metrics` is open: no label carries a client or an account id.
#[tokio::test]
async fn metrics_name_no_client_and_no_account() {
    let api = api_on(sqlite().await).await;
    seed(&api, a_account()).await;
    seed(&api, b_account()).await;
    let a_key = key_for(&api, &[A]).await;
    walk(
        &api,
        &a_key,
        &seed(&api, account("acct-b-2", Some(B), B_PHONE, B_EMAIL)).await,
        B,
        true,
    )
    .await;
    let scraped = api
        .app
        .request("GET", "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(scraped.contains("dunner_"), "{scraped}");
    for name in [A, B, A_ACCOUNT, B_ACCOUNT, "acct-b-2"] {
        assert!(!scraped.contains(name), "/metrics names `{name}`");
    }
}

/// `dunner keys create --client` stores the limit, `keys list` shows it, and a client
/// id with the wrong syntax is a usage error.
#[test]
fn keys_create_limits_a_key_to_clients() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let out = dunner(
        &[
            "keys",
            "create",
            "--database",
            &database,
            "--name",
            "crm",
            "--scope",
            "decide",
            "--client",
            B,
            "--client",
            A,
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("limited to clients client-a, client-b"),
        "{stderr}"
    );
    let out = dunner(&["keys", "list", "--database", &database, "--json"], None);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["clients"], json!([A, B]));
    let out = dunner(
        &[
            "keys",
            "create",
            "--database",
            &database,
            "--name",
            "bad",
            "--scope",
            "decide",
            "--client",
            "no spaces",
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--client `no spaces`"));
}

/// `dunner report --client` counts one client's accounts; a malformed client, or a
/// client filter on the shadow report (which has none), is a usage error.
#[test]
fn report_takes_a_client_filter() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("ledger.db").display());
    assert!(
        dunner(&["migrate", "--database", &database], None)
            .status
            .success()
    );
    let out = dunner(
        &["report", "holds", "--database", &database, "--client", A],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for args in [
        ["report", "holds", "--client", "no spaces"],
        ["report", "shadow", "--client", A],
    ] {
        let out = dunner(&[&args[..], &["--database", &database]].concat(), None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--client"),
            "{args:?}"
        );
    }
}

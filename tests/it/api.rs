//! The HTTP API: handlers through the real router on a temporary SQLite ledger, and
//! the real binary serving on port 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use dunner::auth::Scope;
use dunner::clock::FixedClock;
use dunner::http::{AppState, Metrics, SharedState, router};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{EXAMPLE_REQUEST, SHIPPED, TestApp, rules_dir};
use crate::store_conformance::{TestStore, sqlite};
use dunner::reload::LivePolicy;

/// The daemon ([`TestApp`]) with an admin key; calls go over real connections.
pub(crate) struct Api {
    pub(crate) state: AppState,
    /// An admin key sent with every call unless the test says otherwise.
    pub(crate) token: String,
    pub(crate) app: TestApp,
}

async fn api() -> Api {
    api_with(false).await
}

/// The real app's state over a fresh SQLite ledger, the shipped policy and a clock
/// fixed at 2026-04-07T14:00:00Z.
pub(crate) async fn app_state(open_evaluate: bool) -> (AppState, TestStore) {
    app_state_on(sqlite().await, open_evaluate)
}

/// [`app_state`] over a given ledger.
pub(crate) fn app_state_on(test: TestStore, open_evaluate: bool) -> (AppState, TestStore) {
    let policy = Arc::new(LivePolicy::new(
        &rules_dir(),
        SHIPPED.clone(),
        "2026-01-01T00:00:00Z".parse().unwrap(),
    ));
    let state = AppState::new(SharedState {
        store: test.store.clone(),
        metrics: Arc::new(Metrics::new(&policy)),
        policy,
        clock: Arc::new(FixedClock("2026-04-07T14:00:00Z".parse().unwrap())),
        open_evaluate,
        config_keys: Arc::new([]),
        key_cache: Arc::default(),
        notices_wake: Arc::default(),
        notice_senders: Arc::new(dunner::domain::NoticeSenders::every()),
        strategies: Arc::default(),
        tasks: Arc::default(),
        idempotency_retention: std::time::Duration::from_secs(24 * 3600),
        outcome_grace: std::time::Duration::from_secs(2 * 3600),
        retention: Arc::default(),
    });
    (state, test)
}

async fn api_with(open_evaluate: bool) -> Api {
    api_configured(sqlite().await, |config| {
        config.server.open_evaluate = open_evaluate;
    })
    .await
}

/// The API over a given ledger (SQLite or PostgreSQL), with an admin key.
pub(crate) async fn api_on(test: TestStore) -> Api {
    api_configured(test, |_| {}).await
}

/// The API over a given ledger and configuration, with an admin key.
pub(crate) async fn api_configured(
    test: TestStore,
    configure: impl FnOnce(&mut dunner::config::Config),
) -> Api {
    let app = TestApp::spawn_with(test, configure).await;
    let state = app.state.clone();
    let token = key(&state, &[Scope::Admin]).await;
    Api { state, token, app }
}

async fn key(state: &AppState, scopes: &[Scope]) -> String {
    let key = dunner::auth::issue();
    dunner::service::add_api_key(
        &state.store,
        &key,
        "test",
        scopes,
        "2026-01-01T00:00:00Z".parse().unwrap(),
    )
    .await
    .unwrap();
    key.token
}

impl Api {
    pub(crate) async fn call(
        &self,
        method: &str,
        uri: &str,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        self.call_as(Some(&self.token), method, uri, body).await
    }

    pub(crate) async fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        uri: &str,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .app
            .request(method, uri)
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let bytes = response.bytes().await.unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    /// `GET /metrics` without a key, parsed.
    pub(crate) async fn scrape(&self) -> std::collections::BTreeMap<String, f64> {
        let response = self.app.request("GET", "/metrics").send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text"),
            "{:?}",
            response.headers()
        );
        let bytes = response.bytes().await.unwrap();
        parse_metrics(std::str::from_utf8(&bytes).unwrap())
    }
}

/// The samples of a metrics exposition, keyed by `name{labels}` as written.
pub(crate) fn parse_metrics(text: &str) -> std::collections::BTreeMap<String, f64> {
    assert!(
        text.ends_with("# EOF\n"),
        "an OpenMetrics exposition ends with EOF"
    );
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').unwrap();
            (key.to_string(), value.parse().unwrap())
        })
        .collect()
}

pub(crate) fn account_json(id: &str) -> String {
    json!({"id": id, "consumer": {"address": {"state": "NY", "city": "Albany"}, "time_zones": ["America/New_York"],
           "phones": [{"number": "+12125550100", "kind": "mobile"}]}})
    .to_string()
}

#[tokio::test]
async fn accounts_are_stored_and_read_back() {
    let api = api().await;
    let (status, _) = api
        .call("PUT", "/v1/accounts/A-1", Some(account_json("A-1")))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, account) = api.call("GET", "/v1/accounts/A-1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account["consumer"]["time_zones"][0], "America/New_York");
    let (status, error) = api.call("GET", "/v1/accounts/nobody", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["code"], "not_found");
}

#[tokio::test]
async fn a_wrong_field_names_itself_and_changes_nothing() {
    let api = api().await;
    let (status, error) = api
        .call("PUT", "/v1/accounts/A-2", Some(account_json("OTHER")))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["field"], "id");
    let bad_zone = account_json("A-2").replace("America/New_York", "America/New_Yrok");
    let (status, error) = api.call("PUT", "/v1/accounts/A-2", Some(bad_zone)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["field"], "consumer.time_zones[0]");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `America/New_York`"),
        "{error}"
    );
    let (status, _) = api.call("GET", "/v1/accounts/A-2", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was written");
    let (status, error) = api
        .call("POST", "/v1/evaluate", Some("{\"at\": ".into()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_in_the_error_shape() {
    let api = api().await;
    let huge = format!("{{\"id\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (status, error) = api.call("PUT", "/v1/accounts/A-3", Some(huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error["code"], "body_too_large");
}

#[tokio::test]
async fn attempts_are_recorded_when_allowed_and_refused_with_409() {
    let api = api().await;
    api.call("PUT", "/v1/accounts/A-4", Some(account_json("A-4")))
        .await;
    // The fixed clock says 10:00 EDT: allowed and recorded.
    let (status, result) = api
        .call(
            "POST",
            "/v1/accounts/A-4/attempts",
            Some(json!({"channel": "call", "outcome": "no_answer"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{result}");
    assert_eq!(result["recorded"], true);
    // 07:00 EDT: refused, not recorded, with the decision.
    let early = json!({"channel": "call", "at": "2026-04-07T11:00:00Z"}).to_string();
    let (status, result) = api
        .call("POST", "/v1/accounts/A-4/attempts", Some(early))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(result["decision"]["outcome"], "defer");
    assert_eq!(
        result["decision"]["reasons"][0]["rule"],
        "reg-f.convenient-hours"
    );
    let (_, page) = api.call("GET", "/v1/accounts/A-4/events", None).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    let (status, _) = api
        .call(
            "POST",
            "/v1/accounts/nobody/attempts",
            Some(json!({"channel": "call"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stateful_decisions_are_logged_and_listed() {
    let api = api().await;
    api.call("PUT", "/v1/accounts/A-5", Some(account_json("A-5")))
        .await;
    let (status, answer) = api
        .call(
            "POST",
            "/v1/decisions",
            Some(
                json!({"account_id": "A-5", "channel": "sms", "contact_point": "+12125550100"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["decision"]["allowed"], true);
    assert_eq!(
        answer["decision"]["obligations"][0]["code"],
        "include_opt_out"
    );
    let (_, log) = api.call("GET", "/v1/decisions?account_id=A-5", None).await;
    assert_eq!(log[0]["id"], answer["decision_id"]);
    let (_, page) = api.call("GET", "/v1/accounts/A-5/events", None).await;
    assert!(
        page["events"].as_array().unwrap().is_empty(),
        "a question records no contact"
    );
}

#[tokio::test]
async fn evaluate_answers_the_decide_contract_statelessly() {
    let api = api().await;
    let (status, decision) = api
        .call("POST", "/v1/evaluate", Some(EXAMPLE_REQUEST.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(decision["next_allowed_at"], "2026-04-08T12:00:00Z");
    assert_eq!(decision["policy_digest"], SHIPPED.digest());
    let (_, policy) = api.call("GET", "/v1/policy", None).await;
    assert_eq!(policy["digest"], SHIPPED.digest());
    assert_eq!(policy["packs"].as_array().unwrap().len(), 7);
    let (status, _) = api.call("GET", "/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn windows_list_the_permitted_intervals_ahead() {
    let api = api().await;
    api.call("PUT", "/v1/accounts/W-1", Some(account_json("W-1")))
        .await;
    let (status, view) = api
        .call(
            "GET",
            "/v1/accounts/W-1/windows?channel=call&days=2&from=2026-04-07T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let intervals = view["intervals"].as_array().unwrap();
    // 08:00-21:00 EDT = 12:00Z-01:00Z, two days from midnight UTC (20:00 EDT on the 6th).
    assert_eq!(intervals[0]["start"], "2026-04-07T00:00:00Z");
    assert_eq!(intervals[0]["end"], "2026-04-07T01:00:00Z");
    assert_eq!(intervals[1]["start"], "2026-04-07T12:00:00Z");
    assert_eq!(intervals[1]["end"], "2026-04-08T01:00:00Z");
    assert_eq!(intervals.len(), 3);
    let (status, error) = api
        .call("GET", "/v1/accounts/W-1/windows?channel=call&days=30", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["field"], "days");
    let (status, error) = api
        .call("GET", "/v1/accounts/W-1/windows?channel=fax", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error["code"], "invalid_request",
        "query errors use the one JSON shape: {error}"
    );
    assert_eq!(
        api.call("GET", "/v1/accounts/nobody/windows?channel=call", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn windows_show_the_budget_left_in_every_cap() {
    let api = api().await;
    api.call("PUT", "/v1/accounts/W-2", Some(account_json("W-2")))
        .await;
    for (at, outcome) in [
        ("2026-04-03T14:00:00Z", "no_answer"),
        ("2026-04-06T14:00:00Z", "voicemail"),
        ("2026-04-07T13:58:00Z", "no_answer"),
    ] {
        let event = json!({"at": at, "channel": "call", "outcome": outcome, "contact_point": "+12125550100"});
        let (status, body) = api
            .call("POST", "/v1/accounts/W-2/events", Some(event.to_string()))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // The fixed clock says 10:00 EDT on April 7: budgets are counted then.
    let (status, view) = api
        .call("GET", "/v1/accounts/W-2/windows?channel=call&days=1", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert!(!view["intervals"].as_array().unwrap().is_empty(), "{view}");
    assert_eq!(view["from"], "2026-04-07T14:00:00Z");
    let caps = view["caps"].as_array().unwrap();
    let rules: Vec<&str> = caps.iter().map(|c| c["rule"].as_str().unwrap()).collect();
    assert_eq!(
        rules,
        [
            "reg-f.call-frequency",
            "reg-f.rapid-succession",
            "reg-f.concentrated-calls"
        ]
    );
    // Three calls in April 1-7 (EDT); the oldest leaves at 00:00 EDT on April 10.
    assert_eq!(
        caps[0],
        json!({"rule": "reg-f.call-frequency", "pack": "us-federal",
               "citation": "12 CFR 1006.14(b)(2)(i)(A)", "limit": 7,
               "period": {"calendar_days": 7}, "per": "debt", "used": 3, "remaining": 4,
               "resets_at": "2026-04-10T04:00:00Z", "warning": false})
    );
    // Two minutes after an unanswered call: the 5-minute warning is spent until 14:03Z.
    assert_eq!(caps[1]["contact_point"], "+12125550100");
    assert_eq!(caps[1]["period"], json!({"rolling": "5m"}));
    assert_eq!(caps[1]["per"], "contact_point");
    assert_eq!(
        (caps[1]["used"].as_u64(), caps[1]["remaining"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(caps[1]["resets_at"], "2026-04-07T14:03:00Z");
    assert_eq!(caps[1]["warning"], true);
    assert_eq!(
        (caps[2]["used"].as_u64(), caps[2]["remaining"].as_u64()),
        (Some(1), Some(5))
    );
    // With `from`, the budget is the one left at that instant: April 3's call is gone.
    let (_, later) = api
        .call(
            "GET",
            "/v1/accounts/W-2/windows?channel=call&days=1&from=2026-04-10T04:00:00Z",
            None,
        )
        .await;
    assert_eq!(later["caps"][0]["used"], 2, "{later}");
    assert_eq!(later["caps"][0]["resets_at"], "2026-04-13T04:00:00Z");
    assert!(later["caps"][1].get("resets_at").is_none(), "{later}");
}

#[tokio::test]
async fn every_v1_route_needs_a_key_with_its_scope() {
    let api = api().await;
    let (status, error) = api.call_as(None, "GET", "/v1/policy", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "unauthorized");
    let forged = format!("{}0", api.token);
    assert_eq!(
        api.call_as(Some(&forged), "GET", "/v1/policy", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.call_as(Some("dunner_nosuchkey_secret"), "GET", "/v1/policy", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let reader = key(&api.state, &[Scope::Decide]).await;
    assert_eq!(
        api.call_as(Some(&reader), "GET", "/v1/policy", None)
            .await
            .0,
        StatusCode::OK
    );
    let (status, error) = api
        .call_as(
            Some(&reader),
            "PUT",
            "/v1/accounts/K-1",
            Some(account_json("K-1")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error["message"].as_str().unwrap().contains("`record`"));
    assert_eq!(
        api.call_as(Some(&reader), "GET", "/v1/accounts/K-1", None)
            .await
            .0,
        StatusCode::NOT_FOUND,
        "reading is a `decide` right"
    );
    let (status, _) = api
        .call_as(
            None,
            "POST",
            "/v1/evaluate",
            Some(EXAMPLE_REQUEST.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        api.call_as(None, "GET", "/healthz", None).await.0,
        StatusCode::OK,
        "probes are open"
    );
}

#[tokio::test]
async fn evaluate_can_be_left_open_for_local_use() {
    let api = api_with(true).await;
    let (status, decision) = api
        .call_as(
            None,
            "POST",
            "/v1/evaluate",
            Some(EXAMPLE_REQUEST.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(decision["outcome"], "defer");
    assert_eq!(
        api.call_as(None, "GET", "/v1/policy", None).await.0,
        StatusCode::UNAUTHORIZED,
        "only evaluate is open"
    );
}

/// A writable copy of the shipped packs (no policy tests: only packs are reloaded).
fn rules_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(rules_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".toml") && !name.ends_with(".tests.toml") {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    dir
}

#[tokio::test]
async fn a_broken_reload_keeps_the_last_good_policy_and_says_why() {
    let rules = rules_copy();
    let dir = rules.path().to_path_buf();
    let api = api_configured(sqlite().await, move |config| config.rules.dir = dir).await;
    let federal = rules.path().join("us-federal.toml");
    let text = std::fs::read_to_string(&federal).unwrap();
    std::fs::write(&federal, text.replace("max = 7", "max = 0")).unwrap();
    let refused = api
        .state
        .policy
        .reload("2026-01-02T00:00:00Z".parse().unwrap())
        .unwrap_err();
    assert!(refused.contains("rules::cap-of-zero"), "{refused}");
    let metrics = api.scrape().await;
    assert_eq!(
        metrics[r#"dunner_policy_reloads_total{result="error"}"#],
        1.0
    );
    assert_eq!(metrics[r#"dunner_policy_reloads_total{result="ok"}"#], 0.0);
    let (_, view) = api.call("GET", "/v1/policy", None).await;
    assert_eq!(
        view["digest"],
        SHIPPED.digest(),
        "the old policy still decides"
    );
    assert!(
        view["last_reload_error"]
            .as_str()
            .unwrap()
            .contains("us-federal.toml"),
        "{view}"
    );
    // A valid change is taken and clears the error.
    std::fs::write(
        &federal,
        text.replace("version = \"2026.11.0\"", "version = \"2026.11.1\""),
    )
    .unwrap();
    let digest = api
        .state
        .policy
        .reload("2026-01-03T00:00:00Z".parse().unwrap())
        .unwrap();
    let (_, view) = api.call("GET", "/v1/policy", None).await;
    assert_eq!(view["digest"], digest);
    assert_ne!(digest, SHIPPED.digest());
    assert!(view["last_reload_error"].is_null());
    let metrics = api.scrape().await;
    assert_eq!(
        metrics[r#"dunner_policy_reloads_total{result="error"}"#],
        1.0
    );
    assert_eq!(metrics[r#"dunner_policy_reloads_total{result="ok"}"#], 1.0);
}

/// Creates an API key with `dunner keys create` and returns its token.
pub(crate) fn create_key(database: &str, scopes: &[&str]) -> String {
    let mut args = vec!["keys", "create", "--name", "test", "--database", database];
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_dunner"))
        .args(&args)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(token.starts_with("dunner_"), "{token}");
    token
}

/// Spawns `dunner serve` on port 0 and returns it with the address it printed.
pub(crate) fn spawn_daemon(database: &str, rules: &str) -> (std::process::Child, String) {
    spawn_daemon_configured(database, rules, None)
}

/// [`spawn_daemon`] with a configuration file.
#[expect(
    clippy::zombie_processes,
    reason = "the caller stops the daemon and waits for it"
)]
pub(crate) fn spawn_daemon_configured(
    database: &str,
    rules: &str,
    config: Option<&std::path::Path>,
) -> (std::process::Child, String) {
    let config_args: Vec<String> = config
        .map(|path| vec!["--config".to_string(), path.display().to_string()])
        .unwrap_or_default();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dunner"))
        .args(&config_args)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            database,
            "--rules",
            rules,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DUNNER_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the daemon exited before listening"
        );
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let address = rest.split_whitespace().next().unwrap().to_string();
            // Keep reading, so that a later log line never meets a closed pipe; the
            // lines show up in the output of a failing test.
            std::thread::spawn(move || {
                for line in stderr.lines().map_while(Result::ok) {
                    eprintln!("daemon: {line}");
                }
            });
            return (child, address);
        }
    }
}

/// Sends a signal to a child process.
pub(crate) fn signal(child: &std::process::Child, name: &str) {
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// Polls `/v1/policy` until `done` says yes (at most 10 s).
fn wait_for_policy(address: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let (_, body) = http(address, token, "GET", "/v1/policy", "");
        let view: Value = serde_json::from_str(&body).unwrap();
        if done(&view) {
            return view;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the policy did not change as expected within 10 s");
}

#[test]
fn the_real_daemon_reloads_on_sighup_and_keeps_serving_the_old_digest_when_broken() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_copy();
    let database = format!("sqlite://{}", dir.path().join("dunner.db").display());
    let token = create_key(&database, &["decide"]);
    let (mut child, address) = spawn_daemon(&database, rules.path().to_str().unwrap());
    let hangup = || signal(&child, "-HUP");
    let original = wait_for_policy(&address, &token, |_| true)["digest"].clone();
    let federal = rules.path().join("us-federal.toml");
    let text = std::fs::read_to_string(&federal).unwrap();
    std::fs::write(&federal, "[pack\nbroken").unwrap();
    hangup();
    let view = wait_for_policy(&address, &token, |v| !v["last_reload_error"].is_null());
    assert_eq!(
        view["digest"], original,
        "a broken reload keeps the last good policy"
    );
    std::fs::write(
        &federal,
        text.replace("version = \"2026.11.0\"", "version = \"2026.11.2\""),
    )
    .unwrap();
    hangup();
    let view = wait_for_policy(&address, &token, |v| {
        v["digest"] != original && v["last_reload_error"].is_null()
    });
    assert_eq!(view["packs"].as_array().unwrap().len(), 7);
    signal(&child, "-TERM");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// Sends one HTTP/1.1 request with `Connection: close` and returns status and body.
pub(crate) fn http(
    address: &str,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_real_daemon_serves_on_port_0_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("dunner.db").display());
    let token = create_key(&database, &["decide", "record"]);
    let (mut child, address) = spawn_daemon(&database, "rules");
    assert_eq!(
        http(&address, "", "GET", "/healthz", ""),
        (200, "ok".to_string())
    );
    assert_eq!(
        http(
            &address,
            "dunner_x_y",
            "PUT",
            "/v1/accounts/E-1",
            &account_json("E-1")
        )
        .0,
        401
    );
    let (status, _) = http(
        &address,
        &token,
        "PUT",
        "/v1/accounts/E-1",
        &account_json("E-1"),
    );
    assert_eq!(status, 200);
    let attempt = json!({"channel": "letter"}).to_string();
    let (status, body) = http(
        &address,
        &token,
        "POST",
        "/v1/accounts/E-1/attempts",
        &attempt,
    );
    assert!(status == 201 || status == 409, "{status} {body}");
    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_decisions_by_outcome_and_rule() {
    let api = api().await;
    api.call("PUT", "/v1/accounts/M-1", Some(account_json("M-1")))
        .await;
    // 10:00 EDT by the fixed clock: allowed and recorded.
    let allowed = json!({"channel": "call", "outcome": "no_answer"}).to_string();
    let (status, _) = api
        .call("POST", "/v1/accounts/M-1/attempts", Some(allowed))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // 07:00 EDT: refused by the calling hours.
    let early = json!({"channel": "call", "at": "2026-04-07T11:00:00Z"}).to_string();
    let (status, refused) = api
        .call("POST", "/v1/accounts/M-1/attempts", Some(early))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The example: deferred by the consumer's inconvenient times.
    let (status, evaluated) = api
        .call("POST", "/v1/evaluate", Some(EXAMPLE_REQUEST.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK);
    let question = json!({"account_id": "M-1", "channel": "sms", "contact_point": "+12125550100"});
    let (status, _) = api
        .call("POST", "/v1/decisions", Some(question.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api.call_as(None, "GET", "/v1/policy", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.call("GET", "/no/such/route", None).await.0,
        StatusCode::NOT_FOUND
    );

    let metrics = api.scrape().await;
    let requests = |method: &str, route: &str, status: u16| {
        metrics
            .get(&format!(
                r#"dunner_http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#
            ))
            .copied()
    };
    assert_eq!(requests("PUT", "/v1/accounts/{id}", 200), Some(1.0));
    assert_eq!(
        requests("POST", "/v1/accounts/{id}/attempts", 201),
        Some(1.0)
    );
    assert_eq!(
        requests("POST", "/v1/accounts/{id}/attempts", 409),
        Some(1.0)
    );
    assert_eq!(requests("POST", "/v1/evaluate", 200), Some(1.0));
    assert_eq!(requests("POST", "/v1/decisions", 200), Some(1.0));
    assert_eq!(requests("GET", "/v1/policy", 401), Some(1.0));
    assert_eq!(requests("GET", "unmatched", 404), Some(1.0));
    assert!(
        metrics.keys().all(|key| !key.contains("M-1")),
        "concrete ids never become labels: {metrics:#?}"
    );
    assert_eq!(
        metrics[r#"dunner_http_request_duration_seconds_count{method="POST",route="/v1/accounts/{id}/attempts"}"#],
        2.0
    );
    assert_eq!(
        metrics[r#"dunner_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/v1/accounts/{id}/attempts"}"#],
        2.0
    );
    // The allowed attempt and the SMS question; the early call and the example.
    assert_eq!(metrics[r#"dunner_decisions_total{outcome="allow"}"#], 2.0);
    assert_eq!(metrics[r#"dunner_decisions_total{outcome="defer"}"#], 2.0);
    assert!(!metrics.contains_key(r#"dunner_decisions_total{outcome="stop"}"#));
    let mut expected_refusals = std::collections::BTreeMap::new();
    for reason in refused["decision"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .chain(evaluated["reasons"].as_array().unwrap())
    {
        *expected_refusals
            .entry(format!(
                r#"dunner_decisions_refused_total{{rule="{}"}}"#,
                reason["rule"].as_str().unwrap()
            ))
            .or_insert(0.0) += 1.0;
    }
    assert!(
        expected_refusals
            .contains_key(r#"dunner_decisions_refused_total{rule="reg-f.convenient-hours"}"#)
    );
    assert!(expected_refusals.contains_key(
        r#"dunner_decisions_refused_total{rule="reg-f.consumer-inconvenient-times"}"#
    ));
    let refusals: std::collections::BTreeMap<String, f64> = metrics
        .iter()
        .filter(|(key, _)| key.starts_with("dunner_decisions_refused_total"))
        .map(|(key, value)| (key.clone(), *value))
        .collect();
    assert_eq!(refusals, expected_refusals);
    assert_eq!(metrics["dunner_attempts_recorded_total"], 1.0);
    assert_eq!(metrics[r#"dunner_policy_reloads_total{result="ok"}"#], 0.0);
}

#[tokio::test]
async fn bulk_upsert_is_all_or_nothing_and_names_the_bad_account() {
    let api = api().await;
    let account = |id: &str| {
        serde_json::json!({"id": id, "balance": {"amount": "10.00", "currency": "USD"},
                           "consumer": {"address": {"state": "NY"}}})
    };
    let (status, body) = api
        .call(
            "POST",
            "/v1/accounts/bulk",
            Some(serde_json::json!({"accounts": [account("K-1"), account("K-2")]}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["upserted"], 2);
    let (status, stored) = api.call("GET", "/v1/accounts/K-2", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["balance"]["amount"], "10.00");

    // One bad account: nothing of the request is written.
    let mut bad = account("K-4");
    bad["consumer"]["time_zones"] = serde_json::json!(["Mars/Base"]);
    let (status, body) = api
        .call(
            "POST",
            "/v1/accounts/bulk",
            Some(serde_json::json!({"accounts": [account("K-3"), bad]}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "accounts[1].consumer.time_zones[0]");
    assert_eq!(
        api.call("GET", "/v1/accounts/K-3", None).await.0,
        StatusCode::NOT_FOUND
    );

    let (status, body) = api
        .call(
            "POST",
            "/v1/accounts/bulk",
            Some(serde_json::json!({"accounts": [account("K-5"), account("K-5")]}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "accounts[1].id");
    assert_eq!(
        api.call("GET", "/v1/accounts/K-5", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn ledger_events_update_the_account_and_wrong_ones_are_named() {
    let api = api().await;
    let account = serde_json::json!({"id": "E-1", "balance": {"amount": "500", "currency": "USD"},
                                     "consumer": {"address": {"state": "NY"}}});
    assert_eq!(
        api.call("PUT", "/v1/accounts/E-1", Some(account.to_string()))
            .await
            .0,
        StatusCode::OK
    );
    let post = |event: Value| api.call("POST", "/v1/accounts/E-1/events", Some(event.to_string()));

    let (status, body) = post(serde_json::json!({"at": "2026-04-06T12:00:00Z", "type": "flag_set", "flag": "attorney_represented"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = post(serde_json::json!({"at": "2026-04-06T12:00:00Z", "type": "payment_posted", "amount": {"amount": "120.50", "currency": "USD"}})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, stored) = api.call("GET", "/v1/accounts/E-1", None).await;
    assert_eq!(stored["flags"]["attorney_represented"], true);
    assert_eq!(stored["balance"]["amount"], "379.50");

    // Malformed for its type: 400 naming the field. Cannot apply: 422. Neither is stored.
    let cases = [
        (
            serde_json::json!({"at": "2026-04-06T12:00:00Z", "type": "flag_set"}),
            StatusCode::BAD_REQUEST,
            "flag",
        ),
        (
            serde_json::json!({"at": "2026-04-06T12:00:00Z", "type": "flag_set", "flag": "no_consent"}),
            StatusCode::BAD_REQUEST,
            "flag",
        ),
        (
            serde_json::json!({"at": "2026-04-06T12:00:00Z", "type": "contact", "channel": "call", "flag": "deceased"}),
            StatusCode::BAD_REQUEST,
            "flag",
        ),
        (
            serde_json::json!({"at": "2026-04-06T12:00:00Z", "type": "payment_posted", "amount": {"amount": "-5", "currency": "USD"}}),
            StatusCode::BAD_REQUEST,
            "amount",
        ),
        (
            serde_json::json!({"at": "2026-04-06T12:00:00Z", "type": "payment_posted", "amount": {"amount": "5", "currency": "EUR"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount",
        ),
    ];
    for (event, expected, field) in cases {
        let (status, body) = post(event.clone()).await;
        assert_eq!(status, expected, "{event}: {body}");
        assert_eq!(body["field"], field, "{event}: {body}");
    }
    let (_, page) = api.call("GET", "/v1/accounts/E-1/events", None).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    let (_, stored) = api.call("GET", "/v1/accounts/E-1", None).await;
    assert_eq!(stored["balance"]["amount"], "379.50");
}

#[tokio::test]
async fn notices_are_queued_checked_replayed_by_key_and_refused_under_a_hold() {
    let api = api().await;
    let account = serde_json::json!({"id": "Q-1", "consumer": {"address": {"state": "NY"},
        "emails": [{"address": "pat@example.com", "kind": "personal"}]}});
    assert_eq!(
        api.call("PUT", "/v1/accounts/Q-1", Some(account.to_string()))
            .await
            .0,
        StatusCode::OK
    );
    let email = serde_json::json!({"account_id": "Q-1", "channel": "email",
        "template": "payment_reminder", "purpose": "payment_reminder", "data": {"due": "2026-05-01"}});
    let post_with_key = |body: Value, key: &'static str| {
        let mut request = Request::builder()
            .method("POST")
            .uri("/v1/notices")
            .header("authorization", format!("Bearer {}", api.token))
            .header("content-type", "application/json");
        if !key.is_empty() {
            request = request.header("idempotency-key", key);
        }
        let request = request.body(Body::from(body.to_string())).unwrap();
        // The test daemon has no `[smtp]`; this test is about the queue, so it asks as a
        // daemon that can send every notice.
        let state = AppState::new(SharedState {
            notice_senders: Arc::new(dunner::domain::NoticeSenders::every()),
            ..(*api.state).clone()
        });
        async move {
            let response = router(state).oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let (status, first) = post_with_key(email.clone(), "order-17").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["queued"], true);
    assert_eq!(first["notice"]["status"], "pending");
    assert_eq!(first["notice"]["due_at"], "2026-04-07T14:00:00Z");
    assert_eq!(first["decision"]["allowed"], true);
    let id = first["notice"]["id"].as_str().unwrap().to_string();
    let (status, again) = post_with_key(email.clone(), "order-17").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["notice"]["id"], id.as_str());

    let (status, stored) = api.call("GET", &format!("/v1/notices/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["request"]["data"]["due"], "2026-05-01");
    let (status, body) = api
        .call("POST", &format!("/v1/notices/{id}/retry"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Wrong for its channel: 400 naming the field, nothing queued.
    let (status, body) = post_with_key(
        serde_json::json!({"account_id": "Q-1", "channel": "webhook", "template": "collection"}),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "event_type");

    // Under a cease-and-desist a collection email is refused with the reasons.
    let cease = serde_json::json!({"at": "2026-04-07T13:00:00Z", "type": "flag_set", "flag": "cease_and_desist"});
    assert_eq!(
        api.call("POST", "/v1/accounts/Q-1/events", Some(cease.to_string()))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, refused) = post_with_key(email, "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["queued"], false);
    assert_eq!(refused["decision"]["outcome"], "stop");
    let (_, all) = api.call("GET", "/v1/notices", None).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (_, dead) = api.call("GET", "/v1/notices?status=dead", None).await;
    assert_eq!(dead.as_array().unwrap().len(), 0);
}

/// Issue 12 part 4: a notice nobody can deliver is refused when it is asked for (not
/// retried for a day and dead-lettered), naming the setting that is missing; a template
/// for another purpose than the notice's is refused naming `template`.
#[tokio::test]
async fn a_notice_nobody_can_deliver_or_with_another_purposes_template_is_refused() {
    let api = api().await;
    let account = serde_json::json!({"id": "Q-2", "consumer": {"address": {"state": "NY"},
        "emails": [{"address": "pat@example.com", "kind": "personal"}]}});
    assert_eq!(
        api.call("PUT", "/v1/accounts/Q-2", Some(account.to_string()))
            .await
            .0,
        StatusCode::OK
    );
    // The test daemon has neither `[smtp]` nor `[[webhooks]]`.
    let email = serde_json::json!({"account_id": "Q-2", "channel": "email",
        "template": "payment_reminder", "purpose": "payment_reminder"});
    let (status, body) = api
        .call("POST", "/v1/notices", Some(email.to_string()))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "unprocessable");
    assert_eq!(body["field"], "channel");
    assert!(
        body["message"].as_str().unwrap().contains("[smtp]"),
        "{body}"
    );
    let webhook = serde_json::json!({"account_id": "Q-2", "channel": "webhook",
        "event_type": "account.escalated"});
    let (status, body) = api
        .call("POST", "/v1/notices", Some(webhook.to_string()))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("[[webhooks]]"),
        "{body}"
    );
    let mismatched = serde_json::json!({"account_id": "Q-2", "channel": "email",
        "template": "payment_reminder", "purpose": "collection"});
    let (status, body) = api
        .call("POST", "/v1/notices", Some(mismatched.to_string()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "template");
    let (_, all) = api.call("GET", "/v1/notices", None).await;
    assert_eq!(all.as_array().unwrap().len(), 0, "nothing was queued");
}

#[tokio::test]
async fn the_daemon_as_a_library_serves_on_port_0_and_drains_when_stopped() {
    let app = TestApp::spawn().await;
    let health = app.request("GET", "/healthz").send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let ready = app.request("GET", "/readyz").send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200, "{:?}", ready.text().await);
    let address = app.address;
    app.stop().await.unwrap();
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "the listener is closed once the daemon has drained"
    );
}

/// The README's timeline over HTTP, on both stores: dial at 10:00 with no outcome; a
/// second call at 10:00:30 refused while the outcome is pending; "no answer" reported;
/// the next call judged by the 7-in-7 count alone; a second report refused.
async fn the_outcome_arrives_after_the_dial(api: Api) {
    let (status, _) = api
        .call("PUT", "/v1/accounts/T-1", Some(account_json("T-1")))
        .await;
    assert_eq!(status, StatusCode::OK);
    let dial = |at: &str| {
        json!({"at": at, "channel": "call", "contact_point": "+12125550100"}).to_string()
    };
    let (status, first) = api
        .call(
            "POST",
            "/v1/accounts/T-1/attempts",
            Some(dial("2026-04-07T14:00:00Z")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let attempt_id = first["event_id"].as_str().unwrap().to_string();
    let (status, pending) = api
        .call(
            "POST",
            "/v1/accounts/T-1/attempts",
            Some(dial("2026-04-07T14:00:30Z")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{pending}");
    assert!(
        pending["decision"]["reasons"]
            .to_string()
            .contains("reg-f.after-conversation"),
        "{pending}"
    );
    let outcome = format!("/v1/accounts/T-1/attempts/{attempt_id}/outcome");
    let (status, reported) = api
        .call(
            "POST",
            &outcome,
            Some(json!({"outcome": "no_answer"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reported}");
    assert_eq!(reported["attempt_id"], attempt_id.as_str());
    let (status, next) = api
        .call(
            "POST",
            "/v1/accounts/T-1/attempts",
            Some(dial("2026-04-07T14:01:30Z")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{next}");
    let (status, again) = api
        .call(
            "POST",
            &outcome,
            Some(json!({"outcome": "conversation"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["code"], "conflict");
    let (status, missing) = api
        .call(
            "POST",
            "/v1/accounts/T-1/attempts/0190f0e0-0000-7000-8000-000000000000/outcome",
            Some(json!({"outcome": "no_answer"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    let (status, bad) = api
        .call(
            "POST",
            &outcome,
            Some(json!({"outcome": "fax"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["field"], "outcome");
    let (_, log) = api.call("GET", "/v1/decisions?account_id=T-1", None).await;
    assert_eq!(log[0]["event_id"], attempt_id.as_str(), "{log}");
    assert!(
        log[1].get("event_id").is_none(),
        "a refusal recorded nothing: {log}"
    );
    // Yesterday's attempt on another account never got its outcome: past the grace,
    // the report lists it (and not the attempts whose outcome arrived or may still).
    let (status, _) = api
        .call("PUT", "/v1/accounts/T-2", Some(account_json("T-2")))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, lost) = api
        .call(
            "POST",
            "/v1/accounts/T-2/attempts",
            Some(dial("2026-04-06T15:00:00Z")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{lost}");
    let lost_id = lost["event_id"].as_str().unwrap();
    let (status, report) = api
        .call(
            "GET",
            "/v1/reports/unreported_outcomes?from=2026-04-01&to=2026-04-07",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let section = &report["unreported_outcomes"];
    assert_eq!(section["total"], 1, "{report}");
    assert_eq!(section["attempts"][0]["attempt_id"], lost_id, "{report}");
    assert_eq!(section["attempts"][0]["channel"], "call");
    assert_eq!(section["made_before"], "2026-04-07T12:00:00Z");
}

#[tokio::test]
async fn the_outcome_arrives_after_the_dial_on_sqlite() {
    the_outcome_arrives_after_the_dial(api().await).await;
}

#[tokio::test]
async fn the_outcome_arrives_after_the_dial_on_postgres() {
    the_outcome_arrives_after_the_dial(api_on(crate::store_conformance::postgres().await).await)
        .await;
}

/// `[database] history_cache_rows = 0`: the ledger's writers keep no history between
/// groups (`/metrics` says they hold none), so every attempt reads its debtor's history
/// again; the caps count exactly as with the cache (the same attempts recorded, the same
/// refused), which holds the debtor's rows.
#[tokio::test]
async fn without_the_writers_history_cache_the_caps_count_the_same_attempts_on_sqlite() {
    without_the_writers_history_cache_the_caps_count_the_same_attempts(false).await;
}

#[tokio::test]
async fn without_the_writers_history_cache_the_caps_count_the_same_attempts_on_postgres() {
    without_the_writers_history_cache_the_caps_count_the_same_attempts(true).await;
}

async fn without_the_writers_history_cache_the_caps_count_the_same_attempts(postgres: bool) {
    let mut answers = Vec::new();
    for rows in [
        0,
        dunner::config::Config::default()
            .database
            .history_cache_rows,
    ] {
        let store = if postgres {
            crate::store_conformance::postgres().await
        } else {
            sqlite().await
        };
        let api = api_configured(store, |config| {
            config.database.history_cache_rows = rows;
        })
        .await;
        api.call("PUT", "/v1/accounts/A-9", Some(account_json("A-9")))
            .await;
        let mut statuses = Vec::new();
        let mut refused_by = None;
        for minute in 0..12 {
            let at = format!("2026-04-07T13:{minute:02}:00Z");
            let attempt = json!({"channel": "call", "outcome": "no_answer", "at": at});
            let (status, result) = api
                .call(
                    "POST",
                    "/v1/accounts/A-9/attempts",
                    Some(attempt.to_string()),
                )
                .await;
            if status == StatusCode::CONFLICT && refused_by.is_none() {
                refused_by = Some(result["decision"]["reasons"][0]["rule"].clone());
            }
            statuses.push(status);
        }
        let (_, page) = api.call("GET", "/v1/accounts/A-9/events", None).await;
        let recorded = page["events"].as_array().map_or(0, Vec::len);
        let metrics = api.app.request("GET", "/metrics").send().await.unwrap();
        let metrics = metrics.text().await.unwrap();
        let held: usize = metrics
            .lines()
            .find_map(|line| line.strip_prefix("dunner_ledger_history_cache_rows "))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no history cache gauge in {metrics}"));
        if rows == 0 {
            assert_eq!(held, 0, "a bound of 0 keeps nothing between groups");
        } else {
            assert!(
                held >= recorded,
                "the debtor's rows are held: {held} of {recorded}"
            );
        }
        answers.push((statuses, refused_by, recorded));
    }
    let (without, with) = (&answers[0], &answers[1]);
    assert_eq!(without, with, "the cache changes no answer");
    assert!(without.0.contains(&StatusCode::CREATED), "{without:?}");
    assert!(
        without.0.contains(&StatusCode::CONFLICT),
        "a cap refuses at last: {without:?}"
    );
    assert!(without.1.is_some(), "{without:?}");
}

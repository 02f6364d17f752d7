//! The scheduler: reading the portfolio a consumer at a time (both backends), ticks
//! that queue each notice once (run twice, on two daemons sharing PostgreSQL, across a
//! day), `GET /v1/accounts/{id}/plan`, and the real daemon sending `contact.due` to a
//! real receiver at the calling window's opening.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use dunner::clock::{Clock, FixedClock, SystemClock};
use dunner::dispatch::signing::{SignedHeaders, WebhookSecret, verify};
use dunner::domain::{Account, LedgerEvent};
use dunner::http::{AppState, Metrics, SharedState, router};
use dunner::reload::LivePolicy;
use dunner::scheduler::{Scheduler, StrategySet};
use dunner::store::{NoticeStatus, Store};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api::{app_state, create_key, http, parse_metrics, signal};
use crate::helpers::{SECRET, TestReceiver};
use crate::helpers::{SHIPPED, rules_dir};
use crate::store_conformance::{TestStore, postgres, sqlite};

/// A call every day from the day of placement, at the first allowed instant (no
/// preferred hours), until a conversation; and a reminder email on day 0.
const DAILY_CALLS: &str = r#"
[strategy]
id = "daily-calls"
title = "Daily calls"
version = "1"

[segment]
states = ["NY", "WA"]

[[step]]
id = "morning-call"
channel = "call"
every_days = 1
from_day = 0
stop_when = ["conversation"]
"#;

/// Writes a strategy file into `dir`.
fn strategy_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn account(json: Value) -> Account {
    serde_json::from_value(json).unwrap()
}

fn event(json: Value) -> LedgerEvent {
    serde_json::from_value(json).unwrap()
}

fn new_yorker(id: &str) -> Account {
    account(json!({
        "id": id, "placed_on": "2026-04-01", "balance": {"amount": "500.00", "currency": "USD"},
        "consumer": {"address": {"state": "NY", "city": "Albany"}, "time_zones": ["America/New_York"],
                     "phones": [{"number": "+12125550100", "kind": "mobile"}]}
    }))
}

fn sibling(id: &str, consumer: &str) -> Account {
    let mut account = new_yorker(id);
    account.consumer.id = Some(consumer.to_string());
    account
}

// --- the store: the portfolio a consumer at a time ------------------------------------

async fn consumer_pages_read_every_consumer_once_with_its_siblings_and_full_ledger(
    test: TestStore,
) {
    let store = &test.store;
    let now = at("2026-04-07T14:00:00Z");
    let mut accounts: Vec<Account> = (1..=7).map(|i| new_yorker(&format!("S-{i}"))).collect();
    // One consumer's debts far apart in id order (they straddle pages), another's side by
    // side.
    accounts.extend([
        sibling("A-9", "C-1"),
        sibling("Z-1", "C-1"),
        sibling("M-1", "C-2"),
        sibling("M-2", "C-2"),
    ]);
    store.put_accounts(&accounts, now).await.unwrap();
    let entries = [
        json!({"at": "2026-04-02T15:00:00Z", "channel": "call", "outcome": "voicemail", "contact_point": "+12125550100"}),
        json!({"at": "2026-04-03T15:00:00Z", "type": "promise_to_pay", "amount": {"amount": "100.00", "currency": "USD"}, "due_on": "2026-04-10"}),
        json!({"at": "2026-04-04T15:00:00Z", "type": "payment_posted", "amount": {"amount": "40.00", "currency": "USD"}}),
        json!({"at": "2026-04-05T15:00:00Z", "type": "webhook_delivered", "notice_id": "n-1", "purpose": "collection"}),
    ];
    for entry in &entries {
        dunner::service::append_event(store, "Z-1", &event(entry.clone()), now)
            .await
            .unwrap();
    }
    dunner::service::append_event(store, "S-3", &event(entries[0].clone()), now)
        .await
        .unwrap();

    let mut seen: Vec<Vec<String>> = Vec::new();
    let mut ledgers: BTreeMap<String, usize> = BTreeMap::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.consumer_page(after.as_deref(), 3).await.unwrap();
        pages += 1;
        for consumer in &page.consumers {
            seen.push(consumer.iter().map(|d| d.account.id.clone()).collect());
            for debt in consumer {
                ledgers.insert(debt.account.id.clone(), debt.ledger.len());
            }
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(pages < 20, "the walk ends");
    }
    assert!(
        pages >= 4,
        "11 accounts in pages of 3 anchors: {pages} pages"
    );
    let all: Vec<&String> = seen.iter().flatten().collect();
    let unique: BTreeSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), 11, "every account once: {seen:?}");
    assert_eq!(unique.len(), 11, "{seen:?}");
    assert!(
        seen.contains(&vec!["A-9".to_string(), "Z-1".to_string()]),
        "{seen:?}"
    );
    assert!(
        seen.contains(&vec!["M-1".to_string(), "M-2".to_string()]),
        "{seen:?}"
    );
    assert!(seen.contains(&vec!["S-3".to_string()]), "{seen:?}");
    // The full ledger: every event type, not only the contacts a decision reads.
    assert_eq!(ledgers["Z-1"], 4);
    assert_eq!(ledgers["S-3"], 1);
    assert_eq!(ledgers["A-9"], 0);

    // The audit's pages, cut ahead and read by range (several at once): the same
    // consumers, each once, with the same ledgers in ledger order.
    let bounds = store.consumer_page_bounds(3).await.unwrap();
    assert_eq!(bounds, ["M-2", "S-3", "S-6"], "every third id");
    let mut ranged: Vec<Vec<String>> = Vec::new();
    let mut after: Option<String> = None;
    for upto in bounds.into_iter().map(Some).chain([None]) {
        let page = store
            .consumer_entries_between(after.as_deref(), upto.as_deref())
            .await
            .unwrap()
            .parse()
            .unwrap();
        for consumer in &page {
            ranged.push(consumer.iter().map(|d| d.account.id.clone()).collect());
            for debt in consumer {
                assert_eq!(debt.entries.len(), ledgers[&debt.account.id]);
                assert!(debt.entries.windows(2).all(|w| w[0].seq < w[1].seq));
            }
        }
        after = upto;
    }
    let mut walked = seen.clone();
    walked.sort();
    ranged.sort();
    assert_eq!(ranged, walked);

    // One consumer, as the plan endpoint reads it: the same accounts, in id order.
    let consumer = store.consumer_ledgers("Z-1").await.unwrap().unwrap();
    let ids: Vec<&str> = consumer.iter().map(|d| d.account.id.as_str()).collect();
    assert_eq!(ids, ["A-9", "Z-1"]);
    assert_eq!(consumer[1].ledger.len(), 4);
    assert!(store.consumer_ledgers("nobody").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_pages_on_sqlite() {
    consumer_pages_read_every_consumer_once_with_its_siblings_and_full_ledger(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_pages_on_postgres() {
    consumer_pages_read_every_consumer_once_with_its_siblings_and_full_ledger(postgres().await)
        .await;
}

// --- ticks, in process ------------------------------------------------------------------

fn scheduler(store: &Store, strategies: &Arc<StrategySet>, now: &str) -> Scheduler {
    let policy = Arc::new(LivePolicy::new(&rules_dir(), SHIPPED.clone(), at(now)));
    Scheduler {
        store: store.clone(),
        metrics: Arc::new(Metrics::new(&policy)),
        policy,
        clock: Arc::new(FixedClock(at(now))),
        strategies: Arc::clone(strategies),
        interval: Duration::from_secs(60),
        lookahead: Duration::from_secs(300),
        email_data: Arc::default(),
        wake: Arc::default(),
        notice_senders: Arc::new(dunner::domain::NoticeSenders::every()),
        owner: Scheduler::instance_name(),
    }
}

fn daily_calls() -> (tempfile::TempDir, Arc<StrategySet>) {
    let dir = tempfile::tempdir().unwrap();
    let path = strategy_file(dir.path(), "daily.toml", DAILY_CALLS);
    (dir, Arc::new(StrategySet::load(&[path], true).unwrap()))
}

/// Three debts due for a call at 08:00 in New York, one on hold.
async fn portfolio(store: &Store) {
    let now = at("2026-04-07T11:00:00Z");
    store
        .put_accounts(
            &[
                new_yorker("T-1"),
                new_yorker("T-2"),
                new_yorker("T-3"),
                new_yorker("T-HOLD"),
            ],
            now,
        )
        .await
        .unwrap();
    let cease = event(
        json!({"at": "2026-04-06T15:00:00Z", "type": "flag_set", "flag": "cease_and_desist"}),
    );
    dunner::service::append_event(store, "T-HOLD", &cease, now)
        .await
        .unwrap();
}

async fn notice_keys(store: &Store) -> Vec<String> {
    let mut keys: Vec<String> = store
        .list_notices(None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|notice| {
            assert_eq!(notice.status, NoticeStatus::Pending);
            assert_eq!(notice.due_at, at("2026-04-07T12:00:00Z"), "{notice:?}");
            format!(
                "{} {}",
                notice.account_id,
                notice
                    .request
                    .event_type
                    .map(|t| t.as_str())
                    .unwrap_or_default()
            )
        })
        .collect();
    keys.sort();
    keys
}

async fn a_tick_run_twice_queues_each_notice_once(test: TestStore) {
    let store = &test.store;
    portfolio(store).await;
    let (_dir, strategies) = daily_calls();
    let scheduler = scheduler(store, &strategies, "2026-04-07T11:58:00Z");
    let first = scheduler.tick().await.unwrap();
    assert_eq!(
        (first.accounts, first.queued, first.stopped),
        (4, 3, 0),
        "{first:?}"
    );
    assert_eq!(first.partitions, 64, "one daemon plans every partition");
    // The same tick again (the same slot of the clock): every partition is done.
    let again = scheduler.tick().await.unwrap();
    assert_eq!((again.partitions, again.consumers), (0, 0), "{again:?}");
    // The next tick: the notices wait in the outbox, the steps are taken care of.
    let second = self::scheduler(store, &strategies, "2026-04-07T11:59:00Z")
        .tick()
        .await
        .unwrap();
    assert_eq!((second.queued, second.waiting), (0, 3), "{second:?}");
    assert_eq!(
        notice_keys(store).await,
        ["T-1 contact.due", "T-2 contact.due", "T-3 contact.due"]
    );
    // The next day, the deferred notices still wait: nothing is queued again for them.
    let tomorrow = scheduler_next_day(store, &strategies).tick().await.unwrap();
    assert_eq!((tomorrow.queued, tomorrow.waiting), (0, 3), "{tomorrow:?}");
    let metrics = metrics_of(&scheduler).await;
    assert_eq!(
        metrics[r#"dunner_scheduler_notices_total{kind="contact.due",outcome="queued"}"#],
        3.0
    );
}

fn scheduler_next_day(store: &Store, strategies: &Arc<StrategySet>) -> Scheduler {
    scheduler(store, strategies, "2026-04-08T11:58:00Z")
}

/// The scheduler's metrics, as `GET /metrics` shows them.
async fn metrics_of(scheduler: &Scheduler) -> BTreeMap<String, f64> {
    let state = AppState::new(SharedState {
        store: scheduler.store.clone(),
        policy: Arc::clone(&scheduler.policy),
        clock: Arc::clone(&scheduler.clock),
        open_evaluate: false,
        config_keys: Arc::new([]),
        key_cache: Arc::default(),
        metrics: Arc::clone(&scheduler.metrics),
        notices_wake: Arc::default(),
        notice_senders: Arc::new(dunner::domain::NoticeSenders::every()),
        strategies: Arc::clone(&scheduler.strategies),
        tasks: Arc::default(),
        idempotency_retention: std::time::Duration::from_secs(24 * 3600),
        outcome_grace: std::time::Duration::from_secs(2 * 3600),
        retention: Arc::default(),
    });
    let request = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let response = router(state).oneshot(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    parse_metrics(std::str::from_utf8(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_run_twice_queues_each_notice_once_on_sqlite() {
    a_tick_run_twice_queues_each_notice_once(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_run_twice_queues_each_notice_once_on_postgres() {
    a_tick_run_twice_queues_each_notice_once(postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_sharing_one_postgres_ledger_queue_each_notice_once() {
    let test = postgres().await;
    portfolio(&test.store).await;
    let (_dir, strategies) = daily_calls();
    // Two daemons: two connection pools to one ledger, ticking at the same moment.
    let other = Store::open(&test.url).await.unwrap();
    let first = scheduler(&test.store, &strategies, "2026-04-07T11:58:00Z");
    let second = scheduler(&other, &strategies, "2026-04-07T11:58:00Z");
    let (a, b) = tokio::join!(first.tick(), second.tick());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.queued + b.queued, 3, "{a:?} {b:?}");
    // The partitions are split: every consumer planned once between the two.
    assert_eq!(a.partitions + b.partitions, 64, "{a:?} {b:?}");
    assert_eq!(a.consumers + b.consumers, 4, "{a:?} {b:?}");
    assert_eq!(a.failed + b.failed, 0, "{a:?} {b:?}");
    assert_eq!(
        notice_keys(&test.store).await,
        ["T-1 contact.due", "T-2 contact.due", "T-3 contact.due"]
    );
}

// --- GET /v1/accounts/{id}/plan ---------------------------------------------------------

async fn get(state: &AppState, token: &str, uri: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_route_shows_what_is_planned_next_and_why() {
    // The clock of `app_state`: 2026-04-07T14:00:00Z, 10:00 in New York.
    let (state, _test) = app_state(false).await;
    let key = dunner::auth::issue();
    dunner::service::add_api_key(
        &state.store,
        &key,
        "reader",
        &[dunner::auth::Scope::Decide],
        at("2026-01-01T00:00:00Z"),
    )
    .await
    .unwrap();
    let token = key.token;
    let now = at("2026-04-07T14:00:00Z");
    let mut oregon = new_yorker("P-OR");
    oregon.consumer.address = serde_json::from_value(json!({"state": "OR"})).unwrap();
    state
        .store
        .put_accounts(&[new_yorker("P-1"), new_yorker("P-HOLD"), oregon], now)
        .await
        .unwrap();
    let cease = event(
        json!({"at": "2026-04-06T15:00:00Z", "type": "flag_set", "flag": "cease_and_desist"}),
    );
    dunner::service::append_event(&state.store, "P-HOLD", &cease, now)
        .await
        .unwrap();

    // No strategy configured: nothing to plan with.
    let (status, body) = get(&state, &token, "/v1/accounts/P-1/plan").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("[scheduler] strategies"),
        "{body}"
    );

    let (_dir, strategies) = daily_calls();
    let state = AppState::new(SharedState {
        strategies,
        ..(*state).clone()
    });
    let (status, body) = get(&state, &token, "/v1/accounts/P-1/plan?days=3").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["strategy"]["id"], "daily-calls");
    assert_eq!(body["policy_digest"], SHIPPED.digest());
    assert_eq!(body["days"], 3);
    assert_eq!(body["scheduler_enabled"], true);
    let plan = &body["plan"];
    assert_eq!(plan["first_day"], "2026-04-07");
    assert_eq!(plan["last_day"], "2026-04-09");
    let items = plan["items"].as_array().unwrap();
    // A call a day, the first now (10:00 in New York is inside the window), each with
    // the decision that allows it.
    let times: Vec<&str> = items.iter().map(|i| i["at"].as_str().unwrap()).collect();
    assert_eq!(
        times,
        [
            "2026-04-07T14:00:00Z",
            "2026-04-08T12:00:00Z",
            "2026-04-09T12:00:00Z"
        ]
    );
    assert!(
        items
            .iter()
            .all(|i| i["decision"]["allowed"] == true && i["dispatch"]["event"] == "contact.due")
    );
    assert_eq!(items[0]["contact_point"], "+12125550100");

    // On hold: nothing placed, and the reasons say why.
    let (status, body) = get(&state, &token, "/v1/accounts/P-HOLD/plan?days=1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["plan"]["holds"], json!(["cease_and_desist"]));
    assert_eq!(body["plan"]["items"], json!([]));
    let unplaced = &body["plan"]["unplaced"][0];
    assert_eq!(unplaced["outcome"], "stop");
    assert!(
        unplaced["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == "reg-f.cease-communication"),
        "{unplaced}"
    );

    // Out of every segment, unknown, or a bad number of days.
    let (status, body) = get(&state, &token, "/v1/accounts/P-OR/plan").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("`daily-calls`"),
        "{body}"
    );
    let (status, _) = get(&state, &token, "/v1/accounts/nobody/plan").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for days in ["0", "32"] {
        let (status, body) = get(
            &state,
            &token,
            &format!("/v1/accounts/P-1/plan?days={days}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["field"], "days");
    }
    let (status, _) = get(&state, "dunner_x_y", "/v1/accounts/P-1/plan").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

// --- the real daemon ---------------------------------------------------------------------

/// Spawns `dunner serve` on port 0 with its clock started at `clock_start`.
#[expect(
    clippy::zombie_processes,
    reason = "the test stops the daemon and waits for it"
)]
fn spawn_daemon_at(
    database: &str,
    config: &Path,
    clock_start: &str,
) -> (std::process::Child, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dunner"))
        .args(["--config", config.to_str().unwrap()])
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            database,
            "--rules",
            "rules",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DUNNER_LOG", "warn")
        .env("DUNNER_CLOCK_START", clock_start)
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
            std::thread::spawn(move || {
                for line in stderr.lines().map_while(Result::ok) {
                    eprintln!("daemon: {line}");
                }
            });
            return (child, address);
        }
    }
}

/// Kills the daemon when the test fails before stopping it.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The daemon's clock as the webhooks it sent say it (their `webhook-timestamp`).
fn sent_at(request: &crate::helpers::Recorded) -> DateTime<Utc> {
    let seconds: i64 = request.header("webhook-timestamp").parse().unwrap();
    DateTime::from_timestamp(seconds, 0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_daemon_sends_contact_due_at_the_window_opening_within_the_caps_and_never_under_a_hold()
{
    let receiver = TestReceiver::answering(204).await;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("dunner.db").display());
    let strategy = strategy_file(dir.path(), "daily.toml", DAILY_CALLS);
    let config = dir.path().join("dunner.toml");
    std::fs::write(
        &config,
        format!(
            "[[webhooks]]\nname = \"dialer\"\nurl = \"http://{}/hooks\"\nsecret = \"{SECRET}\"\nevent_types = [\"contact.due\"]\n\n[scheduler]\nenabled = true\nstrategies = [\"{}\"]\ninterval = \"1s\"\nlookahead = \"30s\"\n",
            receiver.address(),
            strategy.display()
        ),
    )
    .unwrap();
    // The portfolio, written before the daemon starts: one account free to call at
    // 08:00 in New York, one under a cease-and-desist, one whose seven calls in seven
    // days leave nothing until tomorrow.
    let opening = at("2026-04-07T12:00:00Z");
    {
        let store = Store::open(&database).await.unwrap();
        store.migrate().await.unwrap();
        let now = at("2026-04-07T11:00:00Z");
        store
            .put_accounts(
                &[
                    new_yorker("E-OPEN"),
                    new_yorker("E-HOLD"),
                    new_yorker("E-CAPPED"),
                ],
                now,
            )
            .await
            .unwrap();
        let cease = event(
            json!({"at": "2026-04-06T15:00:00Z", "type": "flag_set", "flag": "cease_and_desist"}),
        );
        dunner::service::append_event(&store, "E-HOLD", &cease, now)
            .await
            .unwrap();
        for at in [
            "2026-04-01T14:00:00Z",
            "2026-04-01T18:00:00Z",
            "2026-04-02T14:00:00Z",
            "2026-04-03T14:00:00Z",
            "2026-04-04T14:00:00Z",
            "2026-04-05T14:00:00Z",
            "2026-04-06T14:00:00Z",
        ] {
            let call = event(
                json!({"at": at, "channel": "call", "outcome": "no_answer", "contact_point": "+12125550100"}),
            );
            dunner::service::append_event(&store, "E-CAPPED", &call, now)
                .await
                .unwrap();
        }
    }
    let token = tokio::task::block_in_place(|| create_key(&database, &["decide"]));
    // 07:59:54 in New York: the window opens six seconds after the daemon starts (a
    // margin for a slow start: the first tick must come before the opening).
    let (daemon, address) = spawn_daemon_at(&database, &config, "2026-04-07T11:59:54Z");
    let mut daemon = KillOnDrop(Some(daemon));

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while receiver.requests().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!receiver.requests().is_empty(), "a contact.due arrived");
    // Let the daemon tick several more times past the delivery.
    let first = receiver.requests()[0].clone();
    while sent_at(&first) + chrono::TimeDelta::seconds(4) > daemon_now(&address, &token) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "one contact.due, however many ticks ran");
    let request = &requests[0];
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["type"], "contact.due");
    assert_eq!(body["data"]["account_id"], "E-OPEN");
    assert_eq!(body["data"]["data"]["planned_at"], "2026-04-07T12:00:00Z");
    assert_eq!(body["data"]["data"]["contact_point"], "+12125550100");
    assert_eq!(body["data"]["data"]["step"], "morning-call");
    // Not before the window opens, by the daemon's clock, and signed.
    let sent = sent_at(request);
    assert!(
        sent >= opening,
        "sent at {sent}, the window opens at {opening}"
    );
    let stamped: DateTime<Utc> = body["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(stamped >= opening, "{stamped}");
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let headers = SignedHeaders {
        id: request.header("webhook-id"),
        timestamp: request.header("webhook-timestamp"),
        signature: request.header("webhook-signature"),
    };
    verify(&secret, headers, &request.body, sent).unwrap();

    let (status, notices) = http(&address, &token, "GET", "/v1/notices?limit=100", "");
    assert_eq!(status, 200, "{notices}");
    let notices: Value = serde_json::from_str(&notices).unwrap();
    let notices = notices.as_array().unwrap();
    assert_eq!(
        notices.len(),
        1,
        "nothing for the held or capped accounts: {notices:?}"
    );
    assert_eq!(notices[0]["id"], request.header("webhook-id"));
    assert_eq!(notices[0]["status"], "delivered");

    let (_, metrics) = http(&address, "", "GET", "/metrics", "");
    let metrics = parse_metrics(&metrics);
    assert!(
        metrics[r#"dunner_scheduler_ticks_total{result="ok"}"#] >= 4.0,
        "{metrics:?}"
    );
    assert_eq!(
        metrics[r#"dunner_scheduler_notices_total{kind="contact.due",outcome="queued"}"#],
        1.0
    );

    // Delivered, so today's call is done: the plan's next one is tomorrow at 08:00.
    let (status, plan) = http(
        &address,
        &token,
        "GET",
        "/v1/accounts/E-OPEN/plan?days=2",
        "",
    );
    assert_eq!(status, 200, "{plan}");
    let plan: Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(
        plan["plan"]["items"][0]["at"], "2026-04-08T12:00:00Z",
        "{plan}"
    );

    let mut stopped = daemon.0.take().unwrap();
    signal(&stopped, "-TERM");
    assert_eq!(stopped.wait().unwrap().code(), Some(0));
}

/// The daemon's "now", read from the `from` of a plan it computes.
fn daemon_now(address: &str, token: &str) -> DateTime<Utc> {
    let (_, plan) = http(address, token, "GET", "/v1/accounts/E-OPEN/plan?days=1", "");
    let plan: Value = serde_json::from_str(&plan).unwrap();
    plan["from"].as_str().unwrap().parse().unwrap()
}

#[test]
fn a_bad_strategy_or_a_missing_template_stops_the_daemon_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("dunner.db").display());
    let broken = strategy_file(
        dir.path(),
        "broken.toml",
        &DAILY_CALLS.replace("channel = \"call\"", "channel = \"cal\""),
    );
    let config = dir.path().join("dunner.toml");
    std::fs::write(
        &config,
        format!("[scheduler]\nstrategies = [\"{}\"]\n", broken.display()),
    )
    .unwrap();
    let output = crate::helpers::dunner(
        &[
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &database,
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("broken.toml:12:11"),
        "file:line:column: {stderr}"
    );
    assert!(stderr.contains("did you mean `call`"), "{stderr}");

    // The scheduler on without a strategy.
    std::fs::write(&config, "[scheduler]\nenabled = true\n").unwrap();
    let output = crate::helpers::dunner(
        &[
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &database,
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("names no strategy file"), "{stderr}");

    // An email step whose template does not exist, with the scheduler on.
    let emails = strategy_file(
        dir.path(),
        "emails.toml",
        &format!(
            "{DAILY_CALLS}\n[[step]]\nid = \"letter-email\"\nchannel = \"email\"\npurpose = \"remedy_notice\"\ntemplate = \"remedy_notice\"\non_day = 0\n"
        ),
    );
    std::fs::write(
        &config,
        format!(
            "[scheduler]\nenabled = true\nstrategies = [\"{}\"]\n",
            emails.display()
        ),
    )
    .unwrap();
    let output = crate::helpers::dunner(
        &[
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &database,
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("step `letter-email` sends the email template `remedy_notice`, which is not under templates"),
        "{stderr}"
    );

    // The shipped standard strategy needs `validation_notice_url` for its validation email.
    let standard = Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies/standard-consumer.toml");
    std::fs::write(
        &config,
        format!(
            "[scheduler]\nenabled = true\nstrategies = [\"{}\"]\n",
            standard.display()
        ),
    )
    .unwrap();
    let output = crate::helpers::dunner(
        &[
            "--config",
            config.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &database,
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("validation_notice_url"), "{stderr}");
    assert!(stderr.contains("[scheduler.email_data]"), "{stderr}");
}

/// The claims of the ticks that are complete (every partition planned): slot → (the
/// consumers planned, the owners that planned them).
async fn complete_slots(pool: &sqlx::PgPool) -> BTreeMap<i64, (i64, BTreeSet<String>)> {
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT slot, planned, owner FROM scheduler_claims WHERE slot IN
           (SELECT slot FROM scheduler_claims GROUP BY slot HAVING count(done_at) = 64)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut slots: BTreeMap<i64, (i64, BTreeSet<String>)> = BTreeMap::new();
    for (slot, planned, owner) in rows {
        let entry = slots.entry(slot).or_default();
        entry.0 += planned;
        entry.1.insert(owner);
    }
    slots
}

/// Three real daemons on one PostgreSQL ledger split each tick's partitions, so every
/// consumer is planned once per tick between them; one killed with SIGKILL loses its
/// share to the other two from the next tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_daemons_plan_each_consumer_once_per_tick_and_survive_a_kill() {
    let test = postgres().await;
    let consumers = 120;
    let accounts: Vec<Account> = (0..consumers)
        .map(|i| new_yorker(&format!("M-{i:03}")))
        .collect();
    test.store
        .put_accounts(&accounts, SystemClock.now())
        .await
        .unwrap();
    let receiver = TestReceiver::answering(204).await;
    let dir = tempfile::tempdir().unwrap();
    let strategy = strategy_file(dir.path(), "daily.toml", DAILY_CALLS);
    let config = dir.path().join("dunner.toml");
    std::fs::write(
        &config,
        format!(
            "[[webhooks]]\nname = \"dialer\"\nurl = \"http://{}/hooks\"\nsecret = \"{SECRET}\"\nevent_types = [\"contact.due\"]\n\n[scheduler]\nenabled = true\nstrategies = [\"{}\"]\ninterval = \"1s\"\nlookahead = \"1s\"\n",
            receiver.address(),
            strategy.display()
        ),
    )
    .unwrap();
    let start = || {
        SystemClock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let mut daemons: Vec<(KillOnDrop, String, u32)> = (0..3)
        .map(|_| {
            let (child, address) = spawn_daemon_at(&test.url, &config, &start());
            let pid = child.id();
            (KillOnDrop(Some(child)), address, pid)
        })
        .collect();
    let pool = sqlx::PgPool::connect(&test.url).await.unwrap();
    let owner_pid = |owner: &str| owner.split('@').next().unwrap_or_default().to_string();

    // Wait for three complete ticks after the three daemons are up.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut slots = complete_slots(&pool).await;
    while slots.len() < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        slots = complete_slots(&pool).await;
    }
    assert!(slots.len() >= 4, "complete ticks: {slots:?}");
    for (slot, (planned, _)) in &slots {
        assert_eq!(*planned, consumers, "tick {slot}: each consumer once");
    }
    let owners: BTreeSet<String> = slots
        .values()
        .flat_map(|(_, owners)| owners.iter().map(|o| owner_pid(o)))
        .collect();
    assert!(owners.len() >= 2, "the work is split: {owners:?}");
    let mut counted = 0.0;
    for (_, address, _) in &daemons {
        let (_, metrics) = http(address, "", "GET", "/metrics", "");
        counted += parse_metrics(&metrics)["dunner_scheduler_consumers_planned_total"];
    }
    assert!(
        counted >= 4.0 * consumers as f64,
        "counted in /metrics: {counted}"
    );

    // SIGKILL one daemon in the middle of its work.
    let (mut killed, _, killed_pid) = daemons.remove(0);
    let mut child = killed.0.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = SystemClock.now().timestamp();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let after_kill = |slots: &BTreeMap<i64, (i64, BTreeSet<String>)>| {
        slots
            .iter()
            .filter(|(slot, _)| **slot > killed_at + 1)
            .map(|(slot, entry)| (*slot, entry.clone()))
            .collect::<Vec<_>>()
    };
    let mut later = after_kill(&complete_slots(&pool).await);
    while later.len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        later = after_kill(&complete_slots(&pool).await);
    }
    assert!(later.len() >= 3, "ticks go on after the kill: {later:?}");
    for (slot, (planned, owners)) in &later {
        assert_eq!(*planned, consumers, "tick {slot}: each consumer once");
        assert!(
            owners
                .iter()
                .all(|owner| owner_pid(owner) != killed_pid.to_string()),
            "tick {slot} planned by the survivors only: {owners:?}"
        );
    }
    for (mut daemon, _, _) in daemons {
        let child = daemon.0.take().unwrap();
        signal(&child, "-TERM");
        let mut child = child;
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
}

/// The console's overview says when the last tick ended and whether it succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_tick_is_remembered_for_the_console() {
    let test = sqlite().await;
    portfolio(&test.store).await;
    let (_dir, strategies) = daily_calls();
    let scheduler = scheduler(&test.store, &strategies, "2026-04-07T11:58:00Z");
    let metrics = Arc::clone(&scheduler.metrics);
    assert_eq!(metrics.last_scheduler_tick(), None);
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = Arc::clone(&stop);
    let running = tokio::spawn(scheduler.run(async move { stopped.notified().await }));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while metrics.last_scheduler_tick().is_none() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.notify_one();
    running.await.unwrap();
    assert_eq!(
        metrics.last_scheduler_tick(),
        Some((at("2026-04-07T11:58:00Z"), true))
    );
}

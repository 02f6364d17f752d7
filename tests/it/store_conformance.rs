//! One conformance suite, run against both backends: a temporary SQLite file and a
//! fresh schema on the PostgreSQL server at 127.0.0.1:5432 (`DUNNER_TEST_POSTGRES_URL`
//! overrides `postgres://postgres@127.0.0.1:5432/test`).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use dunner::domain::{
    Account, Channel, Event, EventType, InitiatedBy, LedgerEvent, OptOut, Outcome,
};
use dunner::service::ServiceError;
use dunner::store::{
    Attempt, EventQuery, NoticeRequest, NoticeStatus, NoticeUpdate, PostgresStore, Store,
    StoreError, StoreOptions,
};
use sqlx::Connection;
use sqlx::postgres::PgConnectOptions;

use crate::helpers::{NOON_ONLY, SHIPPED, SHIPPED_SHARED, shipped_with};

/// A store and what it cleans up: the temporary directory of a SQLite file, or the
/// PostgreSQL schema made for the test.
pub struct TestStore {
    pub store: Store,
    /// The URL that opens this store, for a daemon (a PostgreSQL URL carries the
    /// schema as `options=-csearch_path=…`).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(PgConnectOptions, String)>,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let Some((options, schema)) = self.schema.take() else {
            return;
        };
        // Drop runs inside the test's runtime; a thread with its own runtime may block.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut connection) = sqlx::PgConnection::connect_with(&options).await {
                    let drop_schema = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    let _ =
                        sqlx::Executor::execute(&mut connection, sqlx::AssertSqlSafe(drop_schema))
                            .await;
                }
            });
        })
        .join();
    }
}

pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("dunner.db").display());
    let store = Store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    TestStore {
        store,
        url,
        _dir: Some(dir),
        schema: None,
    }
}

pub async fn postgres() -> TestStore {
    let url = std::env::var("DUNNER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let schema = format!("dunner_test_{}", uuid::Uuid::now_v7().simple());
    let options: PgConnectOptions = url.parse().unwrap();
    let mut connection = sqlx::PgConnection::connect_with(&options).await.expect(
        "PostgreSQL at DUNNER_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test)",
    );
    sqlx::Executor::execute(
        &mut connection,
        sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")),
    )
    .await
    .unwrap();
    let store = Store::Postgres(
        PostgresStore::connect(
            options.clone().options([("search_path", schema.as_str())]),
            &StoreOptions::default(),
        )
        .await
        .unwrap(),
    );
    store.migrate().await.unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    TestStore {
        store,
        url: format!("{url}{separator}options=-csearch_path%3D{schema}"),
        _dir: None,
        schema: Some((options, schema)),
    }
}

fn now() -> DateTime<Utc> {
    "2026-04-07T16:00:00Z".parse().unwrap()
}

fn account(id: &str) -> Account {
    serde_json::from_str(&format!(
        r#"{{"id": "{id}", "consumer": {{"address": {{"state": "NY", "city": "Albany"}}, "time_zones": ["America/New_York"],
             "phones": [{{"number": "+12125550100", "kind": "mobile"}}]}}}}"#
    ))
    .unwrap()
}

fn call(account_id: &str, at: &str) -> Attempt {
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

fn voicemail(at: DateTime<Utc>) -> Event {
    Event {
        at,
        event_type: EventType::Contact,
        channel: Channel::Call,
        outcome: Some(Outcome::Voicemail),
        initiated_by: InitiatedBy::Collector,
        contact_point: Some("+12125550100".into()),
        account_id: None,
        purpose: None,
    }
}

/// A burst of attempts the SQLite writer takes as one group (several accounts, a repeated
/// idempotency key, a key reused with another request, an unknown account, calls past
/// the cap) answers and writes what the same attempts recorded one by one do: the same
/// number allowed per account, one write per key, the same errors, intact chains.
async fn a_burst_of_mixed_attempts_writes_what_one_by_one_recording_does(test: TestStore) {
    use dunner::store::IdempotencyKey;
    let store = Arc::new(test.store.clone());
    let keyed = |attempt: Attempt, key: &str, hash: &str| Attempt {
        idempotency: Some(IdempotencyKey {
            key: key.into(),
            request_hash: hash.into(),
            since: now() - Duration::days(1),
        }),
        ..attempt
    };
    // The attempts of one run, on accounts `{prefix}-1` and `{prefix}-2`: ten calls each
    // (the Reg F cap lets 7 through), a key sent twice alike, a key sent with another
    // request, and an account that does not exist.
    let attempts = |prefix: &str| {
        let mut attempts = Vec::new();
        for i in 0..10 {
            for n in 1..=2 {
                attempts.push(call(
                    &format!("{prefix}-{n}"),
                    &format!("2026-04-07T14:{:02}:00Z", i),
                ));
            }
        }
        let same = call(&format!("{prefix}-1"), "2026-04-07T15:00:00Z");
        attempts.push(keyed(same.clone(), &format!("{prefix}-k1"), "h1"));
        attempts.push(keyed(same, &format!("{prefix}-k1"), "h1"));
        let other = call(&format!("{prefix}-2"), "2026-04-07T15:01:00Z");
        attempts.push(keyed(other.clone(), &format!("{prefix}-k2"), "h2"));
        attempts.push(keyed(other, &format!("{prefix}-k2"), "h2-other"));
        attempts.push(call(&format!("{prefix}-ghost"), "2026-04-07T14:00:00Z"));
        attempts
    };
    for id in ["S-1", "S-2", "B-1", "B-2"] {
        store.put_account(&account(id), now()).await.unwrap();
    }
    let mut one_by_one = Vec::new();
    for attempt in attempts("S") {
        one_by_one.push(
            dunner::service::check_and_record(&store, &SHIPPED_SHARED, &attempt, now()).await,
        );
    }
    let mut tasks = Vec::new();
    for attempt in attempts("B") {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            dunner::service::check_and_record(&store, &SHIPPED_SHARED, &attempt, now()).await
        }));
    }
    let mut burst = Vec::new();
    for task in tasks {
        burst.push(task.await.unwrap());
    }
    // What a run did, without the ids and the order racing callers were taken in.
    #[derive(Debug, PartialEq)]
    struct Tally {
        recorded: usize,
        refused: usize,
        replayed: usize,
        mismatched: usize,
        unknown: usize,
        other_errors: Vec<String>,
    }
    let tally = |results: &[Result<dunner::service::Recorded, ServiceError>]| {
        let mut tally = Tally {
            recorded: 0,
            refused: 0,
            replayed: 0,
            mismatched: 0,
            unknown: 0,
            other_errors: Vec::new(),
        };
        for result in results {
            match result {
                Ok(recorded) if recorded.replayed => tally.replayed += 1,
                Ok(recorded) if recorded.event_id.is_some() => tally.recorded += 1,
                Ok(_) => tally.refused += 1,
                Err(ServiceError::Store(StoreError::IdempotencyMismatch(_))) => {
                    tally.mismatched += 1;
                }
                Err(ServiceError::Store(StoreError::AccountNotFound(_))) => tally.unknown += 1,
                Err(error) => tally.other_errors.push(error.to_string()),
            }
        }
        tally
    };
    let expected = Tally {
        // 7 calls per account in the rolling week; the keyed ones come on top, refused.
        recorded: 14,
        refused: 6 + 2,
        replayed: 1,
        mismatched: 1,
        unknown: 1,
        other_errors: Vec::new(),
    };
    assert_eq!(tally(&one_by_one), expected);
    assert_eq!(tally(&burst), expected);
    // The replay answers the first request's decision, not a new one.
    let replays: Vec<_> = burst
        .iter()
        .flatten()
        .filter(|recorded| recorded.replayed)
        .collect();
    assert!(
        burst
            .iter()
            .flatten()
            .any(|r| !r.replayed && r.decision_id == replays[0].decision_id)
    );
    for prefix in ["S", "B"] {
        for (n, decisions) in [(1, 11), (2, 11)] {
            let id = format!("{prefix}-{n}");
            let events = store
                .list_events(&id, &EventQuery::default())
                .await
                .unwrap();
            assert_eq!(events.len(), 7, "{id}");
            let logged = dunner::service::list_decisions(&store, &id, 100)
                .await
                .unwrap();
            assert_eq!(
                logged.len(),
                decisions,
                "{id}: one decision per write, none per replay"
            );
        }
    }
    assert!(
        dunner::audit::verify::verify(&store)
            .await
            .unwrap()
            .intact()
    );
}

async fn migrations_are_idempotent(test: TestStore) {
    test.store.migrate().await.unwrap();
    test.store.migrate().await.unwrap();
}

async fn accounts_round_trip_and_are_replaced(test: TestStore) {
    let store = &test.store;
    assert_eq!(store.get_account("A-1").await.unwrap(), None);
    let mut first = account("A-1");
    store.put_account(&first, now()).await.unwrap();
    assert_eq!(store.get_account("A-1").await.unwrap(), Some(first.clone()));
    first.flags.cease_and_desist = true;
    store.put_account(&first, now()).await.unwrap();
    assert_eq!(store.get_account("A-1").await.unwrap(), Some(first));
}

async fn events_append_list_filter_and_page(test: TestStore) {
    let store = &test.store;
    let missing =
        dunner::service::append_event(store, "nobody", &voicemail(now()).into(), now()).await;
    assert!(
        matches!(missing, Err(ServiceError::Store(StoreError::AccountNotFound(ref id))) if id == "nobody"),
        "{missing:?}"
    );
    store.put_account(&account("A-2"), now()).await.unwrap();
    let base: DateTime<Utc> = "2026-04-01T15:00:00Z".parse().unwrap();
    let mut ids = Vec::new();
    for day in 0..5 {
        ids.push(
            dunner::service::append_event(
                store,
                "A-2",
                &voicemail(base + Duration::days(day)).into(),
                now(),
            )
            .await
            .unwrap(),
        );
    }
    let all = store
        .list_events("A-2", &EventQuery::default())
        .await
        .unwrap();
    assert_eq!(all.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), ids);
    assert_eq!(all[0].event, voicemail(base).into());
    let window = EventQuery {
        since: Some(base + Duration::days(1)),
        until: Some(base + Duration::days(3)),
        ..EventQuery::default()
    };
    assert_eq!(store.list_events("A-2", &window).await.unwrap().len(), 2);
    let first_page = store
        .list_events(
            "A-2",
            &EventQuery {
                limit: Some(2),
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    let second_page = store
        .list_events(
            "A-2",
            &EventQuery {
                limit: Some(2),
                after_seq: Some(first_page[1].seq),
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first_page.len(), 2);
    assert_eq!(second_page[0].id, ids[2]);
}

async fn check_and_record_records_allowed_attempts_and_logs_every_decision(test: TestStore) {
    let store = &test.store;
    store.put_account(&account("A-3"), now()).await.unwrap();
    // 07:00 EDT: refused, nothing recorded.
    let early = dunner::service::check_and_record(
        store,
        &SHIPPED_SHARED,
        &call("A-3", "2026-04-07T11:00:00Z"),
        now(),
    )
    .await
    .unwrap();
    assert!(!early.decision.allowed && early.event_id.is_none());
    assert_eq!(
        early.decision.next_allowed_at.unwrap().to_rfc3339(),
        "2026-04-07T12:00:00+00:00"
    );
    // 10:00 EDT: allowed and recorded.
    let recorded = dunner::service::check_and_record(
        store,
        &SHIPPED_SHARED,
        &call("A-3", "2026-04-07T14:00:00Z"),
        now(),
    )
    .await
    .unwrap();
    assert!(recorded.decision.allowed);
    let events = store
        .list_events("A-3", &EventQuery::default())
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(Some(events[0].id.clone()), recorded.event_id);
    assert_eq!(events[0].event.outcome, Some(Outcome::NoAnswer));
    let log = dunner::service::list_decisions(store, "A-3", 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].id, early.decision_id);
    assert_eq!(log[0].decision, early.decision);
    assert_eq!(log[1].question, call("A-3", "2026-04-07T14:00:00Z"));
    // The exact pack texts behind the digest are kept.
    let sources = store
        .policy_sources(SHIPPED.digest())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sources.len(), SHIPPED.sources().len());
    assert!(
        sources
            .iter()
            .any(|(name, text)| name.ends_with("us-federal.toml")
                && text.contains("reg-f.call-frequency"))
    );
}

async fn the_eighth_call_in_seven_days_is_refused_and_not_recorded(test: TestStore) {
    let store = &test.store;
    store.put_account(&account("A-4"), now()).await.unwrap();
    for hour in 0..7 {
        let at = format!("2026-04-07T{:02}:00:00Z", 13 + hour);
        assert!(
            dunner::service::check_and_record(store, &SHIPPED_SHARED, &call("A-4", &at), now())
                .await
                .unwrap()
                .decision
                .allowed,
            "call {hour}"
        );
    }
    let eighth = dunner::service::check_and_record(
        store,
        &SHIPPED_SHARED,
        &call("A-4", "2026-04-08T13:00:00Z"),
        now(),
    )
    .await
    .unwrap();
    assert!(!eighth.decision.allowed);
    assert_eq!(eighth.decision.reasons[0].rule, "reg-f.call-frequency");
    assert_eq!(
        store
            .list_events("A-4", &EventQuery::default())
            .await
            .unwrap()
            .len(),
        7
    );
}

async fn fifty_concurrent_callers_never_exceed_the_cap(test: TestStore) {
    let store = Arc::new(test.store.clone());
    store.put_account(&account("A-5"), now()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let at = format!("2026-04-07T14:{:02}:00Z", i);
            dunner::service::check_and_record(&store, &SHIPPED_SHARED, &call("A-5", &at), now())
                .await
                .unwrap()
                .decision
                .allowed
        }));
    }
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap() {
            allowed += 1;
        }
    }
    assert_eq!(
        allowed, 7,
        "exactly the Reg F cap of 7 calls may be recorded"
    );
    assert_eq!(
        store
            .list_events("A-5", &EventQuery::default())
            .await
            .unwrap()
            .len(),
        7
    );
    assert_eq!(
        dunner::service::list_decisions(&store, "A-5", 100)
            .await
            .unwrap()
            .len(),
        50
    );
}

async fn an_attempt_for_an_unknown_account_writes_nothing(test: TestStore) {
    let store = &test.store;
    let result = dunner::service::check_and_record(
        store,
        &SHIPPED_SHARED,
        &call("ghost", "2026-04-07T14:00:00Z"),
        now(),
    )
    .await;
    assert!(
        matches!(
            result,
            Err(ServiceError::Store(StoreError::AccountNotFound(_)))
        ),
        "{result:?}"
    );
    assert!(
        dunner::service::list_decisions(store, "ghost", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

fn ledger(json: serde_json::Value) -> LedgerEvent {
    serde_json::from_value(json).unwrap()
}

async fn events_that_change_the_account_keep_it_current(test: TestStore) {
    let store = &test.store;
    let mut placed = account("A-6");
    placed.balance =
        Some(serde_json::from_str(r#"{"amount": "1200.50", "currency": "USD"}"#).unwrap());
    store.put_account(&placed, now()).await.unwrap();
    let call_at = "2026-04-07T14:00:00Z";

    dunner::service::append_event(store, "A-6", &ledger(serde_json::json!({"at": "2026-04-06T10:00:00Z", "type": "flag_set", "flag": "cease_and_desist"})), now())
        .await
        .unwrap();
    let stored = store.get_account("A-6").await.unwrap().unwrap();
    assert!(stored.flags.cease_and_desist);
    let refused =
        dunner::service::check_and_record(store, &SHIPPED_SHARED, &call("A-6", call_at), now())
            .await
            .unwrap();
    assert!(!refused.decision.allowed);
    assert!(
        refused
            .decision
            .reasons
            .iter()
            .any(|r| r.rule.contains("cease")),
        "{:?}",
        refused.decision.reasons
    );

    dunner::service::append_event(store, "A-6", &ledger(serde_json::json!({"at": "2026-04-06T11:00:00Z", "type": "flag_cleared", "flag": "cease_and_desist"})), now())
        .await
        .unwrap();
    dunner::service::append_event(store, "A-6", &ledger(serde_json::json!({"at": "2026-04-06T12:00:00Z", "type": "opted_out", "channel": "email"})), now())
        .await
        .unwrap();
    dunner::service::append_event(store, "A-6", &ledger(serde_json::json!({"at": "2026-04-06T13:00:00Z", "type": "payment_posted", "amount": {"amount": "200.25", "currency": "USD"}})), now())
        .await
        .unwrap();
    let stored = store.get_account("A-6").await.unwrap().unwrap();
    assert!(!stored.flags.cease_and_desist);
    assert_eq!(stored.opted_out, vec![OptOut::Channel(Channel::Email)]);
    assert_eq!(
        stored.balance.as_ref().map(|b| b.amount.to_string()),
        Some("1000.25".to_string())
    );
    let allowed =
        dunner::service::check_and_record(store, &SHIPPED_SHARED, &call("A-6", call_at), now())
            .await
            .unwrap();
    assert!(allowed.decision.allowed, "{:?}", allowed.decision.reasons);
    // Flag and payment entries are in the ledger but are not contacts.
    let events = store
        .list_events("A-6", &EventQuery::default())
        .await
        .unwrap();
    assert_eq!(events.len(), 5);

    // A payment in another currency changes nothing: no event, same balance.
    let wrong = dunner::service::append_event(store, "A-6", &ledger(serde_json::json!({"at": "2026-04-06T14:00:00Z", "type": "payment_posted", "amount": {"amount": "5", "currency": "EUR"}})), now())
        .await;
    assert!(
        matches!(
            wrong,
            Err(ServiceError::Store(StoreError::EventDoesNotApply(_)))
        ),
        "{wrong:?}"
    );
    assert_eq!(
        store
            .list_events("A-6", &EventQuery::default())
            .await
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        store.get_account("A-6").await.unwrap().unwrap().balance,
        stored.balance
    );
}

async fn bulk_upserts_and_imports_are_all_or_nothing(test: TestStore) {
    let store = &test.store;
    let accounts: Vec<Account> = (0..1200).map(|i| account(&format!("B-{i}"))).collect();
    store.put_accounts(&accounts, now()).await.unwrap();
    assert!(store.get_account("B-1199").await.unwrap().is_some());

    let history: Vec<(String, LedgerEvent)> = (0..3)
        .map(|day| {
            ("I-1".to_string(), voicemail("2026-04-03T15:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::days(day)).into())
        })
        .chain([("I-1".to_string(), ledger(serde_json::json!({"at": "2026-04-05T10:00:00Z", "type": "flag_set", "flag": "disputed"})))])
        .collect();
    let written = std::sync::atomic::AtomicU64::new(0);
    let count = |n: u64| {
        written.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };

    // An event of an account that exists nowhere: nothing of the import is written.
    let mut broken = history.clone();
    broken.push(("ghost".to_string(), voicemail(now()).into()));
    let result = dunner::service::import(store, &[account("I-1")], &broken, now(), &count).await;
    assert!(
        matches!(&result, Err(ServiceError::Store(StoreError::AccountNotFound(id))) if id == "ghost"),
        "{result:?}"
    );
    assert!(store.get_account("I-1").await.unwrap().is_none());
    assert_eq!(written.load(std::sync::atomic::Ordering::Relaxed), 0);

    dunner::service::import(store, &[account("I-1")], &history, now(), &count)
        .await
        .unwrap();
    assert_eq!(written.load(std::sync::atomic::Ordering::Relaxed), 5);
    assert!(
        store
            .get_account("I-1")
            .await
            .unwrap()
            .unwrap()
            .flags
            .disputed
    );
    assert_eq!(
        store
            .list_events("I-1", &EventQuery::default())
            .await
            .unwrap()
            .len(),
        4
    );

    // The same placement imported again writes no event twice, and leaves the account as
    // the first import did; two identical entries in one import are both kept.
    let mut twice = history.clone();
    twice.push(twice[0].clone());
    dunner::service::import(
        store,
        &[account("I-2")],
        &twice
            .iter()
            .map(|(_, e)| ("I-2".to_string(), e.clone()))
            .collect::<Vec<_>>(),
        now(),
        &count,
    )
    .await
    .unwrap();
    for _ in 0..2 {
        dunner::service::import(store, &[account("I-1")], &history, now(), &count)
            .await
            .unwrap();
    }
    let again = store
        .list_events("I-1", &EventQuery::default())
        .await
        .unwrap();
    assert_eq!(again.len(), 4, "{again:?}");
    assert!(
        store
            .get_account("I-1")
            .await
            .unwrap()
            .unwrap()
            .flags
            .disputed
    );
    assert_eq!(
        store
            .list_events("I-2", &EventQuery::default())
            .await
            .unwrap()
            .len(),
        5,
        "an entry repeated within one import is a second fact, kept"
    );
    dunner::service::import(
        store,
        &[account("I-2")],
        &twice
            .iter()
            .map(|(_, e)| ("I-2".to_string(), e.clone()))
            .collect::<Vec<_>>(),
        now(),
        &count,
    )
    .await
    .unwrap();
    assert_eq!(
        store
            .list_events("I-2", &EventQuery::default())
            .await
            .unwrap()
            .len(),
        5
    );
}

fn washington_debt(id: &str) -> Account {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "consumer": {"id": "C-77", "address": {"state": "WA"}, "time_zones": ["America/Los_Angeles"],
                     "phones": [{"number": "+15095550123", "kind": "mobile"}]}
    }))
    .unwrap()
}

fn wa_call(account_id: &str, at: &str) -> Attempt {
    Attempt {
        contact_point: Some("+15095550123".into()),
        ..call(account_id, at)
    }
}

async fn caps_per_consumer_count_the_consumers_other_debts(test: TestStore) {
    let store = &test.store;
    store
        .put_accounts(
            &[
                washington_debt("W-1"),
                washington_debt("W-2"),
                account("W-3"),
            ],
            now(),
        )
        .await
        .unwrap();
    // Washington: at most 3 communications with the consumer in any 7 days, all debts.
    for (debt, at) in [
        ("W-1", "2026-04-06T17:00:00Z"),
        ("W-1", "2026-04-07T17:00:00Z"),
        ("W-2", "2026-04-07T18:00:00Z"),
    ] {
        let recorded =
            dunner::service::check_and_record(store, &SHIPPED_SHARED, &wa_call(debt, at), now())
                .await
                .unwrap();
        assert!(
            recorded.decision.allowed,
            "{debt} {at}: {:?}",
            recorded.decision.reasons
        );
    }
    for debt in ["W-1", "W-2"] {
        let refused = dunner::service::check_and_record(
            store,
            &SHIPPED_SHARED,
            &wa_call(debt, "2026-04-08T17:00:00Z"),
            now(),
        )
        .await
        .unwrap();
        assert!(!refused.decision.allowed, "{debt}");
        assert!(
            refused
                .decision
                .reasons
                .iter()
                .any(|r| r.rule == "wa.weekly-communications"),
            "{debt}: {:?}",
            refused.decision.reasons
        );
    }
    // The read path (windows, decisions that record nothing) sees the same history.
    let (_, history) = store
        .account_with_history("W-2", "2026-04-01T00:00:00Z".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(
        history
            .iter()
            .filter(|e| e.account_id.as_deref() == Some("W-1"))
            .count(),
        2
    );
    // An account of another consumer is not affected.
    let other = dunner::service::check_and_record(
        store,
        &SHIPPED_SHARED,
        &call("W-3", "2026-04-08T17:00:00Z"),
        now(),
    )
    .await
    .unwrap();
    assert!(other.decision.allowed, "{:?}", other.decision.reasons);
}

fn notice(json: serde_json::Value) -> NoticeRequest {
    serde_json::from_value(json).unwrap()
}

async fn notices_are_queued_when_the_policy_allows_leased_once_and_finished(test: TestStore) {
    let store = &test.store;
    let mut ny = account("N-1");
    ny.consumer.emails = vec![
        serde_json::from_value(
            serde_json::json!({"address": "pat@example.com", "kind": "personal"}),
        )
        .unwrap(),
    ];
    store
        .put_accounts(&[ny, account("N-2")], now())
        .await
        .unwrap();
    // 16:00Z is noon in New York: an email may go now.
    let email = notice(
        serde_json::json!({"account_id": "N-1", "channel": "email", "template": "payment_reminder", "purpose": "payment_reminder"}),
    );
    let queued =
        dunner::service::enqueue_notice(store, &SHIPPED_SHARED, &email, Some("key-1"), now())
            .await
            .unwrap();
    let first = queued.notice.clone().unwrap();
    assert_eq!(first.status, NoticeStatus::Pending);
    assert_eq!(first.due_at, now());
    assert!(queued.decision.unwrap().allowed);
    assert!(!queued.replayed);
    // The same key again: the same notice, nothing new queued.
    let again =
        dunner::service::enqueue_notice(store, &SHIPPED_SHARED, &email, Some("key-1"), now())
            .await
            .unwrap();
    assert!(again.replayed);
    assert_eq!(again.notice.unwrap().id, first.id);

    // A dialer webhook at 02:00 New York time waits for the call window (08:00 = 12:00Z).
    let night: DateTime<Utc> = "2026-04-08T06:00:00Z".parse().unwrap();
    let due = notice(
        serde_json::json!({"account_id": "N-2", "channel": "webhook", "event_type": "contact.due"}),
    );
    let deferred = dunner::service::enqueue_notice(store, &SHIPPED_SHARED, &due, None, night)
        .await
        .unwrap();
    assert_eq!(
        deferred.notice.unwrap().due_at,
        "2026-04-08T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );

    // A cease-and-desist stops a collection email: nothing queued, the decision says why.
    dunner::service::append_event(store, "N-1", &ledger(serde_json::json!({"at": "2026-04-07T15:00:00Z", "type": "flag_set", "flag": "cease_and_desist"})), now())
        .await
        .unwrap();
    let collection = notice(
        serde_json::json!({"account_id": "N-1", "channel": "email", "template": "collection"}),
    );
    let stopped = dunner::service::enqueue_notice(store, &SHIPPED_SHARED, &collection, None, now())
        .await
        .unwrap();
    assert!(stopped.notice.is_none());
    assert!(!stopped.decision.unwrap().allowed);
    assert_eq!(store.list_notices(None, 100).await.unwrap().len(), 2);

    // Leased once: a second worker at the same moment gets nothing.
    let lease = std::time::Duration::from_secs(60);
    let leased = store.lease_notices(now(), 10, lease).await.unwrap();
    assert_eq!(
        leased.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
        vec![first.id.clone()]
    );
    assert!(
        store
            .lease_notices(now(), 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    // A lease that runs out (the worker died) gives the notice back, same id.
    let later = now() + Duration::seconds(61);
    assert_eq!(
        store.lease_notices(later, 10, lease).await.unwrap()[0].id,
        first.id
    );

    // A failed try: pending again later, with its error; then delivered, with the
    // email in the ledger as a contact.
    let retry_at = now() + Duration::seconds(5);
    store
        .finish_notice(
            &first.id,
            &NoticeUpdate::Reschedule {
                due_at: retry_at,
                attempts: 1,
                error: Some("503".into()),
            },
            now(),
        )
        .await
        .unwrap();
    let pending = store.get_notice(&first.id).await.unwrap().unwrap();
    assert_eq!(
        (
            pending.status,
            pending.attempts,
            pending.due_at,
            pending.last_error.as_deref()
        ),
        (NoticeStatus::Pending, 1, retry_at, Some("503"))
    );
    assert_eq!(store.next_notice_due().await.unwrap(), Some(retry_at));
    let sent = ledger(
        serde_json::json!({"at": "2026-04-07T16:00:05Z", "type": "contact", "channel": "email", "outcome": "sent", "contact_point": "pat@example.com"}),
    );
    store
        .finish_notice(
            &first.id,
            &NoticeUpdate::Delivered {
                account_id: "N-1".into(),
                event: Some(sent.clone()),
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_notice(&first.id).await.unwrap().unwrap().status,
        NoticeStatus::Delivered
    );
    let events = store
        .list_events("N-1", &EventQuery::default())
        .await
        .unwrap();
    assert_eq!(events.last().unwrap().event, sent);

    // Dead letters are listed and can be replayed.
    let webhook_id = store
        .list_notices(Some(NoticeStatus::Pending), 10)
        .await
        .unwrap()[0]
        .id
        .clone();
    store
        .finish_notice(
            &webhook_id,
            &NoticeUpdate::Close {
                status: NoticeStatus::Dead,
                attempts: 8,
                error: "410 Gone".into(),
            },
            now(),
        )
        .await
        .unwrap();
    let dead = store
        .list_notices(Some(NoticeStatus::Dead), 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    let replayed = dunner::service::retry_notice(store, &webhook_id, now())
        .await
        .unwrap();
    assert_eq!(
        (replayed.status, replayed.attempts, replayed.due_at),
        (NoticeStatus::Pending, 0, now())
    );
    // A pending (or delivered) notice is not replayed: it would go out twice.
    assert!(matches!(
        dunner::service::retry_notice(store, &webhook_id, now()).await,
        Err(ServiceError::NotReplayable { .. })
    ));
    assert!(matches!(
        dunner::service::retry_notice(store, "nope", now()).await,
        Err(ServiceError::Store(StoreError::NoticeNotFound(_)))
    ));
}

/// The attempt's lifecycle (README, "Dialled now, outcome later"): dial at 10:00; a
/// second call at 10:00:30 refused while the outcome is pending; outcome "no answer" at
/// 10:01; the next call judged by the 7-in-7 count alone.
async fn an_attempt_without_an_outcome_counts_strictly_until_its_outcome_arrives(test: TestStore) {
    use dunner::service::report_outcome;
    let store = &test.store;
    let grace = std::time::Duration::from_secs(2 * 3600);
    store.put_account(&account("L-1"), now()).await.unwrap();
    let dialled = Attempt {
        outcome: None,
        ..call("L-1", "2026-04-07T14:00:00Z")
    };
    let first = dunner::service::check_and_record(store, &SHIPPED_SHARED, &dialled, now())
        .await
        .unwrap();
    assert!(first.decision.allowed, "{:?}", first.decision);
    let attempt_id = first.event_id.clone().unwrap();
    let logged = dunner::service::list_decisions(store, "L-1", 10)
        .await
        .unwrap();
    assert_eq!(
        logged[0].event_id.as_deref(),
        Some(attempt_id.as_str()),
        "the log links the attempt to the decision that allowed it"
    );

    let pending = Attempt {
        outcome: None,
        ..call("L-1", "2026-04-07T14:00:30Z")
    };
    let refused = dunner::service::check_and_record(store, &SHIPPED_SHARED, &pending, now())
        .await
        .unwrap();
    assert!(
        !refused.decision.allowed,
        "a pending outcome counts as a possible conversation"
    );
    assert!(
        refused
            .decision
            .reasons
            .iter()
            .any(|r| r.rule == "reg-f.after-conversation"),
        "{:?}",
        refused.decision.reasons
    );
    assert_eq!(refused.event_id, None);

    let reported_at: DateTime<Utc> = "2026-04-07T14:01:00Z".parse().unwrap();
    let (outcome_id, replayed) = report_outcome(
        store,
        "L-1",
        &attempt_id,
        Outcome::NoAnswer,
        grace,
        reported_at,
        None,
    )
    .await
    .unwrap();
    assert!(!replayed);
    let next = call("L-1", "2026-04-07T14:02:00Z");
    let allowed = dunner::service::check_and_record(store, &SHIPPED_SHARED, &next, now())
        .await
        .unwrap();
    assert!(allowed.decision.allowed, "{:?}", allowed.decision);
    let known_id = allowed.event_id.clone().unwrap();

    // Append-only: the attempt keeps no outcome of its own; the report is its own entry.
    let events = store.list_events("L-1", &Default::default()).await.unwrap();
    let attempt = events.iter().find(|e| e.id == attempt_id).unwrap();
    assert_eq!(attempt.event.outcome, None);
    let report = events.iter().find(|e| e.id == outcome_id).unwrap();
    assert_eq!(
        report.event.attempt_id.as_deref(),
        Some(attempt_id.as_str())
    );
    assert_eq!(report.event.outcome, Some(Outcome::NoAnswer));

    // A second report, an attempt recorded with its outcome, an unknown attempt, an
    // attempt of another account: refused, nothing written.
    for (account, attempt) in [("L-1", attempt_id.as_str()), ("L-1", known_id.as_str())] {
        let again = report_outcome(
            store,
            account,
            attempt,
            Outcome::Conversation,
            grace,
            reported_at,
            None,
        )
        .await;
        assert!(
            matches!(again, Err(ServiceError::Store(StoreError::OutcomeKnown(_)))),
            "{again:?}"
        );
    }
    store.put_account(&account("L-2"), now()).await.unwrap();
    for (account, attempt) in [("L-1", "no-such-attempt"), ("L-2", known_id.as_str())] {
        let unknown = report_outcome(
            store,
            account,
            attempt,
            Outcome::NoAnswer,
            grace,
            reported_at,
            None,
        )
        .await;
        assert!(
            matches!(
                unknown,
                Err(ServiceError::Store(StoreError::AttemptNotFound { .. }))
            ),
            "{unknown:?}"
        );
    }

    // Past the grace the outcome is refused: the attempt stays counted the strict way.
    let unreported = Attempt {
        outcome: None,
        ..call("L-1", "2026-04-07T14:03:00Z")
    };
    let unreported = dunner::service::check_and_record(store, &SHIPPED_SHARED, &unreported, now())
        .await
        .unwrap();
    let unreported_id = unreported.event_id.unwrap();
    let late = report_outcome(
        store,
        "L-1",
        &unreported_id,
        Outcome::NoAnswer,
        grace,
        "2026-04-07T16:03:01Z".parse().unwrap(),
        None,
    )
    .await;
    assert!(
        matches!(
            late,
            Err(ServiceError::Store(StoreError::OutcomeTooLate { .. }))
        ),
        "{late:?}"
    );
    let in_time = report_outcome(
        store,
        "L-1",
        &unreported_id,
        Outcome::NoAnswer,
        grace,
        "2026-04-07T16:03:00Z".parse().unwrap(),
        None,
    )
    .await;
    assert!(in_time.is_ok(), "{in_time:?}");
    assert_eq!(
        store
            .list_events("L-1", &Default::default())
            .await
            .unwrap()
            .len(),
        events.len() + 2
    );

    // A plain append or an import cannot carry a reported outcome past these checks.
    let sneaked: LedgerEvent = serde_json::from_value(serde_json::json!({
        "at": "2026-04-07T14:05:00Z", "type": "outcome_reported", "attempt_id": known_id, "outcome": "no_answer"
    }))
    .unwrap();
    let appended = dunner::service::append_event(store, "L-1", &sneaked, now()).await;
    assert!(
        matches!(appended, Err(ServiceError::InvalidEvent(ref e)) if e.field == "type"),
        "{appended:?}"
    );
}

/// A courier that takes every notice at once (the send itself is not under test here).
struct Accepting;

impl dunner::dispatch::Courier for Accepting {
    fn deliver<'a>(
        &'a self,
        _notice: &'a dunner::domain::Notice,
        _account: &'a Account,
        _contact_point: Option<&'a str>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = dunner::dispatch::Delivery> + Send + 'a>>
    {
        Box::pin(async { dunner::dispatch::Delivery::Delivered })
    }
}

/// A New York City debt (its SHIELD pack allows 3 contacts in 7 days across calls and
/// emails) with a phone and an email address, consented to by email on 2027-01-04.
async fn nyc_debt_with_email_consent(store: &Store, id: &str, at: DateTime<Utc>) {
    let account: Account = serde_json::from_value(serde_json::json!({
        "id": id,
        "consumer": {"address": {"state": "NY", "city": "New York"}, "time_zones": ["America/New_York"],
                     "phones": [{"number": "+12125550100", "kind": "mobile"}],
                     "emails": [{"address": "alex@example.com", "kind": "personal"}]}
    }))
    .unwrap();
    store.put_account(&account, at).await.unwrap();
    let consent = ledger(
        serde_json::json!({"at": "2027-01-04T15:00:00Z", "type": "consent", "channel": "email"}),
    );
    dunner::service::append_event(store, id, &consent, at)
        .await
        .unwrap();
}

/// Issue 12 part 4: a queued email holds its place in the caps from the moment it is
/// queued, and the send-time check runs under the dialers' lock. New York City allows 3
/// contacts per 7 days across calls and emails: dialers racing a queue of emails (queued
/// and then sent by the outbox worker) record never more than 3.
async fn dialers_and_a_queue_of_emails_never_exceed_a_cross_channel_cap(test: TestStore) {
    let store = test.store.clone();
    // Tuesday 2027-01-12, 10:00 in New York: the SHIELD pack is in force.
    let at: DateTime<Utc> = "2027-01-12T15:00:00Z".parse().unwrap();
    nyc_debt_with_email_consent(&store, "NYC-1", at).await;
    let email = notice(
        serde_json::json!({"account_id": "NYC-1", "channel": "email",
        "template": "payment_reminder", "purpose": "payment_reminder"}),
    );
    let dial = move |store: Store| async move {
        dunner::service::check_and_record(
            &store,
            &SHIPPED_SHARED,
            &call("NYC-1", "2027-01-12T15:00:00Z"),
            at,
        )
        .await
        .unwrap()
        .event_id
        .is_some()
    };
    // One email is queued first; more are queued while dialers call.
    dunner::service::enqueue_notice(&store, &SHIPPED_SHARED, &email, None, at)
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let store = store.clone();
        let email = email.clone();
        tasks.spawn(async move {
            if i % 2 == 0 {
                dunner::service::enqueue_notice(&store, &SHIPPED_SHARED, &email, None, at)
                    .await
                    .unwrap();
                false
            } else {
                dial(store).await
            }
        });
    }
    let mut calls = 0;
    while let Some(done) = tasks.join_next().await {
        calls += usize::from(done.unwrap());
    }
    let queued_now = store
        .list_notices(Some(NoticeStatus::Pending), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.due_at <= at)
        .count();
    assert!(
        calls + queued_now <= 3,
        "{calls} calls and {queued_now} emails due now"
    );
    // The worker sends what is due while more dialers call.
    let policy = Arc::new(dunner::reload::LivePolicy::new(
        &crate::helpers::rules_dir(),
        SHIPPED.clone(),
        at,
    ));
    let outbox = dunner::outbox::Outbox {
        store: store.clone(),
        metrics: Arc::new(dunner::metrics::Metrics::new(&policy)),
        policy,
        clock: Arc::new(dunner::clock::FixedClock(at)),
        schedule: Default::default(),
        couriers: dunner::dispatch::Couriers {
            email: Some(Arc::new(Accepting)),
            webhook: None,
        },
        wake: Arc::default(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        tasks.spawn(dial(store.clone()));
    }
    let worker = outbox.clone();
    tasks.spawn(async move {
        worker.step().await.unwrap();
        false
    });
    while let Some(done) = tasks.join_next().await {
        calls += usize::from(done.unwrap());
    }
    outbox.step().await.unwrap();
    let contacts: Vec<_> = store
        .list_events("NYC-1", &EventQuery::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.event_type == dunner::domain::LedgerEventType::Contact)
        .collect();
    let emails = contacts
        .iter()
        .filter(|e| e.event.channel == Some(Channel::Email))
        .count();
    assert!(
        contacts.len() <= 3,
        "{} contacts recorded: {contacts:?}",
        contacts.len()
    );
    assert_eq!(contacts.len(), calls + emails);
    assert!(emails >= 1, "the email queued first is sent");
    // The emails that did not fit wait for the cap to open; none is lost.
    let notices = store.list_notices(None, 100).await.unwrap();
    assert_eq!(notices.len(), 7);
    assert!(
        notices.iter().all(|n| n.status == NoticeStatus::Delivered
            || (n.status == NoticeStatus::Pending && n.due_at > at)),
        "{notices:#?}"
    );
}

/// The texts behind a digest are stored with the first decision under it, also when the
/// policy is reloaded into a new digest after the store has seen (and cached) the first.
async fn every_new_policy_digest_has_its_texts_kept(test: TestStore) {
    let store = &test.store;
    store.put_account(&account("P-1"), now()).await.unwrap();
    dunner::service::check_and_record(
        store,
        &SHIPPED_SHARED,
        &call("P-1", "2026-04-07T14:00:00Z"),
        now(),
    )
    .await
    .unwrap();
    let reloaded = shipped_with("client-noon.toml", NOON_ONLY);
    assert_ne!(reloaded.digest(), SHIPPED.digest());
    let later = dunner::service::check_and_record(
        store,
        &reloaded,
        &call("P-1", "2026-04-07T16:30:00Z"),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(&*later.decision.policy_digest, reloaded.digest());
    let kept = store
        .policy_sources(reloaded.digest())
        .await
        .unwrap()
        .expect("the reloaded policy's texts are kept");
    assert_eq!(kept.len(), SHIPPED.sources().len() + 1);
    assert!(kept.iter().any(|(name, _)| name == "client-noon.toml"));
    assert!(
        store
            .policy_sources(SHIPPED.digest())
            .await
            .unwrap()
            .is_some()
    );
}

/// A burst of concurrent attempts (decided in batches on PostgreSQL) over many accounts
/// and one consumer with two debts: every cap holds (the same counts as one at a time), repeats of an idempotency key are
/// answered with the first response, and every hash chain verifies.
async fn a_burst_over_many_accounts_keeps_caps_keys_and_chains(test: TestStore) {
    let store = Arc::new(test.store.clone());
    let mut accounts: Vec<Account> = (0..6).map(|i| account(&format!("B-{i}"))).collect();
    accounts.push(washington_debt("W-1"));
    accounts.push(washington_debt("W-2"));
    store.put_accounts(&accounts, now()).await.unwrap();
    let mut tasks = Vec::new();
    for round in 0..10 {
        for i in 0..6 {
            let store = Arc::clone(&store);
            let mut attempt = call(&format!("B-{i}"), &format!("2026-04-07T14:{round:02}:00Z"));
            // Rounds 0 and 1 of B-0 share a key and a request: one recorded, one replayed.
            if i == 0 && round < 2 {
                attempt.at = "2026-04-07T14:00:00Z".parse().unwrap();
                attempt.idempotency = Some(dunner::store::IdempotencyKey {
                    key: "burst-key".into(),
                    request_hash: "same".into(),
                    since: "2026-04-06T16:00:00Z".parse().unwrap(),
                });
            }
            tasks.push(tokio::spawn(async move {
                dunner::service::check_and_record(&store, &SHIPPED_SHARED, &attempt, now())
                    .await
                    .unwrap()
            }));
        }
        let store = Arc::clone(&store);
        let debt = if round % 2 == 0 { "W-1" } else { "W-2" };
        let attempt = wa_call(debt, &format!("2026-04-07T17:{round:02}:00Z"));
        tasks.push(tokio::spawn(async move {
            dunner::service::check_and_record(&store, &SHIPPED_SHARED, &attempt, now())
                .await
                .unwrap()
        }));
    }
    let mut replayed = 0;
    for task in tasks {
        if task.await.unwrap().replayed {
            replayed += 1;
        }
    }
    assert_eq!(
        replayed, 1,
        "the repeated key is answered once from the first"
    );
    for i in 0..6 {
        let events = store
            .list_events(&format!("B-{i}"), &EventQuery::default())
            .await
            .unwrap();
        assert_eq!(events.len(), 7, "B-{i}: the Reg F cap of 7 calls");
    }
    let washington: usize = [
        store
            .list_events("W-1", &EventQuery::default())
            .await
            .unwrap()
            .len(),
        store
            .list_events("W-2", &EventQuery::default())
            .await
            .unwrap()
            .len(),
    ]
    .iter()
    .sum();
    // Both debts are called on one number within a day: Washington's two calls a day
    // to a number bind, across the consumer's debts.
    assert_eq!(
        washington, 2,
        "Washington: 2 calls a day to one number, all debts"
    );
    assert!(
        dunner::audit::verify::verify(&store)
            .await
            .unwrap()
            .intact(),
        "every chain verifies after the burst"
    );
}

/// Keys claimed together: a burst of attempts each with its own idempotency key
/// (decided in batches on PostgreSQL, whose keys are claimed in the batch's one write),
/// then the same burst again. Every first attempt is recorded once, every repeat answers
/// the first response and writes nothing, and a key kept before its `since` (a name
/// free again) is taken afresh rather than replayed.
async fn a_burst_of_keyed_attempts_claims_every_key_once(test: TestStore) {
    use dunner::store::IdempotencyKey;
    let store = Arc::new(test.store.clone());
    let accounts: Vec<Account> = (0..8).map(|i| account(&format!("K-{i}"))).collect();
    store.put_accounts(&accounts, now()).await.unwrap();
    let since = now() - Duration::hours(1);
    // Kept two hours before the burst, so `k-0-0` is free again for it.
    let mut old = call("K-0", "2026-04-07T13:00:00Z");
    old.idempotency = Some(IdempotencyKey {
        key: "k-0-0".into(),
        request_hash: "old".into(),
        since: now() - Duration::days(1),
    });
    let kept = dunner::service::check_and_record(
        &store,
        &SHIPPED_SHARED,
        &old,
        now() - Duration::hours(2),
    )
    .await
    .unwrap();
    assert!(kept.event_id.is_some() && !kept.replayed);
    let burst = |store: &Arc<dunner::store::Store>| {
        let mut tasks = Vec::new();
        for i in 0..8 {
            for round in 0..3 {
                let store = Arc::clone(store);
                let mut attempt = call(&format!("K-{i}"), &format!("2026-04-07T14:{round:02}:00Z"));
                attempt.idempotency = Some(IdempotencyKey {
                    key: format!("k-{i}-{round}"),
                    request_hash: "new".into(),
                    since,
                });
                tasks.push(tokio::spawn(async move {
                    dunner::service::check_and_record(&store, &SHIPPED_SHARED, &attempt, now())
                        .await
                        .unwrap()
                }));
            }
        }
        tasks
    };
    let mut first = Vec::new();
    for task in burst(&store) {
        first.push(task.await.unwrap());
    }
    assert!(
        first.iter().all(|r| r.event_id.is_some() && !r.replayed),
        "every first attempt is recorded, the expired key's too"
    );
    let mut again = Vec::new();
    for task in burst(&store) {
        again.push(task.await.unwrap());
    }
    assert!(again.iter().all(|r| r.replayed), "every repeat is a replay");
    let first_ids: Vec<&str> = first.iter().map(|r| r.decision_id.as_str()).collect();
    let again_ids: Vec<&str> = again.iter().map(|r| r.decision_id.as_str()).collect();
    assert_eq!(
        again_ids, first_ids,
        "each repeat answers its own first response"
    );
    for i in 0..8 {
        let events = store
            .list_events(&format!("K-{i}"), &EventQuery::default())
            .await
            .unwrap();
        let expected = if i == 0 { 4 } else { 3 };
        assert_eq!(events.len(), expected, "K-{i}: one event per key");
    }
    assert!(
        dunner::audit::verify::verify(&store)
            .await
            .unwrap()
            .intact(),
        "every chain verifies"
    );
}

/// The authorizer's key cache (`service::cached_api_key`) over a real ledger: a key is
/// read once and then answered from the cache for at most `KEY_CACHE_TTL`; a revocation
/// made elsewhere takes effect once that has passed, and at once after `forget_all` (a
/// revocation through this daemon); an expiry is never late; an unknown id is not
/// remembered as unknown.
async fn the_key_cache_never_outlives_a_revocation_or_an_expiry(test: TestStore) {
    use dunner::service::{KEY_CACHE_TTL, KeyCache, cached_api_key};
    let store = &test.store;
    let t0 = now();
    let half = KEY_CACHE_TTL / 2;
    let key = dunner::auth::issue();
    let cache = KeyCache::default();
    assert!(
        cached_api_key(store, &cache, &key.id, t0)
            .await
            .unwrap()
            .is_none()
    );
    dunner::service::add_api_key(store, &key, "cached", &[dunner::auth::Scope::Record], t0)
        .await
        .unwrap();
    // Not remembered as unknown: the key is found as soon as it exists.
    let found = cached_api_key(store, &cache, &key.id, t0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.secret_hash, key.secret_hash);
    assert!(store.revoke_api_key(&key.id, t0).await.unwrap());
    // Revoked elsewhere: answered from the cache within the bound, refused after it.
    assert!(
        cached_api_key(store, &cache, &key.id, t0 + half)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        cached_api_key(store, &cache, &key.id, t0 + KEY_CACHE_TTL)
            .await
            .unwrap()
            .is_none()
    );
    // Revoked through this daemon: refused at once.
    let other = dunner::auth::issue();
    dunner::service::add_api_key(store, &other, "other", &[dunner::auth::Scope::Record], t0)
        .await
        .unwrap();
    assert!(
        cached_api_key(store, &cache, &other.id, t0)
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.revoke_api_key(&other.id, t0).await.unwrap());
    cache.forget_all();
    assert!(
        cached_api_key(store, &cache, &other.id, t0)
            .await
            .unwrap()
            .is_none()
    );
    // A key expiring within the bound is not cached past its expiry.
    let brief = dunner::auth::issue();
    dunner::service::add_api_key(store, &brief, "brief", &[dunner::auth::Scope::Record], t0)
        .await
        .unwrap();
    store
        .set_api_key_expiry(&brief.id, Some(t0 + half))
        .await
        .unwrap();
    assert!(
        cached_api_key(store, &cache, &brief.id, t0)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        cached_api_key(store, &cache, &brief.id, t0 + half)
            .await
            .unwrap()
            .is_none()
    );
    // An expiry moved earlier elsewhere after the key was cached: refused within the bound.
    let shortened = dunner::auth::issue();
    dunner::service::add_api_key(
        store,
        &shortened,
        "shortened",
        &[dunner::auth::Scope::Record],
        t0,
    )
    .await
    .unwrap();
    assert!(
        cached_api_key(store, &cache, &shortened.id, t0)
            .await
            .unwrap()
            .is_some()
    );
    store
        .set_api_key_expiry(&shortened.id, Some(t0))
        .await
        .unwrap();
    assert!(
        cached_api_key(store, &cache, &shortened.id, t0 + KEY_CACHE_TTL)
            .await
            .unwrap()
            .is_none()
    );
}

/// The pending notices of the accounts being decided are read with their history by
/// every check-and-record: through an index keyed by account (migration 0016), not by
/// walking every pending notice of the ledger (`notices_by_status`), whose cost grows
/// with the outbox's queue. The read's shape, planned by each store's own planner.
async fn pending_notices_are_read_by_account_through_an_index(test: TestStore) {
    let plan: String = if test.url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(&test.url).await.unwrap();
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "EXPLAIN QUERY PLAN SELECT id, due_at, request FROM notices
              WHERE status = 'pending' AND account_id IN ('A-1', 'A-2')",
        )
        .fetch_all(&mut connection)
        .await
        .unwrap();
        rows.into_iter()
            .map(|row| row.3)
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        let mut connection = sqlx::PgConnection::connect(&test.url).await.unwrap();
        // As check-and-record's transactions plan: no whole-table scans, generic plans.
        let mut tx = connection.begin().await.unwrap();
        sqlx::query("SET LOCAL enable_seqscan = off")
            .execute(&mut *tx)
            .await
            .unwrap();
        let rows: Vec<(String,)> = sqlx::query_as(
            "EXPLAIN SELECT id, due_at, request FROM notices
              WHERE account_id = ANY(ARRAY['A-1', 'A-2']) AND status = 'pending'",
        )
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        rows.into_iter()
            .map(|row| row.0)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        plan.contains("notices_by_account"),
        "the pending notices of two accounts are not read by account:\n{plan}"
    );
}

macro_rules! conformance {
    ($($story:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    super::$story(super::sqlite().await).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    super::$story(super::postgres().await).await;
                }
            )*
        }
    };
}

/// Whatever the check-and-record path keeps between attempts (the SQLite writer keeps
/// each debtor's parsed history), a write through another connection — another store
/// on the same ledger, as another daemon or the pool's imports, account updates and
/// the outbox's notice updates are — is seen by the very next attempt.
async fn writes_through_another_connection_are_seen_by_the_next_attempt(test: TestStore) {
    let store = &test.store;
    let other = Store::open(&test.url).await.unwrap();
    let record = |attempt: Attempt, at: DateTime<Utc>| async move {
        dunner::service::check_and_record(store, &SHIPPED_SHARED, &attempt, at)
            .await
            .unwrap()
    };

    // An event imported elsewhere counts: 5 calls here, 1 there, then the 7th of the
    // week is allowed and the 8th refused.
    store.put_account(&account("X-1"), now()).await.unwrap();
    for minute in 0..5 {
        let at = format!("2026-04-07T14:{minute:02}:00Z");
        assert!(record(call("X-1", &at), now()).await.event_id.is_some());
    }
    let elsewhere = ledger(
        serde_json::json!({"at": "2026-04-07T14:10:00Z", "type": "contact",
        "channel": "call", "outcome": "no_answer", "initiated_by": "collector"}),
    );
    dunner::service::append_event(&other, "X-1", &elsewhere, now())
        .await
        .unwrap();
    assert!(
        record(call("X-1", "2026-04-07T14:20:00Z"), now())
            .await
            .event_id
            .is_some()
    );
    let eighth = record(call("X-1", "2026-04-07T14:21:00Z"), now()).await;
    assert!(
        eighth.event_id.is_none(),
        "the call imported through another connection was not counted: {:?}",
        eighth.decision
    );

    // An account updated elsewhere is decided as it now stands, both ways.
    store.put_account(&account("X-2"), now()).await.unwrap();
    assert!(
        record(call("X-2", "2026-04-07T14:00:00Z"), now())
            .await
            .event_id
            .is_some()
    );
    let mut ceased = account("X-2");
    ceased.flags.cease_and_desist = true;
    other.put_account(&ceased, now()).await.unwrap();
    let refused = record(call("X-2", "2026-04-07T14:01:00Z"), now())
        .await
        .decision;
    let cease = |reason: &dunner::engine::Reason| reason.rule.contains("cease");
    assert!(refused.reasons.iter().any(cease), "{refused:?}");
    other.put_account(&account("X-2"), now()).await.unwrap();
    let allowed = record(call("X-2", "2026-04-07T14:02:00Z"), now()).await;
    assert!(allowed.event_id.is_some(), "{:?}", allowed.decision);

    // A pending email holds its place until it is cancelled elsewhere. New York City
    // allows 3 contacts in 7 days across calls and emails (in force on 2027-01-12).
    let at: DateTime<Utc> = "2027-01-12T15:00:00Z".parse().unwrap();
    nyc_debt_with_email_consent(store, "X-3", at).await;
    let email = notice(serde_json::json!({"account_id": "X-3", "channel": "email",
        "template": "payment_reminder", "purpose": "payment_reminder"}));
    let mut queued = Vec::new();
    for _ in 0..2 {
        let notice = dunner::service::enqueue_notice(store, &SHIPPED_SHARED, &email, None, at)
            .await
            .unwrap()
            .notice
            .unwrap();
        assert_eq!(notice.due_at, at);
        queued.push(notice.id);
    }
    let nyc_call = || call("X-3", "2027-01-12T15:00:00Z");
    assert!(record(nyc_call(), at).await.event_id.is_some());
    assert!(record(nyc_call(), at).await.event_id.is_none());
    for id in &queued {
        let cancel = NoticeUpdate::Close {
            status: NoticeStatus::Cancelled,
            attempts: 0,
            error: "cancelled by hand".into(),
        };
        other.finish_notice(id, &cancel, at).await.unwrap();
    }
    let freed = record(nyc_call(), at).await;
    assert!(
        freed.event_id.is_some(),
        "the cancelled emails still held their places: {:?}",
        freed.decision
    );
}

conformance!(
    pending_notices_are_read_by_account_through_an_index,
    migrations_are_idempotent,
    accounts_round_trip_and_are_replaced,
    events_append_list_filter_and_page,
    check_and_record_records_allowed_attempts_and_logs_every_decision,
    the_eighth_call_in_seven_days_is_refused_and_not_recorded,
    fifty_concurrent_callers_never_exceed_the_cap,
    an_attempt_for_an_unknown_account_writes_nothing,
    events_that_change_the_account_keep_it_current,
    bulk_upserts_and_imports_are_all_or_nothing,
    caps_per_consumer_count_the_consumers_other_debts,
    notices_are_queued_when_the_policy_allows_leased_once_and_finished,
    an_attempt_without_an_outcome_counts_strictly_until_its_outcome_arrives,
    dialers_and_a_queue_of_emails_never_exceed_a_cross_channel_cap,
    a_burst_of_mixed_attempts_writes_what_one_by_one_recording_does,
    every_new_policy_digest_has_its_texts_kept,
    a_burst_over_many_accounts_keeps_caps_keys_and_chains,
    writes_through_another_connection_are_seen_by_the_next_attempt,
    a_burst_of_keyed_attempts_claims_every_key_once,
    the_key_cache_never_outlives_a_revocation_or_an_expiry,
);

/// PostgreSQL only: check-and-record reaches the ledger's rows through its indexes even
/// when its plans were made on empty tables and the server never analyzes them
/// (autovacuum off). A plan that scans the events table whole would read every event of
/// the ledger on every batch, the others' accounts too: once events exist, a scan reads
/// rows, so the table's `seq_tup_read` stays 0 only if no attempt's statement scanned it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn check_and_record_never_scans_the_events_table_on_postgres() {
    let test = postgres().await;
    // A store of its own, so that its connections (the ones that made the plans) end
    // when it is dropped and their statistics reach the server's views.
    let store = Store::open(&test.url).await.unwrap();
    let accounts: Vec<String> = (0..12).map(|i| format!("S-{i}")).collect();
    for id in &accounts {
        store.put_account(&account(id), now()).await.unwrap();
    }
    let mut recorded = 0;
    for minute in 0..4 {
        for id in &accounts {
            let at = format!("2026-04-07T14:{minute:02}:00Z");
            let outcome =
                dunner::service::check_and_record(&store, &SHIPPED_SHARED, &call(id, &at), now())
                    .await
                    .unwrap();
            recorded += usize::from(outcome.event_id.is_some());
        }
    }
    assert!(
        recorded > accounts.len(),
        "only {recorded} calls were recorded"
    );
    drop(store);
    let mut connection = sqlx::PgConnection::connect(&test.url).await.unwrap();
    let mut seen = None;
    for _ in 0..100 {
        let (inserted, scanned): (i64, i64) = sqlx::query_as(
            "SELECT n_tup_ins, seq_tup_read FROM pg_stat_user_tables
              WHERE schemaname = current_schema() AND relname = 'events'",
        )
        .fetch_one(&mut connection)
        .await
        .unwrap();
        if usize::try_from(inserted).unwrap() >= recorded {
            seen = Some(scanned);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let scanned = seen.expect("the store's connections never reported their statistics");
    assert_eq!(scanned, 0, "check-and-record read the events table whole");
}

/// PostgreSQL only: the ledger's connections send each message at once (`TCP_NODELAY`).
/// With Nagle's algorithm on (sqlx 0.9.0 left it on), the part of a message written after
/// the first waited for the server's delayed acknowledgement, up to 40 ms: the writers'
/// batches stalled with the cores idle (two writers recorded 1,000 attempts/s, against
/// 3,000/s with the option set; BENCHMARKS.md, "Issue 15 part 3, 2026-12-06 night").
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_ledgers_connections_to_postgresql_send_without_delay() {
    let test = postgres().await;
    let (options, _) = test.schema.as_ref().unwrap();
    if options.get_socket().is_some() {
        eprintln!("the test store is reached through a Unix socket: no TCP option to check");
        return;
    }
    // A store of its own, with connections open while its sockets are read.
    let store = Store::open(&test.url).await.unwrap();
    store.put_account(&account("N-1"), now()).await.unwrap();
    let port = options.get_port();
    let (mut to_server, mut delayed) = (0, Vec::new());
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let Ok(fd) = entry.unwrap().file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: the descriptor is only read (getsockopt, getpeername); one that another
        // test closed meanwhile answers an error, which skips it.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let Some(peer) = socket.peer_addr().ok().and_then(|a| a.as_socket()) else {
            continue;
        };
        if peer.port() != port {
            continue;
        }
        to_server += 1;
        if !socket.tcp_nodelay().unwrap_or(false) {
            delayed.push(peer);
        }
    }
    assert!(to_server > 0, "no connection to the server was found");
    assert!(
        delayed.is_empty(),
        "{} of {to_server} connections to the server run Nagle's algorithm",
        delayed.len()
    );
    drop(store);
}

/// PostgreSQL only: when the server drops the ledger's connections (a restart, a
/// failover, an administrator's `pg_terminate_backend`), the writers' next batches meet
/// dead connections (each writer holds its own from one batch to the next): those batches
/// fail before anything is written and their attempts run again one by one on fresh
/// connections. Every attempt is answered, each is recorded once, the writers keep going
/// on new connections afterwards, and every chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attempts_after_the_server_dropped_the_ledgers_connections_are_recorded_once() {
    let test = postgres().await;
    let (options, schema) = test.schema.as_ref().unwrap();
    let name = format!("dunner-dropped-{}", uuid::Uuid::now_v7().simple());
    let store = Arc::new(Store::Postgres(
        PostgresStore::connect(
            options
                .clone()
                .options([("search_path", schema.as_str())])
                .application_name(&name),
            &StoreOptions::default(),
        )
        .await
        .unwrap(),
    ));
    let accounts: Vec<String> = (0..8).map(|i| format!("D-{i}")).collect();
    for id in &accounts {
        store.put_account(&account(id), now()).await.unwrap();
    }
    let round = |minute: u32| {
        let tasks: Vec<_> = accounts
            .iter()
            .map(|id| {
                let store = Arc::clone(&store);
                let attempt = call(id, &format!("2026-04-07T14:{minute:02}:00Z"));
                tokio::spawn(async move {
                    dunner::service::check_and_record(&store, &SHIPPED_SHARED, &attempt, now())
                        .await
                })
            })
            .collect();
        async move {
            for task in tasks {
                let recorded = task.await.unwrap().expect("every attempt is answered");
                assert!(
                    recorded.event_id.is_some(),
                    "a call under the cap is recorded"
                );
            }
        }
    };
    round(0).await;
    let mut admin = sqlx::PgConnection::connect_with(options).await.unwrap();
    // The store's backends first, then each one ended (in one statement the server may
    // call the function before it filters the rows, on every backend).
    let backends: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
            .bind(&name)
            .fetch_all(&mut admin)
            .await
            .unwrap();
    let mut terminated = 0;
    for pid in backends {
        let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        terminated += usize::from(ended);
    }
    assert!(terminated > 0, "no connection of the store was dropped");
    round(1).await;
    round(2).await;
    for id in &accounts {
        let events = store.list_events(id, &EventQuery::default()).await.unwrap();
        assert_eq!(
            events.len(),
            3,
            "{id}: one event for each of its three calls"
        );
    }
    assert!(
        dunner::audit::verify::verify(&store)
            .await
            .unwrap()
            .intact(),
        "every chain verifies after the dropped connections"
    );
}

/// PostgreSQL only: the writers keep each debtor's history from one batch to the next
/// and use it only while every account of the debtor carries the version it was kept at
/// (migration 0017's triggers set it in every transaction that changes an account's
/// events or notices). Changes made in plain SQL on another connection — an event
/// inserted, moved out of the week, deleted — are each seen by the very next attempt,
/// both ways: the cap refuses once the week is full, and allows again once it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_history_never_outlives_a_change_made_in_sql_on_postgres() {
    let test = postgres().await;
    let (options, schema) = test.schema.as_ref().unwrap();
    let store = &test.store;
    let mut admin = sqlx::PgConnection::connect_with(
        &options.clone().options([("search_path", schema.as_str())]),
    )
    .await
    .unwrap();
    let record = |minute: u32| async move {
        let at = format!("2026-04-07T14:{minute:02}:00Z");
        dunner::service::check_and_record(store, &SHIPPED_SHARED, &call("K-1", &at), now())
            .await
            .unwrap()
            .event_id
            .is_some()
    };
    store.put_account(&account("K-1"), now()).await.unwrap();
    for minute in 0..6 {
        assert!(record(minute).await, "call {minute} is under the cap");
    }
    assert!(
        store.held_history_rows() >= 6,
        "the debtor's history is kept: {} rows",
        store.held_history_rows()
    );
    // A seventh call written in SQL: the week is full, the next call is refused.
    sqlx::query(
        "INSERT INTO events (id, account_id, at, body, recorded_at)
         SELECT 'sql-1', account_id, at + interval '7 minutes', body, recorded_at
           FROM events WHERE account_id = 'K-1' ORDER BY seq LIMIT 1",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    assert!(
        !record(20).await,
        "the call inserted in SQL was not counted: the kept history outlived it"
    );
    // Moved out of the week, it no longer counts.
    sqlx::query(
        "UPDATE events SET at = '2026-03-01T14:00:00Z',
                body = jsonb_set(body, '{at}', '\"2026-03-01T14:00:00Z\"')
          WHERE id = 'sql-1'",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    assert!(
        record(21).await,
        "the call moved out of the week still counted"
    );
    assert!(!record(22).await, "the week is full again");
    // Two calls deleted: two more are allowed, and no third.
    sqlx::query(
        "DELETE FROM events WHERE id IN
           (SELECT id FROM events WHERE account_id = 'K-1' AND id <> 'sql-1' ORDER BY seq LIMIT 2)",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    assert!(record(23).await, "a deleted call still counted");
    assert!(record(24).await, "a deleted call still counted");
    assert!(!record(25).await, "the week is full again");
    // The same account, its history kept at each step, as one read afresh: 7 calls in
    // the week.
    let week = store
        .list_events(
            "K-1",
            &EventQuery {
                since: Some("2026-04-01T00:00:00Z".parse().unwrap()),
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(week.len(), 7, "{week:?}");
}

/// PostgreSQL only: the writers' kept histories change no answer. Two stores on one
/// ledger, one keeping histories (the default) and one keeping none
/// (`history_cache_rows = 0`), record the same seeded sequence of calls — one at a time
/// and in bursts across consumers, on debts of Washington consumers (3 contacts in 7
/// days per consumer, all debts), at random instants over a month, some of them
/// conversations — each on its own copy of the accounts, while plain SQL on a third
/// connection inserts calls and moves events out of the week on both copies
/// alike. Every decision is the same on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kept_histories_answer_as_fresh_reads_do_on_postgres() {
    let test = postgres().await;
    let (options, schema) = test.schema.as_ref().unwrap();
    let on_schema = options.clone().options([("search_path", schema.as_str())]);
    let kept = Arc::new(test.store.clone());
    let fresh = Arc::new(Store::Postgres(
        PostgresStore::connect(
            on_schema.clone(),
            &StoreOptions {
                history_cache_rows: 0,
            },
        )
        .await
        .unwrap(),
    ));
    let mut admin = sqlx::PgConnection::connect_with(&on_schema).await.unwrap();
    // Six debts of three consumers in each copy.
    let copies = [("kept", &kept), ("fresh", &fresh)];
    for (prefix, store) in copies {
        let debts: Vec<Account> = (0..6)
            .map(|n| {
                serde_json::from_value(serde_json::json!({
                    "id": format!("{prefix}-{n}"),
                    "consumer": {"id": format!("{prefix}-consumer-{}", n / 2),
                                 "address": {"state": "WA"}, "time_zones": ["America/Los_Angeles"],
                                 "phones": [{"number": "+15095550123", "kind": "mobile"}]}
                }))
                .unwrap()
            })
            .collect();
        store.put_accounts(&debts, now()).await.unwrap();
    }
    // A seeded generator (xorshift), so that a failure replays.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let start: DateTime<Utc> = "2026-04-07T15:00:00Z".parse().unwrap();
    let attempt = |prefix: &str, debt: u64, at: DateTime<Utc>, talked: bool| Attempt {
        outcome: Some(if talked {
            Outcome::Conversation
        } else {
            Outcome::NoAnswer
        }),
        ..wa_call(
            &format!("{prefix}-{debt}"),
            &at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
    };
    // A decision as both copies must give it: their ids made alike.
    let answer = |prefix: &str, result: Result<dunner::service::Recorded, ServiceError>| {
        let text = match result {
            Ok(recorded) => format!(
                "{} {}",
                recorded.event_id.is_some(),
                serde_json::to_string(&recorded.decision).unwrap()
            ),
            Err(error) => format!("error {error}"),
        };
        text.replace(&format!("{prefix}-"), "debt-")
    };
    let mut decided = 0;
    let mut allowed = 0;
    for step in 0..120u32 {
        let at = start + Duration::minutes(i64::from(step) * 360 + next(360) as i64);
        if step % 10 == 9 {
            // A burst: one call for each consumer at once (their order does not matter).
            let debts: Vec<u64> = (0..3).map(|consumer| consumer * 2 + next(2)).collect();
            let talked = next(12) == 0;
            let mut answers = Vec::new();
            for (prefix, store) in copies {
                let tasks: Vec<_> = debts
                    .iter()
                    .map(|&debt| {
                        let store = Arc::clone(store);
                        let attempt = attempt(prefix, debt, at, talked);
                        tokio::spawn(async move {
                            dunner::service::check_and_record(
                                &store,
                                &SHIPPED_SHARED,
                                &attempt,
                                now(),
                            )
                            .await
                        })
                    })
                    .collect();
                let mut copy = Vec::new();
                for task in tasks {
                    copy.push(answer(prefix, task.await.unwrap()));
                }
                answers.push(copy);
            }
            decided += debts.len();
            allowed += answers[0].iter().filter(|a| a.starts_with("true")).count();
            assert_eq!(answers[0], answers[1], "step {step}: a burst at {at}");
            continue;
        }
        if step % 7 == 6 {
            // Plain SQL on both copies alike: a call inserted, or the debt's latest
            // event moved out of the week.
            let debt = next(6);
            let insert = next(2) == 0;
            for (prefix, _) in copies {
                let account = format!("{prefix}-{debt}");
                if insert {
                    let body = serde_json::json!({"at": at, "type": "contact", "channel": "call",
                        "outcome": "no_answer", "initiated_by": "collector"});
                    sqlx::query(
                        "INSERT INTO events (id, account_id, at, body, recorded_at)
                         VALUES ($1, $2, $3, $4::jsonb, $3)",
                    )
                    .bind(format!("sql-{step}-{account}"))
                    .bind(&account)
                    .bind(at)
                    .bind(body.to_string())
                    .execute(&mut admin)
                    .await
                    .unwrap();
                } else {
                    sqlx::query(
                        "UPDATE events SET at = at - interval '30 days',
                                body = jsonb_set(body, '{at}', to_jsonb(to_char(
                                  (at - interval '30 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))
                          WHERE seq = (SELECT max(seq) FROM events WHERE account_id = $1)",
                    )
                    .bind(&account)
                    .execute(&mut admin)
                    .await
                    .unwrap();
                }
            }
        }
        let debt = next(6);
        let talked = next(12) == 0;
        let mut answers = Vec::new();
        for (prefix, store) in copies {
            let attempt = attempt(prefix, debt, at, talked);
            let result =
                dunner::service::check_and_record(store, &SHIPPED_SHARED, &attempt, now()).await;
            answers.push(answer(prefix, result));
        }
        decided += 1;
        allowed += usize::from(answers[0].starts_with("true"));
        assert_eq!(answers[0], answers[1], "step {step}: debt {debt} at {at}");
    }
    // The sequence exercised both answers, and the kept store did keep histories.
    assert!(
        allowed >= 20 && allowed + 20 <= decided,
        "{allowed} of {decided} allowed"
    );
    assert!(kept.held_history_rows() > 0, "the kept store kept nothing");
    assert_eq!(fresh.held_history_rows(), 0);
}

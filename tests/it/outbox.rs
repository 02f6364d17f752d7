//! The outbox worker with real couriers: a real SMTP server (aiosmtpd) and a real HTTP
//! receiver on 127.0.0.1, the ledger in a temporary SQLite file, the clock fixed.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dunner::clock::FixedClock;
use dunner::dispatch::couriers::{EmailCourier, WebhookCourier};
use dunner::dispatch::email::EmailSender;
use dunner::dispatch::signing::{SignedHeaders, WebhookSecret, verify};
use dunner::dispatch::templates::Templates;
use dunner::dispatch::webhook::WebhookSender;
use dunner::dispatch::{Courier, Couriers};
use dunner::domain::{Account, Channel, LedgerEvent, LedgerEventType, Outcome};
use dunner::outbox::Outbox;
use dunner::reload::LivePolicy;
use dunner::store::{EventQuery, NoticeRequest, NoticeStatus, Store};

use crate::email::{sender, shipped_templates_dir};
use crate::helpers::SmtpSink;
use crate::helpers::{SECRET, TestReceiver};
use crate::helpers::{SHIPPED, SHIPPED_SHARED, rules_dir};
use crate::store_conformance::sqlite;

fn now() -> DateTime<Utc> {
    // 10:00 in New York on a Tuesday: calls and emails are allowed.
    "2026-04-07T14:00:00Z".parse().unwrap()
}

fn outbox(store: &Store, couriers: Couriers) -> Outbox {
    let policy = Arc::new(LivePolicy::new(&rules_dir(), SHIPPED.clone(), now()));
    Outbox {
        store: store.clone(),
        metrics: Arc::new(dunner::metrics::Metrics::new(&policy)),
        policy,
        clock: Arc::new(FixedClock(now())),
        schedule: Default::default(),
        couriers,
        wake: Arc::default(),
    }
}

fn webhook_courier(receiver: &TestReceiver) -> Arc<dyn Courier> {
    Arc::new(WebhookCourier {
        sender: WebhookSender::new().unwrap(),
        endpoints: vec![receiver.endpoint(Duration::from_secs(5))].into(),
        clock: Arc::new(FixedClock(now())),
    })
}

fn new_yorker(id: &str) -> Account {
    serde_json::from_value(serde_json::json!({
        "id": id, "creditor": "Example Bank, N.A.",
        "balance": {"amount": "1842.17", "currency": "USD"},
        "consumer": {"address": {"state": "NY", "city": "Albany"}, "time_zones": ["America/New_York"],
                     "phones": [{"number": "+12125550100", "kind": "mobile"}],
                     "emails": [{"address": "alex@example.com", "kind": "personal"}]}
    }))
    .unwrap()
}

async fn queue(store: &Store, request: serde_json::Value) -> String {
    let request: NoticeRequest = serde_json::from_value(request).unwrap();
    dunner::service::enqueue_notice(store, &SHIPPED_SHARED, &request, None, now())
        .await
        .unwrap()
        .notice
        .expect("queued")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_sends_email_and_webhooks_records_them_and_cancels_what_a_hold_forbids() {
    let test = sqlite().await;
    let store = &test.store;
    store
        .put_accounts(&[new_yorker("O-1"), new_yorker("O-2")], now())
        .await
        .unwrap();
    let sink = SmtpSink::start();
    let receiver = TestReceiver::answering(204).await;
    let couriers = Couriers {
        email: Some(Arc::new(EmailCourier {
            sender: EmailSender::new(&sink.config()).unwrap(),
            templates: Arc::new(Templates::load(&shipped_templates_dir(), &sender()).unwrap()),
        })),
        webhook: Some(webhook_courier(&receiver)),
    };
    let email = queue(store, serde_json::json!({"account_id": "O-1", "channel": "email",
        "template": "payment_reminder", "purpose": "payment_reminder",
        "data": {"consumer_name": "Alex Doe", "amount_due": {"amount": "150", "currency": "USD"}, "due_date": "2026-05-01"}})).await;
    let escalated = queue(
        store,
        serde_json::json!({"account_id": "O-1", "channel": "webhook",
        "event_type": "account.escalated", "data": {"to": "attorney referral"}}),
    )
    .await;
    let dial = queue(
        store,
        serde_json::json!({"account_id": "O-2", "channel": "webhook", "event_type": "contact.due"}),
    )
    .await;
    // A cease-and-desist arrives after the dialer notice was queued, before it is sent.
    let cease: LedgerEvent = serde_json::from_value(serde_json::json!({
        "at": "2026-04-07T13:59:00Z", "type": "flag_set", "flag": "cease_and_desist"}))
    .unwrap();
    dunner::service::append_event(store, "O-2", &cease, now())
        .await
        .unwrap();

    let worker = outbox(store, couriers);
    assert!(worker.step().await.unwrap());
    assert!(!worker.step().await.unwrap(), "nothing left to send");

    let status = |id: String| async move { store.get_notice(&id).await.unwrap().unwrap() };
    assert_eq!(status(email.clone()).await.status, NoticeStatus::Delivered);
    assert_eq!(
        status(escalated.clone()).await.status,
        NoticeStatus::Delivered
    );
    let cancelled = status(dial).await;
    assert_eq!(cancelled.status, NoticeStatus::Cancelled);
    assert!(
        cancelled
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("reg-f.cease-communication"),
        "{cancelled:?}"
    );

    // The email arrived with its Message-ID, and the ledger counts it as a contact.
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0]["headers"]["message-id"],
        format!("<{email}@recovery.example>").as_str()
    );
    let events = store
        .list_events("O-1", &EventQuery::default())
        .await
        .unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    let email_event = events
        .iter()
        .find(|e| e.event.channel == Some(Channel::Email))
        .unwrap();
    assert_eq!(email_event.event.outcome, Some(Outcome::Sent));
    assert_eq!(
        email_event.event.contact_point.as_deref(),
        Some("alex@example.com")
    );
    // The webhook is in the ledger as delivered, not as a contact.
    let webhook_event = events
        .iter()
        .find(|e| e.event.event_type == LedgerEventType::WebhookDelivered)
        .unwrap();
    assert_eq!(
        webhook_event.event.notice_id.as_deref(),
        Some(escalated.as_str())
    );
    assert!(webhook_event.event.history().is_none());

    // One webhook left, the escalation: signed, with the notice's id as webhook-id.
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.header("webhook-id"), escalated);
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let headers = SignedHeaders {
        id: request.header("webhook-id"),
        timestamp: request.header("webhook-timestamp"),
        signature: request.header("webhook-signature"),
    };
    verify(&secret, headers, &request.body, now()).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["type"], "account.escalated");
    assert_eq!(body["data"]["account_id"], "O-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_is_retried_on_the_schedule_and_a_gone_one_is_dead_lettered() {
    let test = sqlite().await;
    let store = &test.store;
    store
        .put_accounts(&[new_yorker("R-1")], now())
        .await
        .unwrap();
    let unavailable = TestReceiver::answering(503).await;
    let id = queue(store, serde_json::json!({"account_id": "R-1", "channel": "webhook", "event_type": "account.escalated"})).await;
    let worker = outbox(
        store,
        Couriers {
            email: None,
            webhook: Some(webhook_courier(&unavailable)),
        },
    );
    assert!(worker.step().await.unwrap());
    let notice = store.get_notice(&id).await.unwrap().unwrap();
    assert_eq!((notice.status, notice.attempts), (NoticeStatus::Pending, 1));
    let delay = (notice.due_at - now()).num_milliseconds();
    assert!(
        (5_000..=6_000).contains(&delay),
        "first retry after 5 s plus jitter: {delay} ms"
    );
    assert!(notice.last_error.unwrap().contains("503"));
    // Not due yet: the worker has nothing to do.
    assert!(!worker.step().await.unwrap());

    let gone = TestReceiver::answering(410).await;
    let id = queue(store, serde_json::json!({"account_id": "R-1", "channel": "webhook", "event_type": "account.escalated"})).await;
    let worker = outbox(
        store,
        Couriers {
            email: None,
            webhook: Some(webhook_courier(&gone)),
        },
    );
    assert!(worker.step().await.unwrap());
    let dead = store.get_notice(&id).await.unwrap().unwrap();
    assert_eq!(dead.status, NoticeStatus::Dead);
    // Counted by the worker; the gauges are read from the ledger (one retry pending, not
    // due yet; one dead letter).
    let gauges = store.outbox_gauges(now()).await.unwrap();
    worker.metrics.set_outbox_gauges(&gauges, now());
    let text = worker.metrics.encode().unwrap();
    for line in [
        r#"dunner_outbox_deliveries_total{channel="webhook",result="dead"} 1"#,
        r#"dunner_outbox_dead_letters_total{channel="webhook"} 1"#,
        r#"dunner_outbox_notices{state="dead",channel="webhook"} 1"#,
        r#"dunner_outbox_notices{state="due",channel="webhook"} 0"#,
        "dunner_outbox_oldest_due_age_seconds 0.0",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    let later = now() + chrono::TimeDelta::seconds(60);
    let gauges = store.outbox_gauges(later).await.unwrap();
    assert_eq!(gauges.by_channel[0].due, 1, "{gauges:?}");
    assert!(gauges.oldest_due.is_some_and(|due| due < later));
    let replayed = dunner::service::retry_notice(store, &id, now())
        .await
        .unwrap();
    assert_eq!(replayed.status, NoticeStatus::Pending);
}

/// Kills a daemon when a test fails before stopping it.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `check` every 50 ms for up to `seconds`.
fn eventually(seconds: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notices_in_flight_when_the_daemon_is_killed_are_all_delivered_after_restart_with_their_ids()
 {
    use crate::api::{create_key, http, spawn_daemon_configured};
    // A slow receiver, so that notices are in flight when the daemon dies.
    let receiver = crate::helpers::TestReceiver::slow(204, Duration::from_millis(400)).await;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("dunner.db").display());
    let config = dir.path().join("dunner.toml");
    std::fs::write(
        &config,
        format!(
            "[[webhooks]]\nname = \"vendor\"\nurl = \"http://{}/hooks\"\nsecret = \"{SECRET}\"\nevent_types = [\"account.escalated\"]\n",
            receiver.address()
        ),
    )
    .unwrap();
    let token = create_key(&database, &["decide", "record"]);
    let (daemon, address) = spawn_daemon_configured(&database, "rules", Some(&config));
    let mut daemon = KillOnDrop(Some(daemon));
    let account = serde_json::to_string(&new_yorker("K-1")).unwrap();
    assert_eq!(
        http(&address, &token, "PUT", "/v1/accounts/K-1", &account).0,
        200
    );
    let mut ids = Vec::new();
    for i in 0..20 {
        let body = format!(
            r#"{{"account_id": "K-1", "channel": "webhook", "event_type": "account.escalated", "data": {{"n": {i}}}}}"#
        );
        let (status, answer) = http(&address, &token, "POST", "/v1/notices", &body);
        assert_eq!(status, 201, "{answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        ids.push(answer["notice"]["id"].as_str().unwrap().to_string());
    }
    assert!(
        eventually(10, || !receiver.requests().is_empty()),
        "the worker started sending"
    );
    let mut killed = daemon.0.take().unwrap();
    crate::api::signal(&killed, "-KILL");
    let _ = killed.wait();
    let before: Vec<String> = receiver
        .requests()
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect();

    let (daemon, address) = spawn_daemon_configured(&database, "rules", Some(&config));
    let mut daemon = KillOnDrop(Some(daemon));
    let all_delivered = eventually(30, || {
        ids.iter().all(|id| {
            let (_, notice) = http(&address, &token, "GET", &format!("/v1/notices/{id}"), "");
            notice.contains(r#""status":"delivered""#)
        })
    });
    let mut stopped = daemon.0.take().unwrap();
    crate::api::signal(&stopped, "-TERM");
    let _ = stopped.wait();
    assert!(all_delivered, "every notice is delivered after the restart");
    let received: std::collections::BTreeSet<String> = receiver
        .requests()
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect();
    for id in &ids {
        assert!(received.contains(id), "notice {id} reached the receiver");
    }
    // What was in flight at the kill went out again with the same webhook-id.
    for id in &before {
        assert!(ids.contains(id), "{id}");
    }
    assert!(receiver.requests().len() >= ids.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_daemons_on_one_postgres_ledger_send_each_notice_once() {
    use crate::api::{create_key, http, spawn_daemon_configured};
    let test = crate::store_conformance::postgres().await;
    let receiver = TestReceiver::answering(204).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dunner.toml");
    std::fs::write(
        &config,
        format!(
            "[[webhooks]]\nname = \"dialer\"\nurl = \"http://{}/hooks\"\nsecret = \"{SECRET}\"\nevent_types = [\"account.escalated\"]\n",
            receiver.address()
        ),
    )
    .unwrap();
    let (ids, received) = tokio::task::block_in_place(|| {
        let token = create_key(&test.url, &["decide", "record"]);
        let daemons: Vec<(KillOnDrop, String)> = (0..2)
            .map(|_| {
                let (child, address) = spawn_daemon_configured(&test.url, "rules", Some(&config));
                (KillOnDrop(Some(child)), address)
            })
            .collect();
        let account = serde_json::to_string(&new_yorker("P-1")).unwrap();
        assert_eq!(
            http(&daemons[0].1, &token, "PUT", "/v1/accounts/P-1", &account).0,
            200
        );
        let mut ids = Vec::new();
        for i in 0..60 {
            // Both daemons queue, and both workers lease from the one outbox.
            let address = &daemons[i % 2].1;
            let body = format!(
                r#"{{"account_id": "P-1", "channel": "webhook", "event_type": "account.escalated", "data": {{"n": {i}}}}}"#
            );
            let (status, answer) = http(address, &token, "POST", "/v1/notices", &body);
            assert_eq!(status, 201, "{answer}");
            let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
            ids.push(answer["notice"]["id"].as_str().unwrap().to_string());
        }
        let delivered = eventually(30, || {
            let (_, pending) = http(
                &daemons[0].1,
                &token,
                "GET",
                "/v1/notices?status=pending",
                "",
            );
            pending == "[]"
        });
        assert!(delivered, "every notice left the outbox");
        drop(daemons);
        let received: Vec<String> = receiver
            .requests()
            .iter()
            .map(|r| r.header("webhook-id").to_string())
            .collect();
        (ids, received)
    });
    let mut sorted = received.clone();
    sorted.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(sorted, expected, "each notice sent exactly once");
}

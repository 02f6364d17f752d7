//! Webhook delivery against real receivers on loopback: an axum `TestReceiver` that
//! records requests and answers as told, the Python example receiver, and the
//! `dunner webhooks sign|verify` commands of the real binary.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use dunner::clock::{Clock, SystemClock};
use dunner::dispatch::Delivery;
use dunner::dispatch::webhook::{EventType, SignedHeaders, WebhookSecret, WebhookSender, verify};
use serde_json::json;

use crate::helpers::{Answer, SECRET, TestReceiver, dunner, endpoint_at};

fn sender() -> WebhookSender {
    WebhookSender::new().unwrap()
}

fn now() -> DateTime<Utc> {
    SystemClock.now()
}

fn payload() -> serde_json::Value {
    json!({"account_id": "D-1001", "notice": "validation"})
}

#[tokio::test]
async fn a_2xx_is_delivered_and_the_receiver_can_verify_the_signature() {
    let receiver = TestReceiver::answering(204).await;
    let endpoint = receiver.endpoint(Duration::from_secs(5));
    let now = now();
    let delivery = sender()
        .deliver(
            &endpoint,
            "msg_1",
            EventType::NoticeRequested,
            &payload(),
            now,
        )
        .await;
    assert_eq!(delivery, Delivery::Delivered);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("webhook-id"), "msg_1");
    assert_eq!(
        request.header("webhook-timestamp"),
        now.timestamp().to_string()
    );
    assert!(request.header("webhook-signature").starts_with("v1,"));
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["type"], "notice.requested");
    assert_eq!(body["data"], payload());
    let stamped: DateTime<Utc> = body["timestamp"].as_str().unwrap().parse().unwrap();
    assert_eq!(stamped, now);

    // Our own verification…
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let headers = SignedHeaders {
        id: request.header("webhook-id"),
        timestamp: request.header("webhook-timestamp"),
        signature: request.header("webhook-signature"),
    };
    assert_eq!(verify(&secret, headers, &request.body, now), Ok(()));
    // …and the Standard Webhooks library's, as an independent oracle.
    let oracle = standardwebhooks::Webhook::new(SECRET).unwrap();
    let mut oracle_headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        oracle_headers.insert(name, request.header(name).parse().unwrap());
    }
    oracle.verify(&request.body, &oracle_headers).unwrap();
    let mut tampered = request.body.to_vec();
    tampered.push(b' ');
    assert!(oracle.verify(&tampered, &oracle_headers).is_err());
}

#[test]
fn the_svix_test_vector_is_confirmed_by_the_oracle_library() {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let ours = dunner::dispatch::webhook::sign(
        &secret,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
        br#"{"test": 2432232314}"#,
    );
    let oracle = standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
    assert_eq!(ours, oracle);
    assert_eq!(ours, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[tokio::test]
async fn a_503_is_retried() {
    let receiver = TestReceiver::answering(503).await;
    let delivery = sender()
        .deliver(
            &receiver.endpoint(Duration::from_secs(5)),
            "msg_503",
            EventType::ContactDue,
            &payload(),
            now(),
        )
        .await;
    assert_eq!(
        delivery,
        Delivery::Retry {
            after: None,
            reason: "the receiver answered HTTP 503 Service Unavailable".into()
        }
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_that_delay() {
    let receiver = TestReceiver::start(Answer {
        status: StatusCode::TOO_MANY_REQUESTS,
        retry_after: Some("7"),
        delay: Duration::ZERO,
    })
    .await;
    let delivery = sender()
        .deliver(
            &receiver.endpoint(Duration::from_secs(5)),
            "msg_429",
            EventType::ContactDue,
            &payload(),
            now(),
        )
        .await;
    assert!(
        matches!(delivery, Delivery::Retry { after: Some(after), .. } if after == Duration::from_secs(7)),
        "{delivery:?}"
    );
}

#[tokio::test]
async fn a_410_or_a_400_is_permanent() {
    for status in [410, 400] {
        let receiver = TestReceiver::answering(status).await;
        let delivery = sender()
            .deliver(
                &receiver.endpoint(Duration::from_secs(5)),
                "msg_4xx",
                EventType::AccountEscalated,
                &payload(),
                now(),
            )
            .await;
        match delivery {
            Delivery::Permanent { reason } => {
                assert!(reason.contains(&status.to_string()), "{reason}");
                assert!(!reason.contains("D-1001"), "no payload in the reason");
            }
            other => panic!("{status}: expected permanent, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_is_retried() {
    let receiver = TestReceiver::start(Answer {
        status: StatusCode::OK,
        retry_after: None,
        delay: Duration::from_secs(5),
    })
    .await;
    let delivery = sender()
        .deliver(
            &receiver.endpoint(Duration::from_millis(200)),
            "msg_slow",
            EventType::ContactDue,
            &payload(),
            now(),
        )
        .await;
    assert_eq!(
        delivery,
        Delivery::Retry {
            after: None,
            reason: "no answer within 200 ms".into()
        }
    );
}

#[tokio::test]
async fn a_closed_port_is_retried() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let endpoint = endpoint_at(&format!("http://{addr}/hooks"), Duration::from_secs(2));
    let delivery = sender()
        .deliver(
            &endpoint,
            "msg_closed",
            EventType::ContactDue,
            &payload(),
            now(),
        )
        .await;
    match delivery {
        Delivery::Retry {
            after: None,
            reason,
        } => {
            assert!(reason.starts_with("failed to connect"), "{reason}");
            assert!(!reason.contains(SECRET), "{reason}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn every_try_of_one_message_carries_the_same_webhook_id() {
    let receiver = TestReceiver::answering(500).await;
    let endpoint = receiver.endpoint(Duration::from_secs(5));
    let sender = sender();
    let first = now();
    for at in [first, first + chrono::Duration::seconds(30)] {
        let delivery = sender
            .deliver(
                &endpoint,
                "msg_stable",
                EventType::ContactDue,
                &payload(),
                at,
            )
            .await;
        assert!(matches!(delivery, Delivery::Retry { .. }));
    }
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("webhook-id"), "msg_stable");
    assert_eq!(requests[1].header("webhook-id"), "msg_stable");
    assert_ne!(
        requests[0].header("webhook-timestamp"),
        requests[1].header("webhook-timestamp"),
        "each try is stamped anew"
    );
}

/// The Python example receiver, killed when dropped.
struct PythonReceiver {
    child: Child,
    url: String,
}

impl PythonReceiver {
    fn spawn() -> PythonReceiver {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/webhook_receiver.py");
        let mut child = Command::new("python3")
            .args([script, "--port", "0", "--secret", SECRET])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the example receiver");
        let mut first_line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let url = first_line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first_line:?}"))
            .to_string();
        PythonReceiver { child, url }
    }
}

impl Drop for PythonReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_python_example_receiver_accepts_our_signature_and_refuses_a_tampered_one() {
    let receiver = PythonReceiver::spawn();
    let endpoint = endpoint_at(&receiver.url, Duration::from_secs(5));
    let now = now();
    let delivery = sender()
        .deliver(
            &endpoint,
            "msg_python",
            EventType::NoticeRequested,
            &payload(),
            now,
        )
        .await;
    assert_eq!(delivery, Delivery::Delivered, "the receiver answered 204");

    // The same request with one changed character in the signature is refused.
    let body = br#"{"type":"contact.due","timestamp":"2026-04-07T12:00:00Z","data":{}}"#;
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let signature = dunner::dispatch::webhook::sign(&secret, "msg_t", now.timestamp(), body);
    let client = reqwest::Client::new();
    let send = |signature: String| {
        client
            .post(&receiver.url)
            .header("content-type", "application/json")
            .header("webhook-id", "msg_t")
            .header("webhook-timestamp", now.timestamp().to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
    };
    assert_eq!(send(signature.clone()).await.unwrap().status(), 204);
    let mut tampered = signature.into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(send(tampered).await.unwrap().status(), 401);
}

#[test]
fn webhooks_sign_then_verify_round_trips_through_the_binary() {
    let body = "{\"type\":\"contact.due\",\"data\":{}}\n";
    let signed = dunner(&["webhooks", "sign", "--secret", SECRET, "-"], Some(body));
    assert!(signed.status.success(), "{signed:?}");
    let stdout = String::from_utf8(signed.stdout).unwrap();
    let header = |name: &str| -> String {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .to_string()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    assert!(id.starts_with("msg_"), "{id}");
    let verify_args = |id: &str| {
        vec![
            "webhooks".to_string(),
            "verify".into(),
            "--secret".into(),
            SECRET.into(),
            "--id".into(),
            id.into(),
            "--timestamp".into(),
            timestamp.clone(),
            "--signature".into(),
            signature.clone(),
        ]
    };
    let args = verify_args(&id);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let verified = dunner(&args, Some(body));
    assert!(verified.status.success(), "{verified:?}");

    let tampered = dunner(&args, Some(&body.replace("due", "dew")));
    assert_eq!(tampered.status.code(), Some(1));
    let stderr = String::from_utf8(tampered.stderr).unwrap();
    assert!(stderr.contains("no signature matches"), "{stderr}");
}

#[test]
fn webhooks_verify_judges_the_timestamp_at_now() {
    let body = br#"{"test": 2432232314}"#;
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), body).unwrap();
    let file = path.path().to_str().unwrap();
    let args = |now: &'static str| {
        vec![
            "webhooks",
            "verify",
            "--secret",
            SECRET,
            "--id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "--timestamp",
            "1614265330",
            "--signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "--now",
            now,
            file,
        ]
    };
    assert!(dunner(&args("1614265400"), None).status.success());
    let late = dunner(&args("1614275400"), None);
    assert_eq!(late.status.code(), Some(1));
    assert!(String::from_utf8(late.stderr).unwrap().contains("old"));
}

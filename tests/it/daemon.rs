//! The real `dunner serve` binary under stress: racing dialers on both backends, a
//! `kill -9` in the middle of writes, and bad input on every JSON route — each checked
//! against the ledger afterwards, and against `/metrics`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::sync::{Barrier, mpsc};

use serde_json::{Value, json};

use crate::api::{account_json, create_key, http, parse_metrics, spawn_daemon};
use crate::helpers::EXAMPLE_REQUEST;
use crate::store_conformance::{TestStore, postgres, sqlite};

/// A running daemon on a ledger, with a key that may do everything; killed (SIGKILL)
/// and reaped when dropped, so a failing test leaves no process behind.
struct Daemon {
    child: Child,
    address: String,
    token: String,
}

impl Daemon {
    fn start(database: &str) -> Daemon {
        let token = create_key(database, &["admin"]);
        Daemon::start_with(database, token)
    }

    fn start_with(database: &str, token: String) -> Daemon {
        let (child, address) = spawn_daemon(database, "rules");
        Daemon {
            child,
            address,
            token,
        }
    }

    /// One request; panics if the daemon does not answer.
    fn call(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let (status, body) = http(&self.address, &self.token, method, path, body);
        let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        (status, value)
    }

    /// `GET /metrics` without a key, parsed.
    fn metrics(&self) -> BTreeMap<String, f64> {
        let (status, text) = http(&self.address, "", "GET", "/metrics", "");
        assert_eq!(status, 200, "{text}");
        parse_metrics(&text)
    }

    /// Every event id in an account's ledger, following the pages.
    fn event_ids(&self, account: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut path = format!("/v1/accounts/{account}/events?limit=1000");
        loop {
            let (status, page) = self.call("GET", &path, "");
            assert_eq!(status, 200, "{page}");
            ids.extend(
                page["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|event| event["id"].as_str().unwrap().to_string()),
            );
            match page["next_after"].as_i64() {
                Some(after) => {
                    path = format!("/v1/accounts/{account}/events?limit=1000&after={after}")
                }
                None => return ids,
            }
        }
    }

    /// What a write could have changed: the account, its events and its decision log.
    fn ledger(&self, account: &str) -> (Value, Value, Value) {
        let (_, stored) = self.call("GET", &format!("/v1/accounts/{account}"), "");
        let (_, events) = self.call("GET", &format!("/v1/accounts/{account}/events"), "");
        let (_, decisions) = self.call("GET", &format!("/v1/decisions?account_id={account}"), "");
        (stored, events, decisions)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`, failing instead of panicking when
/// the daemon goes away. The body is written from another thread, so a server that
/// answers before reading it all (413) cannot block the writer forever.
fn try_http(
    address: &str,
    token: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut writer = stream.try_clone()?;
    let response = std::thread::scope(|scope| {
        scope.spawn(|| {
            let _ = writer
                .write_all(head.as_bytes())
                .and_then(|()| writer.write_all(body));
        });
        let mut response = Vec::new();
        match stream.read_to_end(&mut response) {
            Ok(_) => Ok(response),
            // The server may reset a connection whose body it did not read; what it
            // answered before that is still the answer.
            Err(_) if !response.is_empty() => Ok(response),
            Err(error) => Err(error),
        }
    })?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("a truncated response"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    Ok((status, body.to_string()))
}

/// Fifty dialers post a call for one account at the same instant (released together by
/// a barrier): the Reg F cap of 7 calls in 7 days lets exactly 7 through.
fn fifty_dialers_racing_for_one_account_record_exactly_the_cap(test: &TestStore) {
    let daemon = Daemon::start(&test.url);
    let (status, _) = daemon.call("PUT", "/v1/accounts/R-1", &account_json("R-1"));
    assert_eq!(status, 200);
    let attempt = json!({
        "channel": "call",
        "at": "2026-04-07T14:00:00Z",
        "contact_point": "+12125550100",
        "outcome": "no_answer",
    })
    .to_string();
    let start = Barrier::new(50);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let dialers: Vec<_> = (0..50)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    try_http(
                        &daemon.address,
                        &daemon.token,
                        "POST",
                        "/v1/accounts/R-1/attempts",
                        attempt.as_bytes(),
                    )
                    .unwrap()
                    .0
                })
            })
            .collect();
        dialers.into_iter().map(|d| d.join().unwrap()).collect()
    });
    let created = statuses.iter().filter(|&&s| s == 201).count();
    let refused = statuses.iter().filter(|&&s| s == 409).count();
    assert_eq!((created, refused), (7, 43), "{statuses:?}");
    assert_eq!(daemon.event_ids("R-1").len(), 7, "the ledger holds 7 calls");
    let (_, log) = daemon.call("GET", "/v1/decisions?account_id=R-1&limit=100", "");
    assert_eq!(
        log.as_array().unwrap().len(),
        50,
        "every decision is logged"
    );
    let metrics = daemon.metrics();
    let attempts = |status: u16| {
        metrics[&format!(
            r#"dunner_http_requests_total{{method="POST",route="/v1/accounts/{{id}}/attempts",status="{status}"}}"#
        )]
    };
    assert_eq!((attempts(201), attempts(409)), (7.0, 43.0));
    assert_eq!(metrics["dunner_attempts_recorded_total"], 7.0);
    assert_eq!(metrics[r#"dunner_decisions_total{outcome="allow"}"#], 7.0);
    assert_eq!(metrics[r#"dunner_decisions_total{outcome="defer"}"#], 43.0);
    assert_eq!(
        metrics[r#"dunner_decisions_refused_total{rule="reg-f.call-frequency"}"#],
        43.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_dialers_racing_through_the_daemon_record_exactly_the_cap_on_sqlite() {
    let test = sqlite().await;
    tokio::task::block_in_place(|| {
        fifty_dialers_racing_for_one_account_record_exactly_the_cap(&test)
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_dialers_racing_through_the_daemon_record_exactly_the_cap_on_postgres() {
    let test = postgres().await;
    tokio::task::block_in_place(|| {
        fifty_dialers_racing_for_one_account_record_exactly_the_cap(&test)
    });
}

/// Eight dialers record letters as fast as they can; after 40 acknowledgements the
/// daemon gets SIGKILL (no drain, no shutdown hook) with requests still in flight.
/// Restarted on the same SQLite file, it still has every event it acknowledged.
#[test]
fn every_acknowledged_attempt_survives_kill_9() {
    const DIALERS: usize = 8;
    const ACKNOWLEDGED_BEFORE_KILL: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("dunner.db").display());
    let mut daemon = Daemon::start(&database);
    // A Texas account: no state or city pack caps letters.
    let account = json!({"id": "K-9", "consumer": {"address": {"state": "TX"},
                         "time_zones": ["America/Chicago"]}});
    let (status, _) = daemon.call("PUT", "/v1/accounts/K-9", &account.to_string());
    assert_eq!(status, 200);

    let (acknowledged, acknowledgements) = mpsc::channel::<String>();
    let address = daemon.address.clone();
    let token = daemon.token.clone();
    let (acked, endings) = std::thread::scope(|scope| {
        let dialers: Vec<_> = (0..DIALERS)
            .map(|_| {
                let acknowledged = acknowledged.clone();
                let (address, token) = (&address, &token);
                scope.spawn(move || {
                    // Bounded: the kill comes long before.
                    for _ in 0..5_000 {
                        match try_http(
                            address,
                            token,
                            "POST",
                            "/v1/accounts/K-9/attempts",
                            br#"{"channel": "letter"}"#,
                        ) {
                            Ok((201, body)) => {
                                let result: Value = serde_json::from_str(&body).unwrap();
                                let id = result["event_id"].as_str().unwrap().to_string();
                                let _ = acknowledged.send(id);
                            }
                            Ok((status, body)) => return format!("{status} {body}"),
                            Err(_) => return "connection failed".to_string(),
                        }
                    }
                    "ran out of requests".to_string()
                })
            })
            .collect();
        drop(acknowledged);
        let mut acked = Vec::new();
        while acked.len() < ACKNOWLEDGED_BEFORE_KILL {
            match acknowledgements.recv() {
                Ok(id) => acked.push(id),
                Err(_) => break, // every dialer stopped: the endings say why
            }
        }
        daemon.child.kill().unwrap(); // SIGKILL
        daemon.child.wait().unwrap();
        let endings: Vec<String> = dialers.into_iter().map(|d| d.join().unwrap()).collect();
        // Acknowledgements received while the kill was under way count too.
        acked.extend(acknowledgements.try_iter());
        (acked, endings)
    });
    assert!(
        acked.len() >= ACKNOWLEDGED_BEFORE_KILL,
        "the dialers stopped before {ACKNOWLEDGED_BEFORE_KILL} acknowledgements: {endings:?}"
    );
    assert!(
        endings.iter().all(|ending| ending == "connection failed"),
        "every dialer was still sending when the daemon died: {endings:?}"
    );

    let restarted = Daemon::start_with(&database, daemon.token.clone());
    let stored: std::collections::HashSet<String> =
        restarted.event_ids("K-9").into_iter().collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events were lost: {lost:?}",
        lost.len(),
        acked.len()
    );
    assert!(stored.len() >= acked.len());
}

/// The routes that take a JSON body, each with a valid body for account `B-1`.
fn json_routes() -> Vec<(&'static str, &'static str, String)> {
    vec![
        ("PUT", "/v1/accounts/B-1", account_json("B-1")),
        (
            "POST",
            "/v1/accounts/B-1/events",
            json!({"at": "2026-04-01T14:00:00Z", "channel": "call", "outcome": "voicemail"})
                .to_string(),
        ),
        (
            "POST",
            "/v1/accounts/B-1/attempts",
            json!({"channel": "call", "at": "2026-04-07T14:00:00Z"}).to_string(),
        ),
        (
            "POST",
            "/v1/decisions",
            json!({"account_id": "B-1", "channel": "call"}).to_string(),
        ),
        ("POST", "/v1/evaluate", EXAMPLE_REQUEST.to_string()),
    ]
}

/// A daemon with account `B-1`, one event and one logged decision already stored, so
/// "nothing written" compares a non-empty ledger.
fn daemon_with_a_ledger() -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("dunner.db").display());
    let daemon = Daemon::start(&database);
    for (method, path, body) in json_routes() {
        let (status, answer) = daemon.call(method, path, &body);
        assert!(
            (200..300).contains(&status),
            "the valid body of {method} {path}: {status} {answer}"
        );
    }
    (dir, daemon)
}

/// Asserts the one error shape: exactly `code`, `message` and, when given, `field`.
fn assert_error_shape(answer: &Value, code: &str, field: Option<&str>, context: &str) {
    let object = answer
        .as_object()
        .unwrap_or_else(|| panic!("{context}: {answer}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let expected_keys: Vec<&str> = match field {
        Some(_) => vec!["code", "field", "message"],
        None => vec!["code", "message"],
    };
    assert_eq!(keys, expected_keys, "{context}: {answer}");
    assert_eq!(answer["code"], code, "{context}: {answer}");
    assert!(!answer["message"].as_str().unwrap().is_empty(), "{context}");
    if let Some(field) = field {
        assert_eq!(answer["field"], field, "{context}: {answer}");
    }
}

#[test]
fn malformed_json_on_every_json_route_is_a_400_in_the_error_shape_and_writes_nothing() {
    let (_dir, daemon) = daemon_with_a_ledger();
    let before = daemon.ledger("B-1");
    for (method, path, valid) in json_routes() {
        let truncated = &valid[..valid.len() / 2];
        // Each breaks before any field is read (a bad value after a known key is
        // reported against that key).
        for body in [truncated, "", "{", "{,}", "[", "nope"] {
            let context = format!("{method} {path} with {body:?}");
            let (status, answer) = daemon.call(method, path, body);
            assert_eq!(status, 400, "{context}: {answer}");
            assert_error_shape(&answer, "invalid_request", None, &context);
            assert!(
                answer["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("malformed JSON"),
                "{context}: {answer}"
            );
        }
    }
    assert_eq!(daemon.ledger("B-1"), before, "nothing was written");
}

#[test]
fn unknown_and_wrong_fields_on_every_json_route_are_named_and_write_nothing() {
    let (_dir, daemon) = daemon_with_a_ledger();
    let before = daemon.ledger("B-1");
    // (route, a change to its valid body, the field the error must name)
    type Change = fn(&mut Value);
    let cases: Vec<(&str, Change, &str)> = vec![
        ("/v1/accounts/B-1", |v| v["colour"] = json!("red"), "colour"),
        (
            "/v1/accounts/B-1",
            |v| v["consumer"]["nickname"] = json!("Pat"),
            "consumer.nickname",
        ),
        (
            "/v1/accounts/B-1",
            |v| v["consumer"]["phones"][0]["kind"] = json!("pager"),
            "consumer.phones[0].kind",
        ),
        (
            "/v1/accounts/B-1/events",
            |v| v["note"] = json!("x"),
            "note",
        ),
        (
            "/v1/accounts/B-1/events",
            |v| v["channel"] = json!("fax"),
            "channel",
        ),
        (
            "/v1/accounts/B-1/events",
            |v| v["at"] = json!("yesterday"),
            "at",
        ),
        (
            "/v1/accounts/B-1/attempts",
            |v| v["priority"] = json!(1),
            "priority",
        ),
        (
            "/v1/accounts/B-1/attempts",
            |v| v["channel"] = json!("fax"),
            "channel",
        ),
        ("/v1/accounts/B-1/attempts", |v| v["at"] = json!(7), "at"),
        (
            "/v1/decisions",
            |v| v["acount_id"] = json!("B-1"),
            "acount_id",
        ),
        (
            "/v1/decisions",
            |v| v["purpose"] = json!("sales"),
            "purpose",
        ),
        ("/v1/evaluate", |v| v["horizon"] = json!(3), "horizon"),
        (
            "/v1/evaluate",
            |v| v["account"]["flags"]["jailed"] = json!(true),
            "account.flags.jailed",
        ),
        (
            "/v1/evaluate",
            |v| v["history"][1]["outcome"] = json!("hung_up"),
            "history[1].outcome",
        ),
    ];
    let routes = json_routes();
    let covered: std::collections::BTreeSet<&str> = cases.iter().map(|(path, ..)| *path).collect();
    let all: std::collections::BTreeSet<&str> = routes.iter().map(|(_, path, _)| *path).collect();
    assert_eq!(covered, all, "every JSON route has cases");
    for (path, change, field) in cases {
        let (method, _, valid) = routes.iter().find(|(_, p, _)| *p == path).unwrap();
        let mut body: Value = serde_json::from_str(valid).unwrap();
        change(&mut body);
        let context = format!("{method} {path} with {body}");
        let (status, answer) = daemon.call(method, path, &body.to_string());
        assert_eq!(status, 400, "{context}: {answer}");
        assert_error_shape(&answer, "invalid_request", Some(field), &context);
    }
    assert_eq!(daemon.ledger("B-1"), before, "nothing was written");
}

#[test]
fn a_body_over_the_limit_on_every_json_route_is_a_413_and_writes_nothing() {
    let (_dir, daemon) = daemon_with_a_ledger();
    let before = daemon.ledger("B-1");
    // Valid JSON, just too long: the padding is a string inside the body.
    let padding = "x".repeat(1024 * 1024 + 1);
    for (method, path, valid) in json_routes() {
        let mut body: Value = serde_json::from_str(&valid).unwrap();
        body["padding"] = json!(padding);
        let body = body.to_string();
        let context = format!("{method} {path} with {} bytes", body.len());
        let (status, answer) = try_http(
            &daemon.address,
            &daemon.token,
            method,
            path,
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(status, 413, "{context}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_error_shape(&answer, "body_too_large", None, &context);
    }
    assert_eq!(daemon.ledger("B-1"), before, "nothing was written");
}

/// serde_json reports a number or a boolean where an enum (channel, outcome, purpose)
/// is expected as a *syntax* error ("expected value"), so `engine::parse_json` answers
/// "malformed JSON" without the field. The fix belongs in `engine::parse_json` (treat
/// a syntax error in a document that parses as JSON as a data error at its path).
#[test]
fn a_number_where_an_enum_is_expected_names_the_field() {
    let (_dir, daemon) = daemon_with_a_ledger();
    let (status, answer) = daemon.call(
        "POST",
        "/v1/accounts/B-1/attempts",
        r#"{"channel": "call", "outcome": 7}"#,
    );
    assert_eq!(status, 400);
    assert_error_shape(&answer, "invalid_request", Some("outcome"), "outcome: 7");
}

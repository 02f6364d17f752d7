//! No request can stop the daemon: every input that once panicked a task, poisoned the
//! outbox or reached PostgreSQL unchecked is refused with a 400 naming the field, on
//! both stores, and the daemon keeps serving afterwards.

use std::io::{Read, Write};
use std::time::Duration;

use axum::http::StatusCode;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::api::{Api, account_json, api_on};
use crate::helpers::{SHIPPED, dunner};
use crate::store_conformance::{TestStore, postgres, sqlite};

/// Asserts a 400 in the one error shape, naming `field`.
fn assert_refused(answer: &(StatusCode, Value), field: &str, context: &str) {
    assert_error_shape(&answer.1, context);
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{context}: {}", answer.1);
    assert_eq!(
        answer.1["code"], "invalid_request",
        "{context}: {}",
        answer.1
    );
    assert_eq!(answer.1["field"], field, "{context}: {}", answer.1);
}

/// The one error shape: an object of `code` and `message` (non-empty strings) and, when
/// a field is at fault, `field` (a string); nothing else.
fn assert_error_shape(body: &Value, context: &str) {
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("{context}: not an object: {body}"));
    for key in object.keys() {
        assert!(
            ["code", "message", "field"].contains(&key.as_str()),
            "{context}: unexpected key `{key}`: {body}"
        );
    }
    for key in ["code", "message"] {
        let value = body[key].as_str().unwrap_or_default();
        assert!(
            !value.is_empty(),
            "{context}: `{key}` is a non-empty string: {body}"
        );
    }
    if let Some(field) = object.get("field") {
        assert!(field.is_string(), "{context}: `field` is a string: {body}");
    }
}

async fn api_with_account(test: TestStore) -> Api {
    let api = api_on(test).await;
    let (status, body) = api
        .call("PUT", "/v1/accounts/NY-1", Some(account_json("NY-1")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    api
}

/// How many events the account's ledger holds.
async fn events_of(api: &Api, id: &str) -> usize {
    let (status, page) = api
        .call("GET", &format!("/v1/accounts/{id}/events"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["events"].as_array().unwrap().len()
}

async fn out_of_range_instants_are_refused_and_the_daemon_keeps_recording(api: Api) {
    let far_past = "-262143-01-01T00:00:00Z";
    let far_future = "+10000-01-01T00:00:00Z";
    let cases = [
        (
            "POST",
            "/v1/accounts/NY-1/attempts",
            json!({"at": far_past, "channel": "call"}),
            "at",
        ),
        (
            "POST",
            "/v1/decisions",
            json!({"account_id": "NY-1", "at": far_past, "channel": "call"}),
            "at",
        ),
        (
            "POST",
            "/v1/accounts/NY-1/events",
            json!({"at": far_future, "channel": "call", "outcome": "no_answer"}),
            "at",
        ),
        (
            "POST",
            "/v1/notices",
            json!({"account_id": "NY-1", "channel": "webhook", "event_type": "notice.requested", "not_before": far_future}),
            "not_before",
        ),
        (
            "POST",
            "/v1/accounts/NY-1/events",
            json!({"at": "2026-04-01T00:00:00Z", "type": "promise_to_pay", "amount": {"amount": "10.00", "currency": "USD"}, "due_on": "-4714-01-01"}),
            "due_on",
        ),
        (
            "POST",
            "/v1/accounts/NY-1/events",
            json!({"at": "1969-12-31T23:59:59Z", "channel": "call"}),
            "at",
        ),
    ];
    for (method, uri, body, field) in cases {
        let answer = api.call(method, uri, Some(body.to_string())).await;
        assert_refused(&answer, field, &format!("{method} {uri} {body}"));
        assert!(
            answer.1["message"]
                .as_str()
                .unwrap()
                .contains("out of range"),
            "{}",
            answer.1
        );
    }
    let mut evaluate: Value = serde_json::from_str(crate::helpers::EXAMPLE_REQUEST).unwrap();
    evaluate["at"] = json!(far_past);
    assert_refused(
        &api.call("POST", "/v1/evaluate", Some(evaluate.to_string()))
            .await,
        "at",
        "evaluate",
    );
    let mut account: Value = serde_json::from_str(&account_json("NY-1")).unwrap();
    account["placed_on"] = json!("-4714-11-24");
    assert_refused(
        &api.call("PUT", "/v1/accounts/NY-1", Some(account.to_string()))
            .await,
        "placed_on",
        "placed_on",
    );
    for query in [
        "/v1/accounts/NY-1/events?since=%2B10000-01-01T00:00:00Z",
        "/v1/accounts/NY-1/windows?channel=call&from=-262143-01-01T00:00:00Z",
    ] {
        let answer = api.call("GET", query, None).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{query}: {}", answer.1);
    }
    // Nothing was written, and the ledger's writer still records.
    assert_eq!(events_of(&api, "NY-1").await, 0);
    let (status, body) = api
        .call(
            "POST",
            "/v1/accounts/NY-1/attempts",
            Some(json!({"at": "2026-04-07T14:00:00Z", "channel": "letter"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, notices) = api.call("GET", "/v1/notices", None).await;
    assert_eq!(status, StatusCode::OK, "{notices}");
    let (status, _) = api.call("GET", "/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn out_of_range_instants_are_refused_on_sqlite() {
    out_of_range_instants_are_refused_and_the_daemon_keeps_recording(
        api_with_account(sqlite().await).await,
    )
    .await;
}

#[tokio::test]
async fn out_of_range_instants_are_refused_on_postgres() {
    out_of_range_instants_are_refused_and_the_daemon_keeps_recording(
        api_with_account(postgres().await).await,
    )
    .await;
}

async fn nul_characters_and_bad_ids_are_refused_alike(api: Api) {
    let mut account: Value = serde_json::from_str(&account_json("NY-2")).unwrap();
    account["creditor"] = json!("Acme\u{0}Bank");
    assert_refused(
        &api.call("PUT", "/v1/accounts/NY-2", Some(account.to_string()))
            .await,
        "creditor",
        "creditor",
    );
    assert_refused(
        &api.call(
            "POST",
            "/v1/accounts/NY-1/attempts",
            Some(json!({"channel": "call", "contact_point": "+1212\u{0}"}).to_string()),
        )
        .await,
        "contact_point",
        "contact point",
    );
    assert_refused(
        &api
            .call(
                "POST",
                "/v1/notices",
                Some(json!({"account_id": "NY-1", "channel": "webhook", "event_type": "notice.requested", "data": {"note": "a\u{0}b"}}).to_string()),
            )
            .await,
        "data.note",
        "notice data",
    );
    assert_refused(
        &api.call("GET", "/v1/decisions?account_id=NY-1%00", None)
            .await,
        "account_id",
        "query string",
    );
    let answer = api.call("GET", "/v1/accounts/NY%001", None).await;
    assert_refused(&answer, "id", "path id");
    let answer = api.call("GET", "/v1/notices/not-a-notice%00", None).await;
    assert_eq!(answer.0, StatusCode::NOT_FOUND, "{}", answer.1);

    // Ids no route can reach, or that break logs and files, are refused in bulk: all or
    // nothing, with the offending one named.
    let long = "A".repeat(10_000);
    for (index, id) in [
        "",
        "bulk",
        "NY-3\r\nX",
        "NY\u{202e}3",
        "   ",
        long.as_str(),
        "-leading",
    ]
    .into_iter()
    .enumerate()
    {
        let mut bad: Value = serde_json::from_str(&account_json("NY-3")).unwrap();
        bad["id"] = json!(id);
        let body = json!({"accounts": [serde_json::from_str::<Value>(&account_json("NY-4")).unwrap(), bad]});
        let answer = api
            .call("POST", "/v1/accounts/bulk", Some(body.to_string()))
            .await;
        assert_refused(&answer, "accounts[1].id", &format!("id #{index}"));
    }
    let (status, _) = api.call("GET", "/v1/accounts/NY-4", None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the bulk upsert wrote nothing"
    );
    // A good id with every allowed character is stored.
    let good = "ACC-2026.0001:bank_7";
    let (status, body) = api
        .call(
            "PUT",
            &format!("/v1/accounts/{good}"),
            Some(account_json(good)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn nul_characters_and_bad_ids_are_refused_on_sqlite() {
    nul_characters_and_bad_ids_are_refused_alike(api_with_account(sqlite().await).await).await;
}

#[tokio::test]
async fn nul_characters_and_bad_ids_are_refused_on_postgres() {
    nul_characters_and_bad_ids_are_refused_alike(api_with_account(postgres().await).await).await;
}

#[tokio::test]
async fn trailing_bytes_limits_shapes_and_the_bearer_scheme() {
    let api = api_with_account(sqlite().await).await;
    // Two documents in one body: refused, and the first is not recorded.
    let answer = api
        .call(
            "POST",
            "/v1/accounts/NY-1/attempts",
            Some(r#"{"channel":"letter"}{"channel":"call"}"#.into()),
        )
        .await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    assert!(
        answer.1["message"]
            .as_str()
            .unwrap()
            .contains("trailing characters"),
        "{}",
        answer.1
    );
    assert_eq!(events_of(&api, "NY-1").await, 0);
    // A page larger than the documented maximum is refused, not cut short.
    for uri in [
        "/v1/notices?limit=1001",
        "/v1/accounts/NY-1/events?limit=5000",
        "/v1/decisions?account_id=NY-1&limit=1001",
        "/v1/notices?limit=0",
    ] {
        assert_refused(&api.call("GET", uri, None).await, "limit", uri);
    }
    // A struct written as an array is a wrong type, not read field by field.
    let mut account: Value = serde_json::from_str(&account_json("NY-5")).unwrap();
    account["consumer"]["address"] = json!(["NY", "New York", "10001"]);
    assert_refused(
        &api.call("PUT", "/v1/accounts/NY-5", Some(account.to_string()))
            .await,
        "consumer.address",
        "address as an array",
    );
    // The authorization scheme is case-insensitive.
    let token = api.token.clone();
    let request = axum::http::Request::builder()
        .uri("/v1/accounts/NY-1")
        .header("authorization", format!("bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    use tower::ServiceExt;
    let response = dunner::http::router(api.state.clone())
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn readyz_says_not_ready_while_a_background_task_restarts() {
    let api = api_with_account(sqlite().await).await;
    let health = std::sync::Arc::clone(&api.state.tasks);
    tokio::spawn(dunner::tasks::supervise(
        "outbox worker",
        health,
        || async {
            panic!("a bug in the worker");
        },
    ));
    let mut status = StatusCode::OK;
    for _ in 0..100 {
        status = api.call("GET", "/readyz", None).await.0;
        if status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

/// A notice row whose instant cannot be read back (written before instants were bounded,
/// or by hand) is skipped: the listing and the worker go on with the others.
#[tokio::test]
async fn an_unreadable_notice_row_is_skipped_not_fatal() {
    let test = sqlite().await;
    let url = test.url.clone();
    let api = api_with_account(test).await;
    // Queued directly: the test daemon has no `[[webhooks]]`, so the API would refuse it.
    // Not due yet: the daemon's outbox worker leaves it alone while the test breaks its row.
    let request = serde_json::from_value(
        json!({"account_id": "NY-1", "channel": "webhook", "event_type": "account.escalated", "not_before": "2026-05-01T00:00:00Z"}),
    )
    .unwrap();
    let queued = dunner::service::enqueue_notice(
        &api.state.store,
        &api.state.policy.current(),
        &request,
        None,
        api.state.clock.now(),
    )
    .await
    .unwrap();
    assert!(queued.notice.is_some());
    let path = url.strip_prefix("sqlite://").unwrap();
    let mut connection =
        <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{path}"))
            .await
            .unwrap();
    sqlx::query("UPDATE notices SET due_at = '+10000-01-01T00:00:00.000000Z'")
        .execute(&mut connection)
        .await
        .unwrap();
    let request = serde_json::from_value(
        json!({"account_id": "NY-1", "channel": "webhook", "event_type": "account.escalated", "data": {"n": 2}}),
    )
    .unwrap();
    let queued = dunner::service::enqueue_notice(
        &api.state.store,
        &api.state.policy.current(),
        &request,
        None,
        api.state.clock.now(),
    )
    .await
    .unwrap();
    assert!(queued.notice.is_some());
    api.state.notices_wake.notify_one();
    let (status, listed) = api.call("GET", "/v1/notices", None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // The daemon's outbox worker goes on past the bad row: it takes the readable notice
    // (no webhook endpoint is configured, so the try fails and is rescheduled).
    let id = listed[0]["id"].as_str().unwrap().to_string();
    let mut tried = Value::Null;
    for _ in 0..100 {
        let (status, notice) = api.call("GET", &format!("/v1/notices/{id}"), None).await;
        assert_eq!(status, StatusCode::OK, "{notice}");
        if notice["attempts"].as_u64() > Some(0) {
            tried = notice;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        tried["last_error"]
            .as_str()
            .is_some_and(|error| error.contains("no webhook endpoint")),
        "the worker tried the readable notice: {tried}"
    );
}

/// A connection that never finishes its headers is closed by the server.
#[tokio::test]
async fn a_stalled_connection_is_closed_after_the_header_read_timeout() {
    let api = api_with_account(sqlite().await).await;
    let app = dunner::http::Server::bind("127.0.0.1:0".parse().unwrap(), api.state.clone())
        .await
        .unwrap()
        .with_header_read_timeout(Duration::from_millis(300));
    let address = app.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let closed = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let mut buffer = Vec::new();
        // EOF (the server closed), or a reset: either way not kept open.
        match stream.read_to_end(&mut buffer) {
            Ok(_) => true,
            Err(error) => error.kind() == std::io::ErrorKind::ConnectionReset,
        }
    })
    .await
    .unwrap();
    assert!(closed, "the stalled connection was kept open");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[test]
fn a_rule_file_that_is_not_utf8_is_named_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::helpers::rules_dir().join("us-federal.toml"),
        dir.path().join("us-federal.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("latin1.toml"),
        b"[pack]\nid = \"caf\xe9\"\n",
    )
    .unwrap();
    let output = dunner(
        &[
            "rules",
            "check",
            dir.path().to_str().unwrap(),
            "--format",
            "plain",
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}{stderr}");
    let text = format!("{stdout}{stderr}");
    assert!(text.contains("latin1.toml:2:"), "{text}");
    assert!(text.contains("rules::not-utf8"), "{text}");
}

#[test]
fn duplicate_rule_ids_point_at_the_first_definition() {
    let mut text =
        String::from("[pack]\nid = \"dups\"\ntitle = \"d\"\nversion = \"1\"\ncitation = \"x\"\n");
    for _ in 0..500 {
        text.push_str("[[hold]]\nid = \"same\"\ncitation = \"c\"\nmessage = \"m\"\nchannels = [\"call\"]\nwhen = { flags = [\"deceased\"] }\n");
    }
    let error = crate::helpers::compile(&[("dups.toml", &text)]).unwrap_err();
    let dunner::policy::PolicyError::Invalid(diagnostics) = error else {
        panic!("not a validation error")
    };
    let duplicates: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.code == "rules::duplicate-id")
        .collect();
    assert_eq!(duplicates.len(), 499);
    assert!(
        duplicates
            .iter()
            .all(|d| d.help.as_deref().unwrap().contains("dups.toml:7:")),
        "{:?}",
        duplicates.last()
    );
    // Rendering all of them reads only the lines around each span.
    let rendered = dunner::policy::diagnostics::render_human(&diagnostics, false);
    assert!(
        rendered.contains("dups.toml:3001:6]"),
        "{}",
        &rendered[..500]
    );
}

#[test]
fn decide_into_a_closed_pipe_ends_quietly() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_dunner"))
        .args(["decide", "--overview", "examples/decide-request.json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before anything is read, like `| head -0`.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn import_into_an_unmigrated_postgres_database_says_so() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let test = runtime.block_on(postgres());
    // A fresh, empty schema: nothing migrated.
    let url = test.url.replace("dunner_test_", "dunner_empty_");
    let schema = url.rsplit("search_path%3D").next().unwrap().to_string();
    runtime
        .block_on(execute_on_postgres(format!("CREATE SCHEMA {schema}")))
        .unwrap();
    let output = dunner(
        &["import", "--database", &url, "examples/accounts.jsonl"],
        None,
    );
    let _ = runtime.block_on(execute_on_postgres(format!("DROP SCHEMA {schema} CASCADE")));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not migrated"), "{stderr}");
    assert!(stderr.contains("dunner migrate"), "{stderr}");
}

/// The instants whose UTC text (`…Z`, as `json!` writes them) has a year from 1970 to
/// 2199: the accepted range is wider by a day at each end for instants written with an
/// offset, but a `Z` text of 1969-12-31 or 2200-01-01 is refused.
const UTC_WRITTEN_IN_RANGE: std::ops::Range<i64> = 0..7_258_118_400;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// The engine decides any instant it accepts, in any zone, with a history anywhere
    /// in the accepted range and any horizon, without panicking.
    #[test]
    fn the_engine_decides_every_accepted_instant(
        at in UTC_WRITTEN_IN_RANGE,
        nanos in 0u32..1_000_000_000,
        history in proptest::collection::vec(UTC_WRITTEN_IN_RANGE, 0..6),
        zone in proptest::sample::select(vec!["America/New_York", "Pacific/Honolulu", "America/Anchorage", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Puerto_Rico"]),
        state in proptest::sample::select(vec!["NY", "MA", "WA", "TX"]),
        channel in proptest::sample::select(vec!["call", "sms", "email", "letter", "visit"]),
        horizon in 1u32..=366,
    ) {
        let instant = |seconds: i64| chrono::DateTime::from_timestamp(seconds, nanos).unwrap();
        let request = json!({
            "at": instant(at),
            "channel": channel,
            "horizon_days": horizon,
            "account": {"id": "P-1", "consumer": {"address": {"state": state}, "time_zones": [zone],
                "phones": [{"number": "+12125550100", "kind": "mobile"}]}},
            "history": history.iter().map(|&seconds| json!({"at": instant(seconds), "channel": "call", "outcome": "conversation"})).collect::<Vec<_>>(),
        });
        let request = dunner::engine::DecideRequest::from_json(&request.to_string()).unwrap();
        let decision = dunner::engine::decide(&SHIPPED, &request);
        if let Some(next) = decision.next_allowed_at {
            prop_assert!(next >= request.at);
        }
    }
}

/// One parse of an account serves every entry point: an unknown state refused by
/// `decide` is refused by the API's writes and by `dunner import` too, so a stored
/// account is never judged by the federal pack alone because its state was misspelt.
#[tokio::test]
async fn a_stored_account_is_validated_like_a_request() {
    let api = api_with_account(sqlite().await).await;
    let mut account: Value = serde_json::from_str(&account_json("MA-9")).unwrap();
    account["consumer"]["address"]["state"] = json!("Mass");
    let answer = api
        .call("PUT", "/v1/accounts/MA-9", Some(account.to_string()))
        .await;
    assert_refused(&answer, "consumer.address.state", "PUT");
    assert!(
        answer.1["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `MA`?"),
        "{}",
        answer.1
    );
    let answer = api
        .call(
            "POST",
            "/v1/accounts/bulk",
            Some(json!({"accounts": [account]}).to_string()),
        )
        .await;
    assert_refused(&answer, "accounts[0].consumer.address.state", "bulk");
    let (status, _) = api.call("GET", "/v1/accounts/MA-9", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("accounts.jsonl");
    std::fs::write(&accounts, format!("{account}\n")).unwrap();
    let database = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let output = dunner(
        &[
            "import",
            "--database",
            &database,
            accounts.to_str().unwrap(),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("consumer.address.state"), "{stderr}");
    assert!(stderr.contains("did you mean `MA`?"), "{stderr}");
}

/// Phone numbers, email addresses and ZIP codes go through the same one parse: a number that is not
/// digits (the engine could read no area code, so no zone and no kind) or an address
/// that is not `name@domain` is refused with its field, by the API and by `decide`.
#[tokio::test]
async fn phone_numbers_and_email_addresses_are_checked_where_an_account_enters() {
    let api = api_with_account(sqlite().await).await;
    for (field, value, path) in [
        (
            "phones",
            json!([{"number": "call me", "kind": "mobile"}]),
            "consumer.phones[0].number",
        ),
        (
            "phones",
            json!([{"number": "555-01", "kind": "mobile"}]),
            "consumer.phones[0].number",
        ),
        (
            "emails",
            json!([{"address": "bob", "kind": "personal"}]),
            "consumer.emails[0].address",
        ),
        (
            "emails",
            json!([{"address": "bob @example.com", "kind": "personal"}]),
            "consumer.emails[0].address",
        ),
        // City packs are scoped by ZIP code too: one that cannot be read is refused.
        (
            "address",
            json!({"state": "NY", "postal_code": "1120l"}),
            "consumer.address.postal_code",
        ),
        (
            "address",
            json!({"state": "NY", "postal_code": "11201-12"}),
            "consumer.address.postal_code",
        ),
    ] {
        let mut account: Value = serde_json::from_str(&account_json("PE-1")).unwrap();
        account["consumer"][field] = value;
        let answer = api
            .call("PUT", "/v1/accounts/PE-1", Some(account.to_string()))
            .await;
        assert_refused(&answer, path, "PUT");
        let request = json!({"account": account, "channel": "call", "at": "2026-04-07T14:00:00Z"});
        let output = dunner(&["decide"], Some(&request.to_string()));
        assert_ne!(output.status.code(), Some(0), "{request}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(path),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut account: Value = serde_json::from_str(&account_json("PE-2")).unwrap();
    account["consumer"]["phones"] = json!([{"number": "+1 (212) 555-0100", "kind": "mobile"}]);
    account["consumer"]["emails"] =
        json!([{"address": "jo.doe+debt@example.co.uk", "kind": "personal"}]);
    account["consumer"]["address"] = json!({"state": "NY", "postal_code": " 11201-1234 "});
    let (status, body) = api
        .call("PUT", "/v1/accounts/PE-2", Some(account.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn copy_of_shipped_rules() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(crate::helpers::rules_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

/// Deleting the federal pack is refused like an invalid policy: the last good policy
/// (with its floor) stays live, and the reason names the missing pack.
#[test]
fn a_reload_without_a_required_pack_keeps_the_last_good_policy() {
    let dir = copy_of_shipped_rules();
    let policy = dunner::Policy::load(dir.path()).unwrap();
    let digest = policy.digest().to_string();
    let live = dunner::reload::LivePolicy::new(dir.path(), policy, now())
        .with_safeguards(&["us-federal".to_string()], Duration::ZERO);
    std::fs::remove_file(dir.path().join("us-federal.toml")).unwrap();
    let refused = live.reload(now()).unwrap_err();
    assert!(
        refused.contains("required pack(s) `us-federal`"),
        "{refused}"
    );
    assert_eq!(live.current().digest(), digest);
}

/// A pack written in two halves while a reload reads the directory is never live half
/// written: the reload waits until two reads `settle` apart agree.
#[test]
fn a_pack_caught_half_written_never_goes_live() {
    let dir = copy_of_shipped_rules();
    let federal = dir.path().join("us-federal.toml");
    let full = std::fs::read_to_string(&federal).unwrap();
    let full_digest = dunner::Policy::load(dir.path())
        .unwrap()
        .digest()
        .to_string();
    // The first half of the federal pack is itself a valid, weaker pack.
    let half_end = full.find("\n[[hold]]").unwrap();
    let half = &full[..half_end];
    let policy = dunner::Policy::load(dir.path()).unwrap();
    let live = dunner::reload::LivePolicy::new(dir.path(), policy, now())
        .with_safeguards(&["us-federal".to_string()], Duration::from_millis(600));
    std::fs::write(&federal, half).unwrap();
    assert_ne!(
        dunner::Policy::load(dir.path()).unwrap().digest(),
        full_digest,
        "the half is a valid policy of its own"
    );
    let writer = {
        let federal = federal.clone();
        let full = full.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            std::fs::write(federal, full).unwrap();
        })
    };
    let outcome = live.reload(now());
    writer.join().unwrap();
    assert_eq!(outcome, Ok(full_digest.clone()));
    assert_eq!(live.current().digest(), full_digest);
}

#[test]
fn the_daemon_does_not_start_without_a_required_pack() {
    let dir = copy_of_shipped_rules();
    std::fs::remove_file(dir.path().join("us-federal.toml")).unwrap();
    let ledger = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", ledger.path().join("l.db").display());
    let output = dunner(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &database,
            "--rules",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("required pack(s) `us-federal`"), "{stderr}");
}

/// Every error has the one JSON shape, including a path no route serves, a method a
/// route does not answer (with its `Allow` header), a bad query string and a missing
/// field.
#[tokio::test]
async fn unknown_routes_wrong_methods_and_bad_queries_answer_in_the_error_shape() {
    let api = api_with_account(sqlite().await).await;
    let (status, body) = api.call("GET", "/v1/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_shape(&body, "unknown route");
    assert_eq!(body["code"], "not_found", "{body}");
    let (status, body) = api.call("DELETE", "/v1/notices", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error_shape(&body, "wrong method");
    assert_eq!(body["code"], "method_not_allowed", "{body}");
    // A guarded route's wrong method is a 405 too, not a 401: the guard is per method.
    let (status, body) = api.call("DELETE", "/v1/accounts/NY-1", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_error_shape(&body, "wrong method on a guarded route");
    let request = axum::http::Request::builder()
        .method("DELETE")
        .uri("/v1/notices")
        .body(axum::body::Body::empty())
        .unwrap();
    use tower::ServiceExt;
    let response = dunner::http::router(api.state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let answer = api.call("GET", "/v1/notices?status=sleeping", None).await;
    assert_error_shape(&answer.1, "bad query value");
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    assert_eq!(answer.1["code"], "invalid_request", "{}", answer.1);
    assert_refused(
        &api.call("GET", "/v1/notices?colour=red", None).await,
        "colour",
        "unknown parameter",
    );
    assert_refused(
        &api.call("GET", "/v1/accounts/NY-1/windows", None).await,
        "channel",
        "missing parameter",
    );
    // An empty value is refused, not read as the parameter's absence.
    assert_refused(
        &api.call("GET", "/v1/reports/summary?account=", None).await,
        "account",
        "empty parameter",
    );
    assert_refused(
        &api.call("POST", "/v1/accounts/NY-1/attempts", Some("{}".into()))
            .await,
        "channel",
        "missing field",
    );
}

/// A reload that would loosen the live policy (a higher cap) is refused, saying what
/// loosens, until the operator confirms that very candidate; a tightening or an added
/// rule goes live at once.
#[test]
fn a_loosening_reload_waits_for_confirmation() {
    let dir = copy_of_shipped_rules();
    let federal = dir.path().join("us-federal.toml");
    let text = std::fs::read_to_string(&federal).unwrap();
    let policy = dunner::Policy::load(dir.path()).unwrap();
    let live = dunner::reload::LivePolicy::new(dir.path(), policy, now());
    let live_digest = live.current().digest().to_string();

    assert!(text.contains("max = 7"), "the 7-in-7 cap");
    std::fs::write(&federal, text.replacen("max = 7", "max = 9", 1)).unwrap();
    let refused = live.reload(now()).unwrap_err();
    assert!(
        refused.contains("would loosen the live policy"),
        "{refused}"
    );
    assert!(refused.contains("`max` (7 → 9)"), "{refused}");
    assert_eq!(live.current().digest(), live_digest);
    // Confirmed: that candidate goes live.
    let applied = live.confirm_loosening(now()).unwrap();
    assert_ne!(applied, live_digest);
    assert_eq!(live.current().digest(), applied);

    // Back to 7 is a tightening: applied without confirmation.
    std::fs::write(&federal, &text).unwrap();
    assert_eq!(live.reload(now()), Ok(live_digest.clone()));

    // A confirmation does not carry over to another loosening.
    std::fs::write(&federal, text.replacen("max = 7", "max = 8", 1)).unwrap();
    assert!(live.confirm_loosening(now()).is_err());
    assert_eq!(live.current().digest(), live_digest);
}

/// A fixed instant for the reload tests (the clock is a parameter).
fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-04-07T14:00:00Z".parse().unwrap()
}

/// Runs one statement on the test PostgreSQL server (outside any test schema).
async fn execute_on_postgres(statement: String) -> Result<(), sqlx::Error> {
    let options: sqlx::postgres::PgConnectOptions = std::env::var("DUNNER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
        .parse()?;
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await?;
    sqlx::Executor::execute(&mut connection, sqlx::AssertSqlSafe(statement)).await?;
    Ok(())
}

/// Every response names its request's id: the caller's `X-Request-Id` when it is a short
/// token, a fresh one otherwise.
#[tokio::test]
async fn every_response_carries_a_request_id() {
    use tower::ServiceExt;
    let api = api_with_account(sqlite().await).await;
    let call = |id: Option<&str>| {
        let mut request = axum::http::Request::builder().uri("/healthz");
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        dunner::http::router(api.state.clone())
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
    };
    let response = call(Some("dialer-7.call-42")).await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "dialer-7.call-42");
    let fresh = call(Some("has spaces and is not a token")).await.unwrap();
    let fresh = fresh.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(uuid::Uuid::try_parse(&fresh).is_ok(), "{fresh}");
    let other = call(None).await.unwrap();
    assert_ne!(other.headers()["x-request-id"].to_str().unwrap(), fresh);
}

/// POSTs an attempt with an `Idempotency-Key`; the status, the body and whether it was
/// a replay.
async fn attempt_with_key(api: &Api, key: &str, body: &Value) -> (StatusCode, Value, bool) {
    post_with_key(api, "/v1/accounts/NY-1/attempts", key, body).await
}

/// POSTs `body` to `uri` with an `Idempotency-Key`.
async fn post_with_key(api: &Api, uri: &str, key: &str, body: &Value) -> (StatusCode, Value, bool) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .method("POST")
        .uri(uri)
        .header("authorization", format!("Bearer {}", api.token))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = dunner::http::router(api.state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap(), replayed)
}

/// A dialer that times out and retries with the same `Idempotency-Key` records one call:
/// the repeat answers the first response; the same key with another body is a 422; ten
/// concurrent repeats of a new key write once.
async fn a_retried_attempt_counts_once(api: Api) {
    let call = json!({"at": "2026-04-07T14:00:00Z", "channel": "call", "contact_point": "+12125550100", "outcome": "no_answer"});
    let (status, first, replayed) = attempt_with_key(&api, "dial-1", &call).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(!replayed);
    let (status, again, replayed) = attempt_with_key(&api, "dial-1", &call).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert!(replayed, "the repeat is marked as a replay");
    assert_eq!(again["decision_id"], first["decision_id"]);
    assert_eq!(again["event_id"], first["event_id"]);
    assert_eq!(again, first, "the repeat is the first answer whole");
    assert_eq!(events_of(&api, "NY-1").await, 1);
    // The answer's decision is the one logged.
    let (status, log) = api.call("GET", "/v1/decisions?account_id=NY-1", None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let logged = log
        .as_array()
        .unwrap()
        .iter()
        .find(|logged| logged["id"] == first["decision_id"])
        .unwrap();
    assert_eq!(logged["decision"], first["decision"]);

    let mut other = call.clone();
    other["at"] = json!("2026-04-07T15:00:00Z");
    let (status, refused, _) = attempt_with_key(&api, "dial-1", &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["field"], "Idempotency-Key");
    assert_eq!(events_of(&api, "NY-1").await, 1);

    let mut concurrent = tokio::task::JoinSet::new();
    let api = std::sync::Arc::new(api);
    for _ in 0..10 {
        let (api, other) = (std::sync::Arc::clone(&api), other.clone());
        concurrent.spawn(async move { attempt_with_key(&api, "dial-2", &other).await });
    }
    let mut event_ids = std::collections::BTreeSet::new();
    while let Some(answer) = concurrent.join_next().await {
        let (status, body, _) = answer.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        event_ids.insert(body["event_id"].to_string());
    }
    assert_eq!(event_ids.len(), 1, "one event for ten concurrent repeats");
    assert_eq!(events_of(&api, "NY-1").await, 2);
    let (status, _) = api
        .call("POST", "/v1/accounts/NY-1/attempts", Some(call.to_string()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "without a key, a new attempt");
}

#[tokio::test]
async fn a_retried_attempt_counts_once_on_sqlite() {
    a_retried_attempt_counts_once(api_with_account(sqlite().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_attempt_counts_once_on_postgres() {
    a_retried_attempt_counts_once(api_with_account(postgres().await).await).await;
}

/// The same for a ledger event appended twice: one event, the same id, a 422 for another
/// event under the key, one event for concurrent repeats.
async fn a_retried_event_counts_once(api: Api) {
    let uri = "/v1/accounts/NY-1/events";
    let event = json!({"at": "2026-04-07T13:00:00Z", "channel": "call", "outcome": "voicemail"});
    let (status, first, replayed) = post_with_key(&api, uri, "ev-1", &event).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(!replayed);
    let (status, again, replayed) = post_with_key(&api, uri, "ev-1", &event).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert!(replayed);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(events_of(&api, "NY-1").await, 1);
    let mut other = event.clone();
    other["outcome"] = json!("busy");
    let (status, refused, _) = post_with_key(&api, uri, "ev-1", &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let api = std::sync::Arc::new(api);
    let mut concurrent = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (api, other) = (std::sync::Arc::clone(&api), other.clone());
        concurrent.spawn(async move { post_with_key(&api, uri, "ev-2", &other).await });
    }
    let mut ids = std::collections::BTreeSet::new();
    while let Some(answer) = concurrent.join_next().await {
        let (status, body, _) = answer.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.insert(body["id"].to_string());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(events_of(&api, "NY-1").await, 2);
}

#[tokio::test]
async fn a_retried_event_counts_once_on_sqlite() {
    a_retried_event_counts_once(api_with_account(sqlite().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_event_counts_once_on_postgres() {
    a_retried_event_counts_once(api_with_account(postgres().await).await).await;
}

/// A question and a bulk upsert retried under their key write once: the question is
/// logged once (same `decision_id`), and a retried upsert does not overwrite what the
/// ledger changed since (a cease-and-desist set by an event between the two).
async fn retried_questions_and_upserts_write_once(api: Api) {
    let question = json!({"account_id": "NY-1", "at": "2026-04-07T14:00:00Z", "channel": "call"});
    let (status, first, replayed) = post_with_key(&api, "/v1/decisions", "ask-1", &question).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(!replayed);
    let (status, again, replayed) = post_with_key(&api, "/v1/decisions", "ask-1", &question).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert!(replayed);
    assert_eq!(again["decision_id"], first["decision_id"]);
    let (_, log) = api.call("GET", "/v1/decisions?account_id=NY-1", None).await;
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    let mut other = question.clone();
    other["channel"] = json!("email");
    let (status, refused, _) = post_with_key(&api, "/v1/decisions", "ask-1", &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["field"], "Idempotency-Key");

    let account: Value = serde_json::from_str(&account_json("NY-1")).unwrap();
    let bulk = json!({"accounts": [account]});
    let (status, first, _) = post_with_key(&api, "/v1/accounts/bulk", "load-1", &bulk).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, _) = api
        .call(
            "POST",
            "/v1/accounts/NY-1/events",
            Some(json!({"at": "2026-04-07T14:30:00Z", "type": "flag_set", "flag": "cease_and_desist"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, again, replayed) = post_with_key(&api, "/v1/accounts/bulk", "load-1", &bulk).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert!(replayed);
    let (_, stored) = api.call("GET", "/v1/accounts/NY-1", None).await;
    assert_eq!(
        stored["flags"]["cease_and_desist"], true,
        "the retry wrote nothing: {stored}"
    );
    let (status, refused, _) = post_with_key(
        &api,
        "/v1/accounts/bulk",
        "load-1",
        &json!({"accounts": []}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
}

#[tokio::test]
async fn retried_questions_and_upserts_write_once_on_sqlite() {
    retried_questions_and_upserts_write_once(api_with_account(sqlite().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retried_questions_and_upserts_write_once_on_postgres() {
    retried_questions_and_upserts_write_once(api_with_account(postgres().await).await).await;
}

/// A stored account that no longer parses (edited by hand here) is never decided on as if
/// the bad field were absent: the attempt is refused with the field named, and `dunner
/// ledger check` lists it.
async fn an_invalid_stored_account_is_refused_and_listed(test: TestStore, edit: &str) {
    let url = test.url.clone();
    let api = api_with_account(test).await;
    if url.starts_with("sqlite://") {
        let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(edit.to_string()))
            .execute(&mut connection)
            .await
            .unwrap();
    } else {
        let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(edit.to_string()))
            .execute(&mut connection)
            .await
            .unwrap();
    }
    let (status, body) = api
        .call(
            "POST",
            "/v1/accounts/NY-1/attempts",
            Some(json!({"channel": "call"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "account.consumer.address.state", "{body}");
    assert_eq!(events_of(&api, "NY-1").await, 0);
    let output =
        tokio::task::spawn_blocking(move || dunner(&["ledger", "check", "--database", &url], None))
            .await
            .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("NY-1\tconsumer.address.state\tunknown state `Mass`"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_stored_account_is_refused_and_listed_on_sqlite() {
    an_invalid_stored_account_is_refused_and_listed(
        sqlite().await,
        "UPDATE accounts SET body = json_set(body, '$.consumer.address.state', 'Mass')",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_stored_account_is_refused_and_listed_on_postgres() {
    an_invalid_stored_account_is_refused_and_listed(
        postgres().await,
        "UPDATE accounts SET body = jsonb_set(body::jsonb, '{consumer,address,state}', '\"Mass\"')",
    )
    .await;
}

/// A body that is not a JSON object is refused on every route that takes one, never
/// read positionally (serde's derive reads `[at, channel, …]` as the struct's fields).
async fn a_body_that_is_not_an_object_is_refused(api: Api) {
    for (uri, body) in [
        (
            "/v1/accounts/NY-1/attempts",
            r#"["2026-04-07T14:00:00Z", "letter", "collection", null, null]"#,
        ),
        (
            "/v1/decisions",
            r#"["NY-1", null, "letter", "collection", null]"#,
        ),
        ("/v1/evaluate", "[]"),
        ("/v1/accounts/NY-1/events", " \n\"text\""),
    ] {
        let (status, answer) = api.call("POST", uri, Some(body.to_string())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {answer}");
        assert_eq!(answer["field"], ".", "{uri}: {answer}");
    }
    assert_eq!(events_of(&api, "NY-1").await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_on_sqlite() {
    a_body_that_is_not_an_object_is_refused(api_with_account(sqlite().await).await).await;
}

/// One `Idempotency-Key` sent at once with an attempt (which locks the account, then
/// claims the key) and with an event (which used to claim the key, then lock the
/// account): PostgreSQL ended one of them with "deadlock detected", a 500. Every writer
/// now takes the account first: one request wins the key, the other is told the key
/// belongs to another request (422), and nothing is a 500.
async fn one_key_on_an_attempt_and_an_event_at_once_never_deadlocks(api: Api) {
    let api = std::sync::Arc::new(api);
    let attempt = json!({"at": "2026-04-07T14:00:00Z", "channel": "letter"});
    let event = json!({"at": "2026-04-07T13:00:00Z", "channel": "call", "outcome": "voicemail"});
    let mut concurrent = tokio::task::JoinSet::new();
    for round in 0..20 {
        let key = format!("shared-{round}");
        for (uri, body) in [
            ("/v1/accounts/NY-1/attempts", attempt.clone()),
            ("/v1/accounts/NY-1/events", event.clone()),
        ] {
            let (api, key) = (std::sync::Arc::clone(&api), key.clone());
            concurrent.spawn(async move { post_with_key(&api, uri, &key, &body).await });
        }
    }
    let mut created = 0;
    while let Some(answer) = concurrent.join_next().await {
        let (status, body, _) = answer.unwrap();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{status} {body}"
        );
        created += usize::from(status == StatusCode::CREATED);
    }
    assert_eq!(created, 20, "one request of each pair wins its key");
    assert_eq!(events_of(&api, "NY-1").await, 20);
}

#[tokio::test]
async fn one_key_on_an_attempt_and_an_event_at_once_never_deadlocks_on_sqlite() {
    one_key_on_an_attempt_and_an_event_at_once_never_deadlocks(
        api_with_account(sqlite().await).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_on_an_attempt_and_an_event_at_once_never_deadlocks_on_postgres() {
    one_key_on_an_attempt_and_an_event_at_once_never_deadlocks(
        api_with_account(postgres().await).await,
    )
    .await;
}

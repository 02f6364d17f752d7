//! The web console (`/console`): plain HTTP tests of its guards (signed-out refusal of
//! every page and action, CSRF, scopes, revoked keys, the cookie's flags) on both
//! stores, and the journeys of a person in a real headless Chromium driven through
//! WebDriver (`fantoccini` + Debian's `chromium-driver`), with an axe-core
//! accessibility check of each main page. `console_screenshots` (ignored; run it with
//! `cargo test --test it console_screenshots -- --ignored`) writes the README's
//! pictures into `docs/console/`.

use std::path::Path;
use std::time::Duration;

use dunner::auth::Scope;
use dunner::domain::{Account, LedgerEvent};
use dunner::store::{NoticeRow, NoticeStatus, NoticeUpdate, Store};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::helpers::{TEST_NOW, TestApp};
use crate::store_conformance::{TestStore, postgres, sqlite};

/// An account whose consumer opted out of email: calls are allowed at the test's
/// instant (10:00 in New York), email is refused with the Reg F citation.
const ACCOUNT: &str = r#"{
  "id": "C-1001",
  "debt_type": "credit_card",
  "consumer": {
    "address": {"state": "NY", "city": "New York", "postal_code": "10001"},
    "time_zones": ["America/New_York"],
    "phones": [{"number": "+12125550100", "kind": "mobile"}],
    "emails": [{"address": "pat@example.com", "kind": "personal"}]
  },
  "opted_out": ["email"]
}"#;

const EVENTS: &[&str] = &[
    r#"{"at": "2026-04-01T14:00:00Z", "type": "contact", "channel": "call", "outcome": "voicemail", "contact_point": "+12125550100"}"#,
    r#"{"at": "2026-04-03T15:00:00Z", "type": "contact", "channel": "call", "outcome": "conversation", "initiated_by": "consumer"}"#,
];

/// The daemon with the account, its ledger, a dead notice and three keys.
struct Fixture {
    app: TestApp,
    /// `decide` only: may look.
    reader: String,
    /// `decide` and `record`.
    operator: String,
    /// `admin`.
    admin: String,
    admin_id: String,
    /// The dead notice's id.
    dead: String,
}

fn now() -> chrono::DateTime<chrono::Utc> {
    TEST_NOW.parse().unwrap()
}

async fn key(store: &Store, name: &str, scopes: &[Scope]) -> (String, String) {
    let key = dunner::auth::issue();
    dunner::service::add_api_key(store, &key, name, scopes, now())
        .await
        .unwrap();
    (key.token, key.id)
}

async fn fixture(test: TestStore) -> Fixture {
    let app = TestApp::spawn_with(test, |_| {}).await;
    let store = &app.state.store;
    let account: Account = serde_json::from_str(ACCOUNT).unwrap();
    store.put_account(&account, now()).await.unwrap();
    for event in EVENTS {
        let event: LedgerEvent = serde_json::from_str(event).unwrap();
        store
            .append_event("C-1001", &event, now(), None)
            .await
            .unwrap();
    }
    let dead = uuid::Uuid::now_v7().to_string();
    store
        .insert_notice(&NoticeRow {
            id: dead.clone(),
            account_id: "C-1001".into(),
            idempotency_key: None,
            // Not due: the test daemon's outbox worker leaves it alone until it is dead.
            due_at: now() + chrono::TimeDelta::days(30),
            request: r#"{"account_id": "C-1001", "channel": "webhook", "event_type": "notice.requested"}"#.into(),
            now: now(),
        })
        .await
        .unwrap();
    store
        .finish_notice(
            &dead,
            &NoticeUpdate::Close {
                status: NoticeStatus::Dead,
                attempts: 8,
                error: "the receiver answered 410 Gone".into(),
            },
            now(),
        )
        .await
        .unwrap();
    let (reader, _) = key(store, "floor manager", &[Scope::Decide]).await;
    let (operator, _) = key(store, "operations", &[Scope::Decide, Scope::Record]).await;
    let (admin, admin_id) = key(store, "administrator", &[Scope::Admin]).await;
    Fixture {
        app,
        reader,
        operator,
        admin,
        admin_id,
        dead,
    }
}

const FORM: &str = "application/x-www-form-urlencoded";

/// A form body, as a browser encodes it.
fn encode(form: &[(&str, &str)]) -> String {
    let escape = |text: &str| -> String {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    char::from(byte).to_string()
                }
                b' ' => "+".to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    form.iter()
        .map(|(name, value)| format!("{}={}", escape(name), escape(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A signed-in session: its cookie (`name=value`) and the CSRF token of its forms.
struct Session {
    cookie: String,
    csrf: String,
}

impl Fixture {
    fn url(&self, path: &str) -> String {
        self.app.url(path)
    }

    /// Signs in with `token`: the `Set-Cookie` line.
    async fn sign_in_raw(&self, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = client()
            .post(self.url("/console/sign-in"))
            .header("content-type", FORM)
            .body(encode(&[("token", token)]));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    async fn sign_in(&self, token: &str) -> Session {
        let response = self.sign_in_raw(token, &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set_cookie = response
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let page = self.get(Some(&cookie), "/console").await.2;
        let csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_string();
        Session { cookie, csrf }
    }

    async fn get(&self, cookie: Option<&str>, path: &str) -> (StatusCode, Option<String>, String) {
        let mut request = client().get(self.url(path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_string());
        (response.status(), location, response.text().await.unwrap())
    }

    async fn post(
        &self,
        cookie: Option<&str>,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Option<String>, String) {
        let mut request = client()
            .post(self.url(path))
            .header("content-type", FORM)
            .body(encode(form));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_string());
        (response.status(), location, response.text().await.unwrap())
    }

    async fn notice_status(&self) -> NoticeStatus {
        self.app
            .state
            .store
            .get_notice(&self.dead)
            .await
            .unwrap()
            .unwrap()
            .status
    }
}

const PAGES: &[&str] = &[
    "/console",
    "/console/accounts",
    "/console/accounts/C-1001",
    "/console/policy",
    "/console/decisions?account=C-1001",
    "/console/outbox",
    "/console/reports",
    "/console/reports/summary",
    "/console/reports/shadow",
    "/console/audit?run=1",
    "/console/keys",
    "/console/records",
];

fn actions(fixture: &Fixture) -> Vec<String> {
    vec![
        "/console/sign-out".into(),
        "/console/accounts/find".into(),
        format!("/console/outbox/{}/retry", fixture.dead),
        format!("/console/keys/{}/revoke", fixture.admin_id),
        "/console/records/holds".into(),
        "/console/records/holds/hold-x/release".into(),
    ]
}

async fn signed_out_requests_are_refused(fixture: Fixture) {
    assert_eq!(
        fixture.get(None, "/").await.1.as_deref(),
        Some("/console"),
        "/ leads to the console"
    );
    for page in PAGES {
        let (status, location, _) = fixture.get(None, page).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(location.as_deref(), Some("/console/sign-in"), "{page}");
        // A cookie that names no session is signed out too.
        let (status, location, _) = fixture.get(Some("dunner_console=forged"), page).await;
        assert_eq!(
            (status, location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/console/sign-in")),
            "{page}"
        );
    }
    for action in actions(&fixture) {
        let (status, _, body) = fixture
            .post(None, &action, &[("csrf", "x"), ("lookup", "C-1001")])
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{action}: {body}");
    }
    assert_eq!(fixture.notice_status().await, NoticeStatus::Dead);
    // The sign-in page itself and the style sheet are open.
    assert_eq!(
        fixture.get(None, "/console/sign-in").await.0,
        StatusCode::OK
    );
    assert_eq!(
        fixture.get(None, "/console/assets/console.css").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn signed_out_requests_to_every_console_page_and_action_are_refused_sqlite() {
    signed_out_requests_are_refused(fixture(sqlite().await).await).await;
}

#[tokio::test]
async fn signed_out_requests_to_every_console_page_and_action_are_refused_postgres() {
    signed_out_requests_are_refused(fixture(postgres().await).await).await;
}

async fn every_page_renders_for_an_admin(fixture: Fixture) {
    let session = fixture.sign_in(&fixture.admin).await;
    for page in PAGES {
        let (status, _, body) = fixture.get(Some(&session.cookie), page).await;
        assert_eq!(status, StatusCode::OK, "{page}: {body}");
    }
    let (_, _, account) = fixture
        .get(Some(&session.cookie), "/console/accounts/C-1001")
        .await;
    assert!(
        account.contains("1006.14(h)"),
        "the opt-out's citation is shown"
    );
    assert!(account.contains("id=\"heatmap\""));
    let (_, _, keys) = fixture.get(Some(&session.cookie), "/console/keys").await;
    assert!(keys.contains("floor manager") && keys.contains("administrator"));
    assert!(
        !keys.contains(&fixture.reader),
        "a key's token is never shown"
    );
}

#[tokio::test]
async fn every_console_page_renders_for_an_admin_sqlite() {
    every_page_renders_for_an_admin(fixture(sqlite().await).await).await;
}

#[tokio::test]
async fn every_console_page_renders_for_an_admin_postgres() {
    every_page_renders_for_an_admin(fixture(postgres().await).await).await;
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_secure_behind_https_and_sign_out_ends_it() {
    let fixture = fixture(sqlite().await).await;
    let response = fixture.sign_in_raw(&fixture.reader, &[]).await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("dunner_console="), "{cookie}");
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=28800",
    ] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let behind_tls = fixture
        .sign_in_raw(&fixture.reader, &[("x-forwarded-proto", "https")])
        .await;
    let cookie = behind_tls.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // A wrong key opens nothing.
    let wrong = fixture.sign_in_raw("dunner_nope_nope", &[]).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());

    let session = fixture.sign_in(&fixture.reader).await;
    assert_eq!(
        fixture.get(Some(&session.cookie), "/console").await.0,
        StatusCode::OK
    );
    let (status, location, _) = fixture
        .post(
            Some(&session.cookie),
            "/console/sign-out",
            &[("csrf", &session.csrf)],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/console/sign-in"))
    );
    // The old cookie is worth nothing now: the session is gone from the ledger.
    let (status, location, _) = fixture.get(Some(&session.cookie), "/console").await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/console/sign-in"))
    );
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_or_from_another_site_is_refused() {
    let fixture = fixture(sqlite().await).await;
    let session = fixture.sign_in(&fixture.operator).await;
    let retry = format!("/console/outbox/{}/retry", fixture.dead);
    for form in [vec![], vec![("csrf", "0".repeat(64))]] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _, _) = fixture.post(Some(&session.cookie), &retry, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // Another session's token does not do either.
    let other = fixture.sign_in(&fixture.operator).await;
    assert_ne!(other.csrf, session.csrf);
    let (status, _, _) = fixture
        .post(Some(&session.cookie), &retry, &[("csrf", &other.csrf)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let cross_site = client()
        .post(fixture.url(&retry))
        .header("cookie", &session.cookie)
        .header("origin", "https://evil.example")
        .header("content-type", FORM)
        .body(encode(&[("csrf", session.csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(fixture.notice_status().await, NoticeStatus::Dead);
    // With the token, it goes.
    let (status, location, _) = fixture
        .post(Some(&session.cookie), &retry, &[("csrf", &session.csrf)])
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/console/outbox?retried=1"))
    );
    assert_eq!(fixture.notice_status().await, NoticeStatus::Pending);
}

#[tokio::test]
async fn a_read_only_key_can_look_but_not_retry_nor_administer_keys() {
    let fixture = fixture(sqlite().await).await;
    let session = fixture.sign_in(&fixture.reader).await;
    let (status, _, outbox) = fixture.get(Some(&session.cookie), "/console/outbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(outbox.contains(&fixture.dead), "the dead notice is shown");
    assert!(
        !outbox.contains("class=\"retry\""),
        "no retry button for a reader"
    );
    let (status, _, _) = fixture
        .post(
            Some(&session.cookie),
            &format!("/console/outbox/{}/retry", fixture.dead),
            &[("csrf", &session.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(fixture.notice_status().await, NoticeStatus::Dead);
    assert_eq!(
        fixture.get(Some(&session.cookie), "/console/keys").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _, _) = fixture
        .post(
            Some(&session.cookie),
            &format!("/console/keys/{}/revoke", fixture.admin_id),
            &[("csrf", &session.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn a_revoked_keys_session_dies(fixture: Fixture) {
    let reader_session = fixture.sign_in(&fixture.reader).await;
    let admin = fixture.sign_in(&fixture.admin).await;
    let reader_id = dunner::auth::parse_token(&fixture.reader)
        .unwrap()
        .0
        .to_string();
    // The key is in use on the API (so the daemon's key cache holds it) when revoked.
    let api = client()
        .get(fixture.url("/v1/policy"))
        .bearer_auth(&fixture.reader)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    let (status, _, body) = fixture
        .post(
            Some(&admin.cookie),
            &format!("/console/keys/{reader_id}/revoke"),
            &[("csrf", &admin.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (status, location, _) = fixture.get(Some(&reader_session.cookie), "/console").await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/console/sign-in"))
    );
    // And the API refuses the key at once: a revocation through this daemon empties its
    // key cache.
    let api = client()
        .get(fixture.url("/v1/policy"))
        .bearer_auth(&fixture.reader)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    // A session of a key that is revoked elsewhere (the CLI, another daemon) dies too.
    let operator_session = fixture.sign_in(&fixture.operator).await;
    let operator_id = dunner::auth::parse_token(&fixture.operator)
        .unwrap()
        .0
        .to_string();
    assert!(
        fixture
            .app
            .state
            .store
            .revoke_api_key(&operator_id, now())
            .await
            .unwrap()
    );
    let (status, _, _) = fixture
        .get(Some(&operator_session.cookie), "/console/outbox")
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        fixture.sign_in_raw(&fixture.operator, &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_revoked_keys_console_session_dies_at_once_sqlite() {
    a_revoked_keys_session_dies(fixture(sqlite().await).await).await;
}

#[tokio::test]
async fn a_revoked_keys_console_session_dies_at_once_postgres() {
    a_revoked_keys_session_dies(fixture(postgres().await).await).await;
}

#[tokio::test]
async fn an_account_is_found_by_its_exact_phone_or_email_in_a_posted_form() {
    let fixture = fixture(sqlite().await).await;
    let session = fixture.sign_in(&fixture.reader).await;
    for lookup in [
        "C-1001",
        "+12125550100",
        "pat@example.com",
        " pat@example.com ",
    ] {
        let (status, location, _) = fixture
            .post(
                Some(&session.cookie),
                "/console/accounts/find",
                &[("csrf", &session.csrf), ("lookup", lookup)],
            )
            .await;
        assert_eq!(
            (status, location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/console/accounts/C-1001")),
            "{lookup}"
        );
    }
    // Part of a number, or of an address, matches nothing: a lookup, never a listing.
    for lookup in ["+1212555", "example.com", "@"] {
        let (status, _, body) = fixture
            .post(
                Some(&session.cookie),
                "/console/accounts/find",
                &[("csrf", &session.csrf), ("lookup", lookup)],
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("id=\"no-match\""), "{lookup}");
    }
}

// --- in a real browser ---------------------------------------------------------------

use std::os::unix::process::CommandExt as _;

use fantoccini::{Client, ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Headless Chromium driven through chromedriver on a free port, with a fresh profile;
/// chromedriver and the Chromium it started are stopped when this is dropped.
struct Browser {
    client: Client,
    driver: std::process::Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads a process group of its own (`browser`), which its Chromium
        // and Chromium's helpers join: killing the group stops them all, where killing
        // chromedriver alone, or a test that panics before its session is closed, left
        // two browsers running after every `cargo test`.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The browser, or `None` (said loudly; a failure under `CI`) when Debian's chromium or
/// chromium-driver is missing.
async fn browser(test: &str, width: u32, height: u32) -> Option<Browser> {
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        if !std::path::Path::new(path).exists() {
            crate::helpers::skip_loudly(
                test,
                &format!(
                    "{path} is not installed (apt-get install chromium chromium-driver): the console's browser journeys did NOT run ({package} missing)"
                ),
            );
            return None;
        }
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = std::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let profile = tempfile::tempdir().unwrap();
    let args = [
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        "--hide-scrollbars".into(),
        format!("--window-size={width},{height}"),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut capabilities = serde_json::Map::new();
    // A desktop window has a minimum width; a phone's is emulated.
    let options = if width < 600 {
        serde_json::json!({ "binary": CHROMIUM, "args": args, "mobileEmulation": {
            "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0, "mobile": true, "touch": false } } })
    } else {
        serde_json::json!({ "binary": CHROMIUM, "args": args })
    };
    capabilities.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::rustls()
        .unwrap()
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session opens");
    Some(Browser {
        client,
        driver,
        _profile: profile,
    })
}

/// axe-core from the npm registry into `target/axe` (never the repository), installed
/// once when missing; `None` (loudly, or a failure under `CI`) when it cannot be.
fn axe_source(test: &str) -> Option<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/axe");
    let script = dir.join("node_modules/axe-core/axe.min.js");
    if !script.exists() {
        let installed = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&dir)
            .arg("axe-core@4")
            .status()
            .is_ok_and(|status| status.success());
        if !installed || !script.exists() {
            crate::helpers::skip_loudly(
                test,
                "axe-core could not be installed (npm install --prefix target/axe axe-core@4): the accessibility check did NOT run",
            );
            return None;
        }
    }
    Some(std::fs::read_to_string(script).unwrap())
}

/// Runs axe-core on the page shown and fails on any serious or critical violation of
/// WCAG 2 A/AA, naming the rule and the elements.
async fn accessible(client: &Client, axe: &str, page: &str) {
    client.execute(axe, vec![]).await.unwrap();
    let result = client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } })
                  .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" ")) }))))
                  .catch(e => done([{ id: "axe-error", impact: "critical", help: String(e), nodes: [] }]));"#,
            vec![],
        )
        .await
        .unwrap();
    let serious: Vec<&serde_json::Value> = result
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(
        serious.is_empty(),
        "{page}: serious accessibility violations: {serious:#?}"
    );
}

/// An element, waiting up to 10 s for it (a click's navigation may still be under way).
async fn find(client: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match client.find(locator).await {
            Ok(element) => return element,
            Err(error) if std::time::Instant::now() > deadline => {
                panic!("no {locator:?}: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The text of an element, waiting up to 10 s for it (a click's navigation may still be
/// under way).
async fn text(client: &Client, css: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match client.find(Locator::Css(css)).await {
            Ok(element) => return element.text().await.unwrap(),
            Err(error) if std::time::Instant::now() > deadline => panic!("no `{css}`: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits up to 10 s for the browser to show `expected` (a path).
async fn arrive(client: &Client, expected: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now_at = path(client).await;
        if now_at == expected
            && client
                .execute("return document.readyState", vec![])
                .await
                .unwrap()
                == "complete"
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the browser is at {now_at}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn path(client: &Client) -> String {
    client.current_url().await.unwrap().path().to_string()
}

#[tokio::test]
async fn in_a_browser_a_person_signs_in_finds_an_account_reads_a_citation_and_the_heat_map_retries_a_dead_notice_and_signs_out()
 {
    const TEST: &str = "in_a_browser_a_person_signs_in_finds_an_account_reads_a_citation_and_the_heat_map_retries_a_dead_notice_and_signs_out";
    let Some(browser) = browser(TEST, 1280, 900).await else {
        return;
    };
    let axe = axe_source(TEST);
    let fixture = fixture(sqlite().await).await;
    let client = &browser.client;

    // Signed out, the console leads to the sign-in page.
    client.goto(&fixture.url("/")).await.unwrap();
    arrive(client, "/console/sign-in").await;
    if let Some(axe) = &axe {
        accessible(client, axe, "sign-in").await;
    }
    // A wrong key is refused, saying so.
    find(client, Locator::Id("token"))
        .await
        .send_keys("dunner_wrong_key")
        .await
        .unwrap();
    find(client, Locator::Id("sign-in"))
        .await
        .click()
        .await
        .unwrap();
    assert!(text(client, "#sign-in-error").await.contains("unknown"));
    // The operator's key signs in, to the overview.
    find(client, Locator::Id("token"))
        .await
        .send_keys(&fixture.operator)
        .await
        .unwrap();
    find(client, Locator::Id("sign-in"))
        .await
        .click()
        .await
        .unwrap();
    arrive(client, "/console").await;
    assert_eq!(text(client, "h1").await, "Overview");
    assert_eq!(
        text(client, "#digest").await,
        fixture.app.state.policy.current().digest()
    );
    if let Some(axe) = &axe {
        accessible(client, axe, "overview").await;
    }

    // Look up the account by the consumer's phone, through the navigation.
    find(client, Locator::LinkText("Accounts"))
        .await
        .click()
        .await
        .unwrap();
    if let Some(axe) = &axe {
        accessible(client, axe, "accounts").await;
    }
    find(client, Locator::Id("lookup"))
        .await
        .send_keys("+12125550100")
        .await
        .unwrap();
    find(client, Locator::Id("find"))
        .await
        .click()
        .await
        .unwrap();
    arrive(client, "/console/accounts/C-1001").await;
    assert!(
        !client.current_url().await.unwrap().as_str().contains("555"),
        "no phone in the URL"
    );
    assert_eq!(text(client, "h1").await, "Account C-1001");

    // Read a refusal's citation: the email row is refused (the consumer opted out).
    let refused = find(client, Locator::XPath(
            "//table[@id='verdicts']//tr[contains(@class,'refused')][td[1][normalize-space()='email']]",
        ))
        .await;
    assert!(refused.text().await.unwrap().contains("email"));
    let summary = refused.find(Locator::Css("details summary")).await.unwrap();
    summary.click().await.unwrap();
    let citation = refused.find(Locator::Css("cite.citation")).await.unwrap();
    assert!(
        citation.is_displayed().await.unwrap(),
        "the citation shows once opened"
    );
    assert!(
        citation.text().await.unwrap().contains("1006.14(h)"),
        "{}",
        citation.text().await.unwrap()
    );
    // Not everything is refused: some channel may be used now.
    let allowed = client
        .find_all(Locator::Css("#verdicts tr.allowed"))
        .await
        .unwrap();
    assert!(!allowed.is_empty(), "{}", text(client, "#verdicts").await);

    // The heat map: seven days of 24 hours, some hours wholly allowed, the nights not.
    let heat = find(client, Locator::Id("heatmap")).await;
    assert_eq!(
        heat.find_all(Locator::Css("tbody tr")).await.unwrap().len(),
        7
    );
    assert_eq!(
        heat.find_all(Locator::Css("tbody td")).await.unwrap().len(),
        7 * 24
    );
    assert!(
        !heat
            .find_all(Locator::Css("td.h4"))
            .await
            .unwrap()
            .is_empty(),
        "some hours are open"
    );
    assert!(
        !heat
            .find_all(Locator::Css("td.h0"))
            .await
            .unwrap()
            .is_empty(),
        "some hours are shut"
    );
    // Another channel's map, by the form under it.
    find(client, Locator::Css("#channel option[value='sms']"))
        .await
        .click()
        .await
        .unwrap();
    find(client, Locator::Css("#h-heat + form button"))
        .await
        .click()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .ends_with("channel=sms")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the channel form did not submit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(text(client, "#heatmap caption").await.starts_with("sms"));
    if let Some(axe) = &axe {
        accessible(client, axe, "account").await;
    }

    // Retry the dead notice.
    find(client, Locator::LinkText("Outbox"))
        .await
        .click()
        .await
        .unwrap();
    if let Some(axe) = &axe {
        accessible(client, axe, "outbox").await;
    }
    let dead_rows = text(client, "#notices-dead").await;
    assert!(dead_rows.contains(&fixture.dead) && dead_rows.contains("410 Gone"));
    find(client, Locator::Css("#notices-dead button.retry"))
        .await
        .click()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .ends_with("?retried=1")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the retry did not come back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    arrive(client, "/console/outbox").await;
    assert_eq!(fixture.notice_status().await, NoticeStatus::Pending);
    assert!(
        client.find(Locator::Id("notices-dead")).await.is_err(),
        "no dead letter is left"
    );

    // The other main pages are readable and accessible too.
    for (link, heading) in [
        ("Policy", "Policy"),
        ("Decisions", "Decisions"),
        ("Reports", "Reports"),
        ("Audit", "Audit"),
    ] {
        find(client, Locator::LinkText(link))
            .await
            .click()
            .await
            .unwrap();
        assert_eq!(text(client, "h1").await, heading);
        if let Some(axe) = &axe {
            accessible(client, axe, link).await;
        }
    }

    // Sign out, and be refused afterwards.
    find(client, Locator::Id("sign-out"))
        .await
        .click()
        .await
        .unwrap();
    arrive(client, "/console/sign-in").await;
    client.goto(&fixture.url("/console/outbox")).await.unwrap();
    arrive(client, "/console/sign-in").await;
    client
        .goto(&fixture.url("/console/accounts/C-1001"))
        .await
        .unwrap();
    arrive(client, "/console/sign-in").await;
    assert!(!client.source().await.unwrap().contains("+12125550100"));
}

#[tokio::test]
async fn in_a_browser_the_keyboard_reaches_the_content_and_every_form_control_has_a_label() {
    const TEST: &str =
        "in_a_browser_the_keyboard_reaches_the_content_and_every_form_control_has_a_label";
    let Some(browser) = browser(TEST, 390, 844).await else {
        return;
    };
    let fixture = fixture(sqlite().await).await;
    let client = &browser.client;
    client.goto(&fixture.url("/console/sign-in")).await.unwrap();
    // At a phone's width, the sign-in field fits the screen.
    let width: f64 = client
        .execute(
            "return document.getElementById('token').getBoundingClientRect().right;",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(width <= 390.0, "the field ends at {width}px");
    // Tab from the top: the first stop is the skip link.
    find(client, Locator::Css("body"))
        .await
        .send_keys("\u{E004}")
        .await
        .unwrap();
    let focused = client
        .execute("return document.activeElement.textContent;", vec![])
        .await
        .unwrap();
    assert_eq!(focused.as_str(), Some("Skip to the content"));
    let token = find(client, Locator::Id("token")).await;
    token.send_keys(&fixture.reader).await.unwrap();
    token.send_keys("\u{E007}").await.unwrap(); // Enter submits.
    arrive(client, "/console").await;
    for page in [
        "/console/accounts",
        "/console/decisions",
        "/console/audit",
        "/console/policy",
    ] {
        client.goto(&fixture.url(page)).await.unwrap();
        let unlabelled = client
            .execute(
                "return [...document.querySelectorAll('input:not([type=hidden]), select')].filter(e => !(e.labels && e.labels.length)).map(e => e.name);",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(unlabelled, serde_json::json!([]), "{page}");
        let overflow: f64 = client
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
            .await
            .unwrap()
            .as_f64()
            .unwrap();
        assert!(
            overflow <= 0.0,
            "{page} scrolls sideways by {overflow}px at 390px"
        );
    }
}

/// Writes the README's pictures of the main pages at 1280 px and 390 px into
/// `docs/console/`: `cargo test --test it console_screenshots -- --ignored`.
#[tokio::test]
#[ignore = "writes docs/console/*.png; run on purpose"]
async fn console_screenshots() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console");
    std::fs::create_dir_all(&out).unwrap();
    let fixture = fixture(sqlite().await).await;
    for channel in ["call", "email"] {
        client()
            .post(fixture.url("/v1/decisions"))
            .bearer_auth(&fixture.reader)
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"account_id": "C-1001", "channel": "{channel}"}}"#
            ))
            .send()
            .await
            .unwrap();
    }
    for (width, height) in [(1280, 1000), (390, 844)] {
        let Some(browser) = browser("console_screenshots", width, height).await else {
            panic!("console_screenshots needs chromium and chromium-driver");
        };
        let client = &browser.client;
        client.goto(&fixture.url("/console/sign-in")).await.unwrap();
        client
            .screenshot()
            .await
            .map(|png| std::fs::write(out.join(format!("sign-in-{width}.png")), png))
            .unwrap()
            .unwrap();
        find(client, Locator::Id("token"))
            .await
            .send_keys(&fixture.admin)
            .await
            .unwrap();
        find(client, Locator::Id("sign-in"))
            .await
            .click()
            .await
            .unwrap();
        for (name, page) in [
            ("overview", "/console"),
            ("account", "/console/accounts/C-1001"),
            ("policy", "/console/policy"),
            (
                "decisions",
                "/console/decisions?from=2026-04-07&to=2026-04-07",
            ),
            ("outbox", "/console/outbox"),
            ("keys", "/console/keys"),
        ] {
            client.goto(&fixture.url(page)).await.unwrap();
            if name == "account" && width >= 1280 {
                // The refusal's reasons, opened.
                if let Ok(summary) = client
                    .find(Locator::Css("#verdicts tr.refused summary"))
                    .await
                {
                    summary.click().await.unwrap();
                }
            }
            let png = client.screenshot().await.unwrap();
            std::fs::write(out.join(format!("{name}-{width}.png")), png).unwrap();
        }
    }
}

// --- API keys: expiry, last use, the CLI ----------------------------------------------

async fn keys_expire_and_note_their_last_use(test: TestStore) {
    let store = &test.store;
    let (token, id) = key(store, "dialer", &[Scope::Decide]).await;
    assert!(!token.is_empty());
    let t0 = now();
    let live = |at| dunner::service::api_key(store, &id, at);
    assert!(live(t0).await.unwrap().is_some());
    let listed = |store: &Store| {
        let store = store.clone();
        let id = id.clone();
        async move {
            store
                .list_api_keys()
                .await
                .unwrap()
                .into_iter()
                .find(|key| key.id == id)
                .unwrap()
        }
    };
    assert_eq!(listed(store).await.last_used_at, Some(t0));
    // Within the minute, no write; after it, one.
    live(t0 + chrono::TimeDelta::seconds(30)).await.unwrap();
    assert_eq!(listed(store).await.last_used_at, Some(t0));
    let later = t0 + chrono::TimeDelta::seconds(61);
    live(later).await.unwrap();
    assert_eq!(listed(store).await.last_used_at, Some(later));
    // An expiry: live until then, refused from then on.
    let until = t0 + chrono::TimeDelta::hours(1);
    assert!(store.set_api_key_expiry(&id, Some(until)).await.unwrap());
    assert!(
        live(until - chrono::TimeDelta::seconds(1))
            .await
            .unwrap()
            .is_some()
    );
    assert!(live(until).await.unwrap().is_none());
    let listing = listed(store).await;
    assert_eq!(listing.expires_at, Some(until));
    assert_eq!(listing.scopes, vec!["decide".to_string()]);
    // Revoked: refused even before the expiry, and only once.
    assert!(store.revoke_api_key(&id, t0).await.unwrap());
    assert!(!store.revoke_api_key(&id, t0).await.unwrap());
    assert!(live(t0).await.unwrap().is_none());
    assert!(listed(store).await.revoked_at.is_some());
    assert!(!store.set_api_key_expiry("nope", None).await.unwrap());
}

#[tokio::test]
async fn api_keys_expire_and_note_their_last_use_at_most_once_a_minute_sqlite() {
    keys_expire_and_note_their_last_use(sqlite().await).await;
}

#[tokio::test]
async fn api_keys_expire_and_note_their_last_use_at_most_once_a_minute_postgres() {
    keys_expire_and_note_their_last_use(postgres().await).await;
}

async fn sessions_live_until_they_expire_and_end_when_deleted(test: TestStore) {
    let store = &test.store;
    let t0 = now();
    let until = t0 + chrono::TimeDelta::hours(8);
    store
        .create_console_session("hash-a", "key-a", t0, until)
        .await
        .unwrap();
    let session = store.console_session("hash-a", t0).await.unwrap().unwrap();
    assert_eq!(
        (session.key_id.as_str(), session.expires_at),
        ("key-a", until)
    );
    assert!(
        store
            .console_session("hash-a", until)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.console_session("hash-b", t0).await.unwrap().is_none());
    // Opening another session clears the expired ones.
    store
        .create_console_session(
            "hash-b",
            "key-b",
            until,
            until + chrono::TimeDelta::hours(8),
        )
        .await
        .unwrap();
    assert!(store.console_session("hash-a", t0).await.unwrap().is_none());
    store.delete_console_session("hash-b").await.unwrap();
    assert!(
        store
            .console_session("hash-b", until)
            .await
            .unwrap()
            .is_none()
    );
    store.delete_console_session("hash-b").await.unwrap();
}

#[tokio::test]
async fn console_sessions_live_until_they_expire_and_end_when_deleted_sqlite() {
    sessions_live_until_they_expire_and_end_when_deleted(sqlite().await).await;
}

#[tokio::test]
async fn console_sessions_live_until_they_expire_and_end_when_deleted_postgres() {
    sessions_live_until_they_expire_and_end_when_deleted(postgres().await).await;
}

#[tokio::test]
async fn an_expired_key_is_refused_by_the_api_and_the_console_at_once() {
    let fixture = fixture(sqlite().await).await;
    let session = fixture.sign_in(&fixture.reader).await;
    let (id, _) = dunner::auth::parse_token(&fixture.reader).unwrap();
    let api = |token: String| {
        client()
            .get(fixture.url("/v1/policy"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        api(fixture.reader.clone()).await.unwrap().status(),
        StatusCode::OK
    );
    assert!(
        fixture
            .app
            .state
            .store
            .set_api_key_expiry(id, Some(now()))
            .await
            .unwrap()
    );
    // Expired by a write to the ledger outside the daemon's API (as `dunner keys` or
    // another daemon would): the API refuses it once the key cache forgets the key it
    // read, within `KEY_CACHE_TTL` (this fixture's clock stands still, so the test
    // empties the cache as the bound's end would; the bound itself is tested in
    // store_conformance::the_key_cache_never_outlives_a_revocation_or_an_expiry).
    fixture.app.state.key_cache.forget_all();
    assert_eq!(
        api(fixture.reader.clone()).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, location, _) = fixture.get(Some(&session.cookie), "/console").await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/console/sign-in"))
    );
}

#[test]
fn dunner_keys_creates_with_an_expiry_lists_without_secrets_and_revokes() {
    use crate::helpers::dunner;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("keys.db").display());
    let created = dunner(
        &[
            "keys",
            "create",
            "--name",
            "letter vendor",
            "--scope",
            "decide",
            "--expires-in",
            "30",
            "--database",
            &database,
        ],
        None,
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    let (id, secret) = dunner::auth::parse_token(&token).unwrap();
    assert!(String::from_utf8_lossy(&created.stderr).contains(", until "));

    let listed = dunner(&["keys", "list", "--database", &database], None);
    assert!(listed.status.success());
    let table = String::from_utf8(listed.stdout).unwrap();
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.contains("letter vendor") && table.contains(id) && table.contains("live"),
        "{table}"
    );
    assert!(table.contains("never"), "never used: {table}");
    assert!(!table.contains(secret), "the secret is never listed");
    let json = dunner(&["keys", "list", "--json", "--database", &database], None);
    let key: serde_json::Value = serde_json::from_str(
        String::from_utf8(json.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(key["id"], id);
    assert!(key["expires_at"].is_string());
    assert!(key.get("secret_hash").is_none());

    let revoked = dunner(&["keys", "revoke", id, "--database", &database], None);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let table =
        String::from_utf8(dunner(&["keys", "list", "--database", &database], None).stdout).unwrap();
    assert!(table.contains("revoked"), "{table}");
    let again = dunner(&["keys", "revoke", id, "--database", &database], None);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains(id));

    let bad = dunner(
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--scope",
            "decide",
            "--expires-at",
            "tomorrow",
            "--database",
            &database,
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--expires-at"));
}

async fn decisions_are_searched_across_accounts(fixture: Fixture) {
    for channel in ["email", "sms"] {
        let response = client()
            .post(fixture.url("/v1/decisions"))
            .bearer_auth(&fixture.reader)
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"account_id": "C-1001", "channel": "{channel}"}}"#
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let session = fixture.sign_in(&fixture.reader).await;
    let search = |query: &'static str| fixture.get(Some(&session.cookie), query);
    let (status, _, all) = search("/console/decisions?from=2026-04-07&to=2026-04-07").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        all.matches("<tr>").count() - 1,
        2,
        "two decisions, one header row: {all}"
    );
    let (_, _, stopped) =
        search("/console/decisions?outcome=stop&from=2026-04-07&to=2026-04-07").await;
    assert_eq!(stopped.matches("<tr>").count() - 1, 1, "{stopped}");
    assert!(stopped.contains("1006.14(h)") && stopped.contains("C-1001"));
    let (_, _, by_rule) = search(
        "/console/decisions?rule=reg-f.prohibited-electronic-medium&from=2026-04-07&to=2026-04-07",
    )
    .await;
    assert!(by_rule.contains("1006.14(h)"), "{by_rule}");
    let (_, _, other_day) = search("/console/decisions?from=2026-04-06&to=2026-04-06").await;
    assert!(other_day.contains("No decisions."), "{other_day}");
    let (_, _, other_account) =
        search("/console/decisions?account=C-9&from=2026-04-07&to=2026-04-07").await;
    assert!(other_account.contains("No decisions."));
    let (status, _, _) = search("/console/decisions?outcome=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn decisions_are_searched_across_accounts_by_period_rule_and_outcome_sqlite() {
    decisions_are_searched_across_accounts(fixture(sqlite().await).await).await;
}

#[tokio::test]
async fn decisions_are_searched_across_accounts_by_period_rule_and_outcome_postgres() {
    decisions_are_searched_across_accounts(fixture(postgres().await).await).await;
}

#[tokio::test]
async fn console_requests_are_counted_and_logged_by_their_route_template_never_their_path() {
    let fixture = fixture(sqlite().await).await;
    let session = fixture.sign_in(&fixture.reader).await;
    fixture
        .get(Some(&session.cookie), "/console/accounts/C-1001")
        .await;
    fixture
        .post(
            Some(&session.cookie),
            "/console/accounts/find",
            &[("csrf", &session.csrf), ("lookup", "+12125550100")],
        )
        .await;
    // The request layer counts (and logs, on the same labels) every request by its
    // matched route template: the account id and the phone appear in neither.
    let metrics = client()
        .get(fixture.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"route="/console/accounts/{id}""#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/console/accounts/find""#));
    assert!(!metrics.contains("C-1001") && !metrics.contains("2125550100"));
}

#[tokio::test]
async fn a_key_of_the_configuration_file_signs_in_with_its_scopes() {
    const TOKEN: &str = "dunner_cfgkey_0123456789abcdef0123456789abcdef";
    let key: dunner::config::ConfiguredKey = toml::from_str(&format!(
        "name = \"night shift\"\ntoken = \"{TOKEN}\"\nscopes = [\"decide\"]\n"
    ))
    .unwrap();
    let app = TestApp::spawn_with(sqlite().await, |config| config.keys = vec![key]).await;
    let fixture = Fixture {
        app,
        reader: String::new(),
        operator: String::new(),
        admin: String::new(),
        admin_id: String::new(),
        dead: String::new(),
    };
    let session = fixture.sign_in(TOKEN).await;
    let (status, _, page) = fixture.get(Some(&session.cookie), "/console").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("night shift"), "the key's name is shown");
    assert_eq!(
        fixture.get(Some(&session.cookie), "/console/keys").await.0,
        StatusCode::FORBIDDEN,
        "decide only"
    );
    let wrong_secret = fixture
        .sign_in_raw("dunner_cfgkey_0123456789abcdef0123456789abcdee", &[])
        .await;
    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
}

/// Records (issue 16): an admin places a legal hold on an account from the console, sees
/// it listed with the purge report, and releases it; a reader may not.
async fn legal_holds_are_placed_and_released_in_the_console(fixture: Fixture) {
    let session = fixture.sign_in(&fixture.admin).await;
    let (status, location, body) = fixture
        .post(
            Some(&session.cookie),
            "/console/records/holds",
            &[
                ("csrf", &session.csrf),
                ("scope", "account"),
                ("target", "C-1001"),
                ("kind", "litigation"),
                ("reason", "case 26-cv-77"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let location = location.unwrap();
    assert!(
        location.starts_with("/console/records?placed=hold-"),
        "{location}"
    );
    let (_, _, page) = fixture.get(Some(&session.cookie), &location).await;
    assert!(
        page.contains("case 26-cv-77") && page.contains("in force"),
        "{page}"
    );
    assert!(page.contains("Nothing purged yet."));
    let holds = fixture.app.state.store.holds(false).await.unwrap();
    assert_eq!(holds.len(), 1);
    let (status, _, body) = fixture
        .post(
            Some(&session.cookie),
            "/console/records/holds",
            &[
                ("csrf", &session.csrf),
                ("scope", "account"),
                ("target", "NOPE-1"),
                ("kind", "dispute"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let reader = fixture.sign_in(&fixture.reader).await;
    let release = format!("/console/records/holds/{}/release", holds[0].id);
    let (status, _, _) = fixture
        .post(Some(&reader.cookie), &release, &[("csrf", &reader.csrf)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, location, _) = fixture
        .post(Some(&session.cookie), &release, &[("csrf", &session.csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/console/records?released=1"));
    assert!(
        fixture
            .app
            .state
            .store
            .holds(false)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn legal_holds_are_placed_and_released_in_the_console_sqlite() {
    legal_holds_are_placed_and_released_in_the_console(fixture(sqlite().await).await).await;
}

#[tokio::test]
async fn legal_holds_are_placed_and_released_in_the_console_postgres() {
    legal_holds_are_placed_and_released_in_the_console(fixture(postgres().await).await).await;
}

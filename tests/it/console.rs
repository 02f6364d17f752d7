//! The web console (`/console`): plain HTTP tests of its guards (signed-out refusal of
//! every page and action, CSRF, scopes, revoked keys, the cookie's flags) on both
//! stores, and the journeys of a person in a real headless Chromium driven through
//! WebDriver (`fantoccini` + Debian's `chromium-driver`), with an axe-core
//! accessibility check of each main page. `console_screenshots` (ignored; run it with
//! `cargo test --test it console_screenshots -- --ignored`) writes the README's
//! pictures into `docs/console/`.

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
    "/console/audit?run=1",
    "/console/keys",
];

fn actions(fixture: &Fixture) -> Vec<String> {
    vec![
        "/console/sign-out".into(),
        "/console/accounts/find".into(),
        format!("/console/outbox/{}/retry", fixture.dead),
        format!("/console/keys/{}/revoke", fixture.admin_id),
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
    // And the API refuses the key at once.
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

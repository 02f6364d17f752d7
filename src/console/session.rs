//! Signing in and out, and who a request is from.
//!
//! Sign-in takes an API key (the token a person was given), checks it as the API does,
//! and opens a session: 244 random bits in a cookie, only their SHA-256 in the ledger
//! (`console_sessions`), so a copy of the ledger opens no session and several daemons
//! sharing a PostgreSQL ledger share the sessions. Each request finds the session and
//! re-checks its key: a key revoked or expired since (on any daemon) ends the session.
//!
//! Forms carry a CSRF token derived from the session id (the SHA-256 of
//! `csrf:<id>`): it changes with every session, is never stored, and a page of another
//! site can neither read it nor (SameSite=Strict) send the cookie along. A POST whose
//! `Origin` names another host is refused too.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use minijinja::context;

use super::{Console, Refusal};
use crate::auth::{Access, Scope, allows, hash_secret, parse_token, verify};
use crate::http::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "dunner_console";

/// The signed-in person behind a request: the key they signed in with and what it may
/// do, as re-checked for this request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The key's id.
    pub key_id: String,
    /// The key's name.
    pub name: String,
    /// What the key may do now.
    pub scopes: Vec<Scope>,
    /// Whose accounts the key reaches now.
    pub access: Access,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The hash of the session id (what the ledger keeps).
    id_hash: String,
}

impl Viewer {
    /// Whether the key may do what needs `scope`.
    pub fn may(&self, scope: Scope) -> bool {
        allows(&self.scopes, scope)
    }

    /// Refuses unless the key has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), Refusal> {
        if self.may(scope) {
            Ok(())
        } else {
            Err(Refusal::Forbidden(scope))
        }
    }

    /// Refuses a page over the whole ledger (the shadow report, the audit, key management) to a
    /// key limited to clients.
    pub fn require_every_client(&self) -> Result<(), Refusal> {
        match self.access.clients() {
            None => Ok(()),
            Some(_) => Err(Refusal::OutsideClients),
        }
    }

    /// Refuses an account out of the key's reach as a missing one.
    pub async fn require_account(&self, state: &AppState, id: &str) -> Result<(), Refusal> {
        match crate::service::visible_account(&state.store, &self.access, id).await {
            Ok(()) => Ok(()),
            Err(crate::store::StoreError::AccountNotFound(_)) => {
                Err(Refusal::NotFound(format!("account `{id}` does not exist")))
            }
            Err(error) => Err(Refusal::Store(error)),
        }
    }

    /// Refuses a form without this session's CSRF token.
    pub fn check_form(&self, form: &HashMap<String, String>) -> Result<(), Refusal> {
        match form.get("csrf") {
            Some(token) if token.len() == self.csrf.len() && constant_eq(token, &self.csrf) => {
                Ok(())
            }
            _ => Err(Refusal::Forgery),
        }
    }
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.bytes()
        .zip(b.bytes())
        .fold(0u8, |difference, (x, y)| difference | (x ^ y))
        == 0
}

/// The CSRF token of a session id.
fn csrf_token(session_id: &str) -> String {
    hash_secret(&format!("csrf:{session_id}"))
}

/// The session id the request's cookie carries.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// Whether a POST comes from another site (its `Origin` names another host).
fn cross_site(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

/// The scopes and name of a key that is still live, found by id: a key of the
/// configuration file, else one of the ledger (neither revoked nor expired).
async fn live_key(
    state: &AppState,
    key_id: &str,
) -> Result<Option<(String, Vec<Scope>, Access)>, Refusal> {
    if let Some(key) = state.config_keys.iter().find(|key| key.id == key_id) {
        return Ok(Some((
            key.name.clone(),
            key.scopes.clone(),
            key.access.clone(),
        )));
    }
    let now = state.clock.now();
    let Some(key) = crate::service::api_key(&state.store, key_id, now).await? else {
        return Ok(None);
    };
    // The name is for the header only; a listing failure must not sign anyone out.
    let name = state
        .store
        .list_api_keys()
        .await
        .ok()
        .and_then(|keys| keys.into_iter().find(|key| key.id == key_id))
        .map_or_else(|| key_id.to_string(), |key| key.name);
    Ok(Some((name, key.scopes, key.access)))
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Viewer, Refusal> {
        let signed_out = if parts.method == Method::GET || parts.method == Method::HEAD {
            Refusal::SignIn
        } else {
            Refusal::SignedOut
        };
        if parts.method == Method::POST && cross_site(&parts.headers) {
            return Err(Refusal::Forgery);
        }
        let Some(session_id) = session_id(&parts.headers) else {
            return Err(signed_out);
        };
        let id_hash = hash_secret(&session_id);
        let Some(session) = state
            .store
            .console_session(&id_hash, state.clock.now())
            .await?
        else {
            return Err(signed_out);
        };
        let Some((name, scopes, access)) = live_key(state, &session.key_id).await? else {
            // The key was revoked or expired: the session dies with it.
            state.store.delete_console_session(&id_hash).await?;
            return Err(signed_out);
        };
        Ok(Viewer {
            key_id: session.key_id,
            name,
            scopes,
            access,
            csrf: csrf_token(&session_id),
            id_hash,
        })
    }
}

/// `GET /console/sign-in`.
pub async fn sign_in_page(Extension(console): Extension<Arc<Console>>) -> Response {
    console.render("sign_in.html", context! { section => "sign-in" })
}

/// `POST /console/sign-in` with `token`: a valid key opens a session.
pub async fn sign_in(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if cross_site(&headers) {
        return Refusal::Forgery.into_response();
    }
    let refused = |message: &str| {
        let mut response = console.render(
            "sign_in.html",
            context! { section => "sign-in", error => message },
        );
        *response.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        response
    };
    let token = form.get("token").map(String::as_str).unwrap_or("");
    let Some((id, secret)) = parse_token(token) else {
        return refused("That is not an API key (it starts with dunner_).");
    };
    let valid = match state.config_keys.iter().find(|key| key.id == id) {
        Some(key) => key.verify(secret) && !key.scopes.is_empty(),
        None => match crate::service::api_key(&state.store, id, state.clock.now()).await {
            Ok(Some(key)) => verify(secret, &key.secret_hash) && !key.scopes.is_empty(),
            Ok(None) => false,
            Err(error) => return Refusal::Store(error).into_response(),
        },
    };
    if !valid {
        return refused("The key is unknown, revoked or expired.");
    }
    let session_id = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let now = state.clock.now();
    let ttl = chrono::TimeDelta::from_std(console.settings.session_ttl)
        .unwrap_or(chrono::TimeDelta::hours(8));
    let expires_at = now + ttl;
    if let Err(error) = state
        .store
        .create_console_session(&hash_secret(&session_id), id, now, expires_at)
        .await
    {
        return Refusal::Store(error).into_response();
    }
    tracing::info!(key = id, "console sign-in");
    let secure = console.settings.secure_cookie || forwarded_https(&headers);
    let cookie = format!(
        "{SESSION_COOKIE}={session_id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{}",
        ttl.num_seconds(),
        if secure { "; Secure" } else { "" }
    );
    with_cookie(Redirect::to("/console").into_response(), &cookie)
}

/// `POST /console/sign-out`: the session is deleted from the ledger and the cookie
/// cleared.
pub async fn sign_out(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    viewer.check_form(&form)?;
    state.store.delete_console_session(&viewer.id_hash).await?;
    let cookie = format!("{SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(with_cookie(
        Redirect::to("/console/sign-in").into_response(),
        &cookie,
    ))
}

/// Whether a proxy in front says the request came over HTTPS.
fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; dunner_console=abc ; b=2"),
        );
        assert_eq!(session_id(&headers).as_deref(), Some("abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("dunner_console="));
        assert_eq!(session_id(&headers), None);
    }

    #[test]
    fn a_post_from_another_origin_is_cross_site() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!cross_site(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_site(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(cross_site(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_site(&headers));
    }

    #[test]
    fn the_csrf_token_differs_per_session() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a"), csrf_token("a"));
    }
}

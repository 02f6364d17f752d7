//! The console's forms: finding an account (POSTed, so a phone number or an email never
//! lands in a URL or a log), retrying a dead notice (`record`), revoking a key
//! (`admin`). Each checks the session's CSRF token first.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use minijinja::context;

use super::session::Viewer;
use super::{Console, Refusal, page_context};
use crate::auth::Scope;
use crate::http::AppState;
use crate::records::{HoldKind, HoldScope};
use crate::service::ServiceError;
use crate::service::records::{self, RecordsError};
use crate::store::StoreError;

type Page = Result<Response, Refusal>;

/// `POST /console/accounts/find` with `lookup`: an account id, or a phone number or
/// email address matched exactly against the consumers' contact points. One match
/// opens the account; several (one consumer's debts) are listed; none says so.
pub async fn find_account(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    viewer: Viewer,
    Form(form): Form<HashMap<String, String>>,
) -> Page {
    viewer.check_form(&form)?;
    viewer.require(Scope::Decide)?;
    let lookup = form.get("lookup").map(|text| text.trim()).unwrap_or("");
    if lookup.is_empty() {
        return Err(Refusal::Invalid(
            "`lookup`: give an account id, a phone number or an email address".into(),
        ));
    }
    let looks_like_id = !lookup.contains('@') && !lookup.starts_with('+');
    if looks_like_id
        && state.store.account_exists(lookup).await?
        && viewer.require_account(&state, lookup).await.is_ok()
    {
        return Ok(Redirect::to(&account_path(lookup)).into_response());
    }
    // Another client's accounts are not found (a limited key).
    let mut ids = Vec::new();
    for id in state.store.accounts_by_contact_point(lookup).await? {
        if viewer.require_account(&state, &id).await.is_ok() {
            ids.push(id);
        }
    }
    if let [id] = ids.as_slice() {
        return Ok(Redirect::to(&account_path(id)).into_response());
    }
    let page = context! {
        title => "Find an account",
        matches => ids,
        searched => true,
    };
    Ok(console.render("accounts.html", page_context(&viewer, "accounts", page)))
}

/// The console path of an account.
fn account_path(id: &str) -> String {
    format!("/console/accounts/{}", super::url_part(id))
}

/// `POST /console/outbox/{id}/retry` (record): a dead or cancelled notice goes out again
/// through `service::retry_notice` (the policy is checked again before it leaves).
pub async fn retry_notice(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Page {
    viewer.check_form(&form)?;
    viewer.require(Scope::Record)?;
    if crate::service::visible_notice(&state.store, &viewer.access, &id)
        .await?
        .is_none()
    {
        return Err(Refusal::NotFound(format!("notice `{id}` does not exist")));
    }
    match crate::service::retry_notice(&state.store, &id, state.clock.now()).await {
        Ok(_) => {
            state.notices_wake.notify_one();
            tracing::info!(notice = %id, key = %viewer.key_id, "console: notice replayed");
            Ok(Redirect::to("/console/outbox?retried=1").into_response())
        }
        Err(ServiceError::Store(StoreError::NoticeNotFound(_))) => {
            Err(Refusal::NotFound(format!("notice `{id}` does not exist")))
        }
        Err(ServiceError::Store(error)) => Err(Refusal::Store(error)),
        Err(error) => Err(Refusal::Invalid(error.to_string())),
    }
}

/// `POST /console/keys/{id}/revoke` (admin): the key is refused from now on by this
/// daemon, within `service::KEY_CACHE_TTL` by every other daemon sharing the ledger, and
/// its sessions end.
pub async fn revoke_key(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Page {
    viewer.check_form(&form)?;
    viewer.require(Scope::Admin)?;
    viewer.require_every_client()?;
    let revoked = state.store.revoke_api_key(&id, state.clock.now()).await;
    // Forgotten whatever the answer: a revocation that may have committed takes effect.
    state.key_cache.forget_all();
    if !revoked? {
        return Err(Refusal::NotFound(format!(
            "no live stored key has the id `{id}`"
        )));
    }
    tracing::info!(revoked = %id, key = %viewer.key_id, "console: API key revoked");
    Ok(Redirect::to("/console/keys").into_response())
}

/// `POST /console/records/holds` (admin) with `scope`, `target`, `kind` and `reason`:
/// places a legal hold through `service::records`.
pub async fn place_hold(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<HashMap<String, String>>,
) -> Page {
    viewer.check_form(&form)?;
    viewer.require(Scope::Admin)?;
    viewer.require_every_client()?;
    let field = |name: &str| form.get(name).map(|text| text.trim()).unwrap_or("");
    let scope = HoldScope::parse(field("scope"))
        .ok_or_else(|| Refusal::Invalid("`scope`: account or client".into()))?;
    let kind = HoldKind::parse(field("kind"))
        .ok_or_else(|| Refusal::Invalid("`kind`: litigation, dispute or regulator".into()))?;
    let hold = records::place_hold(
        &state.store,
        scope,
        field("target"),
        kind,
        field("reason"),
        state.clock.now(),
    )
    .await
    .map_err(records_refusal)?;
    tracing::info!(hold = %hold.id, key = %viewer.key_id, "console: legal hold placed");
    Ok(Redirect::to(&format!(
        "/console/records?placed={}",
        super::url_part(&hold.id)
    ))
    .into_response())
}

/// `POST /console/records/holds/{id}/release` (admin).
pub async fn release_hold(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Page {
    viewer.check_form(&form)?;
    viewer.require(Scope::Admin)?;
    viewer.require_every_client()?;
    records::release_hold(&state.store, &id, state.clock.now())
        .await
        .map_err(records_refusal)?;
    tracing::info!(hold = %id, key = %viewer.key_id, "console: legal hold released");
    Ok(Redirect::to("/console/records?released=1").into_response())
}

fn records_refusal(error: RecordsError) -> Refusal {
    match error {
        RecordsError::Invalid { field, message } => {
            Refusal::Invalid(format!("`{field}`: {message}"))
        }
        RecordsError::HoldNotFound(_) => Refusal::NotFound(error.to_string()),
        RecordsError::HoldReleased(_) => Refusal::Invalid(error.to_string()),
        RecordsError::Store(StoreError::AccountNotFound(id)) => {
            Refusal::NotFound(format!("account `{id}` does not exist"))
        }
        RecordsError::Store(error) => Refusal::Store(error),
    }
}

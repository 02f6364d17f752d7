//! Accounts: create or replace one (`PUT`), many at once (the bulk import, all or
//! none), read one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::body::{
    AccountIdPath, JsonBody, MAX_BULK_BODY_BYTES, NewAccountIdPath, idempotency_key, mark_replayed,
};
use super::dto::{BulkAccounts, BulkUpserted};
use super::error::ApiError;
use super::responses::{
    BadRequest, Forbidden, Internal, NotFound, TooLarge, Unauthorized, Unavailable, Unprocessable,
};
use crate::auth::Access;
use crate::domain::Account;

#[utoipa::path(put, path = "/v1/accounts/{id}", tag = "accounts",
    description = "Creates or replaces an account. Needs the `record` scope. A key limited to clients writes only accounts naming one of its clients (else 403), and an account stored under another client answers 404, as a missing one does elsewhere.",
    params(("id" = String, Path, description = "The account's identifier", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")), request_body = Account, security(("bearer" = ["record"])),
    responses(
        (status = 200, description = "Stored; the account as stored", body = Account),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn put_account(
    State(state): State<AppState>,
    access: Access,
    NewAccountIdPath(id): NewAccountIdPath,
    JsonBody(account): JsonBody<Account>,
) -> Result<Response, ApiError> {
    if account.id != id {
        return Err(ApiError::invalid(
            "id",
            format!(
                "the body's id `{}` differs from the path's `{id}`",
                account.id
            ),
        ));
    }
    check_writable(&access, "client", &account)?;
    state
        .store
        .put_accounts_within(
            std::slice::from_ref(&account),
            state.clock.now(),
            None,
            access.clients(),
        )
        .await?;
    Ok((StatusCode::OK, Json(account)).into_response())
}

/// Refuses (403) an account body that names a client the key does not reach, or none:
/// a limited key writes only its clients' accounts. That the stored account, if any, is
/// its client's too is checked by the store in the write.
fn check_writable(access: &Access, field: &str, account: &Account) -> Result<(), ApiError> {
    if access.sees(account.client.as_deref()) {
        return Ok(());
    }
    Err(ApiError::outside_clients(
        field,
        match &account.client {
            Some(client) => format!("it may not write accounts of client `{client}`"),
            None => "an account it writes must name one of its clients in `client`".into(),
        },
    ))
}

/// The most accounts one bulk request carries.
pub const MAX_BULK_ACCOUNTS: usize = 10_000;

/// Creates or replaces many accounts at once (onboarding a placement file): all or
/// none.
#[utoipa::path(post, path = "/v1/accounts/bulk", tag = "accounts",
    description = "Creates or replaces up to 10,000 accounts at once, all or none (body limit 32 MiB). With an `Idempotency-Key` header, a repeat of the same request within the retention period writes nothing (so a retry cannot overwrite what the ledger changed since) and answers as the first did, with `Idempotent-Replayed: true`; the same key with another request is a 422. Needs the `record` scope.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried upsert write once: 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$")),
    request_body = BulkAccounts, security(("bearer" = ["record"])),
    responses(
        (status = 200, description = "Every account stored", body = BulkUpserted),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 413, response = TooLarge),
        (status = 422, response = Unprocessable),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn put_accounts(
    State(state): State<AppState>,
    access: Access,
    headers: axum::http::HeaderMap,
    JsonBody(bulk): JsonBody<BulkAccounts, MAX_BULK_BODY_BYTES>,
) -> Result<Response, ApiError> {
    if bulk.accounts.len() > MAX_BULK_ACCOUNTS {
        return Err(ApiError::invalid(
            "accounts",
            format!(
                "{} accounts in one request; send at most {MAX_BULK_ACCOUNTS} at a time",
                bulk.accounts.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (index, account) in bulk.accounts.iter().enumerate() {
        if !seen.insert(account.id.as_str()) {
            return Err(ApiError::invalid(
                format!("accounts[{index}].id"),
                format!("account `{}` appears twice", account.id),
            ));
        }
        check_writable(&access, &format!("accounts[{index}].client"), account)?;
    }
    let now = state.clock.now();
    let key = idempotency_key(&headers, &("bulk", &bulk), now, state.idempotency_retention)?;
    let replayed = state
        .store
        .put_accounts_within(&bulk.accounts, now, key.as_ref(), access.clients())
        .await?;
    let mut response = Json(BulkUpserted {
        upserted: bulk.accounts.len(),
    })
    .into_response();
    if replayed {
        mark_replayed(&mut response);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts",
    description = "Reads an account. Needs the `decide` scope.",
    params(("id" = String, Path, description = "The account's identifier", pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")), security(("bearer" = ["decide"])),
    responses(
        (status = 400, response = BadRequest), (status = 200, description = "The account", body = Account),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 500, response = Internal)))]
pub async fn get_account(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
) -> Result<Json<Account>, ApiError> {
    state
        .store
        .get_account(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("account `{id}` does not exist")))
}

//! API keys kept in the ledger: the store keeps the hash and the scope names, the
//! authorizer reads them back as scopes.

use chrono::{DateTime, TimeDelta, Utc};

use crate::auth::{Access, IssuedKey, Scope};
use crate::store::{Store, StoreError};

/// Stores a new API key (its hash) with a name and scopes, reaching every client.
pub async fn add_api_key(
    store: &Store,
    key: &IssuedKey,
    name: &str,
    scopes: &[Scope],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    add_api_key_within(store, key, name, scopes, &Access::All, now).await
}

/// Stores a new API key (its hash) with a name, scopes and the clients it reaches.
pub async fn add_api_key_within(
    store: &Store,
    key: &IssuedKey,
    name: &str,
    scopes: &[Scope],
    access: &Access,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let scopes: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
    store
        .add_api_key(
            &key.id,
            &key.secret_hash,
            name,
            &scopes,
            access.clients(),
            now,
        )
        .await
}

/// A live stored key, as the authorizer checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveKey {
    /// SHA-256 (hex) of the secret.
    pub secret_hash: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Whose accounts it reaches.
    pub access: Access,
}

/// The stored hash, scopes and clients of a live key (neither revoked nor expired at `now`); a
/// scope name this version does not know grants nothing. The key's last use is noted,
/// at most once a minute: a busy key costs one write a minute, not one per request, and
/// a failure to note it never refuses the request.
pub async fn api_key(
    store: &Store,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<LiveKey>, StoreError> {
    let Some(key) = store.api_key(id, now).await? else {
        return Ok(None);
    };
    let stale = key
        .last_used_at
        .is_none_or(|used| now - used >= TimeDelta::minutes(1));
    if stale && let Err(error) = store.touch_api_key(id, now).await {
        tracing::warn!(%error, key = id, "failed to note the API key's last use");
    }
    let scopes = key
        .scopes
        .iter()
        .filter_map(|name| Scope::parse(name))
        .collect();
    // A stored list that names no client (an empty column) would read as "every
    // client": refuse to widen it, reach nothing instead.
    let access = match key.clients {
        None => Access::All,
        Some(clients) if clients.is_empty() => Access::nothing(),
        Some(clients) => Access::limited_to(clients),
    };
    Ok(Some(LiveKey {
        secret_hash: key.secret_hash,
        scopes,
        access,
    }))
}

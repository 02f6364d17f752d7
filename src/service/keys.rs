//! API keys kept in the ledger: the store keeps the hash and the scope names, the
//! authorizer reads them back as scopes.

use chrono::{DateTime, TimeDelta, Utc};

use crate::auth::{IssuedKey, Scope};
use crate::store::{Store, StoreError};

/// Stores a new API key (its hash) with a name and scopes.
pub async fn add_api_key(
    store: &Store,
    key: &IssuedKey,
    name: &str,
    scopes: &[Scope],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let scopes: Vec<&str> = scopes.iter().map(|scope| scope.as_str()).collect();
    store
        .add_api_key(&key.id, &key.secret_hash, name, &scopes, now)
        .await
}

/// The stored hash and scopes of a live key (neither revoked nor expired at `now`); a
/// scope name this version does not know grants nothing. The key's last use is noted,
/// at most once a minute: a busy key costs one write a minute, not one per request, and
/// a failure to note it never refuses the request.
pub async fn api_key(
    store: &Store,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<(String, Vec<Scope>)>, StoreError> {
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
    Ok(Some((key.secret_hash, scopes)))
}

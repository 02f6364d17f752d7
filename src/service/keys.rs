//! API keys kept in the ledger: the store keeps the hash and the scope names, the
//! authorizer reads them back as scopes.

use chrono::{DateTime, Utc};

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

/// The stored hash and scopes of a live (not revoked) key; a scope name this version
/// does not know grants nothing.
pub async fn api_key(store: &Store, id: &str) -> Result<Option<(String, Vec<Scope>)>, StoreError> {
    Ok(store.api_key(id).await?.map(|key| {
        let scopes = key
            .scopes
            .iter()
            .filter_map(|name| Scope::parse(name))
            .collect();
        (key.secret_hash, scopes)
    }))
}

//! API keys kept in the ledger: the store keeps the hash and the scope names, the
//! authorizer reads them back as scopes.

use std::collections::HashMap;
use std::sync::Arc;

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
    Ok(live_key(store, id, now).await?.map(|(key, _)| key))
}

/// [`api_key`] with the key's expiry, if it has one.
async fn live_key(
    store: &Store,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<(LiveKey, Option<DateTime<Utc>>)>, StoreError> {
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
    Ok(Some((
        LiveKey {
            secret_hash: key.secret_hash,
            scopes,
            access,
        },
        key.expires_at,
    )))
}

/// How long a stored key, once read, is taken as live without asking the ledger again
/// (the authorizer's [`KeyCache`]). A revocation made through this daemon empties the
/// cache at once ([`KeyCache::forget_all`]); one made elsewhere (`dunner keys revoke`,
/// another daemon sharing the ledger), like an expiry moved earlier elsewhere, takes
/// effect on this daemon within this bound. An expiry the key had when it was read is
/// never passed: a key is cached only when it is still live at the end of the bound.
pub const KEY_CACHE_TTL: TimeDelta = TimeDelta::seconds(1);

/// Live stored keys by id, as read from the ledger less than [`KEY_CACHE_TTL`] ago: a
/// busy daemon reads each key about once a second instead of once per request. Only
/// live keys are kept (an unknown, revoked or expired id is asked again every time), so
/// its size is bounded by the keys in use.
#[derive(Debug, Default)]
pub struct KeyCache {
    inner: std::sync::RwLock<CachedKeys>,
}

#[derive(Debug, Default)]
struct CachedKeys {
    /// Bumped by every [`KeyCache::forget_all`]: a read that began before it is not kept.
    generation: u64,
    keys: HashMap<String, (Arc<LiveKey>, DateTime<Utc>)>,
}

impl KeyCache {
    /// The key read at most [`KEY_CACHE_TTL`] before `now` (and not after it: a clock
    /// that went back asks the ledger again).
    fn get(&self, id: &str, now: DateTime<Utc>) -> Option<Arc<LiveKey>> {
        let cached = self.inner.read().ok()?;
        let (key, read_at) = cached.keys.get(id)?;
        (*read_at <= now && now - *read_at < KEY_CACHE_TTL).then(|| Arc::clone(key))
    }

    fn generation(&self) -> Option<u64> {
        self.inner.read().ok().map(|cached| cached.generation)
    }

    /// Keeps a key read at `read_at`, unless the cache was emptied since the read began.
    fn keep(&self, id: &str, key: Arc<LiveKey>, read_at: DateTime<Utc>, generation: u64) {
        if let Ok(mut cached) = self.inner.write()
            && cached.generation == generation
        {
            cached.keys.insert(id.to_string(), (key, read_at));
        }
    }

    /// Forgets every key (a key was revoked here): the next request of each asks the
    /// ledger, and no read that began before this is kept.
    pub fn forget_all(&self) {
        let mut cached = match self.inner.write() {
            Ok(cached) => cached,
            // A poisoned lock still holds the map: empty it all the same.
            Err(poisoned) => poisoned.into_inner(),
        };
        cached.generation = cached.generation.wrapping_add(1);
        cached.keys.clear();
    }
}

/// [`api_key`] through a [`KeyCache`]: a key read less than [`KEY_CACHE_TTL`] ago is
/// answered from the cache. A key is cached only when it is live at `now` +
/// [`KEY_CACHE_TTL`], so that no cached answer outlives its expiry; a key expiring
/// sooner is read from the ledger on every request.
pub async fn cached_api_key(
    store: &Store,
    cache: &KeyCache,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Arc<LiveKey>>, StoreError> {
    if let Some(key) = cache.get(id, now) {
        return Ok(Some(key));
    }
    let generation = cache.generation();
    let Some((key, expires_at)) = live_key(store, id, now).await? else {
        return Ok(None);
    };
    let key = Arc::new(key);
    // Kept only when still live at the end of the bound (one read, its expiry checked
    // here rather than by a second read at `now + KEY_CACHE_TTL`).
    let live_past_bound = now
        .checked_add_signed(KEY_CACHE_TTL)
        .is_some_and(|until| expires_at.is_none_or(|expires| expires > until));
    if let Some(generation) = generation
        && live_past_bound
    {
        cache.keep(id, Arc::clone(&key), now, generation);
    }
    Ok(Some(key))
}

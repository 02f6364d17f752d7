//! Appending facts to the ledger and importing a placement: the events are checked here,
//! the store writes them (bringing the account up to date in the same transaction).

use chrono::{DateTime, Utc};

use super::ServiceError;
use crate::domain::{Account, LedgerEvent};
use crate::store::{IdempotencyKey, Store};

/// Appends a fact to an account's ledger (a contact made elsewhere, a consent, a flag
/// set or cleared, an opt-out, a payment), without a policy check, and brings the account
/// up to date in the same transaction. Returns the event's id.
pub async fn append_event(
    store: &Store,
    account_id: &str,
    event: &LedgerEvent,
    now: DateTime<Utc>,
) -> Result<String, ServiceError> {
    append_event_once(store, account_id, event, now, None)
        .await
        .map(|(id, _)| id)
}

/// [`append_event`] under an idempotency key: a repeat of the key with the same request
/// answers the first event's id (and `true`) and writes nothing.
pub async fn append_event_once(
    store: &Store,
    account_id: &str,
    event: &LedgerEvent,
    now: DateTime<Utc>,
    key: Option<&IdempotencyKey>,
) -> Result<(String, bool), ServiceError> {
    event.validate()?;
    Ok(store.append_event(account_id, event, now, key).await?)
}

/// Loads a placement: accounts, then their prior history, in one transaction — nothing
/// is written unless every event holds together and everything is written. `progress`
/// is told how many rows were written.
pub async fn import(
    store: &Store,
    accounts: &[Account],
    events: &[(String, LedgerEvent)],
    now: DateTime<Utc>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), ServiceError> {
    for (_, event) in events {
        event.validate()?;
    }
    Ok(store.import(accounts, events, now, progress).await?)
}

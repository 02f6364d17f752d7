//! Appending facts to the ledger and importing a placement: the events are checked here,
//! the store writes them (bringing the account up to date in the same transaction).

use chrono::{DateTime, TimeDelta, Utc};

use super::ServiceError;
use crate::domain::{Account, LedgerEvent, LedgerEventError, LedgerEventType, Outcome};
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
    refuse_reported_outcome(event)?;
    Ok(store.append_event(account_id, event, now, key).await?)
}

/// An outcome reported after the fact goes through [`report_outcome`], which checks
/// the attempt it is about: never through a plain append or an import.
fn refuse_reported_outcome(event: &LedgerEvent) -> Result<(), LedgerEventError> {
    if event.event_type == LedgerEventType::OutcomeReported {
        return Err(LedgerEventError {
            field: "type",
            message: "an outcome is reported against its attempt: POST /v1/accounts/{id}/attempts/{attempt_id}/outcome".into(),
        });
    }
    Ok(())
}

/// Reports how an attempt recorded without an outcome ended: appended to the ledger
/// (the attempt itself is never changed), and from then on the engine counts the attempt
/// with it. Refused for an attempt the account does not hold, one whose outcome is
/// known, and one made more than `grace` before `now` (it stays counted the strict
/// way). Returns the new entry's id, and whether a repeat of `key` answered it.
pub async fn report_outcome(
    store: &Store,
    account_id: &str,
    attempt_id: &str,
    outcome: Outcome,
    grace: std::time::Duration,
    now: DateTime<Utc>,
    key: Option<&IdempotencyKey>,
) -> Result<(String, bool), ServiceError> {
    let event = LedgerEvent {
        attempt_id: Some(attempt_id.to_string()),
        outcome: Some(outcome),
        ..LedgerEvent::new(now, LedgerEventType::OutcomeReported)
    };
    event.validate()?;
    let grace = TimeDelta::from_std(grace).unwrap_or(TimeDelta::MAX);
    let made_since = now
        .checked_sub_signed(grace)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    Ok(store
        .append_outcome(account_id, &event, made_since, now, key)
        .await?)
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
        refuse_reported_outcome(event)?;
    }
    Ok(store.import(accounts, events, now, progress).await?)
}

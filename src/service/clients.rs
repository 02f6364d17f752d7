//! Keys limited to clients (issue 16): the one check of whether an account or a notice
//! is within a key's reach. What is out of reach answers exactly as what does not exist,
//! so that a key learns nothing of other clients' accounts.

use crate::auth::Access;
use crate::store::{Notice, Store, StoreError};

/// Refuses an account out of `access`'s reach as [`StoreError::AccountNotFound`], the
/// answer for a missing one. A key that reaches every client costs no read (a missing
/// account is then the use case's to find); a limited one is refused a missing account
/// here, with the same answer.
pub async fn visible_account(store: &Store, access: &Access, id: &str) -> Result<(), StoreError> {
    if access.clients().is_none() {
        return Ok(());
    }
    match store.account_client(id).await? {
        Some(client) if access.sees(client.as_deref()) => Ok(()),
        _ => Err(StoreError::AccountNotFound(id.to_string())),
    }
}

/// The clients a list or search may show: the key's, narrowed to the one asked for
/// (`?client=`). `None` is every client; `Some(empty)` matches nothing (a client out
/// of the key's reach answers as a client without accounts).
pub fn listed_clients(access: &Access, asked: Option<&str>) -> Option<Vec<String>> {
    match access.narrowed(asked) {
        Some(access) => access.clients().map(<[String]>::to_vec),
        None => Some(Vec::new()),
    }
}

/// A notice, if it exists and its account is within `access`'s reach; `None` otherwise,
/// so that another client's notice answers as a missing one.
pub async fn visible_notice(
    store: &Store,
    access: &Access,
    id: &str,
) -> Result<Option<Notice>, StoreError> {
    let Some(notice) = store.get_notice(id).await? else {
        return Ok(None);
    };
    match visible_account(store, access, &notice.account_id).await {
        Ok(()) => Ok(Some(notice)),
        Err(StoreError::AccountNotFound(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

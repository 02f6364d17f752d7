//! The exact pack texts behind a policy digest: what an examiner reads to see the rules
//! that made a past decision.

use crate::policy::Policy;
use crate::store::Store;

use super::ServiceError;

/// The pack texts (file name, text) of the policy with `digest`: the live policy's own
/// when it is the live one (it may not have decided anything yet), else the texts the
/// ledger kept when a decision first used it; `None` when the ledger never saw it.
pub async fn policy_texts(
    store: &Store,
    live: &Policy,
    digest: &str,
) -> Result<Option<Vec<(String, String)>>, ServiceError> {
    if live.digest() == digest {
        return Ok(Some(live.source_texts()));
    }
    Ok(store.policy_sources(digest).await?)
}

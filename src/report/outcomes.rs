//! The attempts whose outcome never arrived: recorded when dialled, with no outcome, and
//! none reported within the grace (`[server] outcome_grace`). The caps count each of them
//! the strict way, as a possible conversation, for good; the list tells operations which
//! dialer integration drops its outcomes.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{Channel, LedgerEvent, Purpose};
use crate::store::reports::UnreportedAttempt;

/// The most attempts the section lists (the total counts them all).
pub const MAX_LISTED: u32 = 1000;

/// The unreported-outcomes section.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UnreportedOutcomesSection {
    /// Attempts made before this instant (the report's `as_of` less the grace) whose
    /// outcome had not arrived are listed.
    pub made_before: DateTime<Utc>,
    /// How many there are in the period.
    pub total: u64,
    /// The oldest of them, at most 1,000.
    pub attempts: Vec<UnreportedAttemptRow>,
}

/// One attempt whose outcome never arrived.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UnreportedAttemptRow {
    /// The account.
    pub account_id: String,
    /// The attempt's ledger event id.
    pub attempt_id: String,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
}

/// The section from the attempts the store found. A row whose body cannot be read keeps
/// its id and instant (it is listed all the same: it still counts the strict way).
pub fn section(
    made_before: DateTime<Utc>,
    attempts: Vec<UnreportedAttempt>,
    total: u64,
) -> UnreportedOutcomesSection {
    let attempts = attempts
        .into_iter()
        .map(|attempt| {
            let event = serde_json::from_str::<LedgerEvent>(&attempt.body).ok();
            UnreportedAttemptRow {
                channel: event.as_ref().and_then(|e| e.channel),
                purpose: event.as_ref().and_then(|e| e.purpose),
                account_id: attempt.account_id,
                attempt_id: attempt.attempt_id,
                at: attempt.at,
            }
        })
        .collect();
    UnreportedOutcomesSection {
        made_before,
        total,
        attempts,
    }
}

//! The use cases: each is one store transaction around the pure step. Recording an
//! attempt, deciding and logging a question, appending an event, importing a placement,
//! queueing or replaying a notice: the service checks what the store cannot (an event
//! that does not hold together, a notice request missing its template), hands the store
//! the policy as a [`Judge`](crate::store::Judge), and turns the rows it wrote back into
//! the engine's types. The HTTP handlers, the scheduler, the outbox worker and the CLI
//! call these; none of them calls the engine and the store's writes separately.

mod attempts;
mod clients;
mod events;
mod keys;
mod notices;
mod policies;
pub mod records;
pub mod shadow;

pub use attempts::{
    LoggedDecision, PolicyJudge, Recorded, check_and_record, check_and_record_with, decide_and_log,
    decide_and_log_with, list_decisions, search_decisions,
};
pub use clients::{listed_clients, visible_account, visible_notice};
pub use events::{append_event, append_event_once, import, report_outcome};
pub use keys::{
    KEY_CACHE_TTL, KeyCache, LiveKey, add_api_key, add_api_key_within, api_key, cached_api_key,
};
pub use notices::{
    Enqueued, check_notice_send, enqueue_notice, enqueue_notice_with, request_notice, retry_notice,
};
pub use policies::policy_texts;

use crate::domain::LedgerEventError;
use crate::store::{NoticeError, NoticeStatus, StoreError};

/// What can go wrong in a use case: a request the domain refuses, or the store.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The event does not hold together.
    #[error("{0}")]
    InvalidEvent(#[from] LedgerEventError),
    /// The notice request does not hold together.
    #[error("{0}")]
    InvalidNotice(#[from] NoticeError),
    /// Nobody here can deliver the notice: its channel has no courier (`[smtp]`,
    /// `[[webhooks]]`), or its template is missing.
    #[error("{0}")]
    Undeliverable(NoticeError),
    /// Only dead or cancelled notices are replayed.
    #[error("notice `{id}` is {}; only dead or cancelled notices are replayed", status.as_str())]
    NotReplayable {
        /// The notice.
        id: String,
        /// Where it is.
        status: NoticeStatus,
    },
    /// The store failed or refused (an unknown account, a reused idempotency key, …).
    #[error(transparent)]
    Store(#[from] StoreError),
}

//! Dispatch: notices leave the building by email (SMTP) or webhook (HTTP), from the
//! outbox, after the policy was checked again at send time. The senders here only
//! deliver and classify the result; when to send, whether it is still allowed, and how
//! often to retry belong to the outbox worker ([`crate::outbox`], which imports this
//! module; this module never imports it).

pub mod couriers;
pub mod email;
pub mod signing;
pub mod templates;
pub mod webhook;

use std::time::Duration;

pub use couriers::{Courier, Couriers};
pub use email::{EmailError, EmailSender};
pub use templates::{
    NoticeContext, RenderedEmail, Sender, TemplateError, TemplateProblem, Templates,
};

/// How one delivery try ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver took it (a 2xx, an SMTP 250).
    Delivered,
    /// Worth trying again: a timeout, a refused connection, 408/429/5xx, an SMTP 4xx.
    /// `after` is the receiver's own hint (`Retry-After`), when it gave one.
    Retry {
        /// The receiver's requested delay.
        after: Option<Duration>,
        /// What went wrong, for the notice's `last_error` (no personal data).
        reason: String,
    },
    /// Trying again will not help: another 4xx, an SMTP 5xx, a malformed address.
    Permanent {
        /// What went wrong.
        reason: String,
    },
}

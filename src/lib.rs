//! # dunner
//!
//! A compliance-aware contact scheduling engine for debt collection: may this
//! account be contacted, on this channel, at this instant, and if not, when?
//!
//! ## Architecture: a functional core in an imperative shell
//!
//! ```text
//! rules/*.toml ──► policy (parse, validate, compile) ──► engine (decide, next_allowed_at)
//!                                                            ▲
//! cli (clap) ────────────────────────────────────────────────┘
//! ```
//!
//! - [`domain`]: the vocabulary (accounts, events, channels, purposes). Pure.
//! - [`policy`]: rule packs from TOML to a compiled [`policy::Policy`], with
//!   diagnostics that point at file:line:column. Pure but for reading the files.
//! - [`engine`]: decisions, explanations and the next allowed instant. Pure: the
//!   instant is part of the request; nothing here reads a clock or does I/O.
//! - [`cli`]: the `dunner` command, a thin shell around the above.
#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod cli;
pub mod domain;
pub mod engine;
pub mod policy;
pub mod suggest;

pub use engine::{DecideRequest, Decision, decide};
pub use policy::Policy;

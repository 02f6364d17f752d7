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
//! The modules, from the pure core up to the shells, in an order their imports follow
//! (each imports only modules above it in this list; `tests/it/architecture.rs` checks
//! there is no cycle, between top-level modules or between the files of one):
//!
//! - [`suggest`]: "did you mean …?" for misspelt names. Pure.
//! - [`domain`]: the vocabulary (accounts, events, channels, purposes, money). Pure.
//! - [`clock`]: the only place that reads the time.
//! - [`secret`]: [`secret::Secret`], a setting printed as `<redacted>`. Pure.
//! - [`redact`]: masks emails and phone numbers in text before it is logged. Pure.
//! - [`auth`]: API keys: scopes, the clients a key reaches, token format, hashing,
//!   verification. Pure.
//! - [`policy`]: rule packs from TOML to a compiled [`policy::Policy`], with
//!   diagnostics that point at file:line:column. Pure but for reading the files.
//! - [`engine`]: decisions, explanations and the next allowed instant. Pure: the
//!   instant is part of the request; nothing here reads a clock or does I/O.
//! - [`rule_tests`]: the policy tests (`rules/<pack>.tests.toml`), run through the engine.
//! - [`strategy`]: contact strategies from TOML, and the configured
//!   [`strategy::StrategySet`].
//! - [`planner`]: fits strategies into the policy, a consumer's debts at a time. Pure.
//! - [`tasks`]: background tasks under supervision (panics logged and restarted).
//! - [`store`]: the ledger, on SQLite or PostgreSQL: rows and transactions over the
//!   [`domain`]; the engine's step comes in as a [`store::Judge`].
//! - [`service`]: the use cases, each one store transaction around the pure step.
//! - [`report`]: contacts, refusals, caps, holds, aging, right-party contacts and
//!   promises over a period, and one account's permitted windows, as JSON, CSV or HTML.
//!   Pure folds over the rows the [`store`] reads.
//! - [`audit`]: the audit of the past: every contact of a period judged by the policy
//!   in force when it was made, against the account and ledger as they stood (the
//!   judging pure, the reading a consumer at a time); and the impact of a candidate
//!   policy (logged decisions replayed, contacts judged, the plan ahead compared).
//! - [`reload`]: the live policy, reloaded when the rules change, never loosened silently.
//! - [`dispatch`]: webhooks (signed) and email notices (templates, SMTP): the couriers
//!   that deliver one notice, and the settings each sender takes (which [`config`]
//!   reads; dispatch never imports `config` or `outbox`).
//! - [`outbox`]: the outbox worker (lease due notices, re-check the policy through the
//!   store's locked check, hand them to their courier, retry or dead-letter) and its
//!   retry schedule.
//! - [`config`]: the daemon's settings: defaults ← `dunner.toml` ← `DUNNER_*` ← flags.
//! - [`logging`]: the tracing subscriber.
//! - [`metrics`]: the daemon's counters, in the OpenMetrics format.
//! - [`scheduler`]: the daemon's scheduler: strategies run for the stored accounts,
//!   their due contacts queued in the outbox (what to queue is decided purely in
//!   [`scheduler::due`]).
//! - [`http`]: the HTTP API (axum): one route list builds the router and the OpenAPI
//!   document; one file per resource; the wire types (`dto`) apart from the domain; one
//!   JSON error shape, 5xx causes logged with their source chain.
//! - [`app`]: the daemon as a library: [`app::App::build`] wires it, and
//!   [`app::App::run_until_stopped`] serves and drains.
//! - [`cli`]: the `dunner` command, a thin shell around the above.
//!
//! ## Example
//!
//! ```
//! use dunner::{Policy, domain::Channel, engine::{self, DecideRequest, Question, Subject}};
//!
//! let policy = Policy::load("rules".as_ref())?;
//! let request = DecideRequest::from_json(r#"{
//!     "at": "2026-04-07T11:59:00Z", "channel": "call",
//!     "account": {"id": "D-1", "consumer": {"time_zones": ["America/New_York"]}}
//! }"#)?;
//! // 07:59 in New York: refused until 08:00 local.
//! let decision = engine::decide(&policy, &request);
//! assert!(!decision.allowed);
//! assert_eq!(decision.next_allowed_at.map(|t| t.to_rfc3339()).as_deref(), Some("2026-04-07T12:00:00+00:00"));
//!
//! // Many questions about one account: prepare it once.
//! let subject = Subject::new(&policy, &request.account, &request.history);
//! let at_eight = Question { at: "2026-04-07T12:00:00Z".parse()?, channel: Channel::Call, purpose: Default::default(), contact_point: None, horizon_days: None };
//! assert!(subject.decide(&at_eight).allowed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod dispatch;
pub mod domain;
pub mod engine;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod outbox;
pub mod planner;
pub mod policy;
pub mod records;
pub mod redact;
pub mod reload;
pub mod report;
pub mod rule_tests;
pub mod scheduler;
pub mod secret;
pub mod service;
pub mod store;
pub mod strategy;
pub mod suggest;
pub mod tasks;

pub use engine::{DecideRequest, Decision, decide};
pub use policy::Policy;

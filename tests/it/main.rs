//! Integration tests: one binary, one module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod api;
mod architecture;
mod audit;
mod chain;
mod cli;
mod clients;
mod config;
mod console;
mod crash;
mod daemon;
mod decision_log;
mod diagnostics;
mod email;
mod engine;
mod engine_workload;
mod fuzz;
mod hardening;
mod helpers;
mod impact;
mod invariants;
mod openapi;
mod outbox;
mod plan_cli;
mod planner;
mod policy_packs;
mod portfolio;
mod records;
mod reports;
mod scheduler;
mod shadow;
mod store_conformance;
mod strategy;
mod webhooks;

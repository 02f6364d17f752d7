//! The API's wire types: request bodies, query strings and response bodies that exist
//! only for the API, each with its `utoipa` schema.
//!
//! They are kept apart from the domain (`Account`, `LedgerEvent`, `Decision`) and the
//! store's rows (`Notice`, `StoredEvent`), which the API also carries as they are, so
//! that the JSON the API speaks can stay stable while those move: a handler maps
//! between the two. No logic here beyond serde and the schema attributes.
//!
//! A type's doc comment is its schema's description in `openapi.json`, so only the
//! types that had one keep one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::{Account, Channel, Outcome, Purpose};
use crate::engine::{Decision, Verdict};
use crate::planner::AccountPlan;
use crate::store::{Notice, NoticeStatus, StoredEvent};

// ---------------------------------------------------------------------------------------
// Accounts.

// `POST /v1/accounts/bulk`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkAccounts {
    /// The accounts, each with a distinct `id` (at most 10,000).
    pub accounts: Vec<Account>,
}

// The answer to `POST /v1/accounts/bulk`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkUpserted {
    /// How many accounts were created or replaced.
    pub upserted: usize,
}

// ---------------------------------------------------------------------------------------
// The ledger: events and attempts.

// The answer to `POST /v1/accounts/{id}/events`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Appended {
    /// The id of the new ledger event (UUID v7).
    pub id: String,
}

// The query of `GET /v1/accounts/{id}/events`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events at or after this instant.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[param(value_type = Option<crate::domain::instant::InstantSchema>)]
    pub since: Option<DateTime<Utc>>,
    /// Only events before this instant.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[param(value_type = Option<crate::domain::instant::InstantSchema>)]
    pub until: Option<DateTime<Utc>>,
    /// Only events after this ledger position (the previous page's `next_after`).
    pub after: Option<i64>,
    /// Page size: 1-1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

// The answer to `GET /v1/accounts/{id}/events`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventPage {
    /// The events of the page, in ledger order.
    pub events: Vec<StoredEvent>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// An attempt or a stateful question, as callers send it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(Serialize, utoipa::ToSchema)]
pub struct AttemptBody {
    /// When the attempt is made; defaults to now.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[schema(value_type = Option<crate::domain::instant::InstantSchema>)]
    pub at: Option<DateTime<Utc>>,
    /// The channel.
    pub channel: Channel,
    /// Why; `collection` when absent.
    #[serde(default)]
    pub purpose: Purpose,
    /// The phone number or email address used.
    pub contact_point: Option<String>,
    /// How it ended, when recorded after the fact; unknown counts as any outcome would.
    pub outcome: Option<Outcome>,
}

// The answer to `POST /v1/accounts/{id}/attempts`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AttemptResult {
    /// Whether the attempt was allowed and recorded.
    pub recorded: bool,
    /// The id of the recorded event; `null` when refused.
    pub event_id: Option<String>,
    /// The id of the logged decision.
    pub decision_id: String,
    /// The decision.
    #[schema(value_type = Decision)]
    pub decision: Box<RawValue>,
}

// ---------------------------------------------------------------------------------------
// Decisions.

// `POST /v1/decisions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(Serialize, utoipa::ToSchema)]
pub struct QuestionBody {
    /// The stored account.
    #[serde(deserialize_with = "crate::domain::deserialize_account_id")]
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub account_id: String,
    /// The instant asked about; defaults to now.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[schema(value_type = Option<crate::domain::instant::InstantSchema>)]
    pub at: Option<DateTime<Utc>>,
    /// The channel.
    pub channel: Channel,
    /// Why; `collection` when absent.
    #[serde(default)]
    pub purpose: Purpose,
    /// The phone number or email address to be used, when known.
    pub contact_point: Option<String>,
}

// The answer to `POST /v1/decisions`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Answer {
    /// The id of the logged decision.
    pub decision_id: String,
    /// The decision.
    #[schema(value_type = Decision)]
    pub decision: Box<RawValue>,
}

// The query of `GET /v1/decisions`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DecisionsQuery {
    /// One account.
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub account_id: Option<String>,
    /// Only decisions about accounts of this client (within the key's clients).
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub client: Option<String>,
    /// Decided at or after this instant.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[param(value_type = Option<crate::domain::instant::InstantSchema>)]
    pub from: Option<DateTime<Utc>>,
    /// Decided before this instant.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[param(value_type = Option<crate::domain::instant::InstantSchema>)]
    pub to: Option<DateTime<Utc>>,
    /// The verdict.
    pub outcome: Option<Verdict>,
    /// A rule among the decision's reasons (the rules that refused).
    #[param(pattern = "^[!-~]{1,200}$")]
    pub rule: Option<String>,
    /// Only decisions after this position in the log: the `seq` of the last decision of
    /// the previous page.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// How many (1-1000, default 100): the first after `after` or from `from` when one
    /// is given, else the most recent. Not with `jsonl` or `csv`.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `json` (default: one page as an array), `jsonl` or `csv` (every matching decision
    /// in log order, streamed: an export).
    #[param(inline)]
    pub format: Option<DecisionsFormat>,
}

/// How `GET /v1/decisions` answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DecisionsFormat {
    /// One page, as a JSON array.
    #[default]
    Json,
    /// Every match, one JSON object per line.
    Jsonl,
    /// Every match, one CSV row each.
    Csv,
}

// The query of `GET /v1/accounts/{id}/windows`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowsQuery {
    /// The channel.
    pub channel: Channel,
    /// Why; `collection` when absent.
    #[serde(default)]
    pub purpose: Purpose,
    /// The phone number or email address to be used, when known.
    pub contact_point: Option<String>,
    /// How many days ahead (1-14, default 7).
    #[param(minimum = 1, maximum = 14)]
    pub days: Option<u32>,
    /// Defaults to now.
    #[serde(
        default,
        deserialize_with = "crate::domain::instant::deserialize_optional_instant"
    )]
    #[param(value_type = Option<crate::domain::instant::InstantSchema>)]
    pub from: Option<DateTime<Utc>>,
}

// The answer to `GET /v1/accounts/{id}/windows`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WindowsView {
    /// The start of the range.
    pub from: DateTime<Utc>,
    /// The end of the range (`from` plus `days`).
    pub until: DateTime<Utc>,
    /// The permitted intervals in the range.
    pub intervals: Vec<crate::engine::Interval>,
    /// The budget left at `from` in every cap (and warning) that governs the question.
    pub caps: Vec<crate::engine::CapBudget>,
}

// ---------------------------------------------------------------------------------------
// The policy.

// The answer to `GET /v1/policy`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyView {
    /// The digest of the policy in force (decisions carry it as `policy_digest`).
    pub digest: String,
    /// The loaded packs, in policy order.
    pub packs: Vec<PackView>,
    /// When the current policy was loaded.
    pub loaded_at: Option<DateTime<Utc>>,
    /// Why the last reload was refused (the current policy was kept); `null` if it wasn't.
    pub last_reload_error: Option<String>,
}

// The answer to `GET /v1/policy/{digest}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyTexts {
    /// The digest asked for.
    pub digest: String,
    /// Whether it is the policy in force now.
    pub live: bool,
    /// The pack files that made the policy, in policy order, exactly as loaded.
    pub packs: Vec<PackText>,
}

// One pack file of `PolicyTexts`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PackText {
    /// The file name, relative to the rules directory.
    pub file: String,
    /// The file's text.
    pub text: String,
}

// One pack of `PolicyView`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PackView {
    /// The pack id.
    pub id: String,
    /// The pack's title.
    pub title: String,
    /// The pack's version.
    pub version: String,
    /// Law as enacted, or a draft (still enforced).
    pub status: crate::policy::PackStatus,
    /// How many rules the pack has.
    pub rules: usize,
}

// ---------------------------------------------------------------------------------------
// Notices.

/// A notice request answered with 422: stopped by the policy (the answer, with the
/// decision that stopped it), or a field that cannot apply (the one error shape). For the
/// document only: the handler answers one or the other.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "a schema for the document; never built")]
pub enum NoticeRefused {
    /// Stopped by the policy: nothing queued.
    Stopped(Box<NoticeAnswer>),
    /// A field that cannot apply, or no courier for the channel.
    Invalid(super::error::ErrorBody<'static>),
}

/// The answer to a notice request.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NoticeAnswer {
    /// Whether a notice is (now or already) in the outbox.
    pub queued: bool,
    /// The notice; absent when the policy stopped it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<Notice>,
    /// The policy's decision (absent for a replayed request and for webhooks that reach
    /// no consumer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

// The query of `GET /v1/notices`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoticesQuery {
    /// Only notices in this state (`dead` lists the dead letters).
    pub status: Option<NoticeStatus>,
    /// At most this many: 1-1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only notices about accounts of this client (within the key's clients).
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub client: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Plans.

// The query of `GET /v1/accounts/{id}/plan`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// How many of the consumer's local days, from today (1-31, default 7).
    #[param(minimum = 1, maximum = 31)]
    pub days: Option<u32>,
}

/// The strategy a plan follows.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StrategyRef {
    /// Its id (`standard-consumer`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// The version its file gives.
    pub version: String,
}

// The answer to `GET /v1/accounts/{id}/plan`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PlanView {
    /// The strategy the account follows: the first configured one whose segment covers it.
    pub strategy: StrategyRef,
    /// The digest of the policy that decided every planned contact.
    pub policy_digest: String,
    /// Nothing is planned before this instant (now).
    pub from: DateTime<Utc>,
    /// The local days planned.
    pub days: u32,
    /// Whether the daemon's scheduler executes plans (`[scheduler] enabled`): if not,
    /// this is what it would do.
    pub scheduler_enabled: bool,
    /// The plan: contacts and escalations in time order, each contact with the decision
    /// that allows it; steps that cannot be placed with the refusing rules; steps not
    /// taken because a stop condition holds; the legal holds.
    pub plan: AccountPlan,
}

// ---------------------------------------------------------------------------------------
// Reports.

/// The query parameters of a report; every value is checked by the report itself, so
/// that a bad one is named (`from`, `near`) the same way on the command line.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// The first day, `YYYY-MM-DD` (UTC days); default 29 days before `to`.
    #[param(example = "2026-03-09", value_type = Option<crate::domain::instant::DateSchema>)]
    pub from: Option<String>,
    /// The last day, included; default today.
    #[param(example = "2026-04-07", value_type = Option<crate::domain::instant::DateSchema>)]
    pub to: Option<String>,
    /// `json` (default), `csv` (one table per section) or `html` (a self-contained page
    /// with charts).
    #[param(example = "html", pattern = "^(json|csv|html)$")]
    pub format: Option<String>,
    /// The account of the heat map: required by `windows`, adds the map to `summary`.
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub account: Option<String>,
    /// The channel of the heat map; default `call`.
    #[param(pattern = "^(call|sms|email|letter|visit)$")]
    pub channel: Option<String>,
    /// What aging counts days from: `placement` (default) or `charge_off`.
    #[param(pattern = "^(placement|charge_off)$")]
    pub basis: Option<String>,
    /// "Near" a cap: some of it used and at most this many contacts left; default 1.
    #[param(pattern = "^(100|[1-9]?[0-9])$")]
    pub near: Option<String>,
    /// Only the accounts of this client (within the key's clients; a key limited to
    /// clients reads its clients' accounts only, with or without it).
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub client: Option<String>,
}

/// The query parameters of the shadow report; every value is checked as the command
/// line's are, so that a bad one is named (`from`, `format`).
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ShadowParams {
    /// The first day, `YYYY-MM-DD` (UTC days); default 29 days before `to`.
    #[param(example = "2026-03-09", value_type = Option<crate::domain::instant::DateSchema>)]
    pub from: Option<String>,
    /// The last day, included; default today.
    #[param(example = "2026-04-07", value_type = Option<crate::domain::instant::DateSchema>)]
    pub to: Option<String>,
    /// `json` (default), `csv` (divergences per rule and direction) or `html` (a
    /// self-contained page).
    #[param(example = "json", pattern = "^(json|csv|html)$")]
    pub format: Option<String>,
}

/// The query parameters of an audit; every value is checked by the audit, so that a bad
/// one is named (`from`, `format`) the same way on the command line.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// The first day, `YYYY-MM-DD` (UTC days); default 29 days before `to`.
    #[param(example = "2026-03-09", value_type = Option<crate::domain::instant::DateSchema>)]
    pub from: Option<String>,
    /// The last day, included; default today.
    #[param(example = "2026-04-07", value_type = Option<crate::domain::instant::DateSchema>)]
    pub to: Option<String>,
    /// `json` (default), `csv` (one row per refused contact) or `html` (a self-contained
    /// page).
    #[param(example = "json", pattern = "^(json|csv|html)$")]
    pub format: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Records: legal holds and purges.

/// A legal hold to place: on one account (`account_id`) or on every account of a client
/// (`client`), exactly one of the two.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// The account to hold.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub account_id: Option<String>,
    /// The client whose accounts to hold.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    pub client: Option<String>,
    /// Why: litigation, a dispute, a regulator's request.
    pub kind: crate::records::HoldKind,
    /// The hold's reference (a case number, a request's reference), 1 to 500
    /// characters; nothing personal.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

// The query of `GET /v1/holds`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HoldsQuery {
    /// Released holds too (default: only those in force).
    pub all: Option<bool>,
}

/// The legal holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldList {
    /// Newest first.
    pub holds: Vec<crate::records::Hold>,
}

/// A purge to plan or run.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// Only list what would be purged (default true): send `false` to purge.
    pub dry_run: Option<bool>,
    /// Judge retention as of this instant (default: now); a real purge may not look
    /// ahead.
    #[schema(value_type = Option<crate::domain::instant::InstantSchema>)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a purge would do (`dry_run`) or did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurgeResponse {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// The instant retention was judged at.
    pub as_of: chrono::DateTime<chrono::Utc>,
    /// The accounts selected, and why.
    pub selected: Vec<crate::records::Selected>,
    /// Accounts a legal hold alone keeps.
    pub held: Vec<crate::service::records::HeldAccount>,
    /// The accounts purged (empty for a dry run).
    pub purged: Vec<crate::store::records::PurgeRecord>,
    /// Selected accounts left alone when checked again under their lock.
    pub skipped: Vec<crate::service::records::SkippedAccount>,
}

/// The purge report: every purge, oldest first; nothing personal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurgeReport {
    /// The purges.
    pub purges: Vec<crate::store::records::PurgeRecord>,
}

//! The store's side of records management (`crate::records`): legal holds, the records
//! log, the accounts a purge may consider, and the purge of one account in one
//! transaction (all of its rows or none).
//!
//! What a purged row keeps is `records::scrub`'s business; the store reads the rows,
//! hands them to it and writes back what it returns.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, stored_account, to_json};
use crate::domain::chain::{self, RecordEntry};
use crate::domain::{Account, LedgerEvent};
use crate::records::scrub::{
    PURGED, personal_strings, scrub_account, scrub_event, scrub_json, scrub_json_text,
    scrub_notice_text,
};
use crate::records::{Candidate, Hold, Selected};

/// Accounts per page when listing purge candidates.
pub const CANDIDATE_PAGE: i64 = 1000;

/// What releasing a hold did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// It was in force and is released now.
    Released(Hold),
    /// It was released before (nothing changed).
    AlreadyReleased(Hold),
    /// No hold has that id.
    NotFound,
}

/// What a purge of one account did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeOutcome {
    /// Its personal data is gone; the record written to the records log.
    Purged(PurgeRecord),
    /// Nothing was changed, and why (already purged, held, new activity, gone).
    Skipped(&'static str),
}

/// The entry of the purge report: what was purged, when, under which rule; nothing
/// personal (the account id is the agency's reference, not the consumer's data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PurgeRecord {
    /// The account.
    pub account_id: String,
    /// When it was purged.
    pub purged_at: DateTime<Utc>,
    /// The rule that allowed it.
    pub rule: crate::records::PurgeRule,
    /// The years it was kept after its last collection activity.
    pub retention_years: u32,
    /// Its last collection activity.
    pub last_activity: DateTime<Utc>,
    /// When its retention ended.
    pub retention_end: DateTime<Utc>,
    /// Ledger events scrubbed.
    pub events: u64,
    /// Logged decisions scrubbed.
    pub decisions: u64,
    /// Notices scrubbed.
    pub notices: u64,
    /// Remembered idempotent responses that named the account, forgotten.
    pub idempotency_keys: u64,
    /// SHA-256 of the facts kept of the scrubbed entries ([`chain::facts_digest`]).
    pub facts: String,
}

/// One account as the candidate listing reads it.
pub(crate) struct CandidateRow {
    pub id: String,
    pub body: String,
    pub stored_at: DateTime<Utc>,
    pub purged: bool,
    /// The latest event, decision and notice instants (any may be absent).
    pub activity: [Option<DateTime<Utc>>; 3],
}

impl CandidateRow {
    /// The candidate: closed (`closed_on`), paid (a zero balance), deceased (the flag);
    /// its last collection activity the latest of its placement (the day it was placed,
    /// else the day dunner first stored it), its events, decisions and notices.
    pub fn candidate(&self) -> Result<Candidate, StoreError> {
        let account = stored_account(&self.id, &self.body)?;
        let placed = account
            .placed_on
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map(|at| at.and_utc())
            .unwrap_or(self.stored_at);
        let last_activity = self
            .activity
            .iter()
            .flatten()
            .copied()
            .fold(placed, DateTime::max);
        Ok(Candidate {
            account_id: self.id.clone(),
            client: account.client.clone(),
            state: account
                .consumer
                .address
                .as_ref()
                .and_then(|a| a.state.clone())
                .map(|s| s.to_ascii_uppercase()),
            last_activity,
            closed: account.closed_on.is_some(),
            paid: account.balance.as_ref().is_some_and(|b| b.amount.is_zero()),
            deceased: account.flags.deceased,
            purged: self.purged,
        })
    }
}

/// An account's rows as a purge reads them (only rows not purged before).
pub(crate) struct PurgeRows {
    pub account: Account,
    /// `seq`, body.
    pub events: Vec<(i64, String)>,
    /// `seq`, question, decision, shadow.
    pub decisions: Vec<(i64, String, String, Option<String>)>,
    /// `seq`, request.
    pub notices: Vec<(i64, String)>,
}

/// The same rows after scrubbing.
pub(crate) struct Scrubbed {
    pub account: String,
    pub events: Vec<(i64, String)>,
    pub decisions: Vec<(i64, String, String, Option<String>)>,
    pub notices: Vec<(i64, String)>,
}

impl PurgeRows {
    /// Scrubs every row. The personal strings are the account's plus every contact
    /// point its events, questions and notices used, so free text that quoted any of
    /// them goes too.
    pub fn scrub(&self) -> Result<Scrubbed, StoreError> {
        let mut personal = personal_strings(&self.account);
        let mut events = Vec::with_capacity(self.events.len());
        let mut parsed = Vec::with_capacity(self.events.len());
        for (seq, body) in &self.events {
            let event: LedgerEvent = super::from_json("stored event", body)?;
            personal.extend(event.contact_point.clone());
            parsed.push((*seq, event));
        }
        for (_, question, _, _) in &self.decisions {
            collect_strings(question, "contact_point", &mut personal);
        }
        for (_, request) in &self.notices {
            collect_strings(request, "to", &mut personal);
        }
        personal.retain(|p| !p.trim().is_empty());
        personal.sort();
        personal.dedup();
        for (seq, event) in parsed {
            let mut value = serde_json::to_value(scrub_event(&event)).map_err(corrupt)?;
            scrub_json(&mut value, &personal);
            events.push((seq, value.to_string()));
        }
        let decisions = self
            .decisions
            .iter()
            .map(|(seq, question, decision, shadow)| {
                (
                    *seq,
                    scrub_json_text(question, &personal),
                    scrub_json_text(decision, &personal),
                    shadow.as_deref().map(|s| scrub_json_text(s, &personal)),
                )
            })
            .collect();
        let notices = self
            .notices
            .iter()
            .map(|(seq, request)| (*seq, scrub_notice_text(request, &personal)))
            .collect();
        Ok(Scrubbed {
            account: to_json(&scrub_account(&self.account))?,
            events,
            decisions,
            notices,
        })
    }
}

/// Every string under `key` in the JSON text (at any depth).
fn collect_strings(text: &str, key: &str, out: &mut Vec<String>) {
    fn walk(value: &serde_json::Value, key: &str, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if k == key
                        && let serde_json::Value::String(s) = v
                    {
                        out.push(s.clone());
                    }
                    walk(v, key, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, key, out)),
            _ => {}
        }
    }
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        walk(&value, key, out);
    }
}

fn corrupt(error: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        what: "purged row",
        reason: error.to_string(),
    }
}

/// One purged entry's facts as [`chain::facts_digest`] reads them: its kind, id and
/// columns (JSON columns canonical, so both backends agree).
pub(crate) fn fact_text(kind: &str, id: &str, columns: &[&str]) -> String {
    let mut parts = vec![
        serde_json::Value::String(kind.to_string()),
        serde_json::Value::String(id.to_string()),
    ];
    parts.extend(
        columns
            .iter()
            .map(|c| serde_json::Value::String(chain::canonical_json(c))),
    );
    serde_json::Value::Array(parts).to_string()
}

/// The facts digest of each account, from its purged entries' fact texts in (account,
/// chain) order.
pub(crate) fn digests_by_account(
    texts: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (account_id, text) in texts {
        match out.last_mut() {
            Some((last, texts)) if *last == account_id => texts.push(text),
            _ => out.push((account_id, vec![text])),
        }
    }
    out.into_iter()
        .map(|(account, texts)| (account, chain::facts_digest(&texts)))
        .collect()
}

/// The next records-log entry after `previous`.
pub(crate) fn record_entry(
    previous: Option<String>,
    id: String,
    at: DateTime<Utc>,
    action: &str,
    account_id: Option<&str>,
    body: String,
) -> RecordEntry {
    let previous = previous.unwrap_or_else(|| chain::GENESIS.to_string());
    let at = chain::instant_text(at);
    let hash = chain::record_hash(&previous, &id, &at, action, account_id, &body);
    RecordEntry {
        seq: 0,
        id,
        at,
        action: action.to_string(),
        account_id: account_id.map(str::to_string),
        body,
        previous,
        hash,
    }
}

/// The records-log body of a hold placed or released: its reason only as a hash.
pub(crate) fn hold_body(hold: &Hold) -> Result<String, StoreError> {
    to_json(&serde_json::json!({
        "hold_id": hold.id,
        "scope": hold.scope,
        "target": hold.target,
        "kind": hold.kind,
        "reason_sha256": crate::domain::sha256_hex(hold.reason.as_bytes()),
    }))
}

/// A released hold's reason after its account is purged.
pub(crate) const PURGED_REASON: &str = PURGED;

impl Store {
    /// Places a legal hold (an account hold needs the account), and logs it.
    pub async fn place_hold(&self, hold: &Hold) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.place_hold(hold).await,
            Store::Postgres(store) => store.place_hold(hold).await,
        }
    }

    /// Releases a hold at `now`, and logs it.
    pub async fn release_hold(&self, id: &str, now: DateTime<Utc>) -> Result<Release, StoreError> {
        match self {
            Store::Sqlite(store) => store.release_hold(id, now).await,
            Store::Postgres(store) => store.release_hold(id, now).await,
        }
    }

    /// Every hold (in force only, unless `released` too), newest first.
    pub async fn holds(&self, released: bool) -> Result<Vec<Hold>, StoreError> {
        match self {
            Store::Sqlite(store) => store.holds(released).await,
            Store::Postgres(store) => store.holds(released).await,
        }
    }

    /// The next [`CANDIDATE_PAGE`] accounts after `after` (id order) as purge candidates.
    pub async fn purge_candidates(&self, after: &str) -> Result<Vec<Candidate>, StoreError> {
        let rows = match self {
            Store::Sqlite(store) => store.candidate_rows(after, CANDIDATE_PAGE).await?,
            Store::Postgres(store) => store.candidate_rows(after, CANDIDATE_PAGE).await?,
        };
        rows.iter().map(CandidateRow::candidate).collect()
    }

    /// Purges one selected account in one transaction, after checking again, under its
    /// lock, that it is not purged, not held, and has no activity newer than the
    /// selection saw.
    pub async fn purge_account(
        &self,
        selected: &Selected,
        now: DateTime<Utc>,
    ) -> Result<PurgeOutcome, StoreError> {
        match self {
            Store::Sqlite(store) => store.purge_account(selected, now).await,
            Store::Postgres(store) => store.purge_account(selected, now).await,
        }
    }

    /// The records log in order.
    pub async fn records_log(&self) -> Result<Vec<RecordEntry>, StoreError> {
        match self {
            Store::Sqlite(store) => store.records_log().await,
            Store::Postgres(store) => store.records_log().await,
        }
    }

    /// Every account with purged entries, with the digest of their facts as stored now.
    pub async fn purged_facts(&self) -> Result<Vec<(String, String)>, StoreError> {
        match self {
            Store::Sqlite(store) => store.purged_facts(None).await,
            Store::Postgres(store) => store.purged_facts(None).await,
        }
    }

    /// The purge report: every purge, oldest first.
    pub async fn purge_report(&self) -> Result<Vec<PurgeRecord>, StoreError> {
        self.records_log()
            .await?
            .iter()
            .filter(|r| r.action == "purge")
            .map(|r| super::from_json("purge record", &r.body))
            .collect()
    }
}

//! Reading the ledger a consumer at a time, for the planner: every account with its full
//! ledger (all event types: payment plans, promises and purposes matter to a strategy),
//! the debts of one consumer (one `consumer.id`) together.
//!
//! [`Store::consumer_page`] walks the whole portfolio in pages, one query per page on
//! both backends (no query per account): a page is anchored on the next `limit` account
//! ids, and brings every sibling of their consumers along, wherever their ids fall. A
//! consumer belongs to the page of its first account (in the database's id order), so
//! each consumer is read exactly once per walk.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{DecisionRow, EventQuery, MAX_PAGE, Store, StoreError, from_json};
use crate::domain::{Account, AccountEntries, AccountLedger, LedgerEntry, LedgerEvent};

/// The most accounts that anchor one page.
pub const MAX_CONSUMER_PAGE: u32 = 5_000;

/// One page of the portfolio, a consumer at a time.
#[derive(Debug, Clone)]
pub struct ConsumerPage {
    /// The consumers whose first account falls in the page: each one's accounts, in id
    /// order, with their full ledgers.
    pub consumers: Vec<Vec<AccountLedger>>,
    /// Pass as `after` for the next page; `None` after the last page.
    pub next_after: Option<String>,
}

/// One account row of a page, as the backends read it (in the database's id order).
pub(crate) struct PageAccount {
    pub id: String,
    pub consumer_id: Option<String>,
    pub body: String,
    /// One of the page's anchors (the `limit` ids after the cursor), not a sibling
    /// brought along.
    pub anchor: bool,
}

/// One ledger event of a page, in ledger order within its account.
pub(crate) struct PageEvent {
    pub account_id: String,
    /// The entry's id.
    pub id: String,
    /// The entry's position in the ledger.
    pub seq: i64,
    pub body: String,
}

/// One page of the portfolio with every entry's id and ledger position, for the audit.
#[derive(Debug, Clone)]
pub struct ConsumerEntriesPage {
    /// The consumers whose first account falls in the page: each one's accounts, in id
    /// order, with their full ledgers in ledger order.
    pub consumers: Vec<Vec<AccountEntries>>,
    /// Pass as `after` for the next page; `None` after the last page.
    pub next_after: Option<String>,
}

/// A logged decision the shadow policy diverged from.
#[derive(Debug, Clone)]
pub struct ShadowRow {
    /// The decision's id.
    pub decision_id: String,
    /// The account.
    pub account_id: String,
    /// When it was made.
    pub decided_at: DateTime<Utc>,
    /// The live outcome.
    pub outcome: String,
    /// The question asked.
    pub question: super::Attempt,
    /// The divergence as logged (JSON).
    pub shadow: String,
}

impl Store {
    /// The consumers whose first account id comes after `after` (the previous page's
    /// `next_after`; `None` for the first page), anchored on at most `limit` account
    /// ids, each with every account of the consumer and their full ledgers.
    pub async fn consumer_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ConsumerPage, StoreError> {
        self.partition_page(None, after, limit).await
    }

    /// [`Store::consumer_page`] over the consumers of one scheduler partition
    /// (`crate::domain::partition`), or of all when `partition` is `None`.
    pub async fn partition_page(
        &self,
        partition: Option<i64>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ConsumerPage, StoreError> {
        let limit = limit.clamp(1, MAX_CONSUMER_PAGE);
        let (accounts, events) = match self {
            Store::Sqlite(store) => {
                store
                    .consumer_page(after, i64::from(limit), partition)
                    .await?
            }
            Store::Postgres(store) => {
                store
                    .consumer_page(after, i64::from(limit), partition)
                    .await?
            }
        };
        let (consumers, next_after) = group_page(accounts, events, limit)?;
        Ok(ConsumerPage {
            consumers: consumers
                .into_iter()
                .map(|debts| {
                    debts
                        .into_iter()
                        .map(|debts| AccountLedger {
                            account: debts.account,
                            ledger: debts.entries.into_iter().map(|e| e.event).collect(),
                        })
                        .collect()
                })
                .collect(),
            next_after,
        })
    }

    /// [`Store::consumer_page`] with each entry's id and position in the ledger (`seq`),
    /// the entries of each account in ledger order.
    pub async fn consumer_entries_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ConsumerEntriesPage, StoreError> {
        let limit = limit.clamp(1, MAX_CONSUMER_PAGE);
        let (accounts, events) = match self {
            Store::Sqlite(store) => store.consumer_page(after, i64::from(limit), None).await?,
            Store::Postgres(store) => store.consumer_page(after, i64::from(limit), None).await?,
        };
        let (consumers, next_after) = group_page(accounts, events, limit)?;
        Ok(ConsumerEntriesPage {
            consumers,
            next_after,
        })
    }

    /// The account ids that cut the portfolio into pages of `limit` anchors, in id
    /// order: the last anchor of every full page. With them every page is known before
    /// any is read, so that several can be read at once
    /// ([`Store::consumer_entries_between`]); the ranges they bound never overlap.
    pub async fn consumer_page_bounds(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        let limit = i64::from(limit.clamp(1, MAX_CONSUMER_PAGE));
        match self {
            Store::Sqlite(store) => store.consumer_page_bounds(limit).await,
            Store::Postgres(store) => store.consumer_page_bounds(limit).await,
        }
    }

    /// The consumers whose first account id is in `(after, upto]` (`None`: unbounded
    /// on that side), each with every account of the consumer and their full ledgers,
    /// read in one query but not parsed: [`RawEntriesPage::parse`] does that (CPU work a
    /// caller runs off the async runtime, the audit on rayon's pool).
    pub async fn consumer_entries_between(
        &self,
        after: Option<&str>,
        upto: Option<&str>,
    ) -> Result<RawEntriesPage, StoreError> {
        let (accounts, events) = match self {
            Store::Sqlite(store) => store.consumer_range(after, upto).await?,
            Store::Postgres(store) => store.consumer_range(after, upto).await?,
        };
        Ok(RawEntriesPage { accounts, events })
    }

    /// The recorded contacts of `[since, until)` that a logged decision allowed: each
    /// contact's ledger id with the digest of the policy that allowed it.
    pub async fn contact_decisions(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows = match self {
            Store::Sqlite(store) => store.contact_decisions(since, until).await?,
            Store::Postgres(store) => store.contact_decisions(since, until).await?,
        };
        Ok(rows.into_iter().collect())
    }

    /// The decisions logged in `[since, until)` (by when they were made), in log order,
    /// each with the digest of the policy that made it.
    pub async fn decisions_logged(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DecisionRow, String)>, StoreError> {
        match self {
            Store::Sqlite(store) => store.decisions_logged(since, until).await,
            Store::Postgres(store) => store.decisions_logged(since, until).await,
        }
    }

    /// The logged decisions of `[since, until)` (by when they were made) that a shadow
    /// policy diverged from, in log order.
    pub async fn shadow_divergences(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<ShadowRow>, StoreError> {
        match self {
            Store::Sqlite(store) => store.shadow_divergences(since, until).await,
            Store::Postgres(store) => store.shadow_divergences(since, until).await,
        }
    }

    /// An account and the consumer's other accounts (in id order), each with its full
    /// ledger, as [`Store::consumer_page`] gives them; `None` when the account does not
    /// exist.
    pub async fn consumer_ledgers(
        &self,
        account_id: &str,
    ) -> Result<Option<Vec<AccountLedger>>, StoreError> {
        let Some(account) = self.get_account(account_id).await? else {
            return Ok(None);
        };
        let mut ids = match &account.consumer.id {
            Some(consumer) => match self {
                Store::Sqlite(store) => store.consumer_accounts(consumer).await?,
                Store::Postgres(store) => store.consumer_accounts(consumer).await?,
            },
            None => Vec::new(),
        };
        if !ids.iter().any(|id| id == account_id) {
            ids.push(account_id.to_string());
        }
        let mut debts = Vec::with_capacity(ids.len());
        for id in ids {
            let account = if id == account_id {
                account.clone()
            } else {
                match self.get_account(&id).await? {
                    Some(sibling) => sibling,
                    // Deleted meanwhile: nothing to plan for it.
                    None => continue,
                }
            };
            let ledger = self.full_ledger(&id).await?;
            debts.push(AccountLedger { account, ledger });
        }
        Ok(Some(debts))
    }

    /// Every event of an account, in ledger order.
    async fn full_ledger(&self, account_id: &str) -> Result<Vec<LedgerEvent>, StoreError> {
        let mut ledger = Vec::new();
        let mut after_seq = None;
        loop {
            let query = EventQuery {
                after_seq,
                limit: Some(MAX_PAGE),
                ..EventQuery::default()
            };
            let page = self.list_events(account_id, &query).await?;
            let full = page.len() == MAX_PAGE as usize;
            after_seq = page.last().map(|e| e.seq);
            ledger.extend(page.into_iter().map(|stored| stored.event));
            if !full {
                return Ok(ledger);
            }
        }
    }

    /// The idempotency keys of the pending notices whose key starts with `prefix`.
    pub async fn pending_notice_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Sqlite(store) => store.pending_notice_keys(prefix).await,
            Store::Postgres(store) => store.pending_notice_keys(prefix).await,
        }
    }
}

/// A page of consumers as read ([`Store::consumer_entries_between`]), bodies not parsed.
pub struct RawEntriesPage {
    accounts: Vec<PageAccount>,
    events: Vec<PageEvent>,
}

impl RawEntriesPage {
    /// The consumers of the page, as [`ConsumerEntriesPage::consumers`]; the bodies are
    /// parsed on rayon's pool.
    pub fn parse(self) -> Result<Vec<Vec<AccountEntries>>, StoreError> {
        use rayon::prelude::*;
        let events = self
            .events
            .into_par_iter()
            .map(parse_event)
            .collect::<Result<Vec<_>, _>>()?;
        let accounts = self
            .accounts
            .into_par_iter()
            .map(|row| {
                let account = parse_account(&row);
                (row, account)
            })
            .collect();
        Ok(group_rows(accounts, events))
    }
}

/// Groups a page's rows by consumer, keeping the consumers whose first account (in the
/// rows' order, the database's) is an anchor: one whose first account came before the
/// cursor was read with an earlier page.
fn group_page(
    accounts: Vec<PageAccount>,
    events: Vec<PageEvent>,
    limit: u32,
) -> Result<(Vec<Vec<AccountEntries>>, Option<String>), StoreError> {
    let anchors = accounts.iter().filter(|a| a.anchor).count();
    let next_after = (anchors >= limit as usize)
        .then(|| {
            accounts
                .iter()
                .rev()
                .find(|a| a.anchor)
                .map(|a| a.id.clone())
        })
        .flatten();
    let events = events
        .into_iter()
        .map(parse_event)
        .collect::<Result<Vec<_>, _>>()?;
    let accounts = accounts
        .into_iter()
        .map(|row| {
            let account = parse_account(&row);
            (row, account)
        })
        .collect();
    Ok((group_rows(accounts, events), next_after))
}

/// An event row with its body parsed.
fn parse_event(event: PageEvent) -> Result<(String, LedgerEntry), StoreError> {
    let parsed: LedgerEvent = from_json("event", &event.body)?;
    Ok((
        event.account_id,
        LedgerEntry {
            id: event.id,
            seq: event.seq,
            event: parsed,
        },
    ))
}

/// An account row's body parsed; `None` when it no longer parses.
fn parse_account(row: &PageAccount) -> Option<Account> {
    // A stored account that no longer parses is not planned (nothing is decided on
    // it); it is logged, and `dunner ledger check` lists it.
    match super::stored_account(&row.id, &row.body) {
        Ok(account) => Some(account),
        Err(error) => {
            tracing::error!(account = %row.id, %error, "a stored account is invalid; it is not planned");
            None
        }
    }
}

/// The parsed rows of a page grouped by consumer, the consumers whose first account
/// (in the rows' order) is an anchor; each account's entries in ledger order.
fn group_rows(
    accounts: Vec<(PageAccount, Option<Account>)>,
    events: Vec<(String, LedgerEntry)>,
) -> Vec<Vec<AccountEntries>> {
    let mut ledgers: HashMap<String, Vec<LedgerEntry>> = HashMap::with_capacity(accounts.len());
    for (account_id, entry) in events {
        ledgers.entry(account_id).or_default().push(entry);
    }
    // Each row's consumer: its place in the page, or `None` when it belongs to an earlier
    // page. A consumer is named by its id, an account without one by the account's.
    let mut groups = 0;
    let places: Vec<Option<usize>> = {
        let mut seen: HashMap<(bool, &str), Option<usize>> = HashMap::with_capacity(accounts.len());
        accounts
            .iter()
            .map(|(row, _)| {
                let key = match &row.consumer_id {
                    Some(consumer) => (true, consumer.as_str()),
                    None => (false, row.id.as_str()),
                };
                *seen.entry(key).or_insert_with(|| {
                    row.anchor.then(|| {
                        groups += 1;
                        groups - 1
                    })
                })
            })
            .collect()
    };
    let mut consumers: Vec<Vec<AccountEntries>> = (0..groups).map(|_| Vec::new()).collect();
    for ((row, account), place) in accounts.into_iter().zip(places) {
        let (Some(group), Some(account)) =
            (place.and_then(|place| consumers.get_mut(place)), account)
        else {
            continue;
        };
        let mut entries = ledgers.remove(&row.id).unwrap_or_default();
        // Already in order when the query sorted them (a sorted slice costs one pass).
        entries.sort_by_key(|entry| entry.seq);
        group.push(AccountEntries { account, entries });
    }
    consumers
}

//! The shell of the reports: has the store read what the asked sections need — one
//! partition per core, the accounts and the decision log at once, then the events —
//! and the pure folds count it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::aging::AgingTally;
use super::caps::{AccountIndex, CapCounts, CapScreen, CapTally, IndexPart, WrongParties};
use super::contacts::ContactTally;
use super::facts::{AccountFacts, EventFacts};
use super::holds::HoldTally;
use super::promises::PromiseTally;
use super::refusals::RefusalTally;
use super::{Report, ReportError, ReportName, ReportQuery, windows};
use crate::policy::Policy;
use crate::store::reports::{
    AccountFold, AccountScan, DecisionFold, DecisionScan, EventFold, EventScan, HistoryFold,
    HistoryWanted, Unreadable, partitions,
};
use crate::store::{Store, lookback_start};

/// Makes a report from the ledger, judged with `policy`, as of the end of the period
/// or `now`, whichever is earlier.
pub async fn build(
    store: &Store,
    policy: Arc<Policy>,
    query: &ReportQuery,
    now: DateTime<Utc>,
) -> Result<Report, ReportError> {
    let period = query.period;
    let as_of = period.as_of(now);
    let shows = |section| query.name.shows(section, query.account.is_some());
    let parts = partitions();

    // The heat map first: an unknown account is named before the long reads.
    let windows = match &query.account {
        Some(id) if shows(ReportName::Windows) => {
            let (account, mut history) = store
                .account_with_history(id, lookback_start(as_of))
                .await?
                .ok_or_else(|| ReportError::UnknownAccount(id.clone()))?;
            history.retain(|event| event.at < as_of);
            Some(windows::windows(
                &policy,
                &account,
                &history,
                query.channel,
                as_of,
            ))
        }
        _ => None,
    };

    let (holds, aging, caps) = (
        shows(ReportName::Holds),
        shows(ReportName::Aging),
        shows(ReportName::Caps),
    );
    let accounts = async {
        if !(holds || aging || caps) {
            return Ok(None);
        }
        let folds = (0..parts)
            .map(|_| AccountsFold {
                policy: Arc::clone(&policy),
                holds: holds.then(HoldTally::default),
                aging: aging.then(|| AgingTally::new(query.basis, period.as_of_date(now))),
                index: caps.then(IndexPart::default),
            })
            .collect();
        store
            .fold_accounts(folds, query.clients.as_deref())
            .await
            .map(Some)
    };
    let decisions = async {
        if !shows(ReportName::Refusals) {
            return Ok(None);
        }
        let folds = (0..parts).map(|_| DecisionsFold::default()).collect();
        store
            .fold_decisions(period.start(), as_of, folds, query.clients.as_deref())
            .await
            .map(Some)
    };
    let unreported_outcomes = async {
        if !shows(ReportName::UnreportedOutcomes) {
            return Ok(None);
        }
        let grace =
            chrono::TimeDelta::from_std(query.outcome_grace).unwrap_or(chrono::TimeDelta::MAX);
        let made_before = as_of.checked_sub_signed(grace).unwrap_or(period.start());
        let (attempts, total) = store
            .unreported_attempts(
                period.start(),
                made_before,
                super::outcomes::MAX_LISTED,
                query.clients.as_deref(),
            )
            .await?;
        Ok::<_, crate::store::StoreError>(Some(super::outcomes::section(
            made_before,
            attempts,
            total,
        )))
    };
    let started = std::time::Instant::now();
    let (accounts, decisions, unreported_outcomes) =
        tokio::try_join!(accounts, decisions, unreported_outcomes)?;
    tracing::debug!(elapsed = ?started.elapsed(), "report: accounts and decisions read");

    let mut hold_tally: Option<HoldTally> = None;
    let mut aging_tally: Option<AgingTally> = None;
    let mut index_parts = Vec::new();
    for fold in accounts.into_iter().flatten() {
        merge(&mut hold_tally, fold.holds, HoldTally::merge);
        merge(&mut aging_tally, fold.aging, AgingTally::merge);
        index_parts.extend(fold.index);
    }
    let refusals = decisions.map(|folds| {
        let mut tally = RefusalTally::default();
        for fold in folds {
            tally.merge(fold.0);
        }
        tally.finish()
    });

    let screen = caps.then(|| Arc::new(CapScreen::new(Arc::clone(&policy), as_of, query.near)));
    let index = AccountIndex::new(index_parts);
    let (contacts, promises) = (
        shows(ReportName::Contacts) || shows(ReportName::RightPartyContacts),
        shows(ReportName::Promises),
    );
    let mut events = EventsFold::default();
    // With caps: back to the engine's lookback, for the wrong-party calls before the
    // histories' start.
    let since = match &screen {
        Some(_) => lookback_start(as_of).min(period.start()),
        None => period.start(),
    };
    if (contacts || promises || caps) && since < as_of {
        let folds = (0..parts)
            .map(|_| EventsFold {
                contacts: contacts.then(|| ContactTally::new(period)),
                promises: promises.then(|| PromiseTally::new(period.start())),
                caps: screen
                    .as_ref()
                    .map(|screen| CapCounts::new(Arc::clone(screen))),
                wrong_parties: screen
                    .as_ref()
                    .map(|screen| WrongParties::new(screen.history_start())),
            })
            .collect();
        let started = std::time::Instant::now();
        let folds = store
            .fold_events(since, as_of, folds, query.clients.as_deref())
            .await?;
        tracing::debug!(elapsed = ?started.elapsed(), "report: events read");
        for fold in folds {
            merge(&mut events.contacts, fold.contacts, ContactTally::merge);
            merge(&mut events.promises, fold.promises, PromiseTally::merge);
            merge(&mut events.caps, fold.caps, CapCounts::merge);
            merge(
                &mut events.wrong_parties,
                fold.wrong_parties,
                WrongParties::merge,
            );
        }
    }
    let contact_tally = events.contacts.unwrap_or_else(|| ContactTally::new(period));

    let wrong_parties = Arc::new(events.wrong_parties.take().unwrap_or_default());
    let caps = match (screen, events.caps.take()) {
        (Some(screen), counts) => {
            let started = std::time::Instant::now();
            let wanted = counts
                .map(|counts| counts.candidates(&index))
                .unwrap_or_default();
            tracing::debug!(
                accounts = wanted.len(),
                "report: accounts that may be at or near a cap"
            );
            let chunk = wanted.len().div_ceil(parts).max(1);
            let work = wanted
                .chunks(chunk)
                .map(|chunk| {
                    let fold = HistoriesFold {
                        tally: CapTally::new(Arc::clone(&screen)),
                        wrong_parties: Arc::clone(&wrong_parties),
                    };
                    (fold, chunk.to_vec())
                })
                .collect();
            let mut tally = CapTally::new(Arc::clone(&screen));
            for fold in store
                .fold_histories(screen.history_start(), as_of, work)
                .await?
            {
                tally.merge(fold.tally);
            }
            tracing::debug!(elapsed = ?started.elapsed(), "report: caps judged");
            Some(tally.finish())
        }
        (None, _) => None,
    };

    Ok(Report {
        report: query.name,
        period,
        as_of,
        generated_at: now,
        policy_digest: policy.digest().to_string(),
        contacts: shows(ReportName::Contacts).then(|| contact_tally.contacts()),
        right_party_contacts: shows(ReportName::RightPartyContacts)
            .then(|| contact_tally.right_party()),
        refusals,
        caps,
        holds: hold_tally.map(|tally| tally.finish()),
        aging: aging_tally.map(|tally| tally.finish()),
        promises: shows(ReportName::Promises).then(|| {
            events
                .promises
                .unwrap_or_default()
                .finish(&period, period.as_of_date(now))
        }),
        windows,
        unreported_outcomes,
    })
}

/// Folds a partition's tally into the running one.
fn merge<T>(into: &mut Option<T>, part: Option<T>, add: fn(&mut T, T)) {
    match (into.as_mut(), part) {
        (Some(total), Some(part)) => add(total, part),
        (None, part) => *into = part,
        (Some(_), None) => {}
    }
}

/// One partition of the accounts: holds, aging, and the screen's index.
struct AccountsFold {
    policy: Arc<Policy>,
    holds: Option<HoldTally>,
    aging: Option<AgingTally>,
    index: Option<IndexPart>,
}

impl AccountFold for AccountsFold {
    fn account(&mut self, row: AccountScan<'_>) -> Result<(), Unreadable> {
        let facts = AccountFacts::parse(row.body)?;
        if let Some(holds) = &mut self.holds {
            holds.add(&facts.flags);
        }
        if let Some(aging) = &mut self.aging {
            aging.add(&facts);
        }
        if let Some(index) = &mut self.index {
            index.add(&self.policy, &row, &facts);
        }
        Ok(())
    }
}

/// One partition of the events: contacts, promises, and the screen's tally.
#[derive(Default)]
struct EventsFold {
    contacts: Option<ContactTally>,
    promises: Option<PromiseTally>,
    caps: Option<CapCounts>,
    wrong_parties: Option<WrongParties>,
}

impl EventFold for EventsFold {
    fn event(&mut self, row: EventScan<'_>) -> Result<(), Unreadable> {
        let facts = EventFacts::parse(row.body)?;
        if let Some(contacts) = &mut self.contacts {
            contacts.add(row.at, &facts);
        }
        if let Some(promises) = &mut self.promises {
            promises.add(row.account_id, row.at, facts.kind, row.body)?;
        }
        if let Some(caps) = &mut self.caps {
            caps.add(row.account_id, row.at, &facts);
        }
        if let Some(wrong_parties) = &mut self.wrong_parties {
            wrong_parties.add(row.account_id, row.at, &facts, row.body)?;
        }
        Ok(())
    }

    fn finish(&mut self) {
        if let Some(caps) = &mut self.caps {
            caps.finish();
        }
    }
}

/// One partition of the decision log.
#[derive(Default)]
struct DecisionsFold(RefusalTally);

impl DecisionFold for DecisionsFold {
    fn decision(&mut self, row: DecisionScan<'_>) -> Result<(), Unreadable> {
        self.0.add(row.outcome, row.decision)
    }
}

/// One part of the accounts the cap screen let through.
struct HistoriesFold {
    tally: CapTally,
    wrong_parties: Arc<WrongParties>,
}

impl HistoryFold for HistoriesFold {
    fn history(
        &mut self,
        wanted: &HistoryWanted,
        account: Option<AccountScan<'_>>,
        events: &[EventScan<'_>],
    ) -> Result<(), Unreadable> {
        self.tally.add(wanted, account, events, &self.wrong_parties)
    }
}

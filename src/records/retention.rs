//! The retention policy and the choice of accounts a purge may touch.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};

/// The federal floor: three years after the last collection activity on the debt
/// (12 CFR 1006.100(a)).
pub const FLOOR_YEARS: u32 = 3;

/// The longest retention accepted (a typo such as `300` is refused, not obeyed).
pub const MAX_YEARS: u32 = 100;

/// `[retention]`: years kept after the last collection activity, overall and per client
/// or state. Never shorter than [`FLOOR_YEARS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Years kept after the last collection activity on a debt.
    pub years: u32,
    /// Longer retention for one client's accounts (`[retention.clients.acme] years = 7`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub clients: BTreeMap<String, RetentionYears>,
    /// Longer retention for accounts of consumers in one state (`[retention.states.NY]`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub states: BTreeMap<String, RetentionYears>,
}

/// A retention override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionYears {
    /// Years kept after the last collection activity.
    pub years: u32,
}

impl Default for RetentionConfig {
    fn default() -> RetentionConfig {
        RetentionConfig {
            years: FLOOR_YEARS,
            clients: BTreeMap::new(),
            states: BTreeMap::new(),
        }
    }
}

impl RetentionConfig {
    /// The checks serde cannot make: no retention under the floor (or absurdly long),
    /// client ids and state codes that can match an account. The error names the setting.
    pub fn check(&self) -> Result<(), String> {
        check_years("retention.years", self.years)?;
        for (client, years) in &self.clients {
            let setting = format!("retention.clients.{client}.years");
            crate::domain::check_account_id(client)
                .map_err(|message| format!("`retention.clients.{client}`: {message}"))?;
            check_years(&setting, years.years)?;
        }
        for (state, years) in &self.states {
            let setting = format!("retention.states.{state}.years");
            crate::domain::check_state(state)
                .map_err(|message| format!("`retention.states.{state}`: {message}"))?;
            if state.as_str() != state.to_ascii_uppercase() {
                return Err(format!(
                    "`retention.states.{state}`: write the state code in capitals (`{}`)",
                    state.to_ascii_uppercase()
                ));
            }
            check_years(&setting, years.years)?;
        }
        Ok(())
    }

    /// The years an account is kept: the longest of the overall setting, its client's and
    /// its state's.
    pub fn years_for(&self, client: Option<&str>, state: Option<&str>) -> u32 {
        let client_years = client
            .and_then(|c| self.clients.get(c))
            .map_or(0, |y| y.years);
        let state_years = state
            .map(str::to_ascii_uppercase)
            .and_then(|s| self.states.get(&s))
            .map_or(0, |y| y.years);
        self.years
            .max(client_years)
            .max(state_years)
            .max(FLOOR_YEARS)
    }
}

fn check_years(setting: &str, years: u32) -> Result<(), String> {
    if years < FLOOR_YEARS {
        return Err(format!(
            "`{setting}` = {years} is shorter than the federal floor of {FLOOR_YEARS} years after the last collection activity (12 CFR 1006.100(a)); retention may only be lengthened"
        ));
    }
    if years > MAX_YEARS {
        return Err(format!(
            "`{setting}` = {years} is more than {MAX_YEARS} years; write the years records are kept"
        ));
    }
    Ok(())
}

/// The end of retention: `years` calendar years after the last collection activity
/// (the same instant; 29 February falls back to 28 February). `None` past the calendar.
pub fn retention_end(last_activity: DateTime<Utc>, years: u32) -> Option<DateTime<Utc>> {
    last_activity.checked_add_months(Months::new(years.checked_mul(12)?))
}

/// What a legal hold covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldScope {
    /// One account.
    Account,
    /// Every account of one client.
    Client,
}

impl HoldScope {
    /// `account` or `client`.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldScope::Account => "account",
            HoldScope::Client => "client",
        }
    }

    /// Parses `account` or `client`.
    pub fn parse(name: &str) -> Option<HoldScope> {
        [HoldScope::Account, HoldScope::Client]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// Why records are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldKind {
    /// Litigation is pending or reasonably anticipated.
    Litigation,
    /// The consumer disputes the debt.
    Dispute,
    /// A regulator (CFPB, a state attorney general, a licensing agency) asked for them.
    Regulator,
}

impl HoldKind {
    /// Every kind.
    pub const ALL: [HoldKind; 3] = [HoldKind::Litigation, HoldKind::Dispute, HoldKind::Regulator];

    /// `litigation`, `dispute` or `regulator`.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::Litigation => "litigation",
            HoldKind::Dispute => "dispute",
            HoldKind::Regulator => "regulator",
        }
    }

    /// Parses `litigation`, `dispute` or `regulator`.
    pub fn parse(name: &str) -> Option<HoldKind> {
        HoldKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A legal hold: while it is in force (placed, not released), nothing it covers is purged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hold {
    /// Its id.
    pub id: String,
    /// What it covers.
    pub scope: HoldScope,
    /// The account id or the client id it covers.
    pub target: String,
    /// Why.
    pub kind: HoldKind,
    /// The agency's reference for it (a case number, a request's reference).
    pub reason: String,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// When it was released; `None` while in force.
    pub released_at: Option<DateTime<Utc>>,
}

impl Hold {
    /// Whether it is in force and covers an account of `client`.
    pub fn covers(&self, account_id: &str, client: Option<&str>) -> bool {
        self.released_at.is_none()
            && match self.scope {
                HoldScope::Account => self.target == account_id,
                HoldScope::Client => client == Some(self.target.as_str()),
            }
    }
}

/// What the store knows of one account that decides whether it may be purged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The account.
    pub account_id: String,
    /// Its client.
    pub client: Option<String>,
    /// The consumer's state (`consumer.address.state`).
    pub state: Option<String>,
    /// The last collection activity on the debt: the latest of its placement, its ledger
    /// events, its logged decisions and its notices.
    pub last_activity: DateTime<Utc>,
    /// Closed (`closed_on` set).
    pub closed: bool,
    /// Paid (a balance of zero).
    pub paid: bool,
    /// The consumer has died (the `deceased` flag).
    pub deceased: bool,
    /// Purged, with nothing written since.
    pub purged: bool,
}

/// Why an account may be purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PurgeRule {
    /// Closed, and past retention.
    ClosedPastRetention,
    /// Paid (a zero balance), and past retention.
    PaidPastRetention,
    /// The consumer has died, and the account is past retention.
    DeceasedPastRetention,
}

impl PurgeRule {
    /// The rule's name.
    pub fn as_str(self) -> &'static str {
        match self {
            PurgeRule::ClosedPastRetention => "closed_past_retention",
            PurgeRule::PaidPastRetention => "paid_past_retention",
            PurgeRule::DeceasedPastRetention => "deceased_past_retention",
        }
    }
}

/// An account a purge may touch, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Selected {
    /// The account (an agency reference, not personal data).
    pub account_id: String,
    /// The rule that allows it.
    pub rule: PurgeRule,
    /// The years it was kept for.
    pub retention_years: u32,
    /// Its last collection activity.
    pub last_activity: DateTime<Utc>,
    /// When its retention ended.
    pub retention_end: DateTime<Utc>,
}

/// Why an account is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// Already purged.
    Purged,
    /// Neither closed, paid nor deceased: collection may go on.
    Open,
    /// Retention runs until then.
    WithinRetention(DateTime<Utc>),
    /// A legal hold (its id) stops it.
    Held(String),
}

/// The verdict on one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It may be purged.
    Purge(Selected),
    /// It is kept.
    Keep(Keep),
}

/// Whether `candidate` may be purged at `as_of`: past its retention, closed, paid or
/// deceased, and under no hold in force. Fails closed: a retention end past the calendar
/// keeps the account.
pub fn judge(
    candidate: &Candidate,
    policy: &RetentionConfig,
    holds: &[Hold],
    as_of: DateTime<Utc>,
) -> Verdict {
    if candidate.purged {
        return Verdict::Keep(Keep::Purged);
    }
    let rule = if candidate.closed {
        PurgeRule::ClosedPastRetention
    } else if candidate.paid {
        PurgeRule::PaidPastRetention
    } else if candidate.deceased {
        PurgeRule::DeceasedPastRetention
    } else {
        return Verdict::Keep(Keep::Open);
    };
    let years = policy.years_for(candidate.client.as_deref(), candidate.state.as_deref());
    let Some(end) = retention_end(candidate.last_activity, years) else {
        return Verdict::Keep(Keep::WithinRetention(DateTime::<Utc>::MAX_UTC));
    };
    if as_of < end {
        return Verdict::Keep(Keep::WithinRetention(end));
    }
    if let Some(hold) = holds
        .iter()
        .find(|h| h.covers(&candidate.account_id, candidate.client.as_deref()))
    {
        return Verdict::Keep(Keep::Held(hold.id.clone()));
    }
    Verdict::Purge(Selected {
        account_id: candidate.account_id.clone(),
        rule,
        retention_years: years,
        last_activity: candidate.last_activity,
        retention_end: end,
    })
}

/// The accounts among `candidates` a purge at `as_of` may touch, and those a hold alone
/// keeps (with the hold's id), in the candidates' order.
pub fn select(
    candidates: &[Candidate],
    policy: &RetentionConfig,
    holds: &[Hold],
    as_of: DateTime<Utc>,
) -> (Vec<Selected>, Vec<(String, String)>) {
    let mut selected = Vec::new();
    let mut held = Vec::new();
    for candidate in candidates {
        match judge(candidate, policy, holds, as_of) {
            Verdict::Purge(s) => selected.push(s),
            Verdict::Keep(Keep::Held(hold)) => held.push((candidate.account_id.clone(), hold)),
            Verdict::Keep(_) => {}
        }
    }
    (selected, held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    fn candidate(id: &str) -> Candidate {
        Candidate {
            account_id: id.to_string(),
            client: Some("acme".to_string()),
            state: Some("NY".to_string()),
            last_activity: at(2020, 3, 1),
            closed: true,
            paid: false,
            deceased: false,
            purged: false,
        }
    }

    fn hold(scope: HoldScope, target: &str) -> Hold {
        Hold {
            id: "h1".to_string(),
            scope,
            target: target.to_string(),
            kind: HoldKind::Litigation,
            reason: "case 1".to_string(),
            placed_at: at(2022, 1, 1),
            released_at: None,
        }
    }

    #[test]
    fn the_floor_is_three_years_after_the_last_activity() {
        let policy = RetentionConfig::default();
        let c = candidate("A1");
        assert_eq!(
            judge(
                &c,
                &policy,
                &[],
                at(2023, 3, 1) - chrono::Duration::seconds(1)
            ),
            Verdict::Keep(Keep::WithinRetention(at(2023, 3, 1)))
        );
        let Verdict::Purge(s) = judge(&c, &policy, &[], at(2023, 3, 1)) else {
            panic!("past retention")
        };
        assert_eq!(s.rule, PurgeRule::ClosedPastRetention);
        assert_eq!(s.retention_years, 3);
    }

    #[test]
    fn clients_and_states_lengthen_retention() {
        let mut policy = RetentionConfig::default();
        policy
            .clients
            .insert("acme".to_string(), RetentionYears { years: 5 });
        policy
            .states
            .insert("NY".to_string(), RetentionYears { years: 6 });
        assert_eq!(policy.years_for(Some("acme"), Some("ny")), 6);
        assert_eq!(policy.years_for(Some("acme"), None), 5);
        assert_eq!(policy.years_for(Some("other"), Some("CA")), 3);
        assert!(matches!(
            judge(&candidate("A1"), &policy, &[], at(2025, 6, 1)),
            Verdict::Keep(Keep::WithinRetention(_))
        ));
    }

    #[test]
    fn a_shorter_retention_is_refused_naming_the_setting() {
        let mut policy = RetentionConfig::default();
        policy
            .clients
            .insert("acme".to_string(), RetentionYears { years: 2 });
        let error = policy.check().unwrap_err();
        assert!(error.contains("`retention.clients.acme.years`"), "{error}");
        assert!(error.contains("1006.100"), "{error}");
        let policy = RetentionConfig {
            years: 1,
            ..RetentionConfig::default()
        };
        assert!(policy.check().unwrap_err().contains("`retention.years`"));
        let mut policy = RetentionConfig::default();
        policy
            .states
            .insert("ZZ".to_string(), RetentionYears { years: 5 });
        assert!(policy.check().unwrap_err().contains("retention.states.ZZ"));
    }

    #[test]
    fn open_accounts_and_holds_are_kept() {
        let policy = RetentionConfig::default();
        let mut open = candidate("A1");
        open.closed = false;
        assert_eq!(
            judge(&open, &policy, &[], at(2030, 1, 1)),
            Verdict::Keep(Keep::Open)
        );
        let c = candidate("A1");
        for h in [
            hold(HoldScope::Account, "A1"),
            hold(HoldScope::Client, "acme"),
        ] {
            assert_eq!(
                judge(&c, &policy, std::slice::from_ref(&h), at(2030, 1, 1)),
                Verdict::Keep(Keep::Held("h1".to_string()))
            );
        }
        let mut released = hold(HoldScope::Account, "A1");
        released.released_at = Some(at(2029, 1, 1));
        assert!(matches!(
            judge(&c, &policy, &[released], at(2030, 1, 1)),
            Verdict::Purge(_)
        ));
        let (selected, held) = select(
            std::slice::from_ref(&c),
            &policy,
            &[hold(HoldScope::Client, "acme")],
            at(2030, 1, 1),
        );
        assert!(selected.is_empty());
        assert_eq!(held, vec![("A1".to_string(), "h1".to_string())]);
    }

    fn arb_candidate() -> impl Strategy<Value = Candidate> {
        (
            0u8..6,
            proptest::option::of(prop::sample::select(vec!["acme", "globex"])),
            proptest::option::of(prop::sample::select(vec!["NY", "CA", "MA"])),
            0i64..4_000,
            any::<[bool; 4]>(),
        )
            .prop_map(
                |(id, client, state, days, [closed, paid, deceased, purged])| Candidate {
                    account_id: format!("A{id}"),
                    client: client.map(str::to_string),
                    state: state.map(str::to_string),
                    last_activity: at(2015, 1, 1) + chrono::Duration::days(days),
                    closed,
                    paid,
                    deceased,
                    purged,
                },
            )
    }

    fn arb_hold() -> impl Strategy<Value = Hold> {
        (any::<bool>(), 0u8..6, any::<bool>(), any::<bool>()).prop_map(
            |(account, id, on_client, released)| {
                let mut h = if account {
                    hold(HoldScope::Account, &format!("A{id}"))
                } else {
                    hold(HoldScope::Client, if on_client { "acme" } else { "globex" })
                };
                h.id = format!("h{id}{account}");
                if released {
                    h.released_at = Some(at(2016, 1, 1));
                }
                h
            },
        )
    }

    proptest! {
        /// Nothing under a hold in force, within retention, open or already purged is
        /// ever selected.
        #[test]
        fn nothing_held_or_within_retention_is_selected(
            candidates in proptest::collection::vec(arb_candidate(), 0..12),
            holds in proptest::collection::vec(arb_hold(), 0..4),
            client_years in 3u32..8,
            state_years in 3u32..8,
            as_of_days in 0i64..6_000,
        ) {
            let mut candidates = candidates;
            for (i, c) in candidates.iter_mut().enumerate() {
                c.account_id = format!("A{i}");
            }
            let mut policy = RetentionConfig::default();
            policy.clients.insert("acme".to_string(), RetentionYears { years: client_years });
            policy.states.insert("NY".to_string(), RetentionYears { years: state_years });
            let as_of = at(2015, 1, 1) + chrono::Duration::days(as_of_days);
            let (selected, _) = select(&candidates, &policy, &holds, as_of);
            for s in &selected {
                let c = candidates.iter().find(|c| c.account_id == s.account_id).unwrap();
                prop_assert!(!c.purged);
                prop_assert!(c.closed || c.paid || c.deceased);
                prop_assert!(!holds.iter().any(|h| h.covers(&c.account_id, c.client.as_deref())));
                let floor = retention_end(c.last_activity, FLOOR_YEARS).unwrap();
                prop_assert!(as_of >= floor);
                prop_assert!(as_of >= s.retention_end);
                if c.client.as_deref() == Some("acme") {
                    prop_assert!(as_of >= retention_end(c.last_activity, client_years).unwrap());
                }
                if c.state.as_deref() == Some("NY") {
                    prop_assert!(as_of >= retention_end(c.last_activity, state_years).unwrap());
                }
            }
        }
    }
}

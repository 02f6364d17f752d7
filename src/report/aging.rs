//! Aging: accounts and their balances by days since placement (or since charge-off),
//! in the buckets 0–30, 31–60, 61–90, 91–120 and over 120 days, with exact `Decimal`
//! totals per currency.
//!
//! Pure: account dates and balances in, buckets out. Days are counted to the report's
//! last day (`as_of_date`); balances are the accounts' current ones. An account
//! without the date the basis needs is counted as `undated`; one placed after the last
//! day is counted apart (`after_as_of`) and in no bucket.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::AgingBasis;
use super::facts::AccountFacts;
use crate::domain::Money;

/// The buckets: (label, first day, last day); the last is open-ended.
pub const BUCKETS: [(&str, i64, Option<i64>); 5] = [
    ("0-30", 0, Some(30)),
    ("31-60", 31, Some(60)),
    ("61-90", 61, Some(90)),
    ("91-120", 91, Some(120)),
    ("120+", 121, None),
];

/// Accounts and balances by age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgingSection {
    /// What days are counted from.
    pub basis: AgingBasis,
    /// The day ages are counted to.
    #[schema(value_type = String, format = Date)]
    pub as_of_date: NaiveDate,
    /// The five buckets, youngest first.
    pub buckets: Vec<AgingBucket>,
    /// Accounts without the date the basis needs.
    pub undated: Tally,
    /// Accounts whose date is after `as_of_date` (in no bucket).
    pub after_as_of: u64,
}

/// One bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgingBucket {
    /// `0-30`, `31-60`, `61-90`, `91-120` or `120+`.
    pub bucket: String,
    /// The youngest age in it, in days.
    pub min_days: u32,
    /// The oldest age in it, in days; `null` for `120+` (121 days and more).
    pub max_days: Option<u32>,
    /// Its accounts and balances.
    #[serde(flatten)]
    pub tally: Tally,
}

/// Accounts and the sum of their balances per currency.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
pub struct Tally {
    /// How many accounts.
    pub accounts: u64,
    /// The sum of their balances, one entry per currency (accounts without a balance
    /// add nothing).
    pub balances: Vec<MoneyTotal>,
}

/// A sum of money in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MoneyTotal {
    /// The ISO 4217 code.
    pub currency: String,
    /// The exact sum, as a decimal string.
    #[schema(value_type = String, example = "18421.70")]
    pub amount: Decimal,
}

/// Sums per currency, in code order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals(BTreeMap<String, Decimal>);

impl Totals {
    /// Adds an amount.
    pub fn add(&mut self, money: &Money) {
        let code = money.currency.as_str();
        match self.0.get_mut(code) {
            Some(sum) => *sum += money.amount,
            None => {
                self.0.insert(code.to_string(), money.amount);
            }
        }
    }

    /// Adds another set of sums.
    pub fn merge(&mut self, other: Totals) {
        for (code, amount) in other.0 {
            *self.0.entry(code).or_default() += amount;
        }
    }

    /// The sums, one per currency.
    pub fn to_vec(&self) -> Vec<MoneyTotal> {
        self.0
            .iter()
            .map(|(currency, amount)| MoneyTotal {
                currency: currency.clone(),
                amount: *amount,
            })
            .collect()
    }
}

#[derive(Debug, Clone, Default)]
struct BucketTally {
    accounts: u64,
    balances: Totals,
}

impl BucketTally {
    fn add(&mut self, balance: Option<&Money>) {
        self.accounts += 1;
        if let Some(balance) = balance {
            self.balances.add(balance);
        }
    }

    fn merge(&mut self, other: BucketTally) {
        self.accounts += other.accounts;
        self.balances.merge(other.balances);
    }

    fn finish(&self) -> Tally {
        Tally {
            accounts: self.accounts,
            balances: self.balances.to_vec(),
        }
    }
}

/// The bucket of an age in days; `None` for a negative age.
pub fn bucket_of(days: i64) -> Option<usize> {
    BUCKETS
        .iter()
        .position(|(_, first, last)| days >= *first && last.is_none_or(|last| days <= last))
}

/// The fold.
#[derive(Debug, Clone)]
pub struct AgingTally {
    basis: AgingBasis,
    as_of_date: NaiveDate,
    buckets: [BucketTally; BUCKETS.len()],
    undated: BucketTally,
    after_as_of: u64,
}

impl AgingTally {
    /// An empty tally counting ages to `as_of_date`.
    pub fn new(basis: AgingBasis, as_of_date: NaiveDate) -> AgingTally {
        AgingTally {
            basis,
            as_of_date,
            buckets: Default::default(),
            undated: BucketTally::default(),
            after_as_of: 0,
        }
    }

    /// Counts one account.
    pub fn add(&mut self, account: &AccountFacts<'_>) {
        let date = match self.basis {
            AgingBasis::Placement => account.placed_on,
            AgingBasis::ChargeOff => account.charged_off_on,
        };
        let Some(date) = date else {
            self.undated.add(account.balance.as_ref());
            return;
        };
        match bucket_of((self.as_of_date - date).num_days()).and_then(|b| self.buckets.get_mut(b)) {
            Some(bucket) => bucket.add(account.balance.as_ref()),
            None => self.after_as_of += 1,
        }
    }

    /// Adds another partition's counts.
    pub fn merge(&mut self, other: AgingTally) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            mine.merge(theirs);
        }
        self.undated.merge(other.undated);
        self.after_as_of += other.after_as_of;
    }

    /// The section.
    pub fn finish(&self) -> AgingSection {
        let days = |d: i64| u32::try_from(d).unwrap_or(u32::MAX);
        AgingSection {
            basis: self.basis,
            as_of_date: self.as_of_date,
            buckets: BUCKETS
                .iter()
                .zip(&self.buckets)
                .map(|((label, first, last), tally)| AgingBucket {
                    bucket: (*label).to_string(),
                    min_days: days(*first),
                    max_days: last.map(days),
                    tally: tally.finish(),
                })
                .collect(),
            undated: self.undated.finish(),
            after_as_of: self.after_as_of,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(placed_on: &str, balance: Option<(&str, &str)>) -> AccountFacts<'static> {
        let mut facts = AccountFacts::parse("{}").unwrap();
        facts.placed_on = Some(placed_on.parse().unwrap());
        facts.charged_off_on = None;
        facts.balance = balance.map(|(amount, currency)| {
            serde_json::from_value(serde_json::json!({"amount": amount, "currency": currency}))
                .unwrap()
        });
        facts
    }

    #[test]
    fn bucket_edges_are_30_31_and_120_121() {
        assert_eq!(bucket_of(0), Some(0));
        assert_eq!(bucket_of(30), Some(0));
        assert_eq!(bucket_of(31), Some(1));
        assert_eq!(bucket_of(60), Some(1));
        assert_eq!(bucket_of(61), Some(2));
        assert_eq!(bucket_of(90), Some(2));
        assert_eq!(bucket_of(91), Some(3));
        assert_eq!(bucket_of(120), Some(3));
        assert_eq!(bucket_of(121), Some(4));
        assert_eq!(bucket_of(5000), Some(4));
        assert_eq!(bucket_of(-1), None);
    }

    #[test]
    fn balances_sum_exactly_per_currency_in_each_bucket() {
        let as_of = "2026-04-30".parse().unwrap();
        let mut tally = AgingTally::new(AgingBasis::Placement, as_of);
        // 30 days: 0-30; 31 days: 31-60; 120: 91-120; 121: 120+.
        tally.add(&account("2026-03-31", Some(("0.10", "USD"))));
        tally.add(&account("2026-03-31", Some(("0.20", "USD"))));
        tally.add(&account("2026-03-31", Some(("5.00", "EUR"))));
        tally.add(&account("2026-03-30", Some(("1.00", "USD"))));
        tally.add(&account("2025-12-31", None));
        let mut other = AgingTally::new(AgingBasis::Placement, as_of);
        other.add(&account("2025-12-30", Some(("1842.17", "USD"))));
        other.add(&account("2026-05-01", Some(("9.99", "USD"))));
        let mut undated = account("2026-01-01", Some(("3.00", "USD")));
        undated.placed_on = None;
        other.add(&undated);
        tally.merge(other);
        let section = tally.finish();
        let young = &section.buckets[0].tally;
        assert_eq!(young.accounts, 3);
        // 0.10 + 0.20 is exactly 0.30: decimals, not floats.
        assert_eq!(
            young.balances,
            vec![
                MoneyTotal {
                    currency: "EUR".into(),
                    amount: "5.00".parse().unwrap()
                },
                MoneyTotal {
                    currency: "USD".into(),
                    amount: "0.30".parse().unwrap()
                },
            ]
        );
        assert_eq!(section.buckets[1].tally.accounts, 1);
        assert_eq!(section.buckets[3].tally.accounts, 1);
        assert!(section.buckets[3].tally.balances.is_empty());
        assert_eq!(
            section.buckets[4].tally.balances[0].amount.to_string(),
            "1842.17"
        );
        assert_eq!(section.buckets[4].max_days, None);
        assert_eq!(section.after_as_of, 1);
        assert_eq!(section.undated.accounts, 1);
        let json = serde_json::to_value(&section).unwrap();
        assert_eq!(json["buckets"][0]["balances"][1]["amount"], "0.30");
        assert_eq!(json["buckets"][0]["accounts"], 3);
    }

    #[test]
    fn the_charge_off_basis_counts_from_the_charge_off_date() {
        let as_of = "2026-04-30".parse().unwrap();
        let mut tally = AgingTally::new(AgingBasis::ChargeOff, as_of);
        let mut charged = account("2026-04-29", None);
        charged.charged_off_on = Some("2025-01-01".parse().unwrap());
        tally.add(&charged);
        tally.add(&account("2026-04-29", None));
        let section = tally.finish();
        assert_eq!(section.buckets[4].tally.accounts, 1);
        assert_eq!(section.undated.accounts, 1);
    }
}

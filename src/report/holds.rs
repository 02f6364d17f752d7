//! Legal holds: how many accounts carry each hold flag (cease and desist, dispute,
//! attorney, bankruptcy, deceased, identity theft) as the ledger stands now.
//!
//! Pure: account flags in, counts out. An account may carry several holds; it counts
//! once in `on_hold`.

use serde::Serialize;

use crate::domain::{Flag, Flags};

/// The hold flags, in the order the report lists them.
pub const HOLDS: [Flag; 6] = [
    Flag::CeaseAndDesist,
    Flag::Disputed,
    Flag::AttorneyRepresented,
    Flag::Bankruptcy,
    Flag::Deceased,
    Flag::IdentityTheft,
];

/// Accounts under holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HoldsSection {
    /// Every account in the ledger.
    pub accounts: u64,
    /// Accounts with at least one hold.
    pub on_hold: u64,
    /// Per hold.
    pub by_hold: Vec<HoldCount>,
}

/// The accounts under one hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HoldCount {
    /// The flag.
    pub hold: Flag,
    /// Accounts carrying it.
    pub accounts: u64,
}

/// The fold.
#[derive(Debug, Clone, Default)]
pub struct HoldTally {
    accounts: u64,
    on_hold: u64,
    by_hold: [u64; HOLDS.len()],
}

impl HoldTally {
    /// Counts one account's flags.
    pub fn add(&mut self, flags: &Flags) {
        self.accounts += 1;
        let mut any = false;
        for (count, hold) in self.by_hold.iter_mut().zip(HOLDS) {
            if flags.get(hold) == Some(true) {
                *count += 1;
                any = true;
            }
        }
        self.on_hold += u64::from(any);
    }

    /// Adds another partition's counts.
    pub fn merge(&mut self, other: HoldTally) {
        self.accounts += other.accounts;
        self.on_hold += other.on_hold;
        for (a, b) in self.by_hold.iter_mut().zip(other.by_hold) {
            *a += b;
        }
    }

    /// The section.
    pub fn finish(&self) -> HoldsSection {
        HoldsSection {
            accounts: self.accounts,
            on_hold: self.on_hold,
            by_hold: HOLDS
                .into_iter()
                .zip(self.by_hold)
                .map(|(hold, accounts)| HoldCount { hold, accounts })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hold_counts_and_an_account_is_on_hold_once() {
        let mut tally = HoldTally::default();
        tally.add(&Flags::default());
        tally.add(&Flags {
            cease_and_desist: true,
            bankruptcy: true,
            ..Flags::default()
        });
        let mut other = HoldTally::default();
        other.add(&Flags {
            bankruptcy: true,
            // Not a hold the report counts.
            work_contact_prohibited: true,
            ..Flags::default()
        });
        tally.merge(other);
        let section = tally.finish();
        assert_eq!((section.accounts, section.on_hold), (3, 2));
        let count = |flag| {
            section
                .by_hold
                .iter()
                .find(|h| h.hold == flag)
                .unwrap()
                .accounts
        };
        assert_eq!(count(Flag::CeaseAndDesist), 1);
        assert_eq!(count(Flag::Bankruptcy), 2);
        assert_eq!(count(Flag::Deceased), 0);
        assert_eq!(section.by_hold.len(), 6);
    }
}

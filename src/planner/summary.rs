//! What a plan comes to: contacts per channel per day, accounts held, steps stopped
//! and steps that could not be placed, by reason. Built one account at a time so that
//! `dunner plan` can stream.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::Serialize;

use super::{AccountPlan, STRATEGY_PACK};
use crate::engine::Verdict;

/// Counts over the accounts of a plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Accounts read.
    pub accounts: u64,
    /// Accounts in the strategy's segment.
    pub in_segment: u64,
    /// Accounts with at least one planned item.
    pub planned: u64,
    /// Accounts in the segment under a legal hold.
    pub held: u64,
    /// Planned contacts by local day and channel.
    pub contacts: BTreeMap<NaiveDate, BTreeMap<String, u64>>,
    /// Planned escalations by escalation id.
    pub escalations: BTreeMap<String, u64>,
    /// Occurrences that could not be placed, by step and reason (the first refusing
    /// rule, `hold: <rule>` when a hold stopped it).
    pub unplaced: BTreeMap<String, BTreeMap<String, u64>>,
    /// Steps not taken, by step and stop condition.
    pub stopped: BTreeMap<String, BTreeMap<String, u64>>,
}

/// Counts one more under `key`, copying the key only the first time it is seen (every
/// planned item is counted: `entry` would copy it every time).
fn count(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

/// Counts one more under a step and a reason, copying them only the first time.
fn count_step(table: &mut BTreeMap<String, BTreeMap<String, u64>>, step: &str, reason: &str) {
    match table.get_mut(step) {
        Some(reasons) => count(reasons, reason),
        None => {
            table.insert(step.to_string(), BTreeMap::from([(reason.to_string(), 1)]));
        }
    }
}

impl Summary {
    /// Counts one account's plan.
    pub fn add(&mut self, plan: &AccountPlan) {
        self.accounts += 1;
        if !plan.in_segment {
            return;
        }
        self.in_segment += 1;
        self.planned += u64::from(!plan.items.is_empty());
        self.held += u64::from(!plan.holds.is_empty());
        for item in &plan.items {
            match item.channel {
                Some(channel) => {
                    count(self.contacts.entry(item.day).or_default(), channel.as_str());
                }
                None => count(&mut self.escalations, &item.step),
            }
        }
        for unplaced in &plan.unplaced {
            let rule = unplaced
                .reasons
                .first()
                .map_or("no allowed instant", |r| &*r.rule);
            // A refusal by the policy's hold, or the strategy's own reason (no
            // contact point on the channel).
            let policy_hold = unplaced.outcome == Verdict::Stop
                && unplaced
                    .reasons
                    .first()
                    .is_some_and(|r| &*r.pack != STRATEGY_PACK);
            if policy_hold {
                count_step(&mut self.unplaced, &unplaced.step, &format!("hold: {rule}"));
            } else {
                count_step(&mut self.unplaced, &unplaced.step, rule);
            }
        }
        for stopped in &plan.stopped {
            count_step(&mut self.stopped, &stopped.step, stopped.condition.as_str());
        }
    }

    /// Adds another summary's counts (from another thread's share of the accounts).
    pub fn merge(&mut self, other: Summary) {
        self.accounts += other.accounts;
        self.in_segment += other.in_segment;
        self.planned += other.planned;
        self.held += other.held;
        for (day, channels) in other.contacts {
            let mine = self.contacts.entry(day).or_default();
            for (channel, count) in channels {
                *mine.entry(channel).or_default() += count;
            }
        }
        for (id, count) in other.escalations {
            *self.escalations.entry(id).or_default() += count;
        }
        for (mine, theirs) in [
            (&mut self.unplaced, other.unplaced),
            (&mut self.stopped, other.stopped),
        ] {
            for (step, reasons) in theirs {
                let entry = mine.entry(step).or_default();
                for (reason, count) in reasons {
                    *entry.entry(reason).or_default() += count;
                }
            }
        }
    }

    /// The summary as people read it on a terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} accounts: {} in the segment, {} with something planned, {} under a legal hold",
            self.accounts, self.in_segment, self.planned, self.held
        );
        let channels: Vec<&String> = {
            let mut all: Vec<&String> = self.contacts.values().flat_map(|c| c.keys()).collect();
            all.sort();
            all.dedup();
            all
        };
        if !channels.is_empty() {
            let _ = writeln!(out, "\ncontacts planned per day (consumer's local day):");
            let mut header = format!("  {:<10}", "day");
            for channel in &channels {
                let _ = write!(header, " {channel:>9}");
            }
            let _ = writeln!(out, "{header} {:>9}", "total");
            for (day, counts) in &self.contacts {
                let mut line = format!("  {day}");
                let mut total = 0;
                for channel in &channels {
                    let count = counts.get(*channel).copied().unwrap_or(0);
                    total += count;
                    let _ = write!(line, " {count:>9}");
                }
                let _ = writeln!(out, "{line} {total:>9}");
            }
        }
        if !self.escalations.is_empty() {
            let _ = writeln!(out, "\nescalations:");
            for (id, count) in &self.escalations {
                let _ = writeln!(out, "  {id}: {count}");
            }
        }
        for (title, table) in [
            ("steps that could not be placed, by reason", &self.unplaced),
            ("steps not taken, by stop condition", &self.stopped),
        ] {
            if table.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{title}:");
            for (step, reasons) in table {
                for (reason, count) in reasons {
                    let _ = writeln!(out, "  {step}: {reason}: {count}");
                }
            }
        }
        out
    }
}

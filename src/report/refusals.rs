//! Which rules bite: the decisions logged in the period, and for every rule that
//! refused, how often and with which outcome (deferred until a window or a cap opens,
//! or stopped by a hold). A decision refused by several rules counts for each.
//!
//! Pure: logged decisions in, counts out.

use std::collections::HashMap;

use serde::Serialize;

use super::facts::DecisionFacts;
use crate::store::reports::Unreadable;

/// Refusals in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RefusalsSection {
    /// Decisions logged in the period.
    pub decisions: u64,
    /// Of those, allowed.
    pub allowed: u64,
    /// Deferred (a window or a cap opens later).
    pub deferred: u64,
    /// Stopped (a legal hold).
    pub stopped: u64,
    /// Per refusing rule, most refusals first.
    pub by_rule: Vec<RuleRefusals>,
}

/// How often one rule refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleRefusals {
    /// The rule id.
    pub rule: String,
    /// Its pack.
    pub pack: String,
    /// Decisions it refused.
    pub refusals: u64,
    /// Of those, deferred.
    pub deferred: u64,
    /// Of those, stopped.
    pub stopped: u64,
}

/// The fold.
#[derive(Debug, Clone, Default)]
pub struct RefusalTally {
    allowed: u64,
    deferred: u64,
    stopped: u64,
    /// By rule id (ids are unique across a policy): pack, deferred, stopped.
    rules: HashMap<String, (String, u64, u64)>,
}

impl RefusalTally {
    /// Counts one logged decision: its outcome (`allow`, `defer`, `stop`) and, for a
    /// refusal, its stored JSON.
    pub fn add(&mut self, outcome: &str, decision: Option<&str>) -> Result<(), Unreadable> {
        let stop = match outcome {
            "allow" => {
                self.allowed += 1;
                return Ok(());
            }
            "defer" => false,
            "stop" => true,
            other => {
                return Err(Unreadable {
                    what: "decision outcome",
                    reason: format!("`{other}` is not allow, defer or stop"),
                });
            }
        };
        if stop {
            self.stopped += 1;
        } else {
            self.deferred += 1;
        }
        let Some(body) = decision else {
            return Ok(());
        };
        for reason in DecisionFacts::parse(body)?.reasons {
            let entry = match self.rules.get_mut(reason.rule.as_ref()) {
                Some(entry) => entry,
                None => self
                    .rules
                    .entry(reason.rule.into_owned())
                    .or_insert_with(|| (reason.pack.into_owned(), 0, 0)),
            };
            if stop {
                entry.2 += 1;
            } else {
                entry.1 += 1;
            }
        }
        Ok(())
    }

    /// Adds another partition's counts.
    pub fn merge(&mut self, other: RefusalTally) {
        self.allowed += other.allowed;
        self.deferred += other.deferred;
        self.stopped += other.stopped;
        for (rule, (pack, deferred, stopped)) in other.rules {
            let entry = self.rules.entry(rule).or_insert((pack, 0, 0));
            entry.1 += deferred;
            entry.2 += stopped;
        }
    }

    /// The section.
    pub fn finish(self) -> RefusalsSection {
        let mut by_rule: Vec<RuleRefusals> = self
            .rules
            .into_iter()
            .map(|(rule, (pack, deferred, stopped))| RuleRefusals {
                rule,
                pack,
                refusals: deferred + stopped,
                deferred,
                stopped,
            })
            .collect();
        by_rule.sort_by(|a, b| {
            b.refusals
                .cmp(&a.refusals)
                .then_with(|| a.rule.cmp(&b.rule))
        });
        RefusalsSection {
            decisions: self.allowed + self.deferred + self.stopped,
            allowed: self.allowed,
            deferred: self.deferred,
            stopped: self.stopped,
            by_rule,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(outcome: &str, rules: &[&str]) -> String {
        let reasons: Vec<String> = rules
            .iter()
            .map(|rule| {
                format!(r#"{{"rule":"{rule}","pack":"us-federal","citation":"c","message":"m"}}"#)
            })
            .collect();
        format!(
            r#"{{"allowed":false,"outcome":"{outcome}","next_allowed_at":null,"reasons":[{}],"warnings":[]}}"#,
            reasons.join(",")
        )
    }

    #[test]
    fn every_refusing_rule_counts_with_its_outcome_and_allows_are_only_counted() {
        let mut first = RefusalTally::default();
        first.add("allow", None).unwrap();
        first
            .add(
                "defer",
                Some(&decision(
                    "defer",
                    &["reg-f.convenient-hours", "reg-f.call-frequency"],
                )),
            )
            .unwrap();
        first
            .add(
                "defer",
                Some(&decision("defer", &["reg-f.convenient-hours"])),
            )
            .unwrap();
        let mut second = RefusalTally::default();
        second
            .add(
                "stop",
                Some(&decision(
                    "stop",
                    &["reg-f.cease-communication", "reg-f.convenient-hours"],
                )),
            )
            .unwrap();
        first.merge(second);
        let section = first.finish();
        assert_eq!(
            (
                section.decisions,
                section.allowed,
                section.deferred,
                section.stopped
            ),
            (4, 1, 2, 1)
        );
        let hours = &section.by_rule[0];
        assert_eq!(
            (
                hours.rule.as_str(),
                hours.refusals,
                hours.deferred,
                hours.stopped
            ),
            ("reg-f.convenient-hours", 3, 2, 1)
        );
        // Ties by rule id: call-frequency before cease-communication.
        assert_eq!(section.by_rule[1].rule, "reg-f.call-frequency");
        assert_eq!(section.by_rule[2].rule, "reg-f.cease-communication");
        assert_eq!(section.by_rule[2].stopped, 1);
    }

    #[test]
    fn an_unknown_outcome_or_a_broken_decision_is_named() {
        let mut tally = RefusalTally::default();
        assert_eq!(
            tally.add("maybe", None).unwrap_err().what,
            "decision outcome"
        );
        assert_eq!(tally.add("defer", Some("{")).unwrap_err().what, "decision");
    }
}

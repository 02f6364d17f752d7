//! The shadow policy: a candidate decided beside the live policy on every decision the
//! daemon makes, its answer never returned. Where the two differ — the outcome, or the
//! rules that refuse — the divergence is logged beside the live decision and counted.
//!
//! Pure: two decisions in, a divergence out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::{Decision, Verdict};

/// Which way the shadow diverged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Live allowed; the shadow refuses.
    ShadowRefuses,
    /// Live refused; the shadow allows (the shadow is looser).
    ShadowAllows,
    /// Both refuse, by other rules or with another outcome (defer or stop).
    RulesDiffer,
}

impl Direction {
    /// The name used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ShadowRefuses => "shadow_refuses",
            Direction::ShadowAllows => "shadow_allows",
            Direction::RulesDiffer => "rules_differ",
        }
    }
}

/// How the shadow's decision differed from the live one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Divergence {
    /// The shadow policy's digest.
    pub digest: String,
    /// Which way.
    pub direction: Direction,
    /// The shadow's verdict.
    pub outcome: Verdict,
    /// When the shadow would next allow the contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_allowed_at: Option<DateTime<Utc>>,
    /// Rules refusing live but not under the shadow.
    pub only_live: Vec<String>,
    /// Rules refusing under the shadow but not live.
    pub only_shadow: Vec<String>,
}

impl Divergence {
    /// The rules the divergence is counted under: those only one side refused by, or,
    /// when both refused by the same rules (another outcome), `(none)`.
    pub fn rules(&self) -> Vec<&str> {
        let rules: Vec<&str> = self
            .only_live
            .iter()
            .chain(&self.only_shadow)
            .map(String::as_str)
            .collect();
        if rules.is_empty() {
            vec!["(none)"]
        } else {
            rules
        }
    }
}

/// How `shadow` differs from `live`; `None` when the outcome and the refusing rules
/// are the same (a moved next allowed instant alone is not a divergence).
pub fn divergence(live: &Decision, shadow: &Decision) -> Option<Divergence> {
    let rules = |decision: &Decision| -> Vec<String> {
        let mut rules: Vec<String> = decision.reasons.iter().map(|r| r.rule.clone()).collect();
        rules.sort();
        rules.dedup();
        rules
    };
    let (live_rules, shadow_rules) = (rules(live), rules(shadow));
    if live.outcome == shadow.outcome && live_rules == shadow_rules {
        return None;
    }
    let direction = match (live.allowed, shadow.allowed) {
        (true, false) => Direction::ShadowRefuses,
        (false, true) => Direction::ShadowAllows,
        _ => Direction::RulesDiffer,
    };
    Some(Divergence {
        digest: shadow.policy_digest.to_string(),
        direction,
        outcome: shadow.outcome,
        next_allowed_at: shadow.next_allowed_at,
        only_live: live_rules
            .iter()
            .filter(|rule| !shadow_rules.contains(rule))
            .cloned()
            .collect(),
        only_shadow: shadow_rules
            .iter()
            .filter(|rule| !live_rules.contains(rule))
            .cloned()
            .collect(),
    })
}

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
        let mut rules: Vec<String> = decision
            .reasons
            .iter()
            .map(|r| r.rule.to_string())
            .collect();
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

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::engine::{DecideRequest, decide};
    use crate::policy::{Policy, SourceFile};

    const NOON_ONLY: &str = r#"
[pack]
id = "client-noon"
title = "Client overlay"
version = "1"
citation = "Contract"
effective_from = 2021-01-01

[pack.scope]
country = "US"

[[window]]
id = "client.noon-only"
citation = "Contract"
message = "Calls only at noon."
channels = ["call"]
allow = [{ from = "12:00", to = "13:00" }]
"#;

    /// The shipped policy, and a shadow of it that allows calls only at noon.
    pub(in crate::service) fn policies() -> (Policy, Policy) {
        let live =
            Policy::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap();
        let mut sources = live.sources().to_vec();
        sources.push(SourceFile::new("client-noon.toml", NOON_ONLY));
        (live, Policy::from_sources(sources).unwrap())
    }

    fn at(instant: &str) -> DecideRequest {
        serde_json::from_str(&format!(
            r#"{{"at": "{instant}", "channel": "call", "account": {{"id": "A-1",
                 "consumer": {{"address": {{"state": "NY", "city": "Albany"}}, "time_zones": ["America/New_York"]}}}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn a_divergence_names_the_direction_and_the_rules_only_one_side_refused_by() {
        let (live, shadow) = policies();
        // 11:00 in New York: live allows, the shadow defers.
        let request = at("2026-04-07T15:00:00Z");
        let found = divergence(&decide(&live, &request), &decide(&shadow, &request)).unwrap();
        assert_eq!(found.direction, Direction::ShadowRefuses);
        assert_eq!(found.outcome, Verdict::Defer);
        assert_eq!(found.only_shadow, vec!["client.noon-only"]);
        assert!(found.only_live.is_empty());
        assert_eq!(found.digest, shadow.digest());
        assert_eq!(found.rules(), vec!["client.noon-only"]);
        // The other way round, the shadow allows what live refused.
        let back = divergence(&decide(&shadow, &request), &decide(&live, &request)).unwrap();
        assert_eq!(back.direction, Direction::ShadowAllows);
        assert_eq!(back.only_live, vec!["client.noon-only"]);
        // 12:30: both allow; 03:00: both refuse by the federal hours (and the overlay,
        // which only the shadow has: the rules differ).
        let noon = at("2026-04-07T16:30:00Z");
        assert!(divergence(&decide(&live, &noon), &decide(&shadow, &noon)).is_none());
        let night = at("2026-04-07T07:00:00Z");
        let both = divergence(&decide(&live, &night), &decide(&shadow, &night)).unwrap();
        assert_eq!(both.direction, Direction::RulesDiffer);
        assert!(divergence(&decide(&live, &night), &decide(&live, &night)).is_none());
    }
}

//! What a candidate policy would loosen relative to the live one: a pack or a rule
//! removed, a pack's scope or effective dates changed, a rule changed in any way that
//! is not provably stricter. A reload that loosens is not applied silently (see
//! `reload`); the operator confirms it.
//!
//! The comparison reads the packs' parsed TOML, not the compiled rules, so it sees
//! every key a compliance officer can write, today's and tomorrow's. Text that does not
//! change a decision (`message`, `citation`, `note`, `description`, `title`,
//! `version`) is ignored. A change is called stricter only when it is obviously so — a
//! cap or warning whose `max` went down and nothing else — and anything else that
//! changed is reported as a possible loosening: when in doubt, ask.

use std::collections::BTreeMap;

use super::Policy;
use super::compile::RULE_KINDS;

/// Keys whose value is text for people, not meaning for the engine.
const TEXT_KEYS: &[&str] = &[
    "message",
    "citation",
    "note",
    "description",
    "title",
    "version",
];

/// One pack as written: its `[pack]` table and its rules by id (kind, table).
struct PackText {
    meta: toml::Table,
    rules: BTreeMap<String, (String, toml::Table)>,
}

fn packs_of(policy: &Policy) -> BTreeMap<String, PackText> {
    let mut packs = BTreeMap::new();
    for source in policy.sources() {
        let Ok(table) = source.text.parse::<toml::Table>() else {
            continue;
        };
        let meta = match table.get("pack") {
            Some(toml::Value::Table(meta)) => meta.clone(),
            _ => continue,
        };
        let Some(id) = meta.get("id").and_then(toml::Value::as_str) else {
            continue;
        };
        let mut rules = BTreeMap::new();
        for kind in RULE_KINDS {
            let Some(toml::Value::Array(items)) = table.get(kind) else {
                continue;
            };
            for item in items {
                if let toml::Value::Table(rule) = item
                    && let Some(rule_id) = rule.get("id").and_then(toml::Value::as_str)
                {
                    rules.insert(rule_id.to_string(), ((*kind).to_string(), rule.clone()));
                }
            }
        }
        packs.insert(id.to_string(), PackText { meta, rules });
    }
    packs
}

/// The keys of two tables whose meaning differs (text keys ignored), sorted.
fn changed_keys(old: &toml::Table, new: &toml::Table) -> Vec<String> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|key| !TEXT_KEYS.contains(&key.as_str()))
        .filter(|key| old.get(*key) != new.get(*key))
        .cloned()
        .collect()
}

fn shown(value: Option<&toml::Value>) -> String {
    value.map_or_else(|| "(absent)".to_string(), ToString::to_string)
}

/// Every way `candidate` may be looser than `live`, one sentence each; empty when the
/// candidate only adds rules and packs, tightens caps, or changes wording.
pub fn loosenings(live: &Policy, candidate: &Policy) -> Vec<String> {
    let old = packs_of(live);
    let new = packs_of(candidate);
    let mut found = Vec::new();
    let new_rules: BTreeMap<&str, (&str, &str, &toml::Table)> = new
        .iter()
        .flat_map(|(pack, text)| {
            text.rules.iter().map(move |(id, (kind, table))| {
                (id.as_str(), (pack.as_str(), kind.as_str(), table))
            })
        })
        .collect();
    for (pack, text) in &old {
        match new.get(pack) {
            None => found.push(format!(
                "pack `{pack}` would be removed, with its {} rule(s)",
                text.rules.len()
            )),
            Some(now) => {
                let keys = changed_keys(&text.meta, &now.meta);
                if !keys.is_empty() {
                    found.push(format!(
                        "pack `{pack}`: {} would change",
                        keys.iter()
                            .map(|key| format!(
                                "`{key}` ({} → {})",
                                shown(text.meta.get(key)),
                                shown(now.meta.get(key))
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        for (id, (kind, table)) in &text.rules {
            let Some((new_pack, new_kind, new_table)) = new_rules.get(id.as_str()) else {
                found.push(format!(
                    "{kind} rule `{id}` (pack `{pack}`) would be removed"
                ));
                continue;
            };
            if *new_kind != kind {
                found.push(format!(
                    "rule `{id}` would change from a {kind} to a {new_kind}"
                ));
                continue;
            }
            let keys = changed_keys(table, new_table);
            if keys.is_empty() || stricter_cap(kind, table, new_table, &keys) {
                continue;
            }
            found.push(format!(
                "{kind} rule `{id}` (pack `{new_pack}`): {} would change",
                keys.iter()
                    .map(|key| format!(
                        "`{key}` ({} → {})",
                        shown(table.get(key)),
                        shown(new_table.get(key))
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    found
}

/// A cap or warning whose only change is a lower `max`.
fn stricter_cap(kind: &str, old: &toml::Table, new: &toml::Table, keys: &[String]) -> bool {
    matches!(kind, "cap" | "warning")
        && keys == ["max"]
        && matches!(
            (old.get("max").and_then(toml::Value::as_integer), new.get("max").and_then(toml::Value::as_integer)),
            (Some(before), Some(after)) if after < before
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SourceFile;

    const PACK: &str = r#"
[pack]
id = "p"
title = "P"
version = "1"
citation = "x"

[[cap]]
id = "p.cap"
citation = "c"
message = "m"
channels = ["call"]
max = 7
calendar_days = 7

[[hold]]
id = "p.hold"
citation = "c"
message = "m"
channels = ["call"]
flag = "cease_and_desist"
"#;

    fn policy(text: &str) -> Policy {
        Policy::from_sources(vec![SourceFile::new("p.toml", text)]).unwrap()
    }

    #[test]
    fn wording_and_a_lower_cap_are_not_loosenings() {
        let live = policy(PACK);
        let reworded = PACK.replace("message = \"m\"", "message = \"Say it better.\"");
        assert!(loosenings(&live, &policy(&reworded)).is_empty());
        let tighter = PACK.replace("max = 7", "max = 3");
        assert!(loosenings(&live, &policy(&tighter)).is_empty());
    }

    #[test]
    fn a_higher_cap_a_removed_hold_and_a_removed_pack_are() {
        let live = policy(PACK);
        let looser = PACK.replace("max = 7", "max = 9");
        assert_eq!(
            loosenings(&live, &policy(&looser)),
            vec!["cap rule `p.cap` (pack `p`): `max` (7 → 9) would change".to_string()]
        );
        let without_hold = &PACK[..PACK.find("[[hold]]").unwrap()];
        assert_eq!(
            loosenings(&live, &policy(without_hold)),
            vec!["hold rule `p.hold` (pack `p`) would be removed".to_string()]
        );
        let other = PACK.replace("id = \"p\"", "id = \"q\"");
        let found = loosenings(&live, &policy(&other));
        assert_eq!(
            found.first().unwrap(),
            "pack `p` would be removed, with its 2 rule(s)"
        );
    }
}

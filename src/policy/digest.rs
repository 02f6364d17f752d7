//! The policy digest: SHA-256 of the canonical content of every pack.
//!
//! Canonical means parsed, with keys sorted and comments and layout dropped, so
//! re-indenting a file or fixing a comment does not change the digest while any
//! change of meaning does.

use sha2::{Digest, Sha256};

/// `sha256:<hex>` over the packs' parsed content, ordered by pack id.
pub fn digest(contents: &[(&str, &toml::Table)]) -> String {
    let mut ordered: Vec<&(&str, &toml::Table)> = contents.iter().collect();
    ordered.sort_by_key(|(id, _)| *id);
    let mut hasher = Sha256::new();
    for (id, table) in ordered {
        let canonical =
            serde_json::to_string(&canonical_json(&toml::Value::Table((*table).clone())))
                .unwrap_or_default();
        hasher.update(id.as_bytes());
        hasher.update([0]);
        hasher.update(canonical.as_bytes());
        hasher.update([0]);
    }
    format!("sha256:{}", crate::domain::hex(&hasher.finalize()))
}

/// TOML → JSON with sorted keys and datetimes as their TOML text.
pub fn canonical_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Value::from(*f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(canonical_json).collect())
        }
        toml::Value::Table(table) => {
            let mut entries: Vec<(&String, &toml::Value)> = table.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical_json(v)))
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn comments_and_layout_do_not_change_the_digest() {
        let a = table("[pack]\nid = \"x\"\nmax = 7\n");
        let b = table("# a comment\n[pack]\nmax   =   7\nid = \"x\"\n");
        assert_eq!(digest(&[("x", &a)]), digest(&[("x", &b)]));
    }

    #[test]
    fn a_changed_value_changes_the_digest() {
        let a = table("[pack]\nmax = 7\n");
        let b = table("[pack]\nmax = 8\n");
        assert_ne!(digest(&[("x", &a)]), digest(&[("x", &b)]));
    }

    #[test]
    fn pack_order_does_not_matter() {
        let a = table("k = 1\n");
        let b = table("k = 2\n");
        assert_eq!(
            digest(&[("a", &a), ("b", &b)]),
            digest(&[("b", &b), ("a", &a)])
        );
    }
}

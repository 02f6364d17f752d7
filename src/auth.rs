//! API keys: scopes, the token format, hashing and constant-time verification.
//!
//! Pure: no I/O. A token is `dunner_<id>_<secret>`; the store keeps the id, the
//! SHA-256 of the secret and the scopes, never the secret.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a key may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Ask questions: evaluate, decisions, read accounts, events and the policy.
    Decide,
    /// Write: accounts, events, attempts.
    Record,
    /// Everything.
    Admin,
}

impl Scope {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Decide => "decide",
            Scope::Record => "record",
            Scope::Admin => "admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Scope> {
        [Scope::Decide, Scope::Record, Scope::Admin]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// Whether a key with `granted` scopes may use an endpoint that needs `needed`.
pub fn allows(granted: &[Scope], needed: Scope) -> bool {
    granted
        .iter()
        .any(|scope| *scope == needed || *scope == Scope::Admin)
}

/// A freshly issued key: the token is shown once and never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// The key's id (also inside the token).
    pub id: String,
    /// The bearer token.
    pub token: String,
    /// SHA-256 (hex) of the secret part, what the store keeps.
    pub secret_hash: String,
}

/// Makes a new key from random material (two UUID v4: 244 random bits).
pub fn issue() -> IssuedKey {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    IssuedKey {
        token: format!("dunner_{id}_{secret}"),
        secret_hash: hash_secret(&secret),
        id,
    }
}

/// Splits a bearer token into the key id and its secret.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.trim().strip_prefix("dunner_")?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// SHA-256 of a secret, as lower-case hex.
pub fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether a presented secret matches a stored hash, comparing in constant time so the
/// response time says nothing about how much of the hash matched.
pub fn verify(secret: &str, stored_hash: &str) -> bool {
    let presented = hash_secret(secret);
    let (a, b) = (presented.as_bytes(), stored_hash.as_bytes());
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(0u8, |difference, (x, y)| difference | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_verifies_and_a_changed_one_does_not() {
        let key = issue();
        let (id, secret) = parse_token(&key.token).unwrap();
        assert_eq!(id, key.id);
        assert!(verify(secret, &key.secret_hash));
        assert!(!verify(&format!("{secret}x"), &key.secret_hash));
        assert_ne!(issue().token, key.token);
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        assert_eq!(parse_token("Bearer nope"), None);
        assert_eq!(parse_token("dunner__secret"), None);
        assert_eq!(parse_token("dunner_id_"), None);
    }

    #[test]
    fn admin_allows_everything_and_decide_does_not_allow_record() {
        assert!(allows(&[Scope::Admin], Scope::Record));
        assert!(!allows(&[Scope::Decide], Scope::Record));
        assert!(allows(&[Scope::Decide, Scope::Record], Scope::Record));
    }
}

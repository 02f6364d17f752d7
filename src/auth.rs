//! API keys: scopes, the token format, hashing and constant-time verification.
//!
//! Pure: no I/O. A token is `dunner_<id>_<secret>`; the store keeps the id, the
//! SHA-256 of the secret and the scopes, never the secret.

use crate::domain::sha256_hex;
use serde::{Deserialize, Serialize};

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

/// Which clients' accounts a key reaches (issue 16): every client's, or only those of
/// a set. A limited key never reaches an account that names no client: what is not
/// known to be its client's is not its to see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Access {
    /// Every account (a key with no client named: the behaviour before clients).
    #[default]
    All,
    /// Only accounts naming one of these clients (sorted, without repeats, never empty).
    Clients(Vec<String>),
}

impl Access {
    /// A key's access from the clients it names: none named is every client.
    pub fn limited_to(clients: impl IntoIterator<Item = String>) -> Access {
        let mut clients: Vec<String> = clients.into_iter().collect();
        clients.sort();
        clients.dedup();
        if clients.is_empty() {
            Access::All
        } else {
            Access::Clients(clients)
        }
    }

    /// Access to nothing at all: what a request that passed no authorizer gets.
    pub fn nothing() -> Access {
        Access::Clients(Vec::new())
    }

    /// The clients a limited key reaches; `None` for every client.
    pub fn clients(&self) -> Option<&[String]> {
        match self {
            Access::All => None,
            Access::Clients(clients) => Some(clients),
        }
    }

    /// Whether an account naming `client` (or none) is within reach.
    pub fn sees(&self, client: Option<&str>) -> bool {
        match self {
            Access::All => true,
            Access::Clients(clients) => {
                client.is_some_and(|client| clients.iter().any(|c| c == client))
            }
        }
    }

    /// This access narrowed to one client asked for (a `?client=` filter): `None` when
    /// the client is out of reach, so the caller answers as for a client with no
    /// accounts. No client asked: the access as it is.
    pub fn narrowed(&self, client: Option<&str>) -> Option<Access> {
        match client {
            None => Some(self.clone()),
            Some(client) if self.sees(Some(client)) => {
                Some(Access::Clients(vec![client.to_string()]))
            }
            Some(_) => None,
        }
    }
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
    sha256_hex(secret.as_bytes())
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
    fn a_limited_access_sees_its_clients_only_and_never_an_account_without_one() {
        let access = Access::limited_to(["b".to_string(), "a".to_string(), "a".to_string()]);
        assert_eq!(access, Access::Clients(vec!["a".into(), "b".into()]));
        assert!(access.sees(Some("a")) && access.sees(Some("b")));
        assert!(!access.sees(Some("c")));
        assert!(!access.sees(None));
        assert!(Access::All.sees(None));
        assert!(!Access::nothing().sees(Some("a")));
        assert_eq!(Access::limited_to(Vec::new()), Access::All);
        assert_eq!(access.narrowed(Some("c")), None);
        assert_eq!(
            access.narrowed(Some("a")),
            Some(Access::Clients(vec!["a".into()]))
        );
        assert_eq!(Access::All.narrowed(None), Some(Access::All));
    }

    #[test]
    fn admin_allows_everything_and_decide_does_not_allow_record() {
        assert!(allows(&[Scope::Admin], Scope::Record));
        assert!(!allows(&[Scope::Decide], Scope::Record));
        assert!(allows(&[Scope::Decide, Scope::Record], Scope::Record));
    }
}

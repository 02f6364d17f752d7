//! The settings that hold secrets: API keys from `[[keys]]`, kept only as SHA-256 hashes,
//! and the database URL, whose password is redacted when shown. [`Secret`] itself is
//! [`crate::secret`].

use std::borrow::Cow;

use serde::{Deserialize, Serialize, Serializer};

use crate::auth::{Access, Scope, hash_secret, parse_token, verify};
use crate::secret::REDACTED;
#[cfg(doc)]
use crate::secret::Secret;
use crate::suggest::did_you_mean;

/// The shortest secret accepted in a configured key token.
pub const MIN_SECRET_CHARS: usize = 32;

/// An API key from `[[keys]]`: the token is hashed on reading and never kept.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "KeyEntry")]
pub struct ConfiguredKey {
    /// A name to recognise the key by.
    pub name: String,
    /// The id part of the token.
    pub id: String,
    /// SHA-256 (hex) of the secret part.
    secret_hash: String,
    /// What the key may do.
    pub scopes: Vec<Scope>,
    /// Whose accounts it reaches (`clients = [...]`; none: every client's).
    pub access: Access,
}

impl ConfiguredKey {
    /// Whether a presented secret is this key's, compared in constant time.
    pub fn verify(&self, secret: &str) -> bool {
        verify(secret, &self.secret_hash)
    }
}

impl std::fmt::Debug for ConfiguredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfiguredKey")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("scopes", &self.scopes)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

impl Serialize for ConfiguredKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KeyView {
            name: &self.name,
            token: REDACTED,
            scopes: &self.scopes,
            clients: self.access.clients(),
        }
        .serialize(serializer)
    }
}

#[derive(Serialize)]
struct KeyView<'a> {
    name: &'a str,
    token: &'a str,
    scopes: &'a [Scope],
    #[serde(skip_serializing_if = "Option::is_none")]
    clients: Option<&'a [String]>,
}

/// A `[[keys]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    token: String,
    scopes: Vec<String>,
    /// The clients whose accounts the key reaches; absent or empty: every client's.
    #[serde(default)]
    clients: Vec<String>,
}

impl TryFrom<KeyEntry> for ConfiguredKey {
    type Error = String;

    /// Checks the token's shape and the scopes; the messages never echo the token.
    fn try_from(entry: KeyEntry) -> Result<ConfiguredKey, String> {
        let name = entry.name;
        let Some((id, secret)) = parse_token(&entry.token) else {
            return Err(format!(
                "key `{name}`: the token must look like `dunner_<id>_<secret>` (the id without `_`)"
            ));
        };
        if secret.chars().count() < MIN_SECRET_CHARS {
            return Err(format!(
                "key `{name}`: the token's secret is shorter than {MIN_SECRET_CHARS} characters; use random ones"
            ));
        }
        if entry.scopes.is_empty() {
            return Err(format!(
                "key `{name}` has no scopes; give it some of `decide`, `record`, `admin`"
            ));
        }
        let scopes = entry
            .scopes
            .iter()
            .map(|scope| {
                Scope::parse(scope).ok_or_else(|| {
                    let names = [Scope::Decide, Scope::Record, Scope::Admin].map(Scope::as_str);
                    let help = did_you_mean(scope, names)
                        .map(|best| format!("; did you mean `{best}`?"))
                        .unwrap_or_else(|| "; use `decide`, `record` or `admin`".into());
                    format!("key `{name}`: unknown scope `{scope}`{help}")
                })
            })
            .collect::<Result<Vec<Scope>, String>>()?;
        for client in &entry.clients {
            crate::domain::check_client_id(client)
                .map_err(|message| format!("key `{name}`: client `{client}`: {message}"))?;
        }
        Ok(ConfiguredKey {
            id: id.to_string(),
            secret_hash: hash_secret(secret),
            scopes,
            access: Access::limited_to(entry.clients),
            name,
        })
    }
}

pub(super) fn serialize_database_url<S: Serializer>(
    url: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url_password(url))
}

/// `postgres://user:secret@host/db` → `postgres://user:<redacted>@host/db`.
pub(super) fn redact_url_password(url: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Cow::Borrowed(url);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or(rest);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return Cow::Borrowed(url);
    };
    let Some((user, _password)) = userinfo.split_once(':') else {
        return Cow::Borrowed(url);
    };
    let tail = rest.get(authority_end..).unwrap_or("");
    Cow::Owned(format!("{scheme}://{user}:{REDACTED}@{host}{tail}"))
}

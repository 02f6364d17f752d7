//! A setting that must never be shown: [`Secret`] prints [`REDACTED`] in `Debug` and
//! `Serialize`, and [`Secret::expose`] is the only way to the value. Below `config` and
//! `dispatch`, which both hold secrets. Pure: no I/O.

use serde::{Deserialize, Serialize, Serializer};

/// What `config show` (and any `Debug`) prints instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// A secret setting (an SMTP password, a webhook signing key): `Debug` and `Serialize`
/// print `"<redacted>"`; [`Secret::expose`] is the only way to the value.
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

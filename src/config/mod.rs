//! The daemon's settings, layered from lowest to highest: built-in defaults ←
//! `dunner.toml` ← `DUNNER_*` environment variables ← command-line flags (the flags are
//! applied by `cli::serve`, which owns them).
//!
//! Layering is pure: [`Config::from_toml`] takes the file's text and
//! [`Config::apply_env`] takes a lookup function, so tests never touch the process
//! environment; only [`load`] reads the file system and `std::env`. Errors name
//! `file:line:column` (or the variable) and suggest the closest key on a typo.
//!
//! [`Config`]'s `Serialize` *is* the redacted view printed by `dunner config show`: key
//! tokens and database passwords come out as `"<redacted>"`, so nothing can serialize
//! a secret by accident. Configured API keys are kept only as SHA-256 hashes.
//!
//! ## Adding a section (`[smtp]`, `[[webhooks]]`, `[outbox]`, …)
//!
//! 1. a struct with `#[serde(default, deny_unknown_fields)]` and a `Default` equal to
//!    what the shipped `dunner.toml` says;
//! 2. a field on [`Config`] (for arrays of tables, `skip_serializing_if = "Vec::is_empty"`
//!    and a commented example in the file);
//! 3. its commented block in `dunner.toml`, its variables in [`Config::apply_env`];
//! 4. passwords as [`Secret`], which `config show` and `Debug` print redacted.
//!
//! The files: `values.rs` (the sections and their checks), `secrets.rs` (API keys, the
//! database URL's password), `env.rs` (the `DUNNER_*` layer), `file.rs` (`dunner.toml`
//! and [`load`]). Sections that configure dispatch are defined in [`crate::dispatch`]
//! and re-exported here; dispatch never imports `config`.
//!
//! The test `the_shipped_file_is_exactly_the_defaults` fails when the file and the code
//! drift apart.

mod env;
mod file;
mod secrets;
#[cfg(test)]
mod tests;
mod values;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::dispatch::email::{SmtpConfig, SmtpTls};
pub use crate::dispatch::templates::{AgencyConfig, DEFAULT_OPT_OUT_LINE, EmailConfig};
pub use crate::dispatch::webhook::WebhookEndpoint;
pub use crate::records::{RetentionConfig, RetentionYears};
pub use crate::secret::{REDACTED, Secret};
pub use file::{DEFAULT_FILE, Loaded, SHIPPED, load};
pub use secrets::{ConfiguredKey, MIN_SECRET_CHARS};
pub use values::{
    AuditConfig, DEFAULT_WEBHOOK_TIMEOUT, DatabaseConfig, LogConfig, LogFormat, OutboxConfig,
    RulesConfig, SchedulerConfig, ServerConfig,
};

/// The daemon's effective settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP listener.
    pub server: ServerConfig,
    /// The ledger.
    pub database: DatabaseConfig,
    /// The rule packs.
    pub rules: RulesConfig,
    /// Structured logs.
    pub log: LogConfig,
    /// The SMTP relay email notices go through; without it, email notices are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpConfig>,
    /// Email notice templates and the opt-out line they must carry.
    pub email: EmailConfig,
    /// The agency's identity, shown in notices.
    pub agency: AgencyConfig,
    /// API keys declared in the file, besides those kept in the ledger.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<ConfiguredKey>,
    /// Webhook endpoints that events are sent to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookEndpoint>,
    /// The outbox worker.
    pub outbox: OutboxConfig,
    /// The scheduler: strategies run for the stored accounts.
    pub scheduler: SchedulerConfig,
    /// The tamper-evident log: how often a checkpoint is taken.
    pub audit: AuditConfig,
    /// How long records are kept after the last collection activity (12 CFR 1006.100).
    pub retention: RetentionConfig,
}

/// Why the configuration could not be read; the daemon does not start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file named with `--config` or `DUNNER_CONFIG` is not there.
    #[error("the configuration file {} does not exist", path.display())]
    Missing {
        /// The path as given.
        path: PathBuf,
    },
    /// The file exists but cannot be read.
    #[error("failed to read the configuration file {}: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or says something wrong.
    #[error("{location}: {message}{}", help.as_ref().map(|help| format!("\n  help: {help}")).unwrap_or_default())]
    File {
        /// `file:line:column`, or the file when the problem has no place.
        location: String,
        /// What is wrong.
        message: String,
        /// A suggestion ("did you mean `listen`?").
        help: Option<String>,
    },
    /// A `DUNNER_*` variable has a value that does not parse.
    #[error("environment variable {variable}: {message}")]
    Environment {
        /// The variable's name.
        variable: &'static str,
        /// What is wrong (without echoing the value).
        message: String,
    },
}

impl Config {
    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}

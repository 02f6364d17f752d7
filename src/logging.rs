//! Structured logs (tracing, text or JSON on standard error). The redaction that keeps
//! personal data out of them is [`crate::redact`], re-exported here.
//!
//! The first line of defence is what is logged at all: request and response bodies
//! never are, and 4xx messages (which may echo input such as a misspelt time zone or
//! a name) go only to the caller. Free text that could still carry personal data —
//! the causes of 5xx errors, reload diagnostics, request URIs — passes through
//! [`redact`], which masks email addresses and phone-number-like digit runs. Names
//! cannot be recognised in free text, which is why bodies are never logged.

use crate::config::{LogConfig, LogFormat};
pub use crate::redact::{EMAIL_MASK, PHONE_MASK, redact, redact_uri};

/// Installs the global tracing subscriber (the only global state of the program).
/// A second call keeps the first subscriber.
pub fn init_logging(config: &LogConfig, ansi: bool) {
    // The level was checked when the configuration was read.
    let filter = tracing_subscriber::EnvFilter::try_new(&config.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

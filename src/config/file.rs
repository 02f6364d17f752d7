//! The file layer: `dunner.toml`'s text over the built-in defaults, with errors at
//! `file:line:column`, and [`load`], the one function that reads the file system and the
//! process environment.

use std::path::{Path, PathBuf};

use super::{Config, ConfigError, DEFAULT_OPT_OUT_LINE};
use crate::suggest::unknown_name_help;

/// The file looked for in the working directory when none is named.
pub const DEFAULT_FILE: &str = "dunner.toml";

/// The shipped, fully commented default configuration (`dunner config show --default`).
pub const SHIPPED: &str = include_str!("../../dunner.toml");

impl Config {
    /// Reads a configuration file's text on top of the built-in defaults. `file` names
    /// it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|error| {
            let message = error.message().trim().to_string();
            let location = match error.span() {
                Some(span) => {
                    let (line, column) = line_column(text, span.start);
                    format!("{file}:{line}:{column}")
                }
                None => file.to_string(),
            };
            ConfigError::File {
                help: unknown_name_help(&message),
                location,
                message,
            }
        })?;
        config.check_key_ids(file)?;
        config.check_email(file)?;
        config.check_webhook_names(file)?;
        config
            .scheduler
            .check()
            .map_err(|message| ConfigError::File {
                location: file.to_string(),
                message,
                help: None,
            })?;
        config.audit.check().map_err(|message| ConfigError::File {
            location: file.to_string(),
            message,
            help: None,
        })?;
        config
            .retention
            .check()
            .map_err(|message| ConfigError::File {
                location: file.to_string(),
                message,
                help: None,
            })?;
        Ok(config)
    }

    /// The SMTP and opt-out settings serde cannot check.
    fn check_email(&self, file: &str) -> Result<(), ConfigError> {
        if let Some(smtp) = &self.smtp {
            smtp.check().map_err(|message| ConfigError::File {
                location: file.to_string(),
                message,
                help: None,
            })?;
        }
        if self.email.opt_out_line.trim().is_empty() {
            return Err(ConfigError::File {
                location: file.to_string(),
                message: "[email] `opt_out_line` is empty; every email must say how to opt out (12 CFR 1006.6(e))".into(),
                help: Some(format!("for example `{DEFAULT_OPT_OUT_LINE}`")),
            });
        }
        Ok(())
    }

    /// Two endpoints with one name could not be told apart in logs and the outbox.
    fn check_webhook_names(&self, file: &str) -> Result<(), ConfigError> {
        for (index, webhook) in self.webhooks.iter().enumerate() {
            if self
                .webhooks
                .iter()
                .take(index)
                .any(|w| w.name == webhook.name)
            {
                return Err(ConfigError::File {
                    location: file.to_string(),
                    message: format!("two webhooks are named `{}`", webhook.name),
                    help: Some("give every webhook its own name".into()),
                });
            }
        }
        Ok(())
    }

    /// Two configured keys with one id would make the token ambiguous.
    fn check_key_ids(&self, file: &str) -> Result<(), ConfigError> {
        for (index, key) in self.keys.iter().enumerate() {
            if let Some(first) = self.keys.iter().take(index).find(|k| k.id == key.id) {
                return Err(ConfigError::File {
                    location: file.to_string(),
                    message: format!(
                        "keys `{}` and `{}` have the same id `{}`",
                        first.name, key.name, key.id
                    ),
                    help: Some("give every key its own token".into()),
                });
            }
        }
        Ok(())
    }
}

/// The configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Defaults, file and environment, layered.
    pub config: Config,
    /// The file read, if any.
    pub file: Option<PathBuf>,
}

/// Reads the configuration: `explicit` (from `--config` or `DUNNER_CONFIG`) must
/// exist; otherwise `dunner.toml` in the working directory is read if present. Then
/// the process environment is applied.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    let path = match explicit {
        Some(path) if !path.exists() => {
            return Err(ConfigError::Missing {
                path: path.to_path_buf(),
            });
        }
        Some(path) => Some(path.to_path_buf()),
        None => Some(PathBuf::from(DEFAULT_FILE)).filter(|path| path.is_file()),
    };
    let config = match &path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            Config::from_toml(&path.display().to_string(), &text)?
        }
        None => Config::default(),
    };
    let config = config.apply_env(|name| std::env::var(name).ok())?;
    Ok(Loaded { config, file: path })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

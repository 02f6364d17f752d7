//! The environment layer: `DUNNER_*` variables over the file's values. Pure: the
//! variables come through a lookup function, so tests never touch the process environment.

use std::path::PathBuf;

use super::values::{check_log_level, parse_duration};
use super::{Config, ConfigError, LogFormat, Secret, SmtpConfig};
use crate::suggest::did_you_mean;

impl Config {
    /// Applies the `DUNNER_*` variables found by `lookup` (empty values count as
    /// unset): `DUNNER_LISTEN`, `DUNNER_OPEN_EVALUATE`, `DUNNER_DATABASE_URL`,
    /// `DUNNER_RULES`, `DUNNER_LOG_FORMAT`, `DUNNER_LOG`, `DUNNER_TEMPLATES`, and
    /// `DUNNER_SMTP_HOST`, `DUNNER_SMTP_PORT`, `DUNNER_SMTP_USERNAME`,
    /// `DUNNER_SMTP_PASSWORD`, `DUNNER_SMTP_FROM`, `DUNNER_SMTP_CA_FILE` (any of which
    /// turns `[smtp]` on), and `DUNNER_SCHEDULER_ENABLED`, `DUNNER_SCHEDULER_STRATEGIES`,
    /// `DUNNER_SCHEDULER_INTERVAL`, `DUNNER_SCHEDULER_LOOKAHEAD`.
    /// Arrays of tables (`[[keys]]`, `[[webhooks]]`) come from the file only.
    pub fn apply_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        if let Some(value) = get("DUNNER_LISTEN") {
            self.server.listen = value.trim().parse().map_err(|_| ConfigError::Environment {
                variable: "DUNNER_LISTEN",
                message: "not an address and port such as `127.0.0.1:8080`".into(),
            })?;
        }
        if let Some(value) = get("DUNNER_OPEN_EVALUATE") {
            self.server.open_evaluate =
                parse_bool(&value).ok_or_else(|| ConfigError::Environment {
                    variable: "DUNNER_OPEN_EVALUATE",
                    message: "use `true` or `false`".into(),
                })?;
        }
        if let Some(value) = get("DUNNER_DATABASE_URL") {
            self.database.url = value;
        }
        if let Some(value) = get("DUNNER_RULES") {
            self.rules.dir = PathBuf::from(value);
        }
        if let Some(value) = get("DUNNER_LOG_FORMAT") {
            self.log.format = match value.trim().to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    let help = did_you_mean(other, ["text", "json"])
                        .map(|best| format!("; did you mean `{best}`?"))
                        .unwrap_or_default();
                    return Err(ConfigError::Environment {
                        variable: "DUNNER_LOG_FORMAT",
                        message: format!("unknown format `{other}`, use `text` or `json`{help}"),
                    });
                }
            };
        }
        if let Some(value) = get("DUNNER_LOG") {
            self.log.level =
                check_log_level(&value).map_err(|message| ConfigError::Environment {
                    variable: "DUNNER_LOG",
                    message,
                })?;
        }
        if let Some(value) = get("DUNNER_TEMPLATES") {
            self.email.templates = PathBuf::from(value);
        }
        self.apply_smtp_env(&get)?;
        self.apply_scheduler_env(&get)?;
        Ok(self)
    }

    /// `DUNNER_SCHEDULER_ENABLED`, `DUNNER_SCHEDULER_STRATEGIES` (comma-separated
    /// paths), `DUNNER_SCHEDULER_INTERVAL`, `DUNNER_SCHEDULER_LOOKAHEAD`.
    fn apply_scheduler_env(
        &mut self,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        const VARIABLES: [&str; 4] = [
            "DUNNER_SCHEDULER_ENABLED",
            "DUNNER_SCHEDULER_STRATEGIES",
            "DUNNER_SCHEDULER_INTERVAL",
            "DUNNER_SCHEDULER_LOOKAHEAD",
        ];
        if !VARIABLES.iter().any(|name| get(name).is_some()) {
            return Ok(());
        }
        let scheduler = &mut self.scheduler;
        if let Some(value) = get("DUNNER_SCHEDULER_ENABLED") {
            scheduler.enabled = parse_bool(&value).ok_or_else(|| ConfigError::Environment {
                variable: "DUNNER_SCHEDULER_ENABLED",
                message: "use `true` or `false`".into(),
            })?;
        }
        if let Some(value) = get("DUNNER_SCHEDULER_STRATEGIES") {
            scheduler.strategies = value
                .split(',')
                .map(str::trim)
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
                .collect();
        }
        for (variable, target) in [
            ("DUNNER_SCHEDULER_INTERVAL", &mut scheduler.interval),
            ("DUNNER_SCHEDULER_LOOKAHEAD", &mut scheduler.lookahead),
        ] {
            if let Some(value) = get(variable) {
                *target = parse_duration(&value).ok_or_else(|| ConfigError::Environment {
                    variable,
                    message: "not a duration such as `30s`, `1m` or `2h`".into(),
                })?;
            }
        }
        scheduler
            .check()
            .map_err(|message| ConfigError::Environment {
                variable: "DUNNER_SCHEDULER_*",
                message,
            })
    }

    fn apply_smtp_env(&mut self, get: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        const VARIABLES: [&str; 6] = [
            "DUNNER_SMTP_HOST",
            "DUNNER_SMTP_PORT",
            "DUNNER_SMTP_USERNAME",
            "DUNNER_SMTP_PASSWORD",
            "DUNNER_SMTP_FROM",
            "DUNNER_SMTP_CA_FILE",
        ];
        if !VARIABLES.iter().any(|name| get(name).is_some()) {
            return Ok(());
        }
        let smtp = self.smtp.get_or_insert_with(SmtpConfig::default);
        if let Some(value) = get("DUNNER_SMTP_HOST") {
            smtp.host = value.trim().to_string();
        }
        if let Some(value) = get("DUNNER_SMTP_PORT") {
            smtp.port = Some(value.trim().parse().map_err(|_| ConfigError::Environment {
                variable: "DUNNER_SMTP_PORT",
                message: "not a port number".into(),
            })?);
        }
        if let Some(value) = get("DUNNER_SMTP_USERNAME") {
            smtp.username = Some(value);
        }
        if let Some(value) = get("DUNNER_SMTP_PASSWORD") {
            smtp.password = Some(Secret::new(value));
        }
        if let Some(value) = get("DUNNER_SMTP_FROM") {
            smtp.from = value;
        }
        if let Some(value) = get("DUNNER_SMTP_CA_FILE") {
            smtp.ca_file = Some(PathBuf::from(value));
        }
        smtp.check().map_err(|message| ConfigError::Environment {
            variable: "DUNNER_SMTP_*",
            message,
        })
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

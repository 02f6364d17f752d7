//! The configuration's layers, checks and redaction.

use std::path::PathBuf;
use std::time::Duration;

use super::secrets::redact_url_password;
use super::values::{format_duration, parse_duration};
use super::*;
use crate::auth::Scope;
use crate::dispatch::webhook::EventType;
use crate::domain::CollectorKind;

const TOKEN: &str = "dunner_dialer1_0123456789abcdef0123456789abcdef";

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn file_error(text: &str) -> (String, String, Option<String>) {
    match Config::from_toml("dunner.toml", text).unwrap_err() {
        ConfigError::File {
            location,
            message,
            help,
        } => (location, message, help),
        other => panic!("expected a file error, got {other}"),
    }
}

#[test]
fn the_shipped_file_is_exactly_the_defaults() {
    let shipped = Config::from_toml("dunner.toml", SHIPPED).unwrap();
    assert_eq!(shipped, Config::default());
    // Every default is written out in the file (not merely left to the default).
    let written: toml::Table = toml::from_str(SHIPPED).unwrap();
    let defaults = toml::Table::try_from(Config::default()).unwrap();
    assert_eq!(written, defaults);
}

#[test]
fn the_rules_section_names_the_collector_and_moves_pack_dates() {
    let text =
        "[rules]\ncollector = \"creditor\"\n\n[rules.effective_from]\nus-ny-nyc = 2027-03-01\n";
    let settings = Config::from_toml("dunner.toml", text)
        .unwrap()
        .rules
        .settings();
    assert_eq!(settings.collector, Some(CollectorKind::Creditor));
    assert_eq!(
        settings.effective_from.get("us-ny-nyc").copied(),
        chrono::NaiveDate::from_ymd_opt(2027, 3, 1)
    );
    assert_eq!(
        Config::default().rules.settings(),
        crate::policy::Settings::default(),
        "nothing configured: unknown collector, the packs' own dates"
    );
}

#[test]
fn a_misspelt_collector_or_a_quoted_date_is_an_error_at_its_place() {
    let (location, message, _) = file_error("[rules]\ncollector = \"agencie\"\n");
    assert!(location.starts_with("dunner.toml:2:"), "{location}");
    assert!(message.contains("did you mean `agency`?"), "{message}");
    let (location, message, _) = file_error("[rules.effective_from]\nus-ny-nyc = \"2027-03-01\"\n");
    assert!(location.starts_with("dunner.toml:"), "{location}");
    assert!(
        message.contains("datetime") || message.contains("date"),
        "{message}"
    );
    let (_, message, _) = file_error("[rules.effective_from]\nus-ny-nyc = 2027-03-01T10:00:00Z\n");
    assert!(message.contains("not a plain date"), "{message}");
}

#[test]
fn an_empty_file_means_the_defaults() {
    assert_eq!(Config::from_toml("x", "").unwrap(), Config::default());
}

#[test]
fn the_file_overrides_the_defaults_and_the_environment_overrides_the_file() {
    let file = Config::from_toml(
        "dunner.toml",
        "[server]\nlisten = \"0.0.0.0:9000\"\n[rules]\ndir = \"packs\"\n",
    )
    .unwrap();
    assert_eq!(file.server.listen.port(), 9000);
    assert_eq!(file.rules.dir, PathBuf::from("packs"));
    assert_eq!(file.database, DatabaseConfig::default());
    let layered = file
        .apply_env(env(&[
            ("DUNNER_LISTEN", "127.0.0.1:9100"),
            ("DUNNER_OPEN_EVALUATE", "true"),
            ("DUNNER_LOG_FORMAT", "json"),
            ("DUNNER_LOG", "info,tower_http=debug"),
            ("DUNNER_DATABASE_URL", ""),
        ]))
        .unwrap();
    assert_eq!(layered.server.listen.port(), 9100);
    assert!(layered.server.open_evaluate);
    assert_eq!(layered.log.format, LogFormat::Json);
    assert_eq!(layered.log.level, "info,tower_http=debug");
    assert_eq!(layered.rules.dir, PathBuf::from("packs"), "not overridden");
    assert_eq!(
        layered.database,
        DatabaseConfig::default(),
        "empty is unset"
    );
}

#[test]
fn an_unknown_key_names_its_place_and_the_closest_key() {
    let (location, message, help) = file_error("[server]\n\nlistn = \"127.0.0.1:1\"\n");
    assert_eq!(location, "dunner.toml:3:1");
    assert!(message.contains("unknown field `listn`"), "{message}");
    assert_eq!(help.as_deref(), Some("did you mean `listen`?"));
    let (_, message, help) = file_error("[loggin]\nformat = \"json\"\n");
    assert!(message.contains("unknown field `loggin`"), "{message}");
    assert_eq!(help.as_deref(), Some("did you mean `log`?"));
}

#[test]
fn a_wrong_value_names_its_place() {
    let (location, message, help) = file_error("[log]\nformat = \"jsn\"\n");
    assert_eq!(location, "dunner.toml:2:10");
    assert!(message.contains("unknown variant `jsn`"), "{message}");
    assert_eq!(help.as_deref(), Some("did you mean `json`?"));
    let (location, message, _) = file_error("[log]\nlevel = \"infoo\"\n");
    assert_eq!(location, "dunner.toml:2:9");
    assert!(message.contains("did you mean `info`"), "{message}");
    let (location, _, _) = file_error("[server]\nlisten = \"localhost\"\n");
    assert_eq!(location, "dunner.toml:2:10");
}

#[test]
fn configured_keys_keep_only_a_hash_and_verify_their_secret() {
    let text = format!(
        "[[keys]]\nname = \"dialer\"\ntoken = \"{TOKEN}\"\nscopes = [\"decide\", \"record\"]\n"
    );
    let config = Config::from_toml("dunner.toml", &text).unwrap();
    let key = config.keys.first().unwrap();
    assert_eq!(key.id, "dialer1");
    assert_eq!(key.scopes, vec![Scope::Decide, Scope::Record]);
    assert!(key.verify("0123456789abcdef0123456789abcdef"));
    assert!(!key.verify("0123456789abcdef0123456789abcdeF"));
    assert!(!format!("{key:?}").contains("0123456789abcdef"));
    let shown = config.to_redacted_toml().unwrap();
    assert!(shown.contains("token = \"<redacted>\""), "{shown}");
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
}

#[test]
fn an_unknown_scope_or_a_malformed_token_names_the_key() {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:1\"\n\n[[keys]]\nname = \"crm\"\ntoken = \"{TOKEN}\"\nscopes = [\"decid\"]\n"
    );
    let (location, message, _) = file_error(&text);
    assert!(location.starts_with("dunner.toml:"), "{location}");
    assert_ne!(location, "dunner.toml", "the place is known");
    assert!(
        message.contains("key `crm`: unknown scope `decid`; did you mean `decide`?"),
        "{message}"
    );
    let (_, message, _) =
        file_error("[[keys]]\nname = \"crm\"\ntoken = \"secret\"\nscopes = [\"decide\"]\n");
    assert!(message.contains("key `crm`: the token must look like"));
    let (_, message, _) = file_error(
        "[[keys]]\nname = \"crm\"\ntoken = \"dunner_crm_short\"\nscopes = [\"decide\"]\n",
    );
    assert!(message.contains("key `crm`"), "{message}");
    assert!(!message.contains("short\""), "the token is not echoed");
    let twice = format!(
        "[[keys]]\nname = \"a\"\ntoken = \"{TOKEN}\"\nscopes = [\"decide\"]\n[[keys]]\nname = \"b\"\ntoken = \"{TOKEN}\"\nscopes = [\"decide\"]\n"
    );
    let (_, message, _) = file_error(&twice);
    assert!(message.contains("keys `a` and `b`"), "{message}");
}

const WEBHOOK: &str = "[[webhooks]]\nname = \"letters\"\nurl = \"https://letters.example/hooks\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nevent_types = [\"notice.requested\", \"account.escalated\"]\n";

#[test]
fn webhooks_are_read_with_a_default_timeout_and_shown_redacted() {
    let config = Config::from_toml("dunner.toml", WEBHOOK).unwrap();
    let webhook = config.webhooks.first().unwrap();
    assert_eq!(webhook.name, "letters");
    assert_eq!(webhook.url.as_str(), "https://letters.example/hooks");
    assert_eq!(webhook.timeout, DEFAULT_WEBHOOK_TIMEOUT);
    assert!(webhook.wants(EventType::NoticeRequested));
    assert!(!webhook.wants(EventType::ContactDue));
    assert!(!format!("{webhook:?}").contains("MfKQ9r8"));
    let shown = config.to_redacted_toml().unwrap();
    assert!(shown.contains("secret = \"<redacted>\""), "{shown}");
    assert!(shown.contains("timeout = \"10s\""), "{shown}");
    assert!(!shown.contains("MfKQ9r8"), "{shown}");
    let timed = Config::from_toml("x", &format!("{WEBHOOK}timeout = \"1500ms\"\n")).unwrap();
    assert_eq!(
        timed.webhooks.first().unwrap().timeout,
        Duration::from_millis(1500)
    );
}

#[test]
fn a_bad_webhook_names_its_place_and_never_echoes_the_secret() {
    let (location, message, _) =
        file_error(&WEBHOOK.replace("https://letters.example/hooks", "ftp://letters.example/"));
    assert_eq!(location, "dunner.toml:1:1");
    assert!(
        message.contains("webhook `letters`: the url must be http:// or https://"),
        "{message}"
    );
    let (_, message, _) = file_error(&WEBHOOK.replace("https://letters.example/hooks", "letters"));
    assert!(message.contains("the url is not a URL"), "{message}");
    let (_, message, _) = file_error(&WEBHOOK.replace("whsec_", "wh_"));
    assert!(message.contains("must start with `whsec_`"), "{message}");
    assert!(!message.contains("MfKQ9r8"), "{message}");
    let (_, message, _) =
        file_error(&WEBHOOK.replace("[\"notice.requested\", \"account.escalated\"]", "[]"));
    assert!(message.contains("has no event types"), "{message}");
    let (location, message, help) =
        file_error(&WEBHOOK.replace("notice.requested", "notice.request"));
    assert_eq!(location, "dunner.toml:5:16");
    assert!(
        message.contains("unknown variant `notice.request`"),
        "{message}"
    );
    assert_eq!(help.as_deref(), Some("did you mean `notice.requested`?"));
    let (_, message, _) = file_error(&format!("{WEBHOOK}timeout = \"soon\"\n"));
    assert!(message.contains("timeout `soon`"), "{message}");
    let (_, message, _) = file_error(&format!("{WEBHOOK}{WEBHOOK}"));
    assert!(
        message.contains("two webhooks are named `letters`"),
        "{message}"
    );
}

#[test]
fn durations_read_and_print_in_their_shortest_form() {
    assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    assert_eq!(parse_duration("10"), None);
    assert_eq!(parse_duration("s"), None);
    assert_eq!(format_duration(Duration::from_secs(120)), "2m");
    assert_eq!(format_duration(Duration::from_secs(10)), "10s");
    assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let error = Config::default()
        .apply_env(env(&[("DUNNER_LISTEN", "nowhere")]))
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("environment variable DUNNER_LISTEN")
    );
    let error = Config::default()
        .apply_env(env(&[("DUNNER_LOG_FORMAT", "jsno")]))
        .unwrap_err();
    assert!(error.to_string().contains("did you mean `json`"), "{error}");
    assert!(
        Config::default()
            .apply_env(env(&[("DUNNER_OPEN_EVALUATE", "maybe")]))
            .is_err()
    );
}

#[test]
fn smtp_is_off_by_default_and_its_password_is_redacted() {
    assert_eq!(Config::default().smtp, None);
    let config = Config::from_toml(
        "dunner.toml",
        "[smtp]\nhost = \"mail.example\"\ntls = \"tls\"\nusername = \"u\"\npassword = \"hunter2\"\nfrom = \"Agency <n@agency.example>\"\n",
    )
    .unwrap();
    let smtp = config.smtp.clone().unwrap();
    assert_eq!(smtp.effective_port(), 465);
    assert_eq!(smtp.password.as_ref().map(Secret::expose), Some("hunter2"));
    let shown = config.to_redacted_toml().unwrap();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!format!("{config:?}").contains("hunter2"));
    let (_, message, _) = file_error("[smtp]\nhost = \"mail.example\"\n");
    assert!(message.contains("needs `from`"), "{message}");
    let (_, message, _) = file_error("[smtp]\nfrom = \"n@agency.example\"\nusername = \"u\"\n");
    assert!(message.contains("go together"), "{message}");
    let (_, message, _) = file_error("[email]\nopt_out_line = \" \"\n");
    assert!(message.contains("1006.6(e)"), "{message}");
    let on = Config::default()
        .apply_env(env(&[
            ("DUNNER_SMTP_FROM", "n@agency.example"),
            ("DUNNER_SMTP_PASSWORD", "pw"),
            ("DUNNER_SMTP_USERNAME", "u"),
        ]))
        .unwrap();
    assert_eq!(on.smtp.map(|smtp| smtp.effective_port()), Some(587));
}

#[test]
fn the_smtp_ca_file_comes_from_the_file_or_the_environment_and_is_checked() {
    let (_, message, _) =
        file_error("[smtp]\nfrom = \"n@agency.example\"\ntls = \"none\"\nca_file = \"ca.pem\"\n");
    assert!(message.contains("`ca_file` is for TLS"), "{message}");
    let (location, message, _) =
        file_error("[smtp]\nfrom = \"n@agency.example\"\nca_file = \"no/such/ca.pem\"\n");
    assert_eq!(location, "dunner.toml");
    assert!(
        message.starts_with("[smtp] `ca_file` no/such/ca.pem: cannot read it"),
        "{message}"
    );
    let error = Config::default()
        .apply_env(env(&[
            ("DUNNER_SMTP_FROM", "n@agency.example"),
            ("DUNNER_SMTP_CA_FILE", "no/such/ca.pem"),
        ]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("DUNNER_SMTP_"), "{error}");
    assert!(error.contains("no/such/ca.pem: cannot read it"), "{error}");
}

#[test]
fn database_passwords_and_secrets_are_redacted() {
    assert_eq!(
        redact_url_password("postgres://dunner:hunter2@db:5432/ledger?sslmode=require"),
        "postgres://dunner:<redacted>@db:5432/ledger?sslmode=require"
    );
    assert_eq!(
        redact_url_password("sqlite://dunner.db"),
        "sqlite://dunner.db"
    );
    assert_eq!(
        redact_url_password("postgres://dunner@db/ledger"),
        "postgres://dunner@db/ledger"
    );
    let secret = Secret::new("hunter2");
    assert_eq!(format!("{secret:?}"), REDACTED);
    assert_eq!(secret.expose(), "hunter2");
}

#[test]
fn the_retry_schedule_reads_hours_and_names_a_bad_delay() {
    let config = Config::from_toml("x.toml", "[outbox]\nretry = [\"1s\", \"2h\"]\n");
    assert_eq!(
        config.map(|c| c.outbox.retry).ok(),
        Some(vec![Duration::from_secs(1), Duration::from_secs(7200)])
    );
    let error = Config::from_toml("x.toml", "[outbox]\nretry = [\"5s\", \"soon\"]\n")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("x.toml:2") && error.contains("`soon` is not a duration"),
        "{error}"
    );
}

#[test]
fn the_scheduler_is_off_by_default_and_reads_its_durations_and_variables() {
    let defaults = Config::default().scheduler;
    assert!(
        !defaults.enabled,
        "an upgrade sends nothing it did not send before"
    );
    assert!(defaults.strategies.is_empty());
    assert_eq!(defaults.interval, Duration::from_secs(60));
    let config = Config::from_toml(
        "dunner.toml",
        "[scheduler]\nenabled = true\nstrategies = [\"strategies/a.toml\"]\ninterval = \"30s\"\nlookahead = \"2m\"\n[scheduler.email_data]\nvalidation_notice_url = \"https://x.example/{account_id}\"\n",
    )
    .unwrap();
    assert!(config.scheduler.enabled);
    assert_eq!(config.scheduler.interval, Duration::from_secs(30));
    assert_eq!(config.scheduler.lookahead, Duration::from_secs(120));
    let shown = config.to_redacted_toml().unwrap();
    assert!(shown.contains("interval = \"30s\""), "{shown}");
    assert!(shown.contains("validation_notice_url"), "{shown}");
    let layered = config
        .apply_env(env(&[
            ("DUNNER_SCHEDULER_ENABLED", "false"),
            ("DUNNER_SCHEDULER_STRATEGIES", "a.toml, b.toml"),
            ("DUNNER_SCHEDULER_INTERVAL", "5s"),
        ]))
        .unwrap();
    assert!(!layered.scheduler.enabled);
    assert_eq!(
        layered.scheduler.strategies,
        vec![PathBuf::from("a.toml"), PathBuf::from("b.toml")]
    );
    assert_eq!(layered.scheduler.interval, Duration::from_secs(5));
}

#[test]
fn a_bad_scheduler_setting_names_its_place_or_its_variable() {
    let (location, message, _) = file_error("[scheduler]\ninterval = \"soon\"\n");
    assert_eq!(location, "dunner.toml:2:12");
    assert!(message.contains("`soon` is not a duration"), "{message}");
    let (_, message, _) = file_error("[scheduler]\ninterval = \"10m\"\n");
    assert!(
        message.contains("`lookahead` (5m) must be at least `interval` (10m)"),
        "{message}"
    );
    let (_, message, _) = file_error("[scheduler]\ninterval = \"0s\"\n");
    assert!(message.contains("between 1s and 1h"), "{message}");
    let (_, message, help) = file_error("[scheduler]\nenable = true\n");
    assert!(message.contains("unknown field `enable`"), "{message}");
    assert_eq!(help.as_deref(), Some("did you mean `enabled`?"));
    let error = Config::default()
        .apply_env(env(&[("DUNNER_SCHEDULER_LOOKAHEAD", "1s")]))
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("environment variable DUNNER_SCHEDULER_*"),
        "{error}"
    );
    let error = Config::default()
        .apply_env(env(&[("DUNNER_SCHEDULER_ENABLED", "sure")]))
        .unwrap_err();
    assert!(
        error.to_string().contains("DUNNER_SCHEDULER_ENABLED"),
        "{error}"
    );
}

#[test]
fn the_writers_history_cache_is_sized_in_the_database_section() {
    assert_eq!(
        Config::default().database.history_cache_rows,
        crate::store::StoreOptions::default().history_cache_rows
    );
    let file = Config::from_toml(
        "dunner.toml",
        "[database]\nurl = \"sqlite://ledger.db\"\nhistory_cache_rows = 1000000\n",
    )
    .unwrap();
    assert_eq!(file.database.store_options().history_cache_rows, 1_000_000);
    let (location, message, _) = file_error("[database]\nhistory_cache_rows = -1\n");
    assert!(location.starts_with("dunner.toml:2"), "{location}");
    assert!(message.contains("history_cache_rows"), "{message}");
}

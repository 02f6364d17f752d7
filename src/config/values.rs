//! The sections of `dunner.toml` as values: defaults, serde shapes, and the checks serde
//! cannot make (durations, log levels, webhook endpoints). The sections that belong to
//! dispatch (`[smtp]`, `[email]`, `[agency]`, `[[webhooks]]`'s endpoint) are defined in
//! [`crate::dispatch`] and only read and shown here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use super::secrets::serialize_database_url;
use crate::dispatch::webhook::{EventType, WebhookEndpoint, WebhookSecret};
use crate::domain::CollectorKind;
use crate::secret::{REDACTED, Secret};
use crate::suggest::did_you_mean;

/// The levels `[log] level` may name on its own (anything with `=` or `,` is a
/// tracing env-filter).
const LOG_LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

/// `[server]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Leave `POST /v1/evaluate` open without an API key (for local use only).
    pub open_evaluate: bool,
    /// How long an `Idempotency-Key` is remembered: a repeat within it answers the first
    /// response and writes nothing.
    #[serde(
        deserialize_with = "deserialize_duration",
        serialize_with = "serialize_duration"
    )]
    pub idempotency_retention: Duration,
    /// How long after an attempt its outcome may still be reported
    /// (`POST …/attempts/{attempt_id}/outcome`); until then, and for good when none
    /// arrives, the attempt counts as any outcome would (a possible conversation).
    #[serde(
        deserialize_with = "deserialize_duration",
        serialize_with = "serialize_duration"
    )]
    pub outcome_grace: Duration,
    /// How long a web console session lasts after sign-in.
    #[serde(
        deserialize_with = "deserialize_duration",
        serialize_with = "serialize_duration"
    )]
    pub console_session_ttl: Duration,
    /// Mark the console's session cookie `Secure`: set it when browsers reach the daemon
    /// over HTTPS (through a TLS-terminating proxy). A request a proxy marks
    /// `X-Forwarded-Proto: https` gets a `Secure` cookie either way.
    pub console_secure_cookie: bool,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            open_evaluate: false,
            idempotency_retention: Duration::from_secs(24 * 3600),
            outcome_grace: Duration::from_secs(2 * 3600),
            console_session_ttl: Duration::from_secs(8 * 3600),
            console_secure_cookie: false,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://…`; a password in it is redacted when shown.
    #[serde(serialize_with = "serialize_database_url")]
    pub url: String,
    /// The most history rows the ledger's writers keep between attempts, ≈ 250 bytes
    /// each at most (0: none). A debtor they keep costs an attempt no read; past the
    /// bound they forget some debtors, read again when next asked.
    #[serde(deserialize_with = "deserialize_history_cache_rows")]
    pub history_cache_rows: usize,
}

impl Default for DatabaseConfig {
    fn default() -> DatabaseConfig {
        DatabaseConfig {
            url: "sqlite://dunner.db".into(),
            history_cache_rows: crate::store::StoreOptions::default().history_cache_rows,
        }
    }
}

impl DatabaseConfig {
    /// How the store is run.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            history_cache_rows: self.history_cache_rows,
        }
    }
}

/// `[rules]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// The directory of rule packs.
    pub dir: PathBuf,
    /// Pack ids every policy must contain: a policy without one of them is refused at
    /// start and on reload, like an invalid one.
    pub required_packs: Vec<String>,
    /// How long the rules directory must stay unchanged before a reload applies it.
    #[serde(
        deserialize_with = "deserialize_duration",
        serialize_with = "serialize_duration"
    )]
    pub settle: Duration,
    /// Who collects: `agency`, `debt_buyer` or `creditor`. Packs scoped by
    /// `collectors` read it (an account's own `collector` wins). Absent: not known,
    /// so every pack applies as to an FDCPA debt collector (fail closed).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_collector"
    )]
    pub collector: Option<CollectorKind>,
    /// `[rules.effective_from]`: a pack's start date, by pack id, when a regulator
    /// moves it (the pack's text keeps the law's date).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "deserialize_pack_dates"
    )]
    pub effective_from: BTreeMap<String, toml::value::Datetime>,
    /// A shadow rules directory: every decision is made under it too, and where it
    /// differs from the live one the divergence is logged and counted. Never answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<PathBuf>,
}

impl Default for RulesConfig {
    fn default() -> RulesConfig {
        RulesConfig {
            dir: PathBuf::from("rules"),
            required_packs: vec!["us-federal".into()],
            settle: Duration::from_secs(1),
            collector: None,
            effective_from: BTreeMap::new(),
            shadow: None,
        }
    }
}

impl RulesConfig {
    /// What the configuration adds to the packs.
    pub fn settings(&self) -> crate::policy::Settings {
        crate::policy::Settings {
            collector: self.collector,
            // Every value was checked to be a plain date when the file was read.
            effective_from: self
                .effective_from
                .iter()
                .filter_map(|(id, date)| Some((id.clone(), plain_date(date)?)))
                .collect(),
        }
    }
}

/// A collector kind, refusing values the packs do not know: in the configuration a
/// typo is an error, not the unknown (strictest) kind.
fn deserialize_collector<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<CollectorKind>, D::Error> {
    let name = String::deserialize(deserializer)?;
    match CollectorKind::parse(name.trim()) {
        Some(kind) => Ok(Some(kind)),
        None => {
            let names = CollectorKind::ALL.map(CollectorKind::as_str);
            let help = did_you_mean(name.trim(), names)
                .map(|best| format!("; did you mean `{best}`?"))
                .unwrap_or_default();
            Err(serde::de::Error::custom(format!(
                "unknown collector `{name}`, use `agency`, `debt_buyer` or `creditor`{help}"
            )))
        }
    }
}

/// Pack start dates: unquoted local dates (`2027-01-01`), each for a valid pack id.
fn deserialize_pack_dates<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, toml::value::Datetime>, D::Error> {
    let dates = BTreeMap::<String, toml::value::Datetime>::deserialize(deserializer)?;
    for (id, date) in &dates {
        if plain_date(date).is_none() {
            return Err(serde::de::Error::custom(format!(
                "`{id} = {date}` is not a plain date; write a local date like 2027-01-01"
            )));
        }
    }
    Ok(dates)
}

fn plain_date(value: &toml::value::Datetime) -> Option<chrono::NaiveDate> {
    match (value.date, value.time, value.offset) {
        (Some(date), None, None) => chrono::NaiveDate::from_ymd_opt(
            i32::from(date.year),
            u32::from(date.month),
            u32::from(date.day),
        ),
        _ => None,
    }
}

/// `[outbox]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// The delays between tries after a failure; after the last, the notice is dead.
    #[serde(
        deserialize_with = "deserialize_durations",
        serialize_with = "serialize_durations"
    )]
    pub retry: Vec<Duration>,
}

impl Default for OutboxConfig {
    fn default() -> OutboxConfig {
        OutboxConfig {
            retry: crate::outbox::RetrySchedule::default().0,
        }
    }
}

impl OutboxConfig {
    /// The retry schedule.
    pub fn schedule(&self) -> crate::outbox::RetrySchedule {
        crate::outbox::RetrySchedule(self.retry.clone())
    }
}

// --- [scheduler] -------------------------------------------------------------------

/// `[scheduler]`: the strategies the daemon runs for the stored accounts, and how often.
/// Off by default: an agency upgrading dunner gets no `contact.due` webhook or email it
/// did not ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Run the strategies every `interval` and queue the notices that fall due.
    pub enabled: bool,
    /// Strategy files, in order: an account follows the first whose segment covers it.
    /// Loaded (and checked) at start even when the scheduler is off, for
    /// `GET /v1/accounts/{id}/plan`.
    pub strategies: Vec<PathBuf>,
    /// The time between two ticks.
    #[serde(
        deserialize_with = "deserialize_duration",
        serialize_with = "serialize_duration"
    )]
    pub interval: Duration,
    /// How far ahead a tick queues planned contacts (each to leave at its planned
    /// instant); at least `interval`, so that nothing falls between two ticks.
    #[serde(
        deserialize_with = "deserialize_duration",
        serialize_with = "serialize_duration"
    )]
    pub lookahead: Duration,
    /// Values every email the scheduler queues gets as `data.<name>` (the shipped
    /// validation-notice template needs `validation_notice_url`); `{account_id}` in a
    /// value is replaced by the account's id.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub email_data: std::collections::BTreeMap<String, String>,
}

impl Default for SchedulerConfig {
    fn default() -> SchedulerConfig {
        SchedulerConfig {
            enabled: false,
            strategies: Vec::new(),
            interval: Duration::from_secs(60),
            lookahead: Duration::from_secs(300),
            email_data: std::collections::BTreeMap::new(),
        }
    }
}

/// The tamper-evident log (`[audit]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// How often the daemon takes a global checkpoint of the hash chains (a hash over
    /// every account's head); `0s` takes none.
    #[serde(
        deserialize_with = "deserialize_duration",
        serialize_with = "serialize_duration"
    )]
    pub checkpoint_interval: Duration,
    /// An ed25519 private key (PKCS#8 PEM) that signs each checkpoint, so that an
    /// exported log can be verified with the public key alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> AuditConfig {
        AuditConfig {
            checkpoint_interval: Duration::from_secs(3600),
            signing_key: None,
        }
    }
}

impl AuditConfig {
    /// The interval is off (`0s`) or between 1s and 7 days.
    pub(super) fn check(&self) -> Result<(), String> {
        let interval = self.checkpoint_interval;
        if !interval.is_zero()
            && !(Duration::from_secs(1)..=Duration::from_secs(7 * 86_400)).contains(&interval)
        {
            return Err(format!(
                "[audit] `checkpoint_interval` must be 0s (off) or between 1s and 7 days, not {}",
                format_duration(interval)
            ));
        }
        Ok(())
    }
}

/// The shortest interval between ticks.
const MIN_SCHEDULER_INTERVAL: Duration = Duration::from_secs(1);

/// The longest interval between ticks.
const MAX_SCHEDULER_INTERVAL: Duration = Duration::from_secs(3600);

/// The longest lookahead: a tick plans two local days, which must cover it.
const MAX_SCHEDULER_LOOKAHEAD: Duration = Duration::from_secs(12 * 3600);

impl SchedulerConfig {
    /// The checks serde cannot make: the interval and the lookahead in range.
    pub(super) fn check(&self) -> Result<(), String> {
        if !(MIN_SCHEDULER_INTERVAL..=MAX_SCHEDULER_INTERVAL).contains(&self.interval) {
            return Err(format!(
                "[scheduler] `interval` must be between 1s and 1h, not {}",
                format_duration(self.interval)
            ));
        }
        if self.lookahead < self.interval || self.lookahead > MAX_SCHEDULER_LOOKAHEAD {
            return Err(format!(
                "[scheduler] `lookahead` ({}) must be at least `interval` ({}), or contacts due between two ticks would be missed, and at most 12h",
                format_duration(self.lookahead),
                format_duration(self.interval)
            ));
        }
        Ok(())
    }
}

fn deserialize_history_cache_rows<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<usize, D::Error> {
    let count = i64::deserialize(deserializer)?;
    usize::try_from(count).map_err(|_| {
        serde::de::Error::custom(format!(
            "`history_cache_rows` is a number of rows, 0 or more, not {count}"
        ))
    })
}

fn deserialize_duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration (like \"30s\", \"1m\" or \"2h\")"
        ))
    })
}

fn serialize_duration<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_duration(*duration))
}

// --- end of [scheduler] ---------------------------------------------------------------

fn deserialize_durations<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Duration>, D::Error> {
    let texts = Vec::<String>::deserialize(deserializer)?;
    if texts.is_empty() {
        return Err(serde::de::Error::custom(
            "give at least one delay, or a failed notice would be dead at once",
        ));
    }
    texts
        .iter()
        .map(|text| {
            parse_duration(text).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{text}` is not a duration (like \"5s\", \"30m\" or \"2h\")"
                ))
            })
        })
        .collect()
}

fn serialize_durations<S: Serializer>(
    durations: &[Duration],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(durations.iter().map(|d| format_duration(*d)))
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Text lines or JSON objects.
    pub format: LogFormat,
    /// A level or a tracing env-filter (`info,tower_http=debug`).
    #[serde(deserialize_with = "deserialize_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The timeout of a webhook endpoint unless it names one.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest timeout a webhook endpoint may ask for.
const MAX_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(300);

impl Serialize for WebhookEndpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WebhookView {
            name: &self.name,
            url: self.url.as_str(),
            secret: REDACTED,
            event_types: &self.event_types,
            timeout: format_duration(self.timeout),
        }
        .serialize(serializer)
    }
}

#[derive(Serialize)]
struct WebhookView<'a> {
    name: &'a str,
    url: &'a str,
    secret: &'a str,
    event_types: &'a [EventType],
    timeout: String,
}

/// A `[[webhooks]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookEntry {
    name: String,
    url: String,
    secret: Secret,
    event_types: Vec<EventType>,
    #[serde(default)]
    timeout: Option<String>,
}

impl TryFrom<WebhookEntry> for WebhookEndpoint {
    type Error = String;

    /// Checks the URL, the secret's form, the event types and the timeout; the
    /// messages never echo the secret.
    fn try_from(entry: WebhookEntry) -> Result<WebhookEndpoint, String> {
        let name = entry.name;
        let url = reqwest::Url::parse(entry.url.trim())
            .map_err(|error| format!("webhook `{name}`: the url is not a URL ({error})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "webhook `{name}`: the url must be http:// or https://, not `{}:`",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("webhook `{name}`: the url has no host"));
        }
        let secret = WebhookSecret::parse(entry.secret.expose())
            .map_err(|error| format!("webhook `{name}`: {error}"))?;
        if entry.event_types.is_empty() {
            let names = EventType::ALL.map(EventType::as_str);
            return Err(format!(
                "webhook `{name}` has no event types; give it some of `{}`",
                names.join("`, `")
            ));
        }
        let timeout = match entry.timeout {
            None => DEFAULT_WEBHOOK_TIMEOUT,
            Some(text) => parse_duration(&text)
                .filter(|timeout| !timeout.is_zero() && *timeout <= MAX_WEBHOOK_TIMEOUT)
                .ok_or_else(|| {
                    format!(
                        "webhook `{name}`: timeout `{text}` is not a duration between 1ms and {}s such as \"10s\" or \"500ms\"",
                        MAX_WEBHOOK_TIMEOUT.as_secs()
                    )
                })?,
        };
        let mut event_types: Vec<EventType> = Vec::with_capacity(entry.event_types.len());
        for event_type in entry.event_types {
            if !event_types.contains(&event_type) {
                event_types.push(event_type);
            }
        }
        Ok(WebhookEndpoint {
            name,
            url,
            secret,
            event_types,
            timeout,
        })
    }
}

impl<'de> Deserialize<'de> for WebhookEndpoint {
    /// Through `WebhookEntry`, so a bad URL, secret or timeout is an error at its place.
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<WebhookEndpoint, D::Error> {
        let entry = WebhookEntry::deserialize(deserializer)?;
        WebhookEndpoint::try_from(entry).map_err(serde::de::Error::custom)
    }
}

/// `"10s"`, `"500ms"`, `"2m"` → a duration.
pub(super) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(number)),
        "s" => Some(Duration::from_secs(number)),
        "m" => number.checked_mul(60).map(Duration::from_secs),
        "h" => number.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

/// The shortest of `"2m"`, `"10s"`, `"500ms"` that says the duration exactly.
pub(super) fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(3_600_000) && millis > 0 {
        format!("{}h", millis / 3_600_000)
    } else if millis.is_multiple_of(60_000) && millis > 0 {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// Accepts a bare level (with did-you-mean on a typo) or a tracing env-filter.
pub(super) fn check_log_level(value: &str) -> Result<String, String> {
    let value = value.trim();
    if !value.contains(['=', ',']) {
        let lower = value.to_ascii_lowercase();
        if LOG_LEVELS.contains(&lower.as_str()) {
            return Ok(lower);
        }
        let help = did_you_mean(&lower, LOG_LEVELS)
            .map(|best| format!("; did you mean `{best}`?"))
            .unwrap_or_default();
        return Err(format!(
            "unknown log level `{value}`, use one of `error`, `warn`, `info`, `debug`, `trace`, `off` or a filter such as `info,tower_http=debug`{help}"
        ));
    }
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_string())
        .map_err(|error| format!("invalid log filter `{value}`: {error}"))
}

fn deserialize_log_level<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let value = String::deserialize(deserializer)?;
    check_log_level(&value).map_err(serde::de::Error::custom)
}

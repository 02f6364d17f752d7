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
//! The test `the_shipped_file_is_exactly_the_defaults` fails when the file and the code
//! drift apart.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use crate::auth::{Scope, hash_secret, parse_token, verify};
use crate::dispatch::signing::WebhookSecret;
use crate::dispatch::webhook::EventType;
use crate::domain::CollectorKind;
use crate::suggest::{did_you_mean, unknown_name_help};

/// The file looked for in the working directory when none is named.
pub const DEFAULT_FILE: &str = "dunner.toml";

/// The shipped, fully commented default configuration (`dunner config show --default`).
pub const SHIPPED: &str = include_str!("../dunner.toml");

/// What `config show` prints instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// The shortest secret accepted in a configured key token.
pub const MIN_SECRET_CHARS: usize = 32;

/// The levels `[log] level` may name on its own (anything with `=` or `,` is a
/// tracing env-filter).
const LOG_LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

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
}

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
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            open_evaluate: false,
            idempotency_retention: Duration::from_secs(24 * 3600),
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
}

impl Default for DatabaseConfig {
    fn default() -> DatabaseConfig {
        DatabaseConfig {
            url: "sqlite://dunner.db".into(),
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
}

impl Default for RulesConfig {
    fn default() -> RulesConfig {
        RulesConfig {
            dir: PathBuf::from("rules"),
            required_packs: vec!["us-federal".into()],
            settle: Duration::from_secs(1),
            collector: None,
            effective_from: BTreeMap::new(),
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
            retry: crate::store::RetrySchedule::default().0,
        }
    }
}

impl OutboxConfig {
    /// The retry schedule.
    pub fn schedule(&self) -> crate::store::RetrySchedule {
        crate::store::RetrySchedule(self.retry.clone())
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

/// The shortest interval between ticks.
const MIN_SCHEDULER_INTERVAL: Duration = Duration::from_secs(1);

/// The longest interval between ticks.
const MAX_SCHEDULER_INTERVAL: Duration = Duration::from_secs(3600);

/// The longest lookahead: a tick plans two local days, which must cover it.
const MAX_SCHEDULER_LOOKAHEAD: Duration = Duration::from_secs(12 * 3600);

impl SchedulerConfig {
    /// The checks serde cannot make: the interval and the lookahead in range.
    fn check(&self) -> Result<(), String> {
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

/// `[smtp]` (optional: absent by default, and then no email leaves the building).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// The relay's host name or address (also the name its TLS certificate must carry).
    pub host: String,
    /// The relay's port; unset means 25 for `none`, 587 for `starttls`, 465 for `tls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// How the connection is protected.
    pub tls: SmtpTls,
    /// The user name, when the relay wants authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password that goes with `username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A PEM file of CA certificates to trust for the relay's TLS certificate, besides
    /// the system's roots (a relay with a private or self-signed CA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The sender mailbox (`Agency <notices@agency.example>`); its domain names the
    /// Message-IDs.
    pub from: String,
    /// Seconds to wait for the relay on each step before the try counts as failed.
    pub timeout: u64,
    /// The most connections kept open to the relay at once.
    pub pool_size: u32,
}

impl Default for SmtpConfig {
    fn default() -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: None,
            tls: SmtpTls::StartTls,
            username: None,
            password: None,
            ca_file: None,
            from: String::new(),
            timeout: 30,
            pool_size: 10,
        }
    }
}

impl SmtpConfig {
    /// The port to connect to: the configured one, else the usual one for `tls`.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
        })
    }

    /// The checks serde cannot make: a sender mailbox, and a user name and password
    /// given together.
    fn check(&self) -> Result<(), String> {
        let from = self.from.trim();
        if from.is_empty() {
            return Err(
                "[smtp] needs `from`, the sender mailbox (`Agency <notices@agency.example>`)"
                    .into(),
            );
        }
        if from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(
                "[smtp] `from` is not a mailbox such as `Agency <notices@agency.example>`".into(),
            );
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(
                "[smtp] `username` and `password` go together: give both or neither".into(),
            );
        }
        if self.pool_size == 0 {
            return Err("[smtp] `pool_size` must be at least 1".into());
        }
        if self.timeout == 0 {
            return Err("[smtp] `timeout` must be at least 1 second".into());
        }
        if self.ca_file.is_some() && self.tls == SmtpTls::None {
            return Err(
                "[smtp] `ca_file` is for TLS, but `tls` is \"none\": use \"starttls\" or \"tls\", or drop `ca_file`"
                    .into(),
            );
        }
        self.ca_certificates()?;
        Ok(())
    }

    /// The CA certificates of `ca_file` (PEM), checked: readable, at least one
    /// certificate, each one usable as a trust anchor. `None` without `ca_file`.
    pub fn ca_certificates(&self) -> Result<Option<Vec<u8>>, String> {
        use rustls::pki_types::pem::PemObject;
        let Some(path) = &self.ca_file else {
            return Ok(None);
        };
        let problem = |what: String| format!("[smtp] `ca_file` {}: {what}", path.display());
        let pem =
            std::fs::read(path).map_err(|error| problem(format!("cannot read it: {error}")))?;
        let mut roots = rustls::RootCertStore::empty();
        for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            let certificate =
                certificate.map_err(|error| problem(format!("not valid PEM: {error}")))?;
            roots
                .add(certificate)
                .map_err(|error| problem(format!("not a usable CA certificate: {error}")))?;
        }
        if roots.is_empty() {
            return Err(problem(
                "holds no certificate (expected PEM `-----BEGIN CERTIFICATE-----` blocks)".into(),
            ));
        }
        Ok(Some(pem))
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same machine or a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS, which the relay must offer.
    #[default]
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// `[email]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// The directory of notice templates (one sub-directory per purpose).
    pub templates: PathBuf,
    /// The opt-out statement every email must carry (12 CFR 1006.6(e)).
    pub opt_out_line: String,
    /// Where to opt out besides replying: a URL or `mailto:` (empty: none).
    pub unsubscribe: String,
}

impl Default for EmailConfig {
    fn default() -> EmailConfig {
        EmailConfig {
            templates: PathBuf::from("templates"),
            opt_out_line: DEFAULT_OPT_OUT_LINE.into(),
            unsubscribe: String::new(),
        }
    }
}

/// The shipped opt-out statement: one of the methods Reg F's commentary names
/// (comment 6(e)-1), which asks nothing of the consumer but the reply.
pub const DEFAULT_OPT_OUT_LINE: &str = "To stop receiving emails from us at this address, reply to this email with STOP in the subject line.";

/// `[agency]`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgencyConfig {
    /// The agency's name as the consumer will recognise it.
    pub name: String,
    /// Its postal address, on one line.
    pub address: String,
    /// A telephone number consumers can call.
    pub phone: String,
}

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
            .finish_non_exhaustive()
    }
}

impl Serialize for ConfiguredKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KeyView {
            name: &self.name,
            token: REDACTED,
            scopes: &self.scopes,
        }
        .serialize(serializer)
    }
}

#[derive(Serialize)]
struct KeyView<'a> {
    name: &'a str,
    token: &'a str,
    scopes: &'a [Scope],
}

/// A `[[keys]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    token: String,
    scopes: Vec<String>,
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
        Ok(ConfiguredKey {
            id: id.to_string(),
            secret_hash: hash_secret(secret),
            scopes,
            name,
        })
    }
}

/// The timeout of a webhook endpoint unless it names one.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest timeout a webhook endpoint may ask for.
const MAX_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(300);

/// A `[[webhooks]]` endpoint: where events of some types are POSTed, signed with its
/// secret. Built from the file's entry, so a bad URL or secret cannot exist.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "WebhookEntry")]
pub struct WebhookEndpoint {
    /// A name to recognise the endpoint by (in logs and the outbox).
    pub name: String,
    /// An `http` or `https` URL.
    pub url: reqwest::Url,
    /// The signing key (`whsec_<base64>` in the file); never shown.
    pub secret: WebhookSecret,
    /// The events sent here (at least one).
    pub event_types: Vec<EventType>,
    /// How long one try may take, from connecting to the end of the answer.
    pub timeout: Duration,
}

impl WebhookEndpoint {
    /// Whether events of this type go to this endpoint.
    pub fn wants(&self, event_type: EventType) -> bool {
        self.event_types.contains(&event_type)
    }
}

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

/// `"10s"`, `"500ms"`, `"2m"` → a duration.
fn parse_duration(text: &str) -> Option<Duration> {
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
fn format_duration(duration: Duration) -> String {
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
        Ok(config)
    }

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

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
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

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Accepts a bare level (with did-you-mean on a typo) or a tracing env-filter.
fn check_log_level(value: &str) -> Result<String, String> {
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

fn serialize_database_url<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url_password(url))
}

/// `postgres://user:secret@host/db` → `postgres://user:<redacted>@host/db`.
fn redact_url_password(url: &str) -> Cow<'_, str> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let (location, message, _) =
            file_error("[rules.effective_from]\nus-ny-nyc = \"2027-03-01\"\n");
        assert!(location.starts_with("dunner.toml:"), "{location}");
        assert!(
            message.contains("datetime") || message.contains("date"),
            "{message}"
        );
        let (_, message, _) =
            file_error("[rules.effective_from]\nus-ny-nyc = 2027-03-01T10:00:00Z\n");
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
        let (_, message, _) =
            file_error(&WEBHOOK.replace("https://letters.example/hooks", "letters"));
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
        let (_, message, _) = file_error(
            "[smtp]\nfrom = \"n@agency.example\"\ntls = \"none\"\nca_file = \"ca.pem\"\n",
        );
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
}

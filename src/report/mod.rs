//! Reports: what the ledger says about a period — contacts by channel and day, the
//! rules that refused, the accounts at or near a cap, legal holds, aging, the
//! right-party contact rate and the promises to pay — and the permitted contact
//! windows of one account as a week-by-hour heat map. As JSON, CSV, or a
//! self-contained HTML page with inline SVG charts.
//!
//! Functional core, imperative shell. Each section is a pure fold over rows — `add`
//! one, `merge` two partitions, `finish` into the section — fed by the store's readers
//! ([`crate::store::reports`]) one partition per core; the folds parse only the JSON
//! fields they count. [`build`] is the shell that has the store read and the folds
//! count; [`render`] turns a [`Report`] into CSV or HTML. Nothing here reads the clock:
//! a report is "as of" the end of its period, or of the `now` its caller passes if that
//! is earlier, and everything time-dependent (caps, promises, aging) is judged at that
//! instant.

pub mod aging;
pub mod caps;
mod collect;
pub mod contacts;
mod csv;
pub mod facts;
pub mod holds;
mod html;
mod labels;
pub mod outcomes;
pub mod promises;
pub mod refusals;
pub mod shadow;
pub mod windows;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;

pub use collect::build;
pub use csv::quote as csv_cell;
pub use html::{STYLE as PAGE_STYLE, escape as escape_html, section_title};

use crate::domain::Channel;
use crate::store::StoreError;
use crate::suggest::did_you_mean;

/// The longest period a report covers (two years).
pub const MAX_PERIOD_DAYS: i64 = 731;

/// The default period: the last 30 days, today included.
pub const DEFAULT_PERIOD_DAYS: i64 = 30;

/// A report: one section, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportName {
    /// Every section (and the heat map when an account is given).
    Summary,
    /// Contacts by channel and day, with the outcome mix.
    Contacts,
    /// Refusals by the rule that refused.
    Refusals,
    /// Accounts at or near each cap.
    Caps,
    /// Accounts under each legal hold.
    Holds,
    /// Accounts and balances by days since placement (or charge-off).
    Aging,
    /// Right-party contact rate of outbound calls.
    RightPartyContacts,
    /// Promises to pay made in the period: kept, broken, pending.
    Promises,
    /// The permitted windows of one account, as a week-by-hour heat map.
    Windows,
    /// Attempts recorded without an outcome whose outcome never arrived within the grace.
    UnreportedOutcomes,
}

impl ReportName {
    /// Every report, in the order the summary shows them.
    pub const ALL: [ReportName; 10] = [
        ReportName::Summary,
        ReportName::Contacts,
        ReportName::Refusals,
        ReportName::Caps,
        ReportName::Holds,
        ReportName::Aging,
        ReportName::RightPartyContacts,
        ReportName::Promises,
        ReportName::Windows,
        ReportName::UnreportedOutcomes,
    ];

    /// The name in URLs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportName::Summary => "summary",
            ReportName::Contacts => "contacts",
            ReportName::Refusals => "refusals",
            ReportName::Caps => "caps",
            ReportName::Holds => "holds",
            ReportName::Aging => "aging",
            ReportName::RightPartyContacts => "right_party_contacts",
            ReportName::Promises => "promises",
            ReportName::Windows => "windows",
            ReportName::UnreportedOutcomes => "unreported_outcomes",
        }
    }

    /// Parses a report name, suggesting the closest one on a typo.
    pub fn parse(name: &str) -> Result<ReportName, ReportError> {
        ReportName::ALL
            .into_iter()
            .find(|report| report.as_str() == name)
            .ok_or_else(|| ReportError::UnknownName {
                name: name.to_string(),
                suggestion: did_you_mean(name, ReportName::ALL.map(ReportName::as_str)),
            })
    }

    /// Whether the report shows a section (the heat map only for an account).
    pub fn shows(self, section: ReportName, with_account: bool) -> bool {
        match (self, section) {
            (ReportName::Summary, ReportName::Windows) => with_account,
            (ReportName::Summary, _) => true,
            (name, section) => name == section,
        }
    }
}

/// What a report is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The [`Report`] as JSON.
    #[default]
    Json,
    /// One table per section.
    Csv,
    /// A self-contained page with charts.
    Html,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::Json, Format::Csv, Format::Html];

    /// The name in URLs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Html => "html",
        }
    }

    /// The HTTP `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    /// Parses a format name.
    pub fn parse(name: &str) -> Result<Format, ReportError> {
        Format::ALL
            .into_iter()
            .find(|format| format.as_str() == name)
            .ok_or_else(|| {
                invalid(
                    "format",
                    format!(
                        "unknown format `{name}`: use json, csv or html{}",
                        help(did_you_mean(name, Format::ALL.map(Format::as_str)))
                    ),
                )
            })
    }
}

/// What aging counts days from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgingBasis {
    /// The day the agency received the account (`placed_on`).
    #[default]
    Placement,
    /// The day the creditor charged the debt off (`charged_off_on`).
    ChargeOff,
}

impl AgingBasis {
    /// The name in URLs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            AgingBasis::Placement => "placement",
            AgingBasis::ChargeOff => "charge_off",
        }
    }

    /// Parses a basis name.
    pub fn parse(name: &str) -> Result<AgingBasis, ReportError> {
        [AgingBasis::Placement, AgingBasis::ChargeOff]
            .into_iter()
            .find(|basis| basis.as_str() == name)
            .ok_or_else(|| {
                invalid(
                    "basis",
                    format!(
                        "unknown aging basis `{name}`: use placement or charge_off{}",
                        help(did_you_mean(name, ["placement", "charge_off"]))
                    ),
                )
            })
    }
}

/// The days a report covers, both included, in UTC dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Period {
    /// The first day.
    #[schema(value_type = String, format = Date, example = "2026-03-09")]
    pub from: NaiveDate,
    /// The last day.
    #[schema(value_type = String, format = Date, example = "2026-04-07")]
    pub to: NaiveDate,
}

impl Period {
    /// A period from optional bounds: `to` defaults to `today`, `from` to 29 days before
    /// `to` (30 days in all).
    pub fn new(
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        today: NaiveDate,
    ) -> Result<Period, ReportError> {
        let to = to.unwrap_or(today);
        let from = match from {
            Some(from) => from,
            None => to
                .checked_sub_signed(TimeDelta::days(DEFAULT_PERIOD_DAYS - 1))
                .unwrap_or(NaiveDate::MIN),
        };
        if from > to {
            return Err(invalid(
                "from",
                format!("`from` ({from}) is after `to` ({to})"),
            ));
        }
        if (to - from).num_days() >= MAX_PERIOD_DAYS {
            return Err(invalid(
                "from",
                format!("a report covers at most {MAX_PERIOD_DAYS} days; {from} to {to} is longer"),
            ));
        }
        Ok(Period { from, to })
    }

    /// Parses a `YYYY-MM-DD` date given for `field`.
    pub fn parse_date(field: &'static str, text: &str) -> Result<NaiveDate, ReportError> {
        // Strictly `YYYY-MM-DD` (chrono's `%m` would also take `2026-4-7`).
        let strict = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        let parsed = if strict {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
        } else {
            None
        };
        let date = parsed.ok_or_else(|| {
            invalid(
                field,
                format!("`{text}` is not a date: use YYYY-MM-DD (like 2026-04-07)"),
            )
        })?;
        crate::domain::instant::check_date(date).map_err(|error| invalid(field, error.to_string()))
    }

    /// The first instant of the period (`from`, 00:00 UTC).
    pub fn start(&self) -> DateTime<Utc> {
        self.from.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// The first instant after the period (the day after `to`, 00:00 UTC).
    pub fn end(&self) -> DateTime<Utc> {
        self.to
            .succ_opt()
            .unwrap_or(NaiveDate::MAX)
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
    }

    /// The instant the report judges at: the end of the period, or `now` if earlier.
    pub fn as_of(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.end().min(now)
    }

    /// The last day the report judges on (promises, aging): `to`, or `now`'s day if
    /// earlier.
    pub fn as_of_date(&self, now: DateTime<Utc>) -> NaiveDate {
        self.to.min(now.date_naive())
    }

    /// How many days the period has.
    pub fn days(&self) -> usize {
        usize::try_from((self.to - self.from).num_days() + 1).unwrap_or(0)
    }

    /// The index of a day in the period, when it is in it.
    pub fn day_index(&self, day: NaiveDate) -> Option<usize> {
        (self.from..=self.to)
            .contains(&day)
            .then(|| usize::try_from((day - self.from).num_days()).ok())
            .flatten()
    }

    /// Every day of the period, in order.
    pub fn each_day(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        self.from.iter_days().take(self.days())
    }
}

/// What a report is asked: which, over which days, and the parameters of its sections.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportQuery {
    /// Which report.
    pub name: ReportName,
    /// The days it covers.
    pub period: Period,
    /// The account of the heat map (required by `windows`).
    pub account: Option<String>,
    /// The channel of the heat map (`call` by default).
    pub channel: Channel,
    /// What aging counts days from.
    pub basis: AgingBasis,
    /// An account is "near" a cap when it has used some of it and at most this many
    /// contacts remain (1 by default).
    pub near: u32,
    /// How long after an attempt its outcome may arrive (`[server] outcome_grace`; 2 h
    /// by default): attempts older than this without one are listed as unreported.
    pub outcome_grace: std::time::Duration,
    /// Only the accounts of these clients (a `client` filter, or a key limited to
    /// clients); `None` for every account.
    pub clients: Option<Vec<String>>,
}

/// A report query as callers write it, every value a string: the CLI's flags and the
/// HTTP query parameters are checked by the same code and named the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawQuery<'a> {
    /// `from`.
    pub from: Option<&'a str>,
    /// `to`.
    pub to: Option<&'a str>,
    /// `account`.
    pub account: Option<&'a str>,
    /// `channel`.
    pub channel: Option<&'a str>,
    /// `basis`.
    pub basis: Option<&'a str>,
    /// `near`.
    pub near: Option<&'a str>,
}

/// The most a `near` threshold may be.
pub const MAX_NEAR: u32 = 100;

impl ReportQuery {
    /// Checks a query, naming the field at fault. `today` is the default end.
    pub fn parse(
        name: &str,
        raw: &RawQuery<'_>,
        today: NaiveDate,
    ) -> Result<ReportQuery, ReportError> {
        let name = ReportName::parse(name.trim())?;
        let from = raw
            .from
            .map(|text| Period::parse_date("from", text))
            .transpose()?;
        let to = raw
            .to
            .map(|text| Period::parse_date("to", text))
            .transpose()?;
        let period = Period::new(from, to, today)?;
        let account = raw.account.filter(|id| !id.is_empty()).map(str::to_string);
        if name == ReportName::Windows && account.is_none() {
            return Err(invalid(
                "account",
                "the `windows` report is about one account: give its id as `account`",
            ));
        }
        let channel = match raw.channel {
            None => Channel::Call,
            Some(text) => Channel::parse(text).ok_or_else(|| {
                invalid(
                    "channel",
                    format!(
                        "unknown channel `{text}`: use call, sms, email, letter or visit{}",
                        help(did_you_mean(text, Channel::ALL.map(Channel::as_str)))
                    ),
                )
            })?,
        };
        let basis = raw
            .basis
            .map(AgingBasis::parse)
            .transpose()?
            .unwrap_or_default();
        let near = match raw.near {
            None => 1,
            // Written as the API document says: digits, no sign, no padding.
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|near| *near <= MAX_NEAR && near.to_string() == text)
                .ok_or_else(|| {
                    invalid(
                        "near",
                        format!("`{text}` is not a whole number from 0 to {MAX_NEAR}"),
                    )
                })?,
        };
        Ok(ReportQuery {
            name,
            period,
            account,
            channel,
            basis,
            near,
            outcome_grace: std::time::Duration::from_secs(2 * 3600),
            clients: None,
        })
    }
}

/// A report that cannot be made, naming the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No report has that name.
    #[error("unknown report `{name}`{}; reports: {}", help(*suggestion), ReportName::ALL.map(ReportName::as_str).join(", "))]
    UnknownName {
        /// The name asked for.
        name: String,
        /// The closest real name.
        suggestion: Option<&'static str>,
    },
    /// A parameter is malformed or out of range.
    #[error("{message}")]
    Invalid {
        /// The parameter.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The account of the heat map does not exist.
    #[error("account `{0}` does not exist")]
    UnknownAccount(String),
    /// The ledger could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ReportError {
    /// The parameter at fault, when the caller's input is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ReportError::UnknownName { .. } => Some("name"),
            ReportError::Invalid { field, .. } => Some(field),
            ReportError::UnknownAccount(_) => Some("account"),
            ReportError::Store(_) => None,
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ReportError {
    ReportError::Invalid {
        field,
        message: message.into(),
    }
}

/// `; did you mean `x`?` when there is a likely candidate.
fn help(suggestion: Option<&str>) -> String {
    suggestion.map_or(String::new(), |best| format!("; did you mean `{best}`?"))
}

/// A report: its period, the instant it judges at, and the sections asked for.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// Which report.
    pub report: ReportName,
    /// The days it covers (UTC dates, both included).
    pub period: Period,
    /// The instant caps, promises and aging are judged at: the end of the period, or
    /// the moment the report was made if that is earlier.
    pub as_of: DateTime<Utc>,
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// The digest of the policy that judged the caps and the windows.
    pub policy_digest: String,
    /// Contacts by channel and day.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub contacts: Option<contacts::ContactsSection>,
    /// Refusals by the rule that refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refusals: Option<refusals::RefusalsSection>,
    /// Accounts at or near each cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub caps: Option<caps::CapsSection>,
    /// Accounts under each legal hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub holds: Option<holds::HoldsSection>,
    /// Accounts and balances by age.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub aging: Option<aging::AgingSection>,
    /// The right-party contact rate of outbound calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub right_party_contacts: Option<contacts::RightPartySection>,
    /// Promises to pay made in the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub promises: Option<promises::PromisesSection>,
    /// The permitted windows of one account.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub windows: Option<windows::WindowsSection>,
    /// Attempts whose outcome never arrived within the grace.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub unreported_outcomes: Option<outcomes::UnreportedOutcomesSection>,
}

/// Writes a report in a format (JSON pretty-printed, ending with a newline).
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(report)
            .map(|json| json + "\n")
            // Every field serializes (no maps with non-string keys, no failing impls).
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}\n")),
        Format::Csv => csv::render(report),
        Format::Html => html::render(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_default_period_is_the_last_thirty_days_today_included() {
        let period = Period::new(None, None, day("2026-04-07")).unwrap();
        assert_eq!(
            (period.from, period.to),
            (day("2026-03-09"), day("2026-04-07"))
        );
        assert_eq!(period.days(), 30);
        assert_eq!(period.each_day().count(), 30);
        assert_eq!(
            period.end(),
            "2026-04-08T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // Judged at the end of the period, or now if that is earlier.
        let now = "2026-04-07T15:00:00Z".parse().unwrap();
        assert_eq!(period.as_of(now), now);
        assert_eq!(
            period.as_of("2026-05-01T00:00:00Z".parse().unwrap()),
            period.end()
        );
    }

    #[test]
    fn a_period_names_the_bound_at_fault() {
        let error = Period::new(
            Some(day("2026-04-08")),
            Some(day("2026-04-07")),
            day("2026-05-01"),
        )
        .unwrap_err();
        assert_eq!(error.field(), Some("from"));
        assert!(error.to_string().contains("is after"), "{error}");
        let error = Period::parse_date("to", "2026-13-01").unwrap_err();
        assert_eq!(error.field(), Some("to"));
        assert!(error.to_string().contains("YYYY-MM-DD"), "{error}");
        let error = Period::new(
            Some(day("2020-01-01")),
            Some(day("2026-01-01")),
            day("2026-01-01"),
        )
        .unwrap_err();
        assert_eq!(error.field(), Some("from"));
        assert_eq!(
            Period::new(
                Some(day("2026-04-07")),
                Some(day("2026-04-07")),
                day("2026-04-07")
            )
            .unwrap()
            .days(),
            1
        );
    }

    #[test]
    fn a_misspelt_report_name_gets_the_real_one() {
        let error = ReportName::parse("refusal").unwrap_err();
        assert_eq!(error.field(), Some("name"));
        assert!(
            error.to_string().contains("did you mean `refusals`?"),
            "{error}"
        );
        assert_eq!(
            ReportName::parse("right_party_contacts").unwrap(),
            ReportName::RightPartyContacts
        );
    }

    #[test]
    fn a_query_checks_every_parameter_and_names_it() {
        let today = day("2026-04-07");
        let parse = |name: &str, raw: RawQuery<'_>| ReportQuery::parse(name, &raw, today);
        let query = parse("summary", RawQuery::default()).unwrap();
        assert_eq!(
            (query.channel, query.basis, query.near),
            (Channel::Call, AgingBasis::Placement, 1)
        );
        let field = |name: &str, raw: RawQuery<'_>| parse(name, raw).unwrap_err().field();
        assert_eq!(field("windows", RawQuery::default()), Some("account"));
        assert_eq!(
            field(
                "caps",
                RawQuery {
                    near: Some("-1"),
                    ..RawQuery::default()
                }
            ),
            Some("near")
        );
        assert_eq!(
            field(
                "aging",
                RawQuery {
                    basis: Some("chargeoff"),
                    ..RawQuery::default()
                }
            ),
            Some("basis")
        );
        assert_eq!(
            field(
                "windows",
                RawQuery {
                    account: Some("A-1"),
                    channel: Some("fax"),
                    ..RawQuery::default()
                }
            ),
            Some("channel")
        );
        assert_eq!(
            field(
                "contacts",
                RawQuery {
                    from: Some("yesterday"),
                    ..RawQuery::default()
                }
            ),
            Some("from")
        );
        let error = AgingBasis::parse("chargeoff").unwrap_err();
        assert!(
            error.to_string().contains("did you mean `charge_off`?"),
            "{error}"
        );
        assert_eq!(Format::parse("htm").unwrap_err().field(), Some("format"));
    }

    #[test]
    fn the_summary_shows_the_heat_map_only_for_an_account() {
        assert!(ReportName::Summary.shows(ReportName::Aging, false));
        assert!(!ReportName::Summary.shows(ReportName::Windows, false));
        assert!(ReportName::Summary.shows(ReportName::Windows, true));
        assert!(!ReportName::Aging.shows(ReportName::Holds, true));
    }
}

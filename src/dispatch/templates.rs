//! Email notice templates: loaded, compiled and checked once, rendered per notice.
//!
//! One template is one directory under `templates/`, named after the
//! [`Purpose`] it serves (`validation_notice/`, `payment_reminder/`,
//! `termination_notice/`, …), holding three minijinja files:
//!
//! | file | what | escaping |
//! | --- | --- | --- |
//! | `subject.txt` | the subject, one line | none |
//! | `body.txt` | the text/plain part | none |
//! | `body.html` | the text/html part | HTML auto-escaping |
//!
//! A directory rather than one TOML file per template because compliance edits these
//! texts: each part is a plain file an editor highlights as HTML or text, with no
//! quoting rules of a second language around it, and a syntax error's `file:line` is
//! the line the author sees.
//!
//! Loading ([`Templates::load`]) fails closed and collects every problem before
//! reporting: a directory that is not a purpose, a missing part, a syntax error
//! (`file:line`), and — rendered with a representative sample context — a text or
//! HTML part that lacks the opt-out line of 12 CFR 1006.6(e). Rendering
//! ([`Templates::render`]) checks the opt-out line again, so a line hidden behind a
//! condition the sample happened to satisfy cannot slip through at send time.
//!
//! Variables: `account` (the serialized [`Account`]), `notice` (`id`, `purpose`),
//! `data` (the caller's JSON object), `opt_out` (`line`, `unsubscribe`), `agency`
//! (`name`, `address`, `phone`). Filters: `money` (`{{ account.balance | money }}` →
//! `$1,842.17`) and `date` (`{{ data.due_date | date }}` → `March 3, 2026`).
//! Undefined values are errors when printed (fail closed) but may be tested with
//! `{% if data.x %}`.
//!
//! No network and no clock here; the only I/O is reading the directory in `load`.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate};
use minijinja::value::Serde;
use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Account, Address, Consumer, Currency, EmailAddress, EmailKind, Flags, Money, Purpose,
};
use crate::suggest::did_you_mean;

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

/// The three files of a template, in the order they are checked.
pub const PARTS: [&str; 3] = ["subject.txt", "body.txt", "body.html"];

/// The regulation the opt-out check enforces, as diagnostics cite it.
const OPT_OUT_CITATION: &str = "12 CFR 1006.6(e)";

/// One problem found in a template file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateProblem {
    /// The file (or template directory) at fault.
    pub file: PathBuf,
    /// The 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Why templates could not be loaded or a notice could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The templates directory cannot be read.
    #[error("failed to read the templates directory {}: {source}", path.display())]
    Read {
        /// The directory or file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Some templates are invalid; every problem is listed.
    #[error("{}", render_problems(.0))]
    Invalid(Vec<TemplateProblem>),
    /// No template serves this purpose.
    #[error("no email template for the purpose `{0}`")]
    Missing(&'static str),
    /// A template failed to render for one notice (a value it prints is missing, a
    /// filter refused its input, the opt-out line is missing from the result).
    #[error("{0}")]
    Render(TemplateProblem),
}

fn render_problems(problems: &[TemplateProblem]) -> String {
    let mut out = String::new();
    for (index, problem) in problems.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{problem}");
    }
    out
}

/// What the templates say about who sends and how to opt out: the `[email]` and
/// `[agency]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sender {
    /// `opt_out` in templates.
    pub opt_out: OptOut,
    /// `agency` in templates.
    pub agency: AgencyConfig,
}

/// The opt-out statement and an optional other way to opt out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptOut {
    /// The statement every email must carry.
    pub line: String,
    /// A URL or `mailto:` (empty when none).
    pub unsubscribe: String,
}

impl Sender {
    /// The settings from the configuration.
    pub fn from_config(email: &EmailConfig, agency: &AgencyConfig) -> Sender {
        Sender {
            opt_out: OptOut {
                line: email.opt_out_line.trim().to_string(),
                unsubscribe: email.unsubscribe.trim().to_string(),
            },
            agency: agency.clone(),
        }
    }
}

/// One notice to render: whose account, which notice, and the caller's data.
#[derive(Debug, Clone, Copy)]
pub struct NoticeContext<'a> {
    /// The account the notice is about.
    pub account: &'a Account,
    /// The notice's stable id (also the Message-ID's left part).
    pub notice_id: &'a str,
    /// Why it is sent; picks the template.
    pub purpose: Purpose,
    /// Caller-supplied values (`data.*` in templates): a JSON object or null.
    pub data: &'a serde_json::Value,
}

/// A rendered email, ready for [`crate::dispatch::email::EmailSender::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// The subject, one line.
    pub subject: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part.
    pub html: String,
}

/// The loaded, checked templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    dir: PathBuf,
    purposes: Vec<Purpose>,
    sender: Sender,
}

impl Templates {
    /// Reads every template under `dir`, compiles it and renders it with a sample
    /// context; any problem in any template refuses them all.
    pub fn load(dir: &Path, sender: &Sender) -> Result<Templates, TemplateError> {
        let mut problems = Vec::new();
        if sender.opt_out.line.trim().is_empty() {
            problems.push(TemplateProblem {
                file: dir.to_path_buf(),
                line: None,
                message: format!(
                    "the configured opt-out line (`[email] opt_out_line`) is empty; every email must carry one ({OPT_OUT_CITATION})"
                ),
            });
        }
        let mut env = environment();
        let mut purposes = Vec::new();
        for entry in read_dir_sorted(dir)? {
            let Some(name) = entry
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
            else {
                continue;
            };
            if !entry.is_dir() || name.starts_with('.') {
                continue;
            }
            let Some(purpose) = Purpose::ALL.into_iter().find(|p| p.as_str() == name) else {
                let help = did_you_mean(&name, Purpose::ALL.map(Purpose::as_str))
                    .map(|best| format!("; did you mean `{best}`?"))
                    .unwrap_or_default();
                problems.push(TemplateProblem {
                    file: entry.clone(),
                    line: None,
                    message: format!(
                        "`{name}` is not a purpose, so no notice would use this template{help}"
                    ),
                });
                continue;
            };
            let mut complete = true;
            for part in PARTS {
                let path = entry.join(part);
                let source = match std::fs::read_to_string(&path) {
                    Ok(source) => source,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                        problems.push(TemplateProblem {
                            file: path,
                            line: None,
                            message:
                                "missing: a template needs subject.txt, body.txt and body.html"
                                    .into(),
                        });
                        complete = false;
                        continue;
                    }
                    Err(source) => return Err(TemplateError::Read { path, source }),
                };
                if let Err(error) = env.add_template_owned(format!("{name}/{part}"), source) {
                    problems.push(problem_from(dir, &error, &path));
                    complete = false;
                }
            }
            if complete {
                purposes.push(purpose);
            }
        }
        purposes.sort();
        let templates = Templates {
            env,
            dir: dir.to_path_buf(),
            purposes,
            sender: sender.clone(),
        };
        let sample_account = sample_account();
        let sample_data = sample_data();
        for &purpose in &templates.purposes {
            let context = NoticeContext {
                account: &sample_account,
                notice_id: "0190a3c2-7f4e-7b1a-9c55-3f2d8e6a1b07",
                purpose,
                data: &sample_data,
            };
            if let Err(error) = templates.render_checked(context) {
                match error {
                    TemplateError::Render(problem) => problems.push(problem),
                    TemplateError::Invalid(more) => problems.extend(more),
                    other => return Err(other),
                }
            }
        }
        if problems.is_empty() {
            Ok(templates)
        } else {
            Err(TemplateError::Invalid(problems))
        }
    }

    /// The purposes that have a template, in a stable order.
    pub fn purposes(&self) -> &[Purpose] {
        &self.purposes
    }

    /// Whether a notice of this purpose can be rendered.
    pub fn has(&self, purpose: Purpose) -> bool {
        self.purposes.contains(&purpose)
    }

    /// The directory the templates were read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Renders a purpose's template for the sample account with `data`: whether notices
    /// that always carry this data can be filled (the scheduler checks its emails at
    /// start, not at send time).
    pub fn check_sample(
        &self,
        purpose: Purpose,
        data: &serde_json::Value,
    ) -> Result<(), TemplateError> {
        let account = sample_account();
        self.render(NoticeContext {
            account: &account,
            notice_id: "0190a3c2-7f4e-7b1a-9c55-3f2d8e6a1b07",
            purpose,
            data,
        })
        .map(|_| ())
    }

    /// Renders the notice's template; refuses a result without the opt-out line.
    pub fn render(&self, notice: NoticeContext<'_>) -> Result<RenderedEmail, TemplateError> {
        if !self.has(notice.purpose) {
            return Err(TemplateError::Missing(notice.purpose.as_str()));
        }
        self.render_checked(notice)
    }

    fn render_checked(&self, notice: NoticeContext<'_>) -> Result<RenderedEmail, TemplateError> {
        let name = notice.purpose.as_str();
        let data = match notice.data {
            serde_json::Value::Null => Value::from(BTreeMap::<String, Value>::new()),
            object @ serde_json::Value::Object(_) => Value::from(Serde(object)),
            _ => {
                return Err(TemplateError::Render(TemplateProblem {
                    file: self.dir.join(name),
                    line: None,
                    message: "the notice's `data` must be a JSON object".into(),
                }));
            }
        };
        let context = minijinja::context! {
            account => Value::from(Serde(notice.account)),
            notice => minijinja::context! { id => notice.notice_id, purpose => name },
            data => data,
            opt_out => Value::from(Serde(&self.sender.opt_out)),
            agency => Value::from(Serde(&self.sender.agency)),
        };
        let mut problems = Vec::new();
        let mut parts = Vec::with_capacity(PARTS.len());
        for part in PARTS {
            let path = self.dir.join(name).join(part);
            let rendered = self
                .env
                .get_template(&format!("{name}/{part}"))
                .and_then(|template| template.render(&context));
            match rendered {
                Ok(text) => parts.push(text),
                Err(error) => {
                    problems.push(problem_from(&self.dir, &error, &path));
                    parts.push(String::new());
                }
            }
        }
        let [subject, text, html] = <[String; 3]>::try_from(parts).map_err(|_| {
            TemplateError::Render(TemplateProblem {
                file: self.dir.join(name),
                line: None,
                message: "a part was not rendered".into(),
            })
        })?;
        if !problems.is_empty() {
            return Err(invalid_or_render(problems));
        }
        let subject = subject.trim().to_string();
        if subject.is_empty() || subject.contains(['\r', '\n']) {
            problems.push(TemplateProblem {
                file: self.dir.join(name).join("subject.txt"),
                line: None,
                message: "the rendered subject must be one non-empty line".into(),
            });
        }
        let line = &self.sender.opt_out.line;
        if opt_out_line_required(notice.purpose) {
            if !text.contains(line.as_str()) {
                problems.push(missing_opt_out(&self.dir, name, "body.txt"));
            }
            if !html_contains(&html, line) {
                problems.push(missing_opt_out(&self.dir, name, "body.html"));
            }
        }
        if problems.is_empty() {
            Ok(RenderedEmail {
                subject,
                text,
                html,
            })
        } else {
            Err(invalid_or_render(problems))
        }
    }
}

/// Whether an email of this purpose must carry the opt-out line of 1006.6(e). The
/// confirmation of an opt-out "contains no information other than a statement
/// confirming the person's request and that the debt collector will honor it"
/// (12 CFR 1006.14(h)(2)(i)), so it carries no opt-out notice (it may: it is not
/// refused for having one). Every other purpose must.
fn opt_out_line_required(purpose: Purpose) -> bool {
    purpose != Purpose::OptOutConfirmation
}

fn invalid_or_render(mut problems: Vec<TemplateProblem>) -> TemplateError {
    if problems.len() == 1
        && let Some(problem) = problems.pop()
    {
        return TemplateError::Render(problem);
    }
    TemplateError::Invalid(problems)
}

fn missing_opt_out(dir: &Path, name: &str, part: &str) -> TemplateProblem {
    TemplateProblem {
        file: dir.join(name).join(part),
        line: None,
        message: format!(
            "the rendered message lacks the opt-out line required by {OPT_OUT_CITATION} (show it with {{{{ opt_out.line }}}})"
        ),
    }
}

/// Whether visible HTML carries the line: as printed by `{{ opt_out.line }}` (escaped)
/// or verbatim, and not inside an HTML comment.
fn html_contains(html: &str, line: &str) -> bool {
    let visible = strip_html_comments(html);
    let escaped = minijinja::HtmlEscape(line).to_string();
    visible.contains(&escaped) || visible.contains(line)
}

fn strip_html_comments(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<!--") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 4..).unwrap_or_default();
        match after.find("-->") {
            Some(end) => rest = after.get(end + 3..).unwrap_or_default(),
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// A problem from a minijinja error, placed at its file and line.
fn problem_from(dir: &Path, error: &minijinja::Error, fallback: &Path) -> TemplateProblem {
    let file = error
        .name()
        .map(|name| dir.join(name))
        .unwrap_or_else(|| fallback.to_path_buf());
    let message = match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    };
    TemplateProblem {
        file,
        line: error.line(),
        message,
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, TemplateError> {
    let read = |source| TemplateError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(read)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<PathBuf>, std::io::Error>>()
        .map_err(read)?;
    entries.sort();
    Ok(entries)
}

/// The minijinja environment: strict about printing undefined values, HTML escaping
/// for `.html` files, and the `money` and `date` filters.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    // Block tags take their line with them, so text parts read as written.
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.add_filter("money", money_filter);
    env.add_filter("date", date_filter);
    env
}

/// `{{ account.balance | money }}` (a `{amount, currency}` map) or
/// `{{ data.amount | money("USD") }}` (a number or a numeric string and a currency).
fn money_filter(value: Value, currency: Option<String>) -> Result<String, minijinja::Error> {
    let invalid =
        |message: String| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message);
    let (amount, code) = if value.kind() == ValueKind::Map {
        let amount = value.get_attr("amount")?;
        let code = value.get_attr("currency")?;
        let code = code
            .as_str()
            .map(str::to_owned)
            .or(currency)
            .ok_or_else(|| invalid("money: the value has no `currency`".into()))?;
        (amount, code)
    } else {
        let code = currency.ok_or_else(|| {
            invalid("money: a bare amount needs its currency, as in `money(\"USD\")`".into())
        })?;
        (value, code)
    };
    if amount.is_undefined() || amount.is_none() {
        return Err(invalid("money: the amount is missing".into()));
    }
    let text = match amount.as_str() {
        Some(text) => text.trim().to_string(),
        None if amount.kind() == ValueKind::Number => amount.to_string(),
        None => return Err(invalid("money: the amount is not a number".into())),
    };
    let amount = Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| invalid("money: the amount is not a decimal number".into()))?;
    let currency = Currency::parse(code.trim()).ok_or_else(|| {
        invalid("money: the currency is not an ISO 4217 code such as `USD`".into())
    })?;
    Ok(format_money(&Money { amount, currency }))
}

/// `$1,842.17`, `€1,842.17`, `CHF 1,842.17`: the currency's symbol (USD, EUR, GBP,
/// CAD, AUD) or else its code, then the amount rounded half away from zero to two
/// decimals with comma thousands separators.
pub fn format_money(money: &Money) -> String {
    let rounded = money
        .amount
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() {
        "-"
    } else {
        ""
    };
    let digits = format!("{:.2}", rounded.abs());
    let (whole, cents) = digits.split_once('.').unwrap_or((digits.as_str(), "00"));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let prefix = match money.currency.as_str() {
        "USD" => "$".to_string(),
        "EUR" => "€".to_string(),
        "GBP" => "£".to_string(),
        "CAD" => "CA$".to_string(),
        "AUD" => "A$".to_string(),
        code => format!("{code} "),
    };
    format!("{sign}{prefix}{grouped}.{cents}")
}

/// `{{ "2026-03-03" | date }}` → `March 3, 2026`; `date("%d/%m/%Y")` for another
/// strftime format. Accepts `YYYY-MM-DD` or an RFC 3339 instant (its UTC date).
fn date_filter(value: Value, format: Option<String>) -> Result<String, minijinja::Error> {
    let invalid = |message: &str| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message.to_string())
    };
    let text = value
        .as_str()
        .ok_or_else(|| invalid("date: expects a date (`2026-03-03`) or an RFC 3339 instant"))?
        .trim();
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|instant| instant.to_utc().date_naive())
        })
        .ok_or_else(|| invalid("date: expects a date (`2026-03-03`) or an RFC 3339 instant"))?;
    let format = format.as_deref().unwrap_or("%B %-d, %Y");
    let mut out = String::new();
    // An invalid strftime format makes `Display` fail; report it instead of panicking.
    write!(out, "{}", date.format(format))
        .map_err(|_| invalid("date: the format is not a valid strftime format"))?;
    Ok(out)
}

/// The account every template is rendered with when loaded: every optional field set,
/// so a template that prints one renders.
fn sample_account() -> Account {
    Account {
        id: "ACC-1001".into(),
        debt_type: Some("credit_card".into()),
        creditor: Some("Example Bank, N.A.".into()),
        client: None,
        balance: Currency::parse("USD").map(|currency| Money {
            amount: Decimal::new(184_217, 2),
            currency,
        }),
        placed_on: NaiveDate::from_ymd_opt(2026, 1, 5),
        charged_off_on: NaiveDate::from_ymd_opt(2025, 11, 30),
        closed_on: None,
        consumer: Consumer {
            id: Some("CONS-1".into()),
            address: Some(Address {
                state: Some("NY".into()),
                city: Some("Albany".into()),
                postal_code: Some("12207".into()),
            }),
            time_zones: Vec::new(),
            phones: Vec::new(),
            emails: vec![EmailAddress {
                address: "consumer@example.com".into(),
                kind: EmailKind::Personal,
            }],
        },
        flags: Flags::default(),
        opted_out: Vec::new(),
        inconvenient_times: Vec::new(),
        inconvenient_places: Vec::new(),
        collector: None,
    }
}

/// The `data` every template is rendered with when loaded: the keys the shipped
/// templates use (documented in the README). A template may use other keys if it
/// tests them first (`{% if data.x %}`).
fn sample_data() -> serde_json::Value {
    serde_json::json!({
        "consumer_name": "Alex Doe",
        "reference": "ACC-1001",
        "validation_notice_url": "https://pay.agency.example/notices/ACC-1001",
        "payment_url": "https://pay.agency.example/",
        "amount_due": {"amount": "150.00", "currency": "USD"},
        "due_date": "2026-03-03",
        "request_received_on": "2026-02-10",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount: &str, code: &str) -> String {
        format_money(&Money {
            amount: Decimal::from_str(amount).unwrap_or_default(),
            currency: Currency::parse(code).unwrap_or_else(|| unreachable!()),
        })
    }

    #[test]
    fn money_has_its_symbol_two_decimals_and_thousands_separators() {
        assert_eq!(money("1842.17", "USD"), "$1,842.17");
        assert_eq!(money("1234567.5", "EUR"), "€1,234,567.50");
        assert_eq!(money("0.005", "GBP"), "£0.01");
        assert_eq!(money("999", "CAD"), "CA$999.00");
        assert_eq!(money("100000", "CHF"), "CHF 100,000.00");
        assert_eq!(money("-12.345", "USD"), "-$12.35");
        assert_eq!(money("-0.001", "USD"), "$0.00");
    }

    #[test]
    fn filters_format_maps_numbers_and_dates() {
        let env = environment();
        let render = |source: &str, ctx: Value| env.render_str(source, ctx);
        let ctx = minijinja::context! {
            balance => minijinja::context! { amount => "1842.17", currency => "USD" },
            n => 12.5,
            day => "2026-03-03",
            instant => "2026-03-03T23:30:00-05:00",
        };
        assert_eq!(
            render("{{ balance | money }}", ctx.clone()).unwrap_or_default(),
            "$1,842.17"
        );
        assert_eq!(
            render("{{ n | money('EUR') }}", ctx.clone()).unwrap_or_default(),
            "€12.50"
        );
        assert!(
            render("{{ n | money }}", ctx.clone()).is_err(),
            "a bare amount needs a currency"
        );
        assert_eq!(
            render("{{ day | date }}", ctx.clone()).unwrap_or_default(),
            "March 3, 2026"
        );
        assert_eq!(
            render("{{ instant | date('%Y-%m-%d') }}", ctx.clone()).unwrap_or_default(),
            "2026-03-04"
        );
        assert!(render("{{ day | date('%Q') }}", ctx.clone()).is_err());
        assert!(
            render("{{ missing }}", ctx.clone()).is_err(),
            "printing undefined fails"
        );
        assert_eq!(
            render("{% if missing %}x{% endif %}y", ctx).unwrap_or_default(),
            "y"
        );
    }

    fn template_dir(purposes: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (purpose, body) in purposes {
            let part = dir.path().join(purpose);
            std::fs::create_dir(&part).expect("a template directory");
            std::fs::write(part.join("subject.txt"), "About your account").expect("subject");
            std::fs::write(part.join("body.txt"), body).expect("text part");
            std::fs::write(part.join("body.html"), format!("<p>{body}</p>")).expect("html part");
        }
        dir
    }

    fn sender() -> Sender {
        Sender {
            opt_out: OptOut {
                line: "Reply STOP to opt out.".into(),
                unsubscribe: String::new(),
            },
            agency: super::AgencyConfig {
                name: "Acme".into(),
                address: "1 Main St".into(),
                phone: "+15555550100".into(),
            },
        }
    }

    #[test]
    fn an_opt_out_confirmation_needs_no_opt_out_line_but_other_notices_do() {
        // 1006.14(h)(2)(i): the confirmation holds nothing but the confirmation.
        let confirmation = "We will no longer email this address, as you asked.";
        let dir = template_dir(&[("opt_out_confirmation", confirmation)]);
        let templates = Templates::load(dir.path(), &sender()).expect("accepted");
        assert!(templates.has(Purpose::OptOutConfirmation));

        let dir = template_dir(&[("payment_reminder", "A payment is due.")]);
        let Err(TemplateError::Invalid(problems)) = Templates::load(dir.path(), &sender()) else {
            panic!("a payment reminder without the opt-out line must be refused");
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().all(|p| p.message.contains("1006.6(e)")));
    }

    #[test]
    fn html_comments_do_not_count_as_the_opt_out_line() {
        assert!(html_contains(
            "<p>Reply &quot;STOP&quot;</p>",
            "Reply \"STOP\""
        ));
        assert!(!html_contains("<!-- Reply STOP -->", "Reply STOP"));
        assert!(html_contains("<!-- x --><p>Reply STOP</p>", "Reply STOP"));
    }
}

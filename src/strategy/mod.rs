//! Strategies: what the agency *wants* to do with a segment of accounts — a cadence of
//! steps, conditions to stop, and escalations. The planner fits a strategy into what
//! the policy *permits*.
//!
//! Strategy files are TOML under `strategies/` (see `strategies/README.md`), checked
//! with the same `file:line:column` diagnostics as rule packs. Pure but for reading
//! the file.

pub mod model;
pub mod set;
mod source;

use std::path::Path;

use rust_decimal::Decimal;
use toml::Spanned;

pub use model::{
    Dispatch, Escalation, Preference, Segment, Step, StopCondition, Strategy, Timing, Trigger,
};
pub use set::{LoadError, StrategySet};

use crate::domain::{Channel, Purpose, TimeOfDay, Weekday};
use crate::policy::model::Set;
use crate::policy::{Diagnostic, SourceFile, US_STATES};
use crate::suggest::did_you_mean;
use source::{EscalationSource, StepSource, StrategyFileSource, Text};

/// A strategy that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    /// The file could not be read.
    #[error("failed to read the strategy {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file has errors; every diagnostic is attached.
    #[error("the strategy has {} error(s)", .0.iter().filter(|d| d.is_error()).count())]
    Invalid(Vec<Diagnostic>),
}

/// The webhook a dialer or a letter vendor receives for a step on that channel.
const EVENT_OF_CHANNEL: [(Channel, &str); 2] = [
    (Channel::Call, "contact.due"),
    (Channel::Letter, "notice.requested"),
];

/// The longest cadence, in days after placement or between contacts.
const MAX_DAYS: i64 = 3_650;

impl Strategy {
    /// Reads and checks one strategy file.
    pub fn load(path: &Path) -> Result<Strategy, StrategyError> {
        let text = std::fs::read_to_string(path).map_err(|source| StrategyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Strategy::from_source(&SourceFile::new(path.display().to_string(), text))
    }

    /// Checks a strategy's text; every problem found is reported.
    pub fn from_source(source: &SourceFile) -> Result<Strategy, StrategyError> {
        let mut checker = Checker {
            source,
            diagnostics: Vec::new(),
        };
        if source.text.trim().is_empty() {
            checker.error_with_help(
                "strategy::empty",
                Some(0..0),
                "the strategy file is empty".to_string(),
                Some(
                    "start with `[strategy]` (`id`, `title`, `version`) and add a `[[step]]`, as in strategies/standard-consumer.toml"
                        .to_string(),
                ),
            );
            return Err(StrategyError::Invalid(checker.diagnostics));
        }
        let strategy = match toml::from_str::<StrategyFileSource>(&source.text) {
            Ok(file) => checker.strategy(file),
            Err(error) => {
                let message = error.message().trim().to_string();
                let (code, message, help) = if message.starts_with("unknown field") {
                    let help = crate::policy::unknown_field_help(&message);
                    ("strategy::unknown-key", message, help)
                } else if message.starts_with("missing field") {
                    ("strategy::missing-key", message, None)
                } else if message.starts_with("invalid type") {
                    let help = wrong_type_help(&message);
                    let message = message.replace("expected i64", "expected a whole number");
                    ("strategy::wrong-type", message, help)
                } else {
                    ("strategy::syntax", message, None)
                };
                checker.error_with_help(code, error.span(), message, help);
                None
            }
        };
        match strategy {
            Some(strategy) if !checker.diagnostics.iter().any(Diagnostic::is_error) => Ok(strategy),
            _ => Err(StrategyError::Invalid(checker.diagnostics)),
        }
    }
}

/// Turns source into the model, collecting every problem.
struct Checker<'s> {
    source: &'s SourceFile,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, code: &'static str, span: std::ops::Range<usize>, message: String) {
        self.error_with_help(code, Some(span), message, None);
    }

    fn error_with_help(
        &mut self,
        code: &'static str,
        span: Option<std::ops::Range<usize>>,
        message: String,
        help: Option<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::error(code, self.source, span, message).with_optional_help(help));
    }

    fn strategy(&mut self, file: StrategyFileSource) -> Option<Strategy> {
        let meta = file.strategy.into_inner();
        let id = self.identifier(&meta.id, "strategy id");
        let segment = match file.segment {
            Some(segment) => self.segment(segment.into_inner()),
            None => Some(Segment::default()),
        };
        if file.step.is_empty() {
            self.error(
                "strategy::no-steps",
                0..0,
                "the strategy has no `[[step]]`: say what to do, e.g. a call every 2 days"
                    .to_string(),
            );
        }
        let mut steps = Vec::new();
        for step in &file.step {
            if let Some(step) = self.step(step.get_ref()) {
                steps.push(step);
            }
        }
        let mut escalations = Vec::new();
        for escalation in &file.escalation {
            if let Some(escalation) = self.escalation(escalation.get_ref()) {
                escalations.push(escalation);
            }
        }
        let ids = file
            .step
            .iter()
            .map(|s| &s.get_ref().id)
            .chain(file.escalation.iter().map(|e| &e.get_ref().id));
        let mut seen: Vec<&str> = Vec::new();
        for id in ids {
            if seen.contains(&id.get_ref().as_str()) {
                self.error(
                    "strategy::duplicate-id",
                    id.span(),
                    format!("`{}` names two steps or escalations", id.get_ref()),
                );
            }
            seen.push(id.get_ref());
        }
        Some(Strategy {
            id: id?,
            title: meta.title.into_inner(),
            version: meta.version.into_inner(),
            description: meta.description.map(Spanned::into_inner),
            segment: segment?,
            steps,
            escalations,
        })
    }

    fn identifier(&mut self, text: &Text, what: &str) -> Option<String> {
        let id = text.get_ref();
        let valid = !id.is_empty()
            && id.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_')
            });
        if !valid {
            self.error(
                "strategy::bad-id",
                text.span(),
                format!("{what} `{id}` must be non-empty and use only lower-case letters, digits, `.`, `-` and `_`"),
            );
        }
        valid.then(|| id.clone())
    }

    fn segment(&mut self, segment: source::SegmentSource) -> Option<Segment> {
        let mut ok = true;
        let states = segment.states.map(|states| {
            states
                .into_iter()
                .filter_map(|state| {
                    let code = state.get_ref().to_ascii_uppercase();
                    if US_STATES.contains(&code.as_str()) {
                        return Some(code);
                    }
                    let help =
                        did_you_mean(&code, US_STATES).map(|b| format!("did you mean `{b}`?"));
                    self.error_with_help(
                        "strategy::unknown-value",
                        Some(state.span()),
                        format!(
                            "unknown state `{}`: use a two-letter USPS code",
                            state.get_ref()
                        ),
                        help,
                    );
                    ok = false;
                    None
                })
                .collect()
        });
        let (mut balance_min, mut balance_max) = (None, None);
        if let Some(balance) = segment.balance {
            let span = balance.span();
            let balance = balance.into_inner();
            balance_min = balance.min.and_then(|m| self.money(&m));
            balance_max = balance.max.and_then(|m| self.money(&m));
            if let (Some(min), Some(max)) = (balance_min, balance_max)
                && min > max
            {
                self.error(
                    "strategy::empty-range",
                    span,
                    format!("the balance range is empty: min {min} is above max {max}"),
                );
            }
        }
        let (mut min_days, mut max_days) = (None, None);
        if let Some(days) = segment.days_since_placement {
            let span = days.span();
            let days = days.into_inner();
            min_days = days
                .min
                .and_then(|d| self.days(&d, "days_since_placement.min"));
            max_days = days
                .max
                .and_then(|d| self.days(&d, "days_since_placement.max"));
            if let (Some(min), Some(max)) = (min_days, max_days)
                && min > max
            {
                self.error(
                    "strategy::empty-range",
                    span,
                    format!(
                        "the days since placement range is empty: min {min} is above max {max}"
                    ),
                );
            }
        }
        ok.then_some(Segment {
            debt_types: segment
                .debt_types
                .map(|types| types.into_iter().map(Spanned::into_inner).collect()),
            states,
            balance_min,
            balance_max,
            min_days_since_placement: min_days.map(i64::from),
            max_days_since_placement: max_days.map(i64::from),
        })
    }

    fn money(&mut self, text: &Text) -> Option<Decimal> {
        match text.get_ref().trim().parse::<Decimal>() {
            Ok(amount) if amount >= Decimal::ZERO => Some(amount),
            _ => {
                self.error_with_help(
                    "strategy::wrong-type",
                    Some(text.span()),
                    format!("`{}` is not an amount of money", text.get_ref()),
                    Some("write the amount as a string of digits, e.g. \"500.00\"".to_string()),
                );
                None
            }
        }
    }

    fn days(&mut self, value: &Spanned<i64>, what: &str) -> Option<u32> {
        match u32::try_from(*value.get_ref()) {
            Ok(days) if i64::from(days) <= MAX_DAYS => Some(days),
            _ => {
                self.error(
                    "strategy::out-of-range",
                    value.span(),
                    format!(
                        "`{what}` must be a whole number of days from 0 to {MAX_DAYS}, not {}",
                        value.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn name<T: Copy>(
        &mut self,
        text: &Text,
        what: &str,
        parse: fn(&str) -> Option<T>,
        all: &[&str],
    ) -> Option<T> {
        let parsed = parse(text.get_ref());
        if parsed.is_none() {
            let expected = format!("expected one of {}", quoted(all));
            let help = match did_you_mean(text.get_ref(), all.iter().copied()) {
                Some(best) => format!("did you mean `{best}`? {expected}"),
                None => expected,
            };
            self.error_with_help(
                "strategy::unknown-value",
                Some(text.span()),
                format!("unknown {what} `{}`", text.get_ref()),
                Some(help),
            );
        }
        parsed
    }

    fn step(&mut self, step: &StepSource) -> Option<Step> {
        let id = self.identifier(&step.id, "step id");
        let channels: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
        let channel = self.name(&step.channel, "channel", Channel::parse, &channels);
        let purposes: Vec<&str> = Purpose::ALL.iter().map(|p| p.as_str()).collect();
        let purpose = match &step.purpose {
            Some(purpose) => self.name(purpose, "purpose", Purpose::parse, &purposes),
            None => Some(Purpose::Collection),
        };
        let dispatch = channel.and_then(|channel| self.dispatch(step, channel));
        let timing = self.timing(step);
        let prefer = match &step.prefer {
            None => Some(None),
            Some(prefer) => self.preference(prefer).map(Some),
        };
        let conditions: Vec<&str> = StopCondition::ALL.iter().map(|c| c.as_str()).collect();
        let mut stop_when = Vec::new();
        let mut conditions_ok = true;
        for condition in &step.stop_when {
            match self.name(condition, "stop condition", parse_stop, &conditions) {
                Some(condition) => stop_when.push(condition),
                None => conditions_ok = false,
            }
        }
        if matches!(timing, Some(Timing::BeforeInstallment(_)))
            && stop_when.contains(&StopCondition::PaymentPlanActive)
        {
            self.error(
                "strategy::contradiction",
                step.id.span(),
                format!(
                    "step `{}` reminds of installments but stops while a payment plan is active: it would never run",
                    step.id.get_ref()
                ),
            );
            return None;
        }
        Some(Step {
            id: id?,
            channel: channel?,
            purpose: purpose?,
            dispatch: dispatch?,
            timing: timing?,
            prefer: prefer?,
            stop_when: conditions_ok.then_some(stop_when)?,
        })
    }

    fn dispatch(&mut self, step: &StepSource, channel: Channel) -> Option<Dispatch> {
        if channel == Channel::Email {
            if let Some(event) = &step.event {
                self.error(
                    "strategy::unknown-key",
                    event.span(),
                    "an email step sends a template, not a webhook `event`".to_string(),
                );
                return None;
            }
            let Some(template) = &step.template else {
                self.error(
                    "strategy::missing-key",
                    step.id.span(),
                    format!(
                        "email step `{}` needs a `template` (a folder under templates/, e.g. \"payment_reminder\")",
                        step.id.get_ref()
                    ),
                );
                return None;
            };
            return self
                .identifier(template, "template")
                .map(|template| Dispatch::Email { template });
        }
        if let Some(template) = &step.template {
            self.error(
                "strategy::unknown-key",
                template.span(),
                format!("only email steps have a `template`; a {channel} step sends a webhook"),
            );
            return None;
        }
        let Some((_, event)) = EVENT_OF_CHANNEL.iter().find(|(c, _)| *c == channel) else {
            let supported: Vec<&str> = EVENT_OF_CHANNEL
                .iter()
                .map(|(c, _)| c.as_str())
                .chain(["email"])
                .collect();
            self.error_with_help(
                "strategy::unsupported",
                Some(step.channel.span()),
                format!("dunner cannot dispatch {channel} steps yet"),
                Some(format!("supported channels: {}", quoted(&supported))),
            );
            return None;
        };
        if let Some(given) = &step.event
            && given.get_ref() != event
        {
            self.error_with_help(
                "strategy::unknown-value",
                Some(given.span()),
                format!(
                    "a {channel} step emits `{event}`, not `{}`",
                    given.get_ref()
                ),
                Some(format!("write `event = \"{event}\"` or leave it out")),
            );
            return None;
        }
        Some(Dispatch::Webhook { event })
    }

    fn timing(&mut self, step: &StepSource) -> Option<Timing> {
        let given: Vec<&str> = [
            ("on_day", step.on_day.is_some()),
            ("every_days", step.every_days.is_some()),
            (
                "days_before_installment",
                step.days_before_installment.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect();
        if given.len() != 1 {
            self.error_with_help(
                "strategy::timing",
                Some(step.id.span()),
                format!(
                    "step `{}` needs exactly one timing; it has {}",
                    step.id.get_ref(),
                    if given.is_empty() {
                        "none".to_string()
                    } else {
                        quoted(&given)
                    }
                ),
                Some("`on_day = 0`, `every_days = 2` or `days_before_installment = 3`".to_string()),
            );
            return None;
        }
        let bounds_only_for_every = [("from_day", &step.from_day), ("until_day", &step.until_day)];
        if step.every_days.is_none() {
            for (name, value) in bounds_only_for_every {
                if let Some(value) = value {
                    self.error(
                        "strategy::unknown-key",
                        value.span(),
                        format!("`{name}` bounds an `every_days` step"),
                    );
                    return None;
                }
            }
        }
        if let Some(day) = &step.on_day {
            return self.days(day, "on_day").map(Timing::OnDay);
        }
        if let Some(before) = &step.days_before_installment {
            return self
                .days(before, "days_before_installment")
                .map(Timing::BeforeInstallment);
        }
        let every = step.every_days.as_ref()?;
        let days = self.days(every, "every_days")?;
        if days == 0 {
            self.error(
                "strategy::out-of-range",
                every.span(),
                "`every_days` must be at least 1".to_string(),
            );
            return None;
        }
        let from_day = match &step.from_day {
            Some(day) => self.days(day, "from_day")?,
            None => 0,
        };
        let until_day = match &step.until_day {
            Some(day) => Some(self.days(day, "until_day")?),
            None => None,
        };
        if let (Some(until), Some(span)) = (until_day, step.until_day.as_ref().map(Spanned::span))
            && until < from_day
        {
            self.error(
                "strategy::empty-range",
                span,
                format!("`until_day` {until} is before `from_day` {from_day}"),
            );
            return None;
        }
        Some(Timing::Every {
            days,
            from_day,
            until_day,
        })
    }

    fn preference(&mut self, prefer: &Spanned<source::PreferSource>) -> Option<Preference> {
        let span = prefer.span();
        let prefer = prefer.get_ref();
        let names: Vec<&str> = Weekday::ALL.iter().map(|d| d.as_str()).collect();
        let days = match &prefer.days {
            None => Some(Set::full()),
            Some(days) => {
                let mut set = Set::empty();
                let mut ok = true;
                for day in days {
                    match self.name(day, "day", Weekday::parse, &names) {
                        Some(day) => set.insert(day),
                        None => ok = false,
                    }
                }
                ok.then_some(set)
            }
        };
        let time = |checker: &mut Self, text: &Text| match TimeOfDay::parse(text.get_ref()) {
            Ok(time) => Some(time),
            Err(message) => {
                checker.error("strategy::wrong-type", text.span(), message);
                None
            }
        };
        let from = time(self, &prefer.from);
        let to = time(self, &prefer.to);
        let (days, from, to) = (days?, from?, to?);
        if from >= to {
            self.error_with_help(
                "strategy::empty-range",
                Some(span),
                format!(
                    "the preferred hours are empty: `from` {} is not before `to` {}",
                    prefer.from.get_ref(),
                    prefer.to.get_ref()
                ),
                Some(if from > to {
                    format!(
                        "preferred hours lie within one local day: did you mean `from = \"{}\", to = \"{}\"`?",
                        prefer.to.get_ref(),
                        prefer.from.get_ref()
                    )
                } else {
                    "give `to` a later time than `from`, e.g. `from = \"17:30\", to = \"20:30\"`"
                        .to_string()
                }),
            );
            return None;
        }
        if days.is_empty() {
            self.error(
                "strategy::empty-range",
                span,
                "`days` lists no day: leave it out to prefer every day".to_string(),
            );
            return None;
        }
        Some(Preference { days, from, to })
    }

    fn escalation(&mut self, escalation: &EscalationSource) -> Option<Escalation> {
        let id = self.identifier(&escalation.id, "escalation id");
        let to = self.identifier(&escalation.to, "escalation target");
        let trigger = match (
            &escalation.on,
            &escalation.after_attempts,
            &escalation.without_conversation_days,
        ) {
            (Some(on), None, None) if on.get_ref() == "broken_promise" => {
                Some(Trigger::BrokenPromise)
            }
            (Some(on), None, None) => {
                self.error_with_help(
                    "strategy::unknown-value",
                    Some(on.span()),
                    format!("unknown escalation trigger `{}`", on.get_ref()),
                    Some("`on = \"broken_promise\"`, or `after_attempts` with `without_conversation_days`".to_string()),
                );
                None
            }
            (None, Some(attempts), Some(days)) => {
                let attempts = self.days(attempts, "after_attempts");
                let days = self.days(days, "without_conversation_days");
                match (attempts, days) {
                    (Some(attempts), Some(days)) if attempts > 0 && days > 0 => {
                        Some(Trigger::NoConversation { attempts, days })
                    }
                    (Some(_), Some(_)) => {
                        self.error(
                            "strategy::out-of-range",
                            escalation.id.span(),
                            "`after_attempts` and `without_conversation_days` must be at least 1"
                                .to_string(),
                        );
                        None
                    }
                    _ => None,
                }
            }
            _ => {
                self.error_with_help(
                    "strategy::timing",
                    Some(escalation.id.span()),
                    format!("escalation `{}` needs one trigger", escalation.id.get_ref()),
                    Some("`on = \"broken_promise\"`, or `after_attempts = 6` with `without_conversation_days = 21`".to_string()),
                );
                None
            }
        };
        Some(Escalation {
            id: id?,
            trigger: trigger?,
            to: to?,
        })
    }
}

/// Help for a value of the wrong TOML type: a number where text is expected (amounts
/// of money are strings, so that no digit is lost), or text where a number is.
fn wrong_type_help(message: &str) -> Option<String> {
    let quoted_value = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(value, _)| value.to_string())
    };
    if message.ends_with("expected a string") {
        let value = quoted_value("invalid type: integer `")
            .or_else(|| quoted_value("invalid type: floating point `"))?;
        return Some(format!(
            "write it in quotes: \"{value}\" (amounts of money are strings, e.g. \"25.00\", so that no digit is lost)"
        ));
    }
    if message.ends_with("expected i64") {
        let value = message
            .strip_prefix("invalid type: string \"")
            .and_then(|rest| rest.split_once('"'))
            .map(|(value, _)| value)?;
        return Some(format!("write a whole number without quotes: {value}"));
    }
    None
}

fn parse_stop(name: &str) -> Option<StopCondition> {
    StopCondition::ALL.into_iter().find(|c| c.as_str() == name)
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

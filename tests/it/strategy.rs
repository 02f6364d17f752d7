//! Strategy files: every mistake is reported at its `file:line:column` with a clear
//! message and help, never a panic; the shipped strategies check cleanly.

use std::path::Path;

use dunner::domain::{Channel, Purpose, Weekday};
use dunner::policy::{Diagnostic, SourceFile};
use dunner::strategy::{Dispatch, StopCondition, Strategy, StrategyError, Timing, Trigger};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// Lines 1 to 5; a strategy's first `[[step]]` in these tests is on line 6, its `id`
/// on line 7.
const HEAD: &str = "[strategy]\nid = \"test\"\ntitle = \"Test\"\nversion = \"1\"\n\n";

fn check(text: &str) -> Result<Strategy, StrategyError> {
    Strategy::from_source(&SourceFile::new("s.toml", text))
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match check(text) {
        Err(StrategyError::Invalid(diagnostics)) => {
            diagnostics.into_iter().filter(|d| d.is_error()).collect()
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the strategy was accepted:\n{text}"),
    }
}

/// The one error of a strategy made of `HEAD` and `rest`.
fn error(rest: &str) -> Diagnostic {
    let text = format!("{HEAD}{rest}");
    let mut found = errors(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    found.remove(0)
}

fn place(diagnostic: &Diagnostic) -> (Option<usize>, Option<usize>) {
    (diagnostic.line, diagnostic.column)
}

fn help(diagnostic: &Diagnostic) -> &str {
    diagnostic
        .help
        .as_deref()
        .unwrap_or_else(|| panic!("no help: {diagnostic:#?}"))
}

fn shipped(name: &str) -> Strategy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("strategies")
        .join(name);
    match Strategy::load(&path) {
        Ok(strategy) => strategy,
        Err(StrategyError::Invalid(diagnostics)) => panic!(
            "{}",
            diagnostics
                .iter()
                .map(Diagnostic::plain)
                .collect::<Vec<_>>()
                .join("\n")
        ),
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn the_standard_consumer_strategy_checks_and_reads_as_written() {
    let strategy = shipped("standard-consumer.toml");
    assert_eq!(strategy.id, "standard-consumer");
    assert_eq!(
        strategy.segment.balance_min,
        Some(Decimal::new(2500, 2)),
        "the balance bound is exact"
    );
    assert_eq!(strategy.segment.max_days_since_placement, Some(365));
    let ids: Vec<&str> = strategy.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "validation-email",
            "validation-letter",
            "evening-call",
            "reminder-email"
        ]
    );
    let email = &strategy.steps[0];
    assert_eq!(
        (email.channel, email.purpose, email.timing),
        (Channel::Email, Purpose::ValidationNotice, Timing::OnDay(0))
    );
    assert_eq!(
        email.dispatch,
        Dispatch::Email {
            template: "validation_notice".into()
        }
    );
    assert_eq!(
        strategy.steps[1].dispatch,
        Dispatch::Webhook {
            event: "notice.requested"
        }
    );
    let call = &strategy.steps[2];
    assert_eq!(
        call.timing,
        Timing::Every {
            days: 2,
            from_day: 1,
            until_day: Some(120)
        }
    );
    assert_eq!(
        call.dispatch,
        Dispatch::Webhook {
            event: "contact.due"
        }
    );
    let prefer = call.prefer.unwrap();
    assert_eq!(
        (prefer.from.to_string(), prefer.to.to_string()),
        ("17:30".to_string(), "20:30".to_string())
    );
    assert!(prefer.days.contains(Weekday::Fri) && !prefer.days.contains(Weekday::Sat));
    assert_eq!(call.stop_when, StopCondition::ALL.to_vec());
    let triggers: Vec<(&str, Trigger, &str)> = strategy
        .escalations
        .iter()
        .map(|e| (e.id.as_str(), e.trigger, e.to.as_str()))
        .collect();
    assert_eq!(
        triggers,
        vec![
            (
                "attorney-referral",
                Trigger::NoConversation {
                    attempts: 8,
                    days: 30
                },
                "attorney"
            ),
            (
                "broken-promise",
                Trigger::BrokenPromise,
                "client_credit_department"
            ),
        ]
    );
}

#[test]
fn the_payment_plan_strategy_checks_and_reads_as_written() {
    let strategy = shipped("payment-plan-reminders.toml");
    assert_eq!(strategy.id, "payment-plan-reminders");
    let timings: Vec<(Channel, Timing)> = strategy
        .steps
        .iter()
        .map(|s| (s.channel, s.timing))
        .collect();
    assert_eq!(
        timings,
        vec![
            (Channel::Email, Timing::BeforeInstallment(3)),
            (Channel::Call, Timing::BeforeInstallment(1)),
        ]
    );
    assert!(strategy.steps.iter().all(|s| {
        s.purpose == Purpose::PaymentReminder
            && !s.stop_when.contains(&StopCondition::PaymentPlanActive)
    }));
    assert_eq!(strategy.escalations.len(), 1);
    assert_eq!(strategy.escalations[0].trigger, Trigger::BrokenPromise);
}

#[test]
fn an_unknown_key_is_reported_where_it_is_with_did_you_mean() {
    let found = error("[[step]]\nid = \"call\"\nchanel = \"call\"\nevery_days = 2\n");
    assert_eq!(found.code, "strategy::unknown-key");
    assert_eq!(place(&found), (Some(8), Some(1)));
    assert!(
        found.message.starts_with("unknown field `chanel`"),
        "{}",
        found.message
    );
    assert_eq!(help(&found), "did you mean `channel`?");
    assert_eq!(found.location(), "s.toml:8:1");
}

#[test]
fn an_unknown_channel_purpose_stop_condition_or_day_is_reported_at_the_value() {
    let channel = error("[[step]]\nid = \"call\"\nchannel = \"cal\"\nevery_days = 2\n");
    assert_eq!(
        (channel.code, place(&channel)),
        ("strategy::unknown-value", (Some(8), Some(11)))
    );
    assert_eq!(channel.message, "unknown channel `cal`");
    assert!(
        help(&channel).starts_with("did you mean `call`? expected one of `call`, `sms`"),
        "{channel:#?}"
    );

    let purpose = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\npurpose = \"colection\"\nevery_days = 2\n",
    );
    assert_eq!(place(&purpose), (Some(9), Some(11)));
    assert_eq!(purpose.message, "unknown purpose `colection`");
    assert!(help(&purpose).starts_with("did you mean `collection`?"));
    assert!(help(&purpose).contains("`validation_notice`"));

    let stop = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\nstop_when = [\"paid\", \"conversaton\"]\n",
    );
    assert_eq!(place(&stop), (Some(10), Some(22)));
    assert_eq!(stop.message, "unknown stop condition `conversaton`");
    assert!(help(&stop).starts_with("did you mean `conversation`?"));
    assert!(help(&stop).contains("`payment_plan_active`"));

    let weekday = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\nprefer = { days = [\"mon\", \"tues\"], from = \"17:30\", to = \"20:30\" }\n",
    );
    assert_eq!(place(&weekday), (Some(10), Some(27)));
    assert_eq!(weekday.message, "unknown day `tues`");
    assert!(help(&weekday).starts_with("did you mean `tue`?"));

    let trigger = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\n\n[[escalation]]\nid = \"e\"\nto = \"attorney\"\non = \"broken_promis\"\n",
    );
    assert_eq!(place(&trigger), (Some(14), Some(6)));
    assert_eq!(
        trigger.message,
        "unknown escalation trigger `broken_promis`"
    );
    assert!(help(&trigger).contains("`on = \"broken_promise\"`"));
}

#[test]
fn a_step_needs_exactly_one_timing() {
    let two = error("[[step]]\nid = \"call\"\nchannel = \"call\"\non_day = 0\nevery_days = 2\n");
    assert_eq!(
        (two.code, place(&two)),
        ("strategy::timing", (Some(7), Some(6)))
    );
    assert_eq!(
        two.message,
        "step `call` needs exactly one timing; it has `on_day`, `every_days`"
    );
    assert!(help(&two).contains("`days_before_installment = 3`"));

    let none = error("[[step]]\nid = \"call\"\nchannel = \"call\"\n");
    assert_eq!(place(&none), (Some(7), Some(6)));
    assert_eq!(
        none.message,
        "step `call` needs exactly one timing; it has none"
    );

    let bound = error("[[step]]\nid = \"call\"\nchannel = \"call\"\non_day = 0\nfrom_day = 3\n");
    assert_eq!(
        (bound.code, place(&bound)),
        ("strategy::unknown-key", (Some(10), Some(12)))
    );
    assert_eq!(bound.message, "`from_day` bounds an `every_days` step");

    let until = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\nuntil_day = 1\nfrom_day = 5\n",
    );
    assert_eq!(
        (until.code, place(&until)),
        ("strategy::empty-range", (Some(10), Some(13)))
    );
    assert_eq!(until.message, "`until_day` 1 is before `from_day` 5");

    let zero = error("[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 0\n");
    assert_eq!(
        (zero.code, place(&zero)),
        ("strategy::out-of-range", (Some(9), Some(14)))
    );
}

#[test]
fn preferred_hours_must_run_forward_within_a_day() {
    let inverted = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\nprefer = { from = \"20:30\", to = \"17:30\" }\n",
    );
    assert_eq!(
        (inverted.code, place(&inverted)),
        ("strategy::empty-range", (Some(10), Some(10)))
    );
    assert_eq!(
        inverted.message,
        "the preferred hours are empty: `from` 20:30 is not before `to` 17:30"
    );
    assert_eq!(
        help(&inverted),
        "preferred hours lie within one local day: did you mean `from = \"17:30\", to = \"20:30\"`?"
    );

    let equal = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\nprefer = { from = \"17:30\", to = \"17:30\" }\n",
    );
    assert_eq!(equal.code, "strategy::empty-range");
    assert!(
        help(&equal).starts_with("give `to` a later time than `from`"),
        "{equal:#?}"
    );

    let bad_time = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\nprefer = { from = \"5pm\", to = \"20:30\" }\n",
    );
    assert_eq!(
        (bad_time.code, place(&bad_time)),
        ("strategy::wrong-type", (Some(10), Some(19)))
    );
}

#[test]
fn a_balance_written_as_a_number_is_a_type_error_with_help() {
    let found = error(
        "[segment]\nbalance = { min = 25, max = \"500.00\" }\n\n[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\n",
    );
    assert_eq!(
        (found.code, place(&found)),
        ("strategy::wrong-type", (Some(7), Some(19)))
    );
    assert_eq!(
        found.message,
        "invalid type: integer `25`, expected a string"
    );
    assert!(
        help(&found).starts_with("write it in quotes: \"25\""),
        "{found:#?}"
    );
    assert!(help(&found).contains("amounts of money are strings"));

    let float = error(
        "[segment]\nbalance = { max = 99.5 }\n\n[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\n",
    );
    assert_eq!(place(&float), (Some(7), Some(19)));
    assert!(help(&float).starts_with("write it in quotes: \"99.5\""));

    let words = error(
        "[segment]\nbalance = { min = \"lots\" }\n\n[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\n",
    );
    assert_eq!(
        (words.code, place(&words)),
        ("strategy::wrong-type", (Some(7), Some(19)))
    );
    assert_eq!(words.message, "`lots` is not an amount of money");
    assert!(help(&words).contains("\"500.00\""));

    let inverted = error(
        "[segment]\nbalance = { min = \"500\", max = \"25\" }\n\n[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\n",
    );
    assert_eq!(
        (inverted.code, place(&inverted)),
        ("strategy::empty-range", (Some(7), Some(11)))
    );
}

#[test]
fn a_number_written_as_text_is_a_type_error_with_help() {
    let found = error("[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = \"2\"\n");
    assert_eq!(
        (found.code, place(&found)),
        ("strategy::wrong-type", (Some(9), Some(14)))
    );
    assert_eq!(
        found.message,
        "invalid type: string \"2\", expected a whole number"
    );
    assert_eq!(help(&found), "write a whole number without quotes: 2");
}

#[test]
fn an_email_step_needs_a_template_and_other_steps_none() {
    let found = error("[[step]]\nid = \"reminder\"\nchannel = \"email\"\nevery_days = 7\n");
    assert_eq!(
        (found.code, place(&found)),
        ("strategy::missing-key", (Some(7), Some(6)))
    );
    assert!(
        found
            .message
            .starts_with("email step `reminder` needs a `template`"),
        "{}",
        found.message
    );

    let call = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\ntemplate = \"payment_reminder\"\nevery_days = 2\n",
    );
    assert_eq!(
        (call.code, place(&call)),
        ("strategy::unknown-key", (Some(9), Some(12)))
    );
    assert_eq!(
        call.message,
        "only email steps have a `template`; a call step sends a webhook"
    );

    let event = error(
        "[[step]]\nid = \"letter\"\nchannel = \"letter\"\nevent = \"contact.due\"\non_day = 0\n",
    );
    assert_eq!(
        (event.code, place(&event)),
        ("strategy::unknown-value", (Some(9), Some(9)))
    );
    assert_eq!(
        help(&event),
        "write `event = \"notice.requested\"` or leave it out"
    );
}

#[test]
fn an_sms_step_is_not_supported_yet() {
    let found = error("[[step]]\nid = \"text\"\nchannel = \"sms\"\nevery_days = 2\n");
    assert_eq!(
        (found.code, place(&found)),
        ("strategy::unsupported", (Some(8), Some(11)))
    );
    assert_eq!(found.message, "dunner cannot dispatch sms steps yet");
    assert_eq!(
        help(&found),
        "supported channels: `call`, `letter`, `email`"
    );
}

#[test]
fn duplicate_ids_are_reported_at_the_second() {
    let found = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\n\n[[step]]\nid = \"call\"\nchannel = \"letter\"\non_day = 0\n",
    );
    assert_eq!(
        (found.code, place(&found)),
        ("strategy::duplicate-id", (Some(12), Some(6)))
    );
    assert_eq!(found.message, "`call` names two steps or escalations");

    // A step and an escalation share one namespace.
    let found = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\n\n[[escalation]]\nid = \"call\"\nto = \"attorney\"\non = \"broken_promise\"\n",
    );
    assert_eq!(
        (found.code, place(&found)),
        ("strategy::duplicate-id", (Some(12), Some(6)))
    );
}

#[test]
fn an_empty_file_says_so() {
    for text in ["", "\n\n  \n"] {
        let found = errors(text);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].code, place(&found[0])),
            ("strategy::empty", (Some(1), Some(1)))
        );
        assert_eq!(found[0].message, "the strategy file is empty");
        assert!(help(&found[0]).contains("`[strategy]`"));
    }
    let no_steps = errors(HEAD);
    assert_eq!(no_steps.len(), 1);
    assert_eq!(no_steps[0].code, "strategy::no-steps");
    let no_meta = errors("[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\n");
    assert_eq!(no_meta[0].code, "strategy::missing-key");
    assert_eq!(no_meta[0].message, "missing field `strategy`");
}

#[test]
fn a_toml_syntax_error_is_reported_where_the_parser_stopped() {
    let found = error(
        "[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 2\nprefer = { from = \"17:30\", to = \n",
    );
    assert_eq!(
        (found.code, place(&found)),
        ("strategy::syntax", (Some(10), Some(32)))
    );
    assert!(found.message.contains("inline table"), "{}", found.message);

    let unclosed = errors(&format!("{HEAD}[[step]\nid = \"call\"\n"));
    // Where the second `]` should be.
    assert_eq!(
        (unclosed[0].code, place(&unclosed[0])),
        ("strategy::syntax", (Some(6), Some(8))),
        "{unclosed:#?}"
    );
}

#[test]
fn every_error_of_a_file_is_reported_each_at_its_place() {
    let found = errors(&format!(
        "{HEAD}[segment]\nbalance = {{ min = \"abc\" }}\nstates = [\"WX\"]\n\n[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 0\n\n[[step]]\nid = \"Reminder\"\nchannel = \"email\"\nevery_days = 7\n"
    ));
    let mut places: Vec<(&str, Option<usize>)> = found.iter().map(|d| (d.code, d.line)).collect();
    places.sort_by_key(|(_, line)| *line);
    assert_eq!(
        places,
        vec![
            ("strategy::wrong-type", Some(7)),
            ("strategy::unknown-value", Some(8)),
            ("strategy::out-of-range", Some(13)),
            ("strategy::bad-id", Some(16)),
            ("strategy::missing-key", Some(16)),
        ],
        "{found:#?}"
    );
    let state = found.iter().find(|d| d.line == Some(8)).unwrap();
    assert_eq!(
        state.message,
        "unknown state `WX`: use a two-letter USPS code"
    );
    let close = errors(&format!(
        "{HEAD}[segment]\nstates = [\"TXX\"]\n\n[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 1\n"
    ));
    assert_eq!(help(&close[0]), "did you mean `TX`?");
}

#[test]
fn a_reminder_that_stops_while_a_plan_is_active_is_a_contradiction() {
    let found = error(
        "[[step]]\nid = \"r\"\nchannel = \"email\"\ntemplate = \"payment_reminder\"\ndays_before_installment = 3\nstop_when = [\"payment_plan_active\"]\n",
    );
    assert_eq!(
        (found.code, place(&found)),
        ("strategy::contradiction", (Some(7), Some(6)))
    );
    assert!(found.message.contains("it would never run"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever is cut out of or pasted into a good strategy, checking it never panics
    /// and every error points inside the file.
    #[test]
    fn a_mangled_strategy_is_an_error_or_a_strategy_never_a_panic(
        start in 0usize..2_000,
        length in 0usize..40,
        paste in prop::sample::select(vec!["", "\"", "=", "[", "]", "{", "}", "\n", "-1", "99999999999", "\"x\"", "every_days = 1\n", "[[step]]\n", "é", "\u{0}"]),
    ) {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("strategies/standard-consumer.toml")).unwrap();
        let mut start = start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + length).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mangled = format!("{}{}{}", &text[..start], paste, &text[end..]);
        let lines = mangled.lines().count().max(1);
        if let Err(error) = check(&mangled) {
            let StrategyError::Invalid(diagnostics) = error else {
                return Err(TestCaseError::fail(format!("{error}")));
            };
            prop_assert!(diagnostics.iter().any(Diagnostic::is_error));
            for diagnostic in &diagnostics {
                prop_assert!(!diagnostic.message.is_empty());
                if let Some(line) = diagnostic.line {
                    prop_assert!(line >= 1 && line <= lines + 1, "{} of {lines} lines", diagnostic.plain());
                }
            }
        }
    }
}

//! Property tests of the engine's invariants, with the shipped policy:
//! - a decision never allows what an applicable rule forbids (checked against naive,
//!   independent implementations of the federal window, holds, 7-in-7 and cooldown);
//! - `next_allowed_at`, when given, is itself allowed, and no earlier instant on the
//!   minute grid between the request and it is allowed;
//! - with no allowed instant and no hold, no minute of the horizon is allowed;
//! - a cap budget with nothing remaining is a refusal (or a warning) by that rule, and
//!   an allowed contact leaves at least one in every cap.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use dunner::domain::{
    Account, Address, Channel, Consumer, EmailAddress, EmailKind, Event, EventType, Flags,
    InitiatedBy, Outcome, Phone, PhoneKind, Purpose,
};
use dunner::engine::{DecideRequest, Question, Subject, Verdict, decide, zones::candidate_zones};
use proptest::prelude::*;

use crate::helpers::SHIPPED;

pub(crate) const ZONES: [Tz; 5] = [
    chrono_tz::America::New_York,
    chrono_tz::America::Chicago,
    chrono_tz::America::Denver,
    chrono_tz::America::Phoenix,
    chrono_tz::America::Los_Angeles,
];
pub(crate) const PHONES: [(&str, PhoneKind); 3] = [
    ("+12125550100", PhoneKind::Mobile),
    ("+16175550111", PhoneKind::Landline),
    ("+13105550122", PhoneKind::Work),
];
pub(crate) const STATES: [&str; 7] = ["NY", "MA", "WA", "CA", "TX", "FL", "AZ"];
/// Days around both 2026 DST switches, a day of the NYC effective date, and ordinary days.
pub(crate) const BASE_DAYS: [(i32, u32, u32); 6] = [
    (2026, 3, 8),
    (2026, 11, 1),
    (2026, 9, 1),
    (2026, 4, 7),
    (2026, 7, 15),
    (2026, 12, 30),
];

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (
        0..BASE_DAYS.len(),
        -2 * 24 * 60i64..2 * 24 * 60,
        prop::bool::weighted(0.2),
        0..60i64,
    )
        .prop_map(|(day, minutes, odd_second, second)| {
            let (y, m, d) = BASE_DAYS[day];
            let base = NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc();
            base + Duration::minutes(minutes)
                + Duration::seconds(if odd_second { second } else { 0 })
        })
}

/// A random account: zones explicit or implied, states, phones, emails, flags,
/// opt-outs, inconvenient times and places. The planner's tests build on it.
pub(crate) fn account() -> impl Strategy<Value = Account> {
    let zones = prop::collection::vec(0..ZONES.len(), 0..3);
    let state = prop::option::of(0..STATES.len());
    let flags = prop::collection::vec(prop::bool::weighted(0.08), 7);
    let opted_out = prop::option::weighted(
        0.15,
        prop::sample::select(vec!["email", "sms", "+16175550111"]),
    );
    let places = prop::option::weighted(0.1, prop::sample::select(vec!["home", "work"]));
    let times = prop::option::weighted(0.2, (0..7usize, 0..20u16, 1..6u16));
    (zones, state, flags, opted_out, places, times).prop_map(|(zones, state, flags, opted_out, place, times)| {
        let mut time_zones: Vec<Tz> = zones.into_iter().map(|i| ZONES[i]).collect();
        time_zones.dedup();
        let json_times = times.map(|(day, from_hour, hours)| {
            let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
            serde_json::json!({"days": [days[day]], "from": format!("{from_hour:02}:00"), "to": format!("{:02}:00", (from_hour + hours).min(24))})
        });
        let mut account = Account {
            id: "P-1".into(),
            debt_type: Some("credit_card".into()),
            creditor: None,
            client: None,
            balance: None,
            placed_on: None,
            charged_off_on: None,
            closed_on: None,
            consumer: Consumer {
                id: None,
                address: state.map(|i| Address { state: Some(STATES[i].into()), city: Some("Somewhere".into()), postal_code: None }),
                time_zones,
                phones: PHONES.iter().map(|(n, k)| Phone { number: (*n).into(), kind: *k }).collect(),
                emails: vec![
                    EmailAddress { address: "pat@example.com".into(), kind: EmailKind::Personal },
                    EmailAddress { address: "pat@employer.example".into(), kind: EmailKind::Work },
                ],
            },
            flags: Flags {
                cease_and_desist: flags[0],
                attorney_represented: flags[1],
                disputed: flags[2],
                bankruptcy: flags[3],
                deceased: flags[4],
                identity_theft: flags[5],
                work_contact_prohibited: flags[6],
            },
            opted_out: opted_out.map(|o| serde_json::from_value(serde_json::json!([o])).unwrap()).unwrap_or_default(),
            inconvenient_times: json_times.map(|t| serde_json::from_value(serde_json::json!([t])).unwrap()).unwrap_or_default(),
            inconvenient_places: place.map(|p| serde_json::from_value(serde_json::json!([p])).unwrap()).unwrap_or_default(),
            collector: None,
        };
        if account.consumer.time_zones.is_empty() && account.consumer.address.is_none() {
            account.consumer.phones.truncate(1);
        }
        account
    })
}

/// What a generated event is made of: its type, channel, outcome, whether the consumer
/// made it, and its contact point.
type Made = (EventType, Channel, Option<Outcome>, bool, Option<String>);

/// The event recorded at `at` from what it is made of.
fn recorded(at: DateTime<Utc>, made: Made) -> Event {
    let (event_type, channel, outcome, by_consumer, contact_point) = made;
    Event {
        at,
        event_type,
        channel,
        outcome,
        initiated_by: if by_consumer {
            InitiatedBy::Consumer
        } else {
            InitiatedBy::Collector
        },
        contact_point,
        account_id: None,
        purpose: None,
    }
}

fn history(at: DateTime<Utc>, with_consent: bool) -> impl Strategy<Value = Vec<Event>> {
    let outcome = prop::option::weighted(0.9, prop::sample::select(Outcome::ALL.to_vec()));
    let event_type = if with_consent {
        prop::sample::select(vec![
            EventType::Contact,
            EventType::Contact,
            EventType::Contact,
            EventType::Consent,
            EventType::ConsentRevoked,
        ])
        .boxed()
    } else {
        Just(EventType::Contact).boxed()
    };
    let event = (
        0..12 * 24 * 60i64,
        event_type,
        prop::sample::select(Channel::ALL.to_vec()),
        outcome,
        prop::bool::weighted(0.2),
        prop::option::of(0..PHONES.len()),
    )
        .prop_map(
            move |(minutes_before, event_type, channel, outcome, by_consumer, phone)| {
                let point = phone.map(|i| PHONES[i].0.to_string());
                let made = (event_type, channel, outcome, by_consumer, point);
                recorded(at - Duration::minutes(minutes_before), made)
            },
        );
    prop::collection::vec(event, 0..24)
}

/// A history reaching back three months (and a day past its instant, as a history read
/// for an earlier question does): most of it beyond the reach of every rule of a pack
/// whose longest span is a week.
fn long_history(at: DateTime<Utc>) -> impl Strategy<Value = Vec<Event>> {
    let event = (
        -24 * 60i64..90 * 24 * 60,
        prop::sample::select(vec![
            EventType::Contact,
            EventType::Contact,
            EventType::Contact,
            EventType::Contact,
            EventType::Consent,
            EventType::ConsentRevoked,
        ]),
        prop::sample::select(Channel::ALL.to_vec()),
        prop::option::weighted(0.9, prop::sample::select(Outcome::ALL.to_vec())),
        prop::bool::weighted(0.2),
        prop::option::of(0..PHONES.len()),
    )
        .prop_map(
            move |(minutes_before, event_type, channel, outcome, by_consumer, phone)| {
                // The account's own addresses for emails: the work address's hold is
                // lifted by the consumer's use of it, however long ago.
                let point = phone.map(|i| match channel {
                    Channel::Email if i % 2 == 0 => "pat@example.com".to_string(),
                    Channel::Email => "pat@employer.example".to_string(),
                    _ => PHONES[i].0.to_string(),
                });
                let made = (event_type, channel, outcome, by_consumer, point);
                recorded(at - Duration::minutes(minutes_before), made)
            },
        );
    prop::collection::vec(event, 0..40)
}

/// The shipped packs but Massachusetts' (a 30-day cap) and New York City's (a 60-day
/// exception): the rest name a week or so.
static SHIPPED_WEEKLY: std::sync::LazyLock<dunner::policy::Policy> =
    std::sync::LazyLock::new(|| {
        let sources = crate::helpers::SHIPPED_SHARED
            .sources()
            .iter()
            .filter(|source| !source.name.contains("nyc") && !source.name.contains("us-ma"))
            .cloned()
            .collect();
        dunner::policy::Policy::from_sources(sources).expect("the shipped packs compile")
    });

/// Rules that read of the history more than the contacts on their own channel, or
/// other than the contacts they count: a cap on calls counting texts too; a wait for
/// email after phone conversations unless under consent, which an email conversation
/// ends; texts only with consent on record or to a number the consumer texted us from.
const CROSS_CHANNEL_PACK: &str = r#"
[pack]
id = "cross-channel"
title = "Cross-channel counts"
version = "1"
citation = "property test"

[[cap]]
id = "cross.calls-and-texts"
citation = "property test"
message = "At most two calls and texts in a day and a half before a call."
channels = ["call"]
max = 2
rolling = "36h"
count = { channels = ["call", "sms"], initiated_by = "collector" }

[[cooldown]]
id = "cross.email-after-a-call"
citation = "property test"
message = "No email within 2 days of a conversation by phone."
channels = ["email"]
after = { channels = ["call", "sms"], outcomes = ["conversation"] }
calendar_days = 2
exclude_consent_days = 5

[[hold]]
id = "cross.text-consent"
citation = "property test"
message = "Texts only with consent, or to a number the consumer used in 30 days."
channels = ["sms"]
flag = "no_consent"
unless_consumer_used_days = 30
"#;

static CROSS_CHANNEL: std::sync::LazyLock<dunner::policy::Policy> =
    std::sync::LazyLock::new(|| {
        let mut sources = SHIPPED_WEEKLY.sources().to_vec();
        sources.push(dunner::policy::SourceFile::new(
            "cross-channel.toml",
            CROSS_CHANNEL_PACK,
        ));
        dunner::policy::Policy::from_sources(sources).expect("the cross-channel pack compiles")
    });

fn request(with_consent: bool) -> impl Strategy<Value = DecideRequest> {
    (
        instant(),
        account(),
        prop::sample::select(Channel::ALL.to_vec()),
        prop::sample::select(Purpose::ALL.to_vec()),
        prop::option::of(0..PHONES.len() + 2),
    )
        .prop_flat_map(move |(at, account, channel, purpose, point)| {
            let contact_point = point.map(|i| match (channel, i) {
                (Channel::Email, i) if i % 2 == 0 => "pat@example.com".to_string(),
                (Channel::Email, _) => "pat@employer.example".to_string(),
                (_, i) => PHONES
                    .get(i)
                    .map_or("+19995550000".to_string(), |p| p.0.to_string()),
            });
            history(at, with_consent).prop_map(move |history| DecideRequest {
                at,
                channel,
                purpose,
                contact_point: contact_point.clone(),
                account: account.clone(),
                history,
                horizon_days: Some(8),
            })
        })
}

fn allowed_at(request: &DecideRequest, at: DateTime<Utc>) -> bool {
    // Only `allowed` is asked: a horizon of zero days skips the `next_allowed_at` search,
    // which for a contact refused far ahead would otherwise run at every probed minute.
    decide(
        &SHIPPED,
        &DecideRequest {
            at,
            horizon_days: Some(0),
            ..request.clone()
        },
    )
    .allowed
}

/// Naive Reg F 7-in-7 over local dates in one zone, without consent events.
fn naive_call_count_exceeded(request: &DecideRequest, zone: Tz) -> bool {
    let wrong: Vec<&str> = request
        .history
        .iter()
        .filter(|e| e.outcome == Some(Outcome::WrongParty))
        .filter_map(|e| e.contact_point.as_deref())
        .collect();
    let counted: Vec<NaiveDate> = request
        .history
        .iter()
        .filter(|e| e.channel == Channel::Call && e.initiated_by == InitiatedBy::Collector)
        .filter(|e| {
            matches!(
                e.outcome,
                None | Some(
                    Outcome::NoAnswer
                        | Outcome::Voicemail
                        | Outcome::Dropped
                        | Outcome::Conversation
                )
            )
        })
        .filter(|e| {
            !e.contact_point
                .as_deref()
                .is_some_and(|p| wrong.contains(&p))
        })
        .map(|e| e.at.with_timezone(&zone).date_naive())
        .collect();
    let today = request.at.with_timezone(&zone).date_naive();
    (0..7).any(|back| {
        let start = today - Duration::days(back);
        let end = start + Duration::days(6);
        counted
            .iter()
            .filter(|d| **d >= start && **d <= end)
            .count()
            + 1
            > 7
    })
}

fn naive_conversation_cooldown(request: &DecideRequest, zone: Tz) -> bool {
    let today = request.at.with_timezone(&zone).date_naive();
    request
        .history
        .iter()
        .filter(|e| {
            e.channel == Channel::Call
                && e.outcome == Some(Outcome::Conversation)
                && e.at <= request.at
        })
        .any(|e| (today - e.at.with_timezone(&zone).date_naive()).num_days() < 7)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn an_allowed_decision_breaks_no_federal_rule(request in request(false)) {
        let decision = decide(&SHIPPED, &request);
        prop_assert_eq!(decision.allowed, decision.reasons.is_empty());
        prop_assert_eq!(decision.allowed, decision.outcome == Verdict::Allow);
        if !decision.allowed {
            return Ok(());
        }
        let zones = candidate_zones(&request.account.consumer);
        if request.channel != Channel::Letter {
            for zone in &zones {
                let local = request.at.with_timezone(zone);
                let minutes = local.hour() * 60 + local.minute();
                prop_assert!((8 * 60..21 * 60).contains(&minutes), "allowed at {local} in {zone}");
            }
        }
        let flags = &request.account.flags;
        let purpose = request.purpose;
        prop_assert!(!flags.bankruptcy || purpose == Purpose::LegallyRequired);
        prop_assert!(!flags.deceased || purpose == Purpose::LegallyRequired);
        prop_assert!(!flags.cease_and_desist || matches!(purpose, Purpose::TerminationNotice | Purpose::RemedyNotice | Purpose::LegallyRequired));
        prop_assert!(!flags.attorney_represented || purpose == Purpose::ResponseToConsumer);
        if request.channel == Channel::Call {
            for zone in &zones {
                prop_assert!(!naive_call_count_exceeded(&request, *zone), "7-in-7 broken in {}", zone);
                prop_assert!(!naive_conversation_cooldown(&request, *zone), "conversation cooldown broken in {}", zone);
            }
        }
        for time in &request.account.inconvenient_times {
            if purpose == Purpose::ResponseToConsumer {
                break;
            }
            for zone in &zones {
                let local = request.at.with_timezone(zone);
                let day = dunner::domain::Weekday::from_chrono(local.weekday());
                let seconds = local.num_seconds_from_midnight();
                let inside = u32::from(time.from.minutes()) * 60 <= seconds && seconds < u32::from(time.to.minutes()) * 60;
                prop_assert!(!(inside && (time.days.is_empty() || time.days.contains(&day))), "allowed inside a consumer's inconvenient time");
            }
        }
    }

    #[test]
    fn next_allowed_at_is_allowed_and_nothing_earlier_is(request in request(true)) {
        let decision = decide(&SHIPPED, &request);
        match decision.next_allowed_at {
            Some(next) => {
                prop_assert!(next >= request.at);
                prop_assert!(allowed_at(&request, next), "next_allowed_at {} is not allowed", next);
                // Every minute-grid instant before it is refused.
                let mut probe = request.at;
                while probe < next {
                    prop_assert!(!allowed_at(&request, probe), "{} is allowed, before next_allowed_at {}", probe, next);
                    probe += Duration::minutes(1);
                }
            }
            None => {
                prop_assert!(!decision.allowed);
                if decision.outcome == Verdict::Defer {
                    let end = request.at + Duration::days(8);
                    let mut probe = request.at;
                    while probe <= end {
                        prop_assert!(!allowed_at(&request, probe), "{} is allowed, but no next_allowed_at was given", probe);
                        probe += Duration::minutes(1);
                    }
                }
            }
        }
    }

    #[test]
    fn a_kept_subject_answers_every_question_as_a_fresh_decision_does(request in request(true), offsets in prop::collection::vec(-3 * 24 * 60i64..3 * 24 * 60, 1..6)) {
        // The subject's caches (local days, resolved contact points) persist across
        // questions; they must never change an answer.
        let subject = Subject::new(&SHIPPED, &request.account, &request.history);
        let channels = [request.channel, dunner::domain::Channel::Call, dunner::domain::Channel::Email];
        for (i, offset) in offsets.iter().enumerate() {
            let at = request.at + Duration::minutes(*offset);
            let channel = channels[i % channels.len()];
            let question = Question { at, channel, purpose: request.purpose, contact_point: request.contact_point.as_deref(), horizon_days: request.horizon_days };
            let fresh = decide(&SHIPPED, &DecideRequest { at, channel, ..request.clone() });
            prop_assert_eq!(subject.decide(&question), fresh);
        }
    }

    #[test]
    fn a_logged_decision_reads_back_as_the_decision_and_writes_back_as_its_text(request in request(true)) {
        // The daemon answers with the text it logged (and gives it again on a replay)
        // and counts from the decision it made, which it does not read back from the
        // log: both stand for one decision only if the log's text is faithful.
        let decision = decide(&SHIPPED, &request);
        let logged = serde_json::to_string(&decision).unwrap();
        let read_back: dunner::engine::Decision = serde_json::from_str(&logged).unwrap();
        prop_assert_eq!(&read_back, &decision);
        prop_assert_eq!(serde_json::to_string(&read_back).unwrap(), logged);
    }

    #[test]
    fn leaving_out_contacts_beyond_every_rules_reach_changes_no_decision(
        (request, history) in request(true).prop_flat_map(|request| {
            let at = request.at;
            (Just(request), long_history(at))
        }),
        horizon_days in prop::sample::select(vec![0u32, 8, 35]),
    ) {
        // `decide` prepares only the contacts some rule governing the question can read
        // (by channel, and by age from the question on); a kept `Subject` prepares the
        // whole history. Both must answer alike, with the shipped packs (a 60-day span),
        // with those whose rules name a week or so, and with rules counting other
        // channels than their own.
        let reach = |policy: &dunner::policy::Policy| policy.contact_reach(request.channel, request.purpose).span;
        prop_assert!(reach(&SHIPPED) <= Duration::days(60));
        prop_assert!(reach(&SHIPPED_WEEKLY) <= Duration::days(10));
        let request = DecideRequest { history, horizon_days: Some(horizon_days), ..request };
        let question = Question { at: request.at, channel: request.channel, purpose: request.purpose, contact_point: request.contact_point.as_deref(), horizon_days: request.horizon_days };
        for policy in [&*SHIPPED, &*SHIPPED_WEEKLY, &*CROSS_CHANNEL] {
            let whole = Subject::new(policy, &request.account, &request.history).decide(&question);
            prop_assert_eq!(decide(policy, &request), whole);
        }
    }

    #[test]
    fn forgetting_past_purposes_never_turns_a_refusal_into_an_allowance(
        request in request(true),
        purposes in prop::collection::vec(prop::option::of(prop::sample::select(Purpose::ALL.to_vec())), 24),
    ) {
        // A contact with no recorded purpose is counted by every cap (`not_counting`
        // only leaves out recorded purposes), so the same history with purposes
        // recorded is never stricter than with them forgotten.
        let mut recorded = request.clone();
        for (event, purpose) in recorded.history.iter_mut().zip(purposes) {
            event.purpose = purpose;
        }
        let mut forgotten = recorded.clone();
        for event in &mut forgotten.history {
            event.purpose = None;
        }
        if decide(&SHIPPED, &forgotten).allowed {
            prop_assert!(decide(&SHIPPED, &recorded).allowed);
        }
    }

    #[test]
    fn the_order_of_the_history_does_not_change_the_decision(request in request(true)) {
        let mut reversed = request.clone();
        reversed.history.reverse();
        prop_assert_eq!(decide(&SHIPPED, &request), decide(&SHIPPED, &reversed));
    }

    #[test]
    fn a_spent_budget_is_a_refusal_by_its_rule(request in request(true)) {
        let subject = Subject::new(&SHIPPED, &request.account, &request.history);
        let question = Question { at: request.at, channel: request.channel, purpose: request.purpose, contact_point: request.contact_point.as_deref(), horizon_days: request.horizon_days };
        let decision = subject.decide(&question);
        for budget in subject.cap_budgets(&question) {
            prop_assert_eq!(budget.remaining, budget.limit.saturating_sub(budget.used));
            prop_assert_eq!(budget.resets_at.is_some(), budget.used > 0 && budget.limit > 0, "{:?}", budget);
            prop_assert!(budget.resets_at.is_none_or(|reset| reset > request.at));
            let flagged: &[dunner::domain::Reason] = if budget.warning { &decision.warnings } else { &decision.reasons };
            if budget.remaining == 0 {
                prop_assert!(flagged.iter().any(|r| r.rule == budget.rule), "{:?} has nothing left, but {:?}", budget, decision);
            }
            if decision.allowed && !budget.warning {
                prop_assert!(budget.remaining >= 1, "allowed with {:?}", budget);
            }
        }
    }
}

/// `decide` must keep what the rules governing a question read beyond the contacts they
/// count: the conversations on the requested channel that end a consent under which the
/// contact is exempt, consents, and the consumer's own contacts. Each history, and
/// each with one event left out, decided against a whole `Subject`; the answers
/// differ among them, so each event is read.
#[test]
fn a_question_reads_consents_and_their_ends_and_the_consumers_contacts_on_any_channel() {
    let policy = dunner::policy::Policy::from_sources(vec![dunner::policy::SourceFile::new(
        "cross-channel.toml",
        CROSS_CHANNEL_PACK,
    )])
    .expect("the cross-channel pack compiles");
    let at: DateTime<Utc> = "2026-04-08T16:00:00Z".parse().expect("an instant");
    let number = "+12125550100";
    let event = |hours_before: i64, event_type, channel, outcome, by_consumer: bool| {
        let point = by_consumer.then(|| number.to_string());
        recorded(
            at - Duration::hours(hours_before),
            (event_type, channel, outcome, by_consumer, point),
        )
    };
    let account: Account = serde_json::from_str(
        r#"{"id": "X-1", "consumer": {"time_zones": ["America/New_York"], "phones": [{"number": "+12125550100", "kind": "mobile"}]}}"#,
    )
    .expect("an account");
    let cases = [
        // An email under consent, which an email conversation ended, after a text
        // conversation: refused; without the email conversation, allowed.
        (
            Channel::Email,
            vec![
                event(72, EventType::Consent, Channel::Email, None, false),
                event(
                    48,
                    EventType::Contact,
                    Channel::Email,
                    Some(Outcome::Conversation),
                    false,
                ),
                event(
                    24,
                    EventType::Contact,
                    Channel::Sms,
                    Some(Outcome::Conversation),
                    false,
                ),
            ],
        ),
        // A text with consent on record: allowed; without it, refused.
        (
            Channel::Sms,
            vec![
                event(200, EventType::Consent, Channel::Sms, None, false),
                event(
                    50,
                    EventType::Contact,
                    Channel::Sms,
                    Some(Outcome::Delivered),
                    false,
                ),
            ],
        ),
        // A text to the number the consumer texted us from: allowed; without that, refused.
        (
            Channel::Sms,
            vec![
                event(
                    100,
                    EventType::Contact,
                    Channel::Sms,
                    Some(Outcome::Delivered),
                    true,
                ),
                event(
                    50,
                    EventType::Contact,
                    Channel::Call,
                    Some(Outcome::NoAnswer),
                    false,
                ),
            ],
        ),
    ];
    for (channel, history) in cases {
        let variants: Vec<Vec<Event>> = std::iter::once(history.clone())
            .chain((0..history.len()).map(|left_out| {
                let mut fewer = history.clone();
                fewer.remove(left_out);
                fewer
            }))
            .collect();
        let mut answers = Vec::new();
        for history in variants {
            let request = DecideRequest {
                at,
                channel,
                purpose: Purpose::Collection,
                contact_point: Some(number.to_string()).filter(|_| channel == Channel::Sms),
                account: account.clone(),
                history,
                horizon_days: Some(3),
            };
            let question = Question {
                at,
                channel,
                purpose: request.purpose,
                contact_point: request.contact_point.as_deref(),
                horizon_days: request.horizon_days,
            };
            let whole = Subject::new(&policy, &request.account, &request.history).decide(&question);
            assert_eq!(
                decide(&policy, &request),
                whole,
                "{channel:?}, {:?}",
                request.history
            );
            answers.push(whole.allowed);
        }
        assert!(
            answers.contains(&true) && answers.contains(&false),
            "{channel:?}: {answers:?}"
        );
    }
}

//! Engine benchmarks: `decide` with a 30-event history (federal + Massachusetts),
//! the `next_allowed_at` search for an account at its call cap, and loading the
//! shipped packs. Run with `cargo bench --bench engine`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use dunner::Policy;
use dunner::domain::{Account, Channel, Event, EventType, InitiatedBy, Outcome};
use dunner::engine::{DecideRequest, Question, Subject, decide};

fn account() -> Account {
    serde_json::from_str(
        r#"{"id": "B-1", "debt_type": "credit_card",
            "consumer": {"address": {"state": "MA", "city": "Boston", "postal_code": "02108"},
                         "phones": [{"number": "+16175550100", "kind": "mobile"}, {"number": "+16175550111", "kind": "work"}],
                         "emails": [{"address": "pat@example.com", "kind": "personal"}]}}"#,
    )
    .unwrap()
}

fn event(at: DateTime<Utc>, channel: Channel, outcome: Outcome) -> Event {
    Event {
        at,
        event_type: EventType::Contact,
        channel,
        outcome: Some(outcome),
        initiated_by: InitiatedBy::Collector,
        contact_point: Some(
            if channel == Channel::Email {
                "pat@example.com"
            } else {
                "+16175550100"
            }
            .to_string(),
        ),
        account_id: None,
        purpose: None,
    }
}

/// 30 events over the previous 60 days, none binding at the request instant.
fn quiet_history(at: DateTime<Utc>) -> Vec<Event> {
    (0..30)
        .map(|i| {
            let channel = if i % 3 == 0 {
                Channel::Email
            } else {
                Channel::Call
            };
            let outcome = if channel == Channel::Email {
                Outcome::Delivered
            } else {
                Outcome::Busy
            };
            event(
                at - Duration::days(60) + Duration::hours(i * 46),
                channel,
                outcome,
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let policy = Policy::load(&rules).unwrap();
    let at: DateTime<Utc> = "2026-06-10T15:00:00Z".parse().unwrap();

    let allowed = DecideRequest {
        at,
        channel: Channel::Call,
        purpose: Default::default(),
        contact_point: Some("+16175550100".into()),
        account: account(),
        history: quiet_history(at),
        horizon_days: None,
    };
    assert!(
        decide(&policy, &allowed).allowed,
        "the benchmark request should be allowed"
    );
    c.bench_function("decide/federal+MA/30 events/allowed", |b| {
        b.iter(|| decide(black_box(&policy), black_box(&allowed)))
    });

    // The planner and the daemon ask many questions of one account: prepare it once.
    let subject = Subject::new(&policy, &allowed.account, &allowed.history);
    let question = Question {
        at,
        channel: Channel::Call,
        purpose: Default::default(),
        contact_point: Some("+16175550100"),
        horizon_days: None,
    };
    assert!(subject.decide(&question).allowed);
    c.bench_function(
        "decide/federal+MA/30 events/allowed/prepared subject",
        |b| b.iter(|| black_box(&subject).decide(black_box(&question))),
    );

    // Two voicemails to the mobile this week: Massachusetts' 2-in-7 rolling cap binds,
    // and the search must find when the first falls out, inside the calling window.
    let mut capped = allowed.clone();
    capped.history.push(event(
        at - Duration::days(3),
        Channel::Call,
        Outcome::Voicemail,
    ));
    capped.history.push(event(
        at - Duration::days(1),
        Channel::Call,
        Outcome::Voicemail,
    ));
    let decision = decide(&policy, &capped);
    assert!(
        !decision.allowed && decision.next_allowed_at.is_some(),
        "{decision:?}"
    );
    c.bench_function(
        "decide/federal+MA/30 events/capped with next_allowed_at",
        |b| b.iter(|| decide(black_box(&policy), black_box(&capped))),
    );

    c.bench_function("policy/load+compile shipped packs", |b| {
        b.iter(|| Policy::load(black_box(&rules)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

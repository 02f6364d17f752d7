//! The engine workload of issue 15, shared by `benches/workload.rs`, the callgrind
//! harness (`examples/workload_decisions.rs`) and the golden test
//! (`tests/it/engine_workload.rs`): 100,000 accounts, each drawn from its own seeded
//! PRNG so that any prefix (or any single account) is the same whoever generates it.
#![allow(dead_code, clippy::indexing_slicing)]

use chrono::{Duration, TimeZone, Utc};
use chrono_tz::Tz;
use dunner::Policy;
use dunner::domain::{
    Account, Address, Channel, Consumer, EmailAddress, EmailKind, Event, EventType, Flags,
    InitiatedBy, Outcome, Phone, PhoneKind,
};
use dunner::engine::{DecideRequest, Question};
use dunner::policy::SourceFile;

/// How many accounts the workload has.
pub const ACCOUNTS: u64 = 100_000;

/// The issue's policy: one base pack for every account and one for Massachusetts.
pub const BASE_PACK: &str = r#"
[pack]
id = "workload"
citation = "issue 15 workload"
title = "Issue 15 workload policy"
version = "1.0.0"

[pack.scope]
country = "US"

[[window]]
id = "workload.hours"
citation = "issue 15 workload"
message = "08:00 to 21:00 local in every candidate zone."
channels = ["call", "sms", "email"]
allow = [{ from = "08:00", to = "21:00" }]

[[cap]]
id = "workload.call-cap"
citation = "issue 15 workload"
message = "At most 7 call attempts in the rolling 7 days."
channels = ["call"]
max = 7
rolling = "7d"
per = "debt"
count = { channels = ["call"] }

[[cooldown]]
id = "workload.after-conversation"
citation = "issue 15 workload"
message = "No call within 7 days after a conversation."
channels = ["call"]
after = { channels = ["call"], outcomes = ["conversation"] }
calendar_days = 7
per = "debt"

[[hold]]
id = "workload.cease"
citation = "issue 15 workload"
message = "Cease and desist."
channels = ["call", "sms", "email"]
flag = "cease_and_desist"

[[hold]]
id = "workload.attorney"
citation = "issue 15 workload"
message = "Represented by an attorney."
channels = ["call", "sms", "email"]
flag = "attorney_represented"

[[hold]]
id = "workload.bankruptcy"
citation = "issue 15 workload"
message = "In bankruptcy."
channels = ["call", "sms", "email"]
flag = "bankruptcy"
"#;

/// Massachusetts: at most 2 calls in 7 days.
pub const MA_PACK: &str = r#"
[pack]
id = "workload-ma"
citation = "issue 15 workload"
title = "Issue 15 workload policy, Massachusetts"
version = "1.0.0"

[pack.scope]
country = "US"
states = ["MA"]

[[cap]]
id = "workload-ma.call-cap"
citation = "issue 15 workload"
message = "At most 2 calls in 7 days."
channels = ["call"]
max = 2
rolling = "7d"
per = "debt"
count = { channels = ["call"] }
"#;

/// The compiled workload policy.
pub fn policy() -> Policy {
    Policy::from_sources(vec![
        SourceFile::new("workload.toml", BASE_PACK),
        SourceFile::new("workload-ma.toml", MA_PACK),
    ])
    .unwrap_or_else(|error| panic!("the workload policy does not compile: {error}"))
}

/// The 11 candidate zones.
pub const ZONES: [Tz; 11] = [
    chrono_tz::America::New_York,
    chrono_tz::America::Chicago,
    chrono_tz::America::Denver,
    chrono_tz::America::Los_Angeles,
    chrono_tz::America::Phoenix,
    chrono_tz::America::Anchorage,
    chrono_tz::Pacific::Honolulu,
    chrono_tz::America::Puerto_Rico,
    chrono_tz::America::Indiana::Indianapolis,
    chrono_tz::America::Boise,
    chrono_tz::America::Detroit,
];

/// splitmix64: tiny, good enough, and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn for_account(index: u64) -> Rng {
        let mut rng = Rng(0x15d0_11e4 ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// One account of the workload with its history and its request.
pub struct Case {
    pub request: DecideRequest,
}

impl Case {
    /// The request as a question to a prepared subject.
    pub fn question(&self) -> Question<'_> {
        Question {
            at: self.request.at,
            channel: self.request.channel,
            purpose: self.request.purpose,
            contact_point: self.request.contact_point.as_deref(),
            horizon_days: self.request.horizon_days,
        }
    }
}

/// The workload's account number `index`.
pub fn case(index: u64) -> Case {
    let mut rng = Rng::for_account(index);
    // T uniform over 2026-03-01..15 (US DST starts 2026-03-08).
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single();
    let start = start.unwrap_or_else(|| panic!("a valid start"));
    let at = start + Duration::seconds(rng.below(15 * 86_400) as i64);

    let phone = format!("+1202555{:04}", index % 10_000);
    let email = format!("w{index}@example.com");
    let zone_count = match rng.unit() {
        u if u < 0.6 => 1,
        u if u < 0.9 => 2,
        _ => 3,
    };
    let mut zones: Vec<Tz> = Vec::with_capacity(zone_count);
    while zones.len() < zone_count {
        let zone = ZONES[rng.below(ZONES.len() as u64) as usize];
        if !zones.contains(&zone) {
            zones.push(zone);
        }
    }
    let flags = Flags {
        cease_and_desist: rng.chance(0.02),
        attorney_represented: rng.chance(0.03),
        bankruptcy: rng.chance(0.02),
        ..Flags::default()
    };
    let state = if rng.chance(0.10) { "MA" } else { "TX" };
    let account = Account {
        id: format!("W-{index}"),
        debt_type: None,
        creditor: None,
        client: None,
        balance: None,
        placed_on: None,
        charged_off_on: None,
        closed_on: None,
        consumer: Consumer {
            id: None,
            address: Some(Address {
                state: Some(state.to_string()),
                ..Address::default()
            }),
            time_zones: zones,
            phones: vec![Phone {
                number: phone.clone(),
                kind: PhoneKind::Mobile,
            }],
            emails: vec![EmailAddress {
                address: email.clone(),
                kind: EmailKind::Personal,
            }],
        },
        flags,
        opted_out: Vec::new(),
        inconvenient_times: Vec::new(),
        inconvenient_places: Vec::new(),
        collector: None,
    };

    let count = rng.below(31);
    let week_ago = at - Duration::days(7);
    let history = (0..count)
        .map(|_| {
            let when = match rng.unit() {
                u if u < 0.02 => week_ago,
                u if u < 0.03 => week_ago + Duration::nanoseconds(1),
                _ => {
                    let u = rng.unit();
                    let age = (30.0 * 86_400e9 * u * u) as i64;
                    at - Duration::nanoseconds(age)
                }
            };
            let (channel, outcome) = match rng.unit() {
                u if u < 0.65 => (
                    Channel::Call,
                    match rng.unit() {
                        v if v < 0.40 => Outcome::NoAnswer,
                        v if v < 0.70 => Outcome::Voicemail,
                        v if v < 0.82 => Outcome::Busy,
                        v if v < 0.94 => Outcome::Conversation,
                        _ => Outcome::WrongParty,
                    },
                ),
                u if u < 0.85 => (Channel::Sms, Outcome::Delivered),
                _ => (Channel::Email, Outcome::Delivered),
            };
            let point = if channel == Channel::Email {
                &email
            } else {
                &phone
            };
            Event {
                at: when,
                event_type: EventType::Contact,
                channel,
                outcome: Some(outcome),
                initiated_by: InitiatedBy::Collector,
                contact_point: Some(point.clone()),
                account_id: None,
                purpose: None,
            }
        })
        .collect();

    let channel = match rng.unit() {
        u if u < 0.60 => Channel::Call,
        u if u < 0.85 => Channel::Sms,
        _ => Channel::Email,
    };
    let contact_point = if channel == Channel::Email {
        email
    } else {
        phone
    };
    Case {
        request: DecideRequest {
            at,
            channel,
            purpose: Default::default(),
            contact_point: Some(contact_point),
            account,
            history,
            horizon_days: None,
        },
    }
}

/// The first `n` accounts of the workload.
pub fn cases(n: u64) -> Vec<Case> {
    (0..n).map(case).collect()
}

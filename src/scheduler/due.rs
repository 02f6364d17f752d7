//! What a tick queues, decided without I/O: which strategy each account follows, the
//! plan of each consumer's debts, and the notices due before the tick's horizon, each
//! with an idempotency key that names what it is for — so that the same tick run twice,
//! or by two daemons on one ledger, queues every notice once.
//!
//! Pure: the accounts with their ledgers, the strategies, the policy and the instant in;
//! notice requests out.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::domain::arrangements::Arrangements;
use crate::domain::{Account, NoticeChannel, NoticeRequest, Purpose, WebhookEventType};
use crate::planner::{
    AccountLedger, AccountPlan, Horizon, ItemDispatch, PlannedItem, escalate_under_set,
    plan_under_set,
};
use crate::policy::Policy;
use crate::strategy::{Strategy, StrategySet, Trigger};

/// The local days a tick plans: today and tomorrow, so that a lookahead across the
/// consumer's midnight is covered (the lookahead is at most 12 hours).
pub const TICK_DAYS: u32 = 2;

/// The prefix of the keys of notices for the steps of a strategy.
pub const STEP_KEY_PREFIX: &str = "plan:";

/// A notice a tick asks the outbox for.
#[derive(Debug, Clone, PartialEq)]
pub struct DueNotice {
    /// The idempotency key: `plan:{strategy}:{account}:{step}:{local day}` for a step,
    /// `escalation:{strategy}:{account}:{escalation}:{day}` for an escalation (the day
    /// the promise broke, or the placement day: an account is handed over once per
    /// placement).
    pub key: String,
    /// What to queue.
    pub request: NoticeRequest,
    /// What it is, for the metrics: `contact.due`, `notice.requested`,
    /// `account.escalated` or `email`.
    pub kind: &'static str,
}

impl DueNotice {
    /// A step's key without its day: a notice of the series still waiting in the
    /// outbox (deferred by the policy past its day) means the step is taken care of.
    pub fn series(&self) -> Option<&str> {
        series_of(&self.key)
    }
}

/// The series of a step's notice key (`None` for an escalation's).
pub fn series_of(key: &str) -> Option<&str> {
    key.starts_with(STEP_KEY_PREFIX)
        .then(|| key.rsplit_once(':').map(|(series, _)| series))
        .flatten()
}

/// What one tick needs to know besides the accounts.
#[derive(Debug, Clone, Copy)]
pub struct TickFrame<'a> {
    /// The tick's instant: nothing is planned before it.
    pub now: DateTime<Utc>,
    /// Items planned before this instant are queued now.
    pub until: DateTime<Utc>,
    /// `[scheduler] email_data`.
    pub email_data: &'a BTreeMap<String, String>,
}

/// The notices due for one consumer's debts: the planned steps before `until`, and the
/// escalations the ledger already calls for.
pub fn due_notices(
    set: &StrategySet,
    debts: &[AccountLedger],
    policy: &Policy,
    frame: &TickFrame<'_>,
) -> Vec<DueNotice> {
    let horizon = Horizon {
        not_before: frame.now,
        first_day: None,
        days: TICK_DAYS,
    };
    let mut due = Vec::new();
    let plans = plan_under_set(set, debts, policy, &horizon);
    collect_due(
        debts,
        plans,
        set,
        frame,
        &mut due,
        |strategy, debt, _plan, item| {
            (item.escalate_to.is_none()).then(|| step_notice(strategy, &debt.account, item, frame))
        },
    );
    if set.strategies().iter().any(|s| !s.escalations.is_empty()) {
        let escalations = escalate_under_set(set, debts, policy, &horizon);
        collect_due(
            debts,
            escalations,
            set,
            frame,
            &mut due,
            |strategy, debt, plan, item| {
                item.escalate_to
                    .is_some()
                    .then(|| escalation_notice(strategy, debt, plan, item))
            },
        );
    }
    due
}

/// The notices `notice` makes of the items planned before `until`, debt by debt, under
/// the strategy each debt follows.
fn collect_due(
    debts: &[AccountLedger],
    plans: Vec<Option<(usize, AccountPlan)>>,
    set: &StrategySet,
    frame: &TickFrame<'_>,
    due: &mut Vec<DueNotice>,
    notice: impl Fn(&Strategy, &AccountLedger, &AccountPlan, &PlannedItem) -> Option<DueNotice>,
) {
    for (debt, planned) in debts.iter().zip(plans) {
        let Some((index, plan)) = planned else {
            continue;
        };
        let Some(strategy) = set.strategies().get(index) else {
            continue;
        };
        due.extend(
            plan.items
                .iter()
                .filter(|item| item.at < frame.until)
                .filter_map(|item| notice(strategy, debt, &plan, item)),
        );
    }
}

/// The notice of a planned step: a webhook to the dialer or the letter vendor, or an
/// email, to leave at the planned instant.
fn step_notice(
    strategy: &Strategy,
    account: &Account,
    item: &PlannedItem,
    frame: &TickFrame<'_>,
) -> DueNotice {
    let day = crate::planner::local_day(account, item.at);
    let key = format!(
        "{STEP_KEY_PREFIX}{}:{}:{}:{day}",
        strategy.id, account.id, item.step
    );
    let mut data = Map::new();
    data.insert("strategy".into(), json!(strategy.id));
    data.insert("step".into(), json!(item.step));
    data.insert("planned_at".into(), json!(item.at));
    let (channel, template, event_type, to, kind) = match &item.dispatch {
        ItemDispatch::Email { template } => {
            for (name, value) in frame.email_data {
                data.insert(
                    name.clone(),
                    Value::String(value.replace("{account_id}", &account.id)),
                );
            }
            (
                NoticeChannel::Email,
                // Templates are named after purposes (checked at start); a name that is
                // not one leaves the request without a template, which is refused.
                Purpose::parse(template),
                None,
                item.contact_point.clone(),
                "email",
            )
        }
        ItemDispatch::Webhook { event } => {
            data.insert("channel".into(), json!(item.channel));
            data.insert("purpose".into(), json!(item.purpose));
            data.insert("day".into(), json!(item.day));
            if let Some(point) = &item.contact_point {
                data.insert("contact_point".into(), json!(point));
            }
            let kind = match event.as_str() {
                "contact.due" => "contact.due",
                "notice.requested" => "notice.requested",
                _ => "webhook",
            };
            (
                NoticeChannel::Webhook,
                None,
                event.parse::<WebhookEventType>().ok(),
                None,
                kind,
            )
        }
    };
    DueNotice {
        key,
        request: NoticeRequest {
            account_id: account.id.clone(),
            channel,
            purpose: item.purpose,
            template,
            event_type,
            to,
            data,
            not_before: Some(item.at),
        },
        kind,
    }
}

/// The `account.escalated` webhook of an escalation the ledger calls for.
fn escalation_notice(
    strategy: &Strategy,
    debt: &AccountLedger,
    plan: &AccountPlan,
    item: &PlannedItem,
) -> DueNotice {
    let account = &debt.account;
    let trigger = strategy
        .escalations
        .iter()
        .find(|escalation| escalation.id == item.step)
        .map(|escalation| escalation.trigger);
    let (trigger_name, since) = match trigger {
        Some(Trigger::BrokenPromise) => (
            "broken_promise",
            crate::planner::broken_promise_day(
                &Arrangements::from_ledger(&debt.ledger, plan.first_day),
                plan.first_day,
                plan.last_day,
            )
            .unwrap_or(item.day)
            .to_string(),
        ),
        _ => (
            "no_conversation",
            account
                .placed_on
                .map_or_else(|| "unplaced".to_string(), |day| day.to_string()),
        ),
    };
    let key = format!(
        "escalation:{}:{}:{}:{since}",
        strategy.id, account.id, item.step
    );
    let mut data = Map::new();
    data.insert("strategy".into(), json!(strategy.id));
    data.insert("escalation".into(), json!(item.step));
    data.insert("to".into(), json!(item.escalate_to));
    data.insert("trigger".into(), json!(trigger_name));
    data.insert("planned_at".into(), json!(item.at));
    DueNotice {
        key,
        request: NoticeRequest {
            account_id: account.id.clone(),
            channel: NoticeChannel::Webhook,
            purpose: item.purpose,
            template: None,
            event_type: Some(WebhookEventType::AccountEscalated),
            to: None,
            data,
            not_before: Some(item.at),
        },
        kind: "account.escalated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SourceFile;

    fn policy() -> Policy {
        Policy::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap()
    }

    fn strategy(id: &str, body: &str) -> Strategy {
        let text = format!("[strategy]\nid = \"{id}\"\ntitle = \"t\"\nversion = \"1\"\n{body}");
        Strategy::from_source(&SourceFile::new(format!("{id}.toml"), text)).unwrap()
    }

    /// A call every day from day 0, no preferred hours: the first allowed instant.
    fn daily_calls(id: &str, segment: &str) -> Strategy {
        strategy(
            id,
            &format!(
                "{segment}\n[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 1\nfrom_day = 0\n\n[[step]]\nid = \"reminder\"\nchannel = \"email\"\npurpose = \"payment_reminder\"\ntemplate = \"payment_reminder\"\non_day = 0\n\n[[escalation]]\nid = \"missed\"\non = \"broken_promise\"\nto = \"client_credit_department\"\n"
            ),
        )
    }

    fn debt(json: serde_json::Value, ledger: serde_json::Value) -> AccountLedger {
        AccountLedger {
            account: serde_json::from_value(json).unwrap(),
            ledger: serde_json::from_value(ledger).unwrap(),
        }
    }

    fn new_yorker(id: &str, state: &str) -> serde_json::Value {
        json!({"id": id, "placed_on": "2026-04-01",
               "consumer": {"address": {"state": state}, "time_zones": ["America/New_York"],
                            "phones": [{"number": "+12125550100", "kind": "mobile"}],
                            "emails": [{"address": "alex@example.com", "kind": "personal"}]}})
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn due(set: &StrategySet, debts: &[AccountLedger], now: &str, until: &str) -> Vec<DueNotice> {
        let data = BTreeMap::from([(
            "payment_url".to_string(),
            "https://pay.example/{account_id}".to_string(),
        )]);
        let frame = TickFrame {
            now: at(now),
            until: at(until),
            email_data: &data,
        };
        due_notices(set, debts, &policy(), &frame)
    }

    #[test]
    fn a_call_due_at_the_window_opening_is_a_contact_due_keyed_by_strategy_account_step_and_day() {
        let set = StrategySet::new(vec![daily_calls("daily", "")], true).unwrap();
        let debts = [debt(new_yorker("A-1", "NY"), json!([]))];
        // 07:59:30 in New York: the call waits for 08:00, the email is allowed at once.
        let notices = due(&set, &debts, "2026-04-07T11:59:30Z", "2026-04-07T12:05:00Z");
        let call = notices.iter().find(|n| n.kind == "contact.due").unwrap();
        assert_eq!(call.key, "plan:daily:A-1:call:2026-04-07");
        assert_eq!(call.series(), Some("plan:daily:A-1:call"));
        assert_eq!(call.request.not_before, Some(at("2026-04-07T12:00:00Z")));
        assert_eq!(call.request.event_type, Some(WebhookEventType::ContactDue));
        assert_eq!(call.request.data["contact_point"], "+12125550100");
        assert_eq!(call.request.data["planned_at"], "2026-04-07T12:00:00Z");
        assert_eq!(call.request.data["channel"], "call");
        assert_eq!(call.request.data["purpose"], "collection");
        call.request.validate().unwrap();
        let email = notices.iter().find(|n| n.kind == "email").unwrap();
        assert_eq!(email.key, "plan:daily:A-1:reminder:2026-04-07");
        assert_eq!(email.request.to.as_deref(), Some("alex@example.com"));
        assert_eq!(email.request.template, Some(Purpose::PaymentReminder));
        assert_eq!(email.request.data["payment_url"], "https://pay.example/A-1");
        email.request.validate().unwrap();
        assert_eq!(notices.len(), 2, "{notices:?}");
        // The same tick again plans the same notices under the same keys.
        assert_eq!(
            due(&set, &debts, "2026-04-07T11:59:30Z", "2026-04-07T12:05:00Z"),
            notices
        );
    }

    #[test]
    fn nothing_is_due_before_its_planned_instant_comes_within_the_lookahead() {
        let set = StrategySet::new(vec![daily_calls("daily", "")], true).unwrap();
        let debts = [debt(new_yorker("A-1", "NY"), json!([]))];
        let notices = due(&set, &debts, "2026-04-07T11:50:00Z", "2026-04-07T11:55:00Z");
        assert!(
            notices.iter().all(|n| n.kind != "contact.due"),
            "{notices:?}"
        );
    }

    #[test]
    fn an_account_follows_the_first_strategy_whose_segment_covers_it() {
        let set = StrategySet::new(
            vec![
                daily_calls("washington", "[segment]\nstates = [\"WA\"]\n"),
                daily_calls("everyone", ""),
            ],
            true,
        )
        .unwrap();
        let debts = [
            debt(new_yorker("W-1", "WA"), json!([])),
            // Not New York: both debts share the consumer's phone and email, and New York
            // City's rule (fail closed without a city) counts the consumer's contacts across
            // debts, 2 per 7 days, which W-1's call and email already reach.
            debt(new_yorker("N-1", "PA"), json!([])),
        ];
        let notices = due(&set, &debts, "2026-04-07T13:00:00Z", "2026-04-07T13:05:00Z");
        let keys: Vec<&str> = notices.iter().map(|n| n.key.as_str()).collect();
        assert!(
            keys.contains(&"plan:washington:W-1:call:2026-04-07"),
            "{keys:?}"
        );
        assert!(
            keys.contains(&"plan:everyone:N-1:call:2026-04-07"),
            "{keys:?}"
        );
        assert!(
            !keys.iter().any(|k| k.starts_with("plan:everyone:W-1")),
            "{keys:?}"
        );
        let none = StrategySet::new(
            vec![daily_calls("oregon", "[segment]\nstates = [\"OR\"]\n")],
            true,
        )
        .unwrap();
        assert!(
            due(
                &none,
                &debts,
                "2026-04-07T13:00:00Z",
                "2026-04-07T13:05:00Z"
            )
            .is_empty()
        );
        assert!(
            StrategySet::new(vec![daily_calls("a", ""), daily_calls("a", "")], true).is_err(),
            "two strategies with one id"
        );
    }

    #[test]
    fn a_hold_queues_nothing_and_a_broken_promise_escalates_under_the_day_it_broke() {
        let set = StrategySet::new(vec![daily_calls("daily", "")], true).unwrap();
        let held = debt(
            new_yorker("H-1", "NY"),
            json!([{"at": "2026-04-02T15:00:00Z", "type": "flag_set", "flag": "cease_and_desist"}]),
        );
        let mut held_account = held.account.clone();
        held_account.flags.cease_and_desist = true;
        let held = AccountLedger {
            account: held_account,
            ledger: held.ledger,
        };
        assert!(
            due(
                &set,
                &[held],
                "2026-04-07T13:00:00Z",
                "2026-04-08T01:00:00Z"
            )
            .is_empty()
        );

        // An older promise broke long ago (escalated then); this one broke this week and
        // is escalated under its own day.
        let promised = debt(
            new_yorker("P-1", "NY"),
            json!([{"at": "2026-02-01T15:00:00Z", "type": "promise_to_pay",
                    "amount": {"amount": "50.00", "currency": "USD"}, "due_on": "2026-02-10"},
                   {"at": "2026-04-01T15:00:00Z", "type": "promise_to_pay",
                    "amount": {"amount": "100.00", "currency": "USD"}, "due_on": "2026-04-05"}]),
        );
        let debts = [promised];
        for now in ["2026-04-07T13:00:00Z", "2026-04-08T13:00:00Z"] {
            let notices = due(&set, &debts, now, "2026-04-09T00:00:00Z");
            let escalation = notices
                .iter()
                .find(|n| n.kind == "account.escalated")
                .unwrap();
            assert_eq!(escalation.key, "escalation:daily:P-1:missed:2026-04-06");
            assert_eq!(escalation.series(), None);
            assert_eq!(escalation.request.data["to"], "client_credit_department");
            assert_eq!(escalation.request.data["trigger"], "broken_promise");
            escalation.request.validate().unwrap();
        }
    }

    #[test]
    fn the_siblings_of_a_consumer_are_planned_together_within_its_cap() {
        // Washington: at most 3 contacts a week with the consumer, whatever the debt.
        let set = StrategySet::new(
            vec![strategy(
                "calls",
                "[[step]]\nid = \"call\"\nchannel = \"call\"\nevery_days = 1\nfrom_day = 0\n",
            )],
            true,
        )
        .unwrap();
        let sibling = |id: &str| {
            let mut json = new_yorker(id, "WA");
            json["consumer"]["id"] = json!("C-WA");
            json
        };
        let calls = json!([
            {"at": "2026-04-03T15:00:00Z", "channel": "call", "outcome": "voicemail", "contact_point": "+12125550100"},
            {"at": "2026-04-05T15:00:00Z", "channel": "call", "outcome": "voicemail", "contact_point": "+12125550100"}
        ]);
        let debts = [debt(sibling("W-1"), calls), debt(sibling("W-2"), json!([]))];
        let notices = due(&set, &debts, "2026-04-07T13:00:00Z", "2026-04-07T13:05:00Z");
        assert_eq!(notices.len(), 1, "one call left this week: {notices:?}");
    }
}

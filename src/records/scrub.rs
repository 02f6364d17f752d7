//! What a purge leaves of an account's rows: the facts that evidence compliance and that
//! the caps and reports count (instants, channels, kinds, outcomes, purposes, amounts,
//! flags, the consumer key, the state), without the personal data (phone numbers, email
//! addresses, the city and ZIP code, contact points, notice recipients and template data).
//!
//! Fields are dropped by name where their meaning is known (an account, a ledger event, a
//! notice request); in JSON whose shape is not fixed (a logged decision, a shadow
//! decision, a notice's error), every string that contains one of the account's personal
//! strings is replaced by [`PURGED`] as well, so free text that quoted a number goes too.

use serde_json::Value;

use crate::domain::{Account, Address, Channel, LedgerEvent, OptOut};

/// What replaces a string that held personal data.
pub const PURGED: &str = "[purged]";

/// Keys whose values are personal wherever they appear in stored JSON.
const PERSONAL_KEYS: [&str; 5] = ["contact_point", "phones", "emails", "city", "postal_code"];

/// A notice request's personal keys besides those: its recipient and its template data
/// (names, addresses, free text).
const NOTICE_KEYS: [&str; 2] = ["to", "data"];

/// The strings of an account that identify its consumer: phone numbers, email addresses,
/// the city and the ZIP code, and the contact points it opted out of.
pub fn personal_strings(account: &Account) -> Vec<String> {
    let consumer = &account.consumer;
    let mut strings: Vec<String> = consumer
        .phones
        .iter()
        .map(|p| p.number.clone())
        .chain(consumer.emails.iter().map(|e| e.address.clone()))
        .chain(
            consumer
                .address
                .iter()
                .flat_map(|a| [a.city.clone(), a.postal_code.clone()])
                .flatten(),
        )
        .chain(account.opted_out.iter().filter_map(|o| match o {
            OptOut::ContactPoint(point) => Some(point.clone()),
            OptOut::Channel(_) => None,
        }))
        .filter(|s| !s.trim().is_empty())
        .collect();
    strings.sort();
    strings.dedup();
    strings
}

/// The account as kept after a purge: the consumer key and state, the flags, balance,
/// dates, client and creditor; no phones, emails, city, ZIP code or opted-out contact
/// points, and every channel opted out.
pub fn scrub_account(account: &Account) -> Account {
    let mut kept = account.clone();
    kept.consumer.phones.clear();
    kept.consumer.emails.clear();
    kept.consumer.address = account.consumer.address.as_ref().map(|a| Address {
        state: a.state.clone(),
        city: None,
        postal_code: None,
    });
    // The numbers and addresses the consumer opted out of are gone with the rest: a
    // contact on the account could no longer be checked against them, so every channel
    // is opted out instead (fail closed: a purged account is never contacted).
    kept.opted_out = Channel::ALL.into_iter().map(OptOut::Channel).collect();
    kept
}

/// A ledger event as kept after a purge: its facts, without the contact point.
pub fn scrub_event(event: &LedgerEvent) -> LedgerEvent {
    let mut kept = event.clone();
    kept.contact_point = None;
    kept
}

/// Removes the personal keys from `value` at every depth, and replaces every string that
/// contains one of `personal` by [`PURGED`].
pub fn scrub_json(value: &mut Value, personal: &[String]) {
    scrub_keys(value, personal, &[]);
}

fn scrub_keys(value: &mut Value, personal: &[String], more: &[&str]) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| {
                !PERSONAL_KEYS.contains(&key.as_str()) && !more.contains(&key.as_str())
            });
            for item in map.values_mut() {
                scrub_keys(item, personal, more);
            }
        }
        Value::Array(items) => {
            for item in items {
                scrub_keys(item, personal, more);
            }
        }
        Value::String(text) => {
            if personal.iter().any(|p| text.contains(p.as_str())) {
                *text = PURGED.to_string();
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// JSON text scrubbed by [`scrub_json`]; text that is not JSON is replaced whole (it
/// cannot be told apart from free text).
pub fn scrub_json_text(text: &str, personal: &[String]) -> String {
    scrub_text(text, personal, &[])
}

/// A notice request scrubbed like [`scrub_json_text`], without its recipient and its
/// template data.
pub fn scrub_notice_text(text: &str, personal: &[String]) -> String {
    scrub_text(text, personal, &NOTICE_KEYS)
}

fn scrub_text(text: &str, personal: &[String], more: &[&str]) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(mut value) => {
            scrub_keys(&mut value, personal, more);
            value.to_string()
        }
        Err(_) => serde_json::Value::String(PURGED.to_string()).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        serde_json::from_value(serde_json::json!({
            "id": "A-1",
            "client": "acme",
            "balance": {"amount": "0.00", "currency": "USD"},
            "consumer": {
                "id": "C-9",
                "address": {"state": "NY", "city": "Flushing", "postal_code": "11354"},
                "phones": [{"number": "+12125550142", "kind": "mobile"}],
                "emails": [{"address": "jane@example.com", "kind": "personal"}]
            },
            "opted_out": ["sms", "+12125550199"]
        }))
        .unwrap()
    }

    #[test]
    fn the_account_keeps_its_facts_and_loses_the_personal_data() {
        let account = account();
        let kept = scrub_account(&account);
        let text = serde_json::to_string(&kept).unwrap();
        for personal in personal_strings(&account) {
            assert!(!text.contains(&personal), "{personal} in {text}");
        }
        assert_eq!(personal_strings(&account).len(), 5);
        assert_eq!(kept.consumer.id.as_deref(), Some("C-9"));
        assert_eq!(
            kept.consumer.address.and_then(|a| a.state).as_deref(),
            Some("NY")
        );
        assert_eq!(kept.opted_out.len(), Channel::ALL.len());
        assert_eq!(kept.balance, account.balance);
    }

    #[test]
    fn free_text_quoting_a_number_is_purged() {
        let personal = personal_strings(&account());
        let text = r#"{"reasons":[{"rule":"r","message":"call +12125550142 later"}],"contact_point":"x","at":"2020-01-01"}"#;
        let scrubbed = scrub_json_text(text, &personal);
        assert!(!scrubbed.contains("5550142"), "{scrubbed}");
        assert!(!scrubbed.contains("contact_point"), "{scrubbed}");
        assert!(scrubbed.contains("2020-01-01"), "{scrubbed}");
        assert_eq!(scrub_json_text("not json 11354", &personal), "\"[purged]\"");
        let window = r#"{"window":{"from":"09:00","to":"21:00"}}"#;
        assert_eq!(scrub_json_text(window, &personal), window);
        let notice = r#"{"channel":"email","to":"x@example.com","data":{"name":"Jane Roe"}}"#;
        assert_eq!(
            scrub_notice_text(notice, &personal),
            r#"{"channel":"email"}"#
        );
    }
}

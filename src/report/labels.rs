//! The labels the CSV and the HTML renderings share: a unit enum's JSON name, a caps
//! period as the rule states it. Pure.

use crate::engine::BudgetPeriod;

/// The JSON name of a unit enum (`consumer`, `kept`).
pub(super) fn json_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// A caps period as the rule states it: `7 calendar days`, `30d rolling`.
pub(super) fn period_text(period: &BudgetPeriod) -> String {
    match period {
        BudgetPeriod::CalendarDays(1) => "calendar day".to_string(),
        BudgetPeriod::CalendarDays(days) => format!("{days} calendar days"),
        BudgetPeriod::Rolling(duration) => format!("{duration} rolling"),
    }
}

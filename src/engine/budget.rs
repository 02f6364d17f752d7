//! Cap budgets: for every frequency cap (and warning) that governs a question, how
//! many counted events the period ending at the instant holds, how many more the cap
//! allows, and when one more becomes available.
//!
//! Pure: no clock, no I/O. The counting is [`limits::cap_usage`], which shares its
//! filter and its slots with the check a decision makes, so a cap with nothing
//! `remaining` is a cap that refuses the contact.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::context::Context;
use super::limits;
use super::subject::{Question, Subject};
use super::zones::Moment;
use crate::domain::{Account, Channel};
use crate::policy::model::{Cap, Per, Period, Rule, RuleKind};

/// What is left of one cap for one question at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CapBudget {
    /// The rule's id (`reg-f.call-frequency`).
    pub rule: String,
    /// The pack the rule comes from.
    pub pack: String,
    /// Where the rule comes from in law.
    pub citation: String,
    /// The most counted events the cap allows in any period.
    pub limit: u32,
    /// The period, as the rule states it.
    pub period: BudgetPeriod,
    /// Whose events the cap counts.
    pub per: Per,
    /// For a cap per contact point: the number or address this budget is for (absent
    /// when the account has none of the channel's family, and then every event counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_point: Option<String>,
    /// Counted events in the period that ends at the instant.
    pub used: u32,
    /// `limit - used`, never below zero: how many more the period can take.
    pub remaining: u32,
    /// The earliest instant at which `remaining` grows, when enough of the oldest
    /// counted events have left the period; absent when nothing is counted (or the
    /// limit is zero). Assumes no new events, and ignores events after the instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<DateTime<Utc>>,
    /// A warning rule: reaching its limit warns but does not refuse.
    pub warning: bool,
}

/// A cap's period in the rule's own terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum BudgetPeriod {
    /// N consecutive local calendar days, today counting (`{"calendar_days": 7}`).
    CalendarDays(u32),
    /// A rolling duration as rule packs write it (`{"rolling": "7d"}`).
    Rolling(String),
}

impl BudgetPeriod {
    pub(crate) fn of(period: Period) -> BudgetPeriod {
        match period {
            Period::CalendarDays(days) => BudgetPeriod::CalendarDays(days),
            Period::Rolling(duration) => {
                // Packs write whole days, hours or minutes; seconds only if built otherwise.
                let seconds = duration.num_seconds();
                let text = if seconds % 86_400 == 0 {
                    format!("{}d", seconds / 86_400)
                } else if seconds % 3_600 == 0 {
                    format!("{}h", seconds / 3_600)
                } else if seconds % 60 == 0 {
                    format!("{}m", seconds / 60)
                } else {
                    format!("{seconds}s")
                };
                BudgetPeriod::Rolling(text)
            }
        }
    }
}

impl Subject<'_> {
    /// The budget of every cap and warning that governs the question and is in force
    /// at its instant, in policy order, assuming no events beyond the history.
    ///
    /// A cap that would not count the contact (placed under consent given within the
    /// cap's exclusion days, or outside its count filter) does not limit it and is
    /// left out. A cap per contact point, asked with no contact point, gives one
    /// budget per number (calls, texts) or address (email) of the account that the
    /// rule applies to.
    pub fn cap_budgets(&self, question: &Question<'_>) -> Vec<CapBudget> {
        let context = Context::new(self, question);
        let moment = Moment::new(question.at, context.zones);
        let point_contexts: Vec<(&str, Context<'_>)> = if context.contact_point.is_none() {
            known_points(self.account, question.channel)
                .into_iter()
                .map(|point| {
                    let asked = Question {
                        contact_point: Some(point),
                        ..*question
                    };
                    (point, Context::new(self, &asked))
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut budgets = Vec::new();
        for rule in context.rules.iter().copied() {
            let (cap, warning) = match &rule.kind {
                RuleKind::Cap(cap) => (cap, false),
                RuleKind::Warning(cap) => (cap, true),
                _ => continue,
            };
            if !moment.in_force(&rule.effective) {
                continue;
            }
            if cap.per == Per::ContactPoint && !point_contexts.is_empty() {
                for (point, point_context) in &point_contexts {
                    // The point's kind may take it out of the rule's `when`.
                    if point_context.rules.iter().any(|r| std::ptr::eq(*r, rule)) {
                        budgets.extend(budget(
                            point_context,
                            rule,
                            cap,
                            warning,
                            &moment,
                            Some(point),
                        ));
                    }
                }
            } else {
                let point = context
                    .contact_point
                    .filter(|_| cap.per == Per::ContactPoint);
                budgets.extend(budget(&context, rule, cap, warning, &moment, point));
            }
        }
        budgets
    }
}

/// The account's numbers (calls and texts) or addresses (email), as stored.
fn known_points(account: &Account, channel: Channel) -> Vec<&str> {
    let consumer = &account.consumer;
    match channel {
        Channel::Call | Channel::Sms => consumer.phones.iter().map(|p| p.number.as_str()).collect(),
        Channel::Email => consumer.emails.iter().map(|e| e.address.as_str()).collect(),
        Channel::Letter | Channel::Visit => Vec::new(),
    }
}

fn budget(
    context: &Context<'_>,
    rule: &Rule,
    cap: &Cap,
    warning: bool,
    moment: &Moment,
    contact_point: Option<&str>,
) -> Option<CapBudget> {
    let usage = limits::cap_usage(context, cap, moment)?;
    let policy = context.subject.policy;
    Some(CapBudget {
        rule: rule.id.to_string(),
        pack: policy
            .pack_of(rule)
            .map(|p| p.id.to_string())
            .unwrap_or_default(),
        citation: rule.citation.to_string(),
        limit: cap.max,
        period: BudgetPeriod::of(cap.period),
        per: cap.per,
        contact_point: contact_point.map(str::to_owned),
        used: usage.used,
        remaining: cap.max.saturating_sub(usage.used),
        resets_at: usage.resets_at,
        warning,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::BudgetPeriod;
    use crate::policy::model::Period;

    #[test]
    fn rolling_periods_read_as_rule_packs_write_them() {
        let shown = |delta| BudgetPeriod::of(Period::Rolling(delta));
        assert_eq!(
            shown(TimeDelta::days(30)),
            BudgetPeriod::Rolling("30d".into())
        );
        assert_eq!(
            shown(TimeDelta::hours(72)),
            BudgetPeriod::Rolling("3d".into())
        );
        assert_eq!(
            shown(TimeDelta::hours(36)),
            BudgetPeriod::Rolling("36h".into())
        );
        assert_eq!(
            shown(TimeDelta::minutes(5)),
            BudgetPeriod::Rolling("5m".into())
        );
        assert_eq!(
            BudgetPeriod::of(Period::CalendarDays(7)),
            BudgetPeriod::CalendarDays(7)
        );
    }
}

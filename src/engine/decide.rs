//! The decision: evaluate every governing rule at the instant, explain every
//! refusal, and search for the next allowed instant.

use std::sync::Arc;

use chrono::{DateTime, Days, TimeDelta, Utc};

use super::Check;
use super::context::Context;
use super::next_allowed::next_allowed_at;
use super::request::{ChannelVerdict, DecideRequest, Decision, Obligation, Reason, Verdict};
use super::subject::{Question, Subject};
use super::zones::{self, Moment};
use super::{limits, windows};
use crate::domain::Channel;
use crate::policy::Policy;
use crate::policy::model::{Rule, RuleKind};

/// How far ahead `next_allowed_at` is searched by default, in days.
pub const DEFAULT_HORIZON_DAYS: u32 = 35;

/// Decides one request.
pub fn decide(policy: &Policy, request: &DecideRequest) -> Decision {
    Subject::new(policy, &request.account, &request.history).decide(&Question {
        at: request.at,
        channel: request.channel,
        purpose: request.purpose,
        contact_point: request.contact_point.as_deref(),
        horizon_days: request.horizon_days,
    })
}

/// Decides one question over its prepared context.
pub(super) fn decide_question(context: &Context<'_>, question: &Question<'_>) -> Decision {
    let policy = context.subject.policy;
    let at = question.at;
    let moment = Moment::new(at, context.zones);
    let evaluation = evaluate(context, &moment);
    let reason = |rule: &Rule| Reason {
        rule: rule.id.clone(),
        pack: policy
            .pack_of(rule)
            .map(|p| p.id.clone())
            .unwrap_or_default(),
        citation: rule.citation.clone(),
        message: rule.message.clone(),
    };
    let reasons: Vec<Reason> = evaluation
        .refusals
        .iter()
        .map(|(rule, _)| reason(rule))
        .collect();
    let warnings: Vec<Reason> = evaluation
        .warnings
        .iter()
        .map(|rule| reason(rule))
        .collect();
    let allowed = reasons.is_empty();
    let horizon = TimeDelta::days(i64::from(
        question.horizon_days.unwrap_or(DEFAULT_HORIZON_DAYS),
    ));
    let horizon_end = at
        .checked_add_signed(horizon)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let next_allowed = if allowed {
        Some(at)
    } else {
        evaluation
            .reopen()
            .and_then(|from| next_allowed_at(context, from, horizon_end))
    };
    let obligations = if allowed {
        context
            .rules
            .iter()
            .filter(|rule| moment.in_force(&rule.effective))
            .filter_map(|rule| match &rule.kind {
                RuleKind::Obligation(code) => {
                    let reason = reason(rule);
                    Some(Obligation {
                        code: code.clone(),
                        rule: reason.rule,
                        pack: reason.pack,
                        citation: reason.citation,
                        message: reason.message,
                    })
                }
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    let stopped = evaluation
        .refusals
        .iter()
        .any(|(rule, _)| matches!(rule.kind, RuleKind::Hold(_)));
    let outcome = if allowed {
        Verdict::Allow
    } else if stopped {
        Verdict::Stop
    } else {
        Verdict::Defer
    };
    Decision {
        allowed,
        outcome,
        next_allowed_at: next_allowed,
        reasons,
        warnings,
        obligations,
        time_zones: Arc::clone(&context.subject.zones),
        policy_digest: policy.shared_digest(),
    }
}

/// The verdict, and the budget left in every cap, for every channel and contact
/// point of an account at one instant.
pub fn overview(policy: &Policy, request: &DecideRequest) -> Vec<ChannelVerdict> {
    let consumer = &request.account.consumer;
    let subject = Subject::new(policy, &request.account, &request.history);
    let mut verdicts = Vec::new();
    for channel in Channel::ALL {
        let points: Vec<Option<String>> = match channel {
            Channel::Call | Channel::Sms => consumer
                .phones
                .iter()
                .map(|p| Some(p.number.clone()))
                .collect(),
            Channel::Email => consumer
                .emails
                .iter()
                .map(|e| Some(e.address.clone()))
                .collect(),
            Channel::Letter | Channel::Visit => vec![None],
        };
        for contact_point in points {
            let question = Question {
                at: request.at,
                channel,
                purpose: request.purpose,
                contact_point: contact_point.as_deref(),
                horizon_days: request.horizon_days,
            };
            let decision = subject.decide(&question);
            let caps = subject.cap_budgets(&question);
            verdicts.push(ChannelVerdict {
                channel,
                contact_point,
                decision,
                caps,
            });
        }
    }
    verdicts
}

/// Every refusal and warning at one instant.
pub(super) struct Evaluation<'a> {
    pub refusals: Vec<(&'a Rule, Option<DateTime<Utc>>)>,
    pub warnings: Vec<&'a Rule>,
}

impl Evaluation<'_> {
    /// The lower bound of the first instant every refusing rule might pass, `None`
    /// when one of them never will by time alone.
    pub fn reopen(&self) -> Option<DateTime<Utc>> {
        self.refusals
            .iter()
            .try_fold(DateTime::<Utc>::MIN_UTC, |latest, (_, reopen)| {
                reopen.map(|r| latest.max(r))
            })
    }
}

/// Evaluates every governing rule at `instant`.
pub(super) fn evaluate<'a>(context: &Context<'a>, moment: &Moment) -> Evaluation<'a> {
    let mut evaluation = Evaluation {
        refusals: Vec::new(),
        warnings: Vec::new(),
    };
    for rule in context.rules.iter().copied() {
        if !moment.in_force(&rule.effective) {
            continue;
        }
        match check(context, rule, moment) {
            Check::Pass => {}
            Check::Refuse { reopen } => {
                if matches!(rule.kind, RuleKind::Warning(_)) {
                    evaluation.warnings.push(rule);
                } else {
                    evaluation
                        .refusals
                        .push((rule, earliest_with_expiry(context, rule, reopen)));
                }
            }
        }
    }
    evaluation
}

/// Whether any refusing (non-warning) rule refuses at `instant`, and the reopen bound.
pub(super) fn first_pass_bound(
    context: &Context<'_>,
    instant: DateTime<Utc>,
) -> Option<Option<DateTime<Utc>>> {
    let mut refused = false;
    let mut bound = instant;
    let moment = Moment::new(instant, context.zones);
    for rule in context.rules.iter().copied() {
        if matches!(rule.kind, RuleKind::Warning(_) | RuleKind::Obligation(_))
            || !moment.in_force(&rule.effective)
        {
            continue;
        }
        if let Check::Refuse { reopen } = check(context, rule, &moment) {
            refused = true;
            match earliest_with_expiry(context, rule, reopen) {
                Some(reopen) => bound = bound.max(reopen),
                None => return Some(None),
            }
        }
    }
    refused.then_some(Some(bound))
}

fn check(context: &Context<'_>, rule: &Rule, moment: &Moment) -> Check {
    match &rule.kind {
        RuleKind::Window(window) => windows::check_window(window, moment),
        RuleKind::ConsumerTimes => {
            windows::check_consumer_times(&context.account.inconvenient_times, moment)
        }
        RuleKind::Cap(cap) | RuleKind::Warning(cap) => {
            limits::check_cap(context, cap, moment, rule.effective.until)
        }
        RuleKind::Cooldown(cooldown) => limits::check_cooldown(context, cooldown, moment),
        RuleKind::Hold(flag) => {
            // Without a flag the hold stands on its `when`, already checked.
            let holds = flag.is_none_or(|flag| context.flag_holds(flag));
            let exempt = rule
                .unless_consumer_used_days
                .is_some_and(|days| context.consumer_used_point(moment.instant, days))
                || (rule.unless.consumer_used_point
                    && context.consumer_used_this_point(moment.instant))
                || (rule.unless.consumer_consented_to_point
                    && context.consumer_consented_to_this_point(moment.instant));
            if holds && !exempt {
                Check::refuse(None)
            } else {
                Check::Pass
            }
        }
        RuleKind::Obligation(_) => Check::Pass,
    }
}

/// A refusing rule stops binding when it goes out of force; the reopen bound is the
/// earlier of that and the rule's own.
fn earliest_with_expiry(
    context: &Context<'_>,
    rule: &Rule,
    reopen: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let expiry = rule.effective.until.and_then(|until| {
        let next = until.checked_add_days(Days::new(1))?;
        context
            .zones
            .iter()
            .filter_map(|zone| zones::start_of_local_date(*zone, next))
            .min()
    });
    match (reopen, expiry) {
        (Some(r), Some(e)) => Some(r.min(e)),
        (r, e) => r.or(e),
    }
}

//! The decision: evaluate every governing rule at the instant, explain every
//! refusal, and search for the next allowed instant.

use std::sync::Arc;

use chrono::DateTime;
use smallvec::SmallVec;

use super::Check;
use super::context::Context;
use super::instants::NANOS_PER_DAY;
use super::next_allowed::next_allowed_at;
use super::request::{
    ChannelVerdict, DecideRequest, Decision, Obligation, Reason, Reasons, Verdict,
};
use super::rules::{Passed, check, earliest_with_expiry};
use super::subject::{Question, Standing, Subject};
use super::zones::Moment;
use crate::domain::Channel;
use crate::policy::Policy;
use crate::policy::model::{Rule, RuleKind};

/// How far ahead `next_allowed_at` is searched by default, in days.
pub const DEFAULT_HORIZON_DAYS: u32 = 35;

/// Decides one request.
pub fn decide(policy: &Policy, request: &DecideRequest) -> Decision {
    // One question and the search after it: the contacts no rule governing it can
    // read are not prepared.
    let question = Question {
        at: request.at,
        channel: request.channel,
        purpose: request.purpose,
        contact_point: request.contact_point.as_deref(),
        horizon_days: request.horizon_days,
    };
    let standing = Standing::new(policy, &request.account);
    Subject::for_question(
        policy,
        &request.account,
        &request.history,
        standing,
        &question,
    )
    .decide(&question)
}

/// Decides one question over its prepared context.
pub(super) fn decide_question(context: &Context<'_>, question: &Question<'_>) -> Decision {
    let policy = context.subject.policy;
    let at = question.at;
    let mut moment = Moment::UNREAD;
    moment.read(at, context.zones);
    let mut evaluation = Evaluation::none(&moment);
    evaluate(context, &moment, &mut evaluation);
    // Pushed, not collected: `SmallVec`'s `extend` stays out of line (≈ 60 instructions
    // a decision for one or two reasons).
    let mut reasons = Reasons::new();
    for (rule, _) in &evaluation.refusals {
        reasons.push(rule.reason.clone());
    }
    let warnings: Vec<Reason> = evaluation
        .warnings
        .iter()
        .map(|rule| rule.reason.clone())
        .collect();
    let allowed = reasons.is_empty();
    let next_allowed = if allowed {
        Some(at)
    } else {
        let horizon_days = i64::from(question.horizon_days.unwrap_or(DEFAULT_HORIZON_DAYS));
        let horizon_end = moment
            .nanos
            .saturating_add(horizon_days.saturating_mul(NANOS_PER_DAY));
        evaluation
            .reopen()
            .and_then(|from| next_allowed_at(context, from, horizon_end, &evaluation.passed))
            .map(DateTime::from_timestamp_nanos)
    };
    let obligations = if allowed {
        context
            .rules
            .iter()
            .filter_map(|rule| match &rule.kind {
                RuleKind::Obligation(code) if moment.in_force(&rule.effective) => {
                    let reason = &rule.reason;
                    Some(Obligation {
                        code: code.clone(),
                        rule: reason.rule.clone(),
                        pack: reason.pack.clone(),
                        citation: reason.citation.clone(),
                        message: reason.message.clone(),
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

/// A refusing rule and the earliest instant it might pass, in nanoseconds since the
/// epoch (`None`: not by time alone).
type Refusal<'a> = (&'a Rule, Option<i64>);

/// Every refusal and warning at one instant (inline: a decision allocates none), and
/// the rules that passed there for good.
pub(super) struct Evaluation<'a, 'm> {
    pub refusals: SmallVec<[Refusal<'a>; 4]>,
    pub warnings: SmallVec<[&'a Rule; 4]>,
    pub passed: Passed<'m>,
}

impl<'a, 'm> Evaluation<'a, 'm> {
    /// Nothing refused, warned or passed yet.
    pub fn none(moment: &'m Moment) -> Evaluation<'a, 'm> {
        Evaluation {
            refusals: SmallVec::new(),
            warnings: SmallVec::new(),
            passed: Passed::none(moment),
        }
    }

    /// The lower bound of the first instant every refusing rule might pass, `None`
    /// when one of them never will by time alone.
    pub fn reopen(&self) -> Option<i64> {
        self.refusals
            .iter()
            .try_fold(i64::MIN, |latest, (_, reopen)| {
                reopen.map(|r| latest.max(r))
            })
    }
}

/// Evaluates every governing rule at `moment` into `evaluation` (filled where the
/// caller keeps it: returned by value, its inline vectors were copied).
pub(super) fn evaluate<'a, 'm>(
    context: &Context<'a>,
    moment: &'m Moment,
    evaluation: &mut Evaluation<'a, 'm>,
) {
    // A rule's pass holds for later instants only while no event after this one can
    // enter its counts.
    let nothing_later = context.events_through(moment.nanos) == context.events.len();
    for (index, rule) in context.rules.iter().copied().enumerate() {
        if !moment.in_force(&rule.effective) {
            continue;
        }
        match check(context, rule, moment) {
            Check::Pass => {
                if nothing_later {
                    evaluation.passed.note(index, rule);
                }
            }
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
}

/// One permitted interval: contact is allowed from `start` (inclusive) to `end`
/// (exclusive), assuming no new events.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct Interval {
    /// First allowed instant.
    pub start: chrono::DateTime<chrono::Utc>,
    /// First instant after `start` that is refused again (or the end of the range).
    pub end: chrono::DateTime<chrono::Utc>,
}

impl Subject<'_> {
    /// Decides one question, assuming no events beyond the history.
    pub fn decide(&self, question: &Question<'_>) -> Decision {
        // Governed in this frame: see `Context::ungoverned`.
        let mut context = Context::ungoverned(self, question);
        context.govern();
        decide_question(&context, question)
    }

    /// The intervals in `[from, until)` during which the question would be allowed,
    /// assuming no new events. Openings are exact (`next_allowed_at`); closings are
    /// found on the minute grid, so an interval may end up to a minute late only if a
    /// rule closes between two whole minutes (none of the shipped rules do).
    pub fn permitted_intervals(
        &self,
        question: &Question<'_>,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Vec<Interval> {
        let mut intervals = Vec::new();
        let mut at = question.at;
        let horizon_days = u32::try_from((until - at).num_days().clamp(1, 366)).unwrap_or(366);
        while at < until {
            let opening = self.decide(&Question {
                at,
                horizon_days: Some(horizon_days),
                ..*question
            });
            let Some(start) = opening.next_allowed_at.filter(|start| *start < until) else {
                break;
            };
            // Walk whole minutes until the first refused one.
            let mut probe = next_whole_minute(start);
            while probe < until
                && self
                    .decide(&Question {
                        at: probe,
                        ..*question
                    })
                    .allowed
            {
                probe += chrono::TimeDelta::minutes(1);
            }
            let end = probe.min(until);
            intervals.push(Interval { start, end });
            at = end;
        }
        intervals
    }
}

fn next_whole_minute(instant: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    let floor = instant
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap_or(instant);
    floor + TimeDelta::minutes(1)
}

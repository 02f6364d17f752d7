//! Rules that never refuse alone: a rule is shadowed when another rule of the same
//! scope refuses whenever it does (same or wider channels, purposes and dates; fewer
//! conditions; a stricter window, limit, period or hold). Such a rule is harmless but
//! misleading — an author who loosens the stricter rule later expects this one to bind,
//! and a reader of a decision never sees it cited alone — so `rules check` warns.
//!
//! The comparison is conservative: a rule is reported only when the stricter one
//! provably refuses at least whatever it refuses; kinds it cannot compare (warnings,
//! obligations, the consumer's own times) are never reported.

use std::ops::Range;

use super::diagnostics::{Diagnostic, SourceFile};
use super::layering::looser_window;
use super::model::{
    Cap, Cooldown, DateRange, EventFilter, Member, Pack, Per, Period, Rule, RuleKind, Scope, Set,
};

/// Warns about every rule another rule of the same scope shadows.
pub fn check_shadowed(
    packs: &[Pack],
    rules: &[Rule],
    rule_spans: &[(SourceFile, Range<usize>)],
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (index, rule) in rules.iter().enumerate() {
        let Some((source, span)) = rule_spans.get(index) else {
            continue;
        };
        let stricter = rules.iter().enumerate().find_map(|(other_index, other)| {
            if other_index == index || !same_scope(packs, rule, other) {
                return None;
            }
            let detail = shadows(other, rule)?;
            // Two rules that shadow each other (the same rule written twice): only
            // the later one is reported.
            (other_index < index || shadows(rule, other).is_none()).then_some((other, detail))
        });
        if let Some((other, detail)) = stricter {
            let pack = packs.get(other.pack).map_or("", |p| &*p.id);
            diagnostics.push(
                Diagnostic::warning(
                    "rules::shadowed",
                    source,
                    Some(span.clone()),
                    format!(
                        "rule `{}` never refuses alone: rule `{}` of pack `{pack}` refuses whenever it does ({detail})",
                        rule.id, other.id
                    ),
                )
                .with_help(format!(
                    "remove it, or make it stricter than `{}` where it is meant to bind",
                    other.id
                )),
            );
        }
    }
}

/// Rules apply to the same accounts when their packs have the same scope.
fn same_scope(packs: &[Pack], a: &Rule, b: &Rule) -> bool {
    match (packs.get(a.pack), packs.get(b.pack)) {
        (Some(a), Some(b)) => a.pack_scope_key() == b.pack_scope_key(),
        _ => false,
    }
}

impl Pack {
    /// The scope as a comparable value: lists sorted (their order means nothing).
    fn pack_scope_key(&self) -> (Option<&str>, [Vec<&str>; 6]) {
        let Scope {
            country,
            states,
            cities,
            postal_codes,
            debt_types,
            creditors,
            collectors,
        } = &self.scope;
        fn sorted(items: &[String]) -> Vec<&str> {
            let mut items: Vec<&str> = items.iter().map(String::as_str).collect();
            items.sort_unstable();
            items
        }
        let mut collectors: Vec<&str> = collectors.iter().map(|c| c.as_str()).collect();
        collectors.sort_unstable();
        (
            country.as_deref(),
            [
                sorted(states),
                sorted(cities),
                sorted(postal_codes),
                sorted(debt_types),
                sorted(creditors),
                collectors,
            ],
        )
    }
}

/// Why `stricter` refuses whatever `rule` refuses, or `None` when that is not certain.
fn shadows(stricter: &Rule, rule: &Rule) -> Option<String> {
    if !applies_whenever(stricter, rule) {
        return None;
    }
    match (&stricter.kind, &rule.kind) {
        (RuleKind::Window(stricter), RuleKind::Window(window))
            if stricter.time_zone == window.time_zone
                && looser_window(stricter, window).is_none() =>
        {
            Some("its window lies within this one".into())
        }
        (RuleKind::Hold(Some(stricter)), RuleKind::Hold(Some(flag))) if stricter == flag => {
            Some(format!("the same hold on `{}`", flag.as_str()))
        }
        (RuleKind::Cap(stricter), RuleKind::Cap(cap)) => cap_shadows(stricter, cap),
        (RuleKind::Cooldown(stricter), RuleKind::Cooldown(cooldown)) => {
            cooldown_shadows(stricter, cooldown)
        }
        _ => None,
    }
}

/// `stricter` governs every request `rule` governs, on every date it is in force.
fn applies_whenever(stricter: &Rule, rule: &Rule) -> bool {
    let (when, rule_when) = (&stricter.when, &rule.when);
    covers(stricter.channels, rule.channels)
        && covers(stricter.purposes, rule.purposes)
        && covers_dates(stricter.effective, rule.effective)
        && covers(when.contact_point_kinds, rule_when.contact_point_kinds)
        && (when.debt_types.is_empty()
            || (!rule_when.debt_types.is_empty()
                && rule_when
                    .debt_types
                    .iter()
                    .all(|debt| when.debt_types.contains(debt))))
        && when.flags.iter().all(|flag| rule_when.flags.contains(flag))
        && (!stricter.unless.consumer_used_point || rule.unless.consumer_used_point)
        && (!stricter.unless.consumer_consented_to_point || rule.unless.consumer_consented_to_point)
        && exempts_no_more(
            stricter.unless_consumer_used_days,
            rule.unless_consumer_used_days,
        )
}

fn covers<T: Member>(wider: Set<T>, narrower: Set<T>) -> bool {
    narrower.without(wider).is_empty()
}

fn covers_dates(wider: DateRange, narrower: DateRange) -> bool {
    let starts_earlier = match (wider.from, narrower.from) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(wider), Some(narrower)) => wider <= narrower,
    };
    let ends_later = match (wider.until, narrower.until) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(wider), Some(narrower)) => wider >= narrower,
    };
    starts_earlier && ends_later
}

/// An exemption of the last N days exempts no more than the other's (none at all, or
/// a window no longer).
fn exempts_no_more(stricter: Option<u32>, other: Option<u32>) -> bool {
    match (stricter, other) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(stricter), Some(other)) => stricter <= other,
    }
}

/// `stricter` counts every event `filter` counts.
fn counts_at_least(stricter: &EventFilter, filter: &EventFilter) -> bool {
    covers(stricter.channels, filter.channels)
        && covers(stricter.outcomes, filter.outcomes)
        && covers(stricter.contact_point_kinds, filter.contact_point_kinds)
        && (stricter.initiated_by.is_none() || stricter.initiated_by == filter.initiated_by)
}

/// A consumer's events include each of their debts'.
fn per_covers(stricter: Per, per: Per) -> bool {
    stricter == per || (stricter == Per::Consumer && per == Per::Debt)
}

fn cap_shadows(stricter: &Cap, cap: &Cap) -> Option<String> {
    let longer = match (stricter.period, cap.period) {
        (Period::Rolling(stricter), Period::Rolling(period)) => stricter >= period,
        (Period::CalendarDays(stricter), Period::CalendarDays(days)) => stricter >= days,
        _ => false,
    };
    (longer
        && stricter.max <= cap.max
        && per_covers(stricter.per, cap.per)
        && counts_at_least(&stricter.count, &cap.count)
        && exempts_no_more(stricter.exclude_consent_days, cap.exclude_consent_days)
        && (!stricter.exclude_wrong_party || cap.exclude_wrong_party)
        && covers(cap.not_counting, stricter.not_counting))
    .then(|| {
        format!(
            "at most {} in a period as long or longer, counting at least the same events, where this rule allows {}",
            stricter.max, cap.max
        )
    })
}

fn cooldown_shadows(stricter: &Cooldown, cooldown: &Cooldown) -> Option<String> {
    (stricter.days >= cooldown.days
        && per_covers(stricter.per, cooldown.per)
        && counts_at_least(&stricter.after, &cooldown.after)
        && exempts_no_more(stricter.exclude_consent_days, cooldown.exclude_consent_days))
    .then(|| {
        format!(
            "a wait of {} days after the same events or more, where this rule waits {}",
            stricter.days, cooldown.days
        )
    })
}

//! Checks across packs: unique ids, overlays that try to loosen the baseline, and
//! gaps between the effective periods of one jurisdiction's packs.
//!
//! Layering itself needs no code at decision time: every rule of every applicable
//! pack is evaluated and any refusal refuses, so a pack can only add restrictions.
//! What a pack cannot do is say so; these checks tell its author when a rule is
//! looser than the federal floor and will therefore never be what binds.

use std::collections::HashMap;
use std::ops::Range;

use chrono::{Days, NaiveDate};

use super::diagnostics::{Diagnostic, SourceFile};
use super::model::{Pack, Rule, RuleKind, Window};
use crate::domain::{TimeOfDay, Weekday};

/// Pack ids and rule ids must be unique across the policy.
pub fn check_duplicates(
    packs: &[Pack],
    rules: &[Rule],
    rule_spans: &[(SourceFile, Range<usize>)],
    sources: &[SourceFile],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut pack_files: HashMap<&str, &str> = HashMap::new();
    for pack in packs {
        if let Some(first) = pack_files.insert(&pack.id, &pack.file) {
            let source = sources.iter().find(|s| *s.name == *pack.file);
            let diagnostic = match source {
                // The second file's `id = "…"`: the first quoted occurrence of the id.
                Some(source) => Diagnostic::error(
                    "rules::duplicate-id",
                    source,
                    source
                        .text
                        .find(&format!("\"{}\"", pack.id))
                        .map(|start| start..start + pack.id.len() + 2),
                    format!("pack id `{}` is also used by {first}", pack.id),
                ),
                None => Diagnostic::without_source(
                    "rules::duplicate-id",
                    &pack.file,
                    format!("pack id `{}` is also used by {first}", pack.id),
                ),
            };
            diagnostics.push(diagnostic);
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, rule) in rules.iter().enumerate() {
        let first = *seen.entry(&rule.id).or_insert(index);
        if first != index
            && let (Some((source, span)), Some((first_source, first_span))) =
                (rule_spans.get(index), rule_spans.get(first))
        {
            let (line, column) = first_source.line_column(first_span.start);
            diagnostics.push(
                Diagnostic::error("rules::duplicate-id", source, Some(span.clone()), format!("rule id `{}` is used twice", rule.id))
                    .with_help(format!("it is first defined at {}:{line}:{column}; rule ids must be unique across all packs", first_source.name)),
            );
        }
    }
}

/// Warns about overlay rules looser than a baseline rule of the same kind: such a
/// rule never takes effect where it is looser, which is rarely what its author meant.
pub fn check_overlays(
    packs: &[Pack],
    rules: &[Rule],
    rule_spans: &[(SourceFile, Range<usize>)],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let is_baseline = |rule: &Rule| packs.get(rule.pack).is_some_and(|p| p.scope.is_baseline());
    let floors: Vec<&Rule> = rules
        .iter()
        .filter(|r| {
            is_baseline(r) && r.when.contact_point_kinds.is_full() && r.when.flags.is_empty()
        })
        .collect();
    for (index, rule) in rules.iter().enumerate() {
        if is_baseline(rule) {
            continue;
        }
        let Some((source, span)) = rule_spans.get(index) else {
            continue;
        };
        for floor in floors.iter().filter(|f| {
            f.channels.intersects(rule.channels) && f.purposes.intersects(rule.purposes)
        }) {
            let looser = match (&rule.kind, &floor.kind) {
                // Windows in different fixed zones cannot be compared hour by hour.
                (RuleKind::Window(window), RuleKind::Window(floor_window))
                    if window.time_zone == floor_window.time_zone =>
                {
                    looser_window(window, floor_window)
                }
                (RuleKind::Cap(cap), RuleKind::Cap(floor_cap))
                    if cap.period == floor_cap.period
                        && cap.per == floor_cap.per
                        && cap.max > floor_cap.max =>
                {
                    Some(format!(
                        "allows {} where the floor allows {}",
                        cap.max, floor_cap.max
                    ))
                }
                _ => None,
            };
            if let Some(detail) = looser {
                let floor_pack = packs.get(floor.pack).map_or("", |p| &*p.id);
                diagnostics.push(
                    Diagnostic::warning(
                        "rules::looser-than-floor",
                        source,
                        Some(span.clone()),
                        format!("rule `{}` is looser than the baseline rule `{}` of pack `{floor_pack}`: it {detail}", rule.id, floor.id),
                    )
                    .with_help("packs only add restrictions: the stricter baseline rule still binds there"),
                );
            }
        }
    }
}

/// Describes the first stretch a window allows that the floor does not.
pub(super) fn looser_window(window: &Window, floor: &Window) -> Option<String> {
    for (day, (intervals, floor_intervals)) in Weekday::ALL
        .iter()
        .zip(window.days.iter().zip(floor.days.iter()))
    {
        for &(from, to) in intervals {
            let covered = floor_intervals
                .iter()
                .any(|&(f_from, f_to)| f_from <= from && to <= f_to);
            if !covered {
                let uncovered_from = floor_intervals
                    .iter()
                    .find(|&&(f_from, f_to)| f_from <= from && from < f_to)
                    .map_or(from, |&(_, f_to)| f_to);
                let uncovered_to = floor_intervals
                    .iter()
                    .find(|&&(f_from, _)| from < f_from && f_from < to)
                    .map_or(to, |&(f_from, _)| f_from);
                let show =
                    |m: u16| TimeOfDay::from_minutes(m).map_or_else(String::new, |t| t.to_string());
                return Some(format!(
                    "allows {}–{} on {}",
                    show(uncovered_from),
                    show(uncovered_to),
                    day.as_str()
                ));
            }
        }
    }
    None
}

/// What makes packs one jurisdiction's: their states, cities and collectors, sorted.
type Jurisdiction<'a> = (Vec<String>, Vec<String>, Vec<&'a str>);

/// Warns when the packs of one jurisdiction leave dates on which none of them is in
/// force: a pack that ends before the next one starts (a regulator's date moved in one
/// file and not the other) silently leaves that jurisdiction to the federal floor.
/// Packs are of one jurisdiction when they cover the same states, cities and collectors
/// and are not creditor or debt-type overlays.
pub fn check_gaps(
    packs: &[Pack],
    spans: &[(SourceFile, super::compile::PackSpans)],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut groups: HashMap<Jurisdiction<'_>, Vec<usize>> = HashMap::new();
    for (index, pack) in packs.iter().enumerate() {
        let scope = &pack.scope;
        if !scope.creditors.is_empty() || !scope.debt_types.is_empty() {
            continue;
        }
        let mut states = scope.states.clone();
        states.sort();
        let mut cities = scope.cities.clone();
        cities.sort();
        let mut collectors: Vec<&str> = scope.collectors.iter().map(|c| c.as_str()).collect();
        collectors.sort_unstable();
        groups
            .entry((states, cities, collectors))
            .or_default()
            .push(index);
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort();
    for mut members in groups {
        members.sort_by_key(|&index| packs.get(index).and_then(|p| p.effective.from));
        // The last date covered so far; `None` inside `Some` is "open-ended".
        let mut covered: Option<(Option<NaiveDate>, &str)> = None;
        for index in members {
            let (Some(pack), Some((source, pack_spans))) = (packs.get(index), spans.get(index))
            else {
                continue;
            };
            if let (Some((Some(end), previous)), Some(from)) = (covered, pack.effective.from)
                && end
                    .checked_add_days(Days::new(1))
                    .is_some_and(|next| from > next)
            {
                let last_gap_day = from.pred_opt().unwrap_or(from);
                diagnostics.push(
                    Diagnostic::warning(
                        "rules::effective-gap",
                        source,
                        pack_spans.effective_from.clone(),
                        format!(
                            "pack `{}` starts on {from}, but pack `{previous}` of the same jurisdiction ends on {end}: from {} to {last_gap_day} neither is in force",
                            pack.id,
                            end.succ_opt().unwrap_or(end),
                        ),
                    )
                    .with_help("end the earlier pack with `superseded_by` naming this one, so the two hand over on one date"),
                );
            }
            covered = match (covered, pack.effective.until) {
                (Some((None, previous)), _) => Some((None, previous)),
                (_, None) => Some((None, &*pack.id)),
                (Some((Some(end), previous)), Some(until)) if end >= until => {
                    Some((Some(end), previous))
                }
                (_, Some(until)) => Some((Some(until), &*pack.id)),
            };
        }
    }
}

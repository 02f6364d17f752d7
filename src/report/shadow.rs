//! The shadow report (`dunner report shadow`, `GET /v1/reports/shadow`): the decisions
//! of a period that the shadow policy (`[rules] shadow`) would have decided otherwise,
//! counted by rule and direction, with examples. Read from the decision log, where
//! each divergence is written beside the live decision it shadows.
//!
//! [`summarise`] is a pure fold over the logged rows; [`shadow_report`] reads them;
//! [`render`] writes JSON, CSV (one row per divergence) or an HTML page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{Format, PAGE_STYLE, Period, csv_cell, escape_html};
use crate::domain::{Channel, Purpose};
use crate::service::shadow::{Direction, Divergence};
use crate::store::{ShadowRow, Store, StoreError};

/// Examples kept.
pub const EXAMPLES: usize = 20;

/// Divergences under one rule and direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ShadowTotal {
    /// The rule only one side refused by (`(none)`: same rules, another outcome).
    pub rule: String,
    /// Which way.
    pub direction: Direction,
    /// Decisions.
    pub divergences: u64,
}

/// One decision the shadow diverged from.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ShadowExample {
    /// The logged decision.
    pub decision_id: String,
    /// The account.
    pub account_id: String,
    /// When it was decided.
    pub decided_at: DateTime<Utc>,
    /// The question's instant.
    pub at: DateTime<Utc>,
    /// The channel.
    pub channel: Channel,
    /// The purpose.
    pub purpose: Purpose,
    /// The live outcome.
    pub live_outcome: String,
    /// The shadow's divergence.
    pub shadow: Divergence,
}

/// The shadow report of a period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ShadowReport {
    /// The UTC days, both included.
    pub period: Period,
    /// Logged decisions the shadow diverged from.
    pub divergences: u64,
    /// Of them, where the shadow refuses what live allowed.
    pub shadow_refuses: u64,
    /// Where the shadow allows what live refused.
    pub shadow_allows: u64,
    /// Where both refuse, by other rules or with another outcome.
    pub rules_differ: u64,
    /// The shadow digests that diverged.
    pub shadow_digests: Vec<String>,
    /// Divergences per rule and direction, the most first.
    pub by_rule: Vec<ShadowTotal>,
    /// The first divergences of the period.
    pub examples: Vec<ShadowExample>,
}

/// Counts the logged divergences; a row whose divergence no longer parses is skipped.
pub fn summarise(period: Period, rows: Vec<ShadowRow>) -> ShadowReport {
    let mut report = ShadowReport {
        period,
        divergences: 0,
        shadow_refuses: 0,
        shadow_allows: 0,
        rules_differ: 0,
        shadow_digests: Vec::new(),
        by_rule: Vec::new(),
        examples: Vec::new(),
    };
    let mut by_rule: BTreeMap<(String, &'static str), (Direction, u64)> = BTreeMap::new();
    for row in rows {
        let Ok(divergence) = serde_json::from_str::<Divergence>(&row.shadow) else {
            tracing::warn!(decision = %row.decision_id, "a logged shadow divergence does not parse; skipped");
            continue;
        };
        report.divergences += 1;
        match divergence.direction {
            Direction::ShadowRefuses => report.shadow_refuses += 1,
            Direction::ShadowAllows => report.shadow_allows += 1,
            Direction::RulesDiffer => report.rules_differ += 1,
        }
        if !report.shadow_digests.contains(&divergence.digest) {
            report.shadow_digests.push(divergence.digest.clone());
        }
        for rule in divergence.rules() {
            by_rule
                .entry((rule.to_string(), divergence.direction.as_str()))
                .or_insert((divergence.direction, 0))
                .1 += 1;
        }
        if report.examples.len() < EXAMPLES {
            report.examples.push(ShadowExample {
                decision_id: row.decision_id,
                account_id: row.account_id,
                decided_at: row.decided_at,
                at: row.question.at,
                channel: row.question.channel,
                purpose: row.question.purpose,
                live_outcome: row.outcome,
                shadow: divergence,
            });
        }
    }
    report.by_rule = by_rule
        .into_iter()
        .map(|((rule, _), (direction, divergences))| ShadowTotal {
            rule,
            direction,
            divergences,
        })
        .collect();
    report
        .by_rule
        .sort_by_key(|total| std::cmp::Reverse(total.divergences));
    report
}

/// Reads and counts the divergences logged in `period`.
pub async fn shadow_report(store: &Store, period: Period) -> Result<ShadowReport, StoreError> {
    let rows = store
        .shadow_divergences(period.start(), period.end())
        .await?;
    Ok(summarise(period, rows))
}

/// The report as JSON, CSV (one row per listed divergence) or an HTML page.
pub fn render(report: &ShadowReport, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default(),
        Format::Csv => csv(report),
        Format::Html => html(report),
    }
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn csv(report: &ShadowReport) -> String {
    let mut out = String::from("rule,direction,divergences\n");
    for total in &report.by_rule {
        let _ = writeln!(
            out,
            "{},{},{}",
            csv_cell(&total.rule),
            total.direction.as_str(),
            total.divergences
        );
    }
    out
}

fn html(report: &ShadowReport) -> String {
    let mut page = String::with_capacity(8 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>dunner shadow policy</title>\n<style>{PAGE_STYLE}</style>\n</head>\n<body>\n<header>\n\
         <h1>dunner shadow policy</h1>\n<dl>\n\
         <dt>Period</dt><dd>{from} to {to} (UTC days, both included)</dd>\n\
         <dt>Shadow</dt><dd><code>{digests}</code></dd>\n</dl>\n</header>\n<main>\n\
         <section>\n<h2>Divergences</h2>\n<div class=\"figures\">\n\
         <div class=\"figure\"><b>{total}</b><span>decisions diverged</span></div>\n\
         <div class=\"figure\"><b>{refuses}</b><span>shadow refuses</span></div>\n\
         <div class=\"figure\"><b>{allows}</b><span>shadow allows</span></div>\n\
         <div class=\"figure\"><b>{differ}</b><span>rules differ</span></div>\n</div>\n</section>\n\
         <section>\n<h2>By rule</h2>\n<table>\n<tr><th>rule</th><th>direction</th><th class=\"n\">divergences</th></tr>\n",
        from = report.period.from,
        to = report.period.to,
        digests = escape_html(&report.shadow_digests.join(", ")),
        total = report.divergences,
        refuses = report.shadow_refuses,
        allows = report.shadow_allows,
        differ = report.rules_differ,
    );
    for total in &report.by_rule {
        let _ = writeln!(
            page,
            "<tr><td class=\"k\">{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            escape_html(&total.rule),
            total.direction.as_str(),
            total.divergences
        );
    }
    page.push_str("</table>\n</section>\n<section>\n<h2>Examples</h2>\n<table>\n<tr><th>account</th><th>at (UTC)</th><th>channel</th><th>live</th><th>shadow</th><th>only live</th><th>only shadow</th></tr>\n");
    for e in &report.examples {
        let _ = writeln!(
            page,
            "<tr><td class=\"k\">{}</td><td class=\"k\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&e.account_id),
            instant(e.at),
            e.channel.as_str(),
            escape_html(&e.live_outcome),
            e.shadow.outcome.as_str(),
            escape_html(&e.shadow.only_live.join(", ")),
            escape_html(&e.shadow.only_shadow.join(", ")),
        );
    }
    page.push_str(
        "</table>\n</section>\n</main>\n<footer>Made by <code>dunner report shadow</code>. The shadow \
         policy decides beside the live one; its answers are never returned.</footer>\n</body>\n</html>\n",
    );
    page
}

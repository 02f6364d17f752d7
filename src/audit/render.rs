//! The audit as JSON (the [`Audit`]), CSV (one row per violating contact, its refusing
//! rules joined by `;`) or one self-contained HTML page in the reports' style.
//!
//! Pure: an [`Audit`] in, text out.

use std::fmt::Write as _;

use super::{Audit, JudgedBy, Total};
use crate::report::{Format, PAGE_STYLE, csv_cell, escape_html};

/// The text of an audit in a format.
pub fn render(audit: &Audit, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(audit).unwrap_or_default(),
        Format::Csv => csv(audit),
        Format::Html => html(audit),
    }
}

fn csv(audit: &Audit) -> String {
    let mut out = String::from(
        "account_id,event_id,at,channel,purpose,state,decided,policy_digest,rules,packs,citations\n",
    );
    for v in &audit.violations {
        let join = |f: fn(&crate::engine::Reason) -> &str| {
            v.reasons.iter().map(f).collect::<Vec<_>>().join(";")
        };
        let cells = [
            v.account_id.clone(),
            v.event_id.clone(),
            v.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            v.channel.as_str().to_string(),
            v.purpose.as_str().to_string(),
            v.state.clone().unwrap_or_default(),
            v.decided.to_string(),
            v.policy_digest.clone(),
            join(|r| &r.rule),
            join(|r| &r.pack),
            join(|r| &r.citation),
        ];
        let line: Vec<String> = cells.iter().map(|cell| csv_cell(cell)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn html(audit: &Audit) -> String {
    let mut page = String::with_capacity(16 * 1024);
    let judged_by = match audit.judged_by {
        JudgedBy::InForce => {
            "the policy in force when each contact was made (live rules for contacts no decision allowed)"
        }
        JudgedBy::Candidate => "the candidate rules given with --rules, for every contact",
    };
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>dunner audit</title>\n<style>{PAGE_STYLE}</style>\n</head>\n<body>\n<header>\n\
         <h1>dunner audit</h1>\n<dl>\n\
         <dt>Period</dt><dd>{from} to {to} (UTC days, both included)</dd>\n\
         <dt>Judged by</dt><dd>{judged_by}</dd>\n\
         <dt>Fallback policy</dt><dd><code>{fallback}</code></dd>\n</dl>\n</header>\n<main>\n\
         <section>\n<h2>{verdict}</h2>\n<div class=\"figures\">\n\
         <div class=\"figure\"><b>{contacts}</b><span>contacts judged</span></div>\n\
         <div class=\"figure\"><b>{decided}</b><span>allowed by a logged decision</span></div>\n\
         <div class=\"figure\"><b>{violations}</b><span>refused now</span></div>\n</div>\n</section>\n",
        from = audit.period.from,
        to = audit.period.to,
        fallback = escape_html(&audit.fallback_digest),
        verdict = if audit.clean {
            "Clean: every contact was allowed"
        } else {
            "Violations found"
        },
        contacts = audit.contacts,
        decided = audit.decided_contacts,
        violations = audit.violations.len(),
    );
    page.push_str("<section>\n<h2>By rule</h2>\n<table>\n<tr><th>rule</th><th>pack</th><th>citation</th><th class=\"n\">violations</th></tr>\n");
    for total in &audit.by_rule {
        let _ = writeln!(
            page,
            "<tr><td class=\"k\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            escape_html(&total.rule),
            escape_html(&total.pack),
            escape_html(&total.citation),
            total.violations
        );
    }
    page.push_str("</table>\n</section>\n");
    totals_table(&mut page, "By channel", "channel", &audit.by_channel);
    totals_table(&mut page, "By state", "state", &audit.by_state);
    page.push_str("<section>\n<h2>Violations</h2>\n<table>\n<tr><th>account</th><th>at (UTC)</th><th>channel</th><th>purpose</th><th>decided</th><th>rules</th><th>policy</th></tr>\n");
    for v in &audit.violations {
        let rules: Vec<String> = v
            .reasons
            .iter()
            .map(|r| format!("{} ({}, {})", r.rule, r.pack, r.citation))
            .collect();
        let _ = writeln!(
            page,
            "<tr><td class=\"k\">{}</td><td class=\"k\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape_html(&v.account_id),
            v.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            v.channel.as_str(),
            v.purpose.as_str(),
            if v.decided { "yes" } else { "no" },
            escape_html(&rules.join("; ")),
            escape_html(v.policy_digest.get(..16).unwrap_or(&v.policy_digest)),
        );
    }
    page.push_str(
        "</table>\n</section>\n</main>\n<footer>Made by <code>dunner audit</code>. Each contact is judged \
         against the account and the ledger as they stood when it was made.</footer>\n</body>\n</html>\n",
    );
    page
}

fn totals_table(page: &mut String, title: &str, name: &str, totals: &[Total]) {
    let _ = write!(
        page,
        "<section>\n<h2>{title}</h2>\n<table>\n<tr><th>{name}</th><th class=\"n\">violations</th></tr>\n"
    );
    for total in totals {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            escape_html(&total.name),
            total.violations
        );
    }
    page.push_str("</table>\n</section>\n");
}

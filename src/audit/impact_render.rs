//! The impact of a candidate as text for a terminal, JSON (the [`Impact`]) or one
//! self-contained HTML page in the reports' style.
//!
//! Pure: an [`Impact`] in, text out.

use std::fmt::Write as _;

use chrono::SecondsFormat;

use super::impact::{Flip, FlipExample, FlipTotal, Impact, LiveBy, PlanChange};
use crate::report::{PAGE_STYLE, escape_html};

/// How `dunner rules impact` writes its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImpactFormat {
    /// Plain text for a terminal.
    Human,
    /// The [`Impact`] as JSON.
    Json,
    /// One HTML page.
    Html,
}

impl ImpactFormat {
    /// `human`, `json` or `html`.
    pub fn parse(name: &str) -> Option<ImpactFormat> {
        match name {
            "human" => Some(ImpactFormat::Human),
            "json" => Some(ImpactFormat::Json),
            "html" => Some(ImpactFormat::Html),
            _ => None,
        }
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImpactFormat::Human => "human",
            ImpactFormat::Json => "json",
            ImpactFormat::Html => "html",
        }
    }
}

/// The text of an impact in a format.
pub fn render_impact(impact: &Impact, format: ImpactFormat) -> String {
    match format {
        ImpactFormat::Json => serde_json::to_string_pretty(impact).unwrap_or_default(),
        ImpactFormat::Human => human(impact),
        ImpactFormat::Html => html(impact),
    }
}

fn instant(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(
        || "none".to_string(),
        |at| at.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// A digest as people compare them: the algorithm and 12 hex digits.
fn short(digest: &str) -> &str {
    let end = digest.find(':').map_or(0, |colon| colon + 1) + 12;
    digest.get(..end).unwrap_or(digest)
}

fn live_by(impact: &Impact) -> &'static str {
    match impact.live_by {
        LiveBy::InForce => "the policy in force when each decision was made",
        LiveBy::Rules => "the rules directory given with --rules",
    }
}

fn verdict(impact: &Impact) -> &'static str {
    if impact.loosens {
        "LOOSENS: the candidate allows something the live policy refused"
    } else {
        "does not loosen: the candidate allows nothing the live policy refused"
    }
}

fn human(impact: &Impact) -> String {
    let mut out = String::new();
    let d = &impact.decisions;
    let _ = writeln!(
        out,
        "Impact of candidate {} ({} to {}), live: {}",
        short(&impact.candidate_digest),
        impact.period.from,
        impact.period.to,
        live_by(impact)
    );
    let _ = writeln!(out, "Verdict: {}\n", verdict(impact));
    let _ = writeln!(
        out,
        "Logged decisions: {} logged, {} replayed, {} unchanged",
        d.logged, d.replayed, d.unchanged
    );
    let _ = writeln!(
        out,
        "  {:<28}{:>8}\n  {:<28}{:>8}\n  {:<28}{:>8}",
        "allow → refuse",
        d.flips.allow_to_refuse,
        "refuse → allow",
        d.flips.refuse_to_allow,
        "next allowed instant moved",
        d.flips.next_allowed_moved
    );
    for (title, totals) in [
        ("rule", &d.by_rule),
        ("state", &d.by_state),
        ("channel", &d.by_channel),
        ("purpose", &d.by_purpose),
    ] {
        if totals.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  by {title} (allow→refuse / refuse→allow / moved):");
        for total in totals {
            let _ = writeln!(
                out,
                "    {:<40} {:>6} {:>6} {:>6}",
                total.name,
                total.flips.allow_to_refuse,
                total.flips.refuse_to_allow,
                total.flips.next_allowed_moved
            );
        }
    }
    for flip in Flip::ALL {
        let examples: Vec<&FlipExample> = d.examples.iter().filter(|e| e.flip == flip).collect();
        if examples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  examples, {}:", flip.label());
        for e in examples {
            let _ = writeln!(
                out,
                "    {} at {} {} ({}): live {} [{}] next {}; candidate {} [{}] next {}",
                e.account_id,
                instant(Some(e.at)),
                e.channel.as_str(),
                e.purpose.as_str(),
                e.live.as_str(),
                e.live_rules.join(", "),
                instant(e.live_next_allowed_at),
                e.candidate.as_str(),
                e.candidate_rules.join(", "),
                instant(e.candidate_next_allowed_at),
            );
        }
    }
    let c = &impact.contacts;
    let _ = writeln!(
        out,
        "\nRecorded contacts: {} judged, {} the candidate would have refused",
        c.contacts, c.refused
    );
    for total in &c.by_rule {
        let _ = writeln!(
            out,
            "    {:<40} {:>6}  ({}, {})",
            total.rule, total.violations, total.pack, total.citation
        );
    }
    for v in &c.examples {
        let rules: Vec<&str> = v.reasons.iter().map(|r| &*r.rule).collect();
        let _ = writeln!(
            out,
            "    {} at {} {}: {}",
            v.account_id,
            instant(Some(v.at)),
            v.channel.as_str(),
            rules.join(", ")
        );
    }
    match &impact.forward {
        None => {
            let _ = writeln!(
                out,
                "\nPlan ahead: not compared (no strategy: give --strategy or configure [scheduler] strategies)"
            );
        }
        Some(f) => {
            let _ = writeln!(
                out,
                "\nPlan ahead ({} days from {}, strategies {}): {} accounts, {} items live, {} under the candidate",
                f.days,
                instant(f.from),
                f.strategies.join(", "),
                f.accounts,
                f.live_items,
                f.candidate_items
            );
            let _ = writeln!(
                out,
                "  {:<28}{:>8}\n  {:<28}{:>8}\n  {:<28}{:>8}",
                "added", f.added, "removed", f.removed, "moved", f.moved
            );
            for change in &f.examples {
                let _ = writeln!(
                    out,
                    "    {} {} step {}: live {} candidate {}",
                    change.change,
                    change.account_id,
                    change.step,
                    instant(change.live_at),
                    instant(change.candidate_at)
                );
            }
        }
    }
    out
}

fn html(impact: &Impact) -> String {
    let mut page = String::with_capacity(16 * 1024);
    let d = &impact.decisions;
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>dunner rules impact</title>\n<style>{PAGE_STYLE}</style>\n</head>\n<body>\n<header>\n\
         <h1>dunner rules impact</h1>\n<dl>\n\
         <dt>Period</dt><dd>{from} to {to} (UTC days, both included)</dd>\n\
         <dt>Live</dt><dd>{live}</dd>\n\
         <dt>Candidate</dt><dd><code>{candidate}</code></dd>\n</dl>\n</header>\n<main>\n\
         <section>\n<h2>{verdict}</h2>\n<div class=\"figures\">\n\
         <div class=\"figure\"><b>{replayed}</b><span>decisions replayed</span></div>\n\
         <div class=\"figure\"><b>{a2r}</b><span>allow → refuse</span></div>\n\
         <div class=\"figure\"><b>{r2a}</b><span>refuse → allow</span></div>\n\
         <div class=\"figure\"><b>{moved}</b><span>next allowed moved</span></div>\n\
         <div class=\"figure\"><b>{refused}</b><span>recorded contacts refused</span></div>\n</div>\n</section>\n",
        from = impact.period.from,
        to = impact.period.to,
        live = live_by(impact),
        candidate = escape_html(&impact.candidate_digest),
        verdict = escape_html(verdict(impact)),
        replayed = d.replayed,
        a2r = d.flips.allow_to_refuse,
        r2a = d.flips.refuse_to_allow,
        moved = d.flips.next_allowed_moved,
        refused = impact.contacts.refused,
    );
    for (title, name, totals) in [
        ("Flips by rule", "rule", &d.by_rule),
        ("Flips by state", "state", &d.by_state),
        ("Flips by channel", "channel", &d.by_channel),
        ("Flips by purpose", "purpose", &d.by_purpose),
    ] {
        flip_table(&mut page, title, name, totals);
    }
    page.push_str("<section>\n<h2>Examples</h2>\n<table>\n<tr><th>flip</th><th>account</th><th>at (UTC)</th><th>channel</th><th>purpose</th><th>live</th><th>candidate</th></tr>\n");
    for e in &d.examples {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"k\">{}</td><td class=\"k\">{}</td><td>{}</td><td>{}</td><td>{} {} (next {})</td><td>{} {} (next {})</td></tr>",
            e.flip.label(),
            escape_html(&e.account_id),
            instant(Some(e.at)),
            e.channel.as_str(),
            e.purpose.as_str(),
            e.live.as_str(),
            escape_html(&e.live_rules.join(", ")),
            instant(e.live_next_allowed_at),
            e.candidate.as_str(),
            escape_html(&e.candidate_rules.join(", ")),
            instant(e.candidate_next_allowed_at),
        );
    }
    page.push_str("</table>\n</section>\n");
    let c = &impact.contacts;
    let _ = write!(
        page,
        "<section>\n<h2>Recorded contacts the candidate refuses: {} of {}</h2>\n<table>\n<tr><th>rule</th><th>pack</th><th>citation</th><th class=\"n\">contacts</th></tr>\n",
        c.refused, c.contacts
    );
    for total in &c.by_rule {
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
    match &impact.forward {
        None => page.push_str(
            "<section>\n<h2>Plan ahead</h2>\n<p>Not compared: no strategy was given or configured.</p>\n</section>\n",
        ),
        Some(f) => {
            let _ = write!(
                page,
                "<section>\n<h2>Plan ahead: {days} days from {from}</h2>\n<div class=\"figures\">\n\
                 <div class=\"figure\"><b>{accounts}</b><span>accounts</span></div>\n\
                 <div class=\"figure\"><b>{added}</b><span>items added</span></div>\n\
                 <div class=\"figure\"><b>{removed}</b><span>items removed</span></div>\n\
                 <div class=\"figure\"><b>{moved}</b><span>items moved</span></div>\n</div>\n\
                 <table>\n<tr><th>change</th><th>account</th><th>step</th><th>live</th><th>candidate</th></tr>\n",
                days = f.days,
                from = instant(f.from),
                accounts = f.accounts,
                added = f.added,
                removed = f.removed,
                moved = f.moved,
            );
            for PlanChange {
                change,
                account_id,
                step,
                live_at,
                candidate_at,
                ..
            } in &f.examples
            {
                let _ = writeln!(
                    page,
                    "<tr><td>{change}</td><td class=\"k\">{}</td><td>{}</td><td class=\"k\">{}</td><td class=\"k\">{}</td></tr>",
                    escape_html(account_id),
                    escape_html(step),
                    instant(*live_at),
                    instant(*candidate_at),
                );
            }
            page.push_str("</table>\n</section>\n");
        }
    }
    page.push_str(
        "</main>\n<footer>Made by <code>dunner rules impact</code>. Each logged decision is replayed \
         on its recorded question against the account and the ledger as they stood.</footer>\n</body>\n</html>\n",
    );
    page
}

fn flip_table(page: &mut String, title: &str, name: &str, totals: &[FlipTotal]) {
    let _ = write!(
        page,
        "<section>\n<h2>{title}</h2>\n<table>\n<tr><th>{name}</th><th class=\"n\">allow → refuse</th><th class=\"n\">refuse → allow</th><th class=\"n\">next allowed moved</th></tr>\n"
    );
    for total in totals {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape_html(&total.name),
            total.flips.allow_to_refuse,
            total.flips.refuse_to_allow,
            total.flips.next_allowed_moved
        );
    }
    page.push_str("</table>\n</section>\n");
}

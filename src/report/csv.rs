//! Reports as CSV: one table per section, a header row first (RFC 4180 quoting, `\n`
//! line ends). A one-section report is exactly its table; the `summary` is every
//! section's table one after another, each introduced by a `# section: NAME` line and
//! followed by a blank line — ask for a section by name to load it into a tool as is.
//!
//! Pure: a [`Report`] in, text out.

use std::fmt::Write as _;

use super::Report;
use super::labels::{json_name, period_text};

/// The CSV text of a report.
pub fn render(report: &Report) -> String {
    let tables = tables(report);
    let summary = tables.len() != 1;
    let mut out = String::new();
    for (name, rows) in tables {
        if summary {
            let _ = writeln!(out, "# section: {name}");
        }
        for row in rows {
            let line: Vec<String> = row.iter().map(|cell| quote(cell)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        if summary {
            out.push('\n');
        }
    }
    out
}

type Table = Vec<Vec<String>>;

/// Every section's table, in the report's order.
fn tables(report: &Report) -> Vec<(&'static str, Table)> {
    let mut tables = Vec::new();
    if let Some(contacts) = &report.contacts {
        let mut rows = vec![header(&["day", "channel", "contacts"])];
        rows.extend(contacts.by_day.iter().map(|d| {
            vec![
                d.day.to_string(),
                d.channel.to_string(),
                d.contacts.to_string(),
            ]
        }));
        tables.push(("contacts", rows));
    }
    if let Some(refusals) = &report.refusals {
        let mut rows = vec![header(&["rule", "pack", "refusals", "deferred", "stopped"])];
        rows.extend(refusals.by_rule.iter().map(|r| {
            vec![
                r.rule.clone(),
                r.pack.clone(),
                r.refusals.to_string(),
                r.deferred.to_string(),
                r.stopped.to_string(),
            ]
        }));
        tables.push(("refusals", rows));
    }
    if let Some(caps) = &report.caps {
        let mut rows = vec![header(&[
            "rule", "pack", "citation", "limit", "period", "per", "warning", "at_cap", "near_cap",
        ])];
        rows.extend(caps.rules.iter().map(|c| {
            vec![
                c.rule.clone(),
                c.pack.clone(),
                c.citation.clone(),
                c.limit.to_string(),
                period_text(&c.period),
                json_name(&c.per),
                c.warning.to_string(),
                c.at_cap.to_string(),
                c.near_cap.to_string(),
            ]
        }));
        tables.push(("caps", rows));
    }
    if let Some(holds) = &report.holds {
        let mut rows = vec![header(&["hold", "accounts"])];
        rows.extend(
            holds
                .by_hold
                .iter()
                .map(|h| vec![h.hold.as_str().to_string(), h.accounts.to_string()]),
        );
        rows.push(vec!["any".into(), holds.on_hold.to_string()]);
        tables.push(("holds", rows));
    }
    if let Some(aging) = &report.aging {
        let mut rows = vec![header(&[
            "bucket", "min_days", "max_days", "accounts", "currency", "balance",
        ])];
        let buckets = aging.buckets.iter().map(|b| {
            (
                b.bucket.as_str(),
                b.min_days.to_string(),
                b.max_days.map(|d| d.to_string()).unwrap_or_default(),
                &b.tally,
            )
        });
        let undated = std::iter::once(("undated", String::new(), String::new(), &aging.undated));
        for (bucket, min, max, tally) in buckets.chain(undated) {
            let row = |currency: String, balance: String| {
                vec![
                    bucket.to_string(),
                    min.clone(),
                    max.clone(),
                    tally.accounts.to_string(),
                    currency,
                    balance,
                ]
            };
            if tally.balances.is_empty() {
                rows.push(row(String::new(), String::new()));
            }
            for total in &tally.balances {
                rows.push(row(total.currency.clone(), total.amount.to_string()));
            }
        }
        tables.push(("aging", rows));
    }
    if let Some(rpc) = &report.right_party_contacts {
        let mut rows = vec![header(&[
            "day",
            "attempts",
            "right_party",
            "wrong_party",
            "rate",
        ])];
        rows.extend(rpc.by_day.iter().map(|d| {
            vec![
                d.day.to_string(),
                d.attempts.to_string(),
                d.right_party.to_string(),
                d.wrong_party.to_string(),
                rate(d.rate),
            ]
        }));
        rows.push(vec![
            "total".into(),
            rpc.attempts.to_string(),
            rpc.right_party.to_string(),
            rpc.wrong_party.to_string(),
            rate(rpc.rate),
        ]);
        tables.push(("right_party_contacts", rows));
    }
    if let Some(promises) = &report.promises {
        let mut rows = vec![header(&["state", "promises", "currency", "amount"])];
        for count in &promises.by_state {
            let state = json_name(&count.state);
            if count.amounts.is_empty() {
                rows.push(vec![
                    state.clone(),
                    count.promises.to_string(),
                    String::new(),
                    String::new(),
                ]);
            }
            for amount in &count.amounts {
                rows.push(vec![
                    state.clone(),
                    count.promises.to_string(),
                    amount.currency.clone(),
                    amount.amount.to_string(),
                ]);
            }
        }
        tables.push(("promises", rows));
    }
    if let Some(windows) = &report.windows {
        let mut head = vec!["date".to_string(), "weekday".to_string()];
        head.extend((0..24).map(|hour| format!("{hour:02}:00")));
        let mut rows = vec![head];
        rows.extend(windows.days.iter().map(|day| {
            let mut row = vec![day.date.to_string(), day.weekday.clone()];
            row.extend(day.hours.iter().map(|share| rate(*share)));
            row
        }));
        tables.push(("windows", rows));
    }
    if let Some(unreported) = &report.unreported_outcomes {
        let mut rows = vec![header(&[
            "account_id",
            "attempt_id",
            "at",
            "channel",
            "purpose",
        ])];
        rows.extend(unreported.attempts.iter().map(|attempt| {
            vec![
                attempt.account_id.clone(),
                attempt.attempt_id.clone(),
                attempt.at.to_rfc3339(),
                attempt.channel.map_or(String::new(), |c| json_name(&c)),
                attempt.purpose.map_or(String::new(), |p| json_name(&p)),
            ]
        }));
        tables.push(("unreported_outcomes", rows));
    }
    tables
}

fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_string()).collect()
}

/// A share with four decimals; empty when there is none.
fn rate(value: Option<f64>) -> String {
    value.map_or(String::new(), |value| format!("{value:.4}"))
}

/// RFC 4180: a field with a comma, a quote or a line break is quoted, quotes doubled.
pub fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_and_quotes_are_quoted() {
        assert_eq!(
            quote("12 CFR 1006.14(b)(2)(i)(A)"),
            "12 CFR 1006.14(b)(2)(i)(A)"
        );
        assert_eq!(
            quote("362(a)(6); 524(a)(2), x"),
            "\"362(a)(6); 524(a)(2), x\""
        );
        assert_eq!(quote("say \"stop\""), "\"say \"\"stop\"\"\"");
    }
}

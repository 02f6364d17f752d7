//! Reports as one self-contained HTML page: inline CSS, charts as inline SVG, no
//! script, no external asset (no fonts, images or style sheets to fetch), so the page
//! can be mailed, archived or opened offline. Every chart has a title, axis labels and
//! a legend; the page names the period, the report's instant, the policy digest and
//! when it was made. Hovering a bar shows its figure (SVG `<title>`), and the tables
//! under the charts carry every figure as text.
//!
//! Pure: a [`Report`] in, text out.

use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::aging::{AgingSection, MoneyTotal};
use super::caps::CapsSection;
use super::contacts::{ContactsSection, RightPartySection};
use super::holds::HoldsSection;
use super::labels::{json_name, period_text};
use super::outcomes::UnreportedOutcomesSection;
use super::promises::PromisesSection;
use super::refusals::RefusalsSection;
use super::windows::WindowsSection;
use super::{Report, ReportName};
use crate::domain::Channel;

/// The title of each section on the page.
pub fn section_title(section: ReportName) -> &'static str {
    match section {
        ReportName::Summary => "Summary",
        ReportName::Contacts => "Contacts by channel and day",
        ReportName::Refusals => "Refusals by rule",
        ReportName::Caps => "Accounts at or near a cap",
        ReportName::Holds => "Legal holds",
        ReportName::Aging => "Aging",
        ReportName::RightPartyContacts => "Right-party contacts",
        ReportName::Promises => "Promises to pay",
        ReportName::Windows => "Permitted contact windows",
        ReportName::UnreportedOutcomes => "Attempts whose outcome never arrived",
    }
}

/// The page's style sheet, shared with the audit's page.
pub const STYLE: &str = r#"
:root { --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --paper: #ffffff; --band: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--band); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #243b53; color: #f0f4f8; padding: 20px 32px; }
header h1 { margin: 0 0 6px; font-size: 24px; }
header dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0 0; }
header dt { color: #bcccdc; } header dd { margin: 0; font-variant-numeric: tabular-nums; }
header code { font-size: 12px; word-break: break-all; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 24px 40px; }
section { background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
          padding: 16px 20px 20px; margin: 18px 0; }
h2 { margin: 0 0 4px; font-size: 19px; }
p.note { margin: 2px 0 12px; color: var(--muted); }
.figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 10px 0 14px; }
.figure { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 130px; }
.figure b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.figure span { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; margin-top: 12px; width: 100%; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.k { white-space: nowrap; }
svg { display: block; max-width: 100%; height: auto; margin-top: 8px; }
svg text { font-family: inherit; fill: var(--ink); }
svg .axis { fill: var(--muted); font-size: 11px; }
svg .title { font-size: 12px; font-weight: 600; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .value { font-size: 11px; }
footer { color: var(--muted); text-align: center; font-size: 12px; padding: 0 0 24px; }
"#;

/// The colour of each channel in the charts.
fn channel_colour(channel: Channel) -> &'static str {
    match channel {
        Channel::Call => "#4e79a7",
        Channel::Sms => "#f28e2b",
        Channel::Email => "#59a14f",
        Channel::Letter => "#b07aa1",
        Channel::Visit => "#76b7b2",
    }
}

const DEFERRED: &str = "#f28e2b";
const STOPPED: &str = "#e15759";
const AT_CAP: &str = "#e15759";
const NEAR_CAP: &str = "#edc948";
const NEUTRAL: &str = "#4e79a7";

/// The HTML page of a report.
pub fn render(report: &Report) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let title = format!("dunner report: {}", report.report.as_str());
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{title}</h1>\n<dl>\n\
         <dt>Period</dt><dd>{from} to {to} (UTC days, both included)</dd>\n\
         <dt>As of</dt><dd>{as_of} (caps, promises and aging are judged at this instant)</dd>\n\
         <dt>Generated</dt><dd>{generated}</dd>\n\
         <dt>Policy</dt><dd><code>{digest}</code></dd>\n</dl>\n</header>\n<main>\n",
        title = escape(&title),
        from = report.period.from,
        to = report.period.to,
        as_of = instant(&report.as_of),
        generated = instant(&report.generated_at),
        digest = escape(&report.policy_digest),
    );
    if let Some(section) = &report.contacts {
        contacts(&mut page, section);
    }
    if let Some(section) = &report.right_party_contacts {
        right_party(&mut page, section);
    }
    if let Some(section) = &report.refusals {
        refusals(&mut page, section);
    }
    if let Some(section) = &report.caps {
        caps(&mut page, section);
    }
    if let Some(section) = &report.holds {
        holds(&mut page, section);
    }
    if let Some(section) = &report.aging {
        aging(&mut page, section);
    }
    if let Some(section) = &report.promises {
        promises(&mut page, section);
    }
    if let Some(section) = &report.windows {
        windows(&mut page, section);
    }
    if let Some(section) = &report.unreported_outcomes {
        unreported_outcomes(&mut page, section);
    }
    page.push_str(
        "</main>\n<footer>Made by <code>dunner report</code>. Days are UTC days; counts come \
         from the ledger and the decision log, caps from the engine.</footer>\n</body>\n</html>\n",
    );
    page
}

fn open_section(page: &mut String, section: ReportName, note: &str) {
    let _ = write!(
        page,
        "<section id=\"{id}\">\n<h2>{title}</h2>\n<p class=\"note\">{note}</p>\n",
        id = section.as_str(),
        title = section_title(section),
    );
}

fn figures(page: &mut String, figures: &[(String, &str)]) {
    page.push_str("<div class=\"figures\">");
    for (value, label) in figures {
        let _ = write!(
            page,
            "<div class=\"figure\"><b>{}</b><span>{}</span></div>",
            escape(value),
            escape(label)
        );
    }
    page.push_str("</div>\n");
}

fn contacts(page: &mut String, section: &ContactsSection) {
    open_section(
        page,
        ReportName::Contacts,
        "Every contact recorded in the ledger (calls, texts, emails, letters, visits; outbound and inbound), by UTC day.",
    );
    let mut shown = vec![(count(section.total), "contacts")];
    for channel in &section.by_channel {
        shown.push((count(channel.contacts), channel.channel.as_str()));
    }
    figures(page, &shown);
    let channels: Vec<Channel> = section.by_channel.iter().map(|c| c.channel).collect();
    let days: Vec<String> = {
        let mut days: Vec<String> = section.by_day.iter().map(|d| d.day.to_string()).collect();
        days.dedup();
        days
    };
    let series: Vec<Series> = channels
        .iter()
        .map(|&channel| Series {
            name: channel.as_str().to_string(),
            colour: channel_colour(channel),
            values: section
                .by_day
                .iter()
                .filter(|d| d.channel == channel)
                .map(|d| d.contacts as f64)
                .collect(),
        })
        .collect();
    page.push_str(&columns(&ColumnChart {
        title: "Contacts per day, by channel",
        categories: &days,
        short: |day: &str| day.get(5..).unwrap_or(day).to_string(),
        series: &series,
        x_label: "Day (UTC)",
        y_label: "Contacts",
        percent: false,
    }));
    page.push_str(
        "<table><thead><tr><th>Channel</th><th class=\"n\">Contacts</th><th class=\"n\">Outbound</th>\
         <th class=\"n\">Inbound</th><th>Outcomes</th></tr></thead><tbody>\n",
    );
    for channel in &section.by_channel {
        let outcomes: Vec<String> = channel
            .outcomes
            .iter()
            .map(|o| {
                let name = o.outcome.map_or("not recorded", |o| o.as_str());
                format!("{name} {}", count(o.contacts))
            })
            .collect();
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            channel.channel,
            count(channel.contacts),
            count(channel.outbound),
            count(channel.inbound),
            escape(&outcomes.join(" · "))
        );
    }
    page.push_str("</tbody></table>\n</section>\n");
}

fn right_party(page: &mut String, section: &RightPartySection) {
    open_section(
        page,
        ReportName::RightPartyContacts,
        "Outbound calls that reached the consumer (a conversation) per outbound call attempt. Wrong parties are counted apart; calls the consumer made are not attempts.",
    );
    figures(
        page,
        &[
            (percent(section.rate), "right-party rate"),
            (count(section.attempts), "outbound calls"),
            (count(section.right_party), "conversations"),
            (count(section.wrong_party), "wrong parties"),
            (percent(section.wrong_party_rate), "wrong-party rate"),
            (count(section.inbound_calls), "inbound calls"),
        ],
    );
    let days: Vec<String> = section.by_day.iter().map(|d| d.day.to_string()).collect();
    let series = [Series {
        name: "right-party rate".into(),
        colour: NEUTRAL,
        values: section
            .by_day
            .iter()
            .map(|d| d.rate.unwrap_or(0.0) * 100.0)
            .collect(),
    }];
    page.push_str(&columns(&ColumnChart {
        title: "Right-party rate per day",
        categories: &days,
        short: |day: &str| day.get(5..).unwrap_or(day).to_string(),
        series: &series,
        x_label: "Day (UTC)",
        y_label: "Rate (%)",
        percent: true,
    }));
    page.push_str("</section>\n");
}

fn refusals(page: &mut String, section: &RefusalsSection) {
    open_section(
        page,
        ReportName::Refusals,
        "Decisions logged in the period and the rules that refused them. A decision refused by several rules counts for each.",
    );
    figures(
        page,
        &[
            (count(section.decisions), "decisions"),
            (count(section.allowed), "allowed"),
            (count(section.deferred), "deferred"),
            (count(section.stopped), "stopped"),
        ],
    );
    if section.by_rule.is_empty() {
        page.push_str("<p>No refusals in the period.</p>\n</section>\n");
        return;
    }
    let labels: Vec<String> = section.by_rule.iter().map(|r| r.rule.clone()).collect();
    page.push_str(&bars(&BarChart {
        title: "Refusals per rule",
        labels: &labels,
        series: &[
            Series {
                name: "deferred".into(),
                colour: DEFERRED,
                values: section.by_rule.iter().map(|r| r.deferred as f64).collect(),
            },
            Series {
                name: "stopped (hold)".into(),
                colour: STOPPED,
                values: section.by_rule.iter().map(|r| r.stopped as f64).collect(),
            },
        ],
        x_label: "Refused decisions",
    }));
    page.push_str(
        "<table><thead><tr><th>Rule</th><th>Pack</th><th class=\"n\">Refusals</th>\
         <th class=\"n\">Deferred</th><th class=\"n\">Stopped</th></tr></thead><tbody>\n",
    );
    for rule in &section.by_rule {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"k\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&rule.rule),
            escape(&rule.pack),
            count(rule.refusals),
            count(rule.deferred),
            count(rule.stopped)
        );
    }
    page.push_str("</tbody></table>\n</section>\n");
}

fn unreported_outcomes(page: &mut String, section: &UnreportedOutcomesSection) {
    let note = format!(
        "Attempts recorded when dialled, without an outcome, and made before {} with none reported since: the caps count each as a possible conversation for good.",
        instant(&section.made_before)
    );
    open_section(page, ReportName::UnreportedOutcomes, &escape(&note));
    figures(page, &[(count(section.total), "attempts")]);
    page.push_str(
        "<table><thead><tr><th>Account</th><th>Attempt</th><th>Made</th><th>Channel</th>\
         <th>Purpose</th></tr></thead><tbody>\n",
    );
    for attempt in &section.attempts {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"k\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&attempt.account_id),
            escape(&attempt.attempt_id),
            instant(&attempt.at),
            attempt.channel.map_or(String::new(), |c| json_name(&c)),
            attempt.purpose.map_or(String::new(), |p| json_name(&p)),
        );
    }
    page.push_str("</tbody></table>\n</section>\n");
}

fn caps(page: &mut String, section: &CapsSection) {
    let note = format!(
        "Budgets at {} as the engine counts them. At: nothing remaining (the cap refuses). Near: some used, at most {} remaining. {} accounts could be near a cap and were checked.",
        instant(&section.as_of),
        section.near,
        count(section.accounts_checked)
    );
    open_section(page, ReportName::Caps, &escape(&note));
    let labels: Vec<String> = section
        .rules
        .iter()
        .map(|r| {
            if r.warning {
                format!("{} (warning)", r.rule)
            } else {
                r.rule.clone()
            }
        })
        .collect();
    page.push_str(&bars(&BarChart {
        title: "Accounts at or near each cap",
        labels: &labels,
        series: &[
            Series {
                name: "at the cap".into(),
                colour: AT_CAP,
                values: section.rules.iter().map(|r| r.at_cap as f64).collect(),
            },
            Series {
                name: "near it".into(),
                colour: NEAR_CAP,
                values: section.rules.iter().map(|r| r.near_cap as f64).collect(),
            },
        ],
        x_label: "Accounts",
    }));
    page.push_str(
        "<table><thead><tr><th>Cap</th><th>Pack</th><th>Limit</th><th>Per</th><th>Citation</th>\
         <th class=\"n\">At</th><th class=\"n\">Near</th></tr></thead><tbody>\n",
    );
    for rule in &section.rules {
        let _ = writeln!(
            page,
            "<tr><td>{}{}</td><td class=\"k\">{}</td><td>{} per {}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&rule.rule),
            if rule.warning {
                " <i>(warning)</i>"
            } else {
                ""
            },
            escape(&rule.pack),
            rule.limit,
            escape(&period_text(&rule.period)),
            escape(&json_name(&rule.per)),
            escape(&rule.citation),
            count(rule.at_cap),
            count(rule.near_cap)
        );
    }
    page.push_str("</tbody></table>\n</section>\n");
}

fn holds(page: &mut String, section: &HoldsSection) {
    open_section(
        page,
        ReportName::Holds,
        "Accounts carrying each legal hold now. An account may carry several; it counts once as on hold.",
    );
    figures(
        page,
        &[
            (count(section.accounts), "accounts"),
            (count(section.on_hold), "on hold"),
        ],
    );
    let labels: Vec<String> = section
        .by_hold
        .iter()
        .map(|h| h.hold.as_str().replace('_', " "))
        .collect();
    page.push_str(&bars(&BarChart {
        title: "Accounts per hold",
        labels: &labels,
        series: &[Series {
            name: "accounts".into(),
            colour: STOPPED,
            values: section.by_hold.iter().map(|h| h.accounts as f64).collect(),
        }],
        x_label: "Accounts",
    }));
    page.push_str("</section>\n");
}

fn aging(page: &mut String, section: &AgingSection) {
    let basis = match section.basis {
        super::AgingBasis::Placement => "placement",
        super::AgingBasis::ChargeOff => "charge-off",
    };
    let note = format!(
        "Accounts by days since {basis}, counted to {}; balances are current, summed per currency. {} accounts have no {basis} date; {} are dated after {}.",
        section.as_of_date,
        count(section.undated.accounts),
        count(section.after_as_of),
        section.as_of_date
    );
    open_section(page, ReportName::Aging, &escape(&note));
    let labels: Vec<String> = section
        .buckets
        .iter()
        .map(|b| format!("{} days", b.bucket))
        .collect();
    let series = [Series {
        name: "accounts".into(),
        colour: NEUTRAL,
        values: section
            .buckets
            .iter()
            .map(|b| b.tally.accounts as f64)
            .collect(),
    }];
    page.push_str(&columns(&ColumnChart {
        title: &format!("Accounts by days since {basis}"),
        categories: &labels,
        short: |label: &str| label.to_string(),
        series: &series,
        x_label: &format!("Days since {basis}"),
        y_label: "Accounts",
        percent: false,
    }));
    page.push_str(
        "<table><thead><tr><th>Age</th><th class=\"n\">Accounts</th><th class=\"n\">Balance</th></tr></thead><tbody>\n",
    );
    for bucket in &section.buckets {
        let _ = writeln!(
            page,
            "<tr><td>{} days</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&bucket.bucket),
            count(bucket.tally.accounts),
            money_list(&bucket.tally.balances)
        );
    }
    let _ = writeln!(
        page,
        "<tr><td>no date</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
        count(section.undated.accounts),
        money_list(&section.undated.balances)
    );
    page.push_str("</tbody></table>\n</section>\n");
}

fn promises(page: &mut String, section: &PromisesSection) {
    open_section(
        page,
        ReportName::Promises,
        "Promises to pay made in the period, judged on its last day: kept when the payments from the promise to its due day cover it, broken when the due day passed without, pending otherwise.",
    );
    figures(
        page,
        &[
            (count(section.made), "promises made"),
            (percent(section.kept_rate), "kept (of kept and broken)"),
        ],
    );
    let colour = |state: &str| match state {
        "kept" => "#59a14f",
        "broken" => STOPPED,
        _ => "#bab0ac",
    };
    let labels: Vec<String> = section
        .by_state
        .iter()
        .map(|s| json_name(&s.state))
        .collect();
    let series: Vec<Series> = section
        .by_state
        .iter()
        .enumerate()
        .map(|(index, state)| Series {
            name: json_name(&state.state),
            colour: colour(&json_name(&state.state)),
            values: (0..section.by_state.len())
                .map(|i| {
                    if i == index {
                        state.promises as f64
                    } else {
                        0.0
                    }
                })
                .collect(),
        })
        .collect();
    page.push_str(&bars(&BarChart {
        title: "Promises by outcome",
        labels: &labels,
        series: &series,
        x_label: "Promises",
    }));
    page.push_str(
        "<table><thead><tr><th>Promises</th><th class=\"n\">Count</th><th class=\"n\">Promised</th></tr></thead><tbody>\n",
    );
    for state in &section.by_state {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&json_name(&state.state)),
            count(state.promises),
            money_list(&state.amounts)
        );
    }
    page.push_str("</tbody></table>\n");
    page.push_str(
        "<table><thead><tr><th>Payment plans agreed in the period</th><th class=\"n\">Plans</th></tr></thead><tbody>\n",
    );
    for plan in &section.plans {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(&json_name(&plan.state)),
            count(plan.plans)
        );
    }
    page.push_str("</tbody></table>\n</section>\n");
}

fn windows(page: &mut String, section: &WindowsSection) {
    let note = format!(
        "When the policy allows a {} to account {}, hour by hour over the seven local days from {}, in {} time (candidate zones: {}), assuming no new contacts: {:.1} hours allowed.",
        section.channel,
        section.account,
        section
            .days
            .first()
            .map(|d| d.date.to_string())
            .unwrap_or_default(),
        section.time_zone,
        section.time_zones.join(", "),
        section.allowed_hours
    );
    open_section(page, ReportName::Windows, &escape(&note));
    page.push_str(&heat_map(section));
    if !section.caps.is_empty() {
        page.push_str(
            "<table><thead><tr><th>Cap</th><th>Contact point</th><th class=\"n\">Used</th>\
             <th class=\"n\">Remaining</th><th>Resets</th></tr></thead><tbody>\n",
        );
        for cap in &section.caps {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{} of {}</td><td>{}</td></tr>",
                escape(&cap.rule),
                escape(cap.contact_point.as_deref().unwrap_or("")),
                cap.used,
                cap.remaining,
                cap.limit,
                cap.resets_at.as_ref().map(instant).unwrap_or_default()
            );
        }
        page.push_str("</tbody></table>\n");
    }
    page.push_str("</section>\n");
}

/// One coloured series of a chart.
struct Series {
    name: String,
    colour: &'static str,
    values: Vec<f64>,
}

/// Vertical bars, one group per category, series stacked.
struct ColumnChart<'a> {
    title: &'a str,
    categories: &'a [String],
    /// The label shown under a category (`04-07` for `2026-04-07`).
    short: fn(&str) -> String,
    series: &'a [Series],
    x_label: &'a str,
    y_label: &'a str,
    /// Values are percentages: the axis goes to 100.
    percent: bool,
}

const WIDTH: f64 = 1100.0;

fn columns(chart: &ColumnChart<'_>) -> String {
    let (left, right, top, bottom, height) = (64.0, 16.0, 56.0, 58.0, 340.0);
    let plot_w = WIDTH - left - right;
    let plot_h = height - top - bottom;
    let totals: Vec<f64> = (0..chart.categories.len())
        .map(|i| chart.series.iter().filter_map(|s| s.values.get(i)).sum())
        .collect();
    let max = totals.iter().copied().fold(0.0, f64::max);
    // Rates are read against their own range (a 6% rate would be a sliver on 0-100%).
    let (axis_max, step) = if chart.percent {
        let (axis_max, step) = nice_axis(max.max(1.0));
        (axis_max.min(100.0), step)
    } else {
        nice_axis(max)
    };
    let mut svg = svg_open(WIDTH, height, chart.title);
    legend(&mut svg, chart.series, left, 40.0);
    grid_y(
        &mut svg,
        left,
        top,
        plot_w,
        plot_h,
        axis_max,
        step,
        chart.percent,
    );
    let n = chart.categories.len().max(1) as f64;
    let band = plot_w / n;
    let bar = (band * 0.8).max(1.0);
    let every = (chart.categories.len() / 16).max(1);
    for (i, category) in chart.categories.iter().enumerate() {
        let x = left + band * i as f64 + (band - bar) / 2.0;
        let mut y = top + plot_h;
        for series in chart.series {
            let value = series.values.get(i).copied().unwrap_or(0.0);
            if value <= 0.0 {
                continue;
            }
            let h = value / axis_max * plot_h;
            y -= h;
            let shown = if chart.percent {
                format!("{value:.1}%")
            } else {
                count(value as u64)
            };
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                series.colour,
                escape(category),
                escape(&series.name),
                shown
            );
        }
        if i % every == 0 {
            let _ = write!(
                svg,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                top + plot_h + 16.0,
                escape(&(chart.short)(category))
            );
        }
    }
    axis_titles(
        &mut svg,
        left,
        top,
        plot_w,
        plot_h,
        chart.x_label,
        chart.y_label,
        height,
    );
    svg.push_str("</svg>\n");
    svg
}

/// Horizontal bars, one row per label, series stacked.
struct BarChart<'a> {
    title: &'a str,
    labels: &'a [String],
    series: &'a [Series],
    x_label: &'a str,
}

fn bars(chart: &BarChart<'_>) -> String {
    let longest = chart
        .labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let left = (longest as f64 * 7.0 + 24.0).clamp(80.0, 420.0);
    let (right, top, row, bottom) = (90.0, 56.0, 26.0, 44.0);
    let height = top + row * chart.labels.len().max(1) as f64 + bottom;
    let plot_w = WIDTH - left - right;
    let totals: Vec<f64> = (0..chart.labels.len())
        .map(|i| chart.series.iter().filter_map(|s| s.values.get(i)).sum())
        .collect();
    let (axis_max, step) = nice_axis(totals.iter().copied().fold(0.0, f64::max));
    let mut svg = svg_open(WIDTH, height, chart.title);
    if chart.series.len() > 1 {
        legend(&mut svg, chart.series, left, 40.0);
    }
    let plot_h = row * chart.labels.len().max(1) as f64;
    // Vertical grid lines with their values.
    let mut tick = 0.0;
    while tick <= axis_max + step / 2.0 {
        let x = left + tick / axis_max * plot_w;
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            top + plot_h,
            top + plot_h + 14.0,
            count(tick as u64)
        );
        tick += step;
    }
    for (i, label) in chart.labels.iter().enumerate() {
        let y = top + row * i as f64;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\">{}</text>",
            left - 8.0,
            y + row / 2.0 + 4.0,
            escape(label)
        );
        let mut x = left;
        for series in chart.series {
            let value = series.values.get(i).copied().unwrap_or(0.0);
            if value <= 0.0 {
                continue;
            }
            let w = value / axis_max * plot_w;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                y + 4.0,
                row - 8.0,
                series.colour,
                escape(label),
                escape(&series.name),
                count(value as u64)
            );
            x += w;
        }
        let total = totals.get(i).copied().unwrap_or(0.0);
        let _ = write!(
            svg,
            "<text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 6.0,
            y + row / 2.0 + 4.0,
            count(total as u64)
        );
    }
    let _ = write!(
        svg,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        left + plot_w / 2.0,
        height - 10.0,
        escape(chart.x_label)
    );
    svg.push_str("</svg>\n");
    svg
}

fn heat_map(section: &WindowsSection) -> String {
    let (left, top, cell_w, cell_h) = (110.0, 76.0, 40.0, 30.0);
    let width = left + cell_w * 24.0 + 20.0;
    let height = top + cell_h * section.days.len() as f64 + 70.0;
    let title = format!(
        "{} allowed, share of each local hour ({})",
        section.channel, section.time_zone
    );
    let mut svg = svg_open(width, height, &title);
    for hour in 0..24 {
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{hour:02}</text>",
            left + cell_w * f64::from(hour) + cell_w / 2.0,
            top - 8.0
        );
    }
    let _ = write!(
        svg,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">Local hour of day ({})</text>",
        left + cell_w * 12.0,
        top - 26.0,
        escape(&section.time_zone)
    );
    for (row, day) in section.days.iter().enumerate() {
        let y = top + cell_h * row as f64;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\">{} {}</text>",
            left - 8.0,
            y + cell_h / 2.0 + 4.0,
            escape(&day.weekday),
            day.date.format("%m-%d")
        );
        for (hour, share) in day.hours.iter().enumerate() {
            let x = left + cell_w * hour as f64;
            let (fill, text) = match share {
                Some(share) => (heat_colour(*share), format!("{:.0}%", share * 100.0)),
                None => ("#d9d9d9".to_string(), "skipped (DST)".to_string()),
            };
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" stroke=\"#ffffff\"><title>{} {} {hour:02}:00: {text}</title></rect>",
                cell_w,
                cell_h,
                escape(&day.weekday),
                day.date
            );
        }
    }
    // The scale.
    let legend_y = top + cell_h * section.days.len() as f64 + 22.0;
    let _ = write!(
        svg,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">Share of the hour allowed:</text>",
        left + 170.0,
        legend_y + 12.0
    );
    for step in 0..=4 {
        let share = f64::from(step) / 4.0;
        let x = left + 180.0 + f64::from(step) * 70.0;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{legend_y:.1}\" width=\"24\" height=\"16\" fill=\"{}\" stroke=\"#9aa5b1\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\">{:.0}%</text>",
            heat_colour(share),
            x + 30.0,
            legend_y + 12.0,
            share * 100.0
        );
    }
    let _ = write!(
        svg,
        "<rect x=\"{:.1}\" y=\"{legend_y:.1}\" width=\"24\" height=\"16\" fill=\"#d9d9d9\" stroke=\"#9aa5b1\"/>\
         <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\">hour skipped (DST)</text>",
        left + 540.0,
        left + 570.0,
        legend_y + 12.0
    );
    svg.push_str("</svg>\n");
    svg
}

/// From near-white (never allowed) to green (allowed the whole hour).
fn heat_colour(share: f64) -> String {
    let share = share.clamp(0.0, 1.0);
    let mix = |from: f64, to: f64| (from + (to - from) * share).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(245.0, 26.0),
        mix(245.0, 152.0),
        mix(245.0, 80.0)
    )
}

fn svg_open(width: f64, height: f64, title: &str) -> String {
    format!(
        "<svg viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"{title}\">\
         <text class=\"title\" x=\"0\" y=\"16\">{title}</text>",
        title = escape(title)
    )
}

fn legend(svg: &mut String, series: &[Series], left: f64, y: f64) {
    let mut x = left;
    for s in series {
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            y - 10.0,
            s.colour,
            x + 16.0,
            escape(&s.name)
        );
        x += 16.0 + 7.0 * s.name.chars().count() as f64 + 18.0;
    }
}

#[expect(clippy::too_many_arguments, reason = "the plot's geometry, named")]
fn grid_y(
    svg: &mut String,
    left: f64,
    top: f64,
    plot_w: f64,
    plot_h: f64,
    axis_max: f64,
    step: f64,
    percent: bool,
) {
    let mut tick = 0.0;
    while tick <= axis_max + step / 2.0 {
        let y = top + plot_h - tick / axis_max * plot_h;
        let label = if percent {
            format!("{tick:.0}%")
        } else {
            count(tick as u64)
        };
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
            left + plot_w,
            left - 6.0,
            y + 4.0
        );
        tick += step;
    }
}

#[expect(clippy::too_many_arguments, reason = "the plot's geometry, named")]
fn axis_titles(
    svg: &mut String,
    left: f64,
    top: f64,
    plot_w: f64,
    plot_h: f64,
    x_label: &str,
    y_label: &str,
    height: f64,
) {
    let _ = write!(
        svg,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text class=\"axis\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        left + plot_w / 2.0,
        height - 12.0,
        escape(x_label),
        top + plot_h / 2.0,
        escape(y_label)
    );
}

/// An axis maximum and step: 1, 2 or 5 times a power of ten, about five steps.
fn nice_axis(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 1.0);
    }
    let raw = max / 5.0;
    let power = 10_f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
        .max(1.0);
    ((max / step).ceil() * step, step)
}

fn instant(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `1,234,567`.
fn count(n: u64) -> String {
    group(&n.to_string())
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "n/a".to_string(), |rate| format!("{:.1}%", rate * 100.0))
}

/// `USD 1,842.17; EUR 5.00`, or `–` for none.
fn money_list(totals: &[MoneyTotal]) -> String {
    if totals.is_empty() {
        return "–".to_string();
    }
    totals
        .iter()
        .map(|total| format!("{} {}", escape(&total.currency), money(total.amount)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// An amount to the cent with thousands separators (the JSON keeps every digit).
fn money(amount: Decimal) -> String {
    let text = format!("{:.2}", amount.round_dp(2));
    let (sign, digits) = text
        .strip_prefix('-')
        .map_or(("", text.as_str()), |d| ("-", d));
    let (whole, cents) = digits.split_once('.').unwrap_or((digits, "00"));
    format!("{sign}{}.{cents}", group(whole))
}

fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Text safe inside HTML elements and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_with_separators_and_cents() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(money("1842.175".parse().unwrap()), "1,842.18");
        assert_eq!(money("-1000".parse().unwrap()), "-1,000.00");
        assert_eq!(money("0.3".parse().unwrap()), "0.30");
        assert_eq!(percent(None), "n/a");
        assert_eq!(percent(Some(0.1234)), "12.3%");
    }

    #[test]
    fn axes_end_on_round_numbers_above_the_data() {
        assert_eq!(nice_axis(0.0), (1.0, 1.0));
        assert_eq!(nice_axis(7.0), (8.0, 2.0));
        assert_eq!(nice_axis(100.0), (100.0, 20.0));
        assert_eq!(nice_axis(168_431.0), (200_000.0, 50_000.0));
    }

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            escape("<b>\"A&B\"</b>"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;"
        );
        assert_eq!(heat_colour(0.0), "#f5f5f5");
        assert_eq!(heat_colour(1.0), "#1a9850");
    }
}

//! The console's pages: each checks the viewer's scope, reads through the store and
//! the pure code the API uses (the engine's overview, the windows, the planner, the
//! reports, the audit), and renders a template.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use minijinja::{Value, context};
use serde::Serialize;

use super::session::Viewer;
use super::{Console, Refusal, page_context};
use crate::auth::Scope;
use crate::domain::{Channel, Purpose};
use crate::engine::{DecideRequest, overview as verdicts_now};
use crate::http::AppState;
use crate::report::{Format, Period, RawQuery, ReportName, ReportQuery};
use crate::store::{EventQuery, NoticeStatus, lookback_start};

type Page = Result<Response, Refusal>;

fn value<T: Serialize>(data: &T) -> Value {
    Value::from(minijinja::value::Serde(data))
}

/// A query parameter, trimmed, absent when empty.
fn param<'a>(query: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    query
        .get(name)
        .map(|text| text.trim())
        .filter(|text| !text.is_empty())
}

/// The period of a page's `from`/`to` (UTC days; the default period of the reports).
fn period(query: &HashMap<String, String>, today: NaiveDate) -> Result<Period, Refusal> {
    let date = |field: &'static str| {
        param(query, field)
            .map(|text| Period::parse_date(field, text))
            .transpose()
            .map_err(|error| Refusal::Invalid(error.to_string()))
    };
    Period::new(date("from")?, date("to")?, today)
        .map_err(|error| Refusal::Invalid(error.to_string()))
}

/// `GET /console`: the live policy, today's contacts and refusals, the outbox, the
/// background tasks.
pub async fn overview(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    viewer: Viewer,
) -> Page {
    viewer.require(Scope::Decide)?;
    if viewer.require_every_client().is_err() {
        // The overview counts every client's contacts: a limited key starts at the lookup.
        return accounts(Extension(console), viewer).await;
    }
    let now = state.clock.now();
    let policy = state.policy.current();
    let status = state.policy.status();
    let today = now.date_naive();
    let raw = RawQuery {
        from: Some(&today.to_string()),
        to: Some(&today.to_string()),
        ..RawQuery::default()
    };
    let query = ReportQuery::parse("summary", &raw, today)
        .map_err(|error| Refusal::Invalid(error.to_string()))?;
    let report = crate::report::build(&state.store, Arc::clone(&policy), &query, now)
        .await
        .map_err(report_refusal)?;
    let gauges = state.store.outbox_gauges(now).await?;
    let outbox: Vec<Value> = gauges
        .by_channel
        .iter()
        .map(|counts| {
            context! { channel => counts.channel.clone(), due => counts.due, leased => counts.leased, dead => counts.dead }
        })
        .collect();
    let tasks: Vec<Value> = ["outbox worker", "scheduler", "rule watcher"]
        .into_iter()
        .map(|name| {
            let state = match state.tasks.state(name) {
                None => "not running".to_string(),
                Some(crate::tasks::TaskState::Running) => "running".to_string(),
                Some(crate::tasks::TaskState::Stopped) => "stopped".to_string(),
                Some(crate::tasks::TaskState::Restarting { panics, cause }) => {
                    format!("restarting after {panics} panic(s): {cause}")
                }
            };
            context! { name => name, state => state }
        })
        .collect();
    let packs: Vec<Value> = policy
        .packs()
        .iter()
        .map(|pack| context! { id => pack.id.to_string(), title => pack.title.clone(), version => pack.version.clone() })
        .collect();
    let page = context! {
        title => "Overview",
        now => now.to_rfc3339(),
        digest => policy.digest(),
        packs => packs,
        loaded_at => status.loaded_at.map(|at| at.to_rfc3339()),
        last_reload_error => status.last_error.as_deref().map(|error| crate::redact::redact(error).into_owned()),
        shadow_digest => state.policy.shadow().map(|shadow| shadow.digest().to_string()),
        shadow_error => state.policy.shadow_error().map(|error| crate::redact::redact(&error).into_owned()),
        contacts => value(&report.contacts),
        refusals => value(&report.refusals),
        outbox => outbox,
        oldest_due => gauges.oldest_due.map(|at| at.to_rfc3339()),
        tasks => tasks,
        scheduler_enabled => state.strategies.executed,
        scheduler_ticks => {
            let (ok, failed) = state.metrics.scheduler_tick_counts();
            let last = state.metrics.last_scheduler_tick();
            context! {
                ok => ok,
                failed => failed,
                last_at => last.map(|(at, _)| at.to_rfc3339()),
                last_ok => last.map(|(_, ok)| ok),
            }
        },
    };
    Ok(console.render("overview.html", page_context(&viewer, "overview", page)))
}

fn report_refusal(error: crate::report::ReportError) -> Refusal {
    match error {
        crate::report::ReportError::Store(error) => Refusal::Store(error),
        crate::report::ReportError::UnknownAccount(id) => {
            Refusal::NotFound(format!("account `{id}` does not exist"))
        }
        error => Refusal::Invalid(error.to_string()),
    }
}

/// `GET /console/accounts`: the lookup form (by id, phone or email, POSTed so that no
/// personal data lands in a URL or a log).
pub async fn accounts(Extension(console): Extension<Arc<Console>>, viewer: Viewer) -> Page {
    viewer.require(Scope::Decide)?;
    Ok(console.render(
        "accounts.html",
        page_context(&viewer, "accounts", context! { title => "Find an account" }),
    ))
}

/// `GET /console/accounts/{id}`: the verdict now for every channel and contact point,
/// the permitted windows of the next seven days as a heat map, the ledger as a
/// timeline, the plan ahead and the latest decisions.
pub async fn account(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Page {
    viewer.require(Scope::Decide)?;
    viewer.require_account(&state, &id).await?;
    let now = state.clock.now();
    let channel = match param(&query, "channel") {
        Some(name) => Channel::parse(name)
            .ok_or_else(|| Refusal::Invalid(format!("`channel`: no channel is named `{name}`")))?,
        None => Channel::Call,
    };
    let (account, history) = state
        .store
        .account_with_history(&id, lookback_start(now))
        .await?
        .ok_or_else(|| Refusal::NotFound(format!("account `{id}` does not exist")))?;
    let policy = state.policy.current();
    let request = DecideRequest {
        at: now,
        channel,
        purpose: Purpose::Collection,
        contact_point: None,
        account: account.clone(),
        history: history.clone(),
        horizon_days: None,
    };
    let verdicts = verdicts_now(&policy, &request);
    let windows = crate::report::windows::windows(&policy, &account, &history, channel, now);
    let heat: Vec<Value> = windows
        .days
        .iter()
        .map(|day| {
            let hours: Vec<Value> = day
                .hours
                .iter()
                .enumerate()
                .map(|(hour, share)| {
                    let percent = share.map(|share| (share * 100.0).round() as i64);
                    context! {
                        hour => format!("{hour:02}"),
                        percent => percent,
                        level => percent.map_or("skipped".to_string(), |p| format!("h{}", (p + 12) / 25)),
                    }
                })
                .collect();
            context! { date => day.date.to_string(), weekday => day.weekday.clone(), hours => hours }
        })
        .collect();
    let events = state
        .store
        .list_events(
            &id,
            &EventQuery {
                limit: Some(200),
                ..EventQuery::default()
            },
        )
        .await?;
    let latest = crate::store::DecisionSearch {
        account_id: Some(id.clone()),
        limit: 20,
        ..crate::store::DecisionSearch::default()
    };
    let decisions = state.store.search_decisions(&latest).await?;
    let decisions: Vec<Value> = decisions.iter().rev().map(decision_value).collect();
    let plan = plan_ahead(&state, &id, now).await?;
    // The flags that are set, by their wire names (the others are not worth a line).
    let flags_set: Vec<String> = match serde_json::to_value(account.flags) {
        Ok(serde_json::Value::Object(flags)) => flags
            .into_iter()
            .filter(|(_, set)| set == &serde_json::Value::Bool(true))
            .map(|(name, _)| name.replace('_', " "))
            .collect(),
        _ => Vec::new(),
    };
    let page = context! {
        title => format!("Account {id}"),
        id => id,
        now => now.to_rfc3339(),
        account => value(&account),
        flags_set => flags_set,
        verdicts => value(&verdicts),
        channel => channel.as_str(),
        channels => Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        heat => heat,
        heat_zone => windows.time_zone.clone(),
        heat_zones => windows.time_zones.clone(),
        allowed_hours => format!("{:.1}", windows.allowed_hours),
        events => value(&events.iter().rev().collect::<Vec<_>>()),
        decisions => decisions,
        plan => plan,
    };
    Ok(console.render("account.html", page_context(&viewer, "accounts", page)))
}

/// A logged decision for the templates: when, what was asked, the outcome and the
/// reasons with their citations.
fn decision_value(row: &crate::store::DecisionRow) -> Value {
    let decision: serde_json::Value =
        serde_json::from_str(row.decision.get()).unwrap_or(serde_json::Value::Null);
    context! {
        id => row.id.clone(),
        account_id => row.account_id.clone(),
        decided_at => row.decided_at.to_rfc3339(),
        question => value(&row.question),
        decision => value(&decision),
        recorded => row.event_id.is_some(),
    }
}

/// The plan of the configured strategies for the account, as `GET …/plan` makes it;
/// a note instead when none is configured or none covers the account.
async fn plan_ahead(state: &AppState, id: &str, now: DateTime<Utc>) -> Result<Value, Refusal> {
    let strategies = &state.strategies;
    if strategies.strategies().is_empty() {
        return Ok(
            context! { note => "No strategy is configured ([scheduler] strategies in dunner.toml)." },
        );
    }
    let Some(debts) = state.store.consumer_ledgers(id).await? else {
        return Ok(context! { note => "The account does not exist." });
    };
    let horizon = crate::planner::Horizon {
        not_before: now,
        first_day: None,
        days: 7,
    };
    let policy = state.policy.current();
    let planned = crate::planner::plan_under_set(strategies, &debts, &policy, &horizon)
        .into_iter()
        .zip(&debts)
        .find(|(_, debt)| debt.account.id == id)
        .and_then(|(planned, _)| planned)
        .and_then(|(index, plan)| Some((strategies.strategies().get(index)?, plan)));
    Ok(match planned {
        Some((strategy, plan)) => context! {
            strategy => strategy.id.clone(),
            strategy_title => strategy.title.clone(),
            executed => strategies.executed,
            plan => value(&plan),
        },
        None => context! { note => "No configured strategy's segment covers this account." },
    })
}

/// `GET /console/policy`: every pack and rule with its citation, scope and dates; with
/// `digest`, the pack texts behind a past digest.
pub async fn policy(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    viewer: Viewer,
    Query(query): Query<HashMap<String, String>>,
) -> Page {
    viewer.require(Scope::Decide)?;
    let policy = state.policy.current();
    let status = state.policy.status();
    let packs: Vec<Value> = policy
        .packs()
        .iter()
        .enumerate()
        .map(|(index, pack)| {
            let rules: Vec<Value> = policy
                .rules()
                .iter()
                .filter(|rule| rule.pack == index)
                .map(|rule| {
                    context! {
                        id => rule.id.to_string(),
                        citation => rule.citation.to_string(),
                        message => rule.message.to_string(),
                        channels => rule.channels.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                        effective => value(&rule.effective),
                    }
                })
                .collect();
            context! {
                id => pack.id.to_string(),
                title => pack.title.clone(),
                version => pack.version.clone(),
                citation => pack.citation.clone(),
                file => pack.file.clone(),
                scope => value(&pack.scope),
                effective => value(&pack.effective),
                rules => rules,
            }
        })
        .collect();
    let past = match param(&query, "digest") {
        Some(digest) => {
            let sources = state.store.policy_sources(digest).await?;
            Some(context! {
                digest => digest,
                found => sources.is_some(),
                files => sources.unwrap_or_default().into_iter().map(|(name, text)| context! { name => name, text => text }).collect::<Vec<_>>(),
            })
        }
        None => None,
    };
    let page = context! {
        title => "Policy",
        digest => policy.digest(),
        loaded_at => status.loaded_at.map(|at| at.to_rfc3339()),
        last_reload_error => status.last_error.as_deref().map(|error| crate::redact::redact(error).into_owned()),
        packs => packs,
        past => past,
    };
    Ok(console.render("policy.html", page_context(&viewer, "policy", page)))
}

/// How many decisions a page of the Decisions search shows.
const DECISION_PAGE: u32 = 50;

/// `GET /console/decisions`: the decision log searched across accounts by period, account,
/// rule and outcome (`service::search_decisions`'s store query, as `GET /v1/decisions`),
/// a page at a time in log order, each with its reasons and policy digest.
pub async fn decisions(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    viewer: Viewer,
    Query(query): Query<HashMap<String, String>>,
) -> Page {
    viewer.require(Scope::Decide)?;
    let account = param(&query, "account").map(str::to_string);
    let rule = param(&query, "rule").map(str::to_string);
    let outcome = param(&query, "outcome").map(str::to_string);
    if let Some(outcome) = &outcome
        && !["allow", "defer", "stop"].contains(&outcome.as_str())
    {
        return Err(Refusal::Invalid(format!(
            "`outcome`: `{outcome}` is not one of allow, defer, stop"
        )));
    }
    let after = param(&query, "after")
        .map(|text| {
            text.parse::<i64>()
                .map_err(|_| Refusal::Invalid(format!("`after`: `{text}` is not a log position")))
        })
        .transpose()?;
    let today = state.clock.now().date_naive();
    let period = period(&query, today)?;
    let search = crate::store::DecisionSearch {
        account_id: account.clone(),
        from: Some(period.start()),
        to: Some(period.end()),
        outcome: outcome.clone(),
        rule: rule.clone(),
        after,
        limit: DECISION_PAGE,
        clients: crate::service::listed_clients(&viewer.access, param(&query, "client")),
    };
    let rows = state.store.search_decisions(&search).await?;
    let next = (rows.len() == DECISION_PAGE as usize)
        .then(|| rows.last().map(|row| row.seq))
        .flatten();
    let next_query = next.map(|seq| {
        let mut parts = vec![
            format!("from={}", period.from),
            format!("to={}", period.to),
            format!("after={seq}"),
        ];
        for (name, value) in [
            ("account", &account),
            ("rule", &rule),
            ("outcome", &outcome),
        ] {
            if let Some(value) = value {
                parts.push(format!("{name}={}", super::url_part(value)));
            }
        }
        parts.join("&")
    });
    let page = context! {
        title => "Decisions",
        searched => true,
        account => account,
        rule => rule,
        outcome => outcome,
        from => period.from.to_string(),
        to => period.to.to_string(),
        decisions => rows.iter().map(decision_value).collect::<Vec<_>>(),
        next => next_query,
        paged => after.is_some(),
    };
    Ok(console.render("decisions.html", page_context(&viewer, "decisions", page)))
}

/// `GET /console/outbox`: queued, dead and cancelled notices, with why.
pub async fn outbox(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    viewer: Viewer,
    Query(query): Query<HashMap<String, String>>,
) -> Page {
    viewer.require(Scope::Decide)?;
    let clients = crate::service::listed_clients(&viewer.access, param(&query, "client"));
    let mut groups = Vec::new();
    for (status, heading) in [
        (NoticeStatus::Dead, "Dead letters"),
        (NoticeStatus::Pending, "Queued"),
        (NoticeStatus::Cancelled, "Cancelled by the policy"),
    ] {
        let notices = state
            .store
            .list_notices_within(Some(status), 200, clients.as_deref())
            .await?;
        let notices: Vec<Value> = notices
            .iter()
            .map(|notice| {
                context! {
                    id => notice.id.clone(),
                    account_id => notice.account_id.clone(),
                    status => notice.status.as_str(),
                    due_at => notice.due_at.to_rfc3339(),
                    attempts => notice.attempts,
                    why => notice.last_error.as_deref().map(crate::redact::redact),
                    request => value(&notice.request),
                    updated_at => notice.updated_at.to_rfc3339(),
                    replayable => matches!(notice.status, NoticeStatus::Dead | NoticeStatus::Cancelled),
                }
            })
            .collect();
        groups.push(context! { status => status.as_str(), heading => heading, notices => notices });
    }
    let page = context! { title => "Outbox", groups => groups };
    Ok(console.render("outbox.html", page_context(&viewer, "outbox", page)))
}

/// `GET /console/reports`: the reports, opened below with the session.
pub async fn reports(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    viewer: Viewer,
) -> Page {
    viewer.require(Scope::Decide)?;
    let today = state.clock.now().date_naive();
    let names: Vec<Value> = ReportName::ALL
        .iter()
        .map(
            |name| context! { name => name.as_str(), title => crate::report::section_title(*name) },
        )
        .collect();
    let page = context! {
        title => "Reports",
        reports => names,
        from => (today - TimeDelta::days(29)).to_string(),
        to => today.to_string(),
    };
    Ok(console.render("reports.html", page_context(&viewer, "reports", page)))
}

/// `GET /console/reports/{name}`: the existing HTML report, with the session instead of
/// a bearer key.
pub async fn report(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Page {
    viewer.require(Scope::Decide)?;
    let now = state.clock.now();
    if let Some(account) = param(&query, "account") {
        viewer.require_account(&state, account).await?;
    }
    let raw = RawQuery {
        from: param(&query, "from"),
        to: param(&query, "to"),
        account: param(&query, "account"),
        channel: param(&query, "channel"),
        basis: param(&query, "basis"),
        near: param(&query, "near"),
    };
    let mut report_query =
        ReportQuery::parse(&name, &raw, now.date_naive()).map_err(report_refusal)?;
    report_query.outcome_grace = state.outcome_grace;
    report_query.clients = crate::service::listed_clients(&viewer.access, param(&query, "client"));
    let report = crate::report::build(&state.store, state.policy.current(), &report_query, now)
        .await
        .map_err(report_refusal)?;
    Ok(Html(crate::report::render(&report, Format::Html)).into_response())
}

/// `GET /console/reports/shadow`: the shadow policy's divergences over a period
/// (`dunner report shadow`), as the report's HTML page.
pub async fn shadow_report(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<HashMap<String, String>>,
) -> Page {
    viewer.require(Scope::Decide)?;
    let period = period(&query, state.clock.now().date_naive())?;
    viewer.require_every_client()?;
    let report = crate::report::shadow::shadow_report(&state.store, period).await?;
    Ok(Html(crate::report::shadow::render(&report, Format::Html)).into_response())
}

/// `GET /console/audit`: the audit of a period (`crate::audit`), readable.
pub async fn audit(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    viewer: Viewer,
    Query(query): Query<HashMap<String, String>>,
) -> Page {
    viewer.require(Scope::Decide)?;
    let today = state.clock.now().date_naive();
    viewer.require_every_client()?;
    let period = period(&query, today)?;
    let ran = param(&query, "run").is_some();
    let audit = if ran {
        let audit = crate::audit::run(&state.store, state.policy.current(), false, period)
            .await
            .map_err(|error| match error {
                crate::audit::AuditError::Store(error) => Refusal::Store(error),
                error => Refusal::Invalid(error.to_string()),
            })?;
        Some(value(&audit))
    } else {
        None
    };
    let page = context! {
        title => "Audit",
        from => period.from.to_string(),
        to => period.to.to_string(),
        audit => audit,
    };
    Ok(console.render("audit.html", page_context(&viewer, "audit", page)))
}

/// `GET /console/keys` (admin): the stored API keys, never their secrets.
pub async fn keys(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    viewer: Viewer,
) -> Page {
    viewer.require(Scope::Admin)?;
    let now = state.clock.now();
    viewer.require_every_client()?;
    let keys: Vec<Value> = state
        .store
        .list_api_keys()
        .await?
        .into_iter()
        .map(|key| {
            let expired = key.expires_at.is_some_and(|at| at <= now);
            context! {
                live => key.revoked_at.is_none() && !expired,
                expired => expired,
                key => value(&key),
            }
        })
        .collect();
    let configured: Vec<Value> = state
        .config_keys
        .iter()
        .map(|key| context! { id => key.id.clone(), name => key.name.clone(), scopes => key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>() })
        .collect();
    let page = context! { title => "API keys", keys => keys, configured => configured };
    Ok(console.render("keys.html", page_context(&viewer, "keys", page)))
}

/// `GET /console/records` (admin): the legal holds, a form to place one, and the purge
/// report (nothing personal in it).
pub async fn records(
    State(state): State<AppState>,
    Extension(console): Extension<Arc<Console>>,
    viewer: Viewer,
    Query(query): Query<HashMap<String, String>>,
) -> Page {
    viewer.require(Scope::Admin)?;
    viewer.require_every_client()?;
    let holds = state.store.holds(true).await?;
    let purges = state.store.purge_report().await?;
    let page = context! {
        title => "Records",
        years => state.retention.years,
        holds => value(&holds),
        purges => value(&purges),
        placed => query.get("placed").cloned(),
        released => query.contains_key("released"),
    };
    Ok(console.render("records.html", page_context(&viewer, "records", page)))
}

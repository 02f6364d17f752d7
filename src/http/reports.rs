//! `GET /v1/reports/{name}`: a report over a period of the ledger as JSON, CSV or a
//! self-contained HTML page. Thin: check the parameters, have `report::build` read and
//! count, render.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::body::QueryParams;
use super::dto::{ReportParams, ShadowParams};
use super::error::ApiError;
use super::responses::{BadRequest, Forbidden, Internal, NotFound, Unauthorized, Unavailable};
use crate::auth::Access;
use crate::report::shadow::{ShadowReport, shadow_report};
use crate::report::{Format, Period, RawQuery, Report, ReportError, ReportQuery, build, render};

impl From<ReportError> for ApiError {
    fn from(error: ReportError) -> ApiError {
        match (error.field(), error) {
            (_, ReportError::Store(error)) => error.into(),
            (_, error @ ReportError::UnknownAccount(_)) => ApiError::not_found(error.to_string()),
            (Some(field), error) => ApiError::invalid(field, error.to_string()),
            (None, error) => ApiError::invalid("", error.to_string()),
        }
    }
}

#[utoipa::path(get, path = "/v1/reports/{name}", tag = "reports",
    description = "A report over a period of the ledger (UTC days, `from` to `to` included; the last 30 days by default), judged as of the end of the period or now if earlier. Names: `summary` (every section; the heat map too when `account` is given), `contacts` (by channel and day, with the outcome mix), `refusals` (by the rule that refused, deferred or stopped), `caps` (accounts at or near each cap, as the engine counts them), `holds` (accounts under each legal hold), `aging` (accounts and `Decimal` balances per currency in 0-30, 31-60, 61-90, 91-120 and 120+ days since placement or charge-off), `right_party_contacts` (conversations per outbound call), `promises` (promises to pay made in the period: kept, broken, pending), `windows` (one account's permitted contact windows as a week-by-hour heat map). `format=json` answers the `Report` below; `csv` one table per section (for `summary`, each table after a `# section: NAME` line); `html` a self-contained page with inline SVG charts. `client` counts that client's accounts only; a key limited to clients counts its clients' only. Needs the `decide` scope.",
    params(("name" = String, Path, description = "The report", example = "summary"), ReportParams),
    security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "The report, in the format asked for",
         content(
            (Report = "application/json"),
            (String = "text/csv", example = "day,channel,contacts\n2026-04-07,call,1843\n"),
            (String = "text/html"))),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 404, response = NotFound),
        (status = 403, response = Forbidden), (status = 500, response = Internal),
        (status = 503, response = Unavailable)))]
pub async fn report(
    State(state): State<AppState>,
    access: Access,
    Path(name): Path<String>,
    QueryParams(params): QueryParams<ReportParams>,
) -> Result<Response, ApiError> {
    // The heat map's account is checked like any account a path names; the counts are
    // of the key's clients (narrowed by `client`).
    if let Some(account) = params.account.as_deref()
        && access.clients().is_some()
    {
        crate::domain::check_account_id(account)
            .map_err(|message| ApiError::invalid("account", message))?;
        crate::service::visible_account(&state.store, &access, account).await?;
    }
    if let Some(client) = &params.client {
        crate::domain::check_client_id(client)
            .map_err(|message| ApiError::invalid("client", message))?;
    }
    let now = state.clock.now();
    let raw = RawQuery {
        from: params.from.as_deref(),
        to: params.to.as_deref(),
        account: params.account.as_deref(),
        channel: params.channel.as_deref(),
        basis: params.basis.as_deref(),
        near: params.near.as_deref(),
    };
    let mut query = ReportQuery::parse(&name, &raw, now.date_naive())?;
    query.outcome_grace = state.outcome_grace;
    query.clients = crate::service::listed_clients(&access, params.client.as_deref());
    let format = params
        .format
        .as_deref()
        .map(|name| Format::parse(name.trim()))
        .transpose()?
        .unwrap_or_default();
    let report = build(&state.store, state.policy.current(), &query, now).await?;
    Ok((
        [(CONTENT_TYPE, format.content_type())],
        render(&report, format),
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/reports/shadow", tag = "reports",
    description = "The decisions of a period (UTC days, `from` to `to` included, by when they were made; the last 30 days by default) that the shadow policy (`[rules] shadow`) decided otherwise than the live one, counted by rule and direction (`shadow_refuses`, `shadow_allows`, `rules_differ`), with examples. Read from the decision log, where each divergence is written beside the live decision. Needs the `decide` scope.",
    params(ShadowParams),
    security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "The shadow report, in the format asked for",
         content(
            (ShadowReport = "application/json"),
            (String = "text/csv", example = "rule,direction,divergences\nclient.noon-only,shadow_refuses,12\n"),
            (String = "text/html"))),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 500, response = Internal),
        (status = 503, response = Unavailable)))]
pub async fn shadow(
    State(state): State<AppState>,
    access: Access,
    QueryParams(params): QueryParams<ShadowParams>,
) -> Result<Response, ApiError> {
    every_client(&access)?;
    let (period, format) = period_and_format(
        params.from.as_deref(),
        params.to.as_deref(),
        params.format.as_deref(),
        state.clock.now().date_naive(),
    )?;
    let report = shadow_report(&state.store, period).await?;
    Ok((
        [(CONTENT_TYPE, format.content_type())],
        crate::report::shadow::render(&report, format),
    )
        .into_response())
}

/// Refuses (403) a key limited to clients an answer that counts across the whole
/// ledger (the shadow report, the audit): its counts would tell of other clients'
/// accounts.
pub(super) fn every_client(access: &Access) -> Result<(), ApiError> {
    match access.clients() {
        None => Ok(()),
        Some(_) => Err(ApiError::outside_clients(
            "",
            "this answer covers every client's accounts; use a key that is not limited",
        )),
    }
}

/// The period (`from`, `to`: UTC days, the last 30 by default) and the format (`json`
/// by default) of a report-like answer, each refused with its parameter named.
pub(super) fn period_and_format(
    from: Option<&str>,
    to: Option<&str>,
    format: Option<&str>,
    today: chrono::NaiveDate,
) -> Result<(Period, Format), ApiError> {
    let date = |field: &'static str, text: Option<&str>| {
        text.map(|text| Period::parse_date(field, text)).transpose()
    };
    let period = Period::new(date("from", from)?, date("to", to)?, today)?;
    let format = format
        .map(|name| Format::parse(name.trim()))
        .transpose()?
        .unwrap_or_default();
    Ok((period, format))
}

//! The stateful question (`POST /v1/decisions`), answered from the stored account and
//! ledger and logged, and the log of those answers (`GET /v1/decisions`).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::AppState;
use super::body::{JsonBody, QueryParams, idempotency_key, mark_replayed, page_limit};
use super::dto::{Answer, DecisionsFormat, DecisionsQuery, QuestionBody};
use super::error::ApiError;
use super::responses::{
    BadRequest, Forbidden, Internal, NotFound, TooLarge, Unauthorized, Unavailable, Unprocessable,
};
use crate::auth::Access;
use crate::report::csv_cell;
use crate::service::{self, LoggedDecision};
use crate::store::{Attempt, DecisionSearch, MAX_PAGE, Store, instant_text};

#[utoipa::path(post, path = "/v1/decisions", tag = "decisions",
    description = "The stateful question, answered from the stored account and ledger and logged. With an `Idempotency-Key` header, a repeat of the same question within the retention period answers the first decision (same `decision_id`, with `Idempotent-Replayed: true`) and logs nothing; the same key with another question is a 422. Needs the `decide` scope.",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried question logged once: 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$")),
    request_body = QuestionBody, security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "The logged decision", body = Answer),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 413, response = TooLarge), (status = 422, response = Unprocessable),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn decide_stored(
    State(state): State<AppState>,
    access: Access,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<QuestionBody>,
) -> Result<Response, ApiError> {
    service::visible_account(&state.store, &access, &body.account_id).await?;
    let now = state.clock.now();
    let idempotency = idempotency_key(
        &headers,
        &("decisions", &body),
        now,
        state.idempotency_retention,
    )?;
    let question = Attempt {
        account_id: body.account_id,
        at: body.at.unwrap_or(now),
        channel: body.channel,
        purpose: body.purpose,
        contact_point: body.contact_point,
        outcome: None,
        idempotency,
    };
    let answered = service::decide_and_log_with(
        &state.store,
        &state.policy.current(),
        state.policy.shadow().as_ref(),
        &question,
        now,
    )
    .await?;
    if !answered.replayed {
        state.metrics.observe_decision(&answered.decision);
        if let Some(divergence) = &answered.shadow {
            state.metrics.observe_shadow_divergence(divergence);
        }
    }
    let replayed = answered.replayed;
    let mut response = Json(Answer {
        decision_id: answered.decision_id,
        decision: answered.logged,
    })
    .into_response();
    if replayed {
        mark_replayed(&mut response);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/v1/decisions", tag = "decisions",
    description = "The decision log, across accounts or for one (`account_id`), filtered by period (`from` included, `to` excluded), verdict (`outcome`) and refusing rule (`rule`), in log order. `format=json` (the default) answers one page: the first `limit` (default 100) after `after` (the `seq` of the previous page's last decision) or from `from` when one is given, else the most recent `limit`. `format=jsonl` and `format=csv` export every matching decision, streamed, in log order from `after`/`from`. Needs the `decide` scope.",
    params(DecisionsQuery), security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "Logged decisions",
         content(
            (Vec<LoggedDecision> = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv", example = "seq,id,account_id,decided_at,at,channel,purpose,outcome,next_allowed_at,rules,policy_digest,event_id\n"))),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 500, response = Internal),
        (status = 503, response = Unavailable)))]
pub async fn list_decisions(
    State(state): State<AppState>,
    access: Access,
    QueryParams(query): QueryParams<DecisionsQuery>,
) -> Result<Response, ApiError> {
    if let Some(account_id) = &query.account_id {
        crate::domain::check_account_id(account_id)
            .map_err(|message| ApiError::invalid("account_id", message))?;
    }
    if let Some(client) = &query.client {
        crate::domain::check_client_id(client)
            .map_err(|message| ApiError::invalid("client", message))?;
    }
    if let (Some(from), Some(to)) = (query.from, query.to)
        && to <= from
    {
        return Err(ApiError::invalid("to", "must be after `from`"));
    }
    if let Some(rule) = &query.rule
        && (rule.is_empty() || rule.len() > 200 || !rule.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(ApiError::invalid(
            "rule",
            "must be a rule id: 1 to 200 visible ASCII characters",
        ));
    }
    if query.after.is_some_and(|after| after < 0) {
        return Err(ApiError::invalid("after", "must be a `seq`: 0 or more"));
    }
    let format = query.format.unwrap_or_default();
    if format != DecisionsFormat::Json && query.limit.is_some() {
        return Err(ApiError::invalid(
            "limit",
            "an export (`jsonl`, `csv`) holds every match; page with `limit` only in `json`",
        ));
    }
    let search = DecisionSearch {
        account_id: query.account_id,
        from: query.from,
        to: query.to,
        outcome: query.outcome.map(|outcome| outcome.as_str().to_string()),
        rule: query.rule,
        after: query.after,
        limit: page_limit(query.limit, 100)?,
        // A limited key's search (and export) reads its clients' decisions only.
        clients: service::listed_clients(&access, query.client.as_deref()),
    };
    match format {
        DecisionsFormat::Json => {
            Ok(Json(service::search_decisions(&state.store, &search).await?).into_response())
        }
        DecisionsFormat::Jsonl | DecisionsFormat::Csv => {
            // Read the first page now, so that a store failure is an error answer rather
            // than a cut-off body.
            let search = DecisionSearch {
                after: Some(search.after.unwrap_or(0)),
                limit: MAX_PAGE,
                ..search
            };
            let first = service::search_decisions(&state.store, &search).await?;
            let content_type = if format == DecisionsFormat::Csv {
                "text/csv; charset=utf-8"
            } else {
                "application/x-ndjson"
            };
            let body = Body::from_stream(export(state.store.clone(), search, first, format));
            Ok(([(CONTENT_TYPE, content_type)], body).into_response())
        }
    }
}

/// The export's pages, each rendered as one chunk: `first`, then the pages after it
/// until one comes back short.
fn export(
    store: Store,
    search: DecisionSearch,
    first: Vec<LoggedDecision>,
    format: DecisionsFormat,
) -> impl futures_util::Stream<Item = Result<String, service::ServiceError>> {
    let header = (format == DecisionsFormat::Csv).then(|| format!("{CSV_HEADER}\n"));
    let pages = futures_util::stream::unfold(Some((search, first)), move |next| {
        let store = store.clone();
        async move {
            let (search, page) = next?;
            let full = page.len() >= search.limit as usize;
            let chunk = render_page(&page, format);
            let next = match page.last() {
                Some(last) if full => {
                    let search = DecisionSearch {
                        after: Some(last.seq),
                        ..search
                    };
                    match service::search_decisions(&store, &search).await {
                        Ok(page) => Some((search, page)),
                        Err(error) => {
                            tracing::error!(error = %error, "the decision export stopped: reading the next page failed");
                            return Some((Err(error), None));
                        }
                    }
                }
                _ => None,
            };
            Some((Ok(chunk), next))
        }
    });
    futures_util::stream::iter(header.map(Ok)).chain(pages)
}

const CSV_HEADER: &str = "seq,id,account_id,decided_at,at,channel,purpose,outcome,next_allowed_at,rules,policy_digest,event_id";

/// One page as JSON lines or CSV rows (each line ended).
fn render_page(page: &[LoggedDecision], format: DecisionsFormat) -> String {
    let mut out = String::new();
    for logged in page {
        if format == DecisionsFormat::Jsonl {
            // A `LoggedDecision` is plain data: serializing it cannot fail.
            if let Ok(line) = serde_json::to_string(logged) {
                out.push_str(&line);
                out.push('\n');
            }
            continue;
        }
        let rules: Vec<&str> = logged
            .decision
            .reasons
            .iter()
            .map(|reason| &*reason.rule)
            .collect();
        let cells = [
            logged.seq.to_string(),
            logged.id.clone(),
            logged.account_id.clone(),
            instant_text(logged.decided_at),
            instant_text(logged.question.at),
            logged.question.channel.as_str().to_string(),
            logged.question.purpose.as_str().to_string(),
            logged.decision.outcome.as_str().to_string(),
            logged
                .decision
                .next_allowed_at
                .map(instant_text)
                .unwrap_or_default(),
            rules.join(" "),
            logged.decision.policy_digest.to_string(),
            logged.event_id.clone().unwrap_or_default(),
        ];
        let row: Vec<String> = cells.iter().map(|cell| csv_cell(cell)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

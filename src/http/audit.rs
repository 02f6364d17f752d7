//! `GET /v1/audit`: every collector-initiated contact of a period judged by the policy in
//! force when it was made; `GET /v1/audit/verify`: the hash chains recomputed. Thin:
//! check the parameters, have `audit::run` (or `audit::verify`) read and judge, render.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::body::QueryParams;
use super::dto::AuditParams;
use super::error::ApiError;
use super::responses::{BadRequest, Forbidden, Internal, Unauthorized, Unavailable};
use crate::audit::verify::Verification;
use crate::audit::{Audit, AuditError, render, run};

impl From<AuditError> for ApiError {
    fn from(error: AuditError) -> ApiError {
        match error {
            AuditError::Store(error) => error.into(),
            error => ApiError::internal(error),
        }
    }
}

#[utoipa::path(get, path = "/v1/audit", tag = "reports",
    description = "The audit of the past: every collector-initiated contact recorded in the period (UTC days, `from` to `to` included; the last 30 days by default) judged by the policy in force when it was made — the digest of the logged decision that allowed it, compiled from the pack texts kept for it — or, for a contact no decision allowed (imported, appended as an event), by the live rules, and marked `decided: false`. Each contact is judged against the account's flags and opt-outs and the consumer's ledger as they stood at its instant. `clean` is true when no contact is refused; `violations` lists the others with their refusing rules, pack and citation, and the totals by rule, channel and state follow. `format=csv` gives one row per refused contact; `html` a self-contained page. No personal data beyond account ids. Needs the `decide` scope.",
    params(AuditParams),
    security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "The audit, in the format asked for",
         content(
            (Audit = "application/json"),
            (String = "text/csv", example = "account_id,event_id,at,channel,purpose,state,decided,policy_digest,rules,packs,citations\n"),
            (String = "text/html"))),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 500, response = Internal),
        (status = 503, response = Unavailable)))]
pub async fn audit(
    State(state): State<AppState>,
    access: crate::auth::Access,
    QueryParams(params): QueryParams<AuditParams>,
) -> Result<Response, ApiError> {
    super::reports::every_client(&access)?;
    let (period, format) = super::reports::period_and_format(
        params.from.as_deref(),
        params.to.as_deref(),
        params.format.as_deref(),
        state.clock.now().date_naive(),
    )?;
    let audit = run(&state.store, state.policy.current(), false, period).await?;
    Ok((
        [(CONTENT_TYPE, format.content_type())],
        render(&audit, format),
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/audit/verify", tag = "reports",
    description = "The tamper-evident log checked: every account's hash chain of events and decisions recomputed, then the global checkpoints. `status` is `intact`, or `tampered` with the first entry (accounts in id order, entries in chain order) that was edited, deleted, inserted or reordered: its account, position, id and table. Reads the whole ledger: seconds per million entries. Needs the `decide` scope.",
    security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "What verification found", body = Verification),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 500, response = Internal),
        (status = 503, response = Unavailable)))]
pub async fn verify(
    State(state): State<AppState>,
    access: crate::auth::Access,
) -> Result<Json<Verification>, ApiError> {
    // A tampered entry is named by its account: of any client.
    super::reports::every_client(&access)?;
    Ok(Json(crate::audit::verify::verify(&state.store).await?))
}

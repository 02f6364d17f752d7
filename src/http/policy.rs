//! `GET /v1/policy`: the digest of the policy in force, its packs and the state of the
//! last reload; `GET /v1/policy/{digest}`: the pack texts behind any digest.

use axum::Json;
use axum::extract::{Path, RawQuery, State};

use super::AppState;
use super::dto::{PackText, PackView, PolicyTexts, PolicyView};
use super::error::ApiError;
use super::responses::{BadRequest, Forbidden, Internal, NotFound, Unauthorized, Unavailable};
use crate::service;

#[utoipa::path(get, path = "/v1/policy", tag = "policy",
    description = "The digest of the policy in force, its packs and the state of the last reload. Needs the `decide` scope.",
    security(("bearer" = ["decide"])),
    responses(
        (status = 400, response = BadRequest), (status = 200, description = "The policy in force", body = PolicyView),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn policy(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<PolicyView>, ApiError> {
    // `?digest=` used to be ignored, answering the live policy for any digest asked.
    if let Some(query) = query.filter(|query| !query.is_empty()) {
        let name = query.split(['=', '&']).next().unwrap_or_default();
        return Err(ApiError::invalid(
            name,
            "`GET /v1/policy` takes no parameters: the texts of the policy with a digest are at `/v1/policy/{digest}`",
        ));
    }
    let policy = state.policy.current();
    let status = state.policy.status();
    let packs = policy
        .packs()
        .iter()
        .enumerate()
        .map(|(index, pack)| PackView {
            id: pack.id.to_string(),
            title: pack.title.clone(),
            version: pack.version.clone(),
            status: pack.status,
            rules: policy
                .rules()
                .iter()
                .filter(|rule| rule.pack == index)
                .count(),
        })
        .collect();
    Ok(Json(PolicyView {
        digest: policy.digest().to_string(),
        packs,
        loaded_at: status.loaded_at,
        last_reload_error: status.last_error,
    }))
}

#[utoipa::path(get, path = "/v1/policy/{digest}", tag = "policy",
    description = "The exact pack texts of the policy with this digest (the `policy_digest` of any decision): the live policy's, or those the ledger kept when a decision first used it. 404 when no decision of this ledger used it and it is not live. Needs the `decide` scope.",
    params(("digest" = String, Path, description = "A policy digest", example = "sha256:634ed7f971a4163b6b52d6cb7dfbd3b024d02627019dfc2dbabf5e8cbdcba5ea")),
    security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "The pack texts", body = PolicyTexts),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 500, response = Internal), (status = 503, response = Unavailable)))]
pub async fn policy_texts(
    State(state): State<AppState>,
    Path(digest): Path<String>,
) -> Result<Json<PolicyTexts>, ApiError> {
    let live = state.policy.current();
    let texts = service::policy_texts(&state.store, &live, &digest)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no policy with digest `{digest}` decided anything in this ledger, and it is not the live one ({})",
                live.digest()
            ))
        })?;
    Ok(Json(PolicyTexts {
        live: live.digest() == digest,
        digest,
        packs: texts
            .into_iter()
            .map(|(file, text)| PackText { file, text })
            .collect(),
    }))
}

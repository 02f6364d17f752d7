//! `GET /v1/policy`: the digest of the policy in force, its packs and the state of the
//! last reload.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::dto::{PackView, PolicyView};
use super::responses::{BadRequest, Forbidden, Unauthorized};

#[utoipa::path(get, path = "/v1/policy", tag = "policy",
    description = "The digest of the policy in force, its packs and the state of the last reload. Needs the `decide` scope.",
    security(("bearer" = ["decide"])),
    responses(
        (status = 400, response = BadRequest), (status = 200, description = "The policy in force", body = PolicyView),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
pub async fn policy(State(state): State<AppState>) -> Json<PolicyView> {
    let policy = state.policy.current();
    let status = state.policy.status();
    let packs = policy
        .packs()
        .iter()
        .enumerate()
        .map(|(index, pack)| PackView {
            id: pack.id.clone(),
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
    Json(PolicyView {
        digest: policy.digest().to_string(),
        packs,
        loaded_at: status.loaded_at,
        last_reload_error: status.last_error,
    })
}

//! `POST /v1/evaluate`: the stateless `dunner decide` contract over HTTP: the account
//! and its history in, a decision out; nothing is read or stored.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::body::JsonBody;
use super::error::ApiError;
use super::responses::{BadRequest, Forbidden, TooLarge, Unauthorized};
use crate::engine::{DecideRequest, Decision, decide};
use crate::service::shadow::divergence;

#[utoipa::path(post, path = "/v1/evaluate", tag = "decisions",
    description = "The stateless `dunner decide` contract: the account and its history in, a decision out; nothing is stored. Needs the `decide` scope, unless the daemon runs with `open_evaluate`.",
    request_body = DecideRequest, security(("bearer" = ["decide"])),
    responses(
        (status = 200, description = "The decision", body = Decision),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 413, response = TooLarge)))]
pub async fn evaluate(
    State(state): State<AppState>,
    access: crate::auth::Access,
    JsonBody(request): JsonBody<DecideRequest>,
) -> Result<Json<Decision>, ApiError> {
    request
        .validate()
        .map_err(|error| ApiError::invalid(error.field, error.message))?;
    // Nothing is read, but a limited key asks only about its clients' accounts.
    if !access.sees(request.account.client.as_deref()) {
        return Err(ApiError::outside_clients(
            "account.client",
            "it may ask only about accounts naming one of its clients",
        ));
    }
    let decision = decide(&state.policy.current(), &request);
    state.metrics.observe_decision(&decision);
    // Nothing is logged here (nothing is stored): a divergence is only counted.
    if let Some(shadow) = state.policy.shadow()
        && let Some(divergence) = divergence(&decision, &decide(&shadow, &request))
    {
        state.metrics.observe_shadow_divergence(&divergence);
    }
    Ok(Json(decision))
}

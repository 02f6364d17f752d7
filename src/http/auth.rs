//! Bearer API keys with scopes: 401 without a valid key, 403 without the scope.
//! Keys come from the configuration file (held as hashes in `AppState::config_keys`)
//! or the ledger, read through `AppState::key_cache`: a key revoked through this daemon
//! is refused at once; one revoked, or given an earlier expiry, elsewhere (the CLI,
//! another daemon sharing the ledger) within `service::KEY_CACHE_TTL` (1 s); a key is
//! never accepted past an expiry it already had when it was read.
//! Secrets are compared in constant time (`crate::auth::verify`) on every request.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::auth::{Access, Scope, allows, parse_token, verify};

/// Lets the request through only with a live key that has `scope`, with the key's
/// [`Access`] (whose accounts it reaches) in the request's extensions for the handlers.
pub async fn authorize(
    State((state, scope)): State<(AppState, Scope)>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_credentials)
        .and_then(parse_token);
    let Some((id, secret)) = token else {
        return ApiError::unauthorized().into_response();
    };
    // Ids are not secret: finding the key by id may take any time; the secret may not.
    if let Some(key) = state.config_keys.iter().find(|key| key.id == id) {
        return if !key.verify(secret) {
            ApiError::unauthorized().into_response()
        } else if allows(&key.scopes, scope) {
            request.extensions_mut().insert(key.access.clone());
            next.run(request).await
        } else {
            ApiError::forbidden(scope).into_response()
        };
    }
    let now = state.clock.now();
    match crate::service::cached_api_key(&state.store, &state.key_cache, id, now).await {
        Ok(Some(key)) if verify(secret, &key.secret_hash) => {
            if allows(&key.scopes, scope) {
                request.extensions_mut().insert(key.access.clone());
                next.run(request).await
            } else {
                ApiError::forbidden(scope).into_response()
            }
        }
        Ok(_) => ApiError::unauthorized().into_response(),
        Err(error) => ApiError::unavailable(error).into_response(),
    }
}

/// For a route left open (`/v1/evaluate` with `open_evaluate`): every client, as
/// before clients, since whoever can reach an open route needs no key at all.
pub async fn open_access(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Access::All);
    next.run(request).await
}

/// The caller's access as the authorizer left it; a request that passed no authorizer
/// reaches nothing (fail closed: a route added without a guard shows no account).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Access {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Access, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Access>()
            .cloned()
            .unwrap_or_else(Access::nothing))
    }
}

/// The credentials of a `Bearer` authorization: the scheme is case-insensitive
/// (RFC 9110 §11.1), and spaces around the token are not part of it.
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

#[cfg(test)]
mod tests {
    use super::bearer_credentials;

    #[test]
    fn the_scheme_is_case_insensitive() {
        for value in ["Bearer k", "bearer k", "BEARER k", "Bearer   k "] {
            assert_eq!(bearer_credentials(value), Some("k"), "{value}");
        }
        assert_eq!(bearer_credentials("Basic k"), None);
        assert_eq!(bearer_credentials("Bearerk"), None);
    }
}

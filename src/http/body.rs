//! A JSON body extractor whose errors name the offending field and that refuses
//! bodies over a limit with 413, in the API's one error shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The largest body any endpoint accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The largest bulk body (a placement file sent in parts).
pub const MAX_BULK_BODY_BYTES: usize = 32 * 1024 * 1024;

/// A JSON request body of at most `LIMIT` bytes.
pub struct JsonBody<T, const LIMIT: usize = MAX_BODY_BYTES>(pub T);

impl<S: Send + Sync, T: DeserializeOwned, const LIMIT: usize> FromRequest<S>
    for JsonBody<T, LIMIT>
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let body = axum::body::to_bytes(request.into_body(), LIMIT)
            .await
            .map_err(|_| ApiError::too_large(LIMIT))?;
        parse(&body).map(JsonBody)
    }
}

/// Parses JSON, naming the field that failed.
pub fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    crate::engine::parse_json(body).map_err(|error| ApiError::invalid(error.field, error.message))
}

/// Query parameters, with errors in the API's one error shape (axum's own `Query`
/// answers in plain text).
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|rejection| ApiError::invalid("", rejection.body_text()))
    }
}

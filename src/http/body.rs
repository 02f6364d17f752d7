//! A JSON body extractor whose errors name the offending field and that refuses
//! bodies over a limit with 413, in the API's one error shape.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::auth::Access;

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
        // Every body of the API is an object. Serde's derive would also read an array
        // positionally (`[false]` as `{"dry_run": false}`), so well-formed JSON of
        // another shape is refused first (malformed JSON is reported as such below).
        if body.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{')
            && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok()
        {
            return Err(ApiError::invalid(
                ".".to_string(),
                "the body must be a JSON object (`{...}`)".to_string(),
            ));
        }
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
        if let Some(query) = parts.uri.query() {
            refuse_nul_or_empty_in_query(query)?;
        }
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|rejection| query_error(&rejection.body_text()))
    }
}

/// The `{id}` of an account route, checked like every stored account's id
/// ([`crate::domain::check_account_id`]): a malformed one is a 400 naming `id`. For a
/// key limited to clients, an account out of its reach (or missing) is a 404, the same
/// as a missing one ([`crate::service::visible_account`]): every route that names an
/// account in its path is guarded here, in one place.
pub struct AccountIdPath(pub String);

impl axum::extract::FromRequestParts<AppState> for AccountIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let NewAccountIdPath(id) = NewAccountIdPath::from_request_parts(parts, state).await?;
        let access = parts
            .extensions
            .get::<Access>()
            .cloned()
            .unwrap_or_else(Access::nothing);
        crate::service::visible_account(&state.store, &access, &id).await?;
        Ok(AccountIdPath(id))
    }
}

/// The `{id}` of a route that may create the account (`PUT`): its syntax only; the
/// handler checks the key's reach where it writes.
pub struct NewAccountIdPath(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for NewAccountIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let id = path_id(parts, state).await?;
        crate::domain::check_account_id(&id).map_err(|message| ApiError::invalid("id", message))?;
        Ok(NewAccountIdPath(id))
    }
}

/// The `{id}` of a notice route: a notice id is a UUID, so anything else names no notice
/// (404), without reaching the store.
pub struct NoticeIdPath(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for NoticeIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let id = path_id(parts, state).await?;
        if uuid::Uuid::try_parse(&id).is_err() {
            return Err(ApiError::not_found(format!(
                "notice `{}` does not exist",
                crate::domain::excerpt(&id)
            )));
        }
        Ok(NoticeIdPath(id))
    }
}

/// The one `{…}` segment of the route, percent-decoded.
async fn path_id<S: Send + Sync>(
    parts: &mut axum::http::request::Parts,
    state: &S,
) -> Result<String, ApiError> {
    axum::extract::Path::<String>::from_request_parts(parts, state)
        .await
        .map(|axum::extract::Path(id)| id)
        .map_err(|rejection| ApiError::invalid("id", rejection.body_text()))
}

/// The page size of a list: 1 to [`crate::store::MAX_PAGE`], `default` when absent. A
/// larger one is refused rather than quietly cut, so a caller never takes a short page
/// for the end of the list.
pub fn page_limit(limit: Option<u32>, default: u32) -> Result<u32, ApiError> {
    let max = crate::store::MAX_PAGE;
    match limit {
        None => Ok(default),
        Some(limit) if (1..=max).contains(&limit) => Ok(limit),
        Some(limit) => Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {max}, not {limit}"),
        )),
    }
}

/// A NUL character in a query string (`%00`) is refused with the parameter named: no
/// store keeps one, and PostgreSQL would answer with an error. So is an empty value
/// (`?account=`), which would otherwise read as the parameter's absence.
fn refuse_nul_or_empty_in_query(query: &str) -> Result<(), ApiError> {
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if pair.to_ascii_lowercase().contains("%00") {
            return Err(ApiError::invalid(
                name.to_string(),
                "must not contain a NUL character (U+0000)",
            ));
        }
        if value.is_empty() {
            return Err(ApiError::invalid(
                name.to_string(),
                "must not be empty: leave the parameter out instead",
            ));
        }
    }
    Ok(())
}

/// The query rejection's message, with the parameter it names as the field: axum
/// prefixes a value's error with its name (`days: invalid digit found in string`), and
/// names an unknown or missing one in backquotes (``missing field `account_id` ``).
fn query_error(text: &str) -> ApiError {
    let message = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text);
    let named = message
        .split_once(": ")
        .map(|(name, _)| name)
        .filter(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    let quoted = || {
        message
            .split('`')
            .nth(1)
            .filter(|_| message.starts_with("missing field"))
    };
    let field = named.or_else(quoted).unwrap_or_default();
    ApiError::invalid(field, format!("query string: {message}"))
}

/// The header that makes a write safe to retry (attempts, events, notices).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The `Idempotency-Key` of a write, if sent: 1 to 255 visible ASCII characters (a 400
/// naming the header otherwise), with the SHA-256 of the request it came with and the
/// instant before which keys are forgotten.
pub fn idempotency_key(
    headers: &axum::http::HeaderMap,
    request: &impl serde::Serialize,
    now: chrono::DateTime<chrono::Utc>,
    retention: std::time::Duration,
) -> Result<Option<crate::store::IdempotencyKey>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|key| (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters (a UUID is a good key)",
            )
        })?;
    let canonical = serde_json::to_vec(request).map_err(ApiError::internal)?;
    let request_hash = crate::domain::sha256_hex(&canonical);
    let since = now - chrono::TimeDelta::from_std(retention).unwrap_or(chrono::TimeDelta::days(1));
    Ok(Some(crate::store::IdempotencyKey {
        key: key.to_string(),
        request_hash,
        since,
    }))
}

/// Marks a response as the first answer to an idempotency key, given again: nothing was
/// written this time.
pub fn mark_replayed(response: &mut axum::response::Response) {
    response.headers_mut().insert(
        "idempotent-replayed",
        axum::http::HeaderValue::from_static("true"),
    );
}

//! The one JSON error shape of the API: `{"code", "message", "field"}`. 5xx bodies
//! are opaque; the cause is logged with its whole `source()` chain and the request's
//! id, with personal data masked (`logging::redact`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::ServiceError;
use crate::store::StoreError;

/// An error a handler returns.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
}

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(super) struct ErrorBody<'a> {
    /// A stable code callers branch on: `invalid_request` (400), `unauthorized` (401),
    /// `forbidden` (403), `not_found` (404), `method_not_allowed` (405),
    /// `body_too_large` (413), `unprocessable`
    /// (422), `internal` (500), `unavailable` (503).
    #[schema(example = "invalid_request")]
    code: &'a str,
    /// What is wrong, for a person. Opaque for 5xx.
    #[schema(
        example = "unknown variant `fax`, expected one of `call`, `sms`, `email`, `letter`, `visit`"
    )]
    message: &'a str,
    /// The path of the offending field (`consumer.time_zones[0]`), when one is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "channel", nullable = false)]
    field: Option<&'a str>,
}

impl ApiError {
    /// 400 with the offending field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        let field = field.into();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: message.into(),
            field: (!field.is_empty()).then_some(field),
        }
    }

    /// 422: well-formed, but cannot apply to the stored state.
    pub fn unprocessable(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        let field = field.into();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "unprocessable",
            message: message.into(),
            field: (!field.is_empty()).then_some(field),
        }
    }

    /// 409: the request conflicts with the resource's state.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
            field: None,
        }
    }

    /// 401: no key, or not a live one.
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "send a valid API key as `Authorization: Bearer dunner_…`".into(),
            field: None,
        }
    }

    /// 403: the key lacks the scope.
    pub fn forbidden(scope: crate::auth::Scope) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: format!("this API key lacks the `{}` scope", scope.as_str()),
            field: None,
        }
    }

    /// 403: the key is limited to clients, and the request is about another client
    /// (`client`: the one it names, `None` for an account naming none) or about the
    /// whole ledger. Says nothing of what is stored: only what the key may not do.
    pub fn outside_clients(field: impl Into<String>, what: impl Into<String>) -> ApiError {
        let field = field.into();
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: format!("this API key is limited to clients: {}", what.into()),
            field: (!field.is_empty()).then_some(field),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
            field: None,
        }
    }

    /// 405: the route exists, the method does not.
    pub fn method_not_allowed(method: &axum::http::Method) -> ApiError {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
            message: format!("this route does not answer {method}"),
            field: None,
        }
    }

    /// 413.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "body_too_large",
            message: format!("the request body is larger than {limit} bytes"),
            field: None,
        }
    }

    /// 503 (a dependency is down); the cause is logged with its chain
    /// (`log_cause`), not returned.
    pub fn unavailable(cause: impl Into<Cause>) -> ApiError {
        log_cause(StatusCode::SERVICE_UNAVAILABLE, cause.into().as_ref());
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: "the service is not ready".into(),
            field: None,
        }
    }

    /// 500; the cause is logged with its chain (`log_cause`), not returned.
    pub fn internal(cause: impl Into<Cause>) -> ApiError {
        log_cause(StatusCode::INTERNAL_SERVER_ERROR, cause.into().as_ref());
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error".into(),
            field: None,
        }
    }
}

/// The cause of a 5xx: an error (whose `source()` chain is logged too) or a message
/// (a panic's, the background tasks' problems).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Logs the cause of a 5xx at `error`: the error, then each `source()` in turn, as one
/// `cause` field (`failed to commit: database error: connection reset`). A source whose
/// text its parent already ends with (thiserror's `"…: {0}"` with `#[source]`) is not
/// repeated. Only error messages are logged, never a body, and with email addresses and
/// phone numbers masked. The line is written inside the request's span, which carries
/// its `request_id` (`metrics::track`), so the caller's `X-Request-Id` finds it.
fn log_cause(status: StatusCode, cause: &(dyn std::error::Error + 'static)) {
    let chain = cause_chain(cause);
    let cause = crate::logging::redact(&chain).into_owned();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(status = status.as_u16(), %cause, "service unavailable");
    } else {
        tracing::error!(status = status.as_u16(), %cause, "internal error");
    }
}

/// The error's message followed by each of its sources', joined by `: `.
fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut last = chain.clone();
    let mut source = error.source();
    while let Some(error) = source {
        let message = error.to_string();
        if !last.ends_with(&message) {
            chain.push_str(": ");
            chain.push_str(&message);
        }
        last = message;
        source = error.source();
    }
    chain
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::AccountNotFound(id) => {
                ApiError::not_found(format!("account `{id}` does not exist"))
            }
            StoreError::EventDoesNotApply(error) => {
                ApiError::unprocessable(error.field, error.message)
            }
            StoreError::NoticeNotFound(id) => {
                ApiError::not_found(format!("notice `{id}` does not exist"))
            }
            StoreError::InvalidStoredAccount { ref field, .. } => {
                let field = format!("account.{field}");
                ApiError::unprocessable(field, error.to_string())
            }
            StoreError::AttemptNotFound { .. } => ApiError::not_found(error.to_string()),
            StoreError::OutcomeKnown(_) | StoreError::OutcomeTooLate { .. } => {
                ApiError::conflict(error.to_string())
            }
            StoreError::IdempotencyMismatch(_) => {
                ApiError::unprocessable("Idempotency-Key", error.to_string())
            }
            StoreError::WriterStopped => ApiError::unavailable(error),
            other => ApiError::internal(other),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        match error {
            ServiceError::InvalidEvent(error) => {
                ApiError::unprocessable(error.field, error.message)
            }
            ServiceError::InvalidNotice(error) => {
                ApiError::unprocessable(error.field, error.message)
            }
            ServiceError::Undeliverable(error) => {
                ApiError::unprocessable(error.field, error.message)
            }
            ServiceError::NotReplayable { .. } => ApiError::conflict(error.to_string()),
            ServiceError::Store(error) => error.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
            field: self.field.as_deref(),
        };
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::{ApiError, cause_chain};

    /// An error with a source, like a store error wrapping the driver's.
    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("failed to commit the attempt")]
        Commit(#[source] Inner),
        #[error("database error: {0}")]
        Repeating(#[source] Inner),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("connection reset by peer for jane@example.com")]
    struct Inner;

    #[test]
    fn the_chain_names_every_source_once() {
        assert_eq!(
            cause_chain(&Outer::Commit(Inner)),
            "failed to commit the attempt: connection reset by peer for jane@example.com"
        );
        // A parent that already quotes its source does not repeat it.
        assert_eq!(
            cause_chain(&Outer::Repeating(Inner)),
            "database error: connection reset by peer for jane@example.com"
        );
    }

    /// A buffer the test subscriber writes to.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_500_logs_its_whole_chain_masked_with_the_request_id() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("request", request_id = %"dialer-7").in_scope(|| {
                let _ = ApiError::internal(Outer::Commit(Inner));
            });
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("request_id=dialer-7"), "{log}");
        assert!(
            log.contains("failed to commit the attempt: connection reset by peer for <email>"),
            "{log}"
        );
        assert!(!log.contains("jane@example.com"), "{log}");
    }
}

//! Webhook delivery over HTTP: one signed POST per try, classified into a [`Delivery`].
//!
//! The body is `{"type": "<event type>", "timestamp": "<RFC 3339>", "data": <payload>}`,
//! signed the Standard Webhooks way (see [`super::signing`]) with the endpoint's secret.
//! The `webhook-id` is the caller's message id, so every retry of one message carries
//! the same id and receivers can deduplicate.
//!
//! Classification: 2xx is delivered; 408, 429, 5xx, timeouts and connection errors are
//! worth retrying (with the receiver's `Retry-After`, in seconds or as an HTTP date, when
//! it gave one); any other status (other 4xx, and 3xx since redirects are not followed)
//! is permanent. When and how often to try again is the outbox worker's business.
//!
//! One [`WebhookSender`] holds one `reqwest::Client`: its connection pool is shared by
//! every delivery, so keep the sender and clone it rather than building new ones.
//! Nothing here logs or reports the secret or the payload.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::Serialize;

use super::Delivery;
pub use super::signing::{
    HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SecretError, SignedHeaders, VerifyError,
    WebhookSecret, sign, verify, verify_within,
};

/// A `[[webhooks]]` endpoint: where events of some types are POSTed, signed with its
/// secret. `crate::config` builds it from the file's entry (checking the URL, the secret
/// and the timeout) and shows it redacted; here it is only used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// A name to recognise the endpoint by (in logs and the outbox).
    pub name: String,
    /// An `http` or `https` URL.
    pub url: reqwest::Url,
    /// The signing key (`whsec_<base64>` in the file); never shown.
    pub secret: WebhookSecret,
    /// The events sent here (at least one).
    pub event_types: Vec<EventType>,
    /// How long one try may take, from connecting to the end of the answer.
    pub timeout: Duration,
}

impl WebhookEndpoint {
    /// Whether events of this type go to this endpoint.
    pub fn wants(&self, event_type: EventType) -> bool {
        self.event_types.contains(&event_type)
    }
}

/// How much of a response body is read (and dropped) so the connection can be reused.
const RESPONSE_BODY_LIMIT: usize = 64 * 1024;

/// What happened, as the receiver is told in the body's `type` (the domain's
/// vocabulary, parsed once where a request or the configuration arrives).
pub use crate::domain::WebhookEventType as EventType;

/// The body of a webhook.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    event_type: EventType,
    timestamp: DateTime<Utc>,
    data: &'a serde_json::Value,
}

/// Why a sender could not be built.
#[derive(Debug, thiserror::Error)]
#[error("failed to build the webhook HTTP client: {0}")]
pub struct SenderError(#[source] reqwest::Error);

/// Sends webhooks through one pooled HTTP client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
}

impl WebhookSender {
    /// A sender with its own client (rustls with the ring provider, HTTP/1.1 and
    /// HTTP/2, no redirects).
    pub fn new() -> Result<WebhookSender, SenderError> {
        // reqwest is built without a default crypto provider; installing ring twice is
        // harmless (the second call returns an error that means "already installed").
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("dunner/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()
            .map_err(SenderError)?;
        Ok(WebhookSender { client })
    }

    /// A sender over a client built elsewhere (to share its pool or settings).
    pub fn with_client(client: reqwest::Client) -> WebhookSender {
        WebhookSender { client }
    }

    /// Makes one delivery try of a message to an endpoint. `msg_id` must be the same on
    /// every try of the message; `now` stamps the body and the signature.
    pub async fn deliver(
        &self,
        endpoint: &WebhookEndpoint,
        msg_id: &str,
        event_type: EventType,
        payload: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Delivery {
        let envelope = Envelope {
            event_type,
            timestamp: now,
            data: payload,
        };
        let body = match serde_json::to_vec(&envelope) {
            Ok(body) => body,
            Err(_) => {
                return Delivery::Permanent {
                    reason: "the payload cannot be serialized as JSON".into(),
                };
            }
        };
        let timestamp = now.timestamp();
        let signature = sign(&endpoint.secret, msg_id, timestamp, &body);
        let Ok(id_header) = HeaderValue::from_str(msg_id) else {
            return Delivery::Permanent {
                reason: "the message id is not a valid header value".into(),
            };
        };
        let request = self
            .client
            .post(endpoint.url.clone())
            .timeout(endpoint.timeout)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(HEADER_ID, id_header)
            .header(HEADER_TIMESTAMP, HeaderValue::from(timestamp))
            .header(HEADER_SIGNATURE, signature)
            .body(body);
        match request.send().await {
            Ok(response) => classify_response(response, now).await,
            Err(error) => classify_error(&error, endpoint.timeout),
        }
    }
}

/// Turns a response into a [`Delivery`], draining a little of the body first so the
/// connection goes back to the pool.
async fn classify_response(mut response: reqwest::Response, now: DateTime<Utc>) -> Delivery {
    let status = response.status();
    let after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, now));
    let mut drained = 0_usize;
    while drained < RESPONSE_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => drained += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
    classify_status(status, after)
}

/// The rule: 2xx delivered; 408, 429 and 5xx retried; everything else permanent.
pub fn classify_status(status: StatusCode, retry_after: Option<Duration>) -> Delivery {
    if status.is_success() {
        return Delivery::Delivered;
    }
    let reason = format!("the receiver answered HTTP {status}");
    if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Delivery::Retry {
            after: retry_after,
            reason,
        }
    } else if status.is_redirection() {
        Delivery::Permanent {
            reason: format!("{reason} (redirects are not followed; configure the final URL)"),
        }
    } else {
        Delivery::Permanent { reason }
    }
}

/// A failed exchange (no status): timeouts and connection problems are retried.
fn classify_error(error: &reqwest::Error, timeout: Duration) -> Delivery {
    if error.is_builder() {
        return Delivery::Permanent {
            reason: format!("the request cannot be built: {}", error_chain(error)),
        };
    }
    let reason = if error.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else if error.is_connect() {
        format!("failed to connect: {}", error_chain(error))
    } else {
        format!("the exchange failed: {}", error_chain(error))
    };
    Delivery::Retry {
        after: None,
        reason,
    }
}

/// The error and its causes on one line, without the URL (it may carry tokens).
fn error_chain(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = String::new();
    let mut cause = error.source();
    while let Some(current) = cause {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&current.to_string());
        cause = current.source();
    }
    if text.is_empty() {
        text = "unknown error".into();
    }
    text
}

/// `Retry-After` as delay-seconds or an HTTP date (relative to `now`; a date in the past
/// means "now").
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::<Utc>::from(httpdate::parse_http_date(value).ok()?);
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-04-07T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn event_types_use_their_dotted_names() {
        assert_eq!(
            serde_json::to_string(&EventType::NoticeRequested).unwrap(),
            "\"notice.requested\""
        );
        assert_eq!(
            serde_json::from_str::<EventType>("\"account.escalated\"").unwrap(),
            EventType::AccountEscalated
        );
        assert_eq!(
            "contact.due".parse::<EventType>(),
            Ok(EventType::ContactDue)
        );
        for event_type in EventType::ALL {
            assert_eq!(event_type.as_str().parse::<EventType>(), Ok(event_type));
        }
    }

    #[test]
    fn a_misspelt_event_type_suggests_the_real_one() {
        let message = "contact.dew".parse::<EventType>().unwrap_err();
        assert!(message.contains("did you mean `contact.due`"), "{message}");
        let message = "zzz".parse::<EventType>().unwrap_err();
        assert!(
            message.contains("use one of `notice.requested`"),
            "{message}"
        );
    }

    #[test]
    fn statuses_are_classified_as_the_issue_says() {
        assert_eq!(classify_status(StatusCode::OK, None), Delivery::Delivered);
        assert_eq!(
            classify_status(StatusCode::NO_CONTENT, None),
            Delivery::Delivered
        );
        for retried in [408, 429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(retried).unwrap();
            assert!(
                matches!(classify_status(status, None), Delivery::Retry { .. }),
                "{retried}"
            );
        }
        for permanent in [301, 400, 401, 403, 404, 410, 422] {
            let status = StatusCode::from_u16(permanent).unwrap();
            assert!(
                matches!(classify_status(status, None), Delivery::Permanent { .. }),
                "{permanent}"
            );
        }
        assert_eq!(
            classify_status(StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(7))),
            Delivery::Retry {
                after: Some(Duration::from_secs(7)),
                reason: "the receiver answered HTTP 429 Too Many Requests".into()
            }
        );
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        assert_eq!(parse_retry_after("7", now()), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Tue, 07 Apr 2026 12:02:00 GMT", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 07 Apr 2026 11:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-3", now()), None);
    }
}

//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): an HMAC-SHA256 of
//! `"{webhook-id}.{webhook-timestamp}.{body}"`, sent as `webhook-signature: v1,<base64>`.
//!
//! Pure: no I/O and no clock; [`verify`] takes the instant to judge the timestamp by.
//! Secrets have the Standard Webhooks form `whsec_<base64>`: the key is the decoded part,
//! so a receiver using any Standard Webhooks library can check our signatures.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header carrying the message id, the same on every try of one message.
pub const HEADER_ID: &str = "webhook-id";
/// The header carrying the Unix time (seconds) of the try.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The header carrying the signatures (`v1,<base64>`, several separated by spaces).
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// How far a signature's timestamp may be from "now" before [`verify`] rejects it
/// (replay protection), as the Standard Webhooks libraries do.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The shortest and longest keys the specification recommends (24 to 64 bytes).
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

type HmacSha256 = Hmac<Sha256>;

/// A signing key, parsed from `whsec_<base64>`. `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
    /// The HMAC with the key already absorbed; cloned for every message, so signing
    /// does not hash the key again.
    mac: HmacSha256,
}

impl WebhookSecret {
    /// Parses a Standard Webhooks secret: `whsec_` followed by the base64 of a 24 to 64
    /// byte key. The error never echoes the secret.
    pub fn parse(text: &str) -> Result<WebhookSecret, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Prefix)?;
        let key = BASE64.decode(encoded).map_err(|_| SecretError::Base64)?;
        if !KEY_BYTES.contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        let mac = HmacSha256::new_from_slice(&key).map_err(|_| SecretError::Length(key.len()))?;
        Ok(WebhookSecret { key, mac })
    }

    /// An HMAC over `id.timestamp.body`, fed in pieces (no joined copy of the body).
    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        use std::io::Write as _;
        // An i64 has at most 20 characters: written on the stack, not in a String.
        let mut digits = [0_u8; 20];
        let mut free = digits.as_mut_slice();
        let written = match write!(free, "{timestamp}") {
            Ok(()) => 20 - free.len(),
            Err(_) => 0,
        };
        let mut mac = self.mac.clone();
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(digits.get(..written).unwrap_or_default());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl PartialEq for WebhookSecret {
    fn eq(&self, other: &WebhookSecret) -> bool {
        self.key == other.key
    }
}

impl Eq for WebhookSecret {}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::secret::REDACTED)
    }
}

/// Why a secret is not a Standard Webhooks secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// It does not start with `whsec_`.
    #[error(
        "a webhook secret must start with `whsec_` followed by base64, e.g. \"whsec_$(openssl rand -base64 32)\""
    )]
    Prefix,
    /// The part after `whsec_` is not standard base64.
    #[error("the part of the webhook secret after `whsec_` is not valid base64")]
    Base64,
    /// The key is too short or too long.
    #[error("the webhook secret's key is {0} bytes; use 24 to 64 random bytes")]
    Length(usize),
}

/// Signs one message: `v1,<base64 HMAC-SHA256 of "msg_id.timestamp.body">`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = secret.mac(msg_id, timestamp, body).finalize().into_bytes();
    let mut signature = String::with_capacity(3 + 44);
    signature.push_str("v1,");
    BASE64.encode_string(digest, &mut signature);
    signature
}

/// The three signature headers of a received message, as received.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    /// `webhook-id`.
    pub id: &'a str,
    /// `webhook-timestamp`: Unix seconds.
    pub timestamp: &'a str,
    /// `webhook-signature`: one or more `v1,<base64>` separated by spaces.
    pub signature: &'a str,
}

/// Why a received message is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `webhook-timestamp` is not an integer.
    #[error("the webhook-timestamp `{0}` is not a Unix time in seconds")]
    InvalidTimestamp(String),
    /// The timestamp is older than the tolerance (a replay, or a slow clock).
    #[error("the webhook-timestamp is {0} s old, more than the {tolerance} s allowed", tolerance = TOLERANCE.as_secs())]
    TooOld(i64),
    /// The timestamp is ahead of now by more than the tolerance.
    #[error("the webhook-timestamp is {0} s in the future, more than the {tolerance} s allowed", tolerance = TOLERANCE.as_secs())]
    TooNew(i64),
    /// The header holds no `v1,` signature at all.
    #[error("the webhook-signature header holds no `v1,<base64>` signature")]
    NoSignature,
    /// No signature in the header matches the message.
    #[error("no signature matches: wrong secret, or the id, timestamp or body changed")]
    Mismatch,
}

/// Checks a received message with the default [`TOLERANCE`].
pub fn verify(
    secret: &WebhookSecret,
    headers: SignedHeaders<'_>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    verify_within(secret, headers, body, now, TOLERANCE)
}

/// Checks a received message: the timestamp within `tolerance` of `now`, and at least
/// one `v1` signature of the header equal (compared in constant time) to ours.
pub fn verify_within(
    secret: &WebhookSecret,
    headers: SignedHeaders<'_>,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let timestamp: i64 =
        headers.timestamp.trim().parse().map_err(|_| {
            VerifyError::InvalidTimestamp(headers.timestamp.chars().take(32).collect())
        })?;
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    let age = now.timestamp().saturating_sub(timestamp);
    if age > tolerance {
        return Err(VerifyError::TooOld(age));
    }
    if -age > tolerance {
        return Err(VerifyError::TooNew(-age));
    }
    let mut candidates = headers
        .signature
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .peekable();
    if candidates.peek().is_none() {
        return Err(VerifyError::NoSignature);
    }
    let expected = secret.mac(headers.id, timestamp, body);
    let matched = candidates.any(|(_, encoded)| {
        BASE64
            .decode(encoded)
            .is_ok_and(|bytes| expected.clone().verify_slice(&bytes).is_ok())
    });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVIX_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SVIX_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SVIX_TIMESTAMP: i64 = 1_614_265_330;
    const SVIX_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SVIX_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> WebhookSecret {
        WebhookSecret::parse(SVIX_SECRET).unwrap()
    }

    fn at(timestamp: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(timestamp, 0).unwrap()
    }

    fn headers(signature: &str) -> SignedHeaders<'_> {
        SignedHeaders {
            id: SVIX_ID,
            timestamp: "1614265330",
            signature,
        }
    }

    #[test]
    fn sign_reproduces_the_svix_test_vector() {
        assert_eq!(
            sign(&secret(), SVIX_ID, SVIX_TIMESTAMP, SVIX_BODY),
            SVIX_SIGNATURE
        );
    }

    #[test]
    fn sign_reproduces_the_standardwebhooks_library_vector() {
        let secret = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            sign(
                &secret,
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn the_test_vector_verifies_at_its_own_time() {
        let now = at(SVIX_TIMESTAMP + 60);
        assert_eq!(
            verify(&secret(), headers(SVIX_SIGNATURE), SVIX_BODY, now),
            Ok(())
        );
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let list = format!("v1,bm90IGl0 v2,whatever {SVIX_SIGNATURE}");
        let now = at(SVIX_TIMESTAMP);
        assert_eq!(verify(&secret(), headers(&list), SVIX_BODY, now), Ok(()));
    }

    #[test]
    fn a_changed_body_id_or_secret_is_a_mismatch() {
        let now = at(SVIX_TIMESTAMP);
        assert_eq!(
            verify(
                &secret(),
                headers(SVIX_SIGNATURE),
                br#"{"test": 2432232315}"#,
                now
            ),
            Err(VerifyError::Mismatch)
        );
        let other_id = SignedHeaders {
            id: "msg_other",
            ..headers(SVIX_SIGNATURE)
        };
        assert_eq!(
            verify(&secret(), other_id, SVIX_BODY, now),
            Err(VerifyError::Mismatch)
        );
        let other = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            verify(&other, headers(SVIX_SIGNATURE), SVIX_BODY, now),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn timestamps_outside_five_minutes_are_rejected() {
        let signature = headers(SVIX_SIGNATURE);
        assert_eq!(
            verify(&secret(), signature, SVIX_BODY, at(SVIX_TIMESTAMP + 300)),
            Ok(())
        );
        assert_eq!(
            verify(&secret(), signature, SVIX_BODY, at(SVIX_TIMESTAMP + 301)),
            Err(VerifyError::TooOld(301))
        );
        assert_eq!(
            verify(&secret(), signature, SVIX_BODY, at(SVIX_TIMESTAMP - 301)),
            Err(VerifyError::TooNew(301))
        );
    }

    #[test]
    fn malformed_headers_are_named() {
        let now = at(SVIX_TIMESTAMP);
        let bad_time = SignedHeaders {
            timestamp: "yesterday",
            ..headers(SVIX_SIGNATURE)
        };
        assert!(matches!(
            verify(&secret(), bad_time, SVIX_BODY, now),
            Err(VerifyError::InvalidTimestamp(_))
        ));
        assert_eq!(
            verify(&secret(), headers("v2,abc"), SVIX_BODY, now),
            Err(VerifyError::NoSignature)
        );
        assert_eq!(
            verify(&secret(), headers("v1,not base64!"), SVIX_BODY, now),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn secrets_must_be_standard_webhooks_secrets_and_never_show() {
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::Prefix)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_not*base64"),
            Err(SecretError::Base64)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_c2hvcnQ="),
            Err(SecretError::Length(5))
        );
        assert_eq!(format!("{:?}", secret()), "<redacted>");
    }
}

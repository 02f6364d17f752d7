//! `dunner webhooks sign|verify`: the Standard Webhooks signature of a body, for
//! integrators testing their receivers. Only signing and verifying; nothing is sent.

use std::io::Read as _;

use clap::Subcommand;

use super::{Exit, fail};
use crate::clock::{Clock, SystemClock};
use crate::dispatch::signing::{
    HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedHeaders, WebhookSecret, sign, verify,
};

/// `dunner webhooks …`
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Print the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers dunner
    /// would send with a body.
    Sign {
        /// The endpoint's secret, `whsec_<base64>`.
        #[arg(long, env = "DUNNER_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
        /// The message id [default: a new `msg_<uuid>`].
        #[arg(long)]
        id: Option<String>,
        /// The Unix time in seconds [default: now].
        #[arg(long, allow_negative_numbers = true)]
        timestamp: Option<i64>,
        /// The body, byte for byte, or `-` for standard input.
        #[arg(default_value = "-")]
        body: String,
    },
    /// Check a received message's signature: exit 0 when valid, 1 (with the reason) when
    /// not.
    Verify {
        /// The endpoint's secret, `whsec_<base64>`.
        #[arg(long, env = "DUNNER_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
        /// The `webhook-id` header.
        #[arg(long)]
        id: String,
        /// The `webhook-timestamp` header.
        #[arg(long, allow_negative_numbers = true)]
        timestamp: String,
        /// The `webhook-signature` header (one or more `v1,<base64>`, space-separated).
        #[arg(long)]
        signature: String,
        /// Judge the timestamp as of this Unix time [default: now]; the tolerance is
        /// five minutes either way.
        #[arg(long, allow_negative_numbers = true)]
        now: Option<i64>,
        /// The body, byte for byte, or `-` for standard input.
        #[arg(default_value = "-")]
        body: String,
    },
}

/// Runs `dunner webhooks …`.
pub fn run(command: WebhooksCommand) -> Exit {
    match command {
        WebhooksCommand::Sign {
            secret,
            id,
            timestamp,
            body,
        } => {
            let (secret, body) = match (parse_secret(&secret), read_body(&body)) {
                (Ok(secret), Ok(body)) => (secret, body),
                (Err(exit), _) | (_, Err(exit)) => return exit,
            };
            let id = id.unwrap_or_else(|| format!("msg_{}", uuid::Uuid::now_v7().simple()));
            let timestamp = timestamp.unwrap_or_else(|| SystemClock.now().timestamp());
            let signature = sign(&secret, &id, timestamp, &body);
            outln!("{HEADER_ID}: {id}");
            outln!("{HEADER_TIMESTAMP}: {timestamp}");
            outln!("{HEADER_SIGNATURE}: {signature}");
            Exit::Ok
        }
        WebhooksCommand::Verify {
            secret,
            id,
            timestamp,
            signature,
            now,
            body,
        } => {
            let (secret, body) = match (parse_secret(&secret), read_body(&body)) {
                (Ok(secret), Ok(body)) => (secret, body),
                (Err(exit), _) | (_, Err(exit)) => return exit,
            };
            let now = match now {
                None => SystemClock.now(),
                Some(seconds) => match chrono::DateTime::from_timestamp(seconds, 0) {
                    Some(now) => now,
                    None => return fail(Exit::Usage, format!("--now {seconds} is out of range")),
                },
            };
            let headers = SignedHeaders {
                id: &id,
                timestamp: &timestamp,
                signature: &signature,
            };
            match verify(&secret, headers, &body, now) {
                Ok(()) => {
                    outln!("valid signature");
                    Exit::Ok
                }
                Err(error) => fail(Exit::Failure, format!("invalid webhook: {error}")),
            }
        }
    }
}

fn parse_secret(secret: &str) -> Result<WebhookSecret, Exit> {
    WebhookSecret::parse(secret).map_err(|error| fail(Exit::Usage, error))
}

/// The body exactly as given: no newline is added or removed.
fn read_body(source: &str) -> Result<Vec<u8>, Exit> {
    if source == "-" {
        let mut body = Vec::new();
        std::io::stdin().read_to_end(&mut body).map_err(|error| {
            fail(
                Exit::Failure,
                format!("failed to read standard input: {error}"),
            )
        })?;
        Ok(body)
    } else {
        std::fs::read(source)
            .map_err(|error| fail(Exit::Failure, format!("failed to read {source}: {error}")))
    }
}

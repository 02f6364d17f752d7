//! `dunner decide`: one request in (file or stdin), one decision out, as JSON.

use std::io::Read;
use std::path::Path;

use super::{DecideArgs, Exit, fail};
use crate::engine::{DecideRequest, decide, overview};

/// The largest request accepted, so a runaway pipe cannot exhaust memory.
const MAX_REQUEST_BYTES: u64 = 16 * 1024 * 1024;

pub fn run(args: &DecideArgs) -> Exit {
    let text = match read_request(&args.request) {
        Ok(text) => text,
        Err(message) => return fail(Exit::Failure, message),
    };
    let request = match DecideRequest::from_json(&text) {
        Ok(request) => request,
        Err(error) => {
            let field = if error.field.is_empty() {
                String::new()
            } else {
                format!(" at `{}`", error.field)
            };
            return fail(
                Exit::Failure,
                format!("invalid request{field}: {}", error.message),
            );
        }
    };
    let policy = match super::rules::load_or_report(&args.rules) {
        Ok(policy) => policy,
        Err(exit) => return exit,
    };
    let (output, refused) = if args.overview {
        let verdicts = overview(&policy, &request);
        let refused = verdicts.iter().all(|v| !v.decision.allowed);
        (serialize(&verdicts, args.pretty), refused)
    } else {
        let decision = decide(&policy, &request);
        (serialize(&decision, args.pretty), !decision.allowed)
    };
    match output {
        Ok(json) => outln!("{json}"),
        Err(error) => {
            return fail(
                Exit::Failure,
                format!("failed to serialize the decision: {error}"),
            );
        }
    }
    if refused && args.fail_if_refused {
        Exit::Refused
    } else {
        Exit::Ok
    }
}

fn serialize<T: serde::Serialize>(value: &T, pretty: bool) -> serde_json::Result<String> {
    if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
}

fn read_request(source: &str) -> Result<String, String> {
    let mut text = String::new();
    let read = if source == "-" {
        std::io::stdin()
            .take(MAX_REQUEST_BYTES + 1)
            .read_to_string(&mut text)
    } else {
        std::fs::File::open(Path::new(source))
            .and_then(|file| file.take(MAX_REQUEST_BYTES + 1).read_to_string(&mut text))
    };
    let name = if source == "-" {
        "standard input"
    } else {
        source
    };
    read.map_err(|error| format!("failed to read the request from {name}: {error}"))?;
    if text.len() as u64 > MAX_REQUEST_BYTES {
        return Err(format!(
            "the request from {name} is larger than {MAX_REQUEST_BYTES} bytes"
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_request_file_is_named_in_the_error() {
        let message = read_request("/nonexistent/request.json").unwrap_err();
        assert!(message.contains("/nonexistent/request.json"), "{message}");
    }
}

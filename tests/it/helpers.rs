//! Shared fixtures: the shipped policy, requests, the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::LazyLock;

use dunner::Policy;
use dunner::policy::SourceFile;

/// The repository's `rules/` directory.
pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

/// The shipped policy, loaded once.
pub static SHIPPED: LazyLock<Policy> =
    LazyLock::new(|| Policy::load(&rules_dir()).expect("the shipped packs load"));

/// The shipped policy as the daemon holds it (shared with the store's writer).
pub static SHIPPED_SHARED: LazyLock<std::sync::Arc<Policy>> =
    LazyLock::new(|| std::sync::Arc::new(SHIPPED.clone()));

/// Compiles packs given as (file name, text).
pub fn compile(files: &[(&str, &str)]) -> Result<Policy, dunner::policy::PolicyError> {
    Policy::from_sources(
        files
            .iter()
            .map(|(name, text)| SourceFile::new(*name, *text))
            .collect(),
    )
}

/// Runs the real `dunner` binary.
pub fn dunner(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_dunner"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("dunner starts");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

/// The example request of the issue, with the Tuesday inconvenient time.
pub const EXAMPLE_REQUEST: &str = r#"{
  "at": "2026-04-07T18:00:00Z",
  "channel": "call",
  "purpose": "collection",
  "contact_point": "+12125550100",
  "account": {
    "id": "D-1001",
    "debt_type": "credit_card",
    "consumer": {
      "address": {"state": "NY", "city": "New York", "postal_code": "10001"},
      "time_zones": ["America/New_York"],
      "phones": [{"number": "+12125550100", "kind": "mobile"}],
      "emails": [{"address": "pat@example.com", "kind": "personal"}]
    },
    "flags": {"cease_and_desist": false, "attorney_represented": false, "disputed": false, "bankruptcy": false, "deceased": false, "work_contact_prohibited": false},
    "opted_out": ["email"],
    "inconvenient_times": [{"days": ["tue", "thu"], "from": "00:00", "to": "24:00", "until": "2026-12-31"}]
  },
  "history": [
    {"at": "2026-04-01T14:00:00Z", "channel": "call", "outcome": "voicemail"},
    {"at": "2026-04-03T15:00:00Z", "channel": "call", "outcome": "conversation", "initiated_by": "consumer"},
    {"at": "2026-04-03T15:10:00Z", "type": "consent", "channel": "call"}
  ]
}"#;

/// A minimal valid pack to build broken variants from.
pub const MINIMAL_PACK: &str = r#"
[pack]
id = "test"
title = "Test pack"
version = "1"
citation = "none"

[[window]]
id = "test.hours"
citation = "none"
message = "hours"
channels = ["call"]
allow = [{ from = "08:00", to = "21:00" }]
"#;

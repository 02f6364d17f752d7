//! The live policy of the daemon: swapped atomically when the rules change, and only
//! for a policy that validates. A reload that fails keeps the last good policy and
//! keeps the reason, so `/v1/policy` can show it (fail closed: there is never a moment
//! without a valid policy).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use crate::policy::{Policy, PolicyError, Settings};

/// The current policy and the outcome of the last reload.
#[derive(Debug)]
pub struct LivePolicy {
    dir: PathBuf,
    /// Pack ids every policy must have (`[rules] required_packs`).
    required: Vec<String>,
    /// How long the packs must stay unchanged before a reload applies them.
    settle: std::time::Duration,
    /// The digest of the last candidate refused because it loosens the live policy:
    /// what [`LivePolicy::confirm_loosening`] lets through.
    refused_loosening: Mutex<Option<String>>,
    /// What the configuration adds (`[rules]`), applied on every reload.
    settings: Settings,
    current: ArcSwap<Policy>,
    status: Mutex<ReloadStatus>,
    succeeded: AtomicU64,
    failed: AtomicU64,
    /// The shadow policy (`[rules] shadow`), decided beside the live one.
    shadow: Option<Shadow>,
}

/// A shadow policy and its directory. It never decides an answer, so it has no floor
/// and no loosening check: a reload that fails keeps the previous shadow and says why,
/// and never touches the live policy.
#[derive(Debug)]
struct Shadow {
    dir: PathBuf,
    current: ArcSwap<Policy>,
    last_error: Mutex<Option<String>>,
}

/// How many reloads swapped the policy and how many were refused, since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadCounts {
    /// Reloads that swapped the policy.
    pub succeeded: u64,
    /// Reloads that were refused (the old policy kept).
    pub failed: u64,
}

/// When the current policy was loaded and why the last reload, if any, failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReloadStatus {
    /// When the current policy was loaded.
    pub loaded_at: Option<DateTime<Utc>>,
    /// The diagnostics of the last failed reload; `None` after a successful one.
    pub last_error: Option<String>,
}

impl LivePolicy {
    /// Starts from a policy already loaded from `dir`.
    pub fn new(dir: &Path, policy: Policy, loaded_at: DateTime<Utc>) -> LivePolicy {
        LivePolicy {
            dir: dir.to_path_buf(),
            required: Vec::new(),
            settle: std::time::Duration::ZERO,
            refused_loosening: Mutex::new(None),
            settings: Settings::default(),
            current: ArcSwap::from_pointee(policy),
            status: Mutex::new(ReloadStatus {
                loaded_at: Some(loaded_at),
                last_error: None,
            }),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            shadow: None,
        }
    }

    /// Decides every question under `policy` too, loaded from `dir` (`[rules] shadow`).
    pub fn with_shadow(mut self, dir: &Path, policy: Policy) -> LivePolicy {
        self.shadow = Some(Shadow {
            dir: dir.to_path_buf(),
            current: ArcSwap::from_pointee(policy),
            last_error: Mutex::new(None),
        });
        self
    }

    /// The shadow policy now, when there is one.
    pub fn shadow(&self) -> Option<Arc<Policy>> {
        self.shadow
            .as_ref()
            .map(|shadow| shadow.current.load_full())
    }

    /// The shadow's directory, when there is one.
    pub fn shadow_dir(&self) -> Option<&Path> {
        self.shadow.as_ref().map(|shadow| shadow.dir.as_path())
    }

    /// Why the last shadow reload failed; `None` after a successful one.
    pub fn shadow_error(&self) -> Option<String> {
        self.shadow
            .as_ref()
            .and_then(|shadow| shadow.last_error.lock().ok()?.clone())
    }

    /// Loads the shadow's directory again; swaps only if it validates, else keeps the
    /// previous shadow. Returns the new digest, or why not. The live policy is never
    /// touched.
    pub fn reload_shadow(&self) -> Result<String, String> {
        let Some(shadow) = &self.shadow else {
            return Err("no shadow policy is configured ([rules] shadow)".into());
        };
        let loaded = std::panic::catch_unwind(|| self.load_settled(&shadow.dir));
        let outcome = match loaded {
            Err(panic) => Err(format!(
                "the shadow packs could not be loaded (an internal error: {})",
                crate::tasks::panic_message(panic.as_ref())
            )),
            Ok(Ok(policy)) => {
                let digest = policy.digest().to_string();
                shadow.current.store(Arc::new(policy));
                Ok(digest)
            }
            Ok(Err(Unsettled::Changing)) => Err(format!(
                "the shadow packs kept changing while they were read ({SETTLE_TRIES} tries)"
            )),
            Ok(Err(Unsettled::Policy(PolicyError::Invalid(diagnostics)))) => Err(diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.plain())
                .collect::<Vec<_>>()
                .join("\n")),
            Ok(Err(Unsettled::Policy(error))) => Err(error.to_string()),
        };
        if let Ok(mut last_error) = shadow.last_error.lock() {
            *last_error = outcome.as_ref().err().cloned();
        }
        outcome
    }

    /// Requires the packs `required` in every policy a reload would apply, and a
    /// directory unchanged for `settle` before it is read as the new policy.
    pub fn with_safeguards(mut self, required: &[String], settle: std::time::Duration) -> Self {
        self.required = required.to_vec();
        self.settle = settle;
        self
    }

    /// Reloads with the configuration's settings (the first policy was loaded with them).
    pub fn with_settings(mut self, settings: Settings) -> LivePolicy {
        self.settings = settings;
        self
    }

    /// The policy decisions are made with now.
    pub fn current(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// The outcome of the last reload.
    pub fn status(&self) -> ReloadStatus {
        self.status
            .lock()
            .map(|status| status.clone())
            .unwrap_or_default()
    }

    /// How many reloads succeeded and failed (for `/metrics`).
    pub fn reload_counts(&self) -> ReloadCounts {
        ReloadCounts {
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Loads the rules again; swaps only if they validate. Returns the new digest, or
    /// the diagnostics that kept the old policy.
    pub fn reload(&self, now: DateTime<Utc>) -> Result<String, String> {
        self.reload_confirming(now, false)
    }

    /// Reloads, applying a candidate that loosens the live policy only if it is the one
    /// the last reload refused (the operator saw what it loosens and confirmed it: SIGUSR1
    /// to the daemon). A candidate that differs from the refused one is checked anew.
    pub fn confirm_loosening(&self, now: DateTime<Utc>) -> Result<String, String> {
        self.reload_confirming(now, true)
    }

    fn reload_confirming(&self, now: DateTime<Utc>, confirmed: bool) -> Result<String, String> {
        // A panic in the parser (a bug) is a failed reload, not a dead watcher: the last
        // good policy stays live.
        let loaded = std::panic::catch_unwind(|| self.load_settled(&self.dir));
        let outcome = match loaded {
            Err(panic) => Err(format!(
                "the rule packs could not be loaded (an internal error: {})",
                crate::tasks::panic_message(panic.as_ref())
            )),
            Ok(Ok(policy)) => match missing_required(&policy, &self.required) {
                None => self.apply_unless_loosening(policy, confirmed),
                Some(problem) => Err(problem),
            },
            Ok(Err(Unsettled::Changing)) => Err(format!(
                "the rule packs kept changing while they were read ({} tries, {:?} apart); \
                 they are read again on the next change",
                SETTLE_TRIES, self.settle
            )),
            Ok(Err(Unsettled::Policy(PolicyError::Invalid(diagnostics)))) => Err(diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.plain())
                .collect::<Vec<_>>()
                .join("\n")),
            Ok(Err(Unsettled::Policy(error))) => Err(error.to_string()),
        };
        match &outcome {
            Ok(_) => self.succeeded.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
        if let Ok(mut status) = self.status.lock() {
            match &outcome {
                Ok(_) => {
                    *status = ReloadStatus {
                        loaded_at: Some(now),
                        last_error: None,
                    }
                }
                Err(message) => status.last_error = Some(message.clone()),
            }
        }
        outcome
    }
}

impl LivePolicy {
    /// Swaps in `policy` unless it loosens the live one without confirmation.
    fn apply_unless_loosening(&self, policy: Policy, confirmed: bool) -> Result<String, String> {
        let digest = policy.digest().to_string();
        let loosened = crate::policy::compare::loosenings(&self.current(), &policy);
        let Ok(mut refused) = self.refused_loosening.lock() else {
            return Err("the reload state is poisoned".into());
        };
        let confirmed = confirmed && refused.as_deref() == Some(digest.as_str());
        if loosened.is_empty() || confirmed {
            *refused = None;
            self.current.store(Arc::new(policy));
            return Ok(digest);
        }
        *refused = Some(digest.clone());
        Err(format!(
            "the new rules ({digest}) would loosen the live policy; they are not applied \
             until an operator confirms them (SIGUSR1 to the daemon):\n  - {}",
            loosened.join("\n  - ")
        ))
    }
}

/// How many times a reload reads the packs before it gives up on a directory that keeps
/// changing.
const SETTLE_TRIES: usize = 5;

/// Why a reload read no policy.
enum Unsettled {
    /// The packs differed between two reads `settle` apart, every try.
    Changing,
    /// The packs are invalid (or unreadable).
    Policy(PolicyError),
}

impl LivePolicy {
    /// Reads the packs until two reads `settle` apart give the same policy. A reload
    /// follows a file change by 300 ms; an editor, `git checkout` or a deploy tool may
    /// still be writing the directory (one file in two halves, one pack of several),
    /// and every prefix of a pack can itself be a valid, weaker pack. Two identical
    /// reads a quiet period apart are what "the directory is written" means without a
    /// publish step that every tool would have to follow.
    fn load_settled(&self, dir: &Path) -> Result<Policy, Unsettled> {
        let mut policy = Policy::load_with(dir, &self.settings).map_err(Unsettled::Policy)?;
        if self.settle.is_zero() {
            return Ok(policy);
        }
        for _ in 0..SETTLE_TRIES {
            std::thread::sleep(self.settle);
            let again = Policy::load_with(dir, &self.settings).map_err(Unsettled::Policy)?;
            if again.digest() == policy.digest() {
                return Ok(again);
            }
            policy = again;
        }
        Err(Unsettled::Changing)
    }
}

/// Says which required packs a policy lacks; `None` when it has them all.
pub fn missing_required(policy: &Policy, required: &[String]) -> Option<String> {
    let missing: Vec<&str> = required
        .iter()
        .filter(|id| !policy.packs().iter().any(|pack| *pack.id == ***id))
        .map(String::as_str)
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "the policy lacks the required pack(s) `{}` ([rules] required_packs): a policy \
             without its floor would allow what the floor refuses",
            missing.join("`, `")
        )
    })
}

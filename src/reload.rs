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
    /// What the configuration adds (`[rules]`), applied on every reload.
    settings: Settings,
    current: ArcSwap<Policy>,
    status: Mutex<ReloadStatus>,
    succeeded: AtomicU64,
    failed: AtomicU64,
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
            settings: Settings::default(),
            current: ArcSwap::from_pointee(policy),
            status: Mutex::new(ReloadStatus {
                loaded_at: Some(loaded_at),
                last_error: None,
            }),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
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
        let outcome = match Policy::load_with(&self.dir, &self.settings) {
            Ok(policy) => {
                let digest = policy.digest().to_string();
                self.current.store(Arc::new(policy));
                Ok(digest)
            }
            Err(PolicyError::Invalid(diagnostics)) => Err(diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.plain())
                .collect::<Vec<_>>()
                .join("\n")),
            Err(error) => Err(error.to_string()),
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

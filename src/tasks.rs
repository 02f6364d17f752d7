//! Background tasks that never die silently: each runs under [`supervise`], which
//! catches a panic, logs it, marks the task down in [`TaskHealth`] (so `/readyz`
//! answers 503 while it is) and starts it again after a growing pause.
//!
//! A panic in a background task is a bug, never a reaction to input (input is checked
//! where it enters), but a daemon whose outbox worker or scheduler died while the HTTP
//! side keeps answering 200 would be the worst kind of failure: silent.

use std::any::Any;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::FutureExt;

/// The longest pause before a task that keeps panicking is started again.
const MAX_RESTART_PAUSE: Duration = Duration::from_secs(60);

/// Where each supervised task is.
#[derive(Debug, Default)]
pub struct TaskHealth {
    tasks: Mutex<BTreeMap<&'static str, TaskState>>,
}

/// The state of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Running normally.
    Running,
    /// Panicked and waiting to be started again.
    Restarting {
        /// Panics since the daemon started.
        panics: u32,
        /// What the last panic said.
        cause: String,
    },
    /// Returned (the daemon is stopping).
    Stopped,
}

impl TaskHealth {
    fn set(&self, name: &'static str, state: TaskState) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.insert(name, state);
        }
    }

    /// Every task that is not running as it should, with why; empty when all are well.
    pub fn problems(&self) -> Vec<String> {
        let Ok(tasks) = self.tasks.lock() else {
            return vec!["the task registry is poisoned".into()];
        };
        tasks
            .iter()
            .filter_map(|(name, state)| match state {
                TaskState::Running | TaskState::Stopped => None,
                TaskState::Restarting { panics, .. } => Some(format!(
                    "the {name} panicked ({panics} time(s)) and is restarting"
                )),
            })
            .collect()
    }

    /// The state of one task, if it was ever started.
    pub fn state(&self, name: &str) -> Option<TaskState> {
        self.tasks.lock().ok()?.get(name).cloned()
    }
}

/// The message of a caught panic.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs the task `start` makes until it returns; a panic is logged, counted, reported
/// by `health` and followed by a fresh start after 1 s, 2 s, 4 s … (at most 60 s).
pub async fn supervise<F, Fut>(name: &'static str, health: std::sync::Arc<TaskHealth>, mut start: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut panics: u32 = 0;
    loop {
        health.set(name, TaskState::Running);
        match AssertUnwindSafe(start()).catch_unwind().await {
            Ok(()) => {
                health.set(name, TaskState::Stopped);
                return;
            }
            Err(panic) => {
                panics = panics.saturating_add(1);
                let cause = crate::redact::redact(&panic_message(panic.as_ref())).into_owned();
                tracing::error!(task = name, panics, %cause, "a background task panicked; it starts again");
                health.set(
                    name,
                    TaskState::Restarting {
                        panics,
                        cause: cause.clone(),
                    },
                );
                let pause = Duration::from_secs(1u64 << panics.min(6).saturating_sub(1))
                    .min(MAX_RESTART_PAUSE);
                tokio::time::sleep(pause).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_reported_and_started_again() {
        let health = Arc::new(TaskHealth::default());
        let runs = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&runs);
        let task = tokio::spawn(supervise("outbox worker", Arc::clone(&health), move || {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if run == 0 {
                    panic!("boom");
                }
            }
        }));
        // The first run panics: the task is down until the pause is over.
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            health.problems(),
            vec!["the outbox worker panicked (1 time(s)) and is restarting".to_string()]
        );
        task.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(health.state("outbox worker"), Some(TaskState::Stopped));
        assert!(health.problems().is_empty());
    }
}

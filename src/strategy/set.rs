//! The strategies the daemon was configured with, in order: an account follows the first
//! whose segment covers it. Loaded once at start; the planner fits each into the policy
//! ([`crate::planner::plan_under_set`]).

use std::path::PathBuf;

use chrono::NaiveDate;

use super::{Strategy, StrategyError};
use crate::domain::Account;

/// Why the strategies could not be loaded; the daemon does not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A strategy file is unreadable or invalid (its diagnostics are attached).
    #[error("{path}: {error}")]
    Strategy {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        error: StrategyError,
    },
    /// The files do not go together (two share an id).
    #[error("{0}")]
    Conflict(String),
}

/// The strategies the daemon was configured with, in order: an account follows the
/// first whose segment covers it.
#[derive(Debug, Clone, Default)]
pub struct StrategySet {
    strategies: Vec<Strategy>,
    /// The same strategies without their steps: their escalations, judged on the
    /// ledger alone (a plan's own future calls must not escalate an account now).
    escalations: Vec<Strategy>,
    /// Whether the daemon's scheduler executes the plans (`[scheduler] enabled`).
    pub executed: bool,
}

impl StrategySet {
    /// Loads and checks the strategy files, in order.
    pub fn load(paths: &[PathBuf], executed: bool) -> Result<StrategySet, LoadError> {
        let mut strategies = Vec::with_capacity(paths.len());
        for path in paths {
            let strategy = Strategy::load(path).map_err(|error| LoadError::Strategy {
                path: path.clone(),
                error,
            })?;
            strategies.push(strategy);
        }
        StrategySet::new(strategies, executed).map_err(LoadError::Conflict)
    }

    /// The set; two strategies with one id could not be told apart in notice keys.
    pub fn new(strategies: Vec<Strategy>, executed: bool) -> Result<StrategySet, String> {
        for (index, strategy) in strategies.iter().enumerate() {
            if strategies
                .iter()
                .take(index)
                .any(|other| other.id == strategy.id)
            {
                return Err(format!(
                    "two strategy files have the id `{}`; give every strategy its own id",
                    strategy.id
                ));
            }
        }
        let escalations = strategies
            .iter()
            .map(|strategy| Strategy {
                steps: Vec::new(),
                ..strategy.clone()
            })
            .collect();
        Ok(StrategySet {
            strategies,
            escalations,
            executed,
        })
    }

    /// The strategies, in order.
    pub fn strategies(&self) -> &[Strategy] {
        &self.strategies
    }

    /// The strategy an account follows on `today`, the consumer's local day (its
    /// index): the first whose segment covers it.
    pub fn choose(&self, account: &Account, today: NaiveDate) -> Option<usize> {
        self.strategies
            .iter()
            .position(|strategy| strategy.segment.contains(account, today))
    }

    /// The same strategies without their steps: only their escalations, to be judged on
    /// the ledger alone.
    pub fn escalations(&self) -> &[Strategy] {
        &self.escalations
    }
}

//! Keyed operator state: held in memory under a budget, organized by key
//! group so it can be snapshotted and restored — at the same or another
//! parallelism — one group at a time.
//!
//! - [`key_group`]: which group a key is in, which groups a subtask owns.
//! - [`keyed`]: a [`KeyedState`] map from key bytes to a value, per group,
//!   with its memory counted against a budget: over it, a clear error
//!   naming the state and the budget, never silent growth.
//! - [`snapshot`]: a [`KeyedSnapshot`] (one blob per group) and its checked
//!   byte format.
//! - [`parts`]: state handed to a checkpoint in parts, only the changed
//!   ones with bytes ([`parts::ChangedParts`] tracks which).
//!
//! Known limits: state does not spill yet; the checkpoint work decides
//! where snapshots are stored and when they are taken (an operator's
//! [`crate::operator::Operator::on_barrier`]).

pub mod key_group;
pub mod keyed;
pub mod parts;
pub mod snapshot;

pub use key_group::{KeyGroupRange, DEFAULT_KEY_GROUPS, MAX_KEY_GROUPS};
pub use keyed::{KeyedState, StateValue};
pub use snapshot::KeyedSnapshot;

/// Why keyed state could not be updated, snapshotted or restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Holding more would pass the state's memory budget.
    #[error(
        "state {state}: needs more than its memory budget of {budget} bytes ({keys} keys held)"
    )]
    OverBudget {
        /// The state's name (its operator's).
        state: String,
        /// The budget.
        budget: usize,
        /// Keys held when it was reached.
        keys: usize,
    },
    /// A snapshot that cannot be read back as it was written.
    #[error("keyed state snapshot: {0}")]
    Corrupt(String),
}

impl From<StateError> for crate::operator::OperatorError {
    fn from(error: StateError) -> Self {
        match error {
            StateError::OverBudget {
                state,
                budget,
                keys,
            } => Self::OverBudget {
                operator: state,
                budget: budget as u64,
                detail: format!("{keys} keys of state"),
            },
            StateError::Corrupt(message) => {
                Self::BadInput(format!("keyed state snapshot: {message}"))
            }
        }
    }
}

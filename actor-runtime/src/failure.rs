//! Why a task attempt ended without finishing, kept typed up to where
//! recovery decides: the scheduler re-runs an attempt only when running
//! it again can succeed.
//!
//! The cause is decided where the failure happens, because only there is
//! it known: an operator that meets a malformed CSV line, a value it
//! cannot compute, a budget or limit it exceeds, or a file it may not
//! touch fails [`FailureCause::Deterministic`]ally — the same input fails
//! the same way on any worker, so the job fails at once with the
//! operator's message. A lost connection, an unreachable shuffle node, a
//! peer that went away or a failing disk is
//! [`FailureCause::Transient`]: a re-run, perhaps elsewhere, may succeed.
//! A producer whose consumer in the same process stopped taking its rows
//! fails [`FailureCause::PeerFailed`]: an echo of the consumer's own
//! failure, which the scheduler waits for before it decides.
//! A failure nobody classified (a panic) is transient, so an unexpected
//! fault costs a bounded number of re-runs rather than the job.

use serde::{Deserialize, Serialize};

/// Whether running a failed attempt again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCause {
    /// The same input fails the same way: bad input data, a value that
    /// cannot be computed, a budget or limit exceeded, access denied, a
    /// spec the worker cannot run.
    Deterministic,
    /// Something around the task failed: the network, a peer, the
    /// shuffle service, the disk. Running again may succeed.
    Transient,
    /// The attempt was stopped on request.
    Cancelled,
    /// The checkpoint it was to restore from cannot be read (a file is
    /// missing, truncated or fails its checksum): restoring from an
    /// earlier complete checkpoint may succeed.
    CheckpointUnreadable,
    /// A neighbour it exchanges rows with failed first: the neighbour's
    /// failure is the one to decide on. Retryable, as transient.
    PeerFailed,
}

impl FailureCause {
    /// Whether a re-run may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Transient | Self::PeerFailed)
    }

    /// The cause's byte on the wire (see [`crate::attempt`]).
    pub fn to_byte(self) -> u8 {
        match self {
            Self::Deterministic => 0,
            Self::Transient => 1,
            Self::Cancelled => 2,
            Self::CheckpointUnreadable => 3,
            Self::PeerFailed => 4,
        }
    }

    /// The cause of a wire byte (an unknown byte is transient: a newer
    /// peer's cause this one does not know is retried, as before).
    pub fn from_byte(byte: u8) -> Self {
        match byte {
            0 => Self::Deterministic,
            2 => Self::Cancelled,
            3 => Self::CheckpointUnreadable,
            4 => Self::PeerFailed,
            _ => Self::Transient,
        }
    }
}

/// An attempt's failure: its cause and the message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TaskFailure {
    /// Whether a re-run may succeed.
    pub cause: FailureCause,
    /// What happened, naming the task and the operator.
    pub message: String,
}

impl TaskFailure {
    /// A failure that running again would repeat.
    pub fn deterministic(message: impl Into<String>) -> Self {
        Self {
            cause: FailureCause::Deterministic,
            message: message.into(),
        }
    }

    /// A failure a re-run may not meet.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            cause: FailureCause::Transient,
            message: message.into(),
        }
    }

    /// The failure of a cancelled attempt.
    pub fn cancelled() -> Self {
        Self {
            cause: FailureCause::Cancelled,
            message: "cancelled".into(),
        }
    }
}

/// Whether an I/O error is the input's fault or the machine's: a file
/// that is missing, unreadable by permission, or not what its name says
/// fails the same way again; a full or failing disk, or an interrupted
/// call, may not.
pub fn io_cause(error: &std::io::Error) -> FailureCause {
    use std::io::ErrorKind as K;
    match error.kind() {
        K::NotFound
        | K::PermissionDenied
        | K::AlreadyExists
        | K::InvalidInput
        | K::InvalidData
        | K::IsADirectory
        | K::NotADirectory
        | K::InvalidFilename
        | K::UnexpectedEof => FailureCause::Deterministic,
        _ => FailureCause::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_survive_the_wire_and_unknown_ones_retry() {
        for cause in [
            FailureCause::Deterministic,
            FailureCause::Transient,
            FailureCause::Cancelled,
            FailureCause::CheckpointUnreadable,
            FailureCause::PeerFailed,
        ] {
            assert_eq!(FailureCause::from_byte(cause.to_byte()), cause);
        }
        assert_eq!(FailureCause::from_byte(9), FailureCause::Transient);
        assert!(FailureCause::Transient.is_retryable());
        assert!(FailureCause::PeerFailed.is_retryable());
        assert!(!FailureCause::Deterministic.is_retryable());
    }

    #[test]
    fn a_missing_file_is_deterministic_a_full_disk_is_not() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(io_cause(&missing), FailureCause::Deterministic);
        let full = std::io::Error::from_raw_os_error(28);
        assert_eq!(io_cause(&full), FailureCause::Transient);
    }
}

//! Errors of the storage engine. Each names the shuffle (and partition)
//! it concerns, since one service holds many jobs' data.

use std::path::PathBuf;

use super::record::RecordFault;
use super::visible::Hole;

/// Something went wrong storing or reading shuffle data.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A file operation failed (disk full, permissions, missing directory).
    #[error("{shuffle}: {action} {}: {source}", path.display())]
    Io {
        /// The shuffle, e.g. `job j1 shuffle 0`.
        shuffle: String,
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Stored data failed its checks: it is never served as good.
    #[error("{shuffle} partition {partition}: corrupt data at byte {offset} ({fault:?})")]
    Corrupt {
        /// The shuffle.
        shuffle: String,
        /// The reduce partition.
        partition: u32,
        /// Byte offset of the bad record in the partition file.
        offset: u64,
        /// What is wrong with it.
        fault: RecordFault,
    },
    /// A committed attempt's stream to a partition has a hole.
    #[error("{shuffle} partition {partition}: map {map} attempt {attempt} is missing frame {expected} (found {found})")]
    MissingFrame {
        /// The shuffle.
        shuffle: String,
        /// The reduce partition.
        partition: u32,
        /// The map task.
        map: u32,
        /// Its committed attempt.
        attempt: u32,
        /// The sequence number that should come next.
        expected: u32,
        /// The one that came.
        found: u32,
    },
    /// A push for a map that has already committed another (or this) attempt.
    #[error("{shuffle}: map {map} attempt {attempt} cannot push, attempt {winner} of that map already committed")]
    AlreadyCommitted {
        /// The shuffle.
        shuffle: String,
        /// The map task.
        map: u32,
        /// The pushing attempt.
        attempt: u32,
        /// The committed attempt.
        winner: u32,
    },
    /// A partition number outside the shuffle.
    #[error("{shuffle}: no partition {partition}, the shuffle has {partitions}")]
    NoSuchPartition {
        /// The shuffle.
        shuffle: String,
        /// The partition asked for.
        partition: u32,
        /// Partitions in the shuffle.
        partitions: u32,
    },
    /// A map id outside the shuffle.
    #[error("{shuffle}: no map {map}, the shuffle has {maps}")]
    NoSuchMap {
        /// The shuffle.
        shuffle: String,
        /// The map asked for.
        map: u32,
        /// Maps in the shuffle.
        maps: u32,
    },
    /// The shuffle's directory does not hold a valid shuffle.
    #[error("{shuffle}: invalid shuffle metadata in {}: {reason}", path.display())]
    BadMetadata {
        /// The shuffle.
        shuffle: String,
        /// The metadata file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl StorageError {
    /// The error for a hole in a committed attempt's frames.
    pub fn missing_frame(shuffle: &str, partition: u32, hole: Hole) -> Self {
        Self::MissingFrame {
            shuffle: shuffle.to_string(),
            partition,
            map: hole.map,
            attempt: hole.attempt,
            expected: hole.expected,
            found: hole.found,
        }
    }
}

//! The shuffle service's storage engine: append-only partition files of
//! checksummed records, a commit log, and mmap'd readers that see
//! each committed map attempt's frames exactly once.
//!
//! Layered from pure to I/O: [`record`] (on-disk format), [`commit`]
//! (which attempt wins) and [`visible`] (what a reader sees) have no I/O;
//! [`commit_log`] and [`partition`] own one file each; [`append_io`] picks
//! io_uring or `write(2)`; [`memory`] holds frames in memory within a
//! node's budget; [`shuffle`] ties one shuffle's directory together.

pub mod append_io;
pub mod commit;
pub mod commit_log;
pub mod error;
pub mod memory;
pub mod partition;
pub mod record;
pub mod shuffle;
pub mod visible;

pub use append_io::{IoPath, IoPreference};
pub use commit::{CommitBook, CommitPlan};
pub use error::StorageError;
pub use memory::MemoryBudget;
pub use partition::Recovery;
pub use record::{RecordFault, RecordKey};
pub use shuffle::{Durability, PartitionFrames, ShuffleShape, ShuffleStore};
pub use visible::{Hole, VisibleRecords};

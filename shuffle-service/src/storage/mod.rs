//! The shuffle service's storage engine: append-only partition files of
//! checksummed records, a memory tier, a commit log, and readers (of the
//! mmap'd files and the held frames) that see each committed map
//! attempt's frames exactly once.
//!
//! Layered from pure to I/O: [`record`] (on-disk format), [`commit`]
//! (which attempt wins) and [`visible`] (what a reader sees) have no I/O;
//! [`commit_log`] and [`partition`] own one file each; [`append_io`] picks
//! io_uring or `write(2)`; [`memory`] holds frames in memory within a
//! node's budget; [`frames`] is what a read of a partition serves;
//! [`shuffle`] ties one shuffle's directory together.

pub mod append_io;
pub mod commit;
pub mod commit_log;
pub mod error;
pub mod frames;
pub mod memory;
pub mod partition;
pub mod record;
pub mod shuffle;
pub mod visible;

pub use append_io::{IoPath, IoPreference};
pub use commit::{CommitBook, CommitPlan};
pub use error::StorageError;
pub use frames::PartitionFrames;
pub use memory::MemoryBudget;
pub use partition::Recovery;
pub use record::{RecordFault, RecordKey};
pub use shuffle::{Durability, ShuffleShape, ShuffleStore};
pub use visible::{Hole, VisibleRecords};

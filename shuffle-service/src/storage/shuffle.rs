//! One shuffle's directory: its partition files, its commit log, and the
//! rules that make committed map attempts visible exactly once.
//!
//! ```text
//! DIR/shuffle.meta        map and partition counts
//! DIR/commits.log         committed (map, attempt) pairs, synced
//! DIR/part-00007.data     records pushed to reduce partition 7
//! ```
//!
//! Commit order is what makes a crash safe: the attempt's partition files
//! are written (and, under [`Durability::Synced`], synced), then the
//! commit is logged (and synced), then it is visible. A crash before the
//! log entry leaves the attempt uncommitted (its records are skipped by
//! readers); after it, the data is with the kernel — on disk if synced.
//! Written, not synced, a commit survives the process being killed (the
//! kernel holds the bytes) but not the machine going down; Spark never
//! syncs its shuffle files, and a lost node's maps are re-run or read
//! from a replica anyway.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::append_io::{AppendIo, IoPath, IoPreference};
use super::commit::{CommitBook, CommitPlan};
use super::commit_log::CommitLog;
use super::error::StorageError;
use super::frames::{FrameRef, PartitionFrames};
use super::memory::{HeldFrames, MemoryBudget};
use super::partition::{PartitionReader, PartitionWriter, Recovery, PAYLOAD_OFFSET};
use super::record::{checked_payload, RecordHeader, RecordKey};
use super::visible::VisibleRecords;

const META: &str = "shuffle.meta";
const META_MAGIC: &str = "faro-shuffle v1";

/// How many map tasks write a shuffle and how many reduce partitions
/// they write to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShuffleShape {
    /// Map tasks (map ids are `0..maps`).
    pub maps: u32,
    /// Reduce partitions (`0..partitions`).
    pub partitions: u32,
}

impl ShuffleShape {
    /// Most maps, and most partitions, a shuffle may have: a store keeps
    /// a slot per partition and a register holds the node's lock while it
    /// makes them, so a shape is bounded before anything is allocated.
    /// (A job's subtasks are bounded at 65,536 in all.)
    pub const MAX: u32 = 65_536;

    /// Why this shape cannot be stored, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        let fits = |n: u32| (1..=Self::MAX).contains(&n);
        if fits(self.maps) && fits(self.partitions) {
            return Ok(());
        }
        Err(format!(
            "a shuffle needs 1 to {} maps and partitions, got {} maps and {} partitions",
            Self::MAX,
            self.maps,
            self.partitions
        ))
    }
}

/// What a commit waits for before a map attempt is visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Handed to the kernel (written, not synced): survives the process
    /// being killed, not the machine failing — what Spark's shuffle files
    /// and a Celeborn worker promise.
    #[default]
    Written,
    /// On disk (`fdatasync` of each partition file written and of the
    /// commit log): survives the machine failing too.
    Synced,
    /// In the node's memory (the memory tier, [`super::memory`]) while its
    /// budget lasts, on disk beyond it, and commits not logged: survives
    /// nothing but the node running on. A restarted node holds no commit
    /// of such a shuffle, so its maps count as lost and run again — what a
    /// node in the workers' own process (`faro run`, `faro local`) wants,
    /// whose data dies with its readers anyway.
    Memory,
}

/// The stored state of one shuffle.
pub struct ShuffleStore {
    label: String,
    durability: Durability,
    dir: PathBuf,
    shape: ShuffleShape,
    book: CommitBook,
    log: CommitLog,
    writers: Vec<Option<PartitionWriter>>,
    io: AppendIo,
    /// Bytes appended since writeback was last started across files.
    since_sweep: u64,
    /// Frames held in memory ([`Durability::Memory`] with a budget).
    held: Option<HeldFrames>,
}

/// After this many bytes across the shuffle, start writeback on every
/// file with at least [`SWEEP_MIN_PENDING`] bytes waiting, so commits of
/// many small partitions do not wait for all of it at once.
const SWEEP_EVERY: u64 = 32 << 20;
const SWEEP_MIN_PENDING: u64 = 256 << 10;

impl ShuffleStore {
    fn io<'a>(
        &'a self,
        action: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
        io_error(&self.label, action, path)
    }

    /// Creates a shuffle of the given shape in `dir`. `label` names it in
    /// errors (e.g. `job j1 shuffle 0`).
    pub fn create(
        dir: &Path,
        label: &str,
        shape: ShuffleShape,
        io: IoPreference,
    ) -> Result<Self, StorageError> {
        let meta = dir.join(META);
        shape.check().map_err(|reason| StorageError::BadMetadata {
            shuffle: label.to_string(),
            path: meta.clone(),
            reason,
        })?;
        std::fs::create_dir_all(dir).map_err(io_error(label, "creating", dir))?;
        let ShuffleShape { maps, partitions } = shape;
        std::fs::write(
            &meta,
            format!("{META_MAGIC}\npartitions {partitions}\nmaps {maps}\n"),
        )
        .map_err(io_error(label, "writing", &meta))?;
        Self::open(dir, label, io).map(|(store, _)| store)
    }

    /// Opens an existing shuffle, replaying its commit log and recovering
    /// its partition files; returns what recovery did per partition.
    pub fn open(
        dir: &Path,
        label: &str,
        io: IoPreference,
    ) -> Result<(Self, Vec<(u32, Recovery)>), StorageError> {
        let meta_path = dir.join(META);
        let meta =
            std::fs::read_to_string(&meta_path).map_err(io_error(label, "reading", &meta_path))?;
        let shape = parse_meta(&meta).ok_or_else(|| StorageError::BadMetadata {
            shuffle: label.to_string(),
            path: meta_path.clone(),
            reason: format!(
                "expected \"{META_MAGIC}\", a partition count and a map count, found {meta:?}"
            ),
        })?;
        let partitions = shape.partitions;
        let log_path = dir.join("commits.log");
        let (log, commits) =
            CommitLog::open(&log_path).map_err(io_error(label, "opening", &log_path))?;
        let io = AppendIo::new(io).map_err(io_error(label, "setting up io_uring for", dir))?;
        let mut book = CommitBook::default();
        for (map, attempt) in commits {
            book.apply(map, attempt);
        }
        let mut store = Self {
            label: label.to_string(),
            durability: Durability::default(),
            dir: dir.to_path_buf(),
            shape,
            book,
            log,
            writers: (0..partitions).map(|_| None).collect(),
            io,
            since_sweep: 0,
            held: None,
        };
        let mut recoveries = Vec::new();
        for partition in 0..partitions {
            if partition_path(&store.dir, partition).exists() {
                let (_, recovery) =
                    open_writer(&mut store.writers, &store.dir, &store.label, partition)?;
                recoveries.push((partition, recovery));
            }
        }
        Ok((store, recoveries))
    }

    /// Sets what its commits wait for (default: [`Durability::Written`]).
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    /// What its commits wait for.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Holds frames in memory within `budget` (under
    /// [`Durability::Memory`]; other durabilities write every frame).
    pub fn set_memory(&mut self, budget: Arc<MemoryBudget>) {
        self.held = Some(HeldFrames::new(budget, self.shape.partitions));
    }

    /// Bytes of frames held in memory.
    pub fn held_bytes(&self) -> u64 {
        self.held.as_ref().map_or(0, HeldFrames::bytes)
    }

    /// How the shuffle is named in errors.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The write path in use.
    pub fn io_path(&self) -> IoPath {
        self.io.path()
    }

    /// Partition files open for appending.
    pub fn open_files(&self) -> usize {
        self.writers.iter().flatten().count()
    }

    /// Bytes of whole records in the shuffle's partition files (frames
    /// held in memory not counted: see [`Self::held_bytes`]).
    pub fn stored_bytes(&self) -> u64 {
        self.writers
            .iter()
            .flatten()
            .map(PartitionWriter::len)
            .sum()
    }

    /// Reduce partitions in the shuffle.
    pub fn partitions(&self) -> u32 {
        self.shape.partitions
    }

    /// Its map and partition counts.
    pub fn shape(&self) -> ShuffleShape {
        self.shape
    }

    /// The first map of `maps` (within the shuffle's maps) with no
    /// committed attempt.
    pub fn first_uncommitted(&self, maps: &Range<u32>) -> Option<u32> {
        (maps.start..maps.end.min(self.shape.maps))
            .find(|&map| self.book.committed_attempt(map).is_none())
    }

    /// Whether every map has a committed attempt: no more data can come.
    pub fn is_complete(&self) -> bool {
        self.book.committed_maps() as u64 >= u64::from(self.shape.maps)
    }

    /// Each partition file's path and the length of its whole records,
    /// for copying the shuffle elsewhere (empty partitions have length 0).
    pub fn partition_files(&self) -> Vec<(u32, PathBuf, u64)> {
        (0..self.shape.partitions)
            .map(|partition| {
                let len = self.writers[partition as usize]
                    .as_ref()
                    .map_or(0, PartitionWriter::len);
                (partition, partition_path(&self.dir, partition), len)
            })
            .collect()
    }

    /// The commit state.
    pub fn book(&self) -> &CommitBook {
        &self.book
    }

    fn check_partition(&self, partition: u32) -> Result<(), StorageError> {
        if partition < self.shape.partitions {
            Ok(())
        } else {
            Err(StorageError::NoSuchPartition {
                shuffle: self.label.clone(),
                partition,
                partitions: self.shape.partitions,
            })
        }
    }

    /// Stores one frame pushed by `key`'s map attempt for `partition`.
    /// Refused if another attempt of that map already committed.
    pub fn push(
        &mut self,
        partition: u32,
        key: RecordKey,
        payload: &[u8],
    ) -> Result<(), StorageError> {
        self.push_checked(partition, key, payload, crc32c::crc32c(payload))
    }

    /// Like [`Self::push`], for a payload whose CRC-32C the caller has
    /// already verified (the transport checks every frame).
    pub fn push_checked(
        &mut self,
        partition: u32,
        key: RecordKey,
        payload: &[u8],
        payload_crc: u32,
    ) -> Result<(), StorageError> {
        self.store_frame(partition, key, (payload, None), payload_crc)
    }

    /// Like [`Self::push`], for a payload the store may keep as it is: a
    /// pusher's own frame in this process, not a slice of some larger
    /// buffer it would pin. The memory tier holds it without a copy when
    /// it is 16-byte aligned (an archive's frame is).
    pub fn push_owned(
        &mut self,
        partition: u32,
        key: RecordKey,
        payload: Bytes,
    ) -> Result<(), StorageError> {
        let crc = crc32c::crc32c(&payload);
        self.store_frame(partition, key, (&payload, Some(&payload)), crc)
    }

    fn store_frame(
        &mut self,
        partition: u32,
        key: RecordKey,
        (payload, owned): (&[u8], Option<&Bytes>),
        payload_crc: u32,
    ) -> Result<(), StorageError> {
        self.check_partition(partition)?;
        if key.map_id >= self.shape.maps {
            return Err(StorageError::NoSuchMap {
                shuffle: self.label.clone(),
                map: key.map_id,
                maps: self.shape.maps,
            });
        }
        if let Err(winner) = self.book.record_push(key.map_id, key.attempt, partition) {
            return Err(StorageError::AlreadyCommitted {
                shuffle: self.label.clone(),
                map: key.map_id,
                attempt: key.attempt,
                winner,
            });
        }
        if self.durability == Durability::Memory {
            if let Some(held) = &mut self.held {
                if held.try_hold(partition, key, (payload, owned), payload_crc) {
                    return Ok(());
                }
            }
        }
        let (writer, _) = open_writer(&mut self.writers, &self.dir, &self.label, partition)?;
        writer
            .append_checked(&mut self.io, key, payload, payload_crc)
            .map_err(|source| StorageError::Io {
                shuffle: self.label.clone(),
                action: "appending to",
                path: writer.path().to_path_buf(),
                source,
            })?;
        self.since_sweep += payload.len() as u64;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            for writer in self.writers.iter_mut().flatten() {
                writer.start_writeback_if(SWEEP_MIN_PENDING);
            }
        }
        Ok(())
    }

    /// Commits a map attempt: syncs the partitions it wrote (when
    /// [`Durability::Synced`]), logs the commit, then makes it visible.
    /// The first attempt of a map to commit wins; the plan says what
    /// happened.
    pub fn commit(&mut self, map: u32, attempt: u32) -> Result<CommitPlan, StorageError> {
        if map >= self.shape.maps {
            return Err(StorageError::NoSuchMap {
                shuffle: self.label.clone(),
                map,
                maps: self.shape.maps,
            });
        }
        let plan = self.book.prepare(map, attempt);
        let synced = self.durability == Durability::Synced;
        if let CommitPlan::Commit { partitions } = &plan {
            for &partition in partitions.iter().filter(|_| synced) {
                let (writer, _) =
                    open_writer(&mut self.writers, &self.dir, &self.label, partition)?;
                writer
                    .sync()
                    .map_err(io_error(&self.label, "syncing", writer.path()))?;
            }
            // A memory shuffle's commits die with the node, as its data
            // does: logged, a restarted node would claim frames it lost.
            if self.durability != Durability::Memory {
                let log_path = self.log.path().to_path_buf();
                self.log
                    .append(map, attempt, synced)
                    .map_err(self.io("appending to", &log_path))?;
            }
            self.book.apply(map, attempt);
            // Frames other attempts of the map left in memory can never
            // be read now: their share of the budget goes back at once,
            // not when the shuffle is deleted.
            if let Some(held) = &mut self.held {
                held.drop_losers(map, attempt);
            }
        }
        Ok(plan)
    }

    /// The committed frames of `partition`, each exactly once, by map and
    /// then in the order each map pushed them: a zero-copy view of the
    /// partition file. The order is the same on every replica, whatever
    /// order the maps' pushes arrived in, so a fetch can resume on
    /// another replica where one stopped ([`crate::resume`]).
    pub fn read(&self, partition: u32) -> Result<PartitionFrames, StorageError> {
        self.read_maps(partition, 0..u32::MAX)
    }

    /// Like [`Self::read`], for the maps in `maps` only.
    pub fn read_maps(
        &self,
        partition: u32,
        maps: Range<u32>,
    ) -> Result<PartitionFrames, StorageError> {
        self.check_partition(partition)?;
        let path = partition_path(&self.dir, partition);
        let held = self.held.as_ref().map_or(&[][..], |h| h.of(partition));
        let reader = match &self.writers[partition as usize] {
            Some(writer) => Some(
                PartitionReader::open(&path, writer.len()).map_err(self.io("mapping", &path))?,
            ),
            None if held.is_empty() => return Ok(PartitionFrames::empty()),
            None => None,
        };
        let corrupt = |offset, fault| StorageError::Corrupt {
            shuffle: self.label.clone(),
            partition,
            offset,
            fault,
        };
        // Every stored frame, from the file and from memory, by map,
        // attempt and sequence: the order the visibility rules want (each
        // map's frames in sequence) and the one every replica serves.
        let mut stored: Vec<(RecordKey, Stored)> = Vec::new();
        for record in reader.iter().flat_map(PartitionReader::records) {
            let record = record.map_err(|(offset, fault)| corrupt(offset, fault))?;
            stored.push((
                record.header.key,
                Stored::File(record.offset, record.header),
            ));
        }
        stored.extend((0..held.len()).map(|i| (held[i].key, Stored::Held(i))));
        stored.sort_by_key(|(key, _)| (key.map_id, key.attempt, key.seq));
        let mut visible = VisibleRecords::new(&self.book, maps);
        let mut frames = Vec::new();
        for (key, stored) in stored {
            let served = visible
                .admit(key)
                .map_err(|hole| StorageError::missing_frame(&self.label, partition, hole))?;
            if !served {
                continue;
            }
            match stored {
                Stored::File(offset, header) => {
                    let bytes = reader.as_ref().map_or(&[][..], PartitionReader::bytes);
                    let record = bytes.get(offset as usize..).unwrap_or(&[]);
                    checked_payload(record, &header).map_err(|fault| corrupt(offset, fault))?;
                    let start = offset as usize + PAYLOAD_OFFSET;
                    let range = start..start + header.length as usize;
                    frames.push((FrameRef::Mapped(range), header.payload_crc));
                }
                Stored::Held(i) => {
                    frames.push((FrameRef::Held(held[i].payload.clone()), held[i].crc));
                }
            }
        }
        Ok(PartitionFrames { reader, frames })
    }
}

/// Where a stored frame is, while a read sorts them.
enum Stored {
    /// A record of the partition file: its offset and checked header.
    File(u64, RecordHeader),
    /// Held in memory: its place in the partition's held frames.
    Held(usize),
}

fn io_error<'a>(
    label: &'a str,
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        shuffle: label.to_string(),
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn partition_path(dir: &Path, partition: u32) -> PathBuf {
    dir.join(format!("part-{partition:05}.data"))
}

/// The writer of `partition`, opened (and recovered) on first use. A free
/// function over the store's fields, so callers can hold the writer and
/// the store's other fields (its io path) at once.
fn open_writer<'a>(
    writers: &'a mut [Option<PartitionWriter>],
    dir: &Path,
    label: &str,
    partition: u32,
) -> Result<(&'a mut PartitionWriter, Recovery), StorageError> {
    let partitions = writers.len() as u32;
    let slot =
        writers
            .get_mut(partition as usize)
            .ok_or_else(|| StorageError::NoSuchPartition {
                shuffle: label.to_string(),
                partition,
                partitions,
            })?;
    let mut recovery = Recovery::default();
    if slot.is_none() {
        let path = partition_path(dir, partition);
        let (writer, found) =
            PartitionWriter::open(&path).map_err(io_error(label, "opening", &path))?;
        recovery = found;
        *slot = Some(writer);
    }
    match slot {
        Some(writer) => Ok((writer, recovery)),
        None => Err(io_error(label, "opening", dir)(
            std::io::ErrorKind::NotFound.into(),
        )),
    }
}

fn parse_meta(meta: &str) -> Option<ShuffleShape> {
    let mut lines = meta.lines();
    (lines.next()? == META_MAGIC).then_some(())?;
    let mut count =
        |name: &str| -> Option<u32> { lines.next()?.strip_prefix(name)?.trim().parse().ok() };
    let partitions = count("partitions ")?;
    let maps = count("maps ")?;
    let shape = ShuffleShape { maps, partitions };
    shape.check().ok().map(|()| shape)
}

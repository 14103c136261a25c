//! The object-store tier: once every map of a shuffle has committed, the
//! node copies the shuffle's partition files to a configured store
//! (through opendal: a filesystem, memory, S3, …) in the background, and a
//! fetch falls back to that copy when the local file is gone (a lost disk,
//! a node replaced with an empty one).
//!
//! ```text
//! JOB/SHUFFLE/part-00007.manifest.json   shape, commits, which data object
//! JOB/SHUFFLE/part-00007.NODE.data       the partition file, byte for byte
//! ```
//!
//! The manifest is written after its data object, so a manifest always
//! names a whole copy. Data objects carry the uploading node's random tag:
//! two replicas of a partition never write the same object, and whichever
//! manifest lands last names a complete copy either way. The copy holds
//! the same checksummed records as the local file, read through the same
//! [`VisibleRecords`] rules, so exactly-once and corruption checks hold for
//! it too.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use opendal::Operator;
use serde::{Deserialize, Serialize};

use crate::storage::partition::PartitionReader;
use crate::storage::record::{checked_payload, decode_header, RecordFault, RECORD_HEADER_LEN};
use crate::storage::{CommitBook, ShuffleShape, StorageError, VisibleRecords};

/// Where the tier lives: an opendal scheme (`fs`, `memory`, `s3`, …) and
/// that service's options (`root`, `bucket`, `endpoint`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// The opendal service.
    pub scheme: String,
    /// The service's configuration, as opendal names it.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// What went wrong with the object store.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// The configuration names an unknown service or bad options.
    #[error("object-store tier {scheme:?}: {source}")]
    Config {
        /// The scheme configured.
        scheme: String,
        /// opendal's complaint.
        source: Box<opendal::Error>,
    },
    /// A store operation failed.
    #[error("object store: {action} {key}: {source}")]
    Store {
        /// What was being done.
        action: &'static str,
        /// The object.
        key: String,
        /// opendal's error.
        source: Box<opendal::Error>,
    },
    /// A local partition file could not be read for copying.
    #[error("object-store copy: reading {}: {source}", path.display())]
    Local {
        /// The partition file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A manifest in the store is not one this node understands.
    #[error("object store: bad manifest {key}: {reason}")]
    BadManifest {
        /// The manifest object.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The copy's records failed their checks; it is never served as good.
    #[error(transparent)]
    Corrupt(#[from] StorageError),
}

/// One partition's manifest: enough to read its copy without the node
/// that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    format: String,
    shape: ShuffleShape,
    partition: u32,
    /// Every `(map, committed attempt)` of the shuffle.
    commits: Vec<(u32, u32)>,
    /// The data object's key; `None` for an empty partition.
    data: Option<String>,
    /// Bytes of records in the data object.
    bytes: u64,
}

const FORMAT: &str = "faro-shuffle-tier v1";
const CHUNK: usize = 8 << 20;

/// A shuffle to copy: what [`Tier::upload`] needs, taken from the store
/// while it is locked so the copy runs without it.
#[derive(Debug, Clone)]
pub struct UploadPlan {
    /// The job.
    pub job: String,
    /// The shuffle.
    pub shuffle: u32,
    /// Its shape.
    pub shape: ShuffleShape,
    /// Every `(map, committed attempt)`.
    pub commits: Vec<(u32, u32)>,
    /// Each partition's file and the length of its whole records.
    pub files: Vec<(u32, PathBuf, u64)>,
}

/// A connection to the object store.
#[derive(Clone)]
pub struct Tier {
    operator: Operator,
    node_tag: String,
}

fn manifest_key(job: &str, shuffle: u32, partition: u32) -> String {
    format!("{job}/{shuffle}/part-{partition:05}.manifest.json")
}

fn store_error<'a>(
    action: &'static str,
    key: &'a str,
) -> impl FnOnce(opendal::Error) -> TierError + 'a {
    move |source| TierError::Store {
        action,
        key: key.to_string(),
        source: Box::new(source),
    }
}

impl Tier {
    /// Connects to the store `config` names.
    pub fn open(config: &TierConfig) -> Result<Self, TierError> {
        opendal::init_default_registry();
        let options = config.options.iter().map(|(k, v)| (k.clone(), v.clone()));
        let operator =
            Operator::via_iter(&config.scheme, options).map_err(|source| TierError::Config {
                scheme: config.scheme.clone(),
                source: Box::new(source),
            })?;
        Ok(Self::new(operator))
    }

    /// A tier over an operator built by the caller.
    pub fn new(operator: Operator) -> Self {
        let mut tag = [0u8; 8];
        // A clash of two nodes' tags would only make one replica's copy
        // overwrite the other's with equally valid records.
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut tag);
        Self {
            operator,
            node_tag: tag.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// The opendal operator.
    pub fn operator(&self) -> &Operator {
        &self.operator
    }

    /// Copies a complete shuffle's partitions, skipping those that already
    /// have a copy (another replica, or an earlier run); returns the bytes
    /// copied.
    pub async fn upload(&self, plan: &UploadPlan) -> Result<u64, TierError> {
        let mut copied = 0;
        for (partition, path, len) in &plan.files {
            let manifest_key = manifest_key(&plan.job, plan.shuffle, *partition);
            let exists = self.operator.exists(&manifest_key).await;
            if exists.map_err(store_error("checking", &manifest_key))? {
                continue;
            }
            let data = if *len > 0 {
                let key = format!(
                    "{}/{}/part-{partition:05}.{}.data",
                    plan.job, plan.shuffle, self.node_tag
                );
                self.copy_file(path, *len, &key).await?;
                copied += len;
                Some(key)
            } else {
                None
            };
            let manifest = Manifest {
                format: FORMAT.into(),
                shape: plan.shape,
                partition: *partition,
                commits: plan.commits.clone(),
                data,
                bytes: *len,
            };
            let body = serde_json::to_vec(&manifest).map_err(|e| TierError::BadManifest {
                key: manifest_key.clone(),
                reason: e.to_string(),
            })?;
            self.operator
                .write(&manifest_key, body)
                .await
                .map_err(store_error("writing", &manifest_key))?;
        }
        Ok(copied)
    }

    async fn copy_file(
        &self,
        path: &std::path::Path,
        len: u64,
        key: &str,
    ) -> Result<(), TierError> {
        let reader = PartitionReader::open(path, len).map_err(|source| TierError::Local {
            path: path.to_path_buf(),
            source,
        })?;
        let reader = Arc::new(reader);
        let mut writer = self
            .operator
            .writer_with(key)
            .chunk(CHUNK)
            .await
            .map_err(store_error("creating", key))?;
        let total = reader.bytes().len();
        for start in (0..total).step_by(CHUNK) {
            // Chunks go out straight from the mmap.
            let chunk = Bytes::from_owner(MappedRange {
                reader: reader.clone(),
                range: start..(start + CHUNK).min(total),
            });
            if let Err(error) = writer.write(chunk).await {
                let _ = writer.abort().await;
                return Err(store_error("writing", key)(error));
            }
        }
        writer.close().await.map_err(store_error("closing", key))?;
        Ok(())
    }

    /// Opens the copy of a partition, or `None` if the store has none.
    pub async fn open_partition(
        &self,
        job: &str,
        shuffle: u32,
        partition: u32,
        maps: Range<u32>,
    ) -> Result<Option<TierPartition>, TierError> {
        let key = manifest_key(job, shuffle, partition);
        let body = match self.operator.read(&key).await {
            Ok(body) => body.to_bytes(),
            Err(error) if error.kind() == opendal::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(store_error("reading", &key)(error)),
        };
        let bad = |reason: String| TierError::BadManifest {
            key: key.clone(),
            reason,
        };
        let manifest: Manifest = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
        if manifest.format != FORMAT || manifest.partition != partition {
            return Err(bad(format!(
                "expected {FORMAT:?} for partition {partition}, found {:?} for partition {}",
                manifest.format, manifest.partition
            )));
        }
        let mut book = CommitBook::default();
        for (map, attempt) in &manifest.commits {
            book.apply(*map, *attempt);
        }
        let reader = match &manifest.data {
            Some(data) => Some(
                self.operator
                    .reader(data)
                    .await
                    .map_err(store_error("opening", data))?,
            ),
            None => None,
        };
        Ok(Some(TierPartition {
            label: format!("job {job} shuffle {shuffle} (object-store copy)"),
            partition,
            data_key: manifest.data.unwrap_or_default(),
            reader,
            len: manifest.bytes,
            fetched: 0,
            consumed: 0,
            pending: BytesMut::new(),
            visible: VisibleRecords::new(book, maps),
        }))
    }

    /// Deletes everything the store holds for `job`.
    pub async fn delete_job(&self, job: &str) -> Result<(), TierError> {
        let prefix = format!("{job}/");
        self.operator
            .delete_with(&prefix)
            .recursive(true)
            .await
            .map_err(store_error("deleting", &prefix))
    }
}

/// A slice of a mapped partition file, owning a share of the mapping.
struct MappedRange {
    reader: Arc<PartitionReader>,
    range: Range<usize>,
}

impl AsRef<[u8]> for MappedRange {
    fn as_ref(&self) -> &[u8] {
        self.reader.bytes().get(self.range.clone()).unwrap_or(&[])
    }
}

/// A partition's copy in the store, read in chunks: at most one chunk
/// plus one frame is held at a time, whatever the partition's size.
pub struct TierPartition {
    label: String,
    partition: u32,
    data_key: String,
    reader: Option<opendal::Reader>,
    len: u64,
    fetched: u64,
    consumed: u64,
    pending: BytesMut,
    visible: VisibleRecords<CommitBook>,
}

impl TierPartition {
    fn corrupt(&self, fault: RecordFault) -> TierError {
        TierError::Corrupt(StorageError::Corrupt {
            shuffle: self.label.clone(),
            partition: self.partition,
            offset: self.consumed,
            fault,
        })
    }

    /// The next visible frame and its payload's CRC-32C (checked), or
    /// `None` at the end. Frames come in the file's order, not the
    /// canonical one a node's local copy is served in.
    pub async fn next_frame(&mut self) -> Result<Option<(Bytes, u32)>, TierError> {
        loop {
            if !self.pending.is_empty() {
                match decode_header(&self.pending) {
                    Ok(header) => {
                        let record = self.pending.split_to(header.stored_len()).freeze();
                        let served = self.visible.admit(header.key).map_err(|hole| {
                            StorageError::missing_frame(&self.label, self.partition, hole)
                        })?;
                        if served {
                            checked_payload(&record, &header).map_err(|f| self.corrupt(f))?;
                        }
                        self.consumed += header.stored_len() as u64;
                        if served {
                            let end = RECORD_HEADER_LEN + header.length as usize;
                            let payload = record.slice(RECORD_HEADER_LEN..end);
                            return Ok(Some((payload, header.payload_crc)));
                        }
                        continue;
                    }
                    Err(RecordFault::Torn) if self.fetched < self.len => {}
                    Err(fault) => return Err(self.corrupt(fault)),
                }
            } else if self.fetched >= self.len {
                return Ok(None);
            }
            let Some(reader) = &self.reader else {
                return Err(self.corrupt(RecordFault::Torn));
            };
            let end = (self.fetched + CHUNK as u64).min(self.len);
            let chunk = reader
                .read(self.fetched..end)
                .await
                .map_err(store_error("reading", &self.data_key))?;
            if chunk.is_empty() {
                return Err(self.corrupt(RecordFault::Torn));
            }
            self.fetched += chunk.len() as u64;
            self.pending.extend_from_slice(&chunk.to_bytes());
        }
    }
}

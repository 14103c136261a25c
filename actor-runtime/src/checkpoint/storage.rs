//! Where checkpoints are kept: a store ([`super::location`]: a directory,
//! or an S3 bucket), through opendal, holding
//! `JOB/chk-NNNNNNNNNN/CHAIN-SUBTASK.state` per task of each checkpoint,
//! and beside it `CHAIN-SUBTASK.parts` when the task stored state in
//! parts ([`super::increments`]).
//! The scheduler records which checkpoints are complete (in its store);
//! this layout only holds the bytes, so a checkpoint directory without a
//! record is an unfinished one and is never restored.
//!
//! Tasks write their state on a runtime of its own ([`spawn_io`]): a
//! task's loop that always has input ready (backpressure) never yields
//! its thread, and a write queued behind it would hold the checkpoint for
//! as long as the backlog lasts.

use opendal::Operator;

use super::location::Location;

/// Why checkpoint storage could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A job id that cannot name a directory.
    #[error("job id {0:?} cannot name a checkpoint directory")]
    BadJob(String),
    /// A store location that cannot be parsed.
    #[error("checkpoint store {location:?}: {why}")]
    BadLocation {
        /// The location given.
        location: String,
        /// What is wrong with it.
        why: String,
    },
    /// The store failed (a full disk, a missing file, no permission).
    #[error("{doing} {path}: {source}")]
    Store {
        /// What was being done.
        doing: &'static str,
        /// The file.
        path: String,
        /// opendal's error (boxed: it is large, and errors are rare).
        source: Box<opendal::Error>,
    },
}

impl StorageError {
    /// Whether the file asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Store { source, .. } if source.kind() == opendal::ErrorKind::NotFound)
    }
}

/// Runs `write` (a task's state going to storage, then its
/// acknowledgement) on the checkpoint I/O runtime: one thread of its own,
/// started on first use.
pub fn spawn_io<F>(write: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    static IO: std::sync::OnceLock<Option<tokio::runtime::Runtime>> = std::sync::OnceLock::new();
    let runtime = IO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("faro-checkpoint-io")
            .enable_all()
            .build()
            .map_err(
                |error| tracing::warn!(%error, "no checkpoint I/O thread; writing on the task's"),
            )
            .ok()
    });
    match runtime {
        Some(runtime) => {
            runtime.spawn(write);
        }
        None => {
            tokio::spawn(write);
        }
    }
}

/// A checkpoint store rooted at one location.
#[derive(Clone, Debug)]
pub struct CheckpointStorage {
    root: String,
    op: Operator,
}

fn store_error(doing: &'static str, path: &str) -> impl FnOnce(opendal::Error) -> StorageError {
    let path = path.to_string();
    move |source| StorageError::Store {
        doing,
        path,
        source: Box::new(source),
    }
}

impl CheckpointStorage {
    /// The store at `root`, a location string (a directory, created as
    /// needed, or `s3://…`: see [`super::location`]).
    pub fn new(root: &str) -> Result<Self, StorageError> {
        let op = Location::parse(root)?.operator(root)?;
        Ok(Self {
            root: root.to_string(),
            op,
        })
    }

    /// The names of the files directly under `dir` (relative to the
    /// root, ending in `/`; `""` for the root itself).
    pub async fn list(&self, dir: &str) -> Result<Vec<String>, StorageError> {
        let entries = self
            .op
            .list(dir)
            .await
            .map_err(store_error("listing", &self.shown(dir)))?;
        Ok(entries
            .into_iter()
            .filter(|e| e.metadata().is_file())
            .map(|e| e.name().to_string())
            .collect())
    }

    /// The location it is rooted at.
    pub fn root(&self) -> &str {
        &self.root
    }

    fn job_dir(job: &str) -> Result<String, StorageError> {
        let safe = !job.is_empty()
            && job
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        match safe {
            true => Ok(format!("{job}/")),
            false => Err(StorageError::BadJob(job.to_string())),
        }
    }

    /// The directory of checkpoint `checkpoint` of `job`.
    pub fn checkpoint_dir(job: &str, checkpoint: u64) -> Result<String, StorageError> {
        Ok(format!(
            "{}{}/",
            Self::job_dir(job)?,
            Self::checkpoint_name(checkpoint)
        ))
    }

    /// The name of checkpoint `checkpoint`'s directory in its job's.
    pub fn checkpoint_name(checkpoint: u64) -> String {
        format!("chk-{checkpoint:010}")
    }

    /// The file of one task's state in a checkpoint.
    pub fn task_path(
        job: &str,
        checkpoint: u64,
        chain: usize,
        subtask: u32,
    ) -> Result<String, StorageError> {
        Ok(format!(
            "{}{}",
            Self::checkpoint_dir(job, checkpoint)?,
            Self::task_file(chain, subtask)
        ))
    }

    /// The name of one task's state file inside a checkpoint's (or a
    /// savepoint's) directory.
    pub fn task_file(chain: usize, subtask: u32) -> String {
        format!("{chain:03}-{subtask:05}.state")
    }

    /// The file of one task's parts (an incremental checkpoint's
    /// changed state) in a checkpoint.
    pub fn parts_path(
        job: &str,
        checkpoint: u64,
        chain: usize,
        subtask: u32,
    ) -> Result<String, StorageError> {
        let state = Self::task_path(job, checkpoint, chain, subtask)?;
        Ok(Self::parts_file_of(&state).unwrap_or(state))
    }

    /// The parts file beside the task state file `name`, if it is one.
    pub fn parts_file_of(name: &str) -> Option<String> {
        name.strip_suffix(".state")
            .map(|stem| format!("{stem}.parts"))
    }

    /// Writes `bytes` to `path` (opendal's `fs` writes to a temporary
    /// name and renames, so a reader never sees half a file).
    pub async fn write(&self, path: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.op
            .write(path, bytes)
            .await
            .map(|_| ())
            .map_err(store_error("writing", &self.shown(path)))
    }

    /// Reads the file at `path`.
    pub async fn read(&self, path: &str) -> Result<Vec<u8>, StorageError> {
        self.op
            .read(path)
            .await
            .map(|buffer| buffer.to_vec())
            .map_err(store_error("reading", &self.shown(path)))
    }

    /// Deletes checkpoint `checkpoint` of `job`, every file of it.
    pub async fn delete_checkpoint(&self, job: &str, checkpoint: u64) -> Result<(), StorageError> {
        let dir = Self::checkpoint_dir(job, checkpoint)?;
        self.op
            .delete_with(&dir)
            .recursive(true)
            .await
            .map_err(store_error("deleting", &self.shown(&dir)))
    }

    /// Deletes every checkpoint of `job`.
    pub async fn delete_job(&self, job: &str) -> Result<(), StorageError> {
        let dir = Self::job_dir(job)?;
        self.op
            .delete_with(&dir)
            .recursive(true)
            .await
            .map_err(store_error("deleting", &self.shown(&dir)))
    }

    /// `path` as a person finds it: under the root (credentials in a
    /// location's query are not shown).
    fn shown(&self, path: &str) -> String {
        let root = Location::shown(&self.root);
        format!("{}/{path}", root.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_job_checkpoint_and_task_and_refuse_odd_job_ids() {
        assert_eq!(
            CheckpointStorage::task_path("job-7", 12, 1, 3).unwrap(),
            "job-7/chk-0000000012/001-00003.state"
        );
        for bad in ["", "../x", "a/b", "a b", "."] {
            assert!(CheckpointStorage::job_dir(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn files_round_trip_and_a_checkpoint_is_deleted_whole() {
        let dir = tempfile::tempdir().unwrap();
        let storage = CheckpointStorage::new(dir.path().to_str().unwrap()).unwrap();
        let path = CheckpointStorage::task_path("j", 1, 0, 0).unwrap();
        storage.write(&path, b"state".to_vec()).await.unwrap();
        assert_eq!(storage.read(&path).await.unwrap(), b"state");
        storage.delete_checkpoint("j", 1).await.unwrap();
        let gone = storage.read(&path).await.unwrap_err();
        assert!(gone.is_not_found(), "{gone}");
        assert!(gone.to_string().contains("chk-0000000001"), "{gone}");
    }
}

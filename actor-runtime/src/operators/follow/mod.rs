//! `follow`: an unbounded source of the files that appear in a local
//! directory — Flink's continuous file monitoring, Spark's file stream.
//!
//! Every `poll_ms` the directory is listed; the files a subtask owns
//! ([`assign`]: complete names only, split among subtasks by a stable
//! hash of the name) that it has not read yet are read in name order,
//! each once, with `read`'s parsing ([`FileRows`]): the same formats,
//! the same declared schema, the same errors naming file, line and
//! column. A producer should write under a hidden or in-progress name
//! and rename the file in when it is complete (as Faro's `files` sink
//! does): a name is read as soon as it is listed.
//!
//! The directory, and each file again when it is opened (a link inside
//! may lead out), must lie under the worker's read roots. With
//! `event_time`, watermarks follow that timestamp column (the strategies
//! of [`crate::event_time`], as `generate` has them); without, the source
//! emits none. While there is nothing to read it asks to be woken at the
//! next listing (`ready_at`, so the slot stays free) and hands on an
//! empty batch, which lets its watermark's idle timeout and downstream
//! timers (a rolling `files` sink's interval) see time pass. Once it has
//! read nothing for `idle_timeout_ms`, it tells its consumers it is idle
//! (a subtask whose files all hash elsewhere would otherwise hold every
//! window downstream); without a timeout, it holds event time where it
//! is.
//!
//! Known limits: the set of files read is not checkpointed yet, so a
//! restarted task reads every file of the directory again; a file is
//! read once by its name (rewriting it, or renaming another over it, is
//! not noticed); subdirectories and names that are not UTF-8 are
//! skipped; the names read are remembered for the task's life (some
//! bytes per file); local files only (no object stores).

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::access::{Access, AccessPolicy};
use crate::catalogue::SchemaContext;
use crate::data::{Batch, BatchBuilder, ValuesView};
use crate::event_time::SplitWatermarks;
use crate::message::Watermark;
use crate::operator::{OperatorContext, OperatorError, Source};
use crate::operators::read::FileRows;

pub mod assign;
mod definition;

pub use definition::{FollowDefinition, FollowParams, DEFAULT_POLL_MS, MAX_POLL_MS};

/// The `follow` source: one subtask's share of a directory's files.
pub struct Follow {
    params: FollowParams,
    /// The directory, resolved when the source opens.
    dir: PathBuf,
    access: Arc<AccessPolicy>,
    subtask: u32,
    parallelism: u32,
    /// Every name this subtask has taken, so none is read twice.
    taken: HashSet<String>,
    /// Names taken and not yet opened, in name order.
    queue: VecDeque<String>,
    /// The file being read.
    current: Option<FileRows<File>>,
    last_poll: Option<Instant>,
    started: Instant,
    /// With `event_time`: the column and its watermarks.
    event_time: Option<(usize, SplitWatermarks)>,
}

impl Follow {
    /// A follower of `params`, for vertex `vertex` (named in errors).
    pub fn new(params: FollowParams, vertex: &str) -> Result<Self, OperatorError> {
        let event_time = match &params.event_time {
            Some(event_time) => {
                let index = event_time
                    .check(&SchemaContext::new(vertex), &params.schema)
                    .map_err(|e| OperatorError::BadInput(e.to_string()))?;
                let strategy = event_time.strategy();
                let watermarks = SplitWatermarks::new(strategy, event_time.idle_timeout_ms, 1, 0);
                Some((index, watermarks))
            }
            None => None,
        };
        Ok(Self {
            params,
            dir: PathBuf::new(),
            access: Arc::new(AccessPolicy::deny_all()),
            subtask: 0,
            parallelism: 1,
            taken: HashSet::new(),
            queue: VecDeque::new(),
            current: None,
            last_poll: None,
            started: Instant::now(),
            event_time,
        })
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.params.poll_ms)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Lists the directory and queues this subtask's new files.
    fn poll(&mut self) -> Result<(), OperatorError> {
        self.last_poll = Some(Instant::now());
        let listing = OperatorError::io("listing", self.dir.display());
        let entries = std::fs::read_dir(&self.dir).map_err(listing)?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(OperatorError::io("listing", self.dir.display()))?;
            // A name that is not UTF-8 cannot be named in a message or
            // hashed alike everywhere: skipped (documented).
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        let new = assign::take_new(
            names.iter().map(String::as_str),
            &mut self.taken,
            self.subtask,
            self.parallelism,
        );
        self.queue.extend(new);
        Ok(())
    }

    /// Opens the next queued file that is still a file.
    fn open_next(&mut self) -> Result<(), OperatorError> {
        while self.current.is_none() {
            let Some(name) = self.queue.pop_front() else {
                return Ok(());
            };
            let path = self.dir.join(&name);
            let shown = path.display().to_string();
            let resolved = match self.access.check(&path, Access::Read) {
                Ok(resolved) => resolved,
                Err(OperatorError::Io { source, .. }) if gone(&source) => {
                    tracing::warn!(file = %shown, "a followed file went away before it was read");
                    continue;
                }
                Err(error) => return Err(error),
            };
            if resolved.is_dir() {
                continue;
            }
            let file = match File::open(&resolved) {
                Ok(file) => file,
                Err(error) if gone(&error) => {
                    tracing::warn!(file = %shown, "a followed file went away before it was read");
                    continue;
                }
                Err(error) => return Err(OperatorError::io("reading", &shown)(error)),
            };
            let (format, schema, csv) = (self.params.format, &self.params.schema, &self.params.csv);
            self.current = Some(FileRows::open(format, schema, csv, shown, file)?);
        }
        Ok(())
    }

    /// Moves the watermark on past the rows of `batch`.
    fn observe(&mut self, batch: &Batch) {
        let now = self.now_ms();
        let Some((index, watermarks)) = &mut self.event_time else {
            return;
        };
        let Some(column) = batch.column(*index) else {
            return;
        };
        if let ValuesView::Timestamp(times) = column.values {
            // A null's slot holds no time: only valid rows count.
            let valid = |i: &usize| column.validity.as_ref().is_none_or(|v| v.get(*i));
            let latest = (0..times.len()).filter(valid).map(|i| times[i]).max();
            if let Some(latest) = latest {
                watermarks.observe(0, latest, now);
            }
        }
    }
}

/// Whether `error` says the file is no longer there.
fn gone(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::NotFound
}

impl Source for Follow {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        let dir = context
            .access
            .check(Path::new(&self.params.path), Access::Read)?;
        if !dir.is_dir() {
            return Err(OperatorError::BadInput(format!(
                "{}: not a directory (follow reads the files that appear in one)",
                dir.display()
            )));
        }
        self.dir = dir;
        self.access = context.access.clone();
        self.subtask = context.subtask;
        self.parallelism = context.parallelism.max(1);
        self.started = Instant::now();
        Ok(())
    }

    fn ready_at(&self) -> Option<Instant> {
        if self.current.is_some() || !self.queue.is_empty() {
            return None;
        }
        self.last_poll.map(|at| at + self.poll_interval())
    }

    fn next_batch(&mut self) -> Result<Option<Batch>, OperatorError> {
        let limit = self.params.batch_rows;
        let mut builder = BatchBuilder::new(self.params.schema.clone(), limit);
        while builder.len() < limit {
            if let Some(rows) = self.current.as_mut() {
                if !rows.fill(&self.params.schema, &mut builder, limit)? {
                    self.current = None;
                }
            } else if !self.queue.is_empty() {
                self.open_next()?;
            } else if self
                .last_poll
                .is_none_or(|at| at.elapsed() >= self.poll_interval())
            {
                self.poll()?;
                if self.queue.is_empty() {
                    break;
                }
            } else {
                break;
            }
        }
        // Never `None`: a directory may always get another file. An empty
        // batch says "nothing yet" and lets time be seen downstream.
        let batch = builder.finish()?;
        self.observe(&batch);
        Ok(Some(batch))
    }

    fn watermark(&mut self) -> Option<Watermark> {
        let now = self.now_ms();
        let (_, watermarks) = self.event_time.as_mut()?;
        watermarks.poll(now)
    }

    fn idle(&mut self) -> bool {
        let now = self.now_ms();
        self.event_time
            .as_ref()
            .is_some_and(|(_, watermarks)| watermarks.all_idle(now))
    }
}

//! The `files` sink: rows written as CSV (with a header line), JSON lines,
//! text or Parquet ([`parquet`]: a row group at a time) into the target
//! directory.
//!
//! Without `rolling`, each subtask writes one part, `part-NNNNN.EXT`, when
//! its input ends (a batch job's shape). With `rolling` — a streaming
//! job's — each subtask writes a sequence of parts, `part-NNNNN-SSSSS.EXT`,
//! finishing one and starting the next at the limits of [`rolling`], on
//! every checkpoint barrier and at end of input, so a stream's rows land
//! in finished files while it runs. Every part is written as
//! `NAME.inprogress-ATTEMPT` and renamed to its name once synced
//! ([`part`]): a reader never sees a half-written part under a final
//! name, and a failed attempt leaves nothing under one.
//!
//! Existing output is not replaced unless the job says `mode: overwrite`:
//! the first attempt of a subtask fails, naming the file, if a part of
//! that subtask already exists. A re-run attempt may replace it, since
//! after a first attempt found the name free, a part under it can only be
//! this job's; a re-run rolling subtask removes its earlier parts first
//! (it writes its rows again). The directory must lie under the worker's
//! write roots.
//!
//! A changelog (a continuous aggregate's updates) is refused unless the
//! sink says `changelog: true`: then each row is written after a leading
//! `op` column holding its kind (`+I`, `-U`, `+U`, `-D`), as Flink's
//! changelog formats do, so a reader can apply them in order.
//!
//! The rolling interval runs on the operator's timer, so a part is
//! finished on time even when no rows come. Known limit: without
//! `rolling` an unbounded job's part is never finished.
//!
//! In a checkpointed job the sink writes exactly once ([`commit`]): a
//! finished part stays hidden until the checkpoint after it completes,
//! and a restored sink commits what its checkpoint covered and drops the
//! rest, which it writes again. It then rolls parts at every barrier
//! even without `rolling`. Known limit: at end of input the last parts
//! are committed as the sink ends, not at a final checkpoint, so a job
//! that fails after one sink subtask ended but before all did may write
//! that subtask's last rows twice.
//!
//! Its params and its catalogue entry, [`FilesDefinition`], are here too.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{with_op_column, with_op_field, Schema};
use crate::message::{Barrier, Watermark};
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::operators::read::{CsvOptions, FileFormat};
use crate::spec::SpecError;

pub mod commit;
mod parquet;
mod part;
pub mod rolling;

pub use part::write_file;

use commit::{pending_name, remove_uncommitted, Commits};
use part::{encode, header, Part};
pub use rolling::{parse_part_name, part_name, RollingParams};

/// What the `files` sink does when its output already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Fail the job, leaving the existing files as they are.
    #[default]
    Error,
    /// Replace the existing part files (and remove parts beyond the
    /// job's parallelism).
    Overwrite,
}

/// `files`: writes rows to part files, one per subtask or, rolling, a
/// sequence per subtask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesParams {
    /// Directory to write the part files (`part-N.csv`, `.jsonl`, `.txt`,
    /// `.parquet`) into.
    pub path: String,
    /// Their format.
    pub format: FileFormat,
    /// Whether existing output may be replaced.
    #[serde(default)]
    pub mode: WriteMode,
    /// Finish parts as rows come (streaming); unset, one part per subtask.
    #[serde(default)]
    pub rolling: Option<RollingParams>,
    /// Write a changelog input's row kinds in a leading `op` column
    /// (without it, changelog input is refused).
    #[serde(default)]
    pub changelog: bool,
    /// How CSV parts are laid out (csv only): header, separator, quote,
    /// and the text a null is written as (empty by default).
    #[serde(default, skip_serializing_if = "CsvOptions::is_default")]
    pub csv: CsvOptions,
}

/// The `files` sink.
pub struct Files {
    params: FilesParams,
    /// The rows it is given.
    input: Schema,
    /// The rows it writes (with `changelog`, an `op` column first).
    schema: Schema,
    /// The directory, resolved when the sink opens.
    dir: PathBuf,
    subtask: u32,
    attempt: u32,
    /// The next part's sequence number and, exactly once, the finished
    /// parts not yet visible ([`commit`]).
    commits: Commits,
    /// Whether finished parts wait for their checkpoint to complete (a
    /// checkpointed job).
    exactly_once: bool,
    /// Whether a restore brought back the state of an earlier attempt.
    restored: bool,
    /// Other old subtasks whose parts this one finishes off when it
    /// opens: a savepoint resumed on fewer subtasks.
    adopted: Vec<(u32, Commits)>,
    /// The part being written, if any.
    part: Option<Part>,
}

impl Files {
    /// A sink of `schema` rows as `params` says (with `changelog`, rows
    /// of a changelog, written after their kind); `exactly_once` (a
    /// checkpointed job) makes parts visible only when the checkpoint
    /// after them completes, and rolls parts even without `rolling`.
    pub fn new(mut params: FilesParams, input: &Schema, exactly_once: bool) -> Self {
        if exactly_once {
            params.rolling.get_or_insert_with(RollingParams::default);
        }
        let schema = if params.changelog {
            with_op_field(input)
        } else {
            input.clone()
        };
        Self {
            params,
            input: input.clone(),
            schema,
            dir: PathBuf::new(),
            subtask: 0,
            attempt: 0,
            commits: Commits::default(),
            exactly_once,
            restored: false,
            adopted: Vec::new(),
            part: None,
        }
    }

    fn extension(&self) -> &'static str {
        match self.params.format {
            FileFormat::Csv => "csv",
            FileFormat::JsonLines => "jsonl",
            FileFormat::Text => "txt",
            FileFormat::Parquet => "parquet",
        }
    }

    /// The finished parts in `dir` (any subtask, either naming), sorted.
    fn parts(&self, dir: &Path) -> Result<Vec<(String, u32)>, OperatorError> {
        let entries =
            std::fs::read_dir(dir).map_err(OperatorError::io("listing", dir.display()))?;
        let mut parts = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((subtask, _)) = parse_part_name(&name, self.extension()) {
                parts.push((name, subtask));
            }
        }
        parts.sort();
        Ok(parts)
    }

    /// Removes the part `name`; one already gone (another subtask or
    /// attempt got there first) is no error.
    fn remove(&self, name: &str) -> Result<(), OperatorError> {
        let path = self.dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(OperatorError::io("removing", path.display())(e))
            }
            _ => Ok(()),
        }
    }

    /// Starts the next part: the one part without rolling, the next in
    /// sequence with it (its CSV header written at once: each rolled part
    /// is a file of its own).
    fn start_part(&mut self) -> Result<&mut Part, OperatorError> {
        let seq = self.params.rolling.map(|_| self.commits.next_seq);
        let name = part_name(self.subtask, seq, self.extension());
        let mut part = Part::create(
            &self.dir,
            &name,
            self.attempt,
            self.params.format,
            &self.schema,
        )?;
        if seq.is_some() {
            self.commits.next_seq += 1;
            let head = header(self.params.format, &self.schema, &self.params.csv)?;
            part.write(&head, 0)?;
            part.wrote_header = true;
        }
        Ok(self.part.insert(part))
    }

    /// Finishes the part being written, if there is one: visible at
    /// once, or exactly once pending until its checkpoint completes.
    fn finish_part(&mut self) -> Result<(), OperatorError> {
        let Some(part) = self.part.take() else {
            return Ok(());
        };
        if !self.exactly_once {
            return part.finish();
        }
        let name = part.name();
        part.finish_as(&pending_name(&name))?;
        self.commits.pending.push(name);
        Ok(())
    }

    /// A restored sink's start: what its checkpoint pre-committed is
    /// complete, so it is committed; what came after is written again,
    /// so this subtask's uncommitted files go.
    fn resume(&mut self) -> Result<(), OperatorError> {
        let dir = self.dir.clone();
        self.commits.commit_all(&dir)?;
        remove_uncommitted(&dir, self.subtask, self.extension())?;
        for (old, mut commits) in std::mem::take(&mut self.adopted) {
            commits.commit_all(&dir)?;
            remove_uncommitted(&dir, old, self.extension())?;
        }
        Ok(())
    }

    /// Finishes the part if its rolling interval has passed.
    fn roll_if_due(&mut self) -> Result<(), OperatorError> {
        let (Some(rolling), Some(part)) = (self.params.rolling, &self.part) else {
            return Ok(());
        };
        let age = u64::try_from(part.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        if rolling.due(age) {
            self.finish_part()?;
        }
        Ok(())
    }
}

impl Operator for Files {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        let dir = context
            .access
            .check(Path::new(&self.params.path), Access::Write)?;
        std::fs::create_dir_all(&dir).map_err(OperatorError::io("creating", dir.display()))?;
        self.dir = dir;
        self.subtask = context.subtask;
        self.attempt = context.attempt;
        if self.restored {
            return self.resume();
        }
        let rolling = self.params.rolling.is_some();
        let overwrite = self.params.mode == WriteMode::Overwrite;
        let parts = self.parts(&self.dir)?;
        let mine: Vec<&String> = parts
            .iter()
            .filter(|(name, subtask)| {
                // Without rolling, only the one part is this subtask's to
                // check (and renaming replaces it).
                *subtask == context.subtask
                    && (rolling || *name == part_name(context.subtask, None, self.extension()))
            })
            .map(|(name, _)| name)
            .collect();
        if let (Some(first), false, 0) = (mine.first(), overwrite, context.attempt) {
            return Err(OperatorError::AccessDenied {
                action: "writing",
                path: self.dir.join(first).display().to_string(),
                reason: "the file exists; say `mode: overwrite` to replace it".into(),
            });
        }
        if rolling {
            // Rolled parts are not replaced by name: a shorter rerun would
            // leave the old ones beside its own.
            for name in &mine {
                self.remove(name)?;
            }
            remove_uncommitted(&self.dir, self.subtask, self.extension())?;
        }
        if overwrite && context.subtask == 0 {
            // Parts of subtasks an earlier, wider run had.
            for (name, _) in parts.iter().filter(|(_, s)| *s >= context.parallelism) {
                self.remove(name)?;
            }
        }
        if !rolling {
            self.start_part()?;
        }
        Ok(())
    }

    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        self.roll_if_due()?;
        let rolling = self.params.rolling.unwrap_or_default();
        if self.params.format == FileFormat::Csv && self.params.rolling.is_none() {
            // One part: the header goes in with its first batch.
            if let Some(part) = self.part.as_mut().filter(|p| !p.wrote_header) {
                let head = header(self.params.format, &self.schema, &self.params.csv)?;
                part.write(&head, 0)?;
                part.wrote_header = true;
            }
        }
        let with_op;
        let rows = if self.params.changelog {
            with_op = with_op_column(&rows.to_batch(&self.input)?)?;
            &Rows::of_batch(&with_op)
        } else {
            rows
        };
        let layout = (self.params.format, &self.params.csv);
        let encoded = encode(layout, &self.schema, rows)?;
        let (mut row, mut from) = (0, 0);
        while row < encoded.ends.len() {
            let part = match self.part.as_mut() {
                Some(part) => part,
                None if self.params.rolling.is_some() => self.start_part()?,
                // The one part is gone: its input already ended.
                None => return Ok(()),
            };
            // The rows that fit in this part, cut after the one that
            // fills it.
            let (first, mut count, mut to) = (row, 0, from);
            while row < encoded.ends.len() {
                to = encoded.ends[row];
                row += 1;
                count += 1;
                if rolling.full(part.rows + count, part.bytes + (to - from) as u64) {
                    break;
                }
            }
            part.append(&encoded, rows, first..row)?;
            from = to;
            if rolling.full(part.rows, part.bytes) {
                self.finish_part()?;
            }
        }
        Ok(())
    }

    fn on_watermark(
        &mut self,
        watermark: Watermark,
        _: &mut dyn Emit,
    ) -> Result<Option<Watermark>, OperatorError> {
        self.roll_if_due()?;
        Ok(Some(watermark))
    }

    /// A part open for its rolling interval is finished by the clock,
    /// rows coming or not.
    fn timer(&self) -> Option<std::time::Instant> {
        let interval = self.params.rolling?.interval_ms?;
        Some(self.part.as_ref()?.opened + std::time::Duration::from_millis(interval))
    }

    fn on_timer(&mut self, _: &mut dyn Emit) -> Result<(), OperatorError> {
        self.roll_if_due()
    }

    /// Rolling, the rows before a checkpoint barrier are finished with it
    /// (as Flink's `FileSink` rolls on checkpoint).
    /// Exactly once, the parts finished since the last barrier are
    /// pre-committed under this one.
    fn on_barrier(&mut self, barrier: Barrier, _: &mut dyn Emit) -> Result<(), OperatorError> {
        if self.params.rolling.is_some() {
            self.finish_part()?;
        }
        self.commits.precommit(barrier.checkpoint);
        Ok(())
    }

    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<Vec<u8>>, OperatorError> {
        Ok(Some(self.commits.encode()))
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        self.commits = Commits::decode(state)?;
        self.restored = true;
        Ok(())
    }

    /// Its own old state (if it had a namesake) and that of the old
    /// subtasks it adopts: their parts are committed or removed as its
    /// own are, and it goes on numbering its own.
    fn restore_rescaled(
        &mut self,
        from: &crate::checkpoint::Rescaled<'_>,
    ) -> Result<(), OperatorError> {
        for (old, bytes) in from.adopted() {
            let commits = Commits::decode(bytes)?;
            match *old == from.subtask {
                true => self.commits = commits,
                false => self.adopted.push((*old, commits)),
            }
        }
        self.restored = true;
        Ok(())
    }

    fn checkpoint_complete(&mut self, checkpoint: u64) -> Result<(), OperatorError> {
        let dir = self.dir.clone();
        self.commits.commit_through(&dir, checkpoint)
    }

    /// At end of input every finished part is committed: no checkpoint
    /// follows the last rows.
    fn end_input(&mut self, _: usize, _: &mut dyn Emit) -> Result<(), OperatorError> {
        self.finish_part()?;
        let dir = self.dir.clone();
        self.commits.commit_all(&dir)
    }
}

/// The catalogue's `files`.
pub struct FilesDefinition;

impl OperatorDefinition for FilesDefinition {
    type Params = FilesParams;

    /// Each row on its own: every subtask writes its own files.
    fn divisible_input(&self, _: &FilesParams, _: usize) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "files"
    }

    fn is_sink(&self) -> bool {
        true
    }

    /// Its state is the parts awaiting their checkpoint.
    fn checkpointable(&self, _: &FilesParams) -> bool {
        true
    }

    fn output_schema(
        &self,
        params: &FilesParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        if let Some(problem) = params.rolling.as_ref().and_then(RollingParams::problem) {
            return Err(context.bad_params(problem));
        }
        (params.csv)
            .check_writing(params.format)
            .map_err(|e| context.bad_params(e))?;
        let input = inputs.first().cloned().unwrap_or_default();
        if params.changelog {
            context.unique(with_op_field(&input))?;
        }
        Ok(input)
    }

    /// A changelog is written only when the sink says `changelog: true`.
    fn changelog(&self, params: &FilesParams, context: &SchemaContext<'_>) -> Result<bool, String> {
        if context.changelog_input(0) && !params.changelog {
            return Err(
                "its rows update and retract earlier ones, which plain files cannot \
                 show; say `changelog: true` to write each row's kind in a leading `op` column \
                 (+I, -U, +U, -D)"
                    .into(),
            );
        }
        Ok(false)
    }

    fn build(
        &self,
        params: &FilesParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let files = Files::new(
            params.clone(),
            &context.input(0),
            context.step.checkpointing,
        );
        Ok(Built::Operator(Box::new(files)))
    }
}

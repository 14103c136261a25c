//! `sort` (external merge sort) and `top_n`.
//!
//! Sort buffers its input (archives read in place from a shuffle node in
//! its process are kept as they arrived, the rest copied: `memory::Held`);
//! over its memory budget it sorts what it holds
//! (`memory`) into a run on disk and starts again. Runs are kept closed
//! and merged a bounded number at a time (`merge`), level by level as
//! `runs` decides, so neither open files nor the work per row grow with
//! the number of runs. At the end, whatever is left is merged and streamed
//! out; with no runs the buffer is sorted in memory. Sort thus handles far
//! more than its budget with bounded memory and file handles.
//!
//! `top_n` in a batch job keeps its best rows as they come and emits them
//! at end of input ([`TopN`]; per partition or numbered, the ranking of
//! [`ContinuousTopN`] run to the end); in a streaming job it is continuous
//! ([`ContinuousTopN`], one [`ranking`] per partition): it emits the
//! changes to its best rows after every batch, as a changelog, and takes
//! retractions.
//!
//! Their catalogue entries are [`SortDefinition`] and [`TopNDefinition`].

mod continuous;
mod definition;
mod memory;
mod merge;
pub(crate) mod order_key;
mod ranking;
mod runs;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::data::{Batch, KeptArchive, Schema};
use crate::kernels::rows::KeyColumn;
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::operators::spill::{SpillFile, SpillWriter};

pub use continuous::{ContinuousTopN, RankingSpec};
pub use definition::{SortDefinition, SortKey, SortParams, TopNDefinition, TopNParams};
use memory::{gather, held_views, sorted_positions, Held};
pub use runs::MERGE_FAN_IN;
use runs::{MergePolicy, Run};

/// Rows per batch the sort emits and writes to its runs.
const OUTPUT_ROWS: usize = 8192;

/// Numbers run files, so that sorts sharing a spill directory (chained in
/// one task) never pick the same name.
static NEXT_RUN: AtomicU64 = AtomicU64::new(0);

/// Resolves sort keys against `schema`.
pub fn key_columns(keys: &[SortKey], schema: &Schema) -> Result<Vec<KeyColumn>, OperatorError> {
    keys.iter()
        .map(|key| {
            schema
                .index_of(&key.column)
                .map(|column| KeyColumn {
                    column,
                    descending: key.descending,
                })
                .ok_or_else(|| OperatorError::BadInput(format!("no sort column {}", key.column)))
        })
        .collect()
}

/// Bytes a batch holds, roughly.
fn batch_bytes(batch: &Batch) -> u64 {
    batch
        .columns()
        .iter()
        .map(|c| match &c.data {
            crate::data::ColumnData::Utf8 { offsets, data }
            | crate::data::ColumnData::Binary { offsets, data } => offsets.len() * 4 + data.len(),
            _ => batch.num_rows() * 8,
        } as u64)
        .sum()
}

/// The `sort` operator.
pub struct Sort {
    schema: Schema,
    keys: Vec<KeyColumn>,
    budget: Option<u64>,
    buffered: Vec<Held>,
    bytes: u64,
    spill_dir: PathBuf,
    runs: Vec<Run>,
    policy: MergePolicy,
}

impl Sort {
    /// A sort of `schema` rows by `keys`, spilling beyond `budget` bytes.
    pub fn new(
        keys: &[SortKey],
        schema: &Schema,
        budget: Option<u64>,
    ) -> Result<Self, OperatorError> {
        Ok(Self {
            schema: schema.clone(),
            keys: key_columns(keys, schema)?,
            budget,
            buffered: Vec::new(),
            bytes: 0,
            spill_dir: PathBuf::new(),
            runs: Vec::new(),
            policy: MergePolicy::new(MERGE_FAN_IN),
        })
    }

    fn create_run(&self) -> Result<SpillWriter, OperatorError> {
        let path = self.spill_dir.join(format!(
            "sort-{}-{}.run",
            std::process::id(),
            NEXT_RUN.fetch_add(1, Ordering::Relaxed)
        ));
        SpillWriter::create(&path)
    }

    /// Sorts what is buffered into a new level-0 run.
    fn spill_run(&mut self) -> Result<(), OperatorError> {
        let held = std::mem::take(&mut self.buffered);
        self.bytes = 0;
        let all = held_views(&held)?;
        let positions = sorted_positions(&self.keys, &all);
        let mut writer = self.create_run()?;
        gather(&self.schema, &all, &positions, &mut |batch| {
            writer.write(&batch)
        })?;
        self.runs.push(Run {
            file: writer.close()?,
            level: 0,
        });
        Ok(())
    }

    /// Buffers `held`; past the budget, sorts what is buffered into a run.
    fn hold(&mut self, held: Held) -> Result<(), OperatorError> {
        self.bytes += held.bytes();
        self.buffered.push(held);
        if self.budget.is_some_and(|b| self.bytes > b) {
            self.spill_run()?;
            while let Some(positions) = self.policy.level_merge(&self.levels()) {
                self.merge_runs(&positions)?;
            }
        }
        Ok(())
    }

    fn levels(&self) -> Vec<u32> {
        self.runs.iter().map(|run| run.level).collect()
    }

    /// Takes the runs at `positions` (ascending) out of the list, in order.
    fn take_runs(&mut self, positions: &[usize]) -> Vec<Run> {
        let (taken, kept) = std::mem::take(&mut self.runs)
            .into_iter()
            .enumerate()
            .partition::<Vec<_>, _>(|(i, _)| positions.binary_search(i).is_ok());
        self.runs = kept.into_iter().map(|(_, run)| run).collect();
        taken.into_iter().map(|(_, run)| run).collect()
    }

    /// Merges the runs at `positions` into one new run, a level above the
    /// highest of them.
    fn merge_runs(&mut self, positions: &[usize]) -> Result<(), OperatorError> {
        let runs = self.take_runs(positions);
        let level = runs.iter().map(|run| run.level).max().unwrap_or(0) + 1;
        let files: Vec<SpillFile> = runs.into_iter().map(|run| run.file).collect();
        let mut writer = self.create_run()?;
        merge::merge(&self.schema, &self.keys, files, &mut |batch| {
            writer.write(&batch)
        })?;
        self.runs.push(Run {
            file: writer.close()?,
            level,
        });
        Ok(())
    }
}

impl Operator for Sort {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        self.spill_dir = context.spill_dir.clone();
        Ok(())
    }

    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let batch = rows.to_batch(&self.schema)?;
        self.hold(Held::Batch(batch))
    }

    /// Sort keeps everything until its input ends: archives read in place
    /// from a shuffle node are held as they are, not copied.
    fn keeps_input(&self) -> bool {
        true
    }

    fn keep(
        &mut self,
        _: usize,
        archive: KeptArchive,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        self.hold(Held::Archive(archive))
    }

    fn end_input(&mut self, _: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        if self.runs.is_empty() {
            let held = std::mem::take(&mut self.buffered);
            let all = held_views(&held)?;
            let positions = sorted_positions(&self.keys, &all);
            return gather(&self.schema, &all, &positions, &mut |batch| out.emit(batch));
        }
        if !self.buffered.is_empty() {
            // No level merge after this one: the final merges below read
            // the runs once anyway.
            self.spill_run()?;
        }
        loop {
            let sizes: Vec<u64> = self.runs.iter().map(|run| run.file.bytes()).collect();
            let Some(positions) = self.policy.final_merge(&sizes) else {
                break;
            };
            self.merge_runs(&positions)?;
        }
        let files = std::mem::take(&mut self.runs)
            .into_iter()
            .map(|run| run.file)
            .collect();
        merge::merge(&self.schema, &self.keys, files, &mut |batch| {
            out.emit(batch)
        })
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.runs.clear();
        self.buffered.clear();
        Ok(())
    }
}

/// The `top_n` operator: keeps the first `limit` rows in key order. It
/// holds them in memory, so its `limit` is bounded by memory, not by the
/// spec: past `budget` bytes it fails, naming the budget (a sort spills
/// instead).
pub struct TopN {
    schema: Schema,
    keys: Vec<KeyColumn>,
    limit: usize,
    budget: u64,
    buffered: Vec<Batch>,
    rows: usize,
    bytes: u64,
}

impl TopN {
    /// The first `limit` rows of `schema` by `keys`, held in at most
    /// `budget` bytes.
    pub fn new(
        keys: &[SortKey],
        schema: &Schema,
        limit: usize,
        budget: u64,
    ) -> Result<Self, OperatorError> {
        Ok(Self {
            schema: schema.clone(),
            keys: key_columns(keys, schema)?,
            limit,
            budget,
            buffered: Vec::new(),
            rows: 0,
            bytes: 0,
        })
    }

    /// Keeps only the best `limit` rows held so far, in one batch.
    fn compact(&mut self) -> Result<(), OperatorError> {
        let batches = std::mem::take(&mut self.buffered);
        let all: Vec<_> = batches.iter().map(crate::kernels::views).collect();
        let mut positions = sorted_positions(&self.keys, &all);
        positions.truncate(self.limit);
        let mut kept = Vec::new();
        gather(&self.schema, &all, &positions, &mut |b| {
            kept.push(b);
            Ok(())
        })?;
        self.rows = kept.iter().map(Batch::num_rows).sum();
        self.buffered = kept;
        self.bytes = self.buffered.iter().map(batch_bytes).sum();
        if self.bytes > self.budget {
            return Err(OperatorError::OverBudget {
                operator: "top_n".into(),
                budget: self.budget,
                detail: format!("its best {} rows; lower the limit, or sort", self.rows),
            });
        }
        Ok(())
    }
}

impl Operator for TopN {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let batch = rows.to_batch(&self.schema)?;
        self.rows += batch.num_rows();
        self.bytes += batch_bytes(&batch);
        self.buffered.push(batch);
        if self.rows > self.limit.saturating_mul(2).max(OUTPUT_ROWS) || self.bytes > self.budget {
            self.compact()?;
        }
        Ok(())
    }

    fn end_input(&mut self, _: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        self.compact()?;
        for batch in std::mem::take(&mut self.buffered) {
            out.emit(batch)?;
        }
        Ok(())
    }
}

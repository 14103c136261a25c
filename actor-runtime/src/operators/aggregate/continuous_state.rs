//! The continuous aggregate's checkpoints, incremental: its groups are
//! kept by key group, and a snapshot hands a part per key group as
//! [`super::key_groups::KeyGroupIndex::plan`] decides — unchanged, the touched groups
//! appended, or whole ([`crate::state::parts`]).
//!
//! A piece is the archive of one state batch, behind its length: the
//! keys, each aggregate's state (what a partial aggregate emits), how
//! many values each `sum` holds (`__valuesN`: a retraction needs it, and
//! the partial state has only the sum) and the group's net row count
//! (`__rows`, 0 for a group whose rows were all retracted). A restore
//! reads pieces in order and a group's later row replaces its earlier
//! one; at another parallelism each old subtask's rows are split by where
//! their keys now go ([`Rescaled::owned_rows`]).

use super::key_groups::Piece;
use super::{AggregateFunction, ContinuousAggregate};
use crate::attempt::batch_from_bytes;
use crate::checkpoint::Rescaled;
use crate::data::{Batch, Column, ColumnData, ColumnView, DataType, Field, Schema, ValuesView};
use crate::kernels::views;
use crate::operator::OperatorError;
use crate::state::parts::{Part, StateSnapshot};
use crate::state::StateValue;

/// The column of a saved group's net row count.
const ROWS: &str = "__rows";

fn names(schema: &Schema) -> Vec<&str> {
    schema.fields.iter().map(|f| f.name.as_str()).collect()
}

fn corrupt(error: crate::state::StateError) -> OperatorError {
    OperatorError::BadInput(format!("aggregate state: {error}"))
}

impl ContinuousAggregate {
    /// Saved rows: the state schema and `__rows`.
    fn saved_schema(&self) -> Schema {
        let mut fields = self.inner.state_schema().fields;
        for a in self.sums() {
            fields.push(Field::new(format!("__values{a}"), DataType::Int64));
        }
        fields.push(Field::new(ROWS, DataType::Int64));
        Schema::new(fields)
    }

    /// The aggregates that are sums: their state is the sum alone, but
    /// a retraction needs how many values it holds, saved beside it.
    fn sums(&self) -> Vec<usize> {
        let accumulators = &self.inner.table.accumulators;
        (0..accumulators.len())
            .filter(|&a| accumulators[a].function == AggregateFunction::Sum)
            .collect()
    }

    /// Its state at `checkpoint`, a part per key group that has groups,
    /// relative to the snapshot of `since` (see [`super::key_groups::KeyGroupIndex::plan`]).
    pub(super) fn snapshot_in_parts(
        &mut self,
        checkpoint: u64,
        since: Option<u64>,
    ) -> Result<Option<StateSnapshot>, OperatorError> {
        if self.key_groups.placed() != self.inner.table.len() {
            return Err(super::pieces::unplaced(
                self.key_groups.placed(),
                self.inner.table.len(),
            ));
        }
        let plan = self.key_groups.plan(checkpoint, since);
        let mut parts = Vec::with_capacity(plan.len());
        for (key_group, piece) in plan {
            let part = match piece {
                Piece::Unchanged => Part::Unchanged,
                // Retracted groups too: their zero count replaces a row.
                Piece::Append(touched) => Part::Appended(self.encode_groups(&touched)?),
                Piece::Whole => {
                    let members = self.key_groups.members_of(key_group);
                    let live: Vec<u32> = members
                        .iter()
                        .copied()
                        .filter(|&g| self.live.get(g as usize).is_some_and(|&n| n > 0))
                        .collect();
                    Part::Changed(self.encode_groups(&live)?)
                }
            };
            parts.push((key_group, part));
        }
        Ok(Some(StateSnapshot::Parts(parts)))
    }

    /// The saved rows of `groups`: their state and row counts.
    fn saved_rows(&self, groups: &[u32]) -> Result<Batch, OperatorError> {
        let state = self
            .inner
            .table
            .state_rows(&self.inner.state_schema(), groups)?;
        let mut columns = state.columns().to_vec();
        let counts = |of: &[i64]| Column {
            validity: None,
            data: ColumnData::Int64(groups.iter().map(|&g| of[g as usize]).collect()),
        };
        for a in self.sums() {
            columns.push(counts(&self.inner.table.accumulators[a].counts));
        }
        columns.push(counts(&self.live));
        Ok(Batch::new(self.saved_schema(), groups.len(), columns)?)
    }

    /// One piece: the saved rows of `groups`, behind their length.
    fn encode_groups(&self, groups: &[u32]) -> Result<Vec<u8>, OperatorError> {
        let mut bytes = Vec::new();
        self.saved_rows(groups)?
            .to_bytes()
            .to_vec()
            .encode(&mut bytes);
        Ok(bytes)
    }

    /// Takes back the saved state of this subtask.
    pub(super) fn restore_saved(&mut self, bytes: &[u8]) -> Result<(), OperatorError> {
        for batch in self.decode_saved(bytes)? {
            self.absorb(&batch, Absorb::Replace)?;
        }
        Ok(())
    }

    /// Takes back this subtask's share of every old subtask's state.
    /// Keyed, each key was one old subtask's, so its rows replace one
    /// another in order as in a same-parallelism restore; unkeyed, each
    /// adopted old state is read on its own (later rows replacing earlier
    /// ones) and then added in, so the same key in two old states sums.
    pub(super) fn restore_share(&mut self, from: &Rescaled<'_>) -> Result<(), OperatorError> {
        for (old, bytes) in from.states {
            if from.keys.is_some() {
                for batch in self.decode_saved(bytes)? {
                    let owned = from.owned_rows(&batch, "aggregate state")?;
                    if owned.num_rows() > 0 {
                        self.absorb(&owned, Absorb::Replace)?;
                    }
                }
                continue;
            }
            if !from.adopts(*old) {
                continue;
            }
            let (params, input) = &self.made_of;
            let mut staging = ContinuousAggregate::new(params, input)?;
            for batch in self.decode_saved(bytes)? {
                staging.absorb(&batch, Absorb::Replace)?;
            }
            let live: Vec<u32> = (0..staging.live.len() as u32)
                .filter(|&g| staging.live[g as usize] > 0)
                .collect();
            if !live.is_empty() {
                let rows = staging.saved_rows(&live)?;
                self.absorb(&rows, Absorb::Add)?;
            }
        }
        Ok(())
    }

    fn decode_saved(&self, mut bytes: &[u8]) -> Result<Vec<Batch>, OperatorError> {
        let schema = self.saved_schema();
        let mut batches = Vec::new();
        while !bytes.is_empty() {
            let archive = Vec::<u8>::decode(&mut bytes).map_err(corrupt)?;
            let batch = batch_from_bytes(&archive)?;
            if batch.schema() != &schema {
                return Err(OperatorError::BadInput(format!(
                    "aggregate state: saved as {:?}, the job's is {:?}",
                    names(batch.schema()),
                    names(&schema)
                )));
            }
            batches.push(batch);
        }
        Ok(batches)
    }

    /// Takes saved rows into its groups, with their row counts.
    fn absorb(&mut self, batch: &Batch, how: Absorb) -> Result<(), OperatorError> {
        let rows = batch.num_rows();
        let width = self.inner.state_schema().fields.len();
        let columns = views(batch);
        let keys: Vec<&ColumnView<'_>> = columns[..self.inner.shape.key_fields.len()]
            .iter()
            .collect();
        let groups = self.inner.table.groups_of(&keys, rows)?;
        self.key_groups.place(&keys, rows, &groups);
        self.live.resize(self.inner.table.len(), 0);
        if how == Absorb::Replace {
            for &g in &groups {
                self.live[g as usize] = 0;
                for acc in &mut self.inner.table.accumulators {
                    acc.reset(g as usize);
                }
            }
        }
        // A merge counts each saved sum as one value; the saved counts
        // say how many it holds.
        let sums = self.sums();
        let before: Vec<Vec<i64>> = sums
            .iter()
            .map(|&a| {
                let counts = &self.inner.table.accumulators[a].counts;
                groups.iter().map(|&g| counts[g as usize]).collect()
            })
            .collect();
        let state = Batch::new(
            self.inner.state_schema(),
            rows,
            batch.columns()[..width].to_vec(),
        )?;
        self.inner.merge_state(std::slice::from_ref(&state))?;
        let int64 = |at: usize| match columns[at].values {
            ValuesView::Int64(values) => Ok(values),
            _ => Err(OperatorError::BadInput(format!(
                "aggregate state: {} is not BIGINT",
                columns[at].name
            ))),
        };
        for (i, &a) in sums.iter().enumerate() {
            let saved = int64(width + i)?;
            let counts = &mut self.inner.table.accumulators[a].counts;
            for (row, &g) in groups.iter().enumerate() {
                counts[g as usize] = before[i][row] + saved[row];
            }
        }
        let counts = int64(width + sums.len())?;
        for (&g, &count) in groups.iter().zip(counts) {
            self.live[g as usize] += count;
        }
        Ok(())
    }
}

/// How saved rows meet a group that already holds some.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Absorb {
    /// They replace it: a later piece of the same subtask's state.
    Replace,
    /// They add to it: another old subtask's state.
    Add,
}

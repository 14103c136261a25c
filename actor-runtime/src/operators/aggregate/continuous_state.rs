//! The continuous aggregate's checkpoints, incremental: its groups are
//! kept by key group (of the hash of their group key, over
//! [`STATE_KEY_GROUPS`]), every batch notes the key groups it touched,
//! and a snapshot hands a part per key group holding live groups — bytes
//! for those touched since the checkpoint the task names, "unchanged" for
//! the rest ([`crate::state::parts`]). State that grows with every key
//! ever seen is then written in proportion to what changed, not to its
//! size.
//!
//! A part is the archive of one state batch, behind its length: the
//! keys, each aggregate's state (what a partial aggregate emits) and the
//! group's net row count (`__rows`). Parts concatenated are what a
//! restore reads; at another parallelism each old subtask's rows are
//! split by where their keys now go ([`Rescaled::owned_rows`]).

use super::ContinuousAggregate;
use crate::attempt::batch_from_bytes;
use crate::checkpoint::Rescaled;
use crate::data::{Batch, Column, ColumnData, ColumnView, DataType, Field, Schema, ValuesView};
use crate::kernels::hash::hash_rows;
use crate::kernels::views;
use crate::operator::OperatorError;
use crate::state::key_group::key_group_of;
use crate::state::parts::{ChangedParts, Part, StateSnapshot};
use crate::state::StateValue;

/// Key groups the state is split into for checkpoints: the default
/// count of a job's, whatever the job's routing uses, since a part only
/// needs to be a stable share of the keys.
pub const STATE_KEY_GROUPS: u32 = crate::state::DEFAULT_KEY_GROUPS;

/// The column of a saved group's net row count.
const ROWS: &str = "__rows";

/// Which key group each group is in, its members, and which changed.
#[derive(Debug, Default)]
pub struct KeyGroupIndex {
    of_group: Vec<u32>,
    members: Vec<Vec<u32>>,
    changes: ChangedParts,
}

impl KeyGroupIndex {
    /// Places the groups `groups_of` just created (numbered past those
    /// placed, in order of their first row) in their key groups.
    pub fn place(&mut self, key_columns: &[&ColumnView<'_>], rows: usize, groups: &[u32]) {
        let placed = self.of_group.len();
        if groups.iter().all(|&g| (g as usize) < placed) {
            return;
        }
        if self.members.is_empty() {
            self.members = vec![Vec::new(); STATE_KEY_GROUPS as usize];
        }
        let hashes = hash_rows(key_columns, rows);
        for (&g, hash) in groups.iter().zip(hashes) {
            if g as usize == self.of_group.len() {
                let key_group = key_group_of(hash, STATE_KEY_GROUPS);
                self.of_group.push(key_group);
                self.members[key_group as usize].push(g);
            }
        }
    }

    /// Notes that group `g` changes now.
    pub fn touch(&mut self, g: u32) {
        if let Some(&key_group) = self.of_group.get(g as usize) {
            self.changes.touch(key_group);
        }
    }
}

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
        fields.push(Field::new(ROWS, DataType::Int64));
        Schema::new(fields)
    }

    /// Its state at `checkpoint`, a part per key group with live groups:
    /// bytes for those touched after the snapshot of `since`.
    pub(super) fn snapshot_in_parts(
        &mut self,
        checkpoint: u64,
        since: Option<u64>,
    ) -> Result<Option<StateSnapshot>, OperatorError> {
        let (schema, state_schema) = (self.saved_schema(), self.inner.state_schema());
        let mut parts = Vec::new();
        for (key_group, members) in self.key_groups.members.iter().enumerate() {
            let live: Vec<u32> = members
                .iter()
                .copied()
                .filter(|&g| self.live.get(g as usize).is_some_and(|&n| n > 0))
                .collect();
            if live.is_empty() {
                continue;
            }
            let key_group = key_group as u32;
            if !self.key_groups.changes.changed_since(key_group, since) {
                parts.push((key_group, Part::Unchanged));
                continue;
            }
            let state = self.inner.table.state_rows(&state_schema, &live)?;
            let mut columns = state.columns().to_vec();
            columns.push(Column {
                validity: None,
                data: ColumnData::Int64(live.iter().map(|&g| self.live[g as usize]).collect()),
            });
            let batch = Batch::new(schema.clone(), live.len(), columns)?;
            let mut bytes = Vec::new();
            batch.to_bytes().to_vec().encode(&mut bytes);
            parts.push((key_group, Part::Changed(bytes)));
        }
        self.key_groups.changes.taken(checkpoint);
        Ok(Some(StateSnapshot::Parts(parts)))
    }

    /// Takes back the saved state of this subtask.
    pub(super) fn restore_saved(&mut self, bytes: &[u8]) -> Result<(), OperatorError> {
        for batch in self.decode_saved(bytes)? {
            self.absorb(&batch)?;
        }
        Ok(())
    }

    /// Takes back this subtask's share of every old subtask's state.
    pub(super) fn restore_share(&mut self, from: &Rescaled<'_>) -> Result<(), OperatorError> {
        for (old, bytes) in from.states {
            for batch in self.decode_saved(bytes)? {
                let owned = match from.keys {
                    Some(_) => from.owned_rows(&batch, "aggregate state")?,
                    None if from.adopts(*old) => batch,
                    None => continue,
                };
                if owned.num_rows() > 0 {
                    self.absorb(&owned)?;
                }
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

    /// Merges saved rows into its groups, with their row counts.
    fn absorb(&mut self, batch: &Batch) -> Result<(), OperatorError> {
        let rows = batch.num_rows();
        let width = batch.columns().len() - 1;
        let state = Batch::new(
            self.inner.state_schema(),
            rows,
            batch.columns()[..width].to_vec(),
        )?;
        self.inner.merge_state(std::slice::from_ref(&state))?;
        let columns = views(batch);
        let keys: Vec<&ColumnView<'_>> = columns[..self.inner.shape.key_fields.len()]
            .iter()
            .collect();
        let groups = self.inner.table.groups_of(&keys, rows)?;
        self.key_groups.place(&keys, rows, &groups);
        self.live.resize(self.inner.table.len(), 0);
        let ValuesView::Int64(counts) = columns[width].values else {
            return Err(OperatorError::BadInput(format!(
                "aggregate state: {ROWS} is not BIGINT"
            )));
        };
        for (&g, &count) in groups.iter().zip(counts) {
            self.live[g as usize] += count;
        }
        Ok(())
    }
}

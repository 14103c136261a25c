//! A batch aggregate's state in key-group pieces, for the incremental
//! checkpoints of what holds one (each open aligned window): once asked
//! to track changes, the aggregate marks the groups each batch touches,
//! and a snapshot hands per key group "unchanged", the touched groups'
//! state rows to append, or the key group's rows whole, as
//! [`KeyGroupIndex::plan`] decides. A restore takes pieces back in order,
//! each row replacing what its group held.

use super::key_groups::{KeyGroupIndex, Piece};
use super::Aggregate;
use crate::data::Batch;
use crate::operator::{OperatorError, Rows};

/// What a snapshot stores of one key group of an aggregate's state.
#[derive(Debug)]
pub enum StatePiece {
    /// Nothing new since the checkpoint asked about.
    Unchanged,
    /// State rows of the groups touched since, to follow the stored ones.
    Appended(Batch),
    /// State rows of every group of the key group.
    Whole(Batch),
}

impl Aggregate {
    /// Tracks which groups change from now on, for incremental
    /// snapshots; its state is new since the snapshot of `taken`.
    pub fn track_changes(&mut self, taken: u64) {
        self.changes = Some(KeyGroupIndex::starting_after(taken));
    }

    /// Its state at checkpoint `checkpoint` per key group, relative to
    /// the snapshot of `since` (all whole without one, or when it does
    /// not track changes). State spilled to disk is not copied yet, so an
    /// aggregate that spilled refuses, naming why.
    pub fn snapshot_pieces(
        &mut self,
        checkpoint: u64,
        since: Option<u64>,
    ) -> Result<Vec<(u32, StatePiece)>, OperatorError> {
        if !self.spills.is_empty() {
            return Err(OperatorError::OverBudget {
                operator: "aggregate".into(),
                budget: self.budget.unwrap_or(0),
                detail: "state spilled to disk, which checkpoints do not copy yet".into(),
            });
        }
        let Some(index) = self.changes.as_mut() else {
            // Not tracked: all of it, as one piece.
            let all: Vec<u32> = (0..self.table.len() as u32).collect();
            return Ok(vec![(0, StatePiece::Whole(self.state_rows(&all)?))]);
        };
        if index.placed() != self.table.len() {
            return Err(unplaced(index.placed(), self.table.len()));
        }
        let plan = index.plan(checkpoint, since);
        let schema = self.state_schema();
        let mut pieces = Vec::with_capacity(plan.len());
        for (key_group, piece) in plan {
            let piece = match piece {
                Piece::Unchanged => StatePiece::Unchanged,
                Piece::Append(groups) => {
                    StatePiece::Appended(self.table.state_rows(&schema, &groups)?)
                }
                Piece::Whole => {
                    let groups = self
                        .changes
                        .as_ref()
                        .map_or(&[][..], |index| index.members_of(key_group));
                    StatePiece::Whole(self.table.state_rows(&schema, groups)?)
                }
            };
            pieces.push((key_group, piece));
        }
        Ok(pieces)
    }

    fn state_rows(&self, groups: &[u32]) -> Result<Batch, OperatorError> {
        self.table.state_rows(&self.state_schema(), groups)
    }

    /// Takes state rows back (a piece of a snapshot), each replacing what
    /// its group held.
    pub fn absorb_replacing(&mut self, batch: &Batch) -> Result<(), OperatorError> {
        let rows = Rows::of_batch(batch);
        let keys: Vec<_> = rows.columns[..self.shape.key_fields.len()].iter().collect();
        let mut table = std::mem::replace(&mut self.table, super::GroupTable::empty());
        let absorbed = table.groups_of(&keys, rows.rows).and_then(|groups| {
            for &g in &groups {
                for acc in &mut table.accumulators {
                    acc.reset(g as usize);
                }
            }
            self.fold_into(&mut table, &rows, true, &groups)?;
            Ok(groups)
        });
        self.table = table;
        let groups = absorbed?;
        if let Some(index) = &mut self.changes {
            index.place(&keys, rows.rows, &groups);
            for g in groups {
                index.touch(g);
            }
        }
        Ok(())
    }
}

/// The error for groups a snapshot would miss: a path that created them
/// without placing them in their key groups (a bug, refused rather than
/// stored without them).
pub(super) fn unplaced(placed: usize, groups: usize) -> OperatorError {
    OperatorError::BadInput(format!(
        "aggregate state: {placed} of {groups} groups are in key groups; a snapshot would lose the rest"
    ))
}

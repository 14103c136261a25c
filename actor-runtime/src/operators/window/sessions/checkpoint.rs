//! The session windows' checkpoint: the watermark they have seen, the
//! late rows counted, and one state row per open session (its bounds,
//! keys and partial aggregate state: what [`super::SessionWindows`]
//! holds, each session's rows merged into one first). A restore holds
//! the rows again and re-opens their sessions; at another parallelism
//! each subtask keeps the sessions whose keys it now owns.
//!
//! Layout (little-endian, inside the task's checksummed files): the
//! watermark (i64), the late rows (u64), then each batch's archive
//! behind its length.

use super::{SessionWindows, HELD_START};
use crate::attempt::batch_from_bytes;
use crate::checkpoint::Rescaled;
use crate::data::{Batch, Schema, ValuesView};
use crate::kernels::rows::encode_key;
use crate::kernels::views;
use crate::message::Watermark;
use crate::operator::OperatorError;
use crate::operators::window::assign::Window;
use crate::state::{StateError, StateValue};

/// What a saved session state holds.
#[derive(Debug, Default)]
struct Saved {
    watermark: i64,
    late_rows: u64,
    /// State rows of the open sessions, of the held schema.
    rows: Vec<Batch>,
}

fn corrupt(error: StateError) -> OperatorError {
    OperatorError::BadInput(format!("session window state: {error}"))
}

/// `saved` as bytes.
fn encode(saved: &Saved) -> Vec<u8> {
    let mut out = Vec::new();
    saved.watermark.encode(&mut out);
    saved.late_rows.encode(&mut out);
    for batch in &saved.rows {
        batch.to_bytes().to_vec().encode(&mut out);
    }
    out
}

/// Reads saved state back; every batch must be of `schema`.
fn decode(mut bytes: &[u8], schema: &Schema) -> Result<Saved, OperatorError> {
    let bytes = &mut bytes;
    let mut saved = Saved {
        watermark: i64::decode(bytes).map_err(corrupt)?,
        late_rows: u64::decode(bytes).map_err(corrupt)?,
        rows: Vec::new(),
    };
    while !bytes.is_empty() {
        let archive = Vec::<u8>::decode(bytes).map_err(corrupt)?;
        let batch = batch_from_bytes(&archive)?;
        if batch.schema() != schema {
            return Err(OperatorError::BadInput(
                "session window state: saved rows are not of this job's state schema".into(),
            ));
        }
        saved.rows.push(batch);
    }
    Ok(saved)
}

impl SessionWindows {
    /// Its state now: every open session merged into one state row.
    pub(super) fn snapshot(&mut self) -> Result<Vec<u8>, OperatorError> {
        let rows = self.merge_open()?;
        Ok(encode(&Saved {
            watermark: self.watermark.0,
            late_rows: self.late_rows,
            rows,
        }))
    }

    /// Takes back what [`SessionWindows::snapshot`] saved.
    pub(super) fn restore(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        let saved = decode(state, self.held.schema())?;
        self.watermark = Watermark(saved.watermark);
        self.late_rows = saved.late_rows;
        saved
            .rows
            .into_iter()
            .try_for_each(|batch| self.reopen(batch))
    }

    /// Each old subtask gives up the sessions whose keys this subtask
    /// owns now (sessions of one key were one subtask's, so none meet
    /// another's). The watermark is the lowest saved, so no row the old
    /// subtasks would have taken is dropped as late.
    pub(super) fn restore_share(&mut self, from: &Rescaled<'_>) -> Result<(), OperatorError> {
        let mut watermark = i64::MAX;
        for (old, bytes) in from.states {
            let saved = decode(bytes, self.held.schema())?;
            watermark = watermark.min(saved.watermark);
            if from.adopts(*old) {
                self.late_rows += saved.late_rows;
            }
            for batch in saved.rows {
                let owned = from.owned_rows(&batch, "session window state")?;
                if owned.num_rows() > 0 {
                    self.reopen(owned)?;
                }
            }
        }
        self.watermark = Watermark(watermark);
        Ok(())
    }

    /// Re-opens the sessions of held state rows in `batch` (a restore)
    /// and holds the rows.
    fn reopen(&mut self, batch: Batch) -> Result<(), OperatorError> {
        let columns = views(&batch);
        let (ValuesView::Timestamp(starts), ValuesView::Timestamp(ends)) =
            (columns[HELD_START].values, columns[HELD_START + 1].values)
        else {
            return Err(OperatorError::BadInput(
                "window state: session bounds are not timestamps".into(),
            ));
        };
        let keys: Vec<_> = self.held_keys.iter().map(|&k| &columns[k]).collect();
        let mut key = Vec::new();
        for row in 0..batch.num_rows() {
            key.clear();
            encode_key(&keys, row, &mut key);
            let window = Window {
                start: starts[row],
                end: ends[row],
            };
            let group = self.groups.entry(key.as_slice().into()).or_default();
            if !group.windows.contains(&window) {
                let at = group.windows.partition_point(|w| w.start < window.start);
                let overlaps = [at.checked_sub(1), Some(at)]
                    .into_iter()
                    .flatten()
                    .filter_map(|i| group.windows.get(i))
                    .any(|w| w.start < window.end && window.start < w.end);
                if overlaps {
                    return Err(OperatorError::BadInput(
                        "window state: two saved sessions of one key overlap".into(),
                    ));
                }
                group.windows.insert(at, window);
                group.held.entry(window.start).or_default();
                self.due
                    .insert((window.end, window.start, key.as_slice().into()));
            }
        }
        drop(columns);
        self.hold(batch)
    }
}

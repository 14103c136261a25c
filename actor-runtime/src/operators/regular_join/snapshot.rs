//! The regular join's checkpointed state: each side's held rows as one
//! batch of that input's columns (a row held twice appears twice), left
//! then right, each behind its length, then a byte saying which inputs
//! had ended. Restoring holds the rows again without emitting anything;
//! restoring at another parallelism keeps the rows whose join key hashes
//! to this subtask, as the hash edges feeding the join route them, and
//! counts an input ended only if every old subtask had seen it end.

use super::{RegularJoin, LEFT, RIGHT};
use crate::attempt::batch_from_bytes;
use crate::checkpoint::Rescaled;
use crate::data::Batch;
use crate::kernels::hash::hash_rows;
use crate::kernels::views;
use crate::operator::OperatorError;
use crate::state::key_group::subtask_of_hash;

impl RegularJoin {
    /// Both sides' held rows, as [`RegularJoin::restore`] reads them.
    pub(super) fn snapshot(&self) -> Result<Vec<u8>, OperatorError> {
        let mut state = Vec::new();
        for side in [LEFT, RIGHT] {
            let rows: Vec<&[u8]> = self.sides[side].all().collect();
            let batch = self.codecs[side].to_batch(&self.inputs[side], rows.into_iter())?;
            let bytes = batch.to_bytes();
            state.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            state.extend_from_slice(&bytes);
        }
        state.push(u8::from(self.ended[LEFT]) | u8::from(self.ended[RIGHT]) << 1);
        Ok(state)
    }

    /// Holds again the rows of a [`RegularJoin::snapshot`]: all of them,
    /// or, when `rescaled`, those whose keys this subtask now owns.
    pub(super) fn restore(
        &mut self,
        mut state: &[u8],
        rescaled: Option<&Rescaled<'_>>,
    ) -> Result<(), OperatorError> {
        for side in [LEFT, RIGHT] {
            let batch = next_batch(&mut state)?;
            if batch.schema() != &self.inputs[side] {
                return Err(corrupt(
                    "it was saved for other input columns than the job's",
                ));
            }
            let columns = views(&batch);
            let owned = match rescaled {
                Some(rescaled) => self.owned(side, &batch, rescaled)?,
                None => vec![true; batch.num_rows()],
            };
            let key_columns = self.key_columns(side, &columns);
            for (row, owned) in owned.into_iter().enumerate() {
                if !owned || !self.encode_key(&key_columns, row) {
                    continue;
                }
                self.identity.clear();
                self.codecs[side].encode(&columns, row, &mut self.identity);
                self.sides[side].hold(&self.key, &self.identity);
            }
        }
        let ended = match state {
            [flags] => [flags & 1 != 0, flags & 2 != 0],
            [] => return Err(corrupt("it ends before the inputs' ends")),
            _ => return Err(corrupt("bytes follow its two sides")),
        };
        for side in [LEFT, RIGHT] {
            self.ended[side] = if self.restored {
                self.ended[side] && ended[side]
            } else {
                ended[side]
            };
        }
        self.restored = true;
        Ok(())
    }

    /// Which rows of saved `side` rows this subtask owns at the new
    /// parallelism.
    fn owned(
        &self,
        side: usize,
        batch: &Batch,
        rescaled: &Rescaled<'_>,
    ) -> Result<Vec<bool>, OperatorError> {
        if rescaled.parallelism <= 1 {
            return Ok(vec![true; batch.num_rows()]);
        }
        let Some(routing) = rescaled.keys else {
            return Err(OperatorError::BadInput(format!(
                "hash_join state: no hash edge routes keys to the join, so its rows cannot \
                 be split over {} subtasks (saved by {})",
                rescaled.parallelism, rescaled.from_parallelism
            )));
        };
        let columns = views(batch);
        let keys: Vec<_> = self.keys[side].iter().map(|&k| &columns[k]).collect();
        Ok(hash_rows(&keys, batch.num_rows())
            .into_iter()
            .map(|hash| {
                subtask_of_hash(hash, routing.key_groups, rescaled.parallelism) == rescaled.subtask
            })
            .collect())
    }
}

fn corrupt(what: &str) -> OperatorError {
    OperatorError::BadInput(format!("hash_join state: {what}"))
}

/// The next length-prefixed batch of `state`.
fn next_batch(state: &mut &[u8]) -> Result<Batch, OperatorError> {
    if state.len() < 8 {
        return Err(corrupt("it ends before a side's length"));
    }
    let (len, rest) = state.split_at(8);
    let mut word = [0u8; 8];
    word.copy_from_slice(len);
    let len = usize::try_from(u64::from_le_bytes(word)).unwrap_or(usize::MAX);
    if rest.len() < len {
        return Err(corrupt("a side is cut short"));
    }
    let (bytes, rest) = rest.split_at(len);
    *state = rest;
    Ok(batch_from_bytes(bytes)?)
}

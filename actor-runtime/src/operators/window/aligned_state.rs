//! The aligned windows' part of a checkpoint: the watermark they have
//! seen, the late rows counted, and each open window's groups as the
//! aggregate's state batches (what a partial aggregate would emit), so a
//! restore merges them back into fresh aggregates and every window fires
//! with exactly the rows it had plus those after the checkpoint.
//!
//! Layout (little-endian, inside the task's checksummed file): the
//! watermark (i64), late rows (u64), the window count (u64); per window
//! its end and start (i64 each), its batch count (u64) and each batch's
//! archive behind its length.

use crate::attempt::batch_from_bytes;
use crate::data::Batch;
use crate::operator::OperatorError;
use crate::state::{StateError, StateValue};

/// One open window: `(end, start)` and its groups' state.
pub(super) type WindowState = ((i64, i64), Vec<Batch>);

/// The aligned windows at a checkpoint.
#[derive(Debug, Default)]
pub(super) struct AlignedSnapshot {
    pub(super) watermark: i64,
    pub(super) late_rows: u64,
    pub(super) windows: Vec<WindowState>,
}

fn corrupt(error: StateError) -> OperatorError {
    OperatorError::BadInput(format!("window state: {error}"))
}

impl AlignedSnapshot {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.watermark.encode(&mut out);
        self.late_rows.encode(&mut out);
        (self.windows.len() as u64).encode(&mut out);
        for ((end, start), batches) in &self.windows {
            end.encode(&mut out);
            start.encode(&mut out);
            (batches.len() as u64).encode(&mut out);
            for batch in batches {
                batch.to_bytes().to_vec().encode(&mut out);
            }
        }
        out
    }

    pub(super) fn decode(mut bytes: &[u8]) -> Result<Self, OperatorError> {
        let bytes = &mut bytes;
        let watermark = i64::decode(bytes).map_err(corrupt)?;
        let late_rows = u64::decode(bytes).map_err(corrupt)?;
        let count = u64::decode(bytes).map_err(corrupt)?;
        let mut windows = Vec::new();
        for _ in 0..count {
            let (end, start) = <(i64, i64)>::decode(bytes).map_err(corrupt)?;
            let batches = u64::decode(bytes).map_err(corrupt)?;
            let mut state = Vec::new();
            for _ in 0..batches {
                let archive = Vec::<u8>::decode(bytes).map_err(corrupt)?;
                state.push(batch_from_bytes(&archive)?);
            }
            windows.push(((end, start), state));
        }
        if !bytes.is_empty() {
            return Err(OperatorError::BadInput(format!(
                "window state: {} bytes after the last window",
                bytes.len()
            )));
        }
        Ok(Self {
            watermark,
            late_rows,
            windows,
        })
    }
}

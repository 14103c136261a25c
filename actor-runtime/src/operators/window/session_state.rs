//! The session windows' checkpoint: the watermark they have seen, the
//! late rows counted, and one state row per open session (its bounds,
//! keys and partial aggregate state: what [`super::sessions`] holds).
//!
//! Layout (little-endian, inside the task's checksummed files): the
//! watermark (i64), the late rows (u64), then each batch's archive
//! behind its length.

use crate::attempt::batch_from_bytes;
use crate::data::{Batch, Schema};
use crate::operator::OperatorError;
use crate::state::{StateError, StateValue};

/// What a saved session state holds.
#[derive(Debug, Default)]
pub(super) struct Saved {
    pub(super) watermark: i64,
    pub(super) late_rows: u64,
    /// State rows of the open sessions, of the held schema.
    pub(super) rows: Vec<Batch>,
}

fn corrupt(error: StateError) -> OperatorError {
    OperatorError::BadInput(format!("session window state: {error}"))
}

/// `saved` as bytes.
pub(super) fn encode(saved: &Saved) -> Vec<u8> {
    let mut out = Vec::new();
    saved.watermark.encode(&mut out);
    saved.late_rows.encode(&mut out);
    for batch in &saved.rows {
        batch.to_bytes().to_vec().encode(&mut out);
    }
    out
}

/// Reads saved state back; every batch must be of `schema`.
pub(super) fn decode(mut bytes: &[u8], schema: &Schema) -> Result<Saved, OperatorError> {
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

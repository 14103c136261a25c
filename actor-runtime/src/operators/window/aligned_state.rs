//! The aligned windows' part of a checkpoint, in pieces: a header (the
//! watermark they have seen and the late rows counted) and, per open
//! window and key group, state rows of its aggregate (what a partial
//! aggregate would emit) — all of a key group's groups, or only those
//! touched since the last checkpoint, appended
//! ([`crate::operators::aggregate::StatePiece`]). A restore reads the
//! pieces in order into fresh aggregates, each row replacing what its
//! group held, so every window fires with exactly the rows it had plus
//! those after the checkpoint.
//!
//! Layout of a piece (little-endian, inside the task's checksummed files):
//! a tag (u64); for the header (0) the watermark (i64) and late rows
//! (u64); for window rows (1) the window's end and start (i64 each) and
//! the batch's archive behind its length.

use crate::attempt::batch_from_bytes;
use crate::data::Batch;
use crate::operator::OperatorError;
use crate::state::{StateError, StateValue};

const HEADER: u64 = 0;
const ROWS: u64 = 1;

/// One open window: `(end, start)`.
pub(super) type WindowKey = (i64, i64);

/// What a saved state holds, pieces in the order they were written.
#[derive(Debug, Default)]
pub(super) struct Saved {
    pub(super) watermark: i64,
    pub(super) late_rows: u64,
    pub(super) pieces: Vec<(WindowKey, Batch)>,
}

fn corrupt(error: StateError) -> OperatorError {
    OperatorError::BadInput(format!("window state: {error}"))
}

/// The header piece.
pub(super) fn encode_header(watermark: i64, late_rows: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    HEADER.encode(&mut out);
    watermark.encode(&mut out);
    late_rows.encode(&mut out);
    out
}

/// A piece of window `key`'s state rows.
pub(super) fn encode_rows((end, start): WindowKey, batch: &Batch) -> Vec<u8> {
    let archive = batch.to_bytes();
    let mut out = Vec::with_capacity(archive.len() + 32);
    ROWS.encode(&mut out);
    end.encode(&mut out);
    start.encode(&mut out);
    archive.to_vec().encode(&mut out);
    out
}

/// Reads saved state back: one header, any number of row pieces.
pub(super) fn decode(mut bytes: &[u8]) -> Result<Saved, OperatorError> {
    let bytes = &mut bytes;
    let mut saved = Saved::default();
    let mut headers = 0;
    while !bytes.is_empty() {
        match u64::decode(bytes).map_err(corrupt)? {
            HEADER => {
                saved.watermark = i64::decode(bytes).map_err(corrupt)?;
                saved.late_rows = u64::decode(bytes).map_err(corrupt)?;
                headers += 1;
            }
            ROWS => {
                let key = <(i64, i64)>::decode(bytes).map_err(corrupt)?;
                let archive = Vec::<u8>::decode(bytes).map_err(corrupt)?;
                saved.pieces.push((key, batch_from_bytes(&archive)?));
            }
            tag => {
                return Err(OperatorError::BadInput(format!(
                    "window state: a piece of unknown kind {tag}"
                )))
            }
        }
    }
    if headers != 1 {
        return Err(OperatorError::BadInput(format!(
            "window state: {headers} headers where one must be"
        )));
    }
    Ok(saved)
}

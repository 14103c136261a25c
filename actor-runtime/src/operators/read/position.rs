//! How far a `read` subtask has got in its files, for a checkpoint: the
//! last split it started (its splits are read one after another, in the
//! order of file name and first byte), the rows it has emitted of that
//! split, and whether it reached the split's end. A restore skips every
//! split before it, and that many rows of it — so the files must not
//! change between the checkpoint and the restore, as with Flink's file
//! source; a split found shorter than its saved rows is an error, not a
//! silent gap.
//!
//! Layout (little-endian): whether a split was started (u64, 0 or 1),
//! then its file's name's bytes behind their length, the rows (u64),
//! whether it was finished (u64, 0 or 1) and the split's first byte
//! (u64; absent in positions saved before files were split: 0).

use crate::operator::OperatorError;
use crate::state::{StateError, StateValue};

/// The last split a subtask started, and how far into it it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Position {
    /// The split's file, as errors name it (the reader's listing order
    /// is the order of these names).
    pub(super) file: String,
    /// The split's first byte in it.
    pub(super) offset: u64,
    /// Rows of it emitted.
    pub(super) rows: u64,
    /// Whether its end was reached.
    pub(super) finished: bool,
}

impl Position {
    /// Whether the split of the file named `shown` from byte `offset`
    /// was read whole before this position: it comes earlier, or it is
    /// this one and was finished.
    pub(super) fn passed(&self, shown: &str, offset: u64) -> bool {
        let (split, here) = ((shown, offset), (self.file.as_str(), self.offset));
        split < here || (split == here && self.finished)
    }

    /// Rows of the split of `shown` from byte `offset` already emitted,
    /// to skip.
    pub(super) fn rows_read_of(&self, shown: &str, offset: u64) -> u64 {
        if shown == self.file && offset == self.offset {
            self.rows
        } else {
            0
        }
    }
}

fn corrupt(error: StateError) -> OperatorError {
    OperatorError::BadInput(format!("read position: {error}"))
}

/// `position` (`None`: no file started yet) as bytes.
pub(super) fn encode(position: Option<&Position>) -> Vec<u8> {
    let mut out = Vec::new();
    match position {
        None => 0u64.encode(&mut out),
        Some(position) => {
            1u64.encode(&mut out);
            position.file.as_bytes().to_vec().encode(&mut out);
            position.rows.encode(&mut out);
            u64::from(position.finished).encode(&mut out);
            position.offset.encode(&mut out);
        }
    }
    out
}

/// Reads back what [`encode`] wrote.
pub(super) fn decode(mut bytes: &[u8]) -> Result<Option<Position>, OperatorError> {
    let bytes = &mut bytes;
    if u64::decode(bytes).map_err(corrupt)? == 0 {
        return Ok(None);
    }
    let file = String::from_utf8(Vec::<u8>::decode(bytes).map_err(corrupt)?)
        .map_err(|_| OperatorError::BadInput("read position: a file name is not UTF-8".into()))?;
    let rows = u64::decode(bytes).map_err(corrupt)?;
    let finished = u64::decode(bytes).map_err(corrupt)? == 1;
    let offset = match bytes.is_empty() {
        true => 0,
        false => u64::decode(bytes).map_err(corrupt)?,
    };
    if !bytes.is_empty() {
        return Err(OperatorError::BadInput(
            "read position: bytes after the position".into(),
        ));
    }
    Ok(Some(Position {
        file,
        offset,
        rows,
        finished,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(file: &str, rows: u64, finished: bool) -> Position {
        Position {
            file: file.into(),
            offset: 0,
            rows,
            finished,
        }
    }

    #[test]
    fn files_before_the_position_are_passed_and_its_own_rows_skipped() {
        let half = at("/d/b.csv", 7, false);
        assert!(half.passed("/d/a.csv", 0));
        assert!(!half.passed("/d/b.csv", 0), "started, not finished");
        assert!(!half.passed("/d/c.csv", 0));
        assert_eq!(half.rows_read_of("/d/b.csv", 0), 7);
        assert_eq!(half.rows_read_of("/d/c.csv", 0), 0);
        assert!(at("/d/b.csv", 9, true).passed("/d/b.csv", 0));
        // Splits of one file, by their first byte.
        let split = Position {
            offset: 100,
            ..half
        };
        assert!(split.passed("/d/b.csv", 50));
        assert!(!split.passed("/d/b.csv", 150));
        assert_eq!(split.rows_read_of("/d/b.csv", 100), 7);
        assert_eq!(split.rows_read_of("/d/b.csv", 0), 0);
    }

    #[test]
    fn a_position_saved_before_files_were_split_is_at_their_start() {
        let mut bytes = encode(Some(&at("/x/a", 3, false)));
        bytes.truncate(bytes.len() - 8);
        assert_eq!(decode(&bytes).unwrap(), Some(at("/x/a", 3, false)));
    }

    #[test]
    fn a_position_reads_back_and_damage_is_named() {
        for position in [
            None,
            Some(at("/x/part-0.csv", 12, false)),
            Some(at("", 0, true)),
        ] {
            let bytes = encode(position.as_ref());
            assert_eq!(decode(&bytes).unwrap(), position);
        }
        let bytes = encode(Some(&at("/x/a", 3, false)));
        let error = decode(&bytes[..bytes.len() - 3]).unwrap_err().to_string();
        assert!(error.contains("read position"), "{error}");
    }
}

//! Row kinds: what a row of a changelog says about its table.
//!
//! A continuous (unwindowed) aggregate cannot emit a result once and be
//! done: every new row changes a group's value, so it emits *updates*.
//! As Flink's `RowKind` does, each row then carries one of four kinds:
//! [`RowKind::Insert`] adds a row, [`RowKind::UpdateBefore`] retracts the
//! old version of a row that an [`RowKind::UpdateAfter`] replaces, and
//! [`RowKind::Delete`] removes a row. Applying a changelog's rows in order
//! to a table (add `+I`/`+U`, remove `-U`/`-D`) gives the current result.
//!
//! A batch carries its kinds as one optional byte per row
//! ([`super::Batch::kinds`]). Absent means every row is an insert, which is
//! what every batch outside a changelog is: a job without a continuous
//! aggregate never builds, archives or reads a kind byte. Archived, the
//! kinds are one more rkyv byte vector; [`validate_kinds`] checks it has a
//! byte per row and that each byte is a kind, so corrupt kinds from the
//! network or disk are a [`BatchError`], never a misread row.
//!
//! Which edges of a job carry changelogs is known before it runs: the
//! validator works it out per vertex (`ValidVertex::changelog`), so an
//! operator that cannot take retractions is refused there, naming it.

use super::batch::Batch;
use super::builder::ColumnBuilder;
use super::error::BatchError;
use super::schema::{DataType, Field, Schema};

/// What a row of a changelog does to its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum RowKind {
    /// A new row (`+I`).
    Insert = 0,
    /// The old version of an updated row, retracted (`-U`).
    UpdateBefore = 1,
    /// The new version of an updated row (`+U`).
    UpdateAfter = 2,
    /// A removed row (`-D`).
    Delete = 3,
}

impl RowKind {
    /// Every kind, in byte order.
    pub const ALL: [RowKind; 4] = [
        RowKind::Insert,
        RowKind::UpdateBefore,
        RowKind::UpdateAfter,
        RowKind::Delete,
    ];

    /// The kind a byte encodes, if it encodes one.
    pub fn from_byte(byte: u8) -> Option<Self> {
        Self::ALL.get(usize::from(byte)).copied()
    }

    /// Its byte in a batch.
    pub fn as_byte(self) -> u8 {
        self as u8
    }

    /// Whether the row takes something away from the table (`-U`, `-D`).
    pub fn is_retraction(self) -> bool {
        matches!(self, RowKind::UpdateBefore | RowKind::Delete)
    }

    /// Flink's short form: `+I`, `-U`, `+U`, `-D` (what `collect` and
    /// `files` write in their `op` column).
    pub fn short(self) -> &'static str {
        match self {
            RowKind::Insert => "+I",
            RowKind::UpdateBefore => "-U",
            RowKind::UpdateAfter => "+U",
            RowKind::Delete => "-D",
        }
    }

    /// The kind written as [`Self::short`] does.
    pub fn parse_short(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.short() == text)
    }
}

impl std::fmt::Display for RowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.short())
    }
}

/// A batch's row kinds, proven to be one valid kind byte per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowKinds<'a> {
    bytes: &'a [u8],
}

impl<'a> RowKinds<'a> {
    /// Rows.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The kind of row `i` (below [`Self::len`]).
    pub fn get(&self, i: usize) -> RowKind {
        // Every byte was checked by `validate_kinds`, the only way to
        // build a `RowKinds`; `Insert` is never reached.
        RowKind::from_byte(self.bytes[i]).unwrap_or(RowKind::Insert)
    }

    /// The kinds, row by row.
    pub fn iter(&self) -> impl Iterator<Item = RowKind> + 'a {
        let bytes = self.bytes;
        bytes
            .iter()
            .map(|&b| RowKind::from_byte(b).unwrap_or(RowKind::Insert))
    }

    /// The kind bytes of the rows at `indices`, in their order.
    pub fn take(&self, indices: &[u32]) -> Vec<u8> {
        indices.iter().map(|&i| self.bytes[i as usize]).collect()
    }

    /// The raw bytes (each a [`RowKind::as_byte`]).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// The column in which sinks write a changelog's kinds, as Flink's
/// `+I`/`-U`/`+U`/`-D` ([`RowKind::short`]).
pub const OP_COLUMN: &str = "op";

/// `schema` with the [`OP_COLUMN`] first: what a sink of a changelog
/// writes.
pub fn with_op_field(schema: &Schema) -> Schema {
    let mut fields = vec![Field::new(OP_COLUMN, DataType::Utf8)];
    fields.extend(schema.fields.iter().cloned());
    Schema::new(fields)
}

/// `batch` as plain rows of [`with_op_field`]'s schema: each row's kind
/// spelled out in a leading [`OP_COLUMN`] (`+I` for a batch without kinds).
pub fn with_op_column(batch: &Batch) -> Result<Batch, BatchError> {
    let rows = batch.num_rows();
    let mut op = ColumnBuilder::new(Field::new(OP_COLUMN, DataType::Utf8), rows);
    for row in 0..rows {
        op.push_str(batch.kind(row).short())?;
    }
    let mut columns = vec![op.finish()];
    columns.extend(batch.columns().iter().cloned());
    Batch::new(with_op_field(batch.schema()), rows, columns)
}

/// Checks `bytes` as the kinds of a batch of `rows` rows: a byte per row,
/// each a [`RowKind`].
pub(crate) fn validate_kinds(bytes: &[u8], rows: usize) -> Result<RowKinds<'_>, BatchError> {
    if bytes.len() != rows {
        return Err(BatchError::RowKinds(format!(
            "{} kind bytes for {rows} rows",
            bytes.len()
        )));
    }
    if let Some(row) = bytes.iter().position(|&b| RowKind::from_byte(b).is_none()) {
        return Err(BatchError::RowKinds(format!(
            "row {row} has kind byte {:#04x}, which is no row kind",
            bytes[row]
        )));
    }
    Ok(RowKinds { bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_bytes_and_short_forms() {
        for kind in RowKind::ALL {
            assert_eq!(RowKind::from_byte(kind.as_byte()), Some(kind));
            assert_eq!(RowKind::parse_short(kind.short()), Some(kind));
        }
        assert_eq!(RowKind::from_byte(4), None);
        assert!(RowKind::Delete.is_retraction() && !RowKind::UpdateAfter.is_retraction());
    }

    #[test]
    fn kinds_of_the_wrong_length_or_value_are_refused() {
        assert!(validate_kinds(&[0, 1, 2, 3], 4).is_ok());
        let short = validate_kinds(&[0, 1], 3).unwrap_err().to_string();
        assert!(short.contains("2 kind bytes for 3 rows"), "{short}");
        let bad = validate_kinds(&[0, 9], 2).unwrap_err().to_string();
        assert!(bad.contains("row 1 has kind byte 0x09"), "{bad}");
    }
}

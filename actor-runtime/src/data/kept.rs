//! A received archive kept whole. An operator that holds its input until
//! the end (a sort's buffer) would otherwise copy every batch it is given
//! into an owned [`Batch`](super::Batch): for input read in place from a
//! shuffle node's mapped file, that is a second copy of all of it, in
//! freshly faulted memory. A [`KeptArchive`] holds the received bytes
//! instead (shared, not copied) and, checked once when it arrived, gives
//! its view again without walking the archive.

use bytes::Bytes;

use super::error::BatchError;
use super::schema::Schema;
use super::view::BatchView;

/// An archived batch, checked against its schema when it arrived and
/// kept as the bytes it arrived in.
#[derive(Debug, Clone)]
pub struct KeptArchive {
    bytes: Bytes,
    rows: usize,
}

impl KeptArchive {
    /// Checks `bytes` as an archived batch of `schema` (in full, as
    /// [`BatchView::new`] does) and keeps them.
    pub fn check(bytes: Bytes, schema: &Schema) -> Result<Self, BatchError> {
        let view = BatchView::new(&bytes)?;
        view.check_schema(schema)?;
        let rows = view.num_rows();
        Ok(Self { bytes, rows })
    }

    /// Its rows.
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// The archive's bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the archive has no bytes (never true of a checked one).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Its view, without checking the bytes again.
    pub fn view(&self) -> Result<BatchView<'_>, BatchError> {
        // SAFETY: `check` accepted exactly these bytes, and `Bytes` is
        // immutable.
        unsafe { BatchView::checked_before(&self.bytes) }
            .ok_or_else(|| BatchError::Malformed("a kept archive lost its shape".into()))
    }
}

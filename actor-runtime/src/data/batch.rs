//! The owned batch and its archive.
//!
//! A [`Batch`] is what operators build; [`Batch::write_into`] archives it
//! with rkyv into a reusable aligned buffer, which is what travels over the
//! network and sits in shuffle files. The receiving side never turns those
//! bytes back into a `Batch`: it reads them in place through
//! [`super::BatchView`].
//!
//! A batch of a changelog also carries a kind byte per row (see
//! [`super::RowKind`]); other batches carry none and pay nothing for it.

use rkyv::rancor;
use rkyv::util::AlignedVec;

use super::column::{Column, ColumnData};
use super::error::BatchError;
use super::kind::{validate_kinds, RowKind, RowKinds};
use super::schema::Schema;
use super::view::{view_column, ColumnView, FieldRef, RawColumn, Scan};

/// Columnar rows sharing one schema.
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Batch {
    pub(crate) schema: Schema,
    pub(crate) num_rows: u32,
    pub(crate) columns: Vec<Column>,
    /// One [`RowKind`] byte per row; `None`: every row is an insert.
    pub(crate) kinds: Option<Vec<u8>>,
}

impl Batch {
    /// A batch of `rows` rows from columns matching `schema`; checked with
    /// the same rules that received bytes are checked with.
    pub fn new(schema: Schema, rows: usize, columns: Vec<Column>) -> Result<Self, BatchError> {
        Self::checked(schema, rows, columns, Scan::Full)
    }

    /// A batch of columns each value of which was copied out of checked
    /// columns (rows taken or gathered, words cut from lines): only its
    /// shape is checked, in time independent of its text. Pieces of valid
    /// text cut at character boundaries and laid end to end are valid
    /// text, so scanning them again (as [`Batch::new`] does) would only
    /// repeat the check their sources passed.
    ///
    /// # Safety
    /// Every text column's bytes must be UTF-8 with each offset on a
    /// character boundary (views read them unchecked), and every
    /// variable-width column's offsets must ascend within its bytes: true
    /// when each value was copied from a [`crate::data::StrValues`], a
    /// [`crate::data::BinaryValues`] or a `&str`, whole or cut at
    /// character boundaries, and its end recorded as the next offset.
    pub(crate) unsafe fn from_copied_values(
        schema: Schema,
        rows: usize,
        columns: Vec<Column>,
    ) -> Result<Self, BatchError> {
        // The one slip a copy can make without breaking the promise's
        // letter: offsets that stopped short of a column past 4 GiB.
        for (field, column) in schema.fields.iter().zip(&columns) {
            if let ColumnData::Utf8 { offsets, data } | ColumnData::Binary { offsets, data } =
                &column.data
            {
                if offsets.last().map_or(0, |&end| end as usize) != data.len() {
                    return Err(BatchError::Offsets {
                        column: field.name.clone(),
                        reason: format!("copied values end short of their {} bytes", data.len()),
                    });
                }
            }
        }
        Self::checked(schema, rows, columns, Scan::ShapeOnly)
    }

    fn checked(
        schema: Schema,
        rows: usize,
        columns: Vec<Column>,
        scan: Scan,
    ) -> Result<Self, BatchError> {
        let num_rows = u32::try_from(rows).map_err(|_| BatchError::TooManyRows { rows })?;
        if schema.fields.len() != columns.len() {
            return Err(BatchError::ColumnCount {
                schema: schema.fields.len(),
                columns: columns.len(),
            });
        }
        for (field, column) in schema.fields.iter().zip(&columns) {
            view_column(FieldRef::from(field), rows, RawColumn::from(column), scan)?;
        }
        Ok(Self {
            schema,
            num_rows,
            columns,
            kinds: None,
        })
    }

    /// The batch with these row kinds (one per row), as a changelog's.
    pub fn with_kinds(self, kinds: &[RowKind]) -> Result<Self, BatchError> {
        self.with_kind_bytes(Some(kinds.iter().map(|k| k.as_byte()).collect()))
    }

    /// The batch with these kind bytes (`None`: all inserts), checked as
    /// received bytes are.
    pub(crate) fn with_kind_bytes(mut self, kinds: Option<Vec<u8>>) -> Result<Self, BatchError> {
        if let Some(bytes) = &kinds {
            validate_kinds(bytes, self.num_rows())?;
        }
        self.kinds = kinds;
        Ok(self)
    }

    /// Its row kinds, or `None` when every row is an insert.
    pub fn kinds(&self) -> Option<RowKinds<'_>> {
        // Checked whenever they are set, so this cannot fail.
        let bytes = self.kinds.as_deref()?;
        validate_kinds(bytes, self.num_rows()).ok()
    }

    /// The kind of row `i`.
    pub fn kind(&self, i: usize) -> RowKind {
        self.kinds().map_or(RowKind::Insert, |kinds| kinds.get(i))
    }

    /// A batch of the rows at `indices` (each below the row count), in
    /// that order, with their kinds.
    pub fn take(&self, indices: &[u32]) -> Result<Batch, BatchError> {
        let columns = crate::kernels::views(self);
        crate::kernels::take::take_batch(&self.schema, &columns, indices)?
            .with_kind_bytes(self.kinds().map(|kinds| kinds.take(indices)))
    }

    /// The batch's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.num_rows as usize
    }

    /// The columns, in schema order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// A typed view of column `index`, or `None` if there is no such column.
    pub fn column(&self, index: usize) -> Option<ColumnView<'_>> {
        let field = self.schema.fields.get(index)?;
        let column = self.columns.get(index)?;
        // Scanned in full in `new` (or, copied out of an archive, when the
        // archive was read), and a batch never changes after: only its
        // shape is checked again, in constant time, where a full scan
        // would read all its text once more at every look. `ok()` keeps
        // it panic-free.
        view_column(
            FieldRef::from(field),
            self.num_rows(),
            RawColumn::from(column),
            Scan::ShapeOnly,
        )
        .ok()
    }

    /// Archives the batch into `buffer` (cleared first) and returns it, so
    /// one allocation serves many batches.
    pub fn write_into(&self, mut buffer: AlignedVec) -> AlignedVec {
        buffer.clear();
        match rkyv::api::high::to_bytes_in::<_, rancor::Panic>(self, buffer) {
            Ok(bytes) => bytes,
            Err(never) => match never {},
        }
    }

    /// Bytes of its value and validity buffers: what the batch weighs in
    /// memory and, give or take the archive's small framing, on the wire.
    pub fn buffer_bytes(&self) -> usize {
        use super::column::ColumnData::*;
        self.columns
            .iter()
            .map(|column| {
                let values = match &column.data {
                    Bool(v) | Utf8 { data: v, .. } | Binary { data: v, .. } => v.len(),
                    Int64(v) | Timestamp(v) => v.len() * 8,
                    Float64(v) | F64Vector(v) => v.len() * 8,
                    F32Vector(v) => v.len() * 4,
                };
                let offsets = match &column.data {
                    Utf8 { offsets, .. } | Binary { offsets, .. } => offsets.len() * 4,
                    _ => 0,
                };
                values + offsets + column.validity.as_ref().map_or(0, Vec::len)
            })
            .sum::<usize>()
            + self.kinds.as_ref().map_or(0, Vec::len)
    }

    /// Archives the batch into a fresh buffer.
    pub fn to_bytes(&self) -> AlignedVec {
        // Sized for the archive up front (its buffers plus room for the
        // schema and each column's framing): grown by doubling, a 1 MB
        // archive would be copied through every smaller size and keep up
        // to twice its size allocated.
        let names: usize = self.schema.fields.iter().map(|f| f.name.len()).sum();
        let framing = 256 + names + 64 * self.columns.len();
        let kinds = self.kinds.as_ref().map_or(0, Vec::len);
        self.write_into(AlignedVec::with_capacity(
            self.buffer_bytes() + kinds + framing,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataType, Field};

    #[test]
    fn copied_values_are_refused_when_their_offsets_stop_short_of_their_bytes() {
        let schema = Schema::new(vec![Field::new("s", DataType::Utf8)]);
        let column = |offsets: Vec<u32>| Column {
            validity: None,
            data: ColumnData::Utf8 {
                offsets,
                data: "héllo".as_bytes().to_vec(),
            },
        };
        // SAFETY: the text is UTF-8 and both offsets are on boundaries; the
        // second batch's values end short of its bytes, which is refused.
        let whole =
            unsafe { Batch::from_copied_values(schema.clone(), 1, vec![column(vec![0, 6])]) };
        assert_eq!(
            whole.unwrap().column(0).unwrap().value(0),
            crate::data::Value::Utf8("héllo".into())
        );
        let short = unsafe { Batch::from_copied_values(schema, 1, vec![column(vec![0, 3])]) };
        assert!(
            matches!(short, Err(BatchError::Offsets { .. })),
            "{short:?}"
        );
    }
}

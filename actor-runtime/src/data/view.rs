//! Validated, zero-copy reading of archived batches.
//!
//! [`BatchView::new`] takes bytes from the network or an mmap'd file and
//! checks them twice: rkyv's validator proves the archive is structurally
//! sound (pointers in bounds, tags valid, nothing overlapping), then
//! [`view_column`] with a full scan proves it is a *batch*: the schema
//! and columns agree, every buffer has the length the row count implies,
//! offsets ascend within their data, text is UTF-8, row kinds (if any)
//! are one valid kind byte per row. After that, every accessor is a slice.
//!
//! For fixed-width columns the checks are O(1) per column; text and binary
//! columns cost one pass over their offsets (and UTF-8 over their text).

use rkyv::rancor;

use super::batch::{ArchivedBatch, Batch};
use super::column::{ArchivedColumn, ArchivedColumnData, Bitmap, Column, ColumnData};
use super::error::BatchError;
use super::kind::{validate_kinds, RowKinds};
use super::schema::{DataType, Field, Schema, VectorElement};
use super::Value;

/// Alignment an archived batch must start on.
pub const BATCH_ALIGN: usize = 8;

/// A column's buffers as plain slices, not yet checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawColumn<'a> {
    validity: Option<&'a [u8]>,
    values: RawValues<'a>,
}

#[derive(Debug, Clone, Copy)]
enum RawValues<'a> {
    Bool(&'a [u8]),
    Int64(&'a [i64]),
    Float64(&'a [f64]),
    Utf8(&'a [u32], &'a [u8]),
    Binary(&'a [u32], &'a [u8]),
    Timestamp(&'a [i64]),
    F32Vector(&'a [f32]),
    F64Vector(&'a [f64]),
}

impl RawValues<'_> {
    fn kind_name(&self) -> &'static str {
        match self {
            RawValues::Bool(_) => "bool",
            RawValues::Int64(_) => "i64",
            RawValues::Float64(_) => "f64",
            RawValues::Utf8(..) => "utf8",
            RawValues::Binary(..) => "binary",
            RawValues::Timestamp(_) => "timestamp",
            RawValues::F32Vector(_) => "vector<f32>",
            RawValues::F64Vector(_) => "vector<f64>",
        }
    }
}

impl<'a> From<&'a Column> for RawColumn<'a> {
    fn from(column: &'a Column) -> Self {
        let values = match &column.data {
            ColumnData::Bool(bits) => RawValues::Bool(bits),
            ColumnData::Int64(values) => RawValues::Int64(values),
            ColumnData::Float64(values) => RawValues::Float64(values),
            ColumnData::Utf8 { offsets, data } => RawValues::Utf8(offsets, data),
            ColumnData::Binary { offsets, data } => RawValues::Binary(offsets, data),
            ColumnData::Timestamp(values) => RawValues::Timestamp(values),
            ColumnData::F32Vector(values) => RawValues::F32Vector(values),
            ColumnData::F64Vector(values) => RawValues::F64Vector(values),
        };
        Self {
            validity: column.validity.as_deref(),
            values,
        }
    }
}

#[cfg(not(target_endian = "little"))]
compile_error!(
    "archived columns are read in place as native slices, which needs a little-endian target"
);

impl<'a> From<&'a ArchivedColumn> for RawColumn<'a> {
    fn from(column: &'a ArchivedColumn) -> Self {
        // Archived primitives are little-endian with native size and
        // alignment, so on little-endian targets they *are* native values.
        use bytemuck::cast_slice as native;
        let values = match &column.data {
            ArchivedColumnData::Bool(bits) => RawValues::Bool(bits.as_slice()),
            ArchivedColumnData::Int64(values) => RawValues::Int64(native(values.as_slice())),
            ArchivedColumnData::Float64(values) => RawValues::Float64(native(values.as_slice())),
            ArchivedColumnData::Utf8 { offsets, data } => {
                RawValues::Utf8(native(offsets.as_slice()), data.as_slice())
            }
            ArchivedColumnData::Binary { offsets, data } => {
                RawValues::Binary(native(offsets.as_slice()), data.as_slice())
            }
            ArchivedColumnData::Timestamp(values) => {
                RawValues::Timestamp(native(values.as_slice()))
            }
            ArchivedColumnData::F32Vector(values) => {
                RawValues::F32Vector(native(values.as_slice()))
            }
            ArchivedColumnData::F64Vector(values) => {
                RawValues::F64Vector(native(values.as_slice()))
            }
        };
        Self {
            validity: column.validity.as_ref().map(|bits| bits.as_slice()),
            values,
        }
    }
}

/// The parts of a field validation needs, owned or archived.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldRef<'a> {
    name: &'a str,
    data_type: DataType,
    nullable: bool,
}

impl<'a> From<&'a Field> for FieldRef<'a> {
    fn from(field: &'a Field) -> Self {
        Self {
            name: &field.name,
            data_type: field.data_type,
            nullable: field.nullable,
        }
    }
}

/// Text values of a column, proven UTF-8.
#[derive(Debug, Clone, Copy)]
pub struct StrValues<'a> {
    bytes: BinaryValues<'a>,
}

impl<'a> StrValues<'a> {
    /// The text of row `i`.
    pub fn value(&self, i: usize) -> &'a str {
        let bytes = self.bytes.value(i);
        // SAFETY: `StrValues` is only built by `view_column`: with
        // `Scan::Full` it checked that the column's text is UTF-8 and that
        // every offset falls on a character boundary; with
        // `Scan::ShapeOnly` (an owned `Batch`'s column) that same full
        // check passed when the batch was made, or its values were copied
        // out of checked text, whole or cut at character boundaries
        // (`Batch::from_copied_values`, whose callers promise it), and a
        // batch never changes.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The UTF-8 bytes of row `i`, for byte-wise comparison.
    pub fn bytes(&self, i: usize) -> &'a [u8] {
        self.bytes.value(i)
    }

    /// The underlying offsets and text bytes (proven UTF-8, every offset on
    /// a character boundary).
    pub fn raw(&self) -> BinaryValues<'a> {
        self.bytes
    }
}

/// Byte-string values of a column.
#[derive(Debug, Clone, Copy)]
pub struct BinaryValues<'a> {
    offsets: &'a [u32],
    data: &'a [u8],
}

impl<'a> BinaryValues<'a> {
    /// The bytes of row `i`.
    pub fn value(&self, i: usize) -> &'a [u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Total bytes of all values.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// rows + 1 ascending positions into [`Self::data`].
    pub fn offsets(&self) -> &'a [u32] {
        self.offsets
    }

    /// The concatenated values.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

/// The values of a checked column, by type.
#[derive(Debug, Clone, Copy)]
pub enum ValuesView<'a> {
    /// Booleans, one bit per row.
    Bool(Bitmap<'a>),
    /// 64-bit integers.
    Int64(&'a [i64]),
    /// 64-bit floats.
    Float64(&'a [f64]),
    /// Text.
    Utf8(StrValues<'a>),
    /// Bytes.
    Binary(BinaryValues<'a>),
    /// Milliseconds since the epoch.
    Timestamp(&'a [i64]),
    /// `dim` floats per row.
    F32Vector {
        /// Elements per row.
        dim: usize,
        /// All elements, row after row.
        values: &'a [f32],
    },
    /// `dim` doubles per row.
    F64Vector {
        /// Elements per row.
        dim: usize,
        /// All elements, row after row.
        values: &'a [f64],
    },
}

/// A checked column: name, type, validity and values.
#[derive(Debug, Clone, Copy)]
pub struct ColumnView<'a> {
    /// Column name.
    pub name: &'a str,
    /// Column type.
    pub data_type: DataType,
    /// Rows.
    pub len: usize,
    /// Validity; `None` means no nulls.
    pub validity: Option<Bitmap<'a>>,
    /// The values.
    pub values: ValuesView<'a>,
}

impl ColumnView<'_> {
    /// Whether row `i` is null.
    pub fn is_null(&self, i: usize) -> bool {
        self.validity.is_some_and(|validity| !validity.get(i))
    }

    /// Row `i` as an owned value (allocates for text, bytes and vectors).
    pub fn value(&self, i: usize) -> Value {
        if self.is_null(i) {
            return Value::Null;
        }
        match self.values {
            ValuesView::Bool(bits) => Value::Bool(bits.get(i)),
            ValuesView::Int64(values) => Value::Int64(values[i]),
            ValuesView::Float64(values) => Value::Float64(values[i]),
            ValuesView::Utf8(values) => Value::Utf8(values.value(i).to_string()),
            ValuesView::Binary(values) => Value::Binary(values.value(i).to_vec()),
            ValuesView::Timestamp(values) => Value::Timestamp(values[i]),
            ValuesView::F32Vector { dim, values } => {
                Value::F32Vector(values[i * dim..(i + 1) * dim].to_vec())
            }
            ValuesView::F64Vector { dim, values } => {
                Value::F64Vector(values[i * dim..(i + 1) * dim].to_vec())
            }
        }
    }
}

fn expect_len(
    column: &str,
    what: &'static str,
    expected: Option<usize>,
    found: usize,
) -> Result<(), BatchError> {
    match expected {
        Some(expected) if expected == found => Ok(()),
        expected => Err(BatchError::Length {
            column: column.to_string(),
            what,
            expected: expected.unwrap_or(usize::MAX),
            found,
        }),
    }
}

fn check_offsets<'a>(
    column: &str,
    rows: usize,
    offsets: &'a [u32],
    data: &'a [u8],
) -> Result<BinaryValues<'a>, BatchError> {
    expect_len(column, "offsets", rows.checked_add(1), offsets.len())?;
    let invalid = |reason: String| BatchError::Offsets {
        column: column.to_string(),
        reason,
    };
    if !offsets.windows(2).all(|pair| pair[0] <= pair[1]) {
        return Err(invalid("offsets descend".into()));
    }
    let last = offsets.last().copied().unwrap_or(0) as usize;
    if last > data.len() {
        return Err(invalid(format!(
            "last offset {last} is beyond the {} data bytes",
            data.len()
        )));
    }
    Ok(BinaryValues { offsets, data })
}

fn check_utf8<'a>(column: &str, values: BinaryValues<'a>) -> Result<StrValues<'a>, BatchError> {
    let first = values.offsets.first().copied().unwrap_or(0) as usize;
    let last = values.offsets.last().copied().unwrap_or(0) as usize;
    let bad_row = |row| BatchError::InvalidUtf8 {
        column: column.to_string(),
        row,
    };
    if let Err(error) = std::str::from_utf8(&values.data[first..last]) {
        let at = first + error.valid_up_to();
        let row = values
            .offsets
            .partition_point(|&offset| offset as usize <= at)
            .saturating_sub(1);
        return Err(bad_row(row));
    }
    // Text is valid as a whole; each value must also start on a character.
    let is_continuation = |at: usize| at < last && (values.data[at] as i8) < -0x40;
    if let Some(row) = values
        .offsets
        .iter()
        .position(|&offset| is_continuation(offset as usize))
    {
        return Err(bad_row(row));
    }
    Ok(StrValues { bytes: values })
}

/// Checks that a vector column holds `dim` values per row; returns `dim`.
fn check_vector(column: &str, rows: usize, dim: u32, values: usize) -> Result<usize, BatchError> {
    expect_len(
        column,
        "vector values",
        rows.checked_mul(dim as usize),
        values,
    )?;
    Ok(dim as usize)
}

/// How much of a column [`view_column`] reads to check it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Every offset and every byte of text: bytes from anywhere.
    Full,
    /// Types and lengths only, in constant time: for the columns of an
    /// owned [`super::Batch`], which were scanned in full when it was
    /// made (or copied out of columns that were) and cannot change since.
    ShapeOnly,
}

/// A view of `raw` as `field`, checked as `scan` says.
pub(crate) fn view_column<'a>(
    field: FieldRef<'a>,
    rows: usize,
    raw: RawColumn<'a>,
    scan: Scan,
) -> Result<ColumnView<'a>, BatchError> {
    let column = field.name;
    let mismatch = || BatchError::TypeMismatch {
        column: column.to_string(),
        expected: field.data_type,
        found: raw.values.kind_name(),
    };
    let bitmap_len = Some(Bitmap::bytes_for(rows));
    let values = match (field.data_type, raw.values) {
        (DataType::Bool, RawValues::Bool(bits)) => {
            expect_len(column, "bool bitmap", bitmap_len, bits.len())?;
            ValuesView::Bool(Bitmap::new(bits, rows))
        }
        (DataType::Int64, RawValues::Int64(values)) => {
            expect_len(column, "values", Some(rows), values.len())?;
            ValuesView::Int64(values)
        }
        (DataType::Timestamp, RawValues::Timestamp(values)) => {
            expect_len(column, "values", Some(rows), values.len())?;
            ValuesView::Timestamp(values)
        }
        (DataType::Float64, RawValues::Float64(values)) => {
            expect_len(column, "values", Some(rows), values.len())?;
            ValuesView::Float64(values)
        }
        (DataType::Utf8, RawValues::Utf8(offsets, data)) => match scan {
            Scan::Full => ValuesView::Utf8(check_utf8(
                column,
                check_offsets(column, rows, offsets, data)?,
            )?),
            Scan::ShapeOnly => {
                expect_len(column, "offsets", rows.checked_add(1), offsets.len())?;
                ValuesView::Utf8(StrValues {
                    bytes: BinaryValues { offsets, data },
                })
            }
        },
        (DataType::Binary, RawValues::Binary(offsets, data)) => match scan {
            Scan::Full => ValuesView::Binary(check_offsets(column, rows, offsets, data)?),
            Scan::ShapeOnly => {
                expect_len(column, "offsets", rows.checked_add(1), offsets.len())?;
                ValuesView::Binary(BinaryValues { offsets, data })
            }
        },
        (
            DataType::Vector {
                element: VectorElement::F32,
                dim,
            },
            RawValues::F32Vector(values),
        ) => ValuesView::F32Vector {
            dim: check_vector(column, rows, dim, values.len())?,
            values,
        },
        (
            DataType::Vector {
                element: VectorElement::F64,
                dim,
            },
            RawValues::F64Vector(values),
        ) => ValuesView::F64Vector {
            dim: check_vector(column, rows, dim, values.len())?,
            values,
        },
        _ => return Err(mismatch()),
    };
    let validity = match raw.validity {
        None => None,
        Some(_) if !field.nullable => {
            return Err(BatchError::UnexpectedNulls {
                column: column.to_string(),
            })
        }
        Some(bits) => {
            expect_len(column, "validity bitmap", bitmap_len, bits.len())?;
            Some(Bitmap::new(bits, rows))
        }
    };
    Ok(ColumnView {
        name: field.name,
        data_type: field.data_type,
        len: rows,
        validity,
        values,
    })
}

/// The views of an archived batch's columns, each checked as `scan` says
/// against its archived field.
fn archived_columns(
    archived: &ArchivedBatch,
    rows: usize,
    scan: Scan,
) -> Result<Vec<ColumnView<'_>>, BatchError> {
    archived
        .schema
        .fields
        .iter()
        .zip(archived.columns.iter())
        .map(|(field, column)| {
            let field = FieldRef {
                name: field.name.as_str(),
                data_type: DataType::from_archived(&field.data_type),
                nullable: field.nullable,
            };
            view_column(field, rows, RawColumn::from(column), scan)
        })
        .collect()
}

/// A batch read in place from archived bytes, fully validated.
pub struct BatchView<'a> {
    archived: &'a ArchivedBatch,
    columns: Vec<ColumnView<'a>>,
    kinds: Option<RowKinds<'a>>,
}

impl std::fmt::Debug for BatchView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchView")
            .field("rows", &self.num_rows())
            .field("columns", &self.columns)
            .finish()
    }
}

/// Most rows an archive may claim beyond one bit per archived byte (a
/// batch whose columns take no space per row, or that has no columns).
pub const MAX_HOLLOW_ROWS: usize = 1 << 16;

impl<'a> BatchView<'a> {
    /// Validates `bytes` as an archived batch. Never panics, whatever the
    /// bytes: corrupt, truncated or hostile input is a [`BatchError`].
    pub fn new(bytes: &'a [u8]) -> Result<Self, BatchError> {
        let address = bytes.as_ptr() as usize;
        if !address.is_multiple_of(BATCH_ALIGN) {
            return Err(BatchError::Misaligned {
                address,
                required: BATCH_ALIGN,
            });
        }
        let archived = rkyv::access::<ArchivedBatch, rancor::Error>(bytes)
            .map_err(|e| BatchError::Malformed(e.to_string()))?;
        let rows = archived.num_rows.to_native() as usize;
        // Every column type but an empty one takes at least a bit per row,
        // so real row counts are bounded by the bytes; a batch of no (or
        // only empty) columns could claim billions of rows that a reader
        // then allocates for.
        let most = MAX_HOLLOW_ROWS.max(bytes.len().saturating_mul(8));
        if rows > most {
            return Err(BatchError::Malformed(format!(
                "{rows} rows in {} bytes (at most {most})",
                bytes.len()
            )));
        }
        let fields = archived.schema.fields.as_slice();
        if fields.len() != archived.columns.len() {
            return Err(BatchError::ColumnCount {
                schema: fields.len(),
                columns: archived.columns.len(),
            });
        }
        let columns = archived_columns(archived, rows, Scan::Full)?;
        let kinds = archived
            .kinds
            .as_ref()
            .map(|bytes| validate_kinds(bytes.as_slice(), rows))
            .transpose()?;
        Ok(Self {
            archived,
            columns,
            kinds,
        })
    }

    /// A view of `bytes` that [`Self::new`] accepted before: the archive
    /// is not walked again and its columns' shape is checked in constant
    /// time ([`Scan::ShapeOnly`]). `None` if the shape does not hold.
    ///
    /// # Safety
    ///
    /// `bytes` must be exactly bytes that [`Self::new`] returned `Ok`
    /// for, unchanged since (a [`super::KeptArchive`] guarantees both).
    pub(crate) unsafe fn checked_before(bytes: &'a [u8]) -> Option<Self> {
        // SAFETY: the caller promises `BatchView::new` validated these
        // very bytes, and they have not changed.
        let archived = unsafe { rkyv::access_unchecked::<ArchivedBatch>(bytes) };
        let rows = archived.num_rows.to_native() as usize;
        let columns = archived_columns(archived, rows, Scan::ShapeOnly).ok()?;
        let kinds = archived
            .kinds
            .as_ref()
            .map(|bytes| validate_kinds(bytes.as_slice(), rows).ok())
            .unwrap_or(None);
        Some(Self {
            archived,
            columns,
            kinds,
        })
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.archived.num_rows.to_native() as usize
    }

    /// Its row kinds (checked), or `None` when every row is an insert.
    pub fn kinds(&self) -> Option<RowKinds<'a>> {
        self.kinds
    }

    /// The checked columns, in schema order.
    pub fn columns(&self) -> &[ColumnView<'a>] {
        &self.columns
    }

    /// Column `index`, if there is one.
    pub fn column(&self, index: usize) -> Option<&ColumnView<'a>> {
        self.columns.get(index)
    }

    /// The column called `name`, if there is one.
    pub fn column_by_name(&self, name: &str) -> Option<&ColumnView<'a>> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// Whether its columns are `expected`'s, by name and type, in order:
    /// a received batch is read by column position, so one from a peer
    /// that planned differently must not reach an operator.
    pub fn check_schema(&self, expected: &Schema) -> Result<(), BatchError> {
        let fits = self.columns.len() == expected.fields.len()
            && self
                .columns
                .iter()
                .zip(&expected.fields)
                .all(|(column, field)| {
                    column.name == field.name && column.data_type == field.data_type
                });
        if fits {
            return Ok(());
        }
        let names = |columns: Vec<String>| columns.join(", ");
        Err(BatchError::UnexpectedSchema {
            expected: names(
                expected
                    .fields
                    .iter()
                    .map(|f| format!("{} {}", f.name, f.data_type))
                    .collect(),
            ),
            found: names(
                self.columns
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.data_type))
                    .collect(),
            ),
        })
    }

    /// The schema, as an owned value.
    pub fn schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .zip(self.archived.schema.fields.iter())
                .map(|(column, field)| Field {
                    name: column.name.to_string(),
                    data_type: column.data_type,
                    nullable: field.nullable,
                })
                .collect(),
        )
    }

    /// Copies the batch out of the archive (for tests and debugging; the
    /// data path reads the view).
    pub fn to_batch(&self) -> Result<Batch, BatchError> {
        rkyv::deserialize::<Batch, rancor::Error>(self.archived)
            .map_err(|e| BatchError::Malformed(e.to_string()))
    }
}

//! Building batches column by column or row by row.
//!
//! Typed `push_*` methods append without allocating per value (what
//! generators and operators use); [`BatchBuilder::push_row`] takes
//! [`Value`]s for convenience in tests and readers.

use super::batch::Batch;
use super::column::{BitmapBuilder, Column, ColumnData};
use super::error::BatchError;
use super::schema::{DataType, Field, Schema, VectorElement};
use super::value::Value;

/// Appends the values of one column.
#[derive(Debug, Clone)]
pub struct ColumnBuilder {
    field: Field,
    len: usize,
    /// Created at the first null, back-filled with set bits.
    validity: Option<BitmapBuilder>,
    bools: BitmapBuilder,
    data: ColumnData,
}

impl ColumnBuilder {
    /// An empty builder for `field`, with room for `rows` rows.
    pub fn new(field: Field, rows: usize) -> Self {
        let data = match field.data_type {
            DataType::Bool => ColumnData::Bool(Vec::new()),
            DataType::Int64 => ColumnData::Int64(Vec::with_capacity(rows)),
            DataType::Float64 => ColumnData::Float64(Vec::with_capacity(rows)),
            DataType::Utf8 => ColumnData::Utf8 {
                offsets: offsets_with_capacity(rows),
                data: Vec::new(),
            },
            DataType::Binary => ColumnData::Binary {
                offsets: offsets_with_capacity(rows),
                data: Vec::new(),
            },
            DataType::Timestamp => ColumnData::Timestamp(Vec::with_capacity(rows)),
            DataType::Vector {
                element: VectorElement::F32,
                dim,
            } => ColumnData::F32Vector(Vec::with_capacity(rows * dim as usize)),
            DataType::Vector {
                element: VectorElement::F64,
                dim,
            } => ColumnData::F64Vector(Vec::with_capacity(rows * dim as usize)),
        };
        Self {
            field,
            len: 0,
            validity: None,
            bools: BitmapBuilder::with_capacity(rows),
            data,
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no row was appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn wrong(&self, got: &'static str) -> BatchError {
        BatchError::WrongValue {
            column: self.field.name.clone(),
            expected: self.field.data_type,
            got,
        }
    }

    fn present(&mut self) {
        if let Some(validity) = &mut self.validity {
            validity.push(true);
        }
        self.len += 1;
    }

    /// Appends an `i64` to an i64 or timestamp column.
    pub fn push_i64(&mut self, value: i64) -> Result<(), BatchError> {
        match &mut self.data {
            ColumnData::Int64(values) | ColumnData::Timestamp(values) => values.push(value),
            _ => return Err(self.wrong("i64")),
        }
        self.present();
        Ok(())
    }

    /// Appends an `f64` to an f64 column.
    pub fn push_f64(&mut self, value: f64) -> Result<(), BatchError> {
        match &mut self.data {
            ColumnData::Float64(values) => values.push(value),
            _ => return Err(self.wrong("f64")),
        }
        self.present();
        Ok(())
    }

    /// Appends a boolean to a bool column.
    pub fn push_bool(&mut self, value: bool) -> Result<(), BatchError> {
        if !matches!(self.data, ColumnData::Bool(_)) {
            return Err(self.wrong("bool"));
        }
        self.bools.push(value);
        self.present();
        Ok(())
    }

    /// Appends text to a utf8 column.
    pub fn push_str(&mut self, value: &str) -> Result<(), BatchError> {
        match &mut self.data {
            ColumnData::Utf8 { offsets, data } => {
                push_bytes_at(offsets, data, value.as_bytes(), &self.field.name)?
            }
            _ => return Err(self.wrong("utf8")),
        }
        self.present();
        Ok(())
    }

    /// Appends bytes to a binary column.
    pub fn push_bytes(&mut self, value: &[u8]) -> Result<(), BatchError> {
        match &mut self.data {
            ColumnData::Binary { offsets, data } => {
                push_bytes_at(offsets, data, value, &self.field.name)?
            }
            _ => return Err(self.wrong("binary")),
        }
        self.present();
        Ok(())
    }

    fn check_dim(&self, len: usize) -> Result<(), BatchError> {
        match self.field.data_type {
            DataType::Vector { dim, .. } if dim as usize == len => Ok(()),
            DataType::Vector { dim, .. } => Err(BatchError::Length {
                column: self.field.name.clone(),
                what: "pushed vector",
                expected: dim as usize,
                found: len,
            }),
            _ => Err(self.wrong("vector")),
        }
    }

    /// Appends a vector of `f32` to a vector<f32, dim> column.
    pub fn push_f32_vector(&mut self, value: &[f32]) -> Result<(), BatchError> {
        self.check_dim(value.len())?;
        match &mut self.data {
            ColumnData::F32Vector(values) => values.extend_from_slice(value),
            _ => return Err(self.wrong("vector<f32>")),
        }
        self.present();
        Ok(())
    }

    /// Appends a vector of `f64` to a vector<f64, dim> column.
    pub fn push_f64_vector(&mut self, value: &[f64]) -> Result<(), BatchError> {
        self.check_dim(value.len())?;
        match &mut self.data {
            ColumnData::F64Vector(values) => values.extend_from_slice(value),
            _ => return Err(self.wrong("vector<f64>")),
        }
        self.present();
        Ok(())
    }

    /// Appends a null; the column must be nullable.
    pub fn push_null(&mut self) -> Result<(), BatchError> {
        if !self.field.nullable {
            return Err(BatchError::UnexpectedNulls {
                column: self.field.name.clone(),
            });
        }
        let dim = self.dim();
        match &mut self.data {
            ColumnData::Bool(_) => self.bools.push(false),
            ColumnData::Int64(values) | ColumnData::Timestamp(values) => values.push(0),
            ColumnData::Float64(values) => values.push(0.0),
            ColumnData::Utf8 { offsets, data } | ColumnData::Binary { offsets, data } => {
                push_bytes_at(offsets, data, &[], &self.field.name)?
            }
            ColumnData::F32Vector(values) => values.resize(values.len() + dim, 0.0),
            ColumnData::F64Vector(values) => values.resize(values.len() + dim, 0.0),
        }
        let len = self.len;
        self.validity
            .get_or_insert_with(|| BitmapBuilder::all_set(len))
            .push(false);
        self.len += 1;
        Ok(())
    }

    /// Appends row `row` of `other`, a builder of the same type: a copy
    /// of a value not yet finished into a column (a group table's keys).
    pub fn push_from(&mut self, other: &ColumnBuilder, row: usize) -> Result<(), BatchError> {
        let out_of_range = || BatchError::Length {
            column: other.field.name.clone(),
            what: "rows to copy from",
            expected: row + 1,
            found: other.len,
        };
        if row >= other.len {
            return Err(out_of_range());
        }
        if other.validity.as_ref().is_some_and(|v| !v.get(row)) {
            return self.push_null();
        }
        let dim = other.dim();
        let span = |offsets: &[u32]| {
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            start..end
        };
        match &other.data {
            ColumnData::Bool(_) => self.push_bool(other.bools.get(row)),
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => self.push_i64(v[row]),
            ColumnData::Float64(v) => self.push_f64(v[row]),
            ColumnData::Utf8 { offsets, data } => match &mut self.data {
                // Copied as bytes: they were checked text when pushed.
                ColumnData::Utf8 {
                    offsets: to,
                    data: to_data,
                } => {
                    push_bytes_at(to, to_data, &data[span(offsets)], &self.field.name)?;
                    self.present();
                    Ok(())
                }
                _ => Err(self.wrong("utf8")),
            },
            ColumnData::Binary { offsets, data } => self.push_bytes(&data[span(offsets)]),
            ColumnData::F32Vector(v) => self.push_f32_vector(&v[row * dim..(row + 1) * dim]),
            ColumnData::F64Vector(v) => self.push_f64_vector(&v[row * dim..(row + 1) * dim]),
        }
    }

    fn dim(&self) -> usize {
        match self.field.data_type {
            DataType::Vector { dim, .. } => dim as usize,
            _ => 0,
        }
    }

    /// Checks that `value` fits the column, without appending it.
    pub fn check_value(&self, value: &Value) -> Result<(), BatchError> {
        let fits = match (value, self.field.data_type) {
            (Value::Null, _) if !self.field.nullable => {
                return Err(BatchError::UnexpectedNulls {
                    column: self.field.name.clone(),
                })
            }
            (
                Value::F32Vector(v),
                DataType::Vector {
                    element: VectorElement::F32,
                    ..
                },
            ) => return self.check_dim(v.len()),
            (
                Value::F64Vector(v),
                DataType::Vector {
                    element: VectorElement::F64,
                    ..
                },
            ) => return self.check_dim(v.len()),
            (Value::Null, _)
            | (Value::Bool(_), DataType::Bool)
            | (Value::Int64(_), DataType::Int64)
            | (Value::Timestamp(_), DataType::Timestamp)
            | (Value::Float64(_), DataType::Float64)
            | (Value::Utf8(_), DataType::Utf8)
            | (Value::Binary(_), DataType::Binary) => true,
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(self.wrong(value.kind_name()))
        }
    }

    /// Appends any value, checking it fits the column.
    pub fn push_value(&mut self, value: &Value) -> Result<(), BatchError> {
        match (value, self.field.data_type) {
            (Value::Null, _) => self.push_null(),
            (Value::Bool(v), DataType::Bool) => self.push_bool(*v),
            (Value::Int64(v), DataType::Int64) | (Value::Timestamp(v), DataType::Timestamp) => {
                self.push_i64(*v)
            }
            (Value::Float64(v), DataType::Float64) => self.push_f64(*v),
            (Value::Utf8(v), DataType::Utf8) => self.push_str(v),
            (Value::Binary(v), DataType::Binary) => self.push_bytes(v),
            (
                Value::F32Vector(v),
                DataType::Vector {
                    element: VectorElement::F32,
                    ..
                },
            ) => self.push_f32_vector(v),
            (
                Value::F64Vector(v),
                DataType::Vector {
                    element: VectorElement::F64,
                    ..
                },
            ) => self.push_f64_vector(v),
            (other, _) => Err(self.wrong(other.kind_name())),
        }
    }

    /// The built column.
    pub fn finish(self) -> Column {
        let data = match self.data {
            ColumnData::Bool(_) => ColumnData::Bool(self.bools.finish()),
            other => other,
        };
        Column {
            validity: self.validity.map(BitmapBuilder::finish),
            data,
        }
    }
}

fn offsets_with_capacity(rows: usize) -> Vec<u32> {
    let mut offsets = Vec::with_capacity(rows + 1);
    offsets.push(0);
    offsets
}

fn push_bytes_at(
    offsets: &mut Vec<u32>,
    data: &mut Vec<u8>,
    value: &[u8],
    column: &str,
) -> Result<(), BatchError> {
    data.extend_from_slice(value);
    let end = u32::try_from(data.len()).map_err(|_| BatchError::Offsets {
        column: column.to_string(),
        reason: format!("column data exceeds 4 GiB ({} bytes)", data.len()),
    })?;
    offsets.push(end);
    Ok(())
}

/// Builds a [`Batch`] for a schema.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    schema: Schema,
    columns: Vec<ColumnBuilder>,
    /// Rows pushed with `push_row`: the row count when there are no columns.
    rows_pushed: usize,
}

impl BatchBuilder {
    /// An empty builder with room for `rows` rows.
    pub fn new(schema: Schema, rows: usize) -> Self {
        let columns = schema
            .fields
            .iter()
            .map(|field| ColumnBuilder::new(field.clone(), rows))
            .collect();
        Self {
            schema,
            columns,
            rows_pushed: 0,
        }
    }

    /// The builder of column `index`; panics if there is no such column.
    pub fn column(&mut self, index: usize) -> &mut ColumnBuilder {
        &mut self.columns[index]
    }

    /// Rows in the first column (all columns agree once a row is complete).
    pub fn len(&self) -> usize {
        self.columns
            .first()
            .map_or(self.rows_pushed, ColumnBuilder::len)
    }

    /// Whether no row was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one row of values, one per field. A row that does not fit
    /// the schema is rejected before any column is touched.
    pub fn push_row(&mut self, row: &[Value]) -> Result<(), BatchError> {
        if row.len() != self.columns.len() {
            return Err(BatchError::RowWidth {
                expected: self.columns.len(),
                got: row.len(),
            });
        }
        for (column, value) in self.columns.iter().zip(row) {
            column.check_value(value)?;
        }
        for (column, value) in self.columns.iter_mut().zip(row) {
            column.push_value(value)?;
        }
        self.rows_pushed += 1;
        Ok(())
    }

    /// The finished batch; every column must have the same number of rows.
    pub fn finish(self) -> Result<Batch, BatchError> {
        let rows = self.len();
        for column in &self.columns {
            if column.len() != rows {
                return Err(BatchError::RaggedColumns {
                    column: column.field.name.clone(),
                    expected: rows,
                    found: column.len(),
                });
            }
        }
        let columns = self
            .columns
            .into_iter()
            .map(ColumnBuilder::finish)
            .collect();
        Batch::new(self.schema, rows, columns)
    }
}

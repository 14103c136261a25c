//! The values expressions compute on: one typed vector per column, with
//! an optional validity vector, borrowing input columns where it can (a
//! column reference costs nothing) and owning what it computes.

use std::borrow::Cow;

use super::types::{Scalar, Ty};
use crate::data::{Bitmap, Column, ColumnData, ColumnView, ValuesView};

/// Text values: `offsets` (rows + 1, ascending) into `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Strings<'a> {
    offsets: Cow<'a, [u32]>,
    data: Cow<'a, [u8]>,
}

impl<'a> Strings<'a> {
    /// Rows.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of row `i`.
    pub fn get(&self, i: usize) -> &str {
        let bytes = &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize];
        // SAFETY: `Strings` is only built from validated text columns
        // (UTF-8, offsets on character boundaries) or by
        // `StringsBuilder`, which only appends whole `&str`s.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The values with ASCII letters in lower (or upper) case, by one pass
    /// over all the bytes when they are all ASCII (lengths, so offsets,
    /// stay); `None` otherwise.
    pub fn ascii_case(&self, upper: bool) -> Option<Strings<'static>> {
        let (first, last) = (*self.offsets.first()?, *self.offsets.last()?);
        let text = self.data.get(first as usize..last as usize)?;
        if !text.is_ascii() {
            return None;
        }
        let mut data = text.to_vec();
        match upper {
            true => data.make_ascii_uppercase(),
            false => data.make_ascii_lowercase(),
        }
        Some(Strings {
            offsets: Cow::Owned(self.offsets.iter().map(|o| o - first).collect()),
            data: Cow::Owned(data),
        })
    }

    /// Whether every value is its own trim, as its first and last bytes
    /// alone show: empty, or from a visible ASCII character to another.
    pub fn is_trimmed(&self) -> bool {
        let visible = |at: usize| self.data.get(at).is_some_and(u8::is_ascii_graphic);
        self.offsets.windows(2).all(|value| {
            value[0] == value[1] || (visible(value[0] as usize) && visible(value[1] as usize - 1))
        })
    }

    /// Bytes of text in all rows.
    pub fn total_bytes(&self) -> usize {
        match (self.offsets.first(), self.offsets.last()) {
            (Some(first), Some(last)) => last.saturating_sub(*first) as usize,
            _ => 0,
        }
    }

    /// The bytes of row `i`.
    pub fn bytes(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// Builds [`Strings`] row by row.
#[derive(Debug, Default)]
pub struct StringsBuilder {
    offsets: Vec<u32>,
    data: String,
}

impl StringsBuilder {
    /// Room for `rows` rows of about `bytes` bytes in all.
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            data: String::with_capacity(bytes),
        }
    }

    /// Appends one row.
    pub fn push(&mut self, value: &str) {
        self.push_with(|data| data.push_str(value));
    }

    /// Appends one row that `write` appends to the text of the rows
    /// before it (it must only append): made in place, not in a string
    /// of its own copied in after.
    pub fn push_with(&mut self, write: impl FnOnce(&mut String)) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        write(&mut self.data);
        // Batches cap text at u32 offsets; `Batch::new` rejects more.
        self.offsets
            .push(u32::try_from(self.data.len()).unwrap_or(u32::MAX));
    }

    /// The built values.
    pub fn finish(mut self) -> Strings<'static> {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        Strings {
            offsets: Cow::Owned(self.offsets),
            data: Cow::Owned(self.data.into_bytes()),
        }
    }
}

/// A column of computed values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values<'a> {
    /// Booleans, one byte each while computing.
    Bool(Cow<'a, [bool]>),
    /// Integers.
    Int64(Cow<'a, [i64]>),
    /// Doubles.
    Float64(Cow<'a, [f64]>),
    /// Text.
    Utf8(Strings<'a>),
    /// Milliseconds since the epoch.
    Timestamp(Cow<'a, [i64]>),
}

/// Computed values and which rows are valid (`None`: all).
#[derive(Debug, Clone, PartialEq)]
pub struct Array<'a> {
    /// The values; a null row holds a placeholder.
    pub values: Values<'a>,
    /// `validity[i]` is false for a null row.
    pub validity: Option<Vec<bool>>,
}

/// An expression's result: a column, or one value for every row.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum<'a> {
    /// One value per row.
    Array(Array<'a>),
    /// The same value for every row.
    Scalar(Scalar),
}

fn bits(bitmap: Bitmap<'_>) -> Vec<bool> {
    (0..bitmap.len()).map(|i| bitmap.get(i)).collect()
}

impl<'a> Array<'a> {
    /// Reads an input column; `None` for types expressions do not read.
    pub fn from_view(view: &ColumnView<'a>) -> Option<Self> {
        let values = match view.values {
            ValuesView::Bool(bitmap) => Values::Bool(Cow::Owned(bits(bitmap))),
            ValuesView::Int64(v) => Values::Int64(Cow::Borrowed(v)),
            ValuesView::Float64(v) => Values::Float64(Cow::Borrowed(v)),
            ValuesView::Timestamp(v) => Values::Timestamp(Cow::Borrowed(v)),
            ValuesView::Utf8(text) => {
                let raw = text.raw();
                Values::Utf8(Strings {
                    offsets: Cow::Borrowed(raw.offsets()),
                    data: Cow::Borrowed(raw.data()),
                })
            }
            ValuesView::Binary(_) | ValuesView::F32Vector { .. } | ValuesView::F64Vector { .. } => {
                return None
            }
        };
        Some(Self {
            values,
            validity: view.validity.map(bits),
        })
    }

    /// Rows.
    pub fn len(&self) -> usize {
        match &self.values {
            Values::Bool(v) => v.len(),
            Values::Int64(v) | Values::Timestamp(v) => v.len(),
            Values::Float64(v) => v.len(),
            Values::Utf8(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `i` holds a value.
    pub fn is_valid(&self, i: usize) -> bool {
        self.validity.as_ref().is_none_or(|v| v[i])
    }

    /// Row `i` as a scalar.
    pub fn scalar(&self, i: usize) -> Scalar {
        if !self.is_valid(i) {
            return Scalar::Null;
        }
        match &self.values {
            Values::Bool(v) => Scalar::Bool(v[i]),
            Values::Int64(v) => Scalar::Int64(v[i]),
            Values::Float64(v) => Scalar::Float64(v[i]),
            Values::Utf8(v) => Scalar::Utf8(v.get(i).to_string()),
            Values::Timestamp(v) => Scalar::Timestamp(v[i]),
        }
    }

    /// `rows` copies of `value`, of type `ty`.
    pub fn repeat(value: &Scalar, ty: Ty, rows: usize) -> Array<'static> {
        let validity = value.is_null().then(|| vec![false; rows]);
        let values = match (ty, value) {
            (Ty::Bool, Scalar::Bool(b)) => Values::Bool(Cow::Owned(vec![*b; rows])),
            (Ty::Bool, _) => Values::Bool(Cow::Owned(vec![false; rows])),
            (Ty::Int64, Scalar::Int64(v)) => Values::Int64(Cow::Owned(vec![*v; rows])),
            (Ty::Int64, _) => Values::Int64(Cow::Owned(vec![0; rows])),
            (Ty::Float64, Scalar::Float64(v)) => Values::Float64(Cow::Owned(vec![*v; rows])),
            (Ty::Float64, _) => Values::Float64(Cow::Owned(vec![0.0; rows])),
            (Ty::Timestamp, Scalar::Timestamp(v)) => Values::Timestamp(Cow::Owned(vec![*v; rows])),
            (Ty::Timestamp, _) => Values::Timestamp(Cow::Owned(vec![0; rows])),
            (Ty::Utf8 | Ty::Null, value) => {
                let text = match value {
                    Scalar::Utf8(s) => s.as_str(),
                    _ => "",
                };
                let mut builder = StringsBuilder::with_capacity(rows, rows * text.len());
                for _ in 0..rows {
                    builder.push(text);
                }
                Values::Utf8(builder.finish())
            }
        };
        Array { values, validity }
    }

    /// The storage column for this array (validity dropped if all valid).
    pub fn into_column(self) -> Column {
        let rows = self.len();
        let validity = self
            .validity
            .filter(|v| v.iter().any(|valid| !valid))
            .map(|v| pack(&v));
        let data = match self.values {
            Values::Bool(v) => ColumnData::Bool(pack(&v)),
            Values::Int64(v) => ColumnData::Int64(v.into_owned()),
            Values::Float64(v) => ColumnData::Float64(v.into_owned()),
            Values::Timestamp(v) => ColumnData::Timestamp(v.into_owned()),
            Values::Utf8(s) => {
                let base = s.offsets.first().copied().unwrap_or(0);
                let end = s.offsets.last().copied().unwrap_or(0);
                let offsets = if base == 0 {
                    s.offsets.into_owned()
                } else {
                    s.offsets.iter().map(|o| o - base).collect()
                };
                // Computed text is moved, not copied again.
                let data = match s.data {
                    Cow::Owned(data) if base == 0 && end as usize == data.len() => data,
                    data => data[base as usize..end as usize].to_vec(),
                };
                debug_assert_eq!(offsets.len(), rows + 1);
                ColumnData::Utf8 { offsets, data }
            }
        };
        Column { validity, data }
    }
}

/// LSB-first bitmap of `bits`.
pub fn pack(bits: &[bool]) -> Vec<u8> {
    let mut bytes = vec![0u8; bits.len().div_ceil(8)];
    for (i, _) in bits.iter().enumerate().filter(|(_, &b)| b) {
        bytes[i / 8] |= 1 << (i % 8);
    }
    bytes
}

impl<'a> Datum<'a> {
    /// As an array of `rows` rows of type `ty` (scalars are repeated).
    pub fn into_array(self, ty: Ty, rows: usize) -> Array<'a> {
        match self {
            Datum::Array(array) => array,
            Datum::Scalar(value) => Array::repeat(&value, ty, rows),
        }
    }
}

//! Features: the numbers an algorithm trains on, as a dense row-major
//! matrix of doubles. They come from numeric columns (one feature each)
//! or from one vector column (its elements), and are checked on the way
//! in, so an algorithm never meets a null, a NaN or an infinity.
//!
//! Row-major because every algorithm here walks rows (a point to its
//! nearest center, a row's contribution to a gradient) and a block of
//! rows is then one matrix for a matrix product.

use faro_runtime::catalogue::{column_index, SchemaContext};
use faro_runtime::data::{Batch, DataType, Schema, ValuesView};
use faro_runtime::operator::Rows;
use faro_runtime::spec::SpecError;

use crate::MlError;

/// Rows of `dim` finite doubles each, with a finite label per row when a
/// supervised algorithm trains on them.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    dim: usize,
    values: Vec<f64>,
    labels: Option<Vec<f64>>,
}

impl Features {
    /// Rows of `dim` values from `values`, row after row; every value
    /// must be finite.
    pub fn new(dim: usize, values: Vec<f64>) -> Result<Self, MlError> {
        if dim == 0 || !values.len().is_multiple_of(dim) {
            return Err(MlError::Shape(format!(
                "{} values do not make rows of {dim}",
                values.len()
            )));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(MlError::NotFinite {
                column: format!("feature {}", i % dim),
                row: i / dim,
                value: values[i],
            });
        }
        Ok(Self {
            dim,
            values,
            labels: None,
        })
    }

    /// These rows labelled with `labels`, one finite value per row.
    pub fn with_labels(mut self, labels: Vec<f64>) -> Result<Self, MlError> {
        if labels.len() != self.rows() {
            return Err(MlError::Shape(format!(
                "{} labels for {} rows",
                labels.len(),
                self.rows()
            )));
        }
        if let Some(row) = labels.iter().position(|v| !v.is_finite()) {
            return Err(MlError::NotFinite {
                column: "label".into(),
                row,
                value: labels[row],
            });
        }
        self.labels = Some(labels);
        Ok(self)
    }

    /// The features of `batch` (as [`Self::from_batch`]) labelled by its
    /// numeric column `label`.
    pub fn from_batch_labelled(
        batch: &Batch,
        columns: &[String],
        label: &str,
    ) -> Result<Self, MlError> {
        Self::from_rows_labelled(&Rows::of_batch(batch), columns, label)
    }

    /// The features of `rows` (as [`Self::from_rows`]) labelled by their
    /// numeric column `label`.
    pub fn from_rows_labelled(
        rows: &Rows<'_>,
        columns: &[String],
        label: &str,
    ) -> Result<Self, MlError> {
        Self::from_rows_labelled_in(rows, columns, label, Vec::new())
    }

    /// [`Self::from_rows_labelled`] into `buffer`'s memory, as
    /// [`Self::from_rows_in`].
    pub fn from_rows_labelled_in(
        rows: &Rows<'_>,
        columns: &[String],
        label: &str,
        buffer: Vec<f64>,
    ) -> Result<Self, MlError> {
        let refused = |reason: String| MlError::Label {
            column: label.to_string(),
            reason,
        };
        let labels = Self::from_rows(rows, &[label.to_string()]).map_err(|e| match e {
            MlError::NoColumn(_) => refused("not in the input".into()),
            MlError::NotNumeric { data_type, .. } => {
                refused(format!("is {data_type}; labels must be numbers"))
            }
            MlError::Null { row, .. } => refused(format!("is null in row {row}")),
            MlError::NotFinite { row, value, .. } => {
                refused(format!("holds {value} in row {row}; labels must be finite"))
            }
            other => other,
        })?;
        if labels.dim != 1 {
            return Err(refused("is a vector; a label is one number".into()));
        }
        Self::from_rows_in(rows, columns, buffer)?.with_labels(labels.values)
    }

    /// The features of `batch`: one per column of `columns` (each i64 or
    /// f64), or the elements of a single vector column.
    pub fn from_batch(batch: &Batch, columns: &[String]) -> Result<Self, MlError> {
        Self::from_rows(&Rows::of_batch(batch), columns)
    }

    /// The features of `rows` as [`Self::from_batch`] takes them, read
    /// from the columns in place (a received or mapped batch is not
    /// copied into an owned one first).
    pub fn from_rows(rows: &Rows<'_>, columns: &[String]) -> Result<Self, MlError> {
        Self::from_rows_in(rows, columns, Vec::new())
    }

    /// [`Self::from_rows`] into `buffer`'s memory (its contents are
    /// replaced): a fold that gives each batch's features back with
    /// [`Self::into_values`] allocates, and faults in, no new pages per
    /// batch.
    pub fn from_rows_in(
        rows: &Rows<'_>,
        columns: &[String],
        mut values: Vec<f64>,
    ) -> Result<Self, MlError> {
        let views = columns
            .iter()
            .map(|name| {
                rows.columns
                    .iter()
                    .find(|view| view.name == name.as_str())
                    .ok_or_else(|| MlError::NoColumn(name.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let count = rows.rows;
        let dim = match views.as_slice() {
            [one] => match one.values {
                ValuesView::F64Vector { dim, .. } | ValuesView::F32Vector { dim, .. } => dim,
                _ => 1,
            },
            many => many.len(),
        };
        if dim == 0 {
            return Err(MlError::Shape("no feature columns".into()));
        }
        let vector = views.len() == 1 && is_vector(&views[0].values);
        let mut sources = Vec::with_capacity(views.len());
        for view in &views {
            let column = view.name;
            if let Some(validity) = &view.validity {
                if let Some(row) = (0..count).find(|&r| !validity.get(r)) {
                    return Err(MlError::Null {
                        column: column.to_string(),
                        row,
                    });
                }
            }
            sources.push(match view.values {
                ValuesView::Float64(v) => Source::F64(v),
                ValuesView::Int64(v) => Source::I64(v),
                ValuesView::F64Vector { values: v, .. } if vector => Source::F64(v),
                ValuesView::F32Vector { values: v, .. } if vector => Source::F32(v),
                _ => {
                    return Err(MlError::NotNumeric {
                        column: column.to_string(),
                        data_type: view.data_type.to_string(),
                    })
                }
            });
        }
        values.clear();
        values.resize(count * dim, 0.0);
        match sources.as_slice() {
            [Source::F64(v)] if vector => values.copy_from_slice(&v[..count * dim]),
            [Source::F32(v)] => {
                for (out, x) in values.iter_mut().zip(*v) {
                    *out = f64::from(*x);
                }
            }
            _ => transpose(&sources, count, &mut values),
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            let column = match vector {
                true => format!("{}[{}]", views[0].name, i % dim),
                false => views[i % dim].name.to_string(),
            };
            return Err(MlError::NotFinite {
                column,
                row: i / dim,
                value: values[i],
            });
        }
        Ok(Self {
            dim,
            values,
            labels: None,
        })
    }

    /// The values' memory, to fill again with [`Self::from_rows_in`].
    pub fn into_values(self) -> Vec<f64> {
        self.values
    }

    /// Features per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.values.len() / self.dim
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// Every value, row after row.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Each row's label, if the rows are labelled.
    pub fn labels(&self) -> Option<&[f64]> {
        self.labels.as_deref()
    }

    /// These rows cut into `parts` runs of about equal size, in order
    /// (labels included): partitions, as subtasks would hold them.
    pub fn partitions(&self, parts: usize) -> Vec<Self> {
        let per = self.rows().div_ceil(parts.max(1)).max(1);
        (0..self.rows().div_ceil(per))
            .map(|p| self.slice(p * per..(p + 1) * per))
            .collect()
    }

    /// Rows `start..end` (labels included), as their own features.
    pub fn slice(&self, rows: std::ops::Range<usize>) -> Self {
        let (start, end) = (rows.start.min(self.rows()), rows.end.min(self.rows()));
        Self {
            dim: self.dim,
            values: self.values[start * self.dim..end.max(start) * self.dim].to_vec(),
            labels: self
                .labels
                .as_ref()
                .map(|l| l[start..end.max(start)].to_vec()),
        }
    }
}

/// Checks, when a spec is validated, that `features` name columns of
/// `input` that can be features: numbers, or one vector column.
pub fn check_columns(
    context: &SchemaContext<'_>,
    input: &Schema,
    features: &[String],
) -> Result<(), SpecError> {
    if features.is_empty() {
        return Err(context.bad_params("features must name at least one column"));
    }
    for name in features {
        let index = column_index(context.vertex(), input, name)?;
        let numeric = match input.fields[index].data_type {
            DataType::Int64 | DataType::Float64 => true,
            DataType::Vector { .. } => features.len() == 1,
            _ => false,
        };
        if !numeric {
            return Err(context.schema_error(format!(
                "feature column {name:?} is {}; features must be numbers or one vector column",
                input.fields[index].data_type
            )));
        }
    }
    Ok(())
}

fn is_vector(values: &ValuesView<'_>) -> bool {
    matches!(
        values,
        ValuesView::F64Vector { .. } | ValuesView::F32Vector { .. }
    )
}

/// Writes `column` into feature `c` of each row.
/// A feature column's values.
enum Source<'a> {
    F64(&'a [f64]),
    I64(&'a [i64]),
    F32(&'a [f32]),
}

/// Rows at a time in [`transpose`]: a block of rows' output fits in the
/// first-level cache while every column writes into it.
const TRANSPOSE_ROWS: usize = 256;

/// Writes one column per source into row-major `values` of `rows` rows,
/// a block of rows at a time so the writes stay in cache.
fn transpose(sources: &[Source<'_>], rows: usize, values: &mut [f64]) {
    let dim = sources.len();
    for start in (0..rows).step_by(TRANSPOSE_ROWS) {
        let end = (start + TRANSPOSE_ROWS).min(rows);
        let block = &mut values[start * dim..end * dim];
        for (c, source) in sources.iter().enumerate() {
            let cells = block.iter_mut().skip(c).step_by(dim);
            match source {
                Source::F64(v) => cells.zip(&v[start..end]).for_each(|(o, x)| *o = *x),
                Source::I64(v) => cells.zip(&v[start..end]).for_each(|(o, x)| *o = *x as f64),
                Source::F32(v) => cells
                    .zip(&v[start..end])
                    .for_each(|(o, x)| *o = f64::from(*x)),
            }
        }
    }
}

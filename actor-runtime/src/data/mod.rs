//! The data model: schemas, columnar batches, and zero-copy views of
//! archived batches.
//!
//! Data moves through Faro as [`Batch`]es archived with rkyv. The archive
//! is designed to be *read where it lands*: a network buffer or an mmap'd
//! shuffle file is handed to [`BatchView::new`], which validates it and
//! then exposes every column as a native slice. There is no decode step.
//! A batch of a changelog carries a [`RowKind`] per row (see the `kind` module).

mod batch;
mod builder;
mod column;
mod error;
mod kept;
mod kind;
mod schema;
mod value;
mod view;

pub use batch::{ArchivedBatch, Batch};
pub use builder::{BatchBuilder, ColumnBuilder};
pub use column::{Bitmap, Column, ColumnData};
pub use error::BatchError;
pub use kept::KeptArchive;
pub use kind::{with_op_column, with_op_field, RowKind, RowKinds, OP_COLUMN};
pub use schema::{DataType, Field, Schema, VectorElement};
pub use value::{format_f64, json_f64, Value};
pub use view::{BatchView, BinaryValues, ColumnView, StrValues, ValuesView, BATCH_ALIGN};

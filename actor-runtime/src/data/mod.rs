//! The data model: schemas, columnar batches, and zero-copy views of
//! archived batches.
//!
//! Data moves through Faro as [`Batch`]es archived with rkyv. The archive
//! is designed to be *read where it lands*: a network buffer or an mmap'd
//! shuffle file is handed to [`BatchView::new`], which validates it and
//! then exposes every column as a native slice. There is no decode step.

mod batch;
mod builder;
mod column;
mod error;
mod schema;
mod value;
mod view;

pub use batch::{ArchivedBatch, Batch};
pub use builder::{BatchBuilder, ColumnBuilder};
pub use column::{Bitmap, Column, ColumnData};
pub use error::BatchError;
pub use schema::{DataType, Field, Schema, VectorElement};
pub use value::{format_f64, json_f64, Value};
pub use view::{BatchView, BinaryValues, ColumnView, StrValues, ValuesView, BATCH_ALIGN};

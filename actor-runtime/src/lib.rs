//! Faro's runtime: the data model every operator computes on, and (in
//! later parts) the operators, task actors and the worker that runs them.
//!
//! The data model lives in [`data`]: a [`Schema`] of typed fields and a
//! columnar [`Batch`] archived with rkyv, which a receiver reads in place
//! through a validated [`BatchView`].

pub mod data;

pub use data::{
    Batch, BatchBuilder, BatchError, BatchView, Column, ColumnData, ColumnView, DataType, Field,
    Schema, Value, ValuesView, VectorElement,
};

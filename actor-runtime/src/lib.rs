//! Faro's runtime: the data model every operator computes on, and (in
//! later parts) the operators, task actors and the worker that runs them.
//!
//! The data model lives in [`data`]: a [`Schema`] of typed fields and a
//! columnar [`Batch`] archived with rkyv, which a receiver reads in place
//! through a validated [`BatchView`]. Expressions over batches (SQL text,
//! type-checked, evaluated column-at-a-time) live in [`expr`]; job specs
//! and their validation in [`spec`].

pub mod access;
pub mod attempt;
pub mod data;
pub mod deploy;
pub mod exchange;
pub mod expr;
pub mod failure;
pub mod kernels;
pub mod metrics;
pub mod operator;
pub mod operators;
pub mod plan;
pub mod runner;
pub mod spec;
pub mod task;
pub mod worker;

pub use data::{
    Batch, BatchBuilder, BatchError, BatchView, Column, ColumnData, ColumnView, DataType, Field,
    Schema, Value, ValuesView, VectorElement,
};

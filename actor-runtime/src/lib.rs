//! Faro's runtime: the data model every operator computes on, the
//! operators, and the task actors and worker that run them.
//!
//! - [`data`]: a [`Schema`] of typed fields and a columnar [`Batch`]
//!   archived with rkyv, which a receiver reads in place through a
//!   validated [`BatchView`]; [`kernels`]: hashing, key encoding, ordering
//!   (one rule for doubles) and gathering over columns.
//! - [`expr`]: SQL expression text, bounded in size, type-checked and
//!   evaluated column-at-a-time with checked arithmetic.
//! - [`spec`]: job specs, their size [`spec::limits`] and validation;
//!   [`plan`]: chains, split aggregates.
//! - [`operator`] and [`operators`]: the operator contract and the
//!   built-in operators; [`catalogue`]: each built-in operator's one
//!   definition (name, params, schema rule, state, how it is built), which
//!   validation, the plan and the task builder all read; [`access`]:
//!   which files a job may touch; [`state`]: keyed state by key group,
//!   bounded, snapshotted; [`checkpoint`]: a task's part of a checkpoint
//!   (commands, acknowledgements, stored state).
//! - [`message`]: what travels an edge — batches and, in order with them,
//!   watermarks, checkpoint barriers and end of data; [`event_time`]: how
//!   sources turn timestamps into watermarks; [`nexmark`]: the Nexmark
//!   benchmark's person/auction/bid event generator.
//! - [`exchange`], [`task`], [`worker`], [`deploy`], [`attempt`]: moving
//!   messages, running chains as actix actors on slots, wiring a deployed
//!   subtask, running one attempt; [`failure`]: why an attempt failed and
//!   whether a re-run can help; [`rewire`]: approximate failover's
//!   swap of one restarted task's channels; [`metrics`]: per-task series;
//!   [`runner`]: an in-process runner for the crate's own tests.

pub mod access;
pub mod attempt;
pub mod catalogue;
pub mod checkpoint;
pub mod data;
pub mod deploy;
pub mod event_time;
pub mod exchange;
pub mod expr;
pub mod failure;
pub mod kernels;
pub mod message;
pub mod metrics;
pub mod nexmark;
pub mod operator;
pub mod operators;
pub mod plan;
pub mod rewire;
pub mod runner;
pub mod spec;
pub mod state;
pub mod task;
pub mod worker;

pub use data::{
    Batch, BatchBuilder, BatchError, BatchView, Column, ColumnData, ColumnView, DataType, Field,
    RowKind, RowKinds, Schema, Value, ValuesView, VectorElement,
};

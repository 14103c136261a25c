//! Job specs: the serde types users write ([`job`]), the Rust [`Dataflow`]
//! builder, and [`validate`], which checks a spec completely — operators,
//! parameters, edges, cycles, parallelism, columns and expression types,
//! and the size bounds of [`limits`] — before anything runs. Each
//! operator's typed parameters belong to its definition in
//! [`crate::catalogue`], next to the operator in [`crate::operators`].

mod builder;
mod error;
pub mod job;
pub mod limits;
pub mod validate;

pub use crate::catalogue::OperatorSpec;
pub use builder::{columns, Dataflow, VertexRef};
pub use error::SpecError;
pub use job::{
    CheckpointSpec, EdgeSpec, Exchange, Failover, JobMode, JobSpec, Partitioning, SkewSpec,
    VertexSpec,
};
pub use validate::{validate, ValidJob, ValidVertex, MIN_CHECKPOINT_INTERVAL_MS};

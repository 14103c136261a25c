//! Job specs: the serde types users write ([`job`]), the typed parameters
//! of each built-in operator ([`operators`]), the Rust [`Dataflow`]
//! builder, and [`validate`], which checks a spec completely — operators,
//! parameters, edges, cycles, parallelism, columns and expression types,
//! and the size bounds of [`limits`] — before anything runs.

mod builder;
mod error;
pub mod job;
pub mod limits;
pub mod operators;
pub mod validate;

pub use crate::catalogue::OperatorSpec;
pub use builder::{columns, Dataflow, VertexRef};
pub use error::SpecError;
pub use job::{EdgeSpec, Exchange, JobSpec, Partitioning, VertexSpec};
pub use validate::{validate, ValidJob, ValidVertex};
